#!/usr/bin/env python3
"""kernel_c.py: the ZX Spectrum kernels as C, relocatable by whole pages.

    kernel_c.py NAME:PACKED:A.bin:B.bin ...  > zx48_kernel_bin.c

Each NAME is one build of the kernel (export/zx48/cpu/zx48_io.s + export/cpm/cpu/chat.s), assembled
twice by zx48.mk: A at ORG = 8000h and B at 8100h. The two differ exactly in the high bytes of the
kernel's own addresses, each by +1 (a byte that differs in any other way stops the build), so the
offsets of those bytes are the relocation table: adding (P - 80h) to each moves the kernel to page
P. Whole pages keep the handler table's 256-byte alignment. PACKED is the build's PACKED (1: the
packed layout's handlers are in). The C file defines zx48_kernels[] (export/zx48/zx48.h) in the
order given.
"""
import sys


def main():
    out = ["// GENERATED at build time by export/zx48/zx48.mk (export/zx48/cpu/kernel_c.py) from",
           "// export/zx48/cpu/zx48_io.s and export/cpm/cpu/chat.s: the kernels at 8000h and their relocations.",
           '#include "export/zx48/zx48.h"', ""]
    names = []
    for arg in sys.argv[1:]:
        name, packed, pa, pb = arg.split(":")
        a, b = open(pa, "rb").read(), open(pb, "rb").read()
        if len(a) != len(b):
            sys.exit("kernel_c.py: %s: the two assemblies differ in size (%d, %d)" % (name, len(a), len(b)))
        rel = []
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                if (y - x) & 0xFF != 1:
                    sys.exit("kernel_c.py: %s: byte %d is %02X at 8000h and %02X at 8100h: not an address high byte"
                             % (name, i, x, y))
                rel.append(i)
        out.append("static const unsigned char %s_bin[%d] = {" % (name, len(a)))
        out += ["    " + " ".join("0x%02x," % x for x in a[i:i + 16]) for i in range(0, len(a), 16)]
        out.append("};")
        out.append("static const uint16_t %s_reloc[%d] = {" % (name, len(rel)))
        out += ["    " + " ".join("%d," % x for x in rel[i:i + 12]) for i in range(0, len(rel), 12)]
        out.append("};")
        names.append((name, len(a), len(rel), int(packed)))
    out.append("const zx48_kernel zx48_kernels[ZX48_NKERNELS] = {")
    for name, n, nrel, packed in names:
        out.append("    {%s_bin, %d, %s_reloc, %d, %d}," % (name, n, name, nrel, packed))
    out.append("};")
    print("\n".join(out))


if __name__ == "__main__":
    main()
