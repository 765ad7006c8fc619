/* etcd_model.h - an etcd cluster as actors on simulated nodes (one member per node), and
 * the client that reaches it (client/etcd.h over sim_send/sim_recv, sim/etcd_client.c).
 *
 * What it keeps of the real thing, because it changes what a lock sees:
 * - Raft: one leader per term; a follower that hears nothing from a leader for a draw in
 *   [E, 2E) (E: election timeout) starts an election; a vote goes to a candidate whose log
 *   is at least as up to date, once per term; a leader that hears from no majority for E
 *   steps down (check-quorum), and a follower that heard from its leader within E ignores
 *   votes (the leader lease that check-quorum gives etcd). A new leader appends an empty
 *   entry and serves reads only once an entry of its term is committed.
 * - A write (put, delete, txn with a write, lease grant and revoke, compaction) is
 *   answered after the leader has it committed: appended and fsync'd ('fsync_ns', entries
 *   that arrive during an fsync share the next one) on a majority, counting the leader's
 *   own. A follower forwards a client's write to the leader; with no leader known it
 *   answers -EAGAIN at once, and a proposal that never commits (lost with a dead leader)
 *   is answered -EAGAIN after 'request_timeout_ns' (etcd's "request timed out"), though it
 *   may still commit later.
 * - A read (range, range-only txn) is linearizable (ReadIndex): the leader notes its commit
 *   index, confirms it is still leader with a heartbeat round to a majority, and the member
 *   serving the read waits until it has applied that index. No fsync. A leader change fails
 *   the reads and keep-alives waiting on it with -EAGAIN, as etcd 3.4 does.
 * - MVCC: one revision per write transaction; a change history kept until compaction;
 *   watches on the member the client talks to, fed as that member applies entries, from
 *   any revision after the last compaction, in order, none skipped; a watch from a
 *   compacted revision is cancelled with the compact revision.
 * - Leases: granted and revoked through the log; expired only by the leader, on its own
 *   monotonic clock, found by a scan every 'lease_check_ns' (500 ms in etcd) and revoked
 *   through the log; keep-alives go to the leader. A new leader extends every lease to
 *   now + TTL + E (etcd's Promote). TTLs are whole seconds, at least ceil(1.5 E).
 * - Crash: a member's volatile state goes (role, commit, pending requests, watches, lease
 *   timers); its log up to the last fsync, its vote and term, and its applied store (etcd's
 *   backend, with the index it has applied) survive. A member applies only what is both
 *   committed and on its own disk. The clients connected to a member that dies get a
 *   reset at once, and a call to a member that is down is refused at once (what the
 *   kernel does for a killed process); a paused member answers nothing until it resumes.
 * - Log compaction: a member keeps 'catchup_entries' entries behind what it has applied; a
 *   follower further behind gets the leader's whole store as a snapshot (one message).
 * Left out (sim/README.md): pre-vote, learners, membership changes, leadership transfer,
 * the gRPC balancer's round robin (a client stays on one member until it fails), etcd's
 * request size and rate limits, authentication, the v2 API. CPU: 'service_ns' per client
 * request on the member that receives it; Raft messages and applying cost no CPU.
 *
 * The model's state lives in struct sim_etcd, owned by the caller, kept across member
 * restarts (reset, not freed). It may be destroyed before or after the sim (a member's
 * exit handler resets its clients only while the model exists). */
#ifndef DISTLAB_SIM_ETCD_MODEL_H
#define DISTLAB_SIM_ETCD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/etcd.h"
#include "sim/sim.h"

#define SIM_ETCD_PORT 2379u
#define SIM_ETCD_MAX_MEMBERS 7

struct sim_etcd_cfg {
    uint32_t port;              /* one port per member for clients and peers; 0: 2379 */
    int64_t heartbeat_ns;       /* 0: 100 ms (etcd's --heartbeat-interval) */
    int64_t election_ns;        /* E; 0: 1 s (etcd's --election-timeout) */
    int64_t fsync_ns;           /* one WAL fsync; 0: none */
    int64_t service_ns;         /* CPU per client request on the member receiving it */
    int64_t request_timeout_ns; /* 0: 5 s + 2 E (etcd's ReqTimeout) */
    int64_t lease_check_ns;     /* 0: 500 ms */
    uint64_t catchup_entries;   /* 0: 5000 (etcd's SnapshotCatchUpEntries) */
    bool prefer_first;          /* member 0 campaigns first at the first start (a timeout
                                 * in [E/2, E)), so it leads until a fault: what the live
                                 * world gets by a leadership transfer */
};

/* A leadership change, for plots: at true time 'at', 'member' became leader of 'term',
 * or (member -1) the leader of 'term' stepped down or died. */
struct sim_etcd_change {
    int64_t at;
    int member;
    uint64_t term;
};

struct sim_etcd_stats {
    uint64_t requests;    /* client requests received by any member */
    uint64_t writes;      /* client requests that went through the log */
    uint64_t reads;       /* linearizable reads served */
    uint64_t entries;     /* entries appended by leaders (writes, empty entries, expiries) */
    uint64_t fsyncs;      /* WAL fsyncs on all members */
    uint64_t read_rounds; /* heartbeat rounds that confirmed reads */
    uint64_t elections;   /* elections won */
    uint64_t expired;     /* leases revoked because they expired */
    uint64_t events;      /* watch events sent */
    uint64_t snapshots;   /* snapshots sent to followers too far behind */
    uint64_t resets;      /* connection resets sent by members that died */
    uint64_t dropped;     /* client writes answered -EAGAIN: no leader known */
    uint64_t timed_out;   /* client requests answered -EAGAIN after the request timeout */
};

struct sim_etcd;

/* A cluster of n (1..7) members on nodes[0..n): installs each member's main actor
 * (sim_node_main), so they start with the run and again after each restart. Names the
 * nodes it was given; a node may host only one member. NULL on -ENOMEM or bad arguments. */
struct sim_etcd *sim_etcd_create(struct sim *sim, const int *nodes, size_t n,
                                 const struct sim_etcd_cfg *cfg);

/* Frees the model. Call when no actor of the sim will run again (after the run). */
void sim_etcd_destroy(struct sim_etcd *m);

size_t sim_etcd_members(const struct sim_etcd *m);
struct sim_addr sim_etcd_addr(const struct sim_etcd *m, size_t member);
int sim_etcd_node(const struct sim_etcd *m, size_t member);

/* The member that leads the highest term now (its node up), or -1. */
int sim_etcd_leader(const struct sim_etcd *m);

/* The minimum lease TTL this cluster grants, seconds: ceil(1.5 E). */
int64_t sim_etcd_min_ttl_s(const struct sim_etcd *m);

void sim_etcd_stats(const struct sim_etcd *m, struct sim_etcd_stats *out);

/* Leadership changes so far, oldest first; *n set to their number. Owned by m. */
const struct sim_etcd_change *sim_etcd_changes(const struct sim_etcd *m, size_t *n);

/* What member 'member' has applied, without running a request: its revision, and key
 * into *kv. Returns 1 (present), 0 (absent) or -ENOENT (the member is down). */
int sim_etcd_peek(const struct sim_etcd *m, size_t member, const char *key, struct etcd_kv *kv,
                  int64_t *rev);
/* How many leases member 'member' knows. */
size_t sim_etcd_leases(const struct sim_etcd *m, size_t member);

/* Invariants: each member's store (sim_etcd__store_check) and Raft state (applied <=
 * commit <= last index, terms in the log never decrease, synced <= last); at most one
 * leader per term; committed entries agree on every member (the log matching and
 * state machine safety properties); members that applied the same index hold the same
 * state. O(log length x members). */
bool sim_etcd_check(const struct sim_etcd *m);

/* ---- The client (sim/etcd_client.c) ----------------------------------------------- */

/* A connection for the calling actor to the cluster m, talking first to member 'first'
 * (mod the member count), every call bounded by timeout_ns. Only the actor that owns e
 * may use it. NULL on -ENOMEM or bad arguments. */
struct etcd *sim_etcd_connect(struct env *e, const struct sim_etcd *m, size_t first,
                              int64_t timeout_ns);

/* The member the connection talks to now. */
size_t sim_etcd_conn_member(const struct etcd *c);

#endif
