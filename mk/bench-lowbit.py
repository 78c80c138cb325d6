#!/usr/bin/env python3
"""make bench-lowbit: int8 / int4 / 2-bit QAT of stories260K scored on the whole valid.txt.

usage: bench-lowbit.py BIN DATA_DIR OUT_DIR LONG_STEPS [--json]

Trains examples/stories/int8.json, int4.json, int2.json and int2-ffn.json as they are (the same steps, batch,
data and seed: the equal-steps table), then int4.json and int2.json again with --steps LONG_STEPS
(0 skips them), and scores every best.ckpt with `retroqat eval stories260K.bin --text valid.txt
--qat CKPT --no-ptq` on the whole file (289,387 tokens, windows of 512), plus one eval of the PTQ
models of stories260K itself. Prints the table (int_loss, x the int8 QAT row, steps, wall time
of the training run, its evaluations included) and writes OUT_DIR/results.jsonl; --json prints
the rows as JSON lines instead of the table.
"""
import json
import os
import subprocess
import sys
import time

binp, data, out, long_steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
as_json = "--json" in sys.argv[5:]
model = f"{data}/llama2c/stories260K.bin"
tok = f"{data}/llama2c/tok512.bin"
train = f"{data}/tinystories/train.txt"
valid = f"{data}/tinystories/valid.txt"
env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
os.makedirs(out, exist_ok=True)


def log(msg):
    print(f"bench-lowbit: {msg}", file=sys.stderr, flush=True)


def run(args):
    p = subprocess.run(args, env=env, stdout=subprocess.PIPE, text=True)
    if p.returncode:
        sys.exit(f"bench-lowbit: {' '.join(args)}: exit {p.returncode}")
    return p.stdout


def evaluate(extra):
    o = json.loads(run([binp, "eval", model, "--text", valid, "-z", tok, "--json"] + extra))
    return o


def train_row(name, cfg, steps):
    d = f"{out}/{name.split(',')[0].replace(' ', '-')}"
    args = [binp, "train", cfg, "--init", model, "--data", train, "--valid", valid, "--out", d, "--quiet"]
    if steps:
        args += ["--steps", str(steps)]
    subprocess.run(["rm", "-rf", d], check=True)
    log(f"training {name} ({cfg}{', %d steps' % steps if steps else ''})")
    t0 = time.time()
    run(args)
    wall = time.time() - t0
    evals = [e for e in map(json.loads, open(f"{d}/metrics.jsonl")) if e.get("type") == "eval"]
    last, best = evals[-1], max(evals, key=lambda e: e["score"])
    log(f"scoring {name} on {valid}")
    o = evaluate(["--qat", f"{d}/best.ckpt", "--no-ptq"])
    return {"row": name, "config": cfg, "steps": last["step"], "best_step": best["step"], "train_wall_s": round(wall, 1),
            "int_loss": o["int_loss"],
            "int_top1_agree": o["int_top1_agree"], "qat_float_loss": o.get("qat_float_loss"), "tokens": o["tokens"]}


rows = []
log("scoring the PTQ models of stories260K")
ptq = evaluate([])
for bits, key in ((8, "ptq_loss"), (4, "int4_ptq_loss"), (2, "int2_ptq_loss")):
    agree = {8: "top1_agree", 4: "int4_top1_agree", 2: "int2_top1_agree"}[bits]
    rows.append({"row": f"int{bits} PTQ (stories260K)", "steps": 0, "int_loss": ptq[key], "int_top1_agree": ptq[agree],
                 "tokens": ptq["tokens"], "float_loss": ptq["float_loss"]})
plan = [("int8", "examples/stories/int8.json", 0), ("int4", "examples/stories/int4.json", 0), ("int2", "examples/stories/int2.json", 0),
        ("int2 FFN, int8 attention", "examples/stories/int2-ffn.json", 0)]
if long_steps:
    plan += [(f"int4-{long_steps}", "examples/stories/int4.json", long_steps), (f"int2-{long_steps}", "examples/stories/int2.json", long_steps)]
for name, cfg, steps in plan:
    rows.append(train_row(name, cfg, steps))
base = next(r for r in rows if r["row"] == "int8")["int_loss"]
with open(f"{out}/results.jsonl", "w") as f:
    for r in rows:
        r["x_int8_qat"] = r["int_loss"] / base
        f.write(json.dumps(r) + "\n")
if as_json:
    for r in rows:
        print(json.dumps(r))
    sys.exit(0)
print(f"bench-lowbit: retroqat eval on the whole {os.path.basename(valid)} ({rows[0]['tokens']} tokens, windows of 512); "
      f"stories260K float loss {rows[0]['float_loss']:.4f}")
print(f"{'row':<26} {'steps':>6} {'best':>5} {'int_loss':>9} {'x int8 QAT':>10} {'top1 agree':>10} {'own float':>9} {'wall s':>7}")
for r in rows:
    fl = r.get("qat_float_loss")
    print(f"{r['row']:<26} {r['steps']:>6} {r.get('best_step', ''):>5} {r['int_loss']:>9.4f} {r['x_int8_qat']:>10.4f} "
          f"{r['int_top1_agree']:>10.4f} {fl if fl is not None else float('nan'):>9.4f} {r.get('train_wall_s', float('nan')):>7.1f}")
