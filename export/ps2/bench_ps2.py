#!/usr/bin/env python3
"""bench_ps2.py: the PS2 target's figures from `retroqat run --target ps2 --json` (stderr JSON).
Usage: bench_ps2.py NAME=FILE.json ...   Prints one line per run and the streaming model's
tokens per second at 294.912 MHz assuming one instruction per cycle, with a CD-ROM at 3.6 MB/s
(reads not overlapped with compute: the two times add)."""
import json, sys

CLOCK, CD = 294.912e6, 3.6e6
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    txt = open(path).read()
    j = json.loads(txt[txt.index("{"):txt.rindex("}") + 1])
    ipt, spt = j["gen_insns_per_token"], j["bytes_streamed_per_token"]
    t_cpu, t_cd = ipt / CLOCK, spt / CD
    print(f"{name}: {ipt:,.0f} insns/token in the generation loop ({j['stream_insns_per_token']:,.0f} of them fetching and CRC-checking streamed rows), "
          f"{spt:,.0f} bytes streamed/token, arena high-water {j['arena_high_water']:,.0f} of {j['ram_budget']:,.0f} bytes; "
          f"at 294.912 MHz, 1 insn/cycle: compute {t_cpu*1e3:.1f} ms + CD {t_cd*1e3:.1f} ms = {1/(t_cpu+t_cd):.2f} tokens/s")
