// ws_file.c: the weight source on sim65's paravirtual host files (c64_ws.h).
//
// sim65 2.19 implements open/read/write/close on host files but no lseek, so a reader keeps the
// position of each open handle and serves a request at or after it by reading forward; a request
// before it reopens the file. Two handles serve the image, so the embedding/classifier stream
// and the layer stream (both forward within a token) do not reopen each other. The KV cache is
// one append-only file per (layer, kv head, K/V) in the current folder: "kvLHk", "kvLHv".
#include <fcntl.h>
#include <unistd.h>

#include "c64_ws.h"

uint32_t ws_dma_bytes, ws_dma_transfers;

typedef struct {
    int fd;
    uint32_t pos;
    uint16_t age;
} handle;

static const char *img_name;
static handle hs_[2];
static uint16_t clock_;
static uint8_t skip[256];
static int kv_fd = -1;

static void reopen(handle *h) {
    if (h->fd >= 0) close(h->fd);
    h->fd = open(img_name, O_RDONLY);
    h->pos = 0;
}

int ws_open(const char *name, uint32_t image_bytes, infer_err *e) {
    uint8_t b[4];
    img_name = name;
    hs_[0].fd = hs_[1].fd = -1;
    reopen(&hs_[0]);
    // sim65 2.19 may report a failed open as success: a read of the first bytes tells.
    if (hs_[0].fd < 0 || read(hs_[0].fd, b, 4) != 4) return infer_fail(e, -1, "cannot read the model image", 0, 0, 0, 0);
    hs_[0].pos = 4;
    (void)image_bytes;
    return 0;
}

void ws_read(uint32_t off, void *buf, uint16_t n) {
    handle *h = &hs_[0];
    // the handle closest below off, else the least recently used one, reopened
    if (hs_[1].fd >= 0 && hs_[1].pos <= off && (h->pos > off || hs_[1].pos > h->pos)) h = &hs_[1];
    else if (h->pos > off) {
        h = hs_[0].age < hs_[1].age ? &hs_[0] : &hs_[1];
        reopen(h);
    }
    while (h->pos < off) {
        uint32_t d = off - h->pos;
        int k = read(h->fd, skip, d > sizeof skip ? sizeof skip : (unsigned)d);
        if (k <= 0) break;
        h->pos += (unsigned)k;
    }
    if (read(h->fd, buf, n) == (int)n) h->pos += n;
    else h->pos = 0xFFFFFFFFUL;  // past the end: the next access reopens
    h->age = ++clock_;
    ws_dma_bytes += n;
    ws_dma_transfers++;
}

static char kv_name[6] = "kv00k";

static void kv_file(int l, int h, char kind) {
    kv_name[2] = (char)(l < 10 ? '0' + l : 'a' + l - 10);  // layers 0..35 (LM_MAX_LAYERS <= 36 here)
    kv_name[3] = (char)(h < 10 ? '0' + h : 'a' + h - 10);
    kv_name[4] = kind;
}

void kv_put(int l, int h, int t, const int16_t *k, const int8_t *v, int hs) {
    int fd;
    kv_file(l, h, 'k');
    fd = open(kv_name, t == 0 ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_APPEND);
    write(fd, k, 2 * hs);
    close(fd);
    kv_file(l, h, 'v');
    fd = open(kv_name, t == 0 ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_APPEND);
    write(fd, v, hs);
    close(fd);
    ws_dma_bytes += 3 * hs;
    ws_dma_transfers += 2;
}

static void scan_begin(int l, int h, char kind) {
    if (kv_fd >= 0) close(kv_fd);
    kv_file(l, h, kind);
    kv_fd = open(kv_name, O_RDONLY);
}

void kv_k_begin(int l, int h) { scan_begin(l, h, 'k'); }
void kv_v_begin(int l, int h) { scan_begin(l, h, 'v'); }

void kv_k_next(int16_t *k, int n, int hs) {
    read(kv_fd, k, 2 * n * hs);
    ws_dma_bytes += 2 * n * hs;
    ws_dma_transfers++;
}

void kv_v_next(int8_t *v, int n, int hs) {
    read(kv_fd, v, n * hs);
    ws_dma_bytes += n * hs;
    ws_dma_transfers++;
}
