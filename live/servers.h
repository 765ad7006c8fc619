/* servers.h - real Redis, Redis Sentinel, etcd and ZooKeeper clusters on loopback, started
 * by distlab for a live run or a test: one recipe per kind on the launcher (launch.h),
 * which owns the processes, their temporary directory and the cleanup on any exit.
 *
 *     struct live_cluster *c;
 *     char err[2048];
 *     if (live_cluster_start(LIVE_ETCD, 3, NULL, &c, err, sizeof(err)) < 0)
 *         ... err says why (a missing package names the apt-get line);
 *     client_connect(live_cluster_addrs(c));   "http://127.0.0.1:P0,http://...,..."
 *     live_cluster_kill(c, 1);                 SIGKILL etcd-1
 *     live_cluster_restart(c, 1, true, err, sizeof(err));   same ports, same data dir
 *     live_cluster_stop(c);                    no process, no directory left
 *
 * Members are numbered 0..live_cluster_size()-1 and named as the simulated world names
 * its nodes; every call that takes a member takes that index (live_cluster_find maps a
 * name). Servers listen on 127.0.0.1 or on unix sockets in the cluster's directory only.
 *
 * Threads: start, fault, restart and stop a cluster from one long-lived thread (the
 * launcher's processes die with the thread that forked them). Not thread-safe per
 * cluster. */
#ifndef DISTLAB_LIVE_SERVERS_H
#define DISTLAB_LIVE_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum live_kind {
    /* n standalone redis-servers redis-0..redis-(n-1), persistence off (a SIGKILL loses
     * every key). Unix sockets in the cluster's directory, or 127.0.0.1 ports (opts.tcp).
     * addrs: "unix:/tmp/distlab-redis-XXXXXX/redis-0.sock,..." or "127.0.0.1:P,...";
     * ready when PING answers. Binary: redis-server (Debian redis-server). */
    LIVE_REDIS,
    /* A primary redis-0, n replicas replica-0..replica-(n-1) of it, and one sentinel-0
     * monitoring it as master LIVE_SENTINEL_MASTER with quorum 1, all on 127.0.0.1 ports.
     * addrs: the sentinel's "127.0.0.1:S" (ask it SENTINEL get-master-addr-by-name);
     * live_cluster_addr(c, i) gives each server's own. Ready when the primary answers,
     * every replica's link to it is up and the sentinel knows every replica. Sentinel
     * rewrites its config file, a writable copy in the member's directory. Binary:
     * redis-sentinel (Debian redis-sentinel). */
    LIVE_SENTINEL,
    /* n members etcd-0..etcd-(n-1) (1, or 3 for a quorum that survives one loss), client
     * and peer ports on 127.0.0.1. addrs: "http://127.0.0.1:C0,http://127.0.0.1:C1,...".
     * A member is ready when it answers a linearizable read (POST /v3/kv/range), so a
     * cluster is ready when it has a leader. Binary: etcd (Debian etcd-server, 3.4). */
    LIVE_ETCD,
    /* n servers zk-0..zk-(n-1): 1 runs standalone, 3 (or more) an ensemble with loopback
     * quorum and election ports. tickTime opts.zk_tick (200 ms: sessions of 0.4-4 s),
     * admin server off. addrs: "127.0.0.1:C0,127.0.0.1:C1,..." (zookeeper_init's host
     * string). A server is ready when a client session to it alone connects. Runs
     * QuorumPeerMain on java (Debian zookeeper, OpenJDK). */
    LIVE_ZOOKEEPER,
};

#define LIVE_SENTINEL_MASTER "distlab" /* the master's name Sentinel knows */
#define LIVE_CLUSTER_MAX 16            /* members of one cluster, sentinel included */

/* Options; a NULL pointer or a zero field means the default. */
struct live_cluster_opts {
    bool tcp;                    /* LIVE_REDIS: 127.0.0.1 ports instead of unix sockets */
    int64_t ready_timeout_ns;    /* per member start or restart; 0: the environment's
                                  * DISTLAB_READY_TIMEOUT (seconds) if set, else redis 10 s,
                                  * sentinel, etcd 30 s, ZooKeeper 60 s (a JVM on a
                                  * loaded machine) */
    int64_t down_after_ns;       /* LIVE_SENTINEL: down-after-milliseconds, default 1 s */
    int64_t failover_timeout_ns; /* LIVE_SENTINEL: failover-timeout, default 3 s */
    int64_t zk_tick_ns;          /* LIVE_ZOOKEEPER: tickTime, default 200 ms */
    int64_t repl_lag_ns;         /* LIVE_SENTINEL: > 0 puts a relay (lagrelay.h) on each
                                  * replica's link that delays the primary's stream this
                                  * much; 0: the replicas connect to the primary directly */
};

struct live_cluster;

/* Start the servers in a fresh /tmp/distlab-KIND-XXXXXX (0700) and wait until each is
 * ready. A port another process took first is retried with fresh ports (3 tries).
 * Returns 0 and *out, or: -ENOENT the server is not installed (err names the apt-get
 * line), -ETIMEDOUT one was not ready in time, -ECONNREFUSED one exited at start (err
 * holds its log's last lines), -EINVAL a bad n, another negative errno. On failure no
 * process and no directory is left behind. Costs what the servers cost to start (see
 * live/README.md for what was measured). */
int live_cluster_start(enum live_kind kind, int n, const struct live_cluster_opts *opts,
                       struct live_cluster **out, char *err, size_t errlen);

/* SIGCONT, SIGTERM (SIGKILL after 2 s) every member, reap, remove the directory, free.
 * NULL is allowed. */
void live_cluster_stop(struct live_cluster *c);

/* The string a client of this kind connects with (see enum live_kind). */
const char *live_cluster_addrs(const struct live_cluster *c);
enum live_kind live_cluster_kind(const struct live_cluster *c);
const char *live_kind_name(enum live_kind kind); /* "redis", "sentinel", "etcd", "zookeeper" */
const char *live_cluster_dir(const struct live_cluster *c);

int live_cluster_size(const struct live_cluster *c);                /* members, sentinel included */
const char *live_cluster_name(const struct live_cluster *c, int i); /* "zk-2" */
const char *live_cluster_addr(const struct live_cluster *c, int i); /* this member alone */
int live_cluster_find(const struct live_cluster *c, const char *name); /* index or -ENOENT */
pid_t live_cluster_pid(const struct live_cluster *c, int i);           /* 0 when not running */

/* Faults on member i. pause: SIGSTOP; resume: SIGCONT; kill: SIGKILL and reap (what it
 * had in memory is gone; etcd and ZooKeeper keep their data dir). Each returns 0, -ESRCH
 * when the member is not running, or -EINVAL for a bad index. */
int live_cluster_pause(struct live_cluster *c, int i);
int live_cluster_resume(struct live_cluster *c, int i);
int live_cluster_kill(struct live_cluster *c, int i);

/* Start member i again (killing it first if it runs) on the same address and data dir;
 * with 'wait', until it is ready as a member (ZooKeeper, etcd: rejoined the quorum; a
 * replica: answers PING, whatever Sentinel made of it). Returns 0 or what
 * live_cluster_start returns. */
int live_cluster_restart(struct live_cluster *c, int i, bool wait, char *err, size_t errlen);

/* LIVE_SENTINEL with repl_lag_ns: cut each replica's stream at the first not yet
 * delivered occurrence of 'pattern' (e.g. the grant's "$3\r\nSET\r\n$12\r\ncounter_lock"):
 * it and everything the primary writes after it never reach the replicas, what came
 * before still does (lagrelay.h). Then kill redis-0: a crash right after a grant that loses
 * the grant and nothing older. Returns 0, or -ENOENT when the cluster has no relay. Any
 * thread. live_cluster_cut_landed: how many cuts found their pattern so far. */
int live_cluster_cut_replication(struct live_cluster *c, const void *pattern, size_t len);
int live_cluster_cut_landed(struct live_cluster *c);

/* Does 'addr' answer as a server of 'kind' within timeout_ns? For the user's own servers
 * (a live run's world.redis, world.etcd, world.zookeeper): a Redis address is anything
 * live_redis_connect takes and must answer PING; an etcd endpoint (http://host:port) a
 * linearizable read; a ZooKeeper host string a session. Returns 0, -ECONNREFUSED or
 * -ETIMEDOUT, or -ENOTSUP when distlab was built without that kind's client library. */
int live_server_ping(enum live_kind kind, const char *addr, int64_t timeout_ns);

/* Is every member as the launcher left it (running, paused or killed on request)?
 * 0, or -EPIPE when one exited or stopped behind its back ('why' names it, with its
 * log's last lines). Cheap: poll it while a run goes on. */
int live_cluster_check(struct live_cluster *c, char *why, size_t cap);

#endif
