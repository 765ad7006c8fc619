/* The launcher and its recipes against the real servers: each recipe starts, answers, is
 * paused and resumed, killed and restarted, and stopped, leaving no process and no
 * directory; a 3-member etcd and a 3-server ZooKeeper keep serving with one member killed
 * and refuse writes with two; Sentinel promotes the replica. Each 3-member cluster is
 * started once (one test each). Waits are bounded generously and nothing asserts on
 * speed: the machine is shared. */
#define THREADED
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "live/launch.h"
#include "live/redis_hiredis.h"
#include "live/servers.h"
#include "live/servers_internal.h"
#if HAVE_ZOOKEEPER
#include <zookeeper/zookeeper.h>
#endif

#define MS 1000000LL
#define SEC 1000000000LL

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static void nap(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / SEC), (long)(ns % SEC)};
    nanosleep(&ts, NULL);
}

static struct live_cluster *start(enum live_kind kind, int n)
{
    struct live_cluster *c = NULL;
    char err[2048] = "";
    int64_t t0 = mono();
    int rc = live_cluster_start(kind, n, NULL, &c, err, sizeof(err));
    cr_assert_eq(rc, 0, "cannot start %s x%d: %s", live_kind_name(kind), n, err);
    cr_log_info("%s x%d ready in %.2f s: %s", live_kind_name(kind), n, (double)(mono() - t0) / 1e9,
                live_cluster_addrs(c));
    return c;
}

/* Every pid a test held, to check that none is left. */
struct held {
    pid_t pid[64];
    int n;
};

static void hold_pids(struct held *h, struct live_cluster *c)
{
    for (int i = 0; i < live_cluster_size(c) && h->n < 64; i++)
        if (live_cluster_pid(c, i) > 0)
            h->pid[h->n++] = live_cluster_pid(c, i);
}

/* Whether any process but pgrep itself has parent 'pid' (pgrep -P, run directly so that
 * no shell is a child of this test). */
static bool has_children(pid_t pid)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    char parent[32];
    snprintf(parent, sizeof(parent), "%ld", (long)pid);
    pid_t child = fork();
    if (child == 0) {
        dup2(fd[1], 1);
        execlp("pgrep", "pgrep", "-P", parent, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char out[512] = "";
    size_t len = 0;
    ssize_t k;
    while (len + 1 < sizeof(out) && (k = read(fd[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)k;
    out[len] = 0;
    close(fd[0]);
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) <= 1, "pgrep failed");
    bool any = false;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        any |= atol(line) > 0 && atol(line) != (long)child;
    return any;
}

/* Stop c and check that nothing it ran or wrote is left. */
static void stop_and_check(struct live_cluster *c, struct held *h)
{
    hold_pids(h, c);
    char dir[128];
    snprintf(dir, sizeof(dir), "%s", live_cluster_dir(c));
    live_cluster_stop(c);
    for (int i = 0; i < h->n; i++)
        cr_assert(kill(h->pid[i], 0) == -1 && errno == ESRCH, "pid %d survived the stop",
                  (int)h->pid[i]);
    struct stat st;
    cr_assert_eq(stat(dir, &st), -1, "%s is still there", dir);
    cr_assert_not(has_children(getpid()), "a child process is left");
}

/* ---- The launcher itself ---------------------------------------------------------- */

Test(launch, a_server_that_exits_at_start_fails_with_its_log)
{
    struct live_dir *d;
    char err[2048];
    cr_assert_eq(live_dir_create("test", &d, err, sizeof(err)), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(live_dir_path(d), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    const char *argv[] = {"/bin/sh", "-c", "echo first words; echo last words >&2; exit 7", NULL};
    struct live_proc_cfg cfg = {.name = "sh-0", .argv = argv, .ready_timeout_ns = 5 * SEC};
    struct live_proc *p = live_proc_new(d, &cfg);
    cr_assert_eq(live_proc_start(p, err, sizeof(err)), -ECONNREFUSED);
    cr_assert(strstr(err, "exited with status 7") && strstr(err, "last words"), "%s", err);
    live_proc_free(p);
    char path[128];
    snprintf(path, sizeof(path), "%s", live_dir_path(d));
    live_dir_remove(d);
    cr_assert_eq(stat(path, &st), -1);
}

static int never_ready(struct live_proc *p, void *arg, char *err, size_t errlen)
{
    return 0;
}

Test(launch, a_server_never_ready_is_killed_at_the_deadline)
{
    struct live_dir *d;
    char err[2048];
    cr_assert_eq(live_dir_create("test", &d, err, sizeof(err)), 0, "%s", err);
    const char *argv[] = {"/bin/sh", "-c", "echo waiting forever; exec sleep 600", NULL};
    struct live_proc_cfg cfg = {
        .name = "sleeper", .argv = argv, .probe = never_ready, .ready_timeout_ns = 300 * MS};
    struct live_proc *p = live_proc_new(d, &cfg);
    cr_assert_eq(live_proc_spawn(p, err, sizeof(err)), 0);
    pid_t pid = live_proc_pid(p);
    cr_assert_eq(live_proc_wait_ready(p, -1, err, sizeof(err)), -ETIMEDOUT);
    cr_assert(strstr(err, "not ready within 0.3 s") && strstr(err, "waiting forever"), "%s", err);
    cr_assert(kill(pid, 0) == -1 && errno == ESRCH);
    live_proc_free(p);
    live_dir_remove(d);
}

Test(launch, a_loss_behind_its_back_is_reported)
{
    struct live_dir *d;
    char err[2048];
    cr_assert_eq(live_dir_create("test", &d, err, sizeof(err)), 0, "%s", err);
    const char *argv[] = {"/bin/sh", "-c", "exec sleep 600", NULL};
    struct live_proc_cfg cfg = {.name = "victim", .argv = argv};
    struct live_proc *p = live_proc_new(d, &cfg);
    cr_assert_eq(live_proc_start(p, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(live_proc_pause(p), 0);
    cr_assert_eq(live_proc_check(p, err, sizeof(err)), 0, "a pause on request is not a loss");
    cr_assert_eq(live_proc_resume(p), 0);
    cr_assert_eq(live_proc_kill(p), 0);
    cr_assert_eq(live_proc_check(p, err, sizeof(err)), 0, "a kill on request is not a loss");
    cr_assert_eq(live_proc_spawn(p, err, sizeof(err)), 0);
    kill(live_proc_pid(p), SIGSTOP); /* not through the launcher */
    int64_t t0 = mono();
    int rc;
    while ((rc = live_proc_check(p, err, sizeof(err))) == 0 && mono() - t0 < 5 * SEC)
        nap(MS);
    cr_assert_eq(rc, -EPIPE);
    cr_assert(strstr(err, "victim was stopped by signal"), "%s", err);
    cr_assert_eq(live_proc_check(p, err, sizeof(err)), -EPIPE, "stays lost");
    cr_assert_eq(live_proc_state(p), LIVE_PROC_LOST);
    live_proc_free(p);
    live_dir_remove(d);
}

Test(launch, what_a_killed_owner_left_is_swept_by_the_next_start)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t child = fork();
    if (child == 0) {
        struct live_dir *d;
        if (live_dir_create("test", &d, NULL, 0) == 0) {
            const char *a = live_dir_path(d);
            if (write(fd[1], a, strlen(a) + 1) < 0)
                _exit(1);
        }
        pause();
        _exit(0);
    }
    char dir[256] = "";
    cr_assert_gt(read(fd[0], dir, sizeof(dir)), 0);
    kill(child, SIGKILL); /* no handler runs: its directory stays behind */
    waitpid(child, NULL, 0);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0, "%s vanished by itself", dir);
    struct live_dir *d;
    cr_assert_eq(live_dir_create("test", &d, NULL, 0), 0);
    cr_assert_eq(stat(dir, &st), -1, "%s was not swept", dir);
    live_dir_remove(d);
}

Test(launch, sigterm_kills_every_server_and_removes_the_directory)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t child = fork();
    if (child == 0) {
        struct live_cluster *c;
        if (live_cluster_start(LIVE_REDIS, 2, NULL, &c, NULL, 0) == 0) {
            char line[256];
            int n = snprintf(line, sizeof(line), "%d %d %s", (int)live_cluster_pid(c, 0),
                             (int)live_cluster_pid(c, 1), live_cluster_dir(c));
            if (write(fd[1], line, (size_t)n + 1) < 0)
                _exit(1);
        }
        pause();
        _exit(0);
    }
    char line[256] = "", dir[200];
    int a = 0, b = 0;
    cr_assert_gt(read(fd[0], line, sizeof(line)), 0);
    cr_assert_eq(sscanf(line, "%d %d %199s", &a, &b, dir), 3, "%s", line);
    cr_assert_eq(kill(a, 0), 0);
    kill(child, SIGTERM);
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "the child did not die of it");
    nap(50 * MS); /* reaped by the handler; the kernel may take a moment to forget */
    cr_assert(kill(a, 0) == -1 && kill(b, 0) == -1, "a server survived SIGTERM");
    struct stat st;
    cr_assert_eq(stat(dir, &st), -1, "%s is still there", dir);
}

Test(launch, a_missing_server_names_the_package)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", "/nonexistent", 1);
    char exe[256];
    cr_assert_eq(live_find_exe("sh", exe, sizeof(exe)), 0, "the fallback dirs are searched");
    cr_assert_eq(live_find_exe("distlab-no-such-server", exe, sizeof(exe)), -ENOENT);
    setenv("PATH", path, 1);
    char err[256];
    cr_assert_eq(
        live__need_exe("distlab-no-such-server", "distlab-pkg", exe, sizeof(exe), err, sizeof(err)),
        -ENOENT);
    cr_assert(strstr(err, "apt-get install -y distlab-pkg"), "%s", err);
}

/* What a lifecycle test asks of one kind of server, through its own client. */
struct kind_ops {
    enum live_kind kind;
    const char *prefix, *name;         /* the address's start, member 0's name */
    bool (*answers)(const char *addr); /* within about a second */
    bool (*put)(const char *addr);     /* writes the key k */
    bool (*has)(const char *addr);     /* k is there */
    bool keeps_data;                   /* across a SIGKILL and a restart */
};

/* One member: start, answer, pause and resume, kill and restart on the same address
 * (with or without its data, as the kind keeps it), stop with nothing left. */
static void lifecycle(const struct kind_ops *k)
{
    struct held h = {.n = 0};
    struct live_cluster *c = start(k->kind, 1);
    char addr[256], why[2048], err[2048];
    snprintf(addr, sizeof(addr), "%s", live_cluster_addrs(c));
    cr_assert(!strncmp(addr, k->prefix, strlen(k->prefix)), "%s", addr);
    cr_assert_str_eq(live_cluster_name(c, 0), k->name);
    cr_assert_eq(live_cluster_find(c, k->name), 0);
    cr_assert_eq(live_cluster_find(c, "nobody-1"), -ENOENT);
    cr_assert(k->put(addr));
    cr_assert(k->has(addr));
    hold_pids(&h, c);
    cr_assert_eq(live_cluster_pause(c, 0), 0);
    cr_assert_not(k->answers(addr), "a stopped server answered");
    cr_assert_eq(live_cluster_check(c, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(live_cluster_resume(c, 0), 0);
    cr_assert(k->has(addr), "no answer after SIGCONT");
    cr_assert_eq(live_cluster_kill(c, 0), 0);
    cr_assert(kill(h.pid[0], 0) == -1 && errno == ESRCH);
    cr_assert_eq(live_cluster_pid(c, 0), 0);
    cr_assert_not(k->answers(addr), "a killed server answered");
    cr_assert_eq(live_cluster_kill(c, 0), -ESRCH);
    cr_assert_eq(live_cluster_check(c, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(live_cluster_restart(c, 0, true, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(live_cluster_addrs(c), addr, "the address moved");
    cr_assert(k->answers(addr));
    if (k->keeps_data)
        cr_assert(k->has(addr), "the data dir was not kept across the restart");
    else
        cr_assert_not(k->has(addr), "the key survived SIGKILL with persistence off");
    cr_assert_eq(live_cluster_pause(c, 0), 0); /* even a stopped server is stopped */
    stop_and_check(c, &h);
}

/* ---- Redis ------------------------------------------------------------------------ */

#if HAVE_HIREDIS
static redisReply *cmd(const char *addr, const char *command)
{
    redisContext *r;
    struct timeval tv = {1, 0};
    if (strncmp(addr, "unix:", 5) == 0)
        r = redisConnectUnixWithTimeout(addr + 5, tv);
    else
        r = redisConnectWithTimeout("127.0.0.1", atoi(strchr(addr, ':') + 1), tv);
    if (!r || r->err) {
        if (r)
            redisFree(r);
        return NULL;
    }
    redisSetTimeout(r, tv);
    redisReply *reply = redisCommand(r, command);
    redisFree(r);
    return reply;
}

static bool says(const char *addr, const char *command, const char *want)
{
    redisReply *r = cmd(addr, command);
    bool ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) &&
              strstr(r->str, want);
    if (r)
        freeReplyObject(r);
    return ok;
}

static bool redis_answers(const char *addr)
{
    return live_redis_ping(addr, 1000 * MS) == 0;
}

static bool redis_put(const char *addr)
{
    return says(addr, "SET k v", "OK");
}

static bool redis_has(const char *addr)
{
    return says(addr, "GET k", "v");
}

Test(servers, redis_starts_pauses_restarts_and_leaves_nothing)
{
    lifecycle(&(struct kind_ops){LIVE_REDIS, "unix:/tmp/distlab-redis-", "redis-0", redis_answers,
                                 redis_put, redis_has, false});
}

Test(servers, redis_on_loopback_ports)
{
    struct held h = {.n = 0};
    struct live_cluster *c = NULL;
    char err[2048];
    struct live_cluster_opts o = {.tcp = true};
    cr_assert_eq(live_cluster_start(LIVE_REDIS, 2, &o, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(live_cluster_name(c, 1), "redis-1");
    char want[128];
    snprintf(want, sizeof(want), "%s,%s", live_cluster_addr(c, 0), live_cluster_addr(c, 1));
    cr_assert_str_eq(live_cluster_addrs(c), want);
    for (int i = 0; i < 2; i++) {
        cr_assert(!strncmp(live_cluster_addr(c, i), "127.0.0.1:", 10));
        cr_assert_eq(live_redis_ping(live_cluster_addr(c, i), 1000 * MS), 0);
    }
    stop_and_check(c, &h);
}

Test(servers, sentinel_promotes_the_replica)
{
    struct held h = {.n = 0};
    struct live_cluster *c = start(LIVE_SENTINEL, 1);
    cr_assert_eq(live_cluster_size(c), 3);
    cr_assert_str_eq(live_cluster_name(c, 0), "redis-0");
    cr_assert_str_eq(live_cluster_name(c, 1), "replica-0");
    cr_assert_str_eq(live_cluster_name(c, 2), "sentinel-0");
    const char *sentinel = live_cluster_addrs(c);
    cr_assert_str_eq(sentinel, live_cluster_addr(c, 2));
    const char *primary = live_cluster_addr(c, 0), *replica = live_cluster_addr(c, 1);
    cr_assert(says(primary, "SET k v", "OK"));
    int64_t t0 = mono();
    while (!says(replica, "GET k", "v") && mono() - t0 < 10 * SEC)
        nap(10 * MS);
    cr_assert(says(replica, "GET k", "v"), "the write did not reach the replica");
    cr_assert(says(replica, "INFO replication", "role:slave"));
    redisReply *r = cmd(sentinel, "SENTINEL get-master-addr-by-name " LIVE_SENTINEL_MASTER);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    cr_assert_eq(atoi(r->element[1]->str), atoi(strchr(primary, ':') + 1));
    freeReplyObject(r);
    /* The sentinel pauses and resumes like any server. */
    hold_pids(&h, c);
    cr_assert_eq(live_cluster_pause(c, 2), 0);
    cr_assert_eq(live_redis_ping(sentinel, 200 * MS), -ETIMEDOUT);
    cr_assert_eq(live_cluster_resume(c, 2), 0);
    cr_assert_eq(live_redis_ping(sentinel, 1000 * MS), 0);
    /* Kill the primary: the sentinel must name the replica, which then takes writes. */
    t0 = mono();
    cr_assert_eq(live_cluster_kill(c, 0), 0);
    bool promoted = false;
    while (!promoted && mono() - t0 < 60 * SEC) {
        nap(100 * MS);
        r = cmd(sentinel, "SENTINEL get-master-addr-by-name " LIVE_SENTINEL_MASTER);
        promoted = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                   atoi(r->element[1]->str) == atoi(strchr(replica, ':') + 1);
        if (r)
            freeReplyObject(r);
    }
    cr_assert(promoted, "Sentinel did not promote the replica within 60 s");
    cr_log_info("sentinel: the replica promoted %.2f s after the kill",
                (double)(mono() - t0) / 1e9);
    t0 = mono();
    while (!says(replica, "INFO replication", "role:master") && mono() - t0 < 10 * SEC)
        nap(50 * MS);
    cr_assert(says(replica, "SET k2 v2", "OK"), "the promoted replica refused a write");
    cr_assert(says(replica, "GET k", "v"), "the replicated key is gone");
    /* The old primary comes back on its address (Sentinel demotes it to a replica some
     * 10-30 s later: not waited for here). */
    char err[2048];
    cr_assert_eq(live_cluster_restart(c, 0, true, err, sizeof(err)), 0, "%s", err);
    hold_pids(&h, c);
    cr_assert(says(primary, "PING", "PONG"));
    char why[2048];
    cr_assert_eq(live_cluster_check(c, why, sizeof(why)), 0, "%s", why);
    stop_and_check(c, &h);
}

/* The replication relay: the replica sees the primary's writes 'lag' late; a cut keeps
 * what came before it and loses what came after, across the primary's death and the
 * promotion; a sentinel:// client follows the failover. */
Test(servers, a_cut_replication_link_loses_the_last_write_only)
{
    struct held h = {.n = 0};
    struct live_cluster *c = NULL;
    char err[2048];
    struct live_cluster_opts o = {.repl_lag_ns = 200 * MS};
    cr_assert_eq(live_cluster_start(LIVE_SENTINEL, 1, &o, &c, err, sizeof(err)), 0, "%s", err);
    const char *replica = live_cluster_addr(c, 1);
    char via[128];
    snprintf(via, sizeof(via), "sentinel://%s/" LIVE_SENTINEL_MASTER, live_cluster_addrs(c));
    struct redis *r = live_redis_connect(via, 500 * MS);
    cr_assert_not_null(r);
    int64_t t0 = mono();
    cr_assert_eq(redis_set(r, "k1", "v1", 0, 0), 1);
    bool seen = says(replica, "GET k1", "v1");
    if (mono() - t0 < 200 * MS) /* only a fast machine can tell */
        cr_assert_not(seen, "the write reached the replica before its lag");
    t0 = mono();
    while (!says(replica, "GET k1", "v1") && mono() - t0 < 10 * SEC)
        nap(10 * MS);
    cr_assert(says(replica, "GET k1", "v1"), "the write never reached the replica");
    cr_assert_eq(redis_set(r, "k2", "v2", 0, 0), 1); /* before the cut, still in the relay */
    cr_assert_eq(redis_set(r, "k3", "v3", 0, 0), 1); /* the cut: lost */
    cr_assert_eq(redis_set(r, "k4", "v4", 0, 0), 1); /* after it: lost */
    hold_pids(&h, c);
    static const char grant[] = "$3\r\nSET\r\n$2\r\nk3\r\n";
    cr_assert_eq(live_cluster_cut_replication(c, grant, sizeof(grant) - 1), 0);
    cr_assert_eq(live_cluster_kill(c, 0), 0);
    t0 = mono();
    int rc;
    while ((rc = redis_set(r, "k5", "v5", 0, 0)) != 1 && mono() - t0 < 60 * SEC)
        nap(100 * MS); /* the client asks Sentinel again after each error */
    cr_assert_eq(rc, 1, "the sentinel:// client did not follow the failover");
    cr_assert(says(replica, "INFO replication", "role:master"));
    cr_assert(says(replica, "GET k2", "v2"), "a write from before the cut was lost");
    cr_assert_not(says(replica, "GET k3", "v3"), "the write the cut was at arrived");
    cr_assert_not(says(replica, "GET k4", "v4"), "a write from after the cut arrived");
    cr_assert_eq(redis_get(r, "k3", NULL, 0), -ENOENT);
    cr_assert_eq(live_cluster_cut_landed(c), 1);
    redis_close(r);
    stop_and_check(c, &h);
}

#endif

/* ---- etcd ----------------------------------------------------------------------------- */

#if HAVE_CURL
/* etcdctl (Debian etcd-client) against one endpoint: its exit status; stdout into out. */
static int etcdctl(const char *endpoint, const char *timeout, char *out, size_t cap, const char *a1,
                   const char *a2, const char *a3)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    char ep[160], to[64];
    snprintf(ep, sizeof(ep), "--endpoints=%s", endpoint);
    snprintf(to, sizeof(to), "--command-timeout=%s", timeout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        setenv("ETCDCTL_API", "3", 1);
        execlp("etcdctl", "etcdctl", ep, to, "--dial-timeout=1s", a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t k;
    char sink[256];
    while ((k = read(fd[0], out && len + 1 < cap ? out + len : sink,
                     out && len + 1 < cap ? cap - 1 - len : sizeof(sink))) > 0)
        if (out && len + 1 < cap)
            len += (size_t)k;
    if (out)
        out[len] = 0;
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static bool etcd_put(const char *ep, const char *k, const char *v)
{
    return etcdctl(ep, "3s", NULL, 0, "put", k, v) == 0;
}

static bool etcd_has(const char *ep, const char *k, const char *v)
{
    char out[256];
    return etcdctl(ep, "3s", out, sizeof(out), "get", k, "--print-value-only") == 0 &&
           strstr(out, v) != NULL;
}

/* A put that succeeds within 'within' (a new leader may be being elected). */
static bool etcd_put_within(const char *ep, const char *k, const char *v, int64_t within)
{
    int64_t t0 = mono();
    do {
        if (etcd_put(ep, k, v))
            return true;
        nap(200 * MS);
    } while (mono() - t0 < within);
    return false;
}

static bool etcd_answers(const char *ep)
{
    return etcdctl(ep, "1s", NULL, 0, "get", "k", NULL) == 0;
}

static bool etcd_put_k(const char *ep)
{
    return etcd_put(ep, "k", "v1");
}

static bool etcd_has_k(const char *ep)
{
    return etcd_has(ep, "k", "v1");
}

Test(servers, etcd_starts_pauses_restarts_and_leaves_nothing)
{
    lifecycle(&(struct kind_ops){LIVE_ETCD, "http://127.0.0.1:", "etcd-0", etcd_answers, etcd_put_k,
                                 etcd_has_k, true});
}

Test(servers, etcd_three_members_survive_one_loss_not_two)
{
    struct held h = {.n = 0};
    struct live_cluster *c = start(LIVE_ETCD, 3);
    cr_assert_eq(live_cluster_size(c), 3);
    char want[256];
    snprintf(want, sizeof(want), "%s,%s,%s", live_cluster_addr(c, 0), live_cluster_addr(c, 1),
             live_cluster_addr(c, 2));
    cr_assert_str_eq(live_cluster_addrs(c), want);
    const char *e0 = live_cluster_addr(c, 0), *e1 = live_cluster_addr(c, 1);
    cr_assert(etcd_put(e0, "k", "v1"));
    cr_assert(etcd_has(e1, "k", "v1"), "a member did not see its peer's write");
    hold_pids(&h, c);
    cr_assert_eq(live_cluster_kill(c, 2), 0);
    cr_assert(etcd_put_within(e0, "k", "v2", 30 * SEC), "two of three members refused a put");
    cr_assert(etcd_has(e1, "k", "v2"));
    cr_assert_eq(live_cluster_kill(c, 1), 0);
    cr_assert_neq(etcdctl(e0, "2s", NULL, 0, "put", "k", "v3"), 0,
                  "one member of three took a write");
    char err[2048];
    cr_assert_eq(live_cluster_restart(c, 1, true, err, sizeof(err)), 0, "%s", err);
    cr_assert(etcd_put_within(e0, "k", "v4", 30 * SEC), "the quorum did not come back");
    cr_assert(etcd_has(e1, "k", "v4"));
    char why[2048];
    cr_assert_eq(live_cluster_check(c, why, sizeof(why)), 0, "%s", why);
    stop_and_check(c, &h);
}
#endif

/* ---- ZooKeeper --------------------------------------------------------------------- */

#if HAVE_ZOOKEEPER
static void quiet(const char *m) {}

static void no_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx) {}

/* A session to 'hosts' that is connected within 'wait', or NULL. */
static zhandle_t *zk_session(const char *hosts, int64_t wait)
{
    zhandle_t *zh = zookeeper_init2(hosts, no_watch, 4000, NULL, NULL, 0, quiet);
    cr_assert_not_null(zh);
    int64_t t0 = mono();
    while (zoo_state(zh) != ZOO_CONNECTED_STATE && mono() - t0 < wait)
        nap(10 * MS);
    if (zoo_state(zh) == ZOO_CONNECTED_STATE)
        return zh;
    zookeeper_close(zh);
    return NULL;
}

/* Create (or find) 'path' through a session to 'hosts', retrying within 'within'. */
static bool zk_create_within(const char *hosts, const char *path, int64_t within)
{
    int64_t t0 = mono();
    do {
        zhandle_t *zh = zk_session(hosts, 3 * SEC);
        if (zh) {
            int rc = zoo_create(zh, path, "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
            zookeeper_close(zh);
            if (rc == ZOK || rc == ZNODEEXISTS)
                return true;
        }
        nap(200 * MS);
    } while (mono() - t0 < within);
    return false;
}

static bool zk_exists(const char *hosts, const char *path)
{
    zhandle_t *zh = zk_session(hosts, 10 * SEC);
    if (!zh)
        return false;
    struct Stat st;
    bool ok = zoo_exists(zh, path, 0, &st) == ZOK;
    zookeeper_close(zh);
    return ok;
}

static bool zk_answers(const char *hosts)
{
    zhandle_t *zh = zk_session(hosts, 1 * SEC);
    if (zh)
        zookeeper_close(zh);
    return zh != NULL;
}

static bool zk_put_k(const char *hosts)
{
    return zk_create_within(hosts, "/k", 10 * SEC);
}

static bool zk_has_k(const char *hosts)
{
    return zk_exists(hosts, "/k");
}

Test(servers, zookeeper_starts_pauses_restarts_and_leaves_nothing)
{
    lifecycle(&(struct kind_ops){LIVE_ZOOKEEPER, "127.0.0.1:", "zk-0", zk_answers, zk_put_k,
                                 zk_has_k, true});
}

Test(servers, zookeeper_three_servers_survive_one_loss_not_two)
{
    struct held h = {.n = 0};
    struct live_cluster *c = start(LIVE_ZOOKEEPER, 3);
    cr_assert_eq(live_cluster_size(c), 3);
    const char *z0 = live_cluster_addr(c, 0), *z1 = live_cluster_addr(c, 1);
    char both[128];
    snprintf(both, sizeof(both), "%s,%s", z0, z1);
    cr_assert(zk_create_within(live_cluster_addrs(c), "/a", 10 * SEC));
    cr_assert(zk_exists(z1, "/a"), "zk-1 does not see what the ensemble wrote");
    hold_pids(&h, c);
    cr_assert_eq(live_cluster_kill(c, 2), 0);
    cr_assert(zk_create_within(both, "/b", 60 * SEC), "two of three servers refused a write");
    cr_assert_eq(live_cluster_kill(c, 1), 0);
    /* zk-0 alone drops its sessions once it loses its peers (syncLimit, 2 s here). */
    nap(3 * SEC);
    cr_assert_not(zk_create_within(z0, "/c", 5 * SEC), "one server of three took a write");
    char err[2048];
    cr_assert_eq(live_cluster_restart(c, 1, true, err, sizeof(err)), 0, "%s", err);
    cr_assert(zk_create_within(both, "/d", 60 * SEC), "the quorum did not come back");
    cr_assert(zk_exists(z1, "/b"));
    char why[2048];
    cr_assert_eq(live_cluster_check(c, why, sizeof(why)), 0, "%s", why);
    stop_and_check(c, &h);
}
#endif
