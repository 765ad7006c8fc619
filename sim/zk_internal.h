/* zk_internal.h - what the files of the ZooKeeper model share (prefix sim__zk): the data
 * tree (zk_tree.c), the transactions that change it, and the wire format between the
 * client library model (zk_client.c) and the servers (zk_model.c). Nothing outside sim/
 * includes this: the public contract is zk_model.h. */
#ifndef DISTLAB_SIM_ZK_INTERNAL_H
#define DISTLAB_SIM_ZK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/zk.h"
#include "sim/zk_model.h"

/* ---- The data tree ------------------------------------------------------------------- */

struct sim__zk_node {
    struct sim__zk_node *hnext; /* hash chain */
    struct sim__zk_node *parent;
    struct sim__zk_node **kids; /* unordered, as the server's HashSet */
    uint32_t nkids, capkids;
    uint32_t slot;    /* index in the parent's kids */
    int64_t seq_next; /* children ever created here: the next sequence suffix */
    struct zk_stat st;
    uint32_t dlen;
    unsigned char data[ZK_DATA_MAX];
    char path[]; /* NUL-terminated */
};

struct sim__zk_sess {
    int64_t id;
    int64_t timeout_ns; /* as negotiated */
};

/* One server's copy of the replicated state: the nodes, the open sessions, and the last
 * transaction applied (zxid) with a running hash of every transaction up to it, so that
 * two copies at the same zxid can be compared in O(1). */
struct sim__zk_tree {
    struct sim__zk_node **bucket;
    size_t nbucket, count;
    struct sim__zk_sess *sess;
    size_t nsess, capsess;
    int64_t zxid;
    uint64_t hash;
};

/* What changes the tree. Every write a client asks for becomes one, error or not (an
 * error transaction takes a zxid and changes nothing, as in ZooKeeper). */
enum sim__zk_txn_type {
    SIM__ZK_TXN_ERROR = 1,
    SIM__ZK_TXN_CREATE,
    SIM__ZK_TXN_DELETE,
    SIM__ZK_TXN_CREATE_SESSION,
    SIM__ZK_TXN_CLOSE_SESSION,
};

struct sim__zk_txn {
    int32_t type;
    int32_t rc; /* ERROR: the result the client gets */
    int64_t zxid;
    int64_t session;    /* whose request (CREATE_SESSION: the new id) */
    int64_t xid;        /* the request's id (CREATE_SESSION: the origin's connect cookie) */
    int64_t time_ms;    /* the leader's wall clock */
    int64_t timeout_ns; /* CREATE_SESSION */
    int32_t origin;     /* the server the client is connected to: it replies */
    uint32_t flags;     /* CREATE: ZK_EPHEMERAL (the sequence is resolved in path) */
    int32_t version;    /* DELETE: the version asked for */
    uint32_t dlen;
    char path[ZK_PATH_MAX + 1];
    unsigned char data[ZK_DATA_MAX];
};

/* A watch trigger: apply calls it for every path whose watches a change fires. */
enum sim__zk_trig {
    SIM__ZK_TRIG_CREATED, /* data/exist watches on path: NodeCreated */
    SIM__ZK_TRIG_DELETED, /* data and child watches on path: NodeDeleted */
    SIM__ZK_TRIG_CHILD,   /* child watches on path: NodeChildrenChanged */
};
typedef void (*sim__zk_trig_fn)(void *ctx, const char *path, enum sim__zk_trig what);

struct sim__zk_tree *sim__zk_tree_create(void); /* "/" and "/zookeeper"; NULL: -ENOMEM */
void sim__zk_tree_destroy(struct sim__zk_tree *t);
struct sim__zk_tree *sim__zk_tree_clone(const struct sim__zk_tree *t);
struct sim__zk_node *sim__zk_find(const struct sim__zk_tree *t, const char *path);
struct sim__zk_sess *sim__zk_sess_find(const struct sim__zk_tree *t, int64_t id);

/* The leader's check of a client's write against the state every earlier proposal
 * leads to: fills txn->type/rc/path (a sequential name resolved) from the request
 * fields (type CREATE/DELETE/CREATE_SESSION/CLOSE_SESSION as asked). O(path). */
void sim__zk_prep(const struct sim__zk_tree *t, struct sim__zk_txn *txn);

/* Apply txn (zxid > t->zxid) to t, calling trig for each watch it fires (trig may be
 * NULL). Returns 0 or -ENOMEM. O(path), or O(nodes) for CLOSE_SESSION. */
int sim__zk_apply(struct sim__zk_tree *t, const struct sim__zk_txn *txn, sim__zk_trig_fn trig,
                  void *ctx);

/* The whole state as bytes (a snapshot) and back. serialize returns the length written,
 * or -E2BIG when it does not fit in cap. load returns NULL on -ENOMEM or bad bytes. */
long sim__zk_tree_serialize(const struct sim__zk_tree *t, void *buf, size_t cap);
struct sim__zk_tree *sim__zk_tree_load(const void *buf, size_t len);

/* Invariants: links and counts, hash chains, ephemeral owners are open sessions,
 * sequence counters ahead of every suffix in use. NULL when they hold, else what broke. */
const char *sim__zk_tree_check(const struct sim__zk_tree *t);

/* Make room for one more element in *v (n used, *cap allocated, size bytes each):
 * doubles the array when full. Returns 0 or -ENOMEM (*v is kept). */
int sim__zk_reserve(void **v, size_t *cap, size_t n, size_t size);

/* ---- Wire format --------------------------------------------------------------------- */

#define SIM__ZK_MAGIC 0x5a4b3031u  /* "ZK01" */
#define SIM__ZK_MSG_MAX (1u << 20) /* largest message (jute.maxbuffer's 1 MiB) */

enum sim__zk_op {
    /* client -> server */
    SIM__ZK_CONNECT = 1, /* session (0: new), arg: requested timeout, zxid: last seen */
    SIM__ZK_PING,
    SIM__ZK_CREATE, /* path, data, flags */
    SIM__ZK_DELETE, /* path, version */
    SIM__ZK_EXISTS, /* path, watch */
    SIM__ZK_GET,
    SIM__ZK_CHILDREN,
    SIM__ZK_CLOSE,      /* close the session */
    SIM__ZK_SETWATCHES, /* zxid: relative; payload: (kind byte, path NUL)* */
    SIM__ZK_DISCONNECT, /* the client drops this connection (not the session) */
    /* server -> client */
    SIM__ZK_CONNECTED, /* session, arg: negotiated timeout */
    SIM__ZK_EXPIRED,   /* the session presented is gone */
    SIM__ZK_CLOSED,    /* the server closed the connection (refused it, or lost quorum) */
    SIM__ZK_REPLY,     /* xid, rc, zxid, st, path, payload */
    SIM__ZK_EVENT,     /* arg: enum zk_event_type, path */
    SIM__ZK_PONG,
    /* server <-> server */
    SIM__ZK_VOTE,       /* arg: round, vote in st.czxid (zxid) / version (id) / arg2 (epoch) */
    SIM__ZK_FOLLOWINFO, /* arg2: the follower's accepted epoch, zxid: its last logged */
    SIM__ZK_SNAP,       /* arg2: epoch; payload: the tree */
    SIM__ZK_ACKNEW,     /* arg2: epoch */
    SIM__ZK_UPTODATE,
    SIM__ZK_PROPOSE,     /* payload: a txn */
    SIM__ZK_ACK,         /* zxid: logged everything up to it */
    SIM__ZK_COMMIT,      /* zxid */
    SIM__ZK_LPING,       /* leader -> follower */
    SIM__ZK_FPING,       /* follower -> leader; payload: sessions touched (int64)* */
    SIM__ZK_FORWARD,     /* follower -> leader: a client's write, payload: a txn request */
    SIM__ZK_REVALIDATE,  /* session, xid: cookie */
    SIM__ZK_REVALIDATED, /* session, xid, rc: ZK_OK or ZK_SESSIONEXPIRED, arg: timeout */
    /* within a client's node */
    SIM__ZK_WAKE, /* the owner closed the handle: the I/O actor stops */
};

/* Watch kinds on the wire and in the client's list (SETWATCHES). */
enum sim__zk_wkind { SIM__ZK_W_DATA = 1, SIM__ZK_W_EXIST, SIM__ZK_W_CHILD };

struct sim__zk_msg {
    uint32_t magic;
    uint16_t op;
    uint8_t watch;
    uint8_t from_id; /* server messages: the sender's id */
    uint32_t conn;   /* the client's connection number */
    uint32_t port;   /* client messages: the port of its I/O actor (replies go there) */
    int32_t rc;
    int32_t version;
    uint32_t flags;
    uint32_t plen; /* payload bytes */
    uint32_t dlen; /* data bytes (create) */
    int64_t xid;
    int64_t session;
    int64_t zxid;
    int64_t arg, arg2;
    struct zk_stat st;
    char path[ZK_PATH_MAX + 1];
    unsigned char data[ZK_DATA_MAX];
    /* followed by plen bytes of payload (sim__zk_payload) */
};

static inline unsigned char *sim__zk_payload(const struct sim__zk_msg *m)
{
    return (unsigned char *)(uintptr_t)(m + 1);
}

/* ---- Client handles: the ensemble owns them (zk_client.c, zk_model.c) ---------------- */

struct sim__zkc;
struct sim__zkc **sim__zk_registry(struct sim_zk *z); /* the list's head */
void sim__zk_client_free(struct sim__zkc *c);         /* unlinks and frees; no env call */

#endif
