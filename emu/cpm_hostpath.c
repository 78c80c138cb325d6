#include "emu/cpm_hostpath.h"

#include "emu/hostfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int cpm_name_char_ok(unsigned char c) { return c > ' ' && c < 0x7F && !strchr("<>.,;:=?*[]|/\\\"", c); }

int cpm_fcb_host_name(const uint8_t pat[11], char out[13]) {
    int n = 0;
    for (int field = 0; field < 2; field++) {
        int lo = field ? 8 : 0, hi = field ? 11 : 8, end = lo;
        while (end < hi && pat[end] != ' ') end++;
        for (int i = end; i < hi; i++)
            if (pat[i] != ' ') return 0;  // a blank inside the name: "A B" is not 8.3
        if (field == 0 && end == lo) return 0;  // no name
        if (field == 1 && end > lo) out[n++] = '.';
        for (int i = lo; i < end; i++) {
            if (!cpm_name_char_ok(pat[i])) return 0;
            out[n++] = (char)pat[i];
        }
    }
    out[n] = 0;
    return 1;
}

// The NAME part of PATH when PATH is DIR "/" NAME with NAME one valid 8.3 component, else NULL.
static const char *confined_name(const char *dir, const char *path) {
    size_t d = strlen(dir);
    if (strncmp(path, dir, d) != 0 || path[d] != '/') return NULL;
    const char *name = path + d + 1;
    size_t len = strlen(name), dot = strcspn(name, ".");
    if (len == 0 || dot == 0 || dot > 8 || (dot < len && (len - dot - 1 == 0 || len - dot - 1 > 3))) return NULL;
    for (size_t i = 0; i < len; i++)
        if (i != dot && !cpm_name_char_ok((unsigned char)name[i])) return NULL;
    return name;
}

// A descriptor of DIR and PATH's NAME in it (*name), or -1 (errno) when PATH is not confined.
static int open_dir(const char *dir, const char *path, const char **name) {
    if (!(*name = confined_name(dir, path))) {
        errno = EINVAL;
        return -1;
    }
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int cpm_host_open(const char *dir, const char *path, int flags, mode_t mode) {
    const char *name = confined_name(dir, path);
    if (!name) {
        errno = EINVAL;
        return -1;
    }
    return host_open_in(dir, name, flags, mode);
}

int cpm_host_stat(const char *dir, const char *path, struct stat *sb) {
    const char *name;
    int dfd = open_dir(dir, path, &name);
    if (dfd < 0) return -1;
    int rc = fstatat(dfd, name, sb, AT_SYMLINK_NOFOLLOW);
    int e = errno;
    close(dfd);
    if (rc == 0 && !S_ISREG(sb->st_mode)) rc = -1, e = EINVAL;
    errno = e;
    return rc;
}
