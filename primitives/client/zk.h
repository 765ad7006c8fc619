/* zk.h - the ZooKeeper operations a primitive may use, as an ops table that each world
 * fills: sim/zk_client.c (the client library model, talking to the simulated ensemble of
 * sim/zk_model.c) and live/zk_client.c (libzookeeper-mt to a real ensemble). A primitive
 * includes this and nothing of either world.
 *
 * A 'struct zk' is one session handle, owned by one actor (sim) or one thread (live) that
 * alone calls it; behind it the world keeps the connection alive (the real client's I/O
 * thread; an actor of the client's node in the simulation): it pings the server when the
 * session has been idle for a third of its timeout, declares the connection lost when
 * nothing has come back for two thirds of it, and then connects to the next server of
 * the ensemble, presenting the same session. Only the *server* expires a session: when
 * no ping reached the ensemble for the session timeout, the leader closes it, deleting
 * its ephemeral nodes and firing the watches on them. The client learns of the expiry
 * when it reconnects; the handle is then dead (state ZK_STATE_EXPIRED) and a new one must
 * be opened. Opening is asynchronous: a call made while the handle is still connecting
 * waits for the connection attempt; so does a call made while it reconnects.
 *
 * Calls are synchronous and bounded by the connection: a call that gets no reply before
 * the connection is declared lost fails with -ECONNRESET, and the operation may or may
 * not have been applied (as with the real client's ZCONNECTIONLOSS). One call sends two
 * requests without waiting between them (zk_create_list): ZooKeeper answers a session's
 * requests in the order the client sent them, which is what makes that safe.
 *
 * Errors are negative errnos; where a caller needs ZooKeeper's own result code, zk_rc()
 * gives that of the handle's last call (enum zk_rc, the values of zookeeper.h):
 *   -ENOENT      ZK_NONODE                the node (or the parent of a create) is missing
 *   -EEXIST      ZK_NODEEXISTS            create: the node exists
 *   -ESTALE      ZK_BADVERSION            delete: the node's version is not the one given
 *   -ENOTEMPTY   ZK_NOTEMPTY              delete: the node has children
 *   -ENOTDIR     ZK_NOCHILDRENFOREPHEMERALS  create: the parent is ephemeral
 *   -EINVAL      ZK_BADARGUMENTS          a path ZooKeeper refuses (zk_path_check), etc.
 *   -ECONNRESET  ZK_CONNECTIONLOSS        the connection broke before the reply
 *   -ETIMEDOUT   ZK_OPERATIONTIMEOUT      no reply in time (live: the client's own limit)
 *   -EKEYEXPIRED ZK_SESSIONEXPIRED        the session expired; the handle is dead
 *   -EBADFD      ZK_INVALIDSTATE          the handle is dead (expired earlier, or closed)
 *   -E2BIG       -                        a path or data longer than ZK_PATH_MAX/ZK_DATA_MAX
 *   -ENOMEM, -EIO (any other ZooKeeper error: ZK_SYSTEMERROR, ...)
 *
 * Watches are one-shot, as in ZooKeeper: set by exists/get/children with watch=true on
 * the server that ran the read, fired once by the first change, and re-registered by
 * the client on the next server after a reconnection (with the last zxid it saw, so a
 * change made meanwhile fires at once). Their notifications, and the session's state
 * changes, queue on the handle in the order they arrived; zk_wait takes them out. */
#ifndef DISTLAB_CLIENT_ZK_H
#define DISTLAB_CLIENT_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define ZK_PATH_MAX 255  /* bytes of a path, without the NUL */
#define ZK_DATA_MAX 255  /* bytes of a node's data that these calls carry */
#define ZK_SEQ_DIGITS 10 /* a sequential node's suffix: %010d of the parent's counter */

/* Create flags. */
#define ZK_EPHEMERAL 1u /* deleted when the creating session ends */
#define ZK_SEQUENCE 2u  /* the server appends the parent's next sequence number */

/* ZooKeeper's result codes (the values of zookeeper.h's ZOO_ERRORS). */
enum zk_rc {
    ZK_OK = 0,
    ZK_SYSTEMERROR = -1,
    ZK_CONNECTIONLOSS = -4,
    ZK_MARSHALLINGERROR = -5,
    ZK_OPERATIONTIMEOUT = -7,
    ZK_BADARGUMENTS = -8,
    ZK_INVALIDSTATE = -9,
    ZK_APIERROR = -100,
    ZK_NONODE = -101,
    ZK_NOAUTH = -102,
    ZK_BADVERSION = -103,
    ZK_NOCHILDRENFOREPHEMERALS = -108,
    ZK_NODEEXISTS = -110,
    ZK_NOTEMPTY = -111,
    ZK_SESSIONEXPIRED = -112,
    ZK_CLOSING = -116,
};

/* A session's state (zookeeper.h's ZOO_*_STATE, without the ones we never use). */
enum zk_state {
    ZK_STATE_CONNECTING = 1, /* no connection: connecting or reconnecting */
    ZK_STATE_CONNECTED = 3,
    ZK_STATE_EXPIRED = -112, /* the server expired the session; the handle is dead */
    ZK_STATE_CLOSED = 999,   /* closed by its owner */
};

/* What a notification says (zookeeper.h's ZOO_*_EVENT values). */
enum zk_event_type {
    ZK_EV_CREATED = 1, /* an exists watch: the node now exists */
    ZK_EV_DELETED = 2, /* the watched node was deleted */
    ZK_EV_CHANGED = 3, /* its data changed */
    ZK_EV_CHILD = 4,   /* a child watch: a child was created or deleted */
    ZK_EV_SESSION = -1 /* the session's state changed: see .state */
};

struct zk_event {
    enum zk_event_type type;
    enum zk_state state; /* the session's state when the event was queued */
    char path[ZK_PATH_MAX + 1];
};

/* A node's metadata, as ZooKeeper's Stat. zxids order every change of the ensemble. */
struct zk_stat {
    int64_t czxid;              /* the change that created it */
    int64_t mzxid;              /* the last change of its data */
    int64_t pzxid;              /* the last change of its children */
    int64_t ctime_ms, mtime_ms; /* the leader's wall clock at those changes */
    int32_t version;            /* changes of its data */
    int32_t cversion;           /* changes of its children (creations and deletions) */
    int64_t ephemeral_owner;    /* the session that owns it, 0 for a persistent node */
    int32_t data_length;
    int32_t num_children;
};

/* A get-children result: n names (no path) in names[0..n), in no particular order (the
 * server keeps children in a hash set). The names live in the same allocation as the
 * array (zk_children_alloc): one zk_children_free releases them. */
struct zk_children {
    size_t n;
    char **names;
};

struct zk_session {
    enum zk_state state;
    int64_t id;           /* 0 until the first connection */
    int64_t timeout_ns;   /* as the server negotiated it; the requested one until then */
    uint64_t disconnects; /* times the handle lost its connection (connected, then not):
                           * the session events of state ZK_STATE_CONNECTING that follow a
                           * connection; failed attempts to connect are not counted */
};

struct zk;

struct zk_ops {
    int (*create)(struct zk *z, const char *path, const void *data, size_t len, unsigned flags,
                  char *out, size_t cap, struct zk_stat *st);
    int (*remove)(struct zk *z, const char *path, int32_t version);
    int (*exists)(struct zk *z, const char *path, bool watch, struct zk_stat *st);
    int (*get)(struct zk *z, const char *path, bool watch, void *buf, size_t cap,
               struct zk_stat *st);
    int (*children)(struct zk *z, const char *path, bool watch, struct zk_children *out);
    int (*create_list)(struct zk *z, const char *path, const void *data, size_t len, unsigned flags,
                       char *out, size_t cap, struct zk_stat *st, bool watch,
                       struct zk_children *kids, int *list_rc);
    int (*wait)(struct zk *z, struct zk_event *ev, int64_t timeout_ns);
    int (*await_connected)(struct zk *z, int64_t timeout_ns);
    void (*session)(struct zk *z, struct zk_session *out);
    void (*close)(struct zk *z);
};

/* Every world's handle starts with this header. */
struct zk {
    const struct zk_ops *ops;
    int rc; /* enum zk_rc of the last call */
};

/* Create 'path' with data[0..len) (len <= ZK_DATA_MAX) and flags (ZK_EPHEMERAL,
 * ZK_SEQUENCE, both or none). The name the server gave it (with the sequence suffix) is
 * copied to out (cap bytes, may be NULL), its Stat to st (may be NULL). The node's
 * czxid orders it among every change of the ensemble. Returns 0 or an error: -EEXIST,
 * -ENOENT (no parent), -ENOTDIR (the parent is ephemeral), -EINVAL (a bad path), ...
 * A sequential create that fails with -ECONNRESET may have created a node nobody knows
 * the name of: give the name a unique prefix to find it again (zklock does). */
static inline int zk_create(struct zk *z, const char *path, const void *data, size_t len,
                            unsigned flags, char *out, size_t cap, struct zk_stat *st)
{
    return z->ops->create(z, path, data, len, flags, out, cap, st);
}

/* Delete 'path' if its data version is 'version' (-1: any). Returns 0, -ENOENT, -ESTALE
 * (another version), -ENOTEMPTY, or an error. */
static inline int zk_delete(struct zk *z, const char *path, int32_t version)
{
    return z->ops->remove(z, path, version);
}

/* Does 'path' exist? 0 (and its Stat in st, may be NULL) or -ENOENT, or an error. With
 * watch, a watch is left either way: fired by the node's deletion or data change if it
 * exists (ZK_EV_DELETED / ZK_EV_CHANGED), by its creation if not (ZK_EV_CREATED). */
static inline int zk_exists(struct zk *z, const char *path, bool watch, struct zk_stat *st)
{
    return z->ops->exists(z, path, watch, st);
}

/* Read 'path''s data into buf (cap bytes, not NUL-terminated). Returns the data's length
 * (>= 0; what did not fit is cut) or -ENOENT (no watch is left then) or an error. */
static inline int zk_get(struct zk *z, const char *path, bool watch, void *buf, size_t cap,
                         struct zk_stat *st)
{
    return z->ops->get(z, path, watch, buf, cap, st);
}

/* The children of 'path' into *out (zk_children_free it). With watch, the first change
 * of the set of children fires ZK_EV_CHILD (the node's deletion: ZK_EV_DELETED). Returns
 * 0, -ENOENT (no watch is left), or an error (*out is then empty). */
static inline int zk_get_children(struct zk *z, const char *path, bool watch,
                                  struct zk_children *out)
{
    return z->ops->children(z, path, watch, out);
}

/* Create 'path' as zk_create does and, without waiting for its reply, list the children of
 * its parent as zk_get_children does (with a watch if 'watch'): two requests sent back to
 * back on the session, both answered after one round trip instead of one each. ZooKeeper
 * guarantees FIFO client order: "all requests from a given client are executed in the order
 * that they were sent by the client" (Hunt et al., "ZooKeeper: Wait-free coordination for
 * Internet-scale systems", USENIX ATC 2010, section 2.3; the server's CommitProcessor holds
 * a session's read behind its pending write until that write is applied), so the listing
 * already sees the node just created. Returns the create's result (as zk_create). Only when
 * the create succeeded is the listing's result kept: *list_rc gets it (0 with *kids filled,
 * or an error with *kids empty). When the create failed, the listing's reply is discarded:
 * *kids is empty and *list_rc is the create's error. The server ran the listing all the
 * same, so with 'watch' a failed create may still leave a child watch on the parent (its
 * first change then queues a ZK_EV_CHILD). A lost connection fails both (-ECONNRESET: the
 * create may or may not have been applied). zk_rc gives the listing's code when the create
 * succeeded, else the create's. */
static inline int zk_create_list(struct zk *z, const char *path, const void *data, size_t len,
                                 unsigned flags, char *out, size_t cap, struct zk_stat *st,
                                 bool watch, struct zk_children *kids, int *list_rc)
{
    return z->ops->create_list(z, path, data, len, flags, out, cap, st, watch, kids, list_rc);
}

/* Take the next notification or session event off the handle's queue, waiting up to
 * timeout_ns (< 0: no limit; 0: do not wait). Returns 1 with *ev filled, 0 when none came
 * in time. A dead handle's queue ends with its ZK_STATE_EXPIRED event; after that, 0. */
static inline int zk_wait(struct zk *z, struct zk_event *ev, int64_t timeout_ns)
{
    return z->ops->wait(z, ev, timeout_ns);
}

/* Wait until the session is connected (0), for at most timeout_ns (< 0: no limit).
 * Returns -ETIMEDOUT, or -EKEYEXPIRED / -EBADFD when the handle is dead. Takes nothing
 * off the event queue. */
static inline int zk_await_connected(struct zk *z, int64_t timeout_ns)
{
    return z->ops->await_connected(z, timeout_ns);
}

/* The session's state, id and negotiated timeout, now. */
static inline void zk_session(struct zk *z, struct zk_session *out)
{
    z->ops->session(z, out);
}

/* ZooKeeper's result code of the last call on z. */
static inline int zk_rc(const struct zk *z)
{
    return z->rc;
}

/* Close the session (its ephemeral nodes go at once, if the server can be told) and
 * free z. NULL is allowed. */
static inline void zk_close(struct zk *z)
{
    if (z)
        z->ops->close(z);
}

static inline void zk_children_free(struct zk_children *c)
{
    if (!c)
        return;
    free(c->names);
    c->names = NULL;
    c->n = 0;
}

/* ---- Shared by both worlds (primitives/client/zk.c) --------------------------------- */

/* Is 'path' one ZooKeeper accepts (the rules of its PathUtils.validatePath)? An
 * absolute path with no empty, "." or ".." component and no trailing '/' (except "/"
 * itself; for a sequential create the server appends the suffix first, so there a
 * trailing '/' is allowed), in UTF-8, without the characters ZooKeeper refuses (U+0000
 * to U+001F, U+007F to U+009F, U+D800 to U+F8FF, U+FFF0 to U+FFFF). Returns NULL when it
 * is valid, else why not, for messages. The length limit (ZK_PATH_MAX) is ours, not
 * ZooKeeper's: the calls check it apart (-E2BIG). */
const char *zk_path_check(const char *path, bool sequential);

/* Room for n names taking 'bytes' bytes in all (their NULs included), in one allocation
 * that zk_children_free releases: out->names gets n slots (out->n is set to 0 for the
 * caller to count up), and the returned pointer the bytes to copy the names into.
 * Returns NULL on -ENOMEM (out is then empty). One malloc, whatever n. */
char *zk_children_alloc(struct zk_children *out, size_t n, size_t bytes);

/* The negative errno for a ZooKeeper result code (the table above); 0 for ZK_OK. */
int zk_rc_errno(int rc);

/* "ZNONODE", "ZCONNECTIONLOSS", ... for messages. */
const char *zk_rc_name(int rc);

/* "connected", "connecting", "expired", "closed". */
const char *zk_state_name(enum zk_state s);

/* The session timeout a server with tick 'tick_ns' grants for 'requested_ns': clamped to
 * [2, 20] ticks, ZooKeeper's default min/maxSessionTimeout, in whole milliseconds. */
int64_t zk_negotiate_timeout(int64_t requested_ns, int64_t tick_ns);

/* A create's arguments as both worlds check them before sending anything: 0, -EINVAL (a
 * path ZooKeeper refuses, an unknown flag) or -E2BIG (a path or data too long; data NULL
 * with len > 0). The caller's zk_rc is then ZK_BADARGUMENTS. */
int zk_create_check(const char *path, const void *data, size_t len, unsigned flags);

/* The parent of 'path' ("/" for a top node) into out (cap bytes). Returns 0, or -EINVAL
 * for a path without a '/' or a parent that does not fit. */
int zk_parent(const char *path, char *out, size_t cap);

/* The sequence number at the end of a sequential node's name (the last ZK_SEQ_DIGITS
 * characters, all digits), or -1 when it has none. */
int64_t zk_seq_of(const char *name);

#endif
