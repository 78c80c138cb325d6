#!/usr/bin/env bash
# layers.sh [REV]: the folder include matrix of the C sources (`make layers`).
# Row = the including folder, column = the included folder, cell = how many #include "..." lines
# of the row's files name a header of the column's folder (a folder's own headers are counted
# too, on the diagonal). Targets count as one folder each (export/cpm/, export/host/, ...: their
# cpu/ subfolders included), tests/ and bench/ are listed as users. REV (a git revision) reads
# the sources of that commit instead of the working tree, e.g. `scripts/layers.sh 89969f6` for
# the layering before a change.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-}
if [ -n "$rev" ]; then
    lines=$(git grep -e '^#include "' "$rev" -- '*.c' '*.h' | sed "s|^$rev:||")
else
    lines=$(git grep --untracked -e '^#include "' -- '*.c' '*.h')
fi
# file:#include "dir/x.h" -> "from to"
printf '%s\n' "$lines" | python3 -c '
import sys, re, collections
def folder(p):
    parts = p.split("/")
    if len(parts) == 1: return "."
    if parts[0] == "export" and len(parts) > 2: return "export/" + parts[1]
    return parts[0]
m = collections.Counter(); rows = set(); cols = set()
for ln in sys.stdin:
    r = re.match(r"([^:]+):#include \"([^\"]+)\"", ln.strip())
    if not r: continue
    src, inc = r.groups()
    if "/" not in inc: inc = src.rsplit("/", 1)[0] + "/" + inc if "/" in src else inc
    a, b = folder(src), folder(inc)
    m[a, b] += 1; rows.add(a); cols.add(b)
order = ["base", "infer", "data", "model", "qat", "train", "emu", "export", "cli", "bench", "tests"]
def key(f): 
    top = f.split("/")[0]
    return (order.index(top) if top in order else len(order), f)
rows = sorted(rows, key=key); cols = sorted(cols, key=key)
w = max(len(c) for c in cols + rows)
print("from \\ to".ljust(w), *[c.rjust(max(len(c), 3)) for c in cols])
for a in rows:
    print(a.ljust(w), *[(str(m[a, c]) if m[a, c] else ".").rjust(max(len(c), 3)) for c in cols])
print()
for a in rows:
    uses = [c for c in cols if m[a, c] and c != a]
    print("%s -> %s" % (a, " ".join(uses) if uses else "(nothing)"))
'
