#!/usr/bin/env python3
"""make bench-lowbit: int8 / int4 / 2-bit QAT of stories260K scored on the whole valid.txt.

usage: bench-lowbit.py BIN DATA_DIR OUT_DIR EQUAL_STEPS [--json]

Trains examples/stories/int8.json, then int4.json, int2.json (every layer matrix 2-bit) and
int2-ffn.json (mixed: 2-bit w1 w2 w3, int8 wq wk wv wo) at their own steps (the recipes the aims
are measured with), the same three again at EQUAL_STEPS (the int8 row's steps, with their
synthetic text cut in proportion: the equal-steps table), and int4.json's and int2.json's recipes
(steps, batch, teacher, synthetic text) with every matrix at int8, for reference. Each run is
the example config with the shared data's paths, its steps, and the int8 row's best.ckpt as the
distillation teacher where the config names one, written to OUT_DIR/NAME.json. Every best.ckpt is
scored with `retroqat eval stories260K.bin --text valid.txt --qat CKPT --no-ptq` on the whole
file (289,387 tokens, windows of 512), next to one eval of the PTQ models of stories260K itself
and of its int4 and 2-bit PTQ on the midrise grids (`export --wbits N --midrise`).
Prints both tables (int_loss, x the int8 QAT row, steps and the best checkpoint's step, windows
per step x tokens per window, wall time of the training run with its evaluations and synthetic
text, image bytes, bits per matrix) and a greedy story of the 2-bit model; writes
OUT_DIR/results.jsonl. --json prints the rows as JSON lines instead.
"""
import json
import math
import os
import subprocess
import sys
import time

binp, data, out, equal = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]), int(sys.argv[4])
# (absolute: the configs written to OUT_DIR resolve their paths relative to their own folder)
as_json = "--json" in sys.argv[5:]
model = f"{data}/llama2c/stories260K.bin"
tok = f"{data}/llama2c/tok512.bin"
train = f"{data}/tinystories/train.txt"
valid = f"{data}/tinystories/valid.txt"
env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
os.makedirs(out, exist_ok=True)
EX = "examples/stories"
MATS = ("wq", "wk", "wv", "wo", "w1", "w2", "w3")


def log(msg):
    print(f"bench-lowbit: {msg}", file=sys.stderr, flush=True)


def run(args):
    p = subprocess.run(args, env=env, stdout=subprocess.PIPE, text=True)
    if p.returncode:
        sys.exit(f"bench-lowbit: {' '.join(args)}: exit {p.returncode}")
    return p.stdout


def evaluate(extra):
    return json.loads(run([binp, "eval", model, "--text", valid, "-z", tok, "--json"] + extra))


def config(name):
    return json.load(open(f"{EX}/{name}"))


def bits_of(c):
    q = c.get("qat", {})
    return {k: q.get("matrix_bits", {}).get(k, q.get("wbits", 8)) for k in MATS}


def train_row(name, cfg, steps=None, teacher=None, wbits=None):
    """Train example cfg as run NAME (at `steps`, synthetic text cut in proportion; every layer
    matrix at wbits when given) and score it."""
    c = config(cfg)
    if wbits:
        c["qat"]["wbits"] = wbits
        c["qat"].pop("matrix_bits", None)
        c["qat"].pop("midrise", None)
    own = c["train"]["steps"]
    steps = steps or own
    d = f"{out}/{name}"
    c.update(init=model, tokenizer=tok, out=d)
    c["data"].update(train=train, valid=valid)
    c["train"]["steps"] = steps
    q = c.get("qat", {})
    if q.get("teacher"):
        q["teacher"] = teacher
    if q.get("synthetic_tokens") and steps != own:
        q["synthetic_tokens"] = math.ceil(q["synthetic_tokens"] * steps / own)
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(c, f, indent=1)
    subprocess.run(["rm", "-rf", d], check=True)
    log(f"training {name} ({cfg}, {steps} steps)")
    t0 = time.time()
    run([binp, "train", f"{out}/{name}.json", "--quiet"])
    wall = time.time() - t0
    evals = [e for e in map(json.loads, open(f"{d}/metrics.jsonl")) if e.get("type") == "eval"]
    best = max(evals, key=lambda e: e["score"])
    log(f"scoring {name} on {valid}")
    o = evaluate(["--qat", f"{d}/best.ckpt", "--no-ptq"])
    t = c["train"]
    return {"row": name, "config": cfg, "bits": bits_of(c), "midrise": bool(q.get("midrise")), "steps": evals[-1]["step"], "best_step": best["step"],
            "batch": t["batch"], "seq_len": t["seq_len"], "train_tokens": evals[-1]["step"] * t["batch"] * t["seq_len"] * t.get("grad_accum", 1),
            "train_wall_s": round(wall, 1), "int_loss": o["int_loss"], "int_top1_agree": o["int_top1_agree"],
            "qat_float_loss": o.get("qat_float_loss"), "image_bytes": os.path.getsize(f"{d}/model.rqm"), "tokens": o["tokens"],
            "teacher": q.get("teacher"), "synthetic_tokens": q.get("synthetic_tokens", 0), "dir": d}


def bits_label(b, midrise=False):
    w = sorted(set(b.values()))
    grid = ", midrise grid (odd values, no zero) below 8 bits" if midrise else ""
    return (f"all {w[0]}" if len(w) == 1 else " ".join(f"{k} {v}" for k, v in b.items())) + grid


rows = []
log("scoring the PTQ models of stories260K")
ptq = evaluate([])
for bits, key, agree in ((8, "ptq_loss", "top1_agree"), (4, "int4_ptq_loss", "int4_top1_agree"), (2, "int2_ptq_loss", "int2_top1_agree")):
    rows.append({"row": f"int{bits} PTQ (stories260K)", "table": "ptq", "steps": 0, "int_loss": ptq[key], "int_top1_agree": ptq[agree],
                 "tokens": ptq["tokens"], "float_loss": ptq["float_loss"], "bits": {k: bits for k in MATS}})
    if bits < 8:  # the same PTQ on the midrise grid: `export --wbits N --midrise`, scored as an image
        img = f"{out}/ptq-int{bits}-midrise.rqm"
        run([binp, "export", model, "--wbits", str(bits), "--midrise", "--target", "host", "-o", img])
        o = evaluate(["--qat", img, "--no-ptq"])
        rows.append({"row": f"int{bits} midrise PTQ", "table": "ptq", "steps": 0, "int_loss": o["int_loss"], "int_top1_agree": o["int_top1_agree"],
                     "tokens": o["tokens"], "float_loss": o["float_loss"], "bits": {k: bits for k in MATS}, "midrise": True,
                     "image_bytes": os.path.getsize(img)})
r8 = dict(train_row("int8", "int8.json"), table="own")
rows.append(r8)
teacher = f"{r8['dir']}/best.ckpt"
for name, cfg in (("int4", "int4.json"), ("int2", "int2.json"), ("mixed int2-ffn", "int2-ffn.json")):
    r = dict(train_row(name.replace(" ", "-"), cfg, None, teacher), row=name, table="own")
    rows.append(r)
    if r["steps"] != equal:
        rows.append(dict(train_row(f"{name.replace(' ', '-')}-{equal}", cfg, equal, teacher), row=f"{name}, {equal} steps", table="equal"))
    else:
        rows.append(dict(r, table="equal"))
# int4.json's and int2.json's recipes (steps, batch, window, teacher, synthetic text) with every
# matrix at int8: how much of a low-bit row's number is the recipe's rather than the grid's
for cfg in ("int4.json", "int2.json"):
    rows.append(dict(train_row(f"int8-{cfg[:-5]}-recipe", cfg, None, teacher, 8), row=f"int8, {cfg}'s recipe", table="reference"))
base = r8["int_loss"]
with open(f"{out}/results.jsonl", "w") as f:
    for r in rows:
        r["x_int8_qat"] = r["int_loss"] / base
        f.write(json.dumps(r) + "\n")
story = run([binp, "run", f"{out}/int2/model.rqm", "-z", tok, "-t", "0", "-n", "200", "-i", "Once upon a time"])
if as_json:
    for r in rows:
        print(json.dumps(r))
    print(json.dumps({"story_int2": story}))
    sys.exit(0)


def table(title, rs):
    print(f"\n{title}")
    print(f"{'row':<26} {'steps':>6} {'best':>5} {'batch':>7} {'int_loss':>9} {'x int8 QAT':>10} {'top1 agree':>10} {'own float':>9} "
          f"{'image B':>8} {'wall s':>7}")
    for r in rs:
        fl = r.get("qat_float_loss")
        bt = f"{r['batch']}x{r['seq_len']}" if r.get("batch") else ""
        fl = f"{fl:.4f}" if fl is not None else ""  # the PTQ rows have no QAT float weights, image or run
        wall = f"{r['train_wall_s']:.1f}" if "train_wall_s" in r else ""
        print(f"{r['row']:<26} {r['steps']:>6} {r.get('best_step', ''):>5} {bt:>7} {r['int_loss']:>9.4f} {r['x_int8_qat']:>10.4f} "
              f"{r['int_top1_agree']:>10.4f} {fl:>9} {r.get('image_bytes', ''):>8} {wall:>7}")


print(f"bench-lowbit: retroqat eval on the whole {os.path.basename(valid)} ({rows[0]['tokens']} tokens, windows of 512); "
      f"stories260K float loss {rows[0]['float_loss']:.4f}; x int8 QAT = int_loss / {base:.4f} (int8.json, {r8['steps']} steps)")
table("the configs at their own steps (aims: int4 <= 1.02, 2-bit <= 1.15 x int8 QAT)", [r for r in rows if r["table"] in ("ptq", "own", "reference")])
table(f"equal steps ({equal}, the int8 row's)", [r8] + [r for r in rows if r["table"] == "equal"])
print("\nweight bits per layer matrix (embedding/classifier and activations int8 in every row):")
for r in rows:
    if r["table"] == "own":
        extra = f"; teacher {r['teacher']}" if r.get("teacher") else ""
        extra += f"; {r['synthetic_tokens']} synthetic tokens" if r.get("synthetic_tokens") else ""
        print(f"  {r['row']}: {bits_label(r['bits'], r.get('midrise'))}{extra}")
print(f"\ngreedy story of the 2-bit model ({out}/int2/model.rqm, -t 0 -n 200):\n{story}")
