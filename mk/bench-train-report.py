#!/usr/bin/env python3
"""Summarise a chat training run for `make bench-train` from its metrics.jsonl.

usage: bench-train-report.py NAME METRICS.jsonl START_S END_S
"""
import json
import sys

name, path, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
evals = [e for e in map(json.loads, open(path)) if e.get("type") == "eval"]
last = evals[-1]
ho = last.get("held_out", last["train"])
final_acc = ho["int_acc"]
# first evaluation within 0.5 points of the final held-out integer accuracy
conv = next(e for e in evals if e.get("held_out", e["train"])["int_acc"] >= final_acc - 0.005)
best = max(evals, key=lambda e: e["score"])
bho = best.get("held_out", best["train"])
# On a shared machine the wall clock includes waiting for a CPU: the process CPU time of the steps
# (BLAS threads included) is reported next to it.
print(f"bench-train {name}: {last['examples_seen']:.0f} examples in {last['train_s']:.1f} s of steps "
      f"({last['train_cpu_s']:.1f} CPU-s) = {last['examples_seen'] / last['train_s']:.0f} examples/s "
      f"({last['examples_seen'] / last['train_cpu_s']:.0f} per CPU-s); evaluations {last['eval_s']:.1f} s; "
      f"whole run {end - start:.1f} s")
print(f"bench-train {name}: final held-out int_acc {final_acc:.4f} int_exact {ho['int_exact']:.4f}; "
      f"within 0.005 of it at step {conv['step']:.0f}: {conv['train_s']:.1f} s of steps "
      f"({conv['train_cpu_s']:.1f} CPU-s), {conv['elapsed_s']:.1f} s elapsed with evaluations")
print(f"bench-train {name}: best.ckpt (step {best['step']:.0f}): held-out int_acc {bho['int_acc']:.4f} "
      f"int_exact {bho['int_exact']:.4f}, overflows {bho['overflows']:.0f}, fake-quant/kernel mismatches {bho['fq_int_mismatch']:.0f}")
