/* zk_lock.c - the ZooKeeper locks of zk_lock.h. Talks to ZooKeeper only through zk.h and
 * to its world only through env.h: never a clock, a thread or a socket of its own. */
#include "lock/zk_lock.h"

#include "names.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUID_HEX 32
#define NAME_MAX_ 64 /* "_c_" + guid + "-lock-" + 10 digits, and the NUL */

struct zklock {
    struct env *e;
    struct zklock_config cfg;
    char path[ZK_PATH_MAX + 1];
    struct zk *z;
    bool held;
    char guid[GUID_HEX + 1];
    char node[ZK_PATH_MAX + 1]; /* our node's path, "" when we have none */
    int64_t fence, seq;
    struct zk_children kids; /* the listing that came with our create, not yet looked at */
    bool have_kids;
    struct zklock_stats st; /* conn_losses: of the sessions closed so far */
};

const char *const zklock_algo_names[] = {ZKLOCK_ALGO_NAMES, NULL};

int zklock_algo_parse(const char *s, enum zklock_algo *out)
{
    int v = names_value(zklock_algo_names, s);
    if (v < 0)
        return v;
    *out = (enum zklock_algo)v;
    return 0;
}

const char *zklock_algo_name(enum zklock_algo a)
{
    return names_name(zklock_algo_names, (int)a);
}

/* ---- The session ---------------------------------------------------------------------- */

/* Close the session, keeping the count of its lost connections. */
static void close_session(struct zklock *l)
{
    struct zk_session s;
    zk_session(l->z, &s);
    l->st.conn_losses += s.disconnects;
    zk_close(l->z);
    l->z = NULL;
}

/* A session that can still serve: the current one, or a new one after an expiry. */
static int ensure_session(struct zklock *l)
{
    if (l->z) {
        struct zk_session s;
        zk_session(l->z, &s);
        if (s.state != ZK_STATE_EXPIRED && s.state != ZK_STATE_CLOSED)
            return 0;
        l->st.expired += s.state == ZK_STATE_EXPIRED;
        close_session(l);
        l->node[0] = 0; /* it went with the session */
    }
    l->z = l->cfg.connect(l->e, l->cfg.session_timeout_ns, l->cfg.connect_arg);
    if (!l->z)
        return -ENOMEM;
    l->st.sessions++;
    return 0;
}

/* The session died under a call: our node is gone with it. */
static bool dead(int rc)
{
    return rc == -EKEYEXPIRED || rc == -EBADFD;
}

static void note(struct zklock *l, enum zklock_note what)
{
    if (l->cfg.note)
        l->cfg.note(l->cfg.note_arg, what);
}

/* Count a call. A call that timed out in the client (live: ZOPERATIONTIMEOUT, which the
 * C client gives when it could not reach a server in time) is a lost connection: the
 * request may or may not have been applied, and a create may have left a node that only
 * our guid finds. Treated apart, such a create left a node ahead of everyone in the queue
 * for as long as our session lived (257 live clients on a loaded machine saw it). */
static int counted(struct zklock *l, int rc)
{
    if (rc == -ETIMEDOUT)
        rc = -ECONNRESET;
    l->st.calls++;
    note(l, ZKLOCK_NOTE_CALL);
    l->st.calls_lost += rc == -ECONNRESET;
    return rc;
}

/* Take every notification already queued (they answer watches whose news the next read
 * sees anyway). Returns -EKEYEXPIRED if the session's end is among them. */
static int drain(struct zklock *l)
{
    struct zk_event ev;
    int rc = 0;
    while (zk_wait(l->z, &ev, 0) == 1) {
        if (ev.type != ZK_EV_SESSION) {
            l->st.events++;
            note(l, ZKLOCK_NOTE_EVENT);
        } else if (ev.state == ZK_STATE_EXPIRED)
            rc = -EKEYEXPIRED;
    }
    return rc;
}

static void drop_kids(struct zklock *l)
{
    zk_children_free(&l->kids);
    l->have_kids = false;
}

/* ---- Creating our node ------------------------------------------------------------------ */

static int make_parents(struct zklock *l)
{
    char p[ZK_PATH_MAX + 1];
    for (const char *s = strchr(l->path + 1, '/');; s = strchr(s + 1, '/')) {
        size_t n = s ? (size_t)(s - l->path) : strlen(l->path);
        memcpy(p, l->path, n);
        p[n] = 0;
        int rc = counted(l, zk_create(l->z, p, NULL, 0, 0, NULL, 0, NULL));
        if (rc < 0 && rc != -EEXIST)
            return rc;
        if (!s)
            return 0;
    }
}

/* After a create lost its reply: is there a node of ours (our guid) among the children? */
static int find_ours(struct zklock *l)
{
    struct zk_children ch;
    int rc = counted(l, zk_get_children(l->z, l->path, false, &ch));
    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    char prefix[NAME_MAX_];
    snprintf(prefix, sizeof(prefix), "_c_%s-", l->guid);
    for (size_t i = 0; i < ch.n && !l->node[0]; i++) {
        if (strncmp(ch.names[i], prefix, strlen(prefix)) != 0)
            continue;
        char node[ZK_PATH_MAX + 1];
        if (snprintf(node, sizeof(node), "%s/%s", l->path, ch.names[i]) >= (int)sizeof(node))
            continue;
        struct zk_stat st;
        rc = counted(l, zk_exists(l->z, node, false, &st));
        if (rc == 0) {
            snprintf(l->node, sizeof(l->node), "%s", node);
            l->fence = st.czxid;
            l->seq = zk_seq_of(node);
        }
    }
    zk_children_free(&ch);
    return rc == -ENOENT ? 0 : rc;
}

static bool past(const struct zklock *l, int64_t deadline)
{
    return deadline >= 0 && env_mono(l->e) >= deadline;
}

/* Create our ephemeral sequential node (and the lock node's parents if missing), with
 * the first look at the queue sent right behind the create (zk_create_list: ZooKeeper
 * answers a session's requests in the order sent, so the listing holds our node; one
 * round trip instead of two). The listing is kept in l->kids for look(). A create whose
 * reply was lost may have happened: look for our guid before trying again, or we would
 * leave a node of ours ahead of us, and wait for it forever. */
static int make_node(struct zklock *l, int64_t deadline)
{
    drop_kids(l);
    uint64_t a = env_rand(l->e), b = env_rand(l->e);
    snprintf(l->guid, sizeof(l->guid), "%016" PRIx64 "%016" PRIx64, a, b);
    char name[ZK_PATH_MAX + NAME_MAX_]; /* zklock_create checked that the path leaves room */
    if (snprintf(name, sizeof(name), "%s/_c_%s-lock-", l->path, l->guid) >= (int)sizeof(name))
        return -ENAMETOOLONG;
    for (;;) {
        struct zk_stat st;
        l->node[0] = 0;
        int list_rc;
        int rc = counted(l, zk_create_list(l->z, name, NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, l->node,
                                           sizeof(l->node), &st, l->cfg.algo == ZKLOCK_HERD,
                                           &l->kids, &list_rc));
        counted(l, list_rc); /* the listing: sent either way; its reply kept only on success */
        if (rc == 0) {
            l->fence = st.czxid;
            l->seq = zk_seq_of(l->node);
            l->have_kids = list_rc == 0; /* else look() asks again */
            return 0;
        }
        l->node[0] = 0;
        if (rc == -ENOENT)
            rc = make_parents(l);
        while (rc == -ECONNRESET && !past(l, deadline))
            if ((rc = find_ours(l)) == 0 && l->node[0])
                return 0; /* it had been created: found by its guid */
        if (rc == -ECONNRESET)
            return -ETIMEDOUT;
        if (rc < 0)
            return rc;
    }
}

/* Delete our node, retrying across connection losses (the calls wait for the client to
 * reconnect) for up to release_timeout after the first loss. A node gone on a retry
 * counts as deleted (the lost try may have done it). Returns 0, -ENOENT (gone from the
 * first try: not by us), or an error; after an error other than the session's end, the
 * session is closed so that the node goes with it. */
static int delete_node(struct zklock *l)
{
    int64_t until = -1;
    int rc;
    for (;;) {
        rc = counted(l, zk_delete(l->z, l->node, -1));
        if (rc == -ENOENT && until >= 0)
            rc = 0;
        if (rc != -ECONNRESET)
            break;
        if (until < 0)
            until = env_mono(l->e) + l->cfg.release_timeout_ns;
        else if (env_mono(l->e) >= until)
            break;
    }
    if (rc < 0 && rc != -ENOENT && !dead(rc))
        close_session(l);
    l->node[0] = 0;
    return rc;
}

/* ---- Looking at the queue ------------------------------------------------------------------ */

/* One look at the children: the listing that came with our create if it is still
 * unread, else a get children (with a watch for the herd). Returns 1 when our node is
 * the lowest (we hold), 0 when it is not (pred, cap bytes, names the one just below
 * ours), -ENOENT when our node is not there, or an error. The server lists children in
 * no order: one pass finds whether any is below ours, and the highest of those (no
 * sort: O(children)). */
static int look(struct zklock *l, char *pred, size_t cap)
{
    struct zk_children ch = l->kids;
    int rc;
    l->st.checks++;
    if (l->have_kids) {
        l->have_kids = false;
        l->kids = (struct zk_children){0, NULL};
    } else if ((rc = counted(l, zk_get_children(l->z, l->path, l->cfg.algo == ZKLOCK_HERD, &ch))) <
               0) {
        return rc;
    }
    const char *mine = strrchr(l->node, '/') + 1, *below = NULL;
    int64_t seq = zk_seq_of(mine), best = -1;
    bool found = false;
    for (size_t i = 0; i < ch.n; i++) {
        int64_t s = zk_seq_of(ch.names[i]);
        if (s < 0 || !strstr(ch.names[i], "-lock-"))
            continue; /* whatever else lives there */
        if (s == seq && !strcmp(ch.names[i], mine))
            found = true;
        else if (s < seq && s > best) {
            best = s;
            below = ch.names[i];
        }
    }
    rc = !found ? -ENOENT : !below;
    if (found && below && snprintf(pred, cap, "%s/%s", l->path, below) >= (int)cap)
        rc = -ENAMETOOLONG; /* a name no create of ours makes */
    zk_children_free(&ch);
    return rc;
}

/* Wait for a notification that concerns us: the predecessor's (recipe) or the lock
 * node's children (herd). Returns 1 (look again), 0 (time is up), or -EKEYEXPIRED. */
static int await_turn(struct zklock *l, const char *pred, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline < 0 ? -1 : deadline - env_mono(l->e);
        if (deadline >= 0 && left <= 0)
            return 0;
        struct zk_event ev;
        if (zk_wait(l->z, &ev, left) != 1) {
            struct zk_session s;
            zk_session(l->z, &s);
            if (s.state == ZK_STATE_EXPIRED || s.state == ZK_STATE_CLOSED)
                return -EKEYEXPIRED;
            continue;
        }
        if (ev.type == ZK_EV_SESSION) {
            if (ev.state == ZK_STATE_EXPIRED)
                return -EKEYEXPIRED;
            continue; /* a lost connection is waited out: the watches come back with it */
        }
        l->st.events++;
        note(l, ZKLOCK_NOTE_EVENT);
        bool ours = l->cfg.algo == ZKLOCK_HERD ? !strcmp(ev.path, l->path) : !strcmp(ev.path, pred);
        if (ours) {
            l->st.wakeups++;
            note(l, ZKLOCK_NOTE_WAKEUP);
            return 1;
        }
    }
}

static int give_up(struct zklock *l, int rc)
{
    l->st.gave_up++;
    drop_kids(l);
    if (l->node[0] && l->z)
        delete_node(l);
    return rc;
}

int zklock_acquire(struct zklock *l, int64_t timeout_ns)
{
    if (l->held)
        return -EALREADY;
    int64_t deadline = timeout_ns < 0 ? -1 : env_mono(l->e) + timeout_ns;
    for (;;) {
        int rc = ensure_session(l);
        if (rc < 0)
            return rc;
        /* Notifications queued before our create are old news: the listing that comes
         * with it is newer. Those that come after it stay queued for await_turn. */
        if (!l->node[0] && drain(l) < 0)
            continue; /* the session ended: a new one, from the start */
        if (!l->node[0] && (rc = make_node(l, deadline)) < 0) {
            if (dead(rc))
                continue; /* a new session, from the start */
            return give_up(l, rc);
        }
        for (;;) {
            char pred[ZK_PATH_MAX + 1] = "";
            if (!l->have_kids && drain(l) < 0) {
                rc = -EKEYEXPIRED;
                break;
            }
            rc = look(l, pred, sizeof(pred));
            if (rc == 1) {
                l->held = true;
                l->st.acquired++;
                return 0;
            }
            if (rc == -ECONNRESET && past(l, deadline))
                return give_up(l, -ETIMEDOUT);
            if (rc == -ECONNRESET)
                continue;
            if (rc < 0)
                break;
            if (timeout_ns == 0)
                return give_up(l, -EBUSY);
            if (l->cfg.algo == ZKLOCK_RECIPE) {
                rc = counted(l, zk_exists(l->z, pred, true, NULL));
                if (rc == -ENOENT || (rc == -ECONNRESET && !past(l, deadline)))
                    continue; /* gone already (or we could not tell): look again */
                if (rc < 0)
                    break;
            }
            rc = await_turn(l, pred, deadline);
            if (rc == 0)
                return give_up(l, -ETIMEDOUT);
            if (rc < 0)
                break;
        }
        /* Our node or our session is gone (or a call failed for good). */
        drop_kids(l);
        if (rc == -ENOENT || dead(rc)) {
            l->node[0] = 0;
            if (past(l, deadline))
                return give_up(l, timeout_ns == 0 ? -EBUSY : -ETIMEDOUT);
            continue;
        }
        return give_up(l, rc);
    }
}

int zklock_release(struct zklock *l)
{
    if (!l->held)
        return -ENOLCK;
    l->held = false;
    if (!l->z || !l->node[0]) {
        l->st.lost++;
        return -ESTALE;
    }
    int rc = delete_node(l);
    if (rc == 0) {
        l->st.released++;
        return 0;
    }
    if (rc == -ENOENT || dead(rc)) {
        l->st.lost++;
        return -ESTALE;
    }
    return rc;
}

/* ---- The rest ---------------------------------------------------------------------------- */

struct zklock *zklock_create(struct env *e, const struct zklock_config *cfg)
{
    if (!e || !cfg || !cfg->connect || (unsigned)cfg->algo > ZKLOCK_HERD)
        return NULL;
    const char *path = cfg->path ? cfg->path : "/lock";
    if (strlen(path) + NAME_MAX_ > ZK_PATH_MAX || zk_path_check(path, false) || !strcmp(path, "/"))
        return NULL;
    struct zklock *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->e = e;
    l->cfg = *cfg;
    snprintf(l->path, sizeof(l->path), "%s", path);
    l->cfg.path = l->path;
    if (l->cfg.session_timeout_ns <= 0)
        l->cfg.session_timeout_ns = 1000000000LL;
    if (l->cfg.release_timeout_ns <= 0)
        l->cfg.release_timeout_ns = 30000000000LL;
    if (ensure_session(l) < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void zklock_destroy(struct zklock *l)
{
    if (!l)
        return;
    drop_kids(l);
    zk_close(l->z);
    free(l);
}

bool zklock_held(const struct zklock *l)
{
    return l->held;
}

bool zklock_lost(struct zklock *l)
{
    if (!l->z)
        return true;
    struct zk_session s;
    zk_session(l->z, &s);
    return s.state == ZK_STATE_EXPIRED || s.state == ZK_STATE_CLOSED;
}

int64_t zklock_fence(const struct zklock *l)
{
    return l->fence;
}

int64_t zklock_seq(const struct zklock *l)
{
    return l->seq;
}

const char *zklock_node(const struct zklock *l)
{
    return l->node;
}

struct zk *zklock_session(struct zklock *l)
{
    return l->z;
}

void zklock_get_stats(const struct zklock *l, struct zklock_stats *out)
{
    *out = l->st;
    if (l->z) {
        struct zk_session s;
        zk_session(l->z, &s);
        out->conn_losses += s.disconnects;
    }
}

void zklock_abandon(struct zklock *l)
{
    if (l)
        zk_children_free(&l->kids);
    free(l);
}
