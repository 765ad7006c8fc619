/* etcd_internal.h - what sim/etcd_model.c, sim/etcd_store.c and sim/etcd_client.c share
 * (prefix sim_etcd__): the request a client sends and a log entry carries, its compact
 * encoding, the replies, and the replicated state machine (MVCC store and lease table).
 * Nothing outside these three files may include it: the contract is sim/etcd_model.h. */
#ifndef DISTLAB_SIM_ETCD_INTERNAL_H
#define DISTLAB_SIM_ETCD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/etcd.h"

#define SIM_ETCD__MAGIC 0x45544344u /* "ETCD" */
#define SIM_ETCD__NOPS (2 * ETCD_TXN_MAX_OPS)
#define SIM_ETCD__EVENTS_MAX 64 /* events in one watch message */

/* ---- Requests ------------------------------------------------------------------------ */

enum sim_etcd__op {
    SIM_ETCD__TXN = 1,     /* every KV call: compares, then-ops, else-ops */
    SIM_ETCD__GRANT,       /* arg: ttl_s; lease: the id the proposing member chose */
    SIM_ETCD__REVOKE,      /* lease */
    SIM_ETCD__KEEPALIVE,   /* lease */
    SIM_ETCD__COMPACT,     /* arg: revision */
    SIM_ETCD__EXPIRE,      /* a leader's lessor: lease expired (a log entry only) */
    SIM_ETCD__WATCH,       /* arg: start revision; lease: the client's watch id */
    SIM_ETCD__WATCH_CANCEL /* lease: the watch id */
};

struct sim_etcd__cmp {
    uint8_t target, result;
    int64_t num;
    char key[ETCD_KEY_MAX + 1];
    char val[ETCD_VAL_MAX + 1];
};

struct sim_etcd__wop {
    uint8_t kind, prefix, sort_target, sort_order;
    int64_t lease, limit, max_create_rev;
    uint32_t cap; /* range: kvs the client has room for */
    char key[ETCD_KEY_MAX + 1];
    char val[ETCD_VAL_MAX + 1];
};

struct sim_etcd__req {
    uint8_t op;
    int64_t arg, lease;
    uint8_t ncmp, nthen, nelse;
    struct sim_etcd__cmp cmp[ETCD_TXN_MAX_CMPS];
    struct sim_etcd__wop ops[SIM_ETCD__NOPS]; /* then-ops, then else-ops */
};

/* A range-only transaction: served as a linearizable read, not through the log. */
bool sim_etcd__req_readonly(const struct sim_etcd__req *q);

/* Encode q into buf (at least SIM_ETCD__REQ_MAX bytes): returns the length. Decode
 * returns the bytes read, or -EPROTO for a malformed buffer. Strings travel with their
 * length, so a typical request is tens of bytes (this is what a log entry holds). */
#define SIM_ETCD__REQ_MAX 4096
size_t sim_etcd__req_encode(const struct sim_etcd__req *q, uint8_t *buf);
ssize_t sim_etcd__req_decode(struct sim_etcd__req *q, const uint8_t *buf, size_t len);

/* A client's message to a member: this header, then the encoded request. */
struct sim_etcd__hdr {
    uint32_t magic;
    uint32_t kind; /* SIM_ETCD__CLIENT_REQ */
    uint64_t id;   /* the client's request id, echoed in the reply */
};
#define SIM_ETCD__CLIENT_REQ 1u

/* ---- Replies ------------------------------------------------------------------------ */

enum sim_etcd__rkind {
    SIM_ETCD__REPLY = 100, /* the answer to a request */
    SIM_ETCD__CREATED,     /* a watch exists: id = the request's, arg = watch id */
    SIM_ETCD__EVENTS,      /* arg = watch id, then nkv struct etcd_event */
    SIM_ETCD__CANCELED,    /* arg = watch id, arg2 = compact revision */
    SIM_ETCD__RESET        /* the member died: every connection to it is reset */
};

struct sim_etcd__opres {
    uint32_t n;      /* kvs of this op in the reply */
    int64_t count;   /* range: matched */
    int64_t deleted; /* delete */
};

/* A member's message to a client: this header, then nkv struct etcd_kv (REPLY: the
 * ranges' keys, op after op) or struct etcd_event (EVENTS). */
struct sim_etcd__rep {
    uint32_t magic;
    uint32_t kind;
    uint64_t id;
    int32_t status;
    uint8_t succeeded, nops;
    int64_t rev;
    int64_t arg, arg2; /* grant: id, ttl; keepalive: ttl; watch ids, compact revision */
    struct sim_etcd__opres res[ETCD_TXN_MAX_OPS];
    uint32_t nkv;
};

/* ---- The replicated state machine: MVCC store and lease table (etcd_store.c) ----------- */

struct sim_etcd__hev { /* one change, kept for watches until compaction */
    uint8_t type;      /* ETCD_EV_PUT, ETCD_EV_DELETE */
    struct etcd_kv kv; /* kv.mod_rev: the change's revision */
};

struct sim_etcd__lease {
    int64_t id, ttl_s;
    /* Volatile, the leader's only (followers keep INT64_MAX): when it expires on the
     * leader's monotonic clock, and when a revoke for it was last proposed (-1: never). */
    int64_t expiry_mono, revoke_sent_mono;
};

struct sim_etcd__store {
    int64_t rev, compact_rev;
    struct etcd_kv *kv; /* sorted by key */
    size_t nkv, capkv;
    struct sim_etcd__hev *hist; /* revisions > compact_rev, in order */
    size_t nhist, caphist;
    struct sim_etcd__lease *lease; /* sorted by id */
    size_t nlease, caplease;
};

/* The outcome of applying or reading a request; kvs accumulate in a growable array. */
struct sim_etcd__res {
    int status;
    bool succeeded;
    int64_t rev, arg, arg2;
    uint8_t nops;
    struct sim_etcd__opres op[ETCD_TXN_MAX_OPS];
    struct etcd_kv *kvs;
    size_t nkv, capkv;
};

void sim_etcd__store_init(struct sim_etcd__store *s);
void sim_etcd__store_free(struct sim_etcd__store *s);
/* Apply one committed write (TXN, GRANT, REVOKE, COMPACT, EXPIRE), deterministic on
 * every member: min_ttl_s raises short grants; now_mono and leader set a granted lease's
 * expiry (INT64_MAX on followers). Changes append to s->hist. res->status: 0 or a
 * negative errno for a refused request (which changes nothing). -ENOMEM is returned. */
int sim_etcd__store_apply(struct sim_etcd__store *s, const struct sim_etcd__req *q,
                          int64_t min_ttl_s, bool leader, int64_t now_mono,
                          struct sim_etcd__res *res);

/* Serve a range-only transaction from the current state. Returns 0 or -ENOMEM. */
int sim_etcd__store_read(const struct sim_etcd__store *s, const struct sim_etcd__req *q,
                         struct sim_etcd__res *res);

struct sim_etcd__lease *sim_etcd__lease_find(const struct sim_etcd__store *s, int64_t id);
const struct etcd_kv *sim_etcd__kv_find(const struct sim_etcd__store *s, const char *key);

/* Does the watch on (key, prefix) see a change of 'key'? */
bool sim_etcd__watch_match(const char *wkey, bool prefix, const char *key);

/* Serialize the whole store (a Raft snapshot) into a malloc'd buffer; NULL on -ENOMEM. */
uint8_t *sim_etcd__store_save(const struct sim_etcd__store *s, size_t *len);
/* Replace s with a saved store. Returns 0, -EPROTO or -ENOMEM (s untouched on error). */
int sim_etcd__store_load(struct sim_etcd__store *s, const uint8_t *buf, size_t len);

/* Invariants: keys sorted and unique, revisions ordered and within [1, rev], history
 * after compact_rev and in order, leases sorted and every key's lease present. */
bool sim_etcd__store_check(const struct sim_etcd__store *s);
/* Same contents (keys, revisions, leases and their TTLs, history)? For the checker. */
bool sim_etcd__store_equal(const struct sim_etcd__store *a, const struct sim_etcd__store *b);

void sim_etcd__res_reset(struct sim_etcd__res *r);

/* Make room for need elements of size bytes in *v (capacity *cap), doubling. 0 or -ENOMEM. */
int sim_etcd__grow(void **v, size_t *cap, size_t need, size_t size);

#endif
