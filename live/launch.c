/* launch.c - start, fault and stop real server processes (see launch.h). The only place
 * distlab forks a server; it never leaves one behind: a child dies with its parent thread
 * (PR_SET_PDEATHSIG), and SIGINT/SIGTERM/exit() kill every registered process and remove
 * every registered directory before the process itself goes. */
#include "live/launch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 64
#define MAX_DIRS 32
#define MAX_ARGS 64
#define DIR_BASE "/tmp"
#define DIR_PREFIX "distlab-"

struct live_dir {
    char path[64];
    int slot;
};

struct live_proc {
    struct live_dir *dir;
    char name[48];
    char log[128];
    char *argv[MAX_ARGS + 1];
    live_probe_fn probe;
    void *probe_arg;
    int64_t timeout_ns;
    pid_t pid;
    enum live_proc_state state;
    int slot;
};

/* ---- What the signal handler knows: plain arrays it reads without locks ---------------- */

static struct {
    volatile sig_atomic_t used;
    volatile sig_atomic_t pid; /* 0: not running */
} procs[MAX_PROCS];
static struct {
    volatile sig_atomic_t used;
    char path[64];
} dirs[MAX_DIRS];
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_int, old_term;
static bool handlers_installed;

/* rm -rf with async-signal-safe calls only (open, getdents64, unlinkat, close): the
 * signal handler uses it. Buffers are static, one per depth; directories nest a few
 * levels at most (etcd: member/snap, ZooKeeper: version-2). */
#define RM_DEPTH 8
static char rm_buf[RM_DEPTH][4096];

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static void rm_tree_at(int fd, int depth)
{
    if (depth >= RM_DEPTH)
        return;
    for (int pass = 0; pass < 64; pass++) {
        bool removed = false;
        lseek(fd, 0, SEEK_SET);
        long n;
        while ((n = syscall(SYS_getdents64, fd, rm_buf[depth], sizeof(rm_buf[depth]))) > 0) {
            for (long off = 0; off < n;) {
                struct linux_dirent64 *de = (void *)(rm_buf[depth] + off);
                off += de->d_reclen;
                const char *nm = de->d_name;
                if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
                    continue;
                if (unlinkat(fd, nm, 0) == 0) {
                    removed = true;
                    continue;
                }
                int sub = openat(fd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0) {
                    rm_tree_at(sub, depth + 1);
                    close(sub);
                }
                if (unlinkat(fd, nm, AT_REMOVEDIR) == 0)
                    removed = true;
            }
        }
        if (!removed)
            return;
    }
}

static void rm_tree(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        rm_tree_at(fd, 0);
        close(fd);
    }
    rmdir(path);
}

/* Kill every registered process, remove every registered directory. */
static void kill_all(void)
{
    for (int i = 0; i < MAX_PROCS; i++) {
        pid_t pid = (pid_t)procs[i].pid;
        if (procs[i].used && pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            procs[i].pid = 0;
        }
    }
    for (int i = 0; i < MAX_DIRS; i++) {
        if (dirs[i].used) {
            rm_tree(dirs[i].path);
            dirs[i].used = 0;
        }
    }
}

static void on_signal(int sig)
{
    kill_all();
    struct sigaction *old = sig == SIGINT ? &old_int : &old_term;
    sigaction(sig, old, NULL);
    if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL && !(old->sa_flags & SA_SIGINFO))
        old->sa_handler(sig);
    else
        raise(sig);
}

/* Called with reg_mu held. */
static void install_handlers(void)
{
    if (handlers_installed)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    atexit(kill_all); /* exit() without a stop, e.g. a failed test */
    handlers_installed = true;
}

/* ---- Small helpers ------------------------------------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static char *dummy_err(char **err, size_t *errlen)
{
    static _Thread_local char sink[8];
    if (!*err) {
        *err = sink;
        *errlen = sizeof(sink);
    }
    (*err)[0] = 0;
    return *err;
}

int live_find_exe(const char *prog, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/%s", *d ? d : ".", prog);
        struct stat st;
        if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
            return 0;
    }
    out[0] = 0;
    return -ENOENT;
}

int live_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        rc = -errno;
    close(fd);
    return rc < 0 ? rc : ntohs(a.sin_port);
}

/* ---- Directories ------------------------------------------------------------------- */

/* Remove /tmp/distlab-* directories whose owner (pid in DIR/owner) no longer exists.
 * Directories without an owner file are not ours: left alone. */
static void sweep_stale(void)
{
    DIR *d = opendir(DIR_BASE);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, DIR_PREFIX, strlen(DIR_PREFIX)) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), DIR_BASE "/%s/owner", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        long pid = 0;
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
        if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            snprintf(path, sizeof(path), DIR_BASE "/%s", de->d_name);
            rm_tree(path);
        }
    }
    closedir(d);
}

int live_dir_create(const char *tag, struct live_dir **out, char *err, size_t errlen)
{
    dummy_err(&err, &errlen);
    *out = NULL;
    struct live_dir *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    sweep_stale();
    snprintf(d->path, sizeof(d->path), DIR_BASE "/" DIR_PREFIX "%.16s-XXXXXX", tag);
    if (!mkdtemp(d->path)) { /* mkdtemp makes it 0700 */
        int e = errno;
        snprintf(err, errlen, "cannot create a temporary directory: %s", strerror(e));
        free(d);
        return -e;
    }
    pthread_mutex_lock(&reg_mu);
    d->slot = -1;
    for (int i = 0; i < MAX_DIRS && d->slot < 0; i++) {
        if (!dirs[i].used) {
            d->slot = i;
            memcpy(dirs[i].path, d->path, sizeof(d->path));
            dirs[i].used = 1;
        }
    }
    if (d->slot >= 0)
        install_handlers();
    pthread_mutex_unlock(&reg_mu);
    if (d->slot < 0) {
        snprintf(err, errlen, "more than %d server directories at once", MAX_DIRS);
        rmdir(d->path);
        free(d);
        return -EMFILE;
    }
    char owner[128];
    snprintf(owner, sizeof(owner), "%s/owner", d->path);
    FILE *f = fopen(owner, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
    }
    *out = d;
    return 0;
}

const char *live_dir_path(const struct live_dir *d)
{
    return d->path;
}

void live_dir_remove(struct live_dir *d)
{
    if (!d)
        return;
    rm_tree(d->path);
    pthread_mutex_lock(&reg_mu);
    dirs[d->slot].used = 0;
    pthread_mutex_unlock(&reg_mu);
    free(d);
}

/* ---- Processes --------------------------------------------------------------------- */

struct live_proc *live_proc_new(struct live_dir *d, const struct live_proc_cfg *cfg)
{
    struct live_proc *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->dir = d;
    snprintf(p->name, sizeof(p->name), "%s", cfg->name);
    snprintf(p->log, sizeof(p->log), "%s/%s.log", d->path, cfg->name);
    p->probe = cfg->probe;
    p->probe_arg = cfg->probe_arg;
    p->timeout_ns = cfg->ready_timeout_ns > 0 ? cfg->ready_timeout_ns : 10000000000LL;
    for (int i = 0; cfg->argv[i]; i++) {
        if (i == MAX_ARGS || !(p->argv[i] = strdup(cfg->argv[i])))
            goto err_free;
    }
    pthread_mutex_lock(&reg_mu);
    p->slot = -1;
    for (int i = 0; i < MAX_PROCS && p->slot < 0; i++) {
        if (!procs[i].used) {
            p->slot = i;
            procs[i].pid = 0;
            procs[i].used = 1;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    if (p->slot < 0)
        goto err_free;
    return p;
err_free:
    for (int i = 0; p->argv[i]; i++)
        free(p->argv[i]);
    free(p);
    return NULL;
}

static void set_pid(struct live_proc *p, pid_t pid)
{
    p->pid = pid;
    procs[p->slot].pid = pid;
}

int live_proc_spawn(struct live_proc *p, char *err, size_t errlen)
{
    dummy_err(&err, &errlen);
    if (p->pid > 0)
        live_proc_kill(p);
    int logfd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || devnull < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", p->log, strerror(e));
        if (logfd >= 0)
            close(logfd);
        if (devnull >= 0)
            close(devnull);
        return -e;
    }
    dprintf(logfd, "---- distlab: starting %s\n", p->name);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec: the parent has threads. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGPIPE, &dfl, NULL);
        dup2(devnull, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        if (chdir(p->dir->path) < 0)
            _exit(126);
        setpgid(0, 0); /* a terminal's ^C reaches distlab, which stops the server itself */
        execv(p->argv[0], p->argv);
        _exit(127);
    }
    int e = errno;
    close(logfd);
    close(devnull);
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork %s: %s", p->name, strerror(e));
        return -e;
    }
    set_pid(p, pid);
    p->state = LIVE_PROC_RUNNING;
    return 0;
}

void live_proc_log_tail(const struct live_proc *p, int lines, char *buf, size_t cap)
{
    buf[0] = 0;
    int fd = open(p->log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char tail[4096];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof(tail) - 1 ? size - (off_t)sizeof(tail) + 1 : 0;
    ssize_t n = pread(fd, tail, sizeof(tail) - 1, from);
    close(fd);
    if (n <= 0)
        return;
    tail[n] = 0;
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
        tail[--n] = 0;
    char *start = tail;
    int seen = 0;
    for (char *s = tail + n; s > tail; s--) {
        if (s[-1] == '\n' && ++seen == lines) {
            start = s;
            break;
        }
    }
    size_t off = 0;
    for (char *line = start, *nl; line && *line && off + 4 < cap; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        int k = snprintf(buf + off, cap - off, "\n  %.*s", len > 200 ? 200 : len, line);
        if (k < 0)
            break;
        off += (size_t)k < cap - off ? (size_t)k : cap - off - 1;
    }
}

/* Did the log say a port was taken? Then the caller may try other ports. */
static bool log_says_addr_in_use(const struct live_proc *p)
{
    char tail[2048];
    live_proc_log_tail(p, 30, tail, sizeof(tail));
    for (char *s = tail; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    return strstr(tail, "address already in use") || strstr(tail, "bindexception") ||
           strstr(tail, "address in use");
}

static void describe_status(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WIFSTOPPED(status))
        snprintf(buf, cap, "was stopped by signal %d (%s)", WSTOPSIG(status),
                 strsignal(WSTOPSIG(status)));
    else
        snprintf(buf, cap, "changed state (status %#x)", (unsigned)status);
}

int live_proc_check(struct live_proc *p, char *why, size_t cap)
{
    dummy_err(&why, &cap);
    if (p->state == LIVE_PROC_LOST)
        return -EPIPE;
    if (p->pid <= 0)
        return 0;
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG | WUNTRACED);
    if (r == 0 || (r == p->pid && WIFSTOPPED(status) && p->state == LIVE_PROC_PAUSED))
        return 0;
    char how[96] = "vanished";
    if (r == p->pid)
        describe_status(status, how, sizeof(how));
    if (r != p->pid || !WIFSTOPPED(status))
        set_pid(p, 0); /* reaped (or not ours any more) */
    p->state = LIVE_PROC_LOST;
    char tail[1536];
    live_proc_log_tail(p, 8, tail, sizeof(tail));
    snprintf(why, cap, "%s %s behind distlab's back; the last lines of %s:%s", p->name, how, p->log,
             tail[0] ? tail : " (empty)");
    return -EPIPE;
}

int live_proc_wait_ready(struct live_proc *p, int64_t timeout_ns, char *err, size_t errlen)
{
    dummy_err(&err, &errlen);
    if (timeout_ns < 0)
        timeout_ns = p->timeout_ns;
    int64_t start = mono_ns(), deadline = start + timeout_ns;
    for (;;) {
        int status;
        pid_t r = p->pid > 0 ? waitpid(p->pid, &status, WNOHANG) : -1;
        if (r != 0) {
            char how[96] = "is not running", tail[1536];
            if (r == p->pid)
                describe_status(status, how, sizeof(how));
            set_pid(p, 0);
            p->state = LIVE_PROC_DOWN;
            bool in_use = log_says_addr_in_use(p);
            live_proc_log_tail(p, 12, tail, sizeof(tail));
            snprintf(err, errlen, "%s %s at start; the last lines of its log:%s", p->name, how,
                     tail[0] ? tail : " (empty)");
            return in_use ? -EADDRINUSE : -ECONNREFUSED;
        }
        int ok =
            p->probe ? p->probe(p, p->probe_arg, err, errlen) : mono_ns() - start >= 100000000LL;
        if (ok > 0) {
            err[0] = 0;
            return 0;
        }
        if (ok < 0) {
            live_proc_kill(p);
            return ok;
        }
        if (mono_ns() >= deadline)
            break;
        nap_ns(10000000);
    }
    char tail[1536];
    live_proc_kill(p);
    live_proc_log_tail(p, 12, tail, sizeof(tail));
    snprintf(err, errlen, "%s was not ready within %.1f s; the last lines of its log:%s", p->name,
             (double)timeout_ns / 1e9, tail[0] ? tail : " (empty)");
    return -ETIMEDOUT;
}

int live_proc_start(struct live_proc *p, char *err, size_t errlen)
{
    int rc = live_proc_spawn(p, err, errlen);
    return rc < 0 ? rc : live_proc_wait_ready(p, -1, err, errlen);
}

int live_proc_pause(struct live_proc *p)
{
    if (p->pid > 0 && p->state == LIVE_PROC_PAUSED)
        return 0; /* already stopped: no second stop report would come */
    if (p->pid <= 0 || kill(p->pid, SIGSTOP) < 0)
        return -ESRCH;
    /* kill() only queues the signal: wait until every thread has stopped, so that the
     * server answers nothing once this returns (a loaded machine showed the gap). */
    int status;
    pid_t r;
    while ((r = waitpid(p->pid, &status, WUNTRACED)) < 0 && errno == EINTR)
        ;
    if (r == p->pid && !WIFSTOPPED(status)) {
        set_pid(p, 0); /* it died instead: reaped here, reported by live_proc_check */
        p->state = LIVE_PROC_LOST;
        return -ESRCH;
    }
    p->state = LIVE_PROC_PAUSED;
    return 0;
}

int live_proc_resume(struct live_proc *p)
{
    if (p->pid <= 0 || kill(p->pid, SIGCONT) < 0)
        return -ESRCH;
    p->state = LIVE_PROC_RUNNING;
    return 0;
}

int live_proc_kill(struct live_proc *p)
{
    if (p->pid <= 0)
        return -ESRCH;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    set_pid(p, 0);
    p->state = LIVE_PROC_DOWN;
    return 0;
}

void live_proc_stop(struct live_proc *p, int64_t grace_ns)
{
    if (p->pid <= 0) {
        if (p->state != LIVE_PROC_LOST)
            p->state = LIVE_PROC_DOWN;
        return;
    }
    kill(p->pid, SIGCONT);
    kill(p->pid, SIGTERM);
    int64_t deadline = mono_ns() + grace_ns;
    int status;
    pid_t r;
    while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && mono_ns() < deadline)
        nap_ns(2000000);
    if (r == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
    }
    set_pid(p, 0);
    p->state = LIVE_PROC_DOWN;
}

void live_proc_free(struct live_proc *p)
{
    if (!p)
        return;
    live_proc_stop(p, 2000000000LL);
    pthread_mutex_lock(&reg_mu);
    procs[p->slot].pid = 0;
    procs[p->slot].used = 0;
    pthread_mutex_unlock(&reg_mu);
    for (int i = 0; p->argv[i]; i++)
        free(p->argv[i]);
    free(p);
}

enum live_proc_state live_proc_state(const struct live_proc *p)
{
    return p->state;
}

pid_t live_proc_pid(const struct live_proc *p)
{
    return p->pid;
}

const char *live_proc_name(const struct live_proc *p)
{
    return p->name;
}

const char *live_proc_log(const struct live_proc *p)
{
    return p->log;
}
