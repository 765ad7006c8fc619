/* zk_model.h - a ZooKeeper ensemble as actors on simulated nodes, and the client library
 * that reaches it (client/zk.h over sim_send/sim_recv, sim/zk_client.c). sim/README.md
 * says what the model keeps of the real thing and what it leaves out; in short:
 *
 * - servers are nodes of the world, one main actor each; every client request costs the
 *   server 'service_ns' of its node's CPU, so a busy or paused server answers late;
 * - one leader orders every write by zxid (epoch << 32 | counter), proposes it to the
 *   followers, and commits it once a majority (itself included) has written it to its
 *   log; a log write takes 'fsync_ns' and serves every proposal that queued meanwhile
 *   (group commit). Reads are answered by the server the client is connected to, from
 *   what it has applied (a follower may lag). A failed write is an error transaction
 *   that takes a zxid too, as in ZooKeeper;
 * - sessions: created and closed by transactions; kept alive by the client's pings and
 *   requests, which followers report to the leader every half tick; the *leader* expires a
 *   session when nothing touched it for its timeout (rounded up to the next tick, as
 *   ZooKeeper's expiry queue does), deleting its ephemeral nodes and firing their watches;
 * - one-shot watches (data, exist, child) on the server that ran the read; sequence
 *   numbers per parent (the count of children ever created under it, as ZooKeeper 3.8
 *   numbers them); children listed in no particular order;
 * - a leader that loses its majority, or a follower that hears nothing from its leader
 *   for 'sync_limit' ticks, stops serving, closes its clients' connections and starts an
 *   election: servers exchange votes (epoch, last logged zxid, id), the best vote wins
 *   once a majority holds it for 'finalize_ns' (FastLeaderElection's finalize wait); the
 *   new leader commits what it had logged, brings the followers to its state (a full
 *   snapshot) and serves when a majority has it. Every session's clock restarts then:
 *   clients that reconnect within their timeout keep their sessions;
 * - a crash loses what was not yet written to the log; a restarted server reloads its
 *   log (kept in the model, which outlives the node) and rejoins through an election.
 *
 * The model's state lives in struct sim_zk, owned by whoever created it, kept across
 * restarts of the nodes; it also owns every client handle opened on it (a handle whose
 * actor crashed is freed with the model). Destroy it after the sim. */
#ifndef DISTLAB_SIM_ZK_MODEL_H
#define DISTLAB_SIM_ZK_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/zk.h"
#include "sim/sim.h"

#define SIM_ZK_PORT 2181u /* clients; port + 1: the servers among themselves */
#define SIM_ZK_MAX_SERVERS 7

struct sim_zk_cfg {
    uint32_t port;       /* 0: 2181 */
    int64_t tick_ns;     /* ZooKeeper's tickTime; 0: 200 ms (the live launcher's) */
    int init_limit;      /* ticks a new leader waits for a majority to sync; 0: 50 */
    int sync_limit;      /* ticks of silence after which leader and follower part; 0: 10 */
    int64_t finalize_ns; /* an election's wait for a better vote; 0: 200 ms */
    int64_t service_ns;  /* server CPU per client request (connect, read, write, ping) */
    int64_t fsync_ns;    /* one write of the transaction log (a batch of proposals) */
};

struct sim_zk_stats {
    uint64_t requests; /* client reads and writes received by any server */
    uint64_t pings;    /* client pings received */
    uint64_t txns;     /* transactions committed by leaders (errors included) */
    uint64_t sessions_created, sessions_expired, sessions_closed;
    uint64_t watch_events;    /* notifications sent to clients */
    uint64_t client_msgs_in;  /* every message from a client (connects, pings included) */
    uint64_t client_msgs_out; /* every message to a client */
    uint64_t refused;         /* connections refused (not serving, or behind the client) */
    uint64_t elections;       /* leaders that became active (the first one included) */
    int64_t leader_since;     /* true time the current leader became active, or -1 */
    int64_t last_expiry;      /* true time of the last session expiry, or -1 */
};

struct sim_zk;

/* An ensemble of n (1..7) servers on nodes[0..n): server i is on nodes[i] (distinct
 * nodes). Installs each server's main actor (sim_node_main), so they start with the run
 * and again after each restart. NULL on -ENOMEM or bad arguments. */
struct sim_zk *sim_zk_create(struct sim *sim, const int *nodes, int n,
                             const struct sim_zk_cfg *cfg);

/* Frees the model and every client handle opened on it, before or after sim_destroy; if
 * before, no actor of the sim may run again. */
void sim_zk_destroy(struct sim_zk *z);

int sim_zk_servers(const struct sim_zk *z);
int sim_zk_node(const struct sim_zk *z, int server);
struct sim_addr sim_zk_addr(const struct sim_zk *z, int server); /* client port */
int64_t sim_zk_tick(const struct sim_zk *z);

/* The server that leads and serves now, or -1 (during an election). */
int sim_zk_leader(const struct sim_zk *z);

void sim_zk_stats(const struct sim_zk *z, struct sim_zk_stats *out);

/* What server 'server' has applied, without a request: the node at path (its Stat into
 * st, may be NULL): 0 or -ENOENT (also while the server is down); its children (into
 * *out, zk_children_free it): 0, -ENOENT or -ENOMEM; whether session 'id' is open there.
 * For tests and checkers. */
int sim_zk_peek(const struct sim_zk *z, int server, const char *path, struct zk_stat *st);
int sim_zk_peek_children(const struct sim_zk *z, int server, const char *path,
                         struct zk_children *out);
bool sim_zk_peek_session(const struct sim_zk *z, int server, int64_t id);

/* Invariants, across the ensemble: every up server's tree is well formed (links, counts,
 * no ephemeral node of a closed session); no two servers ever applied different
 * transactions at one zxid, nor loaded a snapshot that disagrees with what was applied
 * there; zxids applied in increasing order; at most one leader per epoch. Returns true
 * when they hold; otherwise false and *why (may be NULL) says what broke. */
bool sim_zk_check(const struct sim_zk *z, const char **why);

/* ---- The client library (sim/zk_client.c) ------------------------------------------ */

/* Open a session for the calling actor, with the requested timeout (the servers grant it
 * within [2, 20] ticks). Starts an I/O actor on the caller's node (named after it,
 * "<actor>/zk-io") that connects to the servers in an order drawn from the caller's
 * random stream, as the real client shuffles its host list, and keeps the connection:
 * a ping after a third of the timeout without sending, the connection declared lost
 * after two thirds without hearing from the server (or when the server closes it), then
 * the next server; after a round of failures it waits a sixtieth of the timeout. It
 * re-registers the handle's watches on each new server and reports connection loss and
 * expiry as the real client does. Returns at once (state: connecting). Only the caller
 * may use the handle. NULL on -ENOMEM or a timeout <= 0. */
struct zk *sim_zk_connect(struct env *e, struct sim_zk *z, int64_t session_timeout_ns);

#endif
