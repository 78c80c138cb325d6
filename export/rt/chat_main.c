// chat_main.c: the chat program of every C-built target (command line in rt.h): load the chat
// image and answer through infer/chat_kernel, like `retroqat chat`.
#include <string.h>

#include "export/rt/rt.h"
#include "infer/chat_kernel.h"
#include "infer/lm_gen.h"

void rt_report(const char *name, const infer_err *e);

typedef struct {
    int debug, step;
} chat_dbg;

static void on_step(void *ctx, const int16_t *logits, int n) {
    chat_dbg *d = ctx;
    if (!d->debug) return;
    rt_puts(2, "#logits "), rt_put_dec(2, d->step++), rt_puts(2, " ");
    rt_put_hex8(2, chat_logits_crc(logits, n)), rt_puts(2, "\n");
}

static void answer(const chat_imodel *m, const char *q, int qlen, chat_dbg *d) {
    char ans[256];
    int n = chat_generate_steps(m, q, qlen, ans, sizeof ans, on_step, d);
    rt_write(1, ans, (size_t)n);
    rt_write(1, "\n", 1);
}

int rt_chat_main(int argc, char **argv) {
    const char *model = "MODEL.RQI";
    chat_dbg d = {0, 0};
    int first = 1;
    for (; first < argc; first++) {
        if (strcmp(argv[first], "-d") == 0) d.debug = 1;
        else if (strcmp(argv[first], "-m") == 0 && first + 1 < argc) model = argv[++first];
        else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else break;
    }
    chat_imodel m;
    infer_err e;
#ifdef RT_CHAT_REMOTE
    // the image stays outside RAM (a C64's REU): the target checks it and fetches each layer
    int rt_chat_load(const char *name, chat_imodel *m, infer_err *e);
    if (rt_chat_load(model, &m, &e)) {
        rt_report(model, &e);
        return INFER_EBAD;
    }
#else
    int rc = 0;
    size_t len;
    uint8_t *buf = rt_load_file(model, &len, &rc);
    if (!buf) return rc;
    if (chat_image_check(buf, len, &m, &e)) {
        rt_report(model, &e);
        return INFER_EBAD;
    }
#endif
    if (first < argc) {
        for (int i = first; i < argc; i++) answer(&m, argv[i], (int)strlen(argv[i]), &d);
        return 0;
    }
    char line[256];
    for (;;) {
        rt_puts(1, "> ");
        int n = rt_read_line(line, sizeof line);
        if (n < 0) break;
        if (n == 0) continue;
        answer(&m, line, n, &d);
    }
    rt_puts(1, "\n");
    return 0;
}
