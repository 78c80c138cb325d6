#include "base/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/err.h"

int rq_dir_lock(const char *dir, int *fd) {
    *fd = -1;
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, RQ_DIRLOCK_NAME) >= (int)sizeof path) return rq_fail(RQ_EINPUT, "%s: path too long", dir);
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0) return rq_fail(RQ_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(f, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(f);
        if (e == EWOULDBLOCK)
            return rq_fail(RQ_ERUNTIME, "%s: another training is writing to this folder (%s%s holds %s); use another --out", dir,
                           pid[0] ? "pid " : "a process", pid, path);
        return rq_fail(RQ_ERUNTIME, "%s: cannot lock: %s", path, strerror(e));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(f);
        return rq_fail(RQ_ERUNTIME, "%s: write failed: %s", path, strerror(e));
    }
    *fd = f;
    return 0;
}

void rq_dir_unlock(int fd) {
    if (fd >= 0) close(fd);
}
