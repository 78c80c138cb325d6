#!/usr/bin/env python3
"""make bench-z80 / bench-z80-search: held-out exact answers against Z80 T-states per character.

usage: bench-z80-search.py BIN BENCH_Z80 OUT_DIR SEARCH_JSON [--seeds 1,2,3] [--bundled]
                           [--recorded FILE] [--write-recorded FILE] [--n 40] [--json]

SEARCH_JSON (examples/tinychat/search.json) lists chat configurations: each a "base" config file
(relative to SEARCH_JSON) with "overrides" merged over it, its "seeds" (default [1]; --seeds
replaces them all), and "bundled": true for the configs examples/tinychat/ ships. A teacher path
(qat.teacher) is relative to OUT_DIR, "{seed}" replaced by the seed: an earlier entry's run. For every configuration and seed this trains OUT_DIR/NAME-sSEED (kept:
a run whose config.json and best.ckpt exist is not trained again), scores best.ckpt with
`retroqat eval --json` (held-out exact answers and per-character int_acc, the integer model) and
with `bench_z80 --quick --json` (the .COM in the CP/M emulator: the whole one-shot run of N
queries divided by the characters printed), then prints one row per configuration (the mean and
the worst seed) and the Pareto front of held-out exact answers against T-states per character.

--bundled      only the bundled configurations (make bench-z80)
--recorded F   rows of configurations not run now are taken from F (results of an earlier
               bench-z80-search, marked "recorded")
--write-recorded F  write this run's rows to F (the recorded search results)
--json         the rows as JSON lines instead of the table
"""
import json
import os
import subprocess
import sys

AIM_EXACT, AIM_INT_ACC, AIM_TCHAR = 0.60, 0.97, 500000


def log(msg):
    print(f"bench-z80: {msg}", file=sys.stderr, flush=True)


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a


def run(args, env):
    p = subprocess.run(args, env=env, stdout=subprocess.PIPE, text=True)
    if p.returncode:
        sys.exit(f"bench-z80: {' '.join(args)}: exit {p.returncode}")
    return p.stdout


def config_for(entry, seed, search_dir):
    base_path = os.path.join(search_dir, entry.get("base", "config.json"))
    cfg = merge(json.load(open(base_path)), json.loads(json.dumps(entry.get("overrides", {}))))
    cfg["seed"] = seed
    cfg["data"] = os.path.abspath(os.path.join(os.path.dirname(base_path), cfg["data"]))  # relative to its config
    if "teacher" in cfg.get("qat", {}):  # a teacher of the same seed (its split must match)
        cfg["qat"]["teacher"] = cfg["qat"]["teacher"].replace("{seed}", str(seed))
    return cfg


def measure(binp, bench, entry, seed, out, search_dir, nq, env):
    d = f"{out}/{entry['name']}-s{seed}"
    cfg = config_for(entry, seed, search_dir)
    if "teacher" in cfg.get("qat", {}):
        cfg["qat"]["teacher"] = os.path.abspath(os.path.join(out, cfg["qat"]["teacher"]))
    text = json.dumps(cfg, indent=1, sort_keys=True)
    os.makedirs(d, exist_ok=True)
    have = os.path.exists(f"{d}/best.ckpt") and os.path.exists(f"{d}/config.json") and open(f"{d}/config.json").read() == text
    if not have:
        subprocess.run(["rm", "-rf", d], check=True)
        os.makedirs(d)
        open(f"{d}/config.json", "w").write(text)
        log(f"training {entry['name']} seed {seed}")
        run(["nice", "-n", "10", binp, "train", f"{d}/config.json", "--out", d, "--quiet"], env)
    ev = json.loads(run([binp, "eval", f"{d}/best.ckpt", "--json"], env))
    z = json.loads(run([bench, f"{d}/best.ckpt", "--quick", "--json", "--n", str(nq)], env))["runs"][0]
    train_s = [json.loads(l) for l in open(f"{d}/metrics.jsonl") if '"eval"' in l][-1].get("train_cpu_s")
    h = ev["held_out"]
    return {"name": entry["name"], "seed": seed, "bundled": bool(entry.get("bundled")), "file": entry.get("file"),
            "hidden": cfg["net"]["hidden"], "exact": round(h["int_exact"], 4), "int_acc": round(h["int_acc"], 4),
            "tchar": round(z["tstates_per_char"]), "tstep": round(z["tstates_per_step"]), "com_bytes": z["com_bytes"],
            "nonzero": round(z["weight_density"], 3), "active": [round(a, 1) for a in h["active_units"]],
            "train_cpu_s": round(train_s or 0, 1)}


def summarize(rows):
    by = {}
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    out = []
    for name, rs in by.items():
        n = len(rs)
        s = {"name": name, "seeds": sorted(r["seed"] for r in rs), "bundled": rs[0]["bundled"], "file": rs[0].get("file"),
             "recorded": rs[0].get("recorded", False), "hidden": rs[0]["hidden"],
             "exact": sum(r["exact"] for r in rs) / n, "exact_min": min(r["exact"] for r in rs),
             "int_acc": sum(r["int_acc"] for r in rs) / n, "int_acc_min": min(r["int_acc"] for r in rs),
             "tchar": sum(r["tchar"] for r in rs) / n, "tchar_max": max(r["tchar"] for r in rs),
             "com_bytes": max(r["com_bytes"] for r in rs)}
        s["aim"] = s["exact_min"] >= AIM_EXACT and s["int_acc_min"] >= AIM_INT_ACC and s["tchar_max"] <= AIM_TCHAR
        out.append(s)
    # Pareto front: no other configuration answers at least as many exactly in at most as many T-states
    # per character, one of the two strictly better (means over the seeds)
    for s in out:
        s["pareto"] = not any(o is not s and o["exact"] >= s["exact"] and o["tchar"] <= s["tchar"] and
                              (o["exact"] > s["exact"] or o["tchar"] < s["tchar"]) for o in out)
    return sorted(out, key=lambda s: s["tchar"])


def main():
    a = sys.argv[1:]
    if len(a) < 4:
        sys.exit(__doc__)
    binp, bench, out, search = a[0], a[1], a[2], a[3]
    opts = a[4:]

    def opt(name, default=None):
        return opts[opts.index(name) + 1] if name in opts else default
    seeds = [int(x) for x in opt("--seeds").split(",")] if opt("--seeds") else None
    nq = int(opt("--n", "40"))
    search_dir = os.path.dirname(os.path.abspath(search))
    entries = json.load(open(search))["configs"]
    if "--bundled" in opts:
        entries = [e for e in entries if e.get("bundled")]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2")
    os.makedirs(out, exist_ok=True)
    rows = []
    for e in entries:
        for s in seeds or e.get("seeds", [1]):
            r = measure(binp, bench, e, s, out, search_dir, nq, env)
            log(f"{r['name']} seed {s}: held-out exact {r['exact']:.3f}, int_acc {r['int_acc']:.4f}, {r['tchar']:,} T/char")
            rows.append(r)
    with open(f"{out}/results.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    if opt("--write-recorded"):
        with open(opt("--write-recorded"), "w") as f:
            for r in rows:
                f.write(json.dumps(r, sort_keys=True) + "\n")
    if opt("--recorded") and os.path.exists(opt("--recorded")):
        now = {r["name"] for r in rows}
        for line in open(opt("--recorded")):
            r = json.loads(line)
            if r["name"] not in now:
                r["recorded"] = True
                rows.append(r)
    table = summarize(rows)
    if "--json" in opts:
        for s in table:
            print(json.dumps(s))
        return
    print(f"bench-z80: held-out exact answers against Z80 T-states per character ({nq} one-shot queries in the "
          f"CP/M emulator; mean over the seeds, worst seed in brackets)")
    print(f"  {'configuration':<30} {'hidden':<14} {'seeds':<7} {'exact':>14} {'int_acc':>16} {'T/char':>20} {'.COM':>6}")
    for s in table:
        mark = ("*" if s["pareto"] else " ") + ("B" if s["bundled"] else " ") + ("A" if s["aim"] else " ")
        name = s["name"] + (f" ({s['file']})" if s["file"] else "") + (" [rec]" if s["recorded"] else "")
        print(f"{mark} {name:<30} {'-'.join(map(str, s['hidden'])):<14} {','.join(map(str, s['seeds'])):<7} "
              f"{s['exact']:6.3f} ({s['exact_min']:.3f}) {s['int_acc']:7.4f} ({s['int_acc_min']:.4f}) "
              f"{s['tchar']:10,.0f} ({s['tchar_max']:,.0f}) {s['com_bytes']:6}")
    print("  * Pareto front (no configuration answers more exactly in fewer T-states per character)   B bundled in "
          "examples/tinychat/")
    print(f"  A meets the aim on every seed: exact >= {AIM_EXACT}, int_acc >= {AIM_INT_ACC}, T/char <= {AIM_TCHAR:,}   "
          "[rec] recorded by an earlier make bench-z80-search")
    print("  Pareto front, fastest first: " + "; ".join(
        f"{s['name']} {s['exact']:.3f} @ {s['tchar']:,.0f}" for s in table if s["pareto"]))


if __name__ == "__main__":
    main()
