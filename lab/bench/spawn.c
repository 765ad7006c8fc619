/* spawn.c - running a bench program (or valgrind, git, meson) with its output captured,
 * a time limit, and a progress line that keeps moving while it runs. The child gets a
 * process group of its own, so a time limit also stops the servers it started. */
#include "lab/bench/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- Progress --------------------------------------------------------------------- */

static char progress_text[512];
static double progress_since;

static void progress_draw(void)
{
    fprintf(stderr, "\r\033[K%s  %.0fs", progress_text, now_s() - progress_since);
    fflush(stderr);
}

void bench_progress(const struct bench_opts *o, size_t i, size_t n, const char *fmt, ...)
{
    if (!o->progress)
        return;
    int off = snprintf(progress_text, sizeof(progress_text), "[%zu/%zu] ", i + 1, n);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(progress_text + off, sizeof(progress_text) - (size_t)off, fmt, ap);
    va_end(ap);
    progress_since = now_s();
    progress_draw();
}

void bench_progress_end(const struct bench_opts *o)
{
    if (!o->progress)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* ---- Spawning --------------------------------------------------------------------- */

struct sink {
    int fd;
    char *buf;
    size_t len, cap;
};

/* Read what is there; false at end of file. */
static bool drain(struct sink *s)
{
    char tmp[8192];
    ssize_t n = read(s->fd, tmp, sizeof(tmp));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    if (s->len + (size_t)n + 1 > s->cap) {
        s->cap = (s->len + (size_t)n + 1) * 2;
        s->buf = lab_xrealloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, tmp, (size_t)n);
    s->len += (size_t)n;
    s->buf[s->len] = 0;
    return true;
}

int bench_spawn(const char *const *argv, double timeout_s, bool progress, char **out, char **errtxt)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(pe, O_CLOEXEC) < 0) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(po[1]);
    close(pe[1]);
    struct sink so = {.fd = po[0]}, se = {.fd = pe[0]};
    if (rc) {
        close(po[0]);
        close(pe[0]);
        return -rc;
    }
    double deadline = now_s() + timeout_s;
    bool open_o = true, open_e = true, killed = false;
    while (open_o || open_e) {
        struct pollfd p[2] = {{open_o ? so.fd : -1, POLLIN, 0}, {open_e ? se.fd : -1, POLLIN, 0}};
        int n = poll(p, 2, 250);
        if (n > 0) {
            if (p[0].revents)
                open_o = drain(&so);
            if (p[1].revents)
                open_e = drain(&se);
        }
        if (progress && progress_text[0])
            progress_draw();
        if (!killed && timeout_s > 0 && now_s() > deadline) {
            kill(-pid, SIGKILL); /* its group: the servers it started go too */
            killed = true;
        }
    }
    close(so.fd);
    close(se.fd);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (killed)
        kill(-pid, SIGKILL);
    *out = so.buf ? so.buf : lab_xstrdup("");
    if (killed) {
        const char *msg = "(stopped: past its time limit)\n";
        size_t len = se.len + strlen(msg) + 1;
        se.buf = lab_xrealloc(se.buf, len);
        memcpy(se.buf + se.len, msg, strlen(msg) + 1);
    }
    *errtxt = se.buf ? se.buf : lab_xstrdup("");
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}
