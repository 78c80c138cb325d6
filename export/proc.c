// proc.c: child processes for the target runners (proc.h).
#include "export/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    char *p;
    size_t n, cap;
} growbuf;

static void gb_put(growbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = rq_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

int rq_have_program(const char *prog) {
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char buf[4096];
    for (const char *s = path; *s;) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n && n + strlen(prog) + 2 < sizeof buf) {
            memcpy(buf, s, n);
            buf[n] = '/';
            strcpy(buf + n + 1, prog);
            if (access(buf, X_OK) == 0) return 1;
        }
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

int rq_proc_run(const rq_proc *p, rq_proc_result *r) {
    memset(r, 0, sizeof *r);
    int pin[2], pout[2], perr[2];
    if (pipe(pin) || pipe(pout) || pipe(perr)) return rq_fail(RQ_ERUNTIME, "%s: pipe: %s", p->argv[0], strerror(errno));
    int status_pipe[2];  // the child reports an exec failure through it
    if (pipe(status_pipe)) return rq_fail(RQ_ERUNTIME, "%s: pipe: %s", p->argv[0], strerror(errno));
    fcntl(status_pipe[1], F_SETFD, FD_CLOEXEC);
    pid_t pid = fork();
    if (pid < 0) return rq_fail(RQ_ERUNTIME, "%s: fork: %s", p->argv[0], strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        dup2(pin[0], 0), dup2(pout[1], 1), dup2(p->merge_stderr ? pout[1] : perr[1], 2);
        close(pin[0]), close(pin[1]), close(pout[0]), close(pout[1]), close(perr[0]), close(perr[1]);
        close(status_pipe[0]);
        if (p->cwd && chdir(p->cwd) != 0) {
            int e = errno;
            (void)!write(status_pipe[1], &e, sizeof e);
            _exit(127);
        }
        execvp(p->argv[0], (char *const *)p->argv);
        int e = errno;
        (void)!write(status_pipe[1], &e, sizeof e);
        _exit(127);
    }
    close(pin[0]), close(pout[1]), close(perr[1]), close(status_pipe[1]);
    int child_errno = 0;
    if (read(status_pipe[0], &child_errno, sizeof child_errno) == (ssize_t)sizeof child_errno) {
        close(status_pipe[0]), close(pin[1]), close(pout[0]), close(perr[0]);
        waitpid(pid, NULL, 0);
        return rq_fail(RQ_ERUNTIME, "cannot run %s: %s", p->argv[0], strerror(child_errno));
    }
    close(status_pipe[0]);
    signal(SIGPIPE, SIG_IGN);
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    growbuf out = {0}, err = {0};
    gb_put(&out, "", 0), gb_put(&err, "", 0);
    size_t in_done = 0;
    int in_open = 1, out_open = 1, err_open = 1;
    if (!p->in || p->in_len == 0) {
        if (!p->keep_stdin_open) close(pin[1]), in_open = 0;
    }
    double deadline = p->timeout > 0 ? now() + p->timeout : 0;
    int killed = 0;
    while (out_open || err_open) {
        struct pollfd fds[3];
        int nf = 0, iout = -1, ierr = -1, iin = -1;
        if (out_open) iout = nf, fds[nf++] = (struct pollfd){pout[0], POLLIN, 0};
        if (err_open) ierr = nf, fds[nf++] = (struct pollfd){perr[0], POLLIN, 0};
        if (in_open && in_done < p->in_len) iin = nf, fds[nf++] = (struct pollfd){pin[1], POLLOUT, 0};
        int ms = 200;
        if (deadline) {
            double left = deadline - now();
            if (left <= 0) {
                kill(-pid, SIGKILL);
                r->timed_out = killed = 1;
                break;
            }
            if (left * 1000 < ms) ms = (int)(left * 1000) + 1;
        }
        int k = poll(fds, (nfds_t)nf, ms);
        if (k < 0 && errno != EINTR) break;
        if (k <= 0) continue;
        char buf[65536];
        if (iin >= 0 && (fds[iin].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(pin[1], (const char *)p->in + in_done, p->in_len - in_done);
            if (w > 0) in_done += (size_t)w;
            if (w < 0 && errno != EAGAIN) in_done = p->in_len;
            if (in_done >= p->in_len && !p->keep_stdin_open) close(pin[1]), in_open = 0;
        }
        if (iout >= 0 && (fds[iout].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(pout[0], buf, sizeof buf);
            if (n > 0) gb_put(&out, buf, (size_t)n);
            else close(pout[0]), out_open = 0;
            if (p->stop_marker && strstr(out.p, p->stop_marker)) {
                kill(-pid, SIGKILL);
                r->stopped = killed = 1;
                break;
            }
        }
        if (ierr >= 0 && (fds[ierr].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(perr[0], buf, sizeof buf);
            if (n > 0) gb_put(&err, buf, (size_t)n);
            else close(perr[0]), err_open = 0;
        }
    }
    if (in_open) close(pin[1]);
    if (out_open) close(pout[0]);
    if (err_open) close(perr[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (r->timed_out) r->exit_code = 124;
    else if (r->stopped) r->exit_code = 0;
    else if (WIFEXITED(st)) r->exit_code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) r->exit_code = 128 + WTERMSIG(st);
    (void)killed;
    r->out = out.p, r->out_len = out.n;
    r->err = err.p, r->err_len = err.n;
    return 0;
}

void rq_proc_result_free(rq_proc_result *r) {
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

char *rq_read_all_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *b = rq_malloc(cap);
    for (size_t k; (k = fread(b + n, 1, cap - n, stdin)) > 0;)
        if ((n += k) == cap) b = rq_realloc(b, cap *= 2);
    *len = n;
    return b;
}
