/* redis_server.c - start, fault and stop a real redis-server (see redis_server.h). The
 * only place distlab forks a server process for Redis; it never leaves one behind: the
 * child dies with its parent thread (PR_SET_PDEATHSIG) and SIGINT/SIGTERM kill every
 * server this process runs before the process itself dies. */
#include "live/redis_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 32
#define READY_TIMEOUT_MS 10000

struct live_redis_server {
    char exe[512];
    char dir[64];
    char sock[128];
    char log[128];
    char port[16];
    char addr[160];
    bool tcp;
    pid_t pid;
    int slot;
};

/* ---- What the signal handler knows: plain arrays it can read without locks ---------- */

static struct {
    volatile sig_atomic_t pid; /* 0: free or not running */
    volatile sig_atomic_t used;
    char dir[64], sock[128], log[128], owner[128];
} slots[MAX_SERVERS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_int, old_term;
static bool handlers_installed;

/* Kill every server still registered and remove its files (async-signal-safe calls). */
static void kill_all(void)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (!slots[i].used)
            continue;
        pid_t pid = (pid_t)slots[i].pid;
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        if (slots[i].sock[0])
            unlink(slots[i].sock);
        unlink(slots[i].log);
        unlink(slots[i].owner);
        rmdir(slots[i].dir);
        slots[i].used = 0;
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

static int slot_take(struct live_redis_server *s)
{
    pthread_mutex_lock(&slots_mu);
    int found = -1;
    for (int i = 0; i < MAX_SERVERS && found < 0; i++) {
        if (!slots[i].used) {
            found = i;
            snprintf(slots[i].dir, sizeof(slots[i].dir), "%s", s->dir);
            snprintf(slots[i].sock, sizeof(slots[i].sock), "%s", s->tcp ? "" : s->sock);
            snprintf(slots[i].log, sizeof(slots[i].log), "%s", s->log);
            snprintf(slots[i].owner, sizeof(slots[i].owner), "%s/owner", s->dir);
            slots[i].pid = 0;
            slots[i].used = 1;
        }
    }
    if (found >= 0 && !handlers_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        atexit(kill_all); /* exit() without stop, e.g. a failed test */
        handlers_installed = true;
    }
    pthread_mutex_unlock(&slots_mu);
    return found;
}

static void slot_set_pid(int slot, pid_t pid)
{
    slots[slot].pid = pid;
}

static void slot_free(int slot)
{
    pthread_mutex_lock(&slots_mu);
    slots[slot].pid = 0;
    slots[slot].used = 0;
    pthread_mutex_unlock(&slots_mu);
}

/* ---- Starting --------------------------------------------------------------------- */

static bool find_exe(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/redis-server", *d ? d : ".");
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
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

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool answers(const struct live_redis_server *s)
{
    struct timeval tv = {0, 200000};
    redisContext *c = s->tcp ? redisConnectWithTimeout("127.0.0.1", atoi(s->port), tv)
                             : redisConnectUnixWithTimeout(s->sock, tv);
    bool ok = false;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

/* Fork and exec; the child dies with this thread. */
static int spawn(struct live_redis_server *s, char *err, size_t errlen)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = s->exe;
    argv[n++] = "--port";
    argv[n++] = s->tcp ? s->port : "0";
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    if (!s->tcp) {
        argv[n++] = "--unixsocket";
        argv[n++] = s->sock;
        argv[n++] = "--unixsocketperm";
        argv[n++] = "700";
    }
    const char *rest[] = {"--save", "", "--appendonly", "no", "--dir", s->dir, "--daemonize",
                          "no", "--databases", "1", "--logfile", s->log, NULL};
    for (int i = 0; rest[i]; i++)
        argv[n++] = rest[i];
    argv[n] = NULL;
    if (!s->tcp)
        unlink(s->sock);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (devnull >= 0)
            close(devnull);
        snprintf(err, errlen, "cannot fork redis-server: %s", strerror(e));
        return -e;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        setpgid(0, 0); /* a terminal's ^C reaches distlab, which stops the server itself */
        execv(s->exe, (char *const *)argv);
        _exit(127);
    }
    if (devnull >= 0)
        close(devnull);
    s->pid = pid;
    slot_set_pid(s->slot, pid);
    int64_t deadline = mono_ms() + READY_TIMEOUT_MS;
    while (mono_ms() < deadline) {
        if (answers(s))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            slot_set_pid(s->slot, 0);
            snprintf(err, errlen, "redis-server exited at start (status %d); see %s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, s->log);
            return -ECONNREFUSED;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "redis-server did not answer within %d ms", READY_TIMEOUT_MS);
    live_redis_server_crash(s);
    return -ETIMEDOUT;
}

/* Remove the directory and whatever the server left in it (no subdirectories). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char path[512];
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

/* A directory of ours whose owner died by SIGKILL (no handler could run): remove it
 * when the next server starts. The owner's pid is in dir/owner. */
static void sweep_stale(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "distlab-redis-", 14) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "/tmp/%s/owner", de->d_name);
        FILE *f = fopen(path, "r");
        long pid = 0;
        if (!f)
            continue;
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
        if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            snprintf(path, sizeof(path), "/tmp/%s", de->d_name);
            remove_dir(path);
        }
    }
    closedir(d);
}

int live_redis_server_start(bool tcp, struct live_redis_server **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = 0;
    *out = NULL;
    struct live_redis_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->tcp = tcp;
    if (!find_exe(s->exe, sizeof(s->exe))) {
        snprintf(err, errlen, "redis-server not found on PATH (Debian package redis-server)");
        free(s);
        return -ENOENT;
    }
    sweep_stale();
    snprintf(s->dir, sizeof(s->dir), "/tmp/distlab-redis-XXXXXX");
    if (!mkdtemp(s->dir)) {
        int e = errno;
        snprintf(err, errlen, "cannot create a temporary directory: %s", strerror(e));
        free(s);
        return -e;
    }
    char owner[128];
    snprintf(owner, sizeof(owner), "%s/owner", s->dir);
    FILE *of = fopen(owner, "w");
    if (of) {
        fprintf(of, "%ld\n", (long)getpid());
        fclose(of);
    }
    snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
    snprintf(s->log, sizeof(s->log), "%s/redis.log", s->dir);
    if (tcp) {
        int port = free_port();
        if (port < 0) {
            snprintf(err, errlen, "no free loopback port: %s", strerror(-port));
            rmdir(s->dir);
            free(s);
            return port;
        }
        snprintf(s->port, sizeof(s->port), "%d", port);
        snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", port);
    } else {
        snprintf(s->addr, sizeof(s->addr), "unix:%s", s->sock);
    }
    s->slot = slot_take(s);
    if (s->slot < 0) {
        snprintf(err, errlen, "more than %d redis-servers at once", MAX_SERVERS);
        rmdir(s->dir);
        free(s);
        return -EMFILE;
    }
    int rc = spawn(s, err, errlen);
    if (rc < 0) {
        live_redis_server_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

const char *live_redis_server_addr(const struct live_redis_server *s)
{
    return s->addr;
}

pid_t live_redis_server_pid(const struct live_redis_server *s)
{
    return s->pid;
}

int live_redis_server_pause(struct live_redis_server *s)
{
    return s->pid > 0 && kill(s->pid, SIGSTOP) == 0 ? 0 : -ESRCH;
}

int live_redis_server_resume(struct live_redis_server *s)
{
    return s->pid > 0 && kill(s->pid, SIGCONT) == 0 ? 0 : -ESRCH;
}

int live_redis_server_crash(struct live_redis_server *s)
{
    if (s->pid <= 0)
        return -ESRCH;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    slot_set_pid(s->slot, 0);
    return 0;
}

int live_redis_server_restart(struct live_redis_server *s)
{
    char err[256];
    if (s->pid > 0)
        live_redis_server_crash(s);
    return spawn(s, err, sizeof(err));
}

void live_redis_server_stop(struct live_redis_server *s)
{
    if (!s)
        return;
    if (s->pid > 0) {
        kill(s->pid, SIGCONT);
        kill(s->pid, SIGTERM);
        int64_t deadline = mono_ms() + 2000;
        int status;
        while (waitpid(s->pid, &status, WNOHANG) == 0) {
            if (mono_ms() > deadline) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
                break;
            }
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        s->pid = 0;
    }
    remove_dir(s->dir);
    if (s->slot >= 0)
        slot_free(s->slot);
    free(s);
}
