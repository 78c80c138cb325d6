// chat_reu.c: the chat model's image in a C64's REU (the chat program built with RT_CHAT_REMOTE,
// for models whose weights do not fit the C64's RAM). rt_chat_load checks that the REU holds the
// image this program was built for (its header byte for byte, then the CRC-32 of every byte: the
// exporter checked the image itself on the host) and sets the model up from the generated
// c64_chat.c, every layer's weights and biases fetched by DMA into one RAM window just before
// the layer runs (chat_imodel.fetch): a layer at a time, a few microseconds per 100 bytes.
#include <string.h>

#include "c64_chat.h"
#include "infer/chat_kernel.h"
#include "reu_dma.h"

// The window (the largest layer); before the first forward: c64_crc.s's table and a buffer.
uint8_t c64_scratch[C64_CHAT_WINDOW];
void c64_crc_update(uint8_t *crc, const uint8_t *buf, uint16_t n);

static void fetch(void *ctx, int l) {
    (void)ctx;
    reu_dma(REU_TO_C64, c64_scratch, c64_chat_off[l], c64_chat_len[l]);
}

int rt_chat_load(const char *name, chat_imodel *m, infer_err *e) {
    uint8_t *b = c64_scratch + 1024, st[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    uint32_t off, crc;
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
    // CRC-32 (base/crc32.c's) of the whole image, its table in the window's first 1 KB
    for (i = 0; i < 256; i++) {
        uint32_t c = i;
        for (l = 0; l < 8; l++) c = c & 1 ? (c >> 1) ^ 0xEDB88320UL : c >> 1;
        c64_scratch[i] = (uint8_t)c, c64_scratch[256 + i] = (uint8_t)(c >> 8);
        c64_scratch[512 + i] = (uint8_t)(c >> 16), c64_scratch[768 + i] = (uint8_t)(c >> 24);
    }
    for (off = 0; off < C64_CHAT_BYTES; off += n) {
        n = C64_CHAT_BYTES - off < 256 ? (uint16_t)(C64_CHAT_BYTES - off) : 256;
        reu_dma(REU_TO_C64, b, off, n);
        c64_crc_update(st, b, n);
    }
    crc = ~(st[0] | (uint32_t)st[1] << 8 | (uint32_t)st[2] << 16 | (uint32_t)st[3] << 24);
    if (crc != C64_CHAT_CRC)
        return infer_fail(e, -1, "CRC mismatch (the model's %x, the REU's %x): the image in the REU is corrupt", (long)C64_CHAT_CRC, (long)crc, 0, 0);
    c64_chat_model(m);
    for (l = 0; l < C64_CHAT_LAYERS; l++) m->w[l] = c64_scratch, m->b[l] = c64_scratch + c64_chat_wbytes[l];
    m->fetch = fetch;
    return 0;
}
