#!/usr/bin/env python3
"""bench_zx48.py: `make bench-zx48`: the chat models that fit a ZX Spectrum 48K, measured in the
bundled Spectrum model next to the CP/M emulator, on the 40 queries of `make bench-z80`.

    bench_zx48.py RETROQAT OUT_DIR LABEL=CHECKPOINT ...

For each checkpoint: its held-out exact answers and per-character accuracy (the trainer's last
evaluation, metrics.jsonl next to it), then `export --target zx48` (the kernel and code address
the exporter picks, or its refusal with the bytes over) and one `run --target zx48` answering the
40 queries one-shot (a$ after a$ in one machine): T-states per printed character (all T-states /
characters printed; no key waits in one-shot), the same from 6000h (contended memory) and with
the sparse-only kernel, and the CP/M .COM of the same model run once per query (T-states /
characters, as `run --target cpm --stats` counts them: answer + CR LF; the Spectrum prints
answer + CR). Prints a table; OUT_DIR/results.json has every figure.
"""
import json
import os
import subprocess
import sys

DATA = "examples/tinychat/chat.txt"


def queries(path, n=40):
    # The selection of bench/bench_z80.c: every 29th data line, not blank-led, under 120 bytes.
    out, line = [], 0
    for l in open(path, encoding="utf-8"):
        l = l.rstrip("\n")
        if l.startswith("#") or "|" not in l:
            continue
        take = line % 29 == 0
        line += 1
        q = l.split("|", 1)[0]
        if take and not q.startswith(" ") and len(q) < 120:
            out.append(q)
        if len(out) == n:
            break
    return out


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def last_json_line(text):
    for l in reversed(text.strip().splitlines()):
        if l.startswith("{"):
            return json.loads(l)
    return None


def held_out(ckpt):
    m = os.path.join(os.path.dirname(ckpt), "metrics.jsonl")
    ev = None
    if os.path.exists(m):
        for l in open(m):
            if '"type":"eval"' in l:
                ev = json.loads(l)
    h = ev.get("held_out", {}) if ev else {}
    return h.get("int_exact"), h.get("int_acc"), ev.get("nonzero") if ev else None


def zx_run(bin_, ckpt, tap, qs, flags):
    rc, out, err = run([bin_, "export", ckpt, "--target", "zx48", "-o", tap, "--json"] + flags)
    if rc:
        return {"fits": False, "why": err.strip().splitlines()[-1]}
    ex = json.loads(out)
    rc, out, err = run([bin_, "run", "--target", "zx48", tap, "--json"] + qs)
    st = last_json_line(err)
    if rc or not st:
        sys.exit("bench_zx48: run failed: %s" % err)
    return {"fits": True, "kernel": ex["kernel"], "org": ex["org"], "tap_bytes": ex["tap_bytes"],
            "free_bytes": ex["free_bytes"], "tstates": st["tstates"], "chars": st["chars"],
            "tstates_per_char": st["tstates_per_char"], "contended_tstates": st["contended_tstates"]}


def cpm_run(bin_, ckpt, com, qs):
    rc, out, err = run([bin_, "export", ckpt, "--target", "cpm", "-o", com])
    if rc:
        return {"fits": False, "why": err.strip().splitlines()[-1]}
    t = c = 0
    for q in qs:
        rc, out, err = run([bin_, "run", "--target", "cpm", "--json", com] + q.split())
        st = last_json_line(err)
        if not st:
            sys.exit("bench_zx48: cpm run failed: %s" % err)
        t += st["tstates"]
        c += st["chars"]
    return {"fits": True, "tstates": t, "chars": c, "tstates_per_char": t / c}


def main():
    bin_, out_dir, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(out_dir, exist_ok=True)
    qs = queries(DATA)
    rows = []
    for spec in models:
        label, ckpt = spec.split("=", 1)
        exact, acc, nz = held_out(ckpt)
        tap = os.path.join(out_dir, label + ".tap")
        r = {"label": label, "checkpoint": ckpt, "held_out_exact": exact, "held_out_int_acc": acc, "nonzero": nz,
             "zx48": zx_run(bin_, ckpt, tap, qs, [])}
        if r["zx48"]["fits"]:
            r["zx48_6000h"] = zx_run(bin_, ckpt, tap, qs, ["--org", "6000h"])
            r["zx48_sparse"] = zx_run(bin_, ckpt, tap, qs, ["--layout", "sparse"])
        r["cpm"] = cpm_run(bin_, ckpt, os.path.join(out_dir, label + ".com"), qs)
        rows.append(r)
        print("bench-zx48: %s done" % label, file=sys.stderr)
    json.dump({"queries": len(qs), "models": rows}, open(os.path.join(out_dir, "results.json"), "w"), indent=1)

    def f(x, fmt="%.0f"):
        return fmt % x if x is not None else "-"

    print("ZX Spectrum 48K (3.5 MHz) and CP/M (4 MHz), %d one-shot queries of make bench-z80, T-states per printed char" % len(qs))
    print("%-14s %7s %6s %6s  %-14s %5s %7s %10s %7s %10s %10s %10s" % (
        "model", "nonzero", "exact", "acc", "zx48 kernel", "org", "free", "T/char", "s/char", "from 6000h",
        "sparse-k.", "CP/M T/ch"))
    for r in rows:
        z = r["zx48"]
        head = "%-14s %7s %6s %6s" % (r["label"], f(r["nonzero"] and 100 * r["nonzero"], "%.1f%%"),
                                      f(r["held_out_exact"], "%.3f"), f(r["held_out_int_acc"], "%.3f"))
        cpm = f(r["cpm"].get("tstates_per_char"))
        if not z["fits"]:
            print("%s  does not fit: %s; CP/M %s" % (head, z["why"][:150], cpm))
            continue
        lo, sp = r["zx48_6000h"], r["zx48_sparse"]
        print("%s  %-14s %04Xh %7d %10.0f %7.3f %10s %10s %10s" % (
            head, z["kernel"], z["org"], z["free_bytes"], z["tstates_per_char"], z["tstates_per_char"] / 3.5e6,
            f(lo.get("tstates_per_char")), f(sp.get("tstates_per_char")), cpm))
    print("bench-zx48: JSON in %s" % os.path.join(out_dir, "results.json"))


if __name__ == "__main__":
    main()
