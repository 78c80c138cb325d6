// ws_file.c: the weight source on sim65's paravirtual host files (c64_ws.h).
//
// sim65 2.19 implements open/read/write/close on host files but no lseek, so every handle keeps
// its position and a seek reads forward to the offset; a seek backwards reopens the file. Three
// handles on the REU image: the two streams (weights, row records) and ws_read's, so the
// matrices, their records and the norms / tables between them each read forward within a token;
// a fourth on the KV file being scanned (stream C64_KV_STREAM). The stream reads are
// ws_file_next.s.
// The KV cache is one append-only file per (layer, kv head, K/V) in the current folder, "kvLHk" and
// "kvLHv"; the stash is the file "stash".
#include <fcntl.h>
#include <unistd.h>

#include "c64_ws.h"

uint32_t ws_dma_bytes, ws_dma_transfers;

static const char *img_name;
int ws_fd[C64_KV_STREAM + 1];        // handles: streams 0 and 1, ws_read's, the KV scan's (ws_file_next.s reads them: ws_next)
uint32_t ws_pos[C64_KV_STREAM + 1];  // their positions
static uint8_t skip[8192];  // (sim65 only: its RAM is larger than the C64's; a skip read costs one call, whatever its length)

static void reopen(uint8_t s) {
    if (ws_fd[s] >= 0) close(ws_fd[s]);
    ws_fd[s] = open(img_name, O_RDONLY);
    ws_pos[s] = 0;
}

void ws_seek(uint8_t s, uint32_t off) {
    if (ws_fd[s] < 0 || ws_pos[s] > off) reopen(s);
    while (ws_pos[s] < off) {
        uint32_t d = off - ws_pos[s];
        int k = read(ws_fd[s], skip, d > sizeof skip ? sizeof skip : (unsigned)d);
        if (k <= 0) break;
        ws_pos[s] += (unsigned)k;
    }
}

int ws_open(const char *name, uint32_t image_bytes, infer_err *e) {
    uint8_t b[4];
    img_name = name;
    ws_fd[0] = ws_fd[1] = ws_fd[2] = ws_fd[C64_KV_STREAM] = -1;
    reopen(2);
    // sim65 2.19 may report a failed open as success: a read of the first bytes tells.
    if (ws_fd[2] < 0 || read(ws_fd[2], b, 4) != 4) return infer_fail(e, -1, "cannot read the model image", 0, 0, 0, 0);
    ws_pos[2] = 4;
    (void)image_bytes;
    return 0;
}

void ws_read(uint32_t off, void *buf, uint16_t n) {
    ws_seek(2, off);
    ws_next(2, buf, n);
}

static void put_file(const char *name, int append, const void *p, unsigned n) {
    int fd = open(name, append ? O_WRONLY | O_APPEND : O_WRONLY | O_CREAT | O_TRUNC);
    write(fd, p, n);
    close(fd);
}

void ws_stash(const void *buf, uint16_t n) {
    put_file("stash", 0, buf, n);
    ws_dma_bytes += n;
    ws_dma_transfers++;
}

void ws_unstash(void *buf, uint16_t n) {
    int fd = open("stash", O_RDONLY);
    read(fd, buf, n);
    close(fd);
    ws_dma_bytes += n;
    ws_dma_transfers++;
}

static char kv_name[6] = "kv00k";

static void kv_file(int l, int h, char kind) {
    kv_name[2] = (char)(l < 10 ? '0' + l : 'a' + l - 10);  // layers 0..35 (LM_MAX_LAYERS <= 36 here)
    kv_name[3] = (char)(h < 10 ? '0' + h : 'a' + h - 10);
    kv_name[4] = kind;
}

void kv_put(int l, int h, int t, const uint8_t *krec, const int8_t *v, int hs) {
    kv_file(l, h, 'k');
    put_file(kv_name, t != 0, krec, C64_KREC(hs));
    kv_file(l, h, 'v');
    put_file(kv_name, t != 0, v, hs);
    ws_dma_bytes += C64_KREC(hs) + hs;
    ws_dma_transfers += 2;
}

static void scan_begin(int l, int h, char kind) {
    if (ws_fd[C64_KV_STREAM] >= 0) close(ws_fd[C64_KV_STREAM]);
    kv_file(l, h, kind);
    ws_fd[C64_KV_STREAM] = open(kv_name, O_RDONLY);
    ws_pos[C64_KV_STREAM] = 0;
}

void kv_k_begin(int l, int h) { scan_begin(l, h, 'k'); }
void kv_v_begin(int l, int h) { scan_begin(l, h, 'v'); }
