/* servers_internal.h - what the recipes (server_*.c) share with servers.c; nothing
 * outside live/ includes it. */
#ifndef DISTLAB_LIVE_SERVERS_INTERNAL_H
#define DISTLAB_LIVE_SERVERS_INTERNAL_H

#include "live/launch.h"
#include "live/lagrelay.h"
#include "live/servers.h"

struct live__member {
    struct live_cluster *c;
    int index;
    char name[32];
    char addr[160]; /* what a client of this member alone connects to */
    char dir[160];  /* its data directory, inside the cluster's */
    int port[3];    /* client; peer or quorum; election (0: none) */
    bool restarted; /* started before: a restart's probe asks less (servers.h) */
    bool late;      /* spawned once every other member is ready (a sentinel) */
    struct live_proc *proc;
};

struct live_cluster {
    enum live_kind kind;
    struct live_cluster_opts opts;
    struct live_dir *dir;
    int n;         /* members, sentinel included */
    int nreplicas; /* LIVE_SENTINEL */
    struct live__member m[LIVE_CLUSTER_MAX];
    struct live_lagrelay *relay[LIVE_CLUSTER_MAX]; /* LIVE_SENTINEL with a lag: per replica */
    char addrs[LIVE_CLUSTER_MAX * 48];
};

/* A recipe fills c->m[0..c->n-1] for a cluster of 'n' (names, ports, addresses, data
 * dirs, config files) and creates each member's live_proc (not started), then sets
 * c->addrs. Returns 0, or a negative errno with err set. */
int live__redis_prepare(struct live_cluster *c, int n, char *err, size_t errlen);
int live__sentinel_prepare(struct live_cluster *c, int n, char *err, size_t errlen);
int live__etcd_prepare(struct live_cluster *c, int n, char *err, size_t errlen);
int live__zk_prepare(struct live_cluster *c, int n, char *err, size_t errlen);

/* Does 'addr' answer as an etcd member (a linearizable range) or a ZooKeeper server (a
 * session connects) within timeout_ns? 0 or a negative errno. */
int live__etcd_ping(const char *addr, int64_t timeout_ns);
int live__zk_ping(const char *hosts, int64_t timeout_ns);

/* Member basics for a recipe: name it, make its data dir DIR/NAME (0700), take 'nports'
 * free ports. Returns 0 or a negative errno with err set. */
int live__member_init(struct live_cluster *c, int i, const char *name, int nports, char *err,
                      size_t errlen);

/* Create m's live_proc from argv and probe, with the cluster's ready timeout. */
int live__member_proc(struct live__member *m, const char *const *argv, live_probe_fn probe,
                      char *err, size_t errlen);

/* c->addrs = the addresses of members from..to-1, comma-separated. */
void live__join_addrs(struct live_cluster *c, int from, int to);

/* Write 'text' to path (0600). Returns 0 or a negative errno with err set. */
int live__write_file(const char *path, const char *text, char *err, size_t errlen);

/* Find prog on PATH, or say which Debian package to install: 0 or -ENOENT. */
int live__need_exe(const char *prog, const char *package, char *out, size_t cap, char *err,
                   size_t errlen);

#endif
