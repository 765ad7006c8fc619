/* zk_semantics.h - ZooKeeper's semantics as scripts against client/zk.h, and the checks
 * of what they saw: tests/lock/test_zk_model.c runs them against the simulated ensemble,
 * tests/lock/test_zk_live.c against a real ZooKeeper 3.8, so the model is held to what
 * the real server does. Each script works under its own top node, on a fresh ensemble
 * with a 200 ms tick. Included by a test file (static functions, Criterion asserts). */
#ifndef DISTLAB_TESTS_ZK_SEMANTICS_H
#define DISTLAB_TESTS_ZK_SEMANTICS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/zk.h"
#include "env.h"

#define SEM_MS 1000000LL

struct zk_sem {
    int rc[32];
    int64_t v[32];
    char s[8][ZK_PATH_MAX + 1];
};

/* Take every queued event that is not a session event; their types into v[at..],
 * paths into s[0..] (up to 8); returns how many. */
static int sem_events(struct zk *z, struct zk_sem *r, int at, int64_t wait_ns)
{
    struct zk_event ev;
    int n = 0;
    while (zk_wait(z, &ev, wait_ns) == 1) {
        if (ev.type == ZK_EV_SESSION)
            continue;
        if (at + n < 32)
            r->v[at + n] = ev.type;
        if (n < 8)
            snprintf(r->s[n], sizeof(r->s[n]), "%s", ev.path);
        n++;
    }
    return n;
}

/* ---- Sequence numbers, versions, errors ------------------------------------------------- */

static void sem_sequence(struct env *e, struct zk *z, struct zk_sem *r)
{
    struct zk_stat st, p;
    cr_assert_eq(zk_await_connected(z, 30000 * SEM_MS), 0);
    r->rc[0] = zk_create(z, "/sq", NULL, 0, 0, NULL, 0, NULL);
    r->rc[1] = zk_create(z, "/sq/a-", "x", 1, ZK_EPHEMERAL | ZK_SEQUENCE, r->s[0], 256, &st);
    r->v[0] = st.czxid;
    r->rc[2] = zk_delete(z, r->s[0], -1);
    r->rc[3] = zk_create(z, "/sq/a-", NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, r->s[1], 256, &st);
    r->v[1] = st.czxid;
    r->rc[4] = zk_create(z, "/sq/b-", NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, r->s[2], 256, &st);
    r->v[6] = st.ephemeral_owner;
    r->rc[5] = zk_create(z, "/sq/x", "abc", 3, 0, NULL, 0, NULL);
    r->rc[6] = zk_create(z, "/sq/x", NULL, 0, 0, NULL, 0, NULL);
    r->v[2] = zk_rc(z);
    r->rc[7] = zk_create(z, "/sq/c-", NULL, 0, ZK_SEQUENCE, r->s[3], 256, &st);
    r->v[7] = st.czxid;
    r->rc[8] = zk_exists(z, "/sq", false, &p);
    r->v[3] = p.cversion;
    r->v[4] = p.num_children;
    r->rc[9] = zk_create(z, "/nope/x", NULL, 0, 0, NULL, 0, NULL);
    r->rc[10] = zk_create(z, "/sq/a-0000000001/x", NULL, 0, 0, NULL, 0, NULL);
    r->rc[11] = zk_delete(z, "/sq", -1);
    r->rc[12] = zk_delete(z, "/sq/x", 7);
    r->rc[13] = zk_create(z, "/sq/bad/", NULL, 0, 0, NULL, 0, NULL);
    r->rc[14] = zk_create(z, "/sq/./x", NULL, 0, 0, NULL, 0, NULL);
    char buf[8];
    r->rc[16] = zk_get(z, "/sq/x", false, buf, sizeof(buf), &st);
    r->v[8] = st.data_length;
    r->v[9] = memcmp(buf, "abc", 3);
    r->rc[15] = zk_delete(z, "/sq/x", 0);
    r->rc[17] = zk_get(z, "/missing", false, buf, sizeof(buf), NULL);
    struct zk_children ch;
    r->rc[18] = zk_get_children(z, "/sq", false, &ch);
    r->v[5] = (int64_t)ch.n;
    zk_children_free(&ch);
    struct zk_session ss;
    zk_session(z, &ss);
    r->v[10] = ss.id;
    r->rc[19] = zk_create(z, "/sq/a-", NULL, 0, ZK_SEQUENCE | 8u, NULL, 0, NULL);
}

static void sem_sequence_check(const struct zk_sem *r)
{
    cr_assert_eq(r->rc[0], 0);
    cr_assert_eq(r->rc[1], 0);
    cr_assert_str_eq(r->s[0], "/sq/a-0000000000");
    cr_assert_eq(r->rc[2], 0);
    /* the suffix counts creations under the parent, not deletions */
    cr_assert_str_eq(r->s[1], "/sq/a-0000000001");
    cr_assert_str_eq(r->s[2], "/sq/b-0000000002");
    cr_assert_eq(r->v[6], r->v[10], "an ephemeral node's owner is its session");
    cr_assert_gt(r->v[1], r->v[0], "czxid must grow");
    cr_assert_eq(r->rc[6], -EEXIST);
    cr_assert_eq(r->v[2], ZK_NODEEXISTS);
    /* the plain create of /sq/x counted too, the failed one did not; it took a zxid */
    cr_assert_str_eq(r->s[3], "/sq/c-0000000004");
    cr_assert_eq(r->rc[7], 0);
    cr_assert_eq(r->v[3], 6, "cversion counts creations and deletions: %lld", (long long)r->v[3]);
    cr_assert_eq(r->v[4], 4);
    cr_assert_eq(r->rc[9], -ENOENT);
    cr_assert_eq(r->rc[10], -ENOTDIR);
    cr_assert_eq(r->rc[11], -ENOTEMPTY);
    cr_assert_eq(r->rc[12], -ESTALE);
    cr_assert_eq(r->rc[13], -EINVAL);
    cr_assert_eq(r->rc[14], -EINVAL);
    cr_assert_eq(r->rc[15], 0);
    cr_assert_eq(r->rc[16], 3);
    cr_assert_eq(r->v[8], 3);
    cr_assert_eq(r->v[9], 0);
    cr_assert_eq(r->rc[17], -ENOENT);
    cr_assert_eq(r->rc[18], 0);
    cr_assert_eq(r->v[5], 3);
    cr_assert_eq(r->rc[19], -EINVAL, "an unknown create flag");
}

/* A failed write takes a zxid: the create after a failed one is two zxids on. */
static void sem_error_zxid(struct env *e, struct zk *z, struct zk_sem *r)
{
    struct zk_stat a, b;
    cr_assert_eq(zk_await_connected(z, 30000 * SEM_MS), 0);
    r->rc[0] = zk_create(z, "/ez", NULL, 0, 0, NULL, 0, &a);
    r->rc[1] = zk_create(z, "/ez", NULL, 0, 0, NULL, 0, NULL);
    r->rc[2] = zk_create(z, "/ez/1", NULL, 0, 0, NULL, 0, &b);
    r->v[0] = b.czxid - a.czxid;
}

static void sem_error_zxid_check(const struct zk_sem *r)
{
    cr_assert_eq(r->rc[0], 0);
    cr_assert_eq(r->rc[1], -EEXIST);
    cr_assert_eq(r->rc[2], 0);
    cr_assert_eq(r->v[0], 2, "zxids between the creates: %lld", (long long)r->v[0]);
}

/* ---- Watches ------------------------------------------------------------------------------ */

static void sem_oneshot(struct env *e, struct zk *z, struct zk_sem *r)
{
    cr_assert_eq(zk_await_connected(z, 30000 * SEM_MS), 0);
    zk_create(z, "/w", NULL, 0, 0, NULL, 0, NULL);
    r->rc[0] = zk_exists(z, "/w/a", true, NULL); /* an exist watch */
    struct zk_children ch;
    r->rc[1] = zk_get_children(z, "/w", true, &ch);
    zk_children_free(&ch);
    zk_create(z, "/w/a", NULL, 0, 0, NULL, 0, NULL);
    zk_create(z, "/w/b", NULL, 0, 0, NULL, 0, NULL);
    zk_delete(z, "/w/b", -1);
    r->v[10] = sem_events(z, r, 0, 300 * SEM_MS);
    /* set twice, then one change: one event */
    zk_get_children(z, "/w", true, &ch);
    zk_children_free(&ch);
    zk_get_children(z, "/w", true, &ch);
    zk_children_free(&ch);
    r->rc[2] = zk_exists(z, "/w/a", true, NULL); /* and a data watch on the node deleted */
    zk_delete(z, "/w/a", -1);
    struct zk_sem r2;
    memset(&r2, 0, sizeof(r2));
    r->v[11] = sem_events(z, &r2, 0, 300 * SEM_MS);
    r->v[12] = r2.v[0];
    r->v[13] = r2.v[1];
    memcpy(r->s[4], r2.s[0], sizeof(r->s[4]));
    memcpy(r->s[5], r2.s[1], sizeof(r->s[5]));
}

static void sem_oneshot_check(const struct zk_sem *r)
{
    cr_assert_eq(r->rc[0], -ENOENT);
    cr_assert_eq(r->rc[1], 0);
    cr_assert_eq(r->v[10], 2, "three changes, two watches: %lld events", (long long)r->v[10]);
    cr_assert_eq(r->v[0], ZK_EV_CREATED);
    cr_assert_str_eq(r->s[0], "/w/a");
    cr_assert_eq(r->v[1], ZK_EV_CHILD);
    cr_assert_str_eq(r->s[1], "/w");
    cr_assert_eq(r->rc[2], 0);
    cr_assert_eq(r->v[11], 2, "%lld events", (long long)r->v[11]);
    /* the data watch on /w/a and the child watch on /w, in either order */
    bool deleted_first = r->v[12] == ZK_EV_DELETED;
    cr_assert_eq(deleted_first ? r->v[13] : r->v[12], ZK_EV_CHILD);
    cr_assert_eq(deleted_first ? r->v[12] : r->v[13], ZK_EV_DELETED);
    cr_assert_str_eq(deleted_first ? r->s[4] : r->s[5], "/w/a");
}

/* ---- Two requests back to back (zk_create_list) ------------------------------------------ */

static bool sem_has(const struct zk_children *ch, const char *path)
{
    const char *name = strrchr(path, '/');
    for (size_t i = 0; name && i < ch->n; i++)
        if (!strcmp(ch->names[i], name + 1))
            return true;
    return false;
}

/* The listing sent behind a create sees it (FIFO client order); a failed create's
 * listing is discarded; the session answers in order after it. */
static void sem_pipeline(struct env *e, struct zk *z, struct zk_sem *r)
{
    struct zk_children ch;
    struct zk_stat st;
    cr_assert_eq(zk_await_connected(z, 30000 * SEM_MS), 0);
    r->rc[0] = zk_create(z, "/pl", NULL, 0, 0, NULL, 0, NULL);
    r->rc[1] = zk_create_list(z, "/pl/n-", "x", 1, ZK_EPHEMERAL | ZK_SEQUENCE, r->s[0], 256, &st,
                              false, &ch, &r->rc[2]);
    r->v[0] = (int64_t)ch.n;
    r->v[1] = sem_has(&ch, r->s[0]);
    r->v[2] = st.czxid;
    zk_children_free(&ch);
    /* with a watch, which the next change of the children fires */
    r->rc[3] = zk_create_list(z, "/pl/n-", NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, r->s[1], 256, &st,
                              true, &ch, &r->rc[4]);
    r->v[3] = (int64_t)ch.n;
    r->v[4] = sem_has(&ch, r->s[0]) && sem_has(&ch, r->s[1]);
    r->v[5] = st.czxid - r->v[2];
    zk_children_free(&ch);
    r->rc[5] = zk_delete(z, r->s[0], -1);
    memcpy(r->s[6], r->s[0], sizeof(r->s[6])); /* sem_events writes paths from s[0] on */
    r->v[6] = sem_events(z, r, 20, 300 * SEM_MS);
    /* a create that fails: the listing behind it is answered, and discarded */
    r->rc[6] = zk_create_list(z, "/pl", NULL, 0, 0, NULL, 0, NULL, false, &ch, &r->rc[7]);
    r->v[7] = (int64_t)ch.n + (ch.names != NULL);
    r->v[8] = zk_rc(z);
    r->rc[8] =
        zk_create_list(z, "/nope/n-", NULL, 0, ZK_SEQUENCE, NULL, 0, NULL, false, &ch, &r->rc[9]);
    r->v[9] = (int64_t)ch.n + (ch.names != NULL);
    /* refused before anything is sent */
    r->rc[10] = zk_create_list(z, "/pl/./x", NULL, 0, 0, NULL, 0, NULL, false, &ch, &r->rc[11]);
    r->rc[12] = zk_create_list(z, "nope", NULL, 0, 0, NULL, 0, NULL, false, &ch, &r->rc[13]);
    /* and the session goes on, in order */
    r->rc[14] = zk_get_children(z, "/pl", false, &ch);
    r->v[10] = (int64_t)ch.n;
    r->v[11] = sem_has(&ch, r->s[1]);
    zk_children_free(&ch);
}

static void sem_pipeline_check(const struct zk_sem *r)
{
    cr_assert_eq(r->rc[0], 0);
    cr_assert_eq(r->rc[1], 0);
    cr_assert_eq(r->rc[2], 0);
    cr_assert_str_eq(r->s[6], "/pl/n-0000000000");
    cr_assert_str_eq(r->s[1], "/pl/n-0000000001");
    cr_assert_eq(r->v[0], 1, "the listing behind the create holds %lld nodes", (long long)r->v[0]);
    cr_assert(r->v[1], "the listing does not hold the node just created");
    cr_assert_gt(r->v[2], 0);
    cr_assert_eq(r->rc[3], 0);
    cr_assert_eq(r->rc[4], 0);
    cr_assert_eq(r->v[3], 2);
    cr_assert(r->v[4]);
    cr_assert_eq(r->v[5], 1, "one write between the creates, no read took a zxid");
    cr_assert_eq(r->rc[5], 0);
    cr_assert_eq(r->v[6], 1, "the listing's watch: %lld events", (long long)r->v[6]);
    cr_assert_eq(r->v[20], ZK_EV_CHILD);
    cr_assert_str_eq(r->s[0], "/pl");
    cr_assert_eq(r->rc[6], -EEXIST);
    cr_assert_eq(r->rc[7], -EEXIST, "a failed create's listing is not reported");
    cr_assert_eq(r->v[7], 0, "a failed create's listing is discarded");
    cr_assert_eq(r->v[8], ZK_NODEEXISTS);
    cr_assert_eq(r->rc[8], -ENOENT);
    cr_assert_eq(r->rc[9], -ENOENT);
    cr_assert_eq(r->v[9], 0);
    cr_assert_eq(r->rc[10], -EINVAL);
    cr_assert_eq(r->rc[11], -EINVAL);
    cr_assert_eq(r->rc[12], -EINVAL);
    cr_assert_eq(r->rc[13], -EINVAL);
    cr_assert_eq(r->rc[14], 0);
    cr_assert_eq(r->v[10], 1);
    cr_assert(r->v[11]);
}

/* ---- Sessions --------------------------------------------------------------------------- */

/* The timeout the server grants (run with the requested one in r->v[31]). */
static void sem_timeout(struct env *e, struct zk *z, struct zk_sem *r)
{
    struct zk_session ss;
    r->rc[0] = zk_await_connected(z, 30000 * SEM_MS);
    zk_session(z, &ss);
    r->v[0] = ss.timeout_ns;
    r->v[1] = ss.id;
}

/* An ephemeral node goes when its session closes; a watcher on it hears. Runs with two
 * sessions: z (which closes) and w (which watches). */
static void sem_close(struct env *e, struct zk *z, struct zk *w, struct zk_sem *r)
{
    cr_assert_eq(zk_await_connected(z, 30000 * SEM_MS), 0);
    cr_assert_eq(zk_await_connected(w, 30000 * SEM_MS), 0);
    r->rc[0] = zk_create(z, "/gone", NULL, 0, ZK_EPHEMERAL, NULL, 0, NULL);
    r->rc[1] = zk_exists(w, "/gone", true, NULL);
    zk_close(z);
    struct zk_event ev;
    do
        r->rc[2] = zk_wait(w, &ev, 5000 * SEM_MS);
    while (r->rc[2] == 1 && ev.type == ZK_EV_SESSION);
    r->v[0] = ev.type;
    r->rc[3] = zk_exists(w, "/gone", false, NULL);
}

static void sem_close_check(const struct zk_sem *r)
{
    cr_assert_eq(r->rc[0], 0);
    cr_assert_eq(r->rc[1], 0);
    cr_assert_eq(r->rc[2], 1, "no notification of the deletion");
    cr_assert_eq(r->v[0], ZK_EV_DELETED);
    cr_assert_eq(r->rc[3], -ENOENT);
}

#endif
