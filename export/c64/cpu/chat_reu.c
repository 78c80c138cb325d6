// chat_reu.c: the chat model's image in a C64's REU (the chat program built with RT_CHAT_REMOTE,
// for models whose weights do not fit the C64's RAM). rt_chat_load checks that the REU holds the
// image this program was built for (its header byte for byte, then the CRC-32 of every byte: the
// exporter checked the image itself on the host) and sets the model up from the generated
// c64_chat.c, every layer's weights and biases fetched by DMA into one RAM window just before
// the layer runs (chat_imodel.fetch): a layer at a time, a few microseconds per 100 bytes.
#include <string.h>

#include "base/crc32.h"
#include "c64_chat.h"
#include "infer/chat_kernel.h"
#include "reu_dma.h"

// The window (the largest layer); before the first forward: c64_crc.s's table and a buffer.
uint8_t c64_scratch[C64_CHAT_WINDOW];
void c64_crc_table(void *t);  // c64_crc.s: crc32_update's table at t (1 KB); NULL: none

static void fetch(void *ctx, int l) {
    (void)ctx;
    reu_dma(REU_TO_C64, c64_scratch, c64_chat_off[l], c64_chat_len[l]);
}

int rt_chat_load(const char *name, chat_imodel *m, infer_err *e) {
    uint8_t *b = c64_scratch + 1024;
    uint32_t off, crc = 0;
    uint16_t n, i;
    int l;
    (void)name;
    reu_dma(REU_TO_C64, b, 0, 4);
    if (memcmp(b, "RQCI", 4) != 0)
        return infer_fail(e, 0, "no chat model image in the REU (expected \"RQCI\" at REU address 0: load the .reu file)", 0, 0, 0, 0);
    for (off = 0; off < C64_CHAT_HEAD; off += n) {
        n = C64_CHAT_HEAD - off < 256 ? (uint16_t)(C64_CHAT_HEAD - off) : 256;
        reu_dma(REU_TO_C64, b, off, n);
        for (i = 0; i < n; i++)
            if (b[i] != c64_chat_head[off + i])
                return infer_fail(e, (long)(off + i), "the REU holds another chat model than the one this program was built for", 0, 0, 0, 0);
    }
    // CRC-32 (base/crc32.h's, c64_crc.s) of the whole image, its table in the window's first 1 KB
    c64_crc_table(c64_scratch);
    for (off = 0; off < C64_CHAT_BYTES; off += n) {
        n = C64_CHAT_BYTES - off < 256 ? (uint16_t)(C64_CHAT_BYTES - off) : 256;
        reu_dma(REU_TO_C64, b, off, n);
        crc = crc32_update(crc, b, n);
    }
    c64_crc_table(NULL);
    if (crc != C64_CHAT_CRC)
        return infer_fail(e, -1, "CRC mismatch (the model's %x, the REU's %x): the image in the REU is corrupt", (long)C64_CHAT_CRC, (long)crc, 0, 0);
    c64_chat_model(m);
    for (l = 0; l < C64_CHAT_LAYERS; l++) m->w[l] = c64_scratch, m->b[l] = c64_scratch + c64_chat_wbytes[l];
    m->fetch = fetch;
    return 0;
}
