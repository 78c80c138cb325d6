// qemu_target.h: the export and run flows of a C-built target whose program runs as a Linux
// process (under qemu-user here; under Linux on the real machine): ColdFire and PowerPC. The
// target's folder holds only what differs: its qu_cpu, byte order, memory, README text and
// registry entry (export/coldfire/coldfire.c, export/ppc/ppc.c).
//
// The folder export writes (-o DIR):
//   lm | chat        the program, built at export time for this model (static arena sized for it)
//   MODEL.RQM        transformer: the integer image in the target's byte order
//   TOK.RQT          transformer, with -z: the tokenizer image in the target's byte order
//   MODEL.RQI        chat: the integer image (the RQCI format is little-endian on every target)
//   README.md        how to run it on the real machine, and the memory map
//   target.txt       what `retroqat run` needs: target, family, program, the marked addresses
// The program's default file names are the ones above, so `./lm -i "Once upon a time"` in DIR runs.
#ifndef RQ_EXPORT_QEMU_TARGET_H
#define RQ_EXPORT_QEMU_TARGET_H

#include "export/qemu_user.h"
#include "export/target.h"

typedef struct {
    const char *name;               // "coldfire": the --target name
    const char *title;              // "ColdFire MCF5307"
    qu_cpu cpu;
    int big_endian;                 // byte order of the images export writes and the program reads
    long default_ram;               // --ram default, bytes
    const char *lm_entry;           // RT_ENTRY of the transformer build, NULL: the plain program
    const char *readme;             // the target's paragraph of README.md (real hardware)
} qt_target;

// The flags both targets declare (their export_flags tables start with these).
#define QT_EXPORT_FLAGS \
    {"--ram", "BYTES", "memory the program may use (K/M suffixes; the model is refused beyond it)"}

// Write the folder for m (see above), refusing a model whose program, arena and stack exceed
// --ram with the shortfall in bytes.
int qt_export(const qt_target *t, const rq_tflag *flags, const rq_model *m, const rq_export_opts *o);

// Run the folder dir. files = 1: the program's file mode (the PowerPC build: o->prompt is written
// to DIR/prompt.txt and the program reads it, appending its output to DIR/output.txt).
int qt_run(const qt_target *t, const char *dir, const rq_run_opts *o, int files, rq_run_result *r);

// The bytes of "8M", "512K", "65536": -1 when malformed.
long qt_parse_bytes(const char *s);

#endif
