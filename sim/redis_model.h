/* redis_model.h - a Redis server as an actor on a simulated node, and the client that
 * reaches it (redis.h over sim_send/sim_recv, sim/redis_client.c).
 *
 * What it keeps of the real thing:
 * - one thread: commands run one at a time, each costing 'service_ns' of the node's CPU
 *   (env_work), so a busy server queues requests and a paused node answers late;
 * - expiry by the *server node's* wall clock, in whole milliseconds as Redis keeps it
 *   (expired when now_ms > when_ms): a clock step on the server node expires keys early
 *   or late. Expiry is lazy (on access), which no client can tell from active expiry;
 * - without persistence a crash loses every key (the keyspace is reset when the node's
 *   main actor restarts); with persistence every write is fsync'd to the node's durable
 *   store before the reply (appendfsync always) and reloaded on restart;
 * - an optional replica: the master streams the effects of its writes (keys with absolute
 *   expiry times, like Redis 7's PXAT propagation) 'repl_lag_ns' after executing them, with
 *   a ping every 'heartbeat_ns'; the replica never expires keys itself, refuses client
 *   writes with -EROFS, and promotes itself to master after 'failover_after_ns' without a
 *   word from the master (Sentinel's down-after, in one). A node that (re)starts asks its
 *   peer for its role first and becomes its replica (with a full sync) if the peer is
 *   master, so an old master comes back as a replica, as Sentinel would reconfigure it.
 *
 * The model's state lives in struct sim_redis, owned by whoever created it and kept
 * across restarts of the node (it is reset, not freed, when the node restarts), so it
 * registers no atexit handler and may be destroyed before or after the sim. */
#ifndef DISTLAB_SIM_REDIS_MODEL_H
#define DISTLAB_SIM_REDIS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/redis.h"
#include "sim/sim.h"

#define SIM_REDIS_PORT 6379u
#define SIM_REDIS_MAX_ADDRS 8

enum sim_redis_role { SIM_REDIS_MASTER, SIM_REDIS_REPLICA };

struct sim_redis_cfg {
    uint32_t port;             /* client port; port + 1 is the replication sender's. 0: 6379 */
    int64_t service_ns;        /* CPU time per command */
    bool persist;              /* fsync every write to the durable store, reload on restart */
    enum sim_redis_role role;  /* the role configured at first start */
    int peer;                  /* the other node of a master/replica pair, or -1 */
    int64_t repl_lag_ns;       /* master: delay before a write's effect is sent to the peer */
    int64_t heartbeat_ns;      /* master: ping period to an attached replica; 0: 100 ms */
    int64_t failover_after_ns; /* replica: promote after this long without the master; 0: never */
    int64_t role_timeout_ns;   /* how long a starting node waits for its peer's role; 0: 1 s */
};

struct sim_redis_stats {
    uint64_t commands;     /* client commands executed */
    uint64_t expired;      /* keys found expired on access (master) */
    uint64_t starts;       /* times the main actor started (1 + restarts) */
    uint64_t promotions;   /* replica -> master */
    uint64_t demotions;    /* a (re)started node found its peer master and followed it */
    int64_t promoted_at;   /* true time of the last promotion, or -1 */
    uint64_t repl_applied; /* replication effects applied (replica) */
    uint64_t rejected;     /* client writes refused with -EROFS */
    int64_t armed_grant;   /* true time of the grant that fired sim_redis_crash_after_grant,
                            * or -1 */
};

struct sim_redis;

/* A model for 'node': installs its main actor (sim_node_main), so it starts when the run
 * starts and again after each restart. Returns NULL on -ENOMEM or a bad node/config. */
struct sim_redis *sim_redis_create(struct sim *sim, int node, const struct sim_redis_cfg *cfg);

/* Frees the model. Call when no actor of the sim will run again (after the run). */
void sim_redis_destroy(struct sim_redis *m);

/* The model's address for clients. */
struct sim_addr sim_redis_addr(const struct sim_redis *m);

enum sim_redis_role sim_redis_role(const struct sim_redis *m);
void sim_redis_stats(const struct sim_redis *m, struct sim_redis_stats *out);

/* What the server holds for 'key' right now, without running a command and regardless
 * of expiry: copies the value into val (cap bytes) and the expiry into *when_ms (absolute
 * ms of the server's clock, -1: none). Returns the value length, or -ENOENT (also while
 * the node is down). For tests and checkers. */
int sim_redis_peek(const struct sim_redis *m, const char *key, char *val, size_t cap,
                   int64_t *when_ms);

/* The members of sorted set 'key' in order, without running a command: up to cap of them
 * into members[] (each REDIS_VAL_MAX + 1 bytes) and scores[]. Returns how many the set
 * holds, or -ENOENT (no such sorted set, or the node is down). For tests and checkers. */
int sim_redis_zpeek(const struct sim_redis *m, const char *key,
                    char (*members)[REDIS_VAL_MAX + 1], int64_t *scores, size_t cap);

/* A scripted fault: the first SET NX that sets 'key' at or after true time 'from' makes
 * this node crash 'delay' later, and restart 'down_for' after that (<= 0: never). With
 * delay just under the replication lag, the replica has everything before the grant and
 * not the grant. Returns 0, or -EINVAL (key too long, negative delay). */
int sim_redis_crash_after_grant(struct sim_redis *m, const char *key, int64_t from,
                                int64_t delay, int64_t down_for);

/* Invariants of the keyspace (hashing, counts, bounded strings). */
bool sim_redis_check(const struct sim_redis *m);

/* ---- The client (sim/redis_client.c) ----------------------------------------------- */

/* A connection for the calling actor to the servers at addrs[0..n) (n <= 8, one server per
 * node: replies are matched by node and request id): calls go to
 * one of them; after a timeout or -EROFS the next call goes to the next address, as a
 * Sentinel-aware client re-resolves the master. Every call waits at most timeout_ns for
 * the reply; a reply that comes later is discarded. Only the actor that owns 'e' may use
 * it. NULL on -ENOMEM or bad arguments. */
struct redis *sim_redis_connect(struct env *e, const struct sim_addr *addrs, size_t n,
                                int64_t timeout_ns);

/* ---- Wire format, shared by redis_model.c and redis_client.c ---------------------- */

#define SIM_REDIS_MAGIC 0x52454431u /* "RED1" */

enum sim_redis_op {
    SIM_REDIS_SET = 1, SIM_REDIS_GET, SIM_REDIS_DEL, SIM_REDIS_INCR, SIM_REDIS_CAD,
    SIM_REDIS_CAE,
    SIM_REDIS_ZADD, SIM_REDIS_ZREM, SIM_REDIS_ZFIRST, SIM_REDIS_ZPOPMOVE,
    SIM_REDIS_ZMOVE,   /* client commands */
    SIM_REDIS_REPLY,   /* the answer to one: status and arg/val */
    SIM_REDIS_PUT,     /* replication: key = val, expiry arg (absolute ms, -1: none) */
    SIM_REDIS_UNLINK,  /* replication: key removed */
    SIM_REDIS_PING,    /* replication: the master is alive */
    SIM_REDIS_ROLE_Q,  /* a starting node asks its peer's role */
    SIM_REDIS_ROLE_A,  /* the answer: arg = role */
    SIM_REDIS_SYNC,    /* "make me your replica": the master attaches and sends all keys */
    SIM_REDIS_ZPUT,    /* replication: member val of sorted set key has score arg */
    SIM_REDIS_ZUNLINK, /* replication: member val of sorted set key removed */
};

struct sim_redis_msg {
    uint32_t magic;
    uint16_t op;
    uint16_t flags;   /* SET: REDIS_NX; ZPOPMOVE: REDIS_ZTAG, REDIS_ZUNTAG */
    uint64_t id;      /* request id, echoed in the reply */
    int64_t arg;      /* SET/CAE: ttl ms (<= 0: none); PUT: when_ms; ZADD, ZPUT: score;
                       * ZPOPMOVE: max score; reply: integer, or a member's score */
    int64_t arg2;     /* ZPOPMOVE: the destination score (< 0: keep) */
    int64_t at_mono;  /* replication: when the master executed it (its mono clock) */
    int32_t status;   /* reply: >= 0 result, or a negative errno */
    char key[REDIS_KEY_MAX + 1];
    char val[REDIS_VAL_MAX + 1];  /* value, or member (reply: the member) */
    char key2[REDIS_KEY_MAX + 1]; /* ZPOPMOVE, ZMOVE: the destination key */
};

#endif
