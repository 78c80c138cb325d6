// files.c: the PowerPC build's default usage, the published iMac G3 port's: started without -i,
// the program takes its prompt from prompt.txt in the current folder (trailing line ends
// dropped) and appends what it prints to output.txt, besides showing it on the console. With -i
// it is the plain program of rt.h. Built as RT_ENTRY for the transformer (export/ppc/ppc.c).
#include <string.h>

#include "export/rt/rt.h"
#include "export/rt/rt_sys.h"

#ifndef RT_PROGRAM
#define RT_PROGRAM rt_lm_main
#endif
int RT_PROGRAM(int argc, char **argv);

#define PROMPT_FILE "prompt.txt"
#define OUTPUT_FILE "output.txt"
#define MAX_ARGS 62

int rt_ppc_files_main(int argc, char **argv);
int rt_ppc_files_main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-i") == 0) return RT_PROGRAM(argc, argv);
    if (argc > MAX_ARGS) {
        rt_puts(2, "retroqat: too many arguments\n");
        return 2;
    }
    int rc = 0;
    size_t len;
    char *text = rt_load_file(PROMPT_FILE, &len, &rc);
    if (!text) return rc;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
    char *prompt = rt_alloc(len + 1);
    if (!prompt) {
        rt_puts(2, "retroqat: out of memory: " PROMPT_FILE " does not fit the arena\n");
        return 1;
    }
    memcpy(prompt, text, len);
    prompt[len] = 0;
    long fd = rt_sys_open(OUTPUT_FILE, RT_O_WRONLY | RT_O_CREAT | RT_O_APPEND, 0644);
    if (fd < 0) {
        rt_puts(2, "retroqat: " OUTPUT_FILE ": cannot open for appending\n");
        return 1;
    }
    rt_tee_fd = (int)fd;
    char *args[MAX_ARGS + 3];
    int n = 0;
    for (int i = 0; i < argc; i++) args[n++] = argv[i];
    args[n++] = "-i", args[n++] = prompt, args[n] = 0;
    rc = RT_PROGRAM(n, args);
    rt_tee_fd = -1;
    if (rt_sys_close((int)fd) < 0) {
        rt_puts(2, "retroqat: " OUTPUT_FILE ": write failed\n");
        return 1;
    }
    return rc;
}
