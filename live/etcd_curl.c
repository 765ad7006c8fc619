/* etcd_curl.c - client/etcd.h over etcd's v3 JSON gateway (see etcd_curl.h). Requests are
 * built and answers read with jansson; keys and values are base64 on the wire. */
#include "live/etcd_curl.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ENDPOINTS 8
#define URL_MAX 128

struct buf {
    char *p;
    size_t n, cap;
};

struct lwatch {
    struct etcd_watch base;
    struct lconn *c;
    CURL *h;
    CURLM *multi;
    struct curl_slist *hdrs;
    char *body;
    struct buf in; /* bytes received, not yet parsed */
    bool done;     /* the transfer ended */
    int err;       /* 0, or -ECANCELED / -ECONNRESET / -EPROTO once it is over */
    struct etcd_event *q;
    size_t head, n, cap;
};

struct lconn {
    struct etcd base;
    char ep[MAX_ENDPOINTS][URL_MAX];
    size_t nep, cur;
    CURL *h;
    struct curl_slist *hdrs;
    struct buf out;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static struct lconn *conn(struct etcd *c)
{
    return (struct lconn *)(void *)c;
}

const char *live_etcd_endpoint(const struct etcd *c)
{
    const struct lconn *l = (const struct lconn *)(const void *)c;
    return l->ep[l->cur];
}

/* ---- Buffers and base64 -------------------------------------------------------------- */

static int buf_add(struct buf *b, const void *data, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + len + 1)
            nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = 0;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    return buf_add(arg, data, size * nmemb) == 0 ? size * nmemb : 0;
}

/* base64 of s into out (4 * ceil(len / 3) + 1 bytes). */
static void b64(const char *s, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)strlen(s));
}

/* Decode base64 'in' into out (cap bytes, NUL-terminated, truncated to fit). Returns
 * the decoded length, or -EPROTO. */
static int unb64(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in);
    if (len % 4)
        return -EPROTO;
    unsigned char *tmp = malloc(len / 4 * 3 + 1);
    if (!tmp)
        return -ENOMEM;
    int n = len ? EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len) : 0;
    if (n < 0) {
        free(tmp);
        return -EPROTO;
    }
    for (size_t i = len; i > 0 && in[i - 1] == '=' && n > 0; i--)
        n--; /* EVP_DecodeBlock counts the padding as zero bytes */
    size_t k = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
    memcpy(out, tmp, k);
    out[k] = 0;
    free(tmp);
    return n;
}

/* ---- JSON helpers ----------------------------------------------------------------------- */

static json_t *jb64(const char *s)
{
    char enc[(ETCD_KEY_MAX + ETCD_VAL_MAX + 2) / 3 * 4 + 8];
    b64(s, enc);
    return json_string(enc);
}

/* A 64-bit number the gateway writes as a string (or, rarely, as a number). */
static int64_t jint(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    return 0;
}

/* A member id: an unsigned 64-bit number (a string on the wire). */
static uint64_t juint(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_string(v) ? strtoull(json_string_value(v), NULL, 10) : 0;
}

static json_t *jnum(int64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "%lld", (long long)v);
    return json_string(s);
}

static int parse_kv(const json_t *o, struct etcd_kv *kv)
{
    memset(kv, 0, sizeof(*kv));
    const char *k = json_string_value(json_object_get(o, "key"));
    const char *v = json_string_value(json_object_get(o, "value"));
    if (!k || unb64(k, kv->key, sizeof(kv->key)) < 0)
        return -EPROTO;
    if (v && unb64(v, kv->val, sizeof(kv->val)) < 0)
        return -EPROTO;
    kv->create_rev = jint(o, "create_revision");
    kv->mod_rev = jint(o, "mod_revision");
    kv->version = jint(o, "version");
    kv->lease = jint(o, "lease");
    return 0;
}

/* The gateway's gRPC status code in an error answer, as an errno. */
static int grpc_errno(int64_t code)
{
    switch (code) {
    case 3:  /* InvalidArgument: empty key, ... */
    case 11: /* OutOfRange: too large lease TTL, compacted or future revision */
        return -EINVAL;
    case 5: /* NotFound: requested lease not found */
        return -ENOENT;
    case 14: /* Unavailable: no leader, request timed out, leader changed */
    case 4:  /* DeadlineExceeded */
        return -EAGAIN;
    case 8: /* ResourceExhausted: too many requests */
        return -EAGAIN;
    default:
        return -EPROTO;
    }
}

static int curl_errno(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return -ECONNREFUSED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default: /* send/recv errors, an empty or cut answer */
        return -ECONNRESET;
    }
}

static long timeout_ms(int64_t ns)
{
    long ms = (long)((ns + 999999) / 1000000);
    return ms < 1 ? 1 : ms;
}

/* ---- Unary calls ------------------------------------------------------------------------- */

static int ensure(struct lconn *c)
{
    if (c->h)
        return 0;
    c->h = curl_easy_init();
    if (!c->h)
        return -ENOMEM;
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->out);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
    return 0;
}

static void rotate(struct lconn *c)
{
    if (c->h) { /* a fresh connection to the next endpoint */
        curl_easy_cleanup(c->h);
        c->h = NULL;
    }
    c->cur = (c->cur + 1) % c->nep;
}

/* POST the request to path; on success *resp is the parsed answer (caller frees) and its
 * header revision goes to *rev. Returns 0 or an errno (an error answer, a transport error,
 * -EPROTO for an answer that does not parse). Consumes req. */
static int post(struct lconn *c, const char *path, json_t *req, json_t **resp, int64_t *rev)
{
    *resp = NULL;
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return -ENOMEM;
    int rc = ensure(c);
    if (rc < 0) {
        free(body);
        return rc;
    }
    char url[URL_MAX + 64];
    snprintf(url, sizeof(url), "%s%s", c->ep[c->cur], path);
    c->out.n = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms(c->base.timeout_ns));
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(c->base.timeout_ns));
    CURLcode cr = curl_easy_perform(c->h);
    free(body);
    if (cr != CURLE_OK) {
        rc = curl_errno(cr);
        rotate(c);
        return rc;
    }
    json_t *j = json_loadb(c->out.p ? c->out.p : "", c->out.n, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return -EPROTO;
    }
    /* a streaming endpoint (keep-alive) wraps its one answer in "result" */
    json_t *inner = json_object_get(j, "result");
    json_t *o = json_is_object(inner) ? inner : j;
    if (json_object_get(o, "error") || json_object_get(j, "error")) {
        json_t *e = json_object_get(j, "error");
        const json_t *src = json_is_object(e) ? e : j; /* streams nest it, with grpc_code */
        rc = grpc_errno(json_object_get(src, "code") ? jint(src, "code") : jint(src, "grpc_code"));
        json_decref(j);
        if (rc == -EAGAIN)
            rotate(c); /* that member knows no leader (or timed out): ask another next */
        return rc;
    }
    if (rev)
        *rev = jint(json_object_get(o, "header"), "revision");
    json_incref(o);
    json_decref(j);
    *resp = o;
    return 0;
}

static const char *const sort_orders[] = {"NONE", "ASCEND", "DESCEND"};
static const char *const sort_targets[] = {"KEY", "CREATE", "MOD", "VERSION"};
static const char *const cmp_targets[] = {"VERSION", "CREATE", "MOD", "VALUE"};
static const char *const cmp_results[] = {"EQUAL", "NOT_EQUAL", "LESS", "GREATER"};

/* Set "range_end" for a prefix. */
static void set_range_end(json_t *o, const char *key, bool prefix)
{
    if (!prefix)
        return;
    char end[ETCD_KEY_MAX + 1];
    if (etcd_prefix_end(key, end))
        json_object_set_new(o, "range_end", jb64(end));
    else
        json_object_set_new(o, "range_end", json_string("AA==")); /* "\0": to the end */
}

static json_t *op_json(const struct etcd_op *op)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", jb64(op->key));
    switch (op->kind) {
    case ETCD_OP_PUT:
        json_object_set_new(o, "value", jb64(op->val ? op->val : ""));
        if (op->lease)
            json_object_set_new(o, "lease", jnum(op->lease));
        break;
    case ETCD_OP_DELETE:
        set_range_end(o, op->key, op->prefix);
        break;
    case ETCD_OP_RANGE: {
        set_range_end(o, op->key, op->prefix);
        int64_t limit = op->limit;
        if (limit > 0)
            json_object_set_new(o, "limit", jnum(limit));
        if (op->sort_order != ETCD_SORT_NONE || op->sort_target != ETCD_SORT_KEY) {
            json_object_set_new(o, "sort_order", json_string(sort_orders[op->sort_order]));
            json_object_set_new(o, "sort_target", json_string(sort_targets[op->sort_target]));
        }
        if (op->max_create_rev > 0)
            json_object_set_new(o, "max_create_revision", jnum(op->max_create_rev));
        if (!op->kvs || op->cap == 0)
            json_object_set_new(o, "count_only", json_true());
        break;
    }
    }
    return o;
}

/* Fill op's answer from a range/put/delete response object. */
static int op_answer(struct etcd_op *op, const json_t *r)
{
    op->n = 0;
    op->count = 0;
    op->deleted = 0;
    if (op->kind == ETCD_OP_DELETE) {
        op->deleted = jint(r, "deleted");
        return 0;
    }
    if (op->kind != ETCD_OP_RANGE)
        return 0;
    op->count = jint(r, "count");
    const json_t *kvs = json_object_get(r, "kvs");
    size_t i;
    const json_t *kv;
    json_array_foreach(kvs, i, kv)
    {
        if (!op->kvs || op->n >= op->cap)
            break;
        if (parse_kv(kv, &op->kvs[op->n]) < 0)
            return -EPROTO;
        op->n++;
    }
    return 0;
}

static const char *const req_names[] = {"", "request_range", "request_put", "request_delete_range"};
static const char *const resp_names[] = {"", "response_range", "response_put",
                                         "response_delete_range"};

static int l_txn(struct etcd *ec, const struct etcd_cmp *cmps, size_t ncmp,
                 struct etcd_op *then_ops, size_t nthen, struct etcd_op *else_ops, size_t nelse,
                 bool *succeeded, int64_t *rev)
{
    json_t *req = json_object(), *cmp = json_array(), *ok = json_array(), *ko = json_array();
    int rc = 0;
    for (size_t i = 0; i < ncmp; i++) {
        const struct etcd_cmp *k = &cmps[i];
        json_t *c = json_object();
        json_object_set_new(c, "key", jb64(k->key));
        json_object_set_new(c, "target", json_string(cmp_targets[k->target]));
        json_object_set_new(c, "result", json_string(cmp_results[k->result]));
        if (k->target == ETCD_CMP_VALUE)
            json_object_set_new(c, "value", jb64(k->val ? k->val : ""));
        else
            json_object_set_new(c,
                                k->target == ETCD_CMP_VERSION  ? "version"
                                : k->target == ETCD_CMP_CREATE ? "create_revision"
                                                               : "mod_revision",
                                jnum(k->num));
        json_array_append_new(cmp, c);
    }
    for (size_t i = 0; i < nthen + nelse; i++) {
        const struct etcd_op *op = i < nthen ? &then_ops[i] : &else_ops[i - nthen];
        json_t *w = json_object();
        json_object_set_new(w, req_names[op->kind], op_json(op));
        json_array_append_new(i < nthen ? ok : ko, w);
    }
    json_object_set_new(req, "compare", cmp);
    json_object_set_new(req, "success", ok);
    json_object_set_new(req, "failure", ko);
    json_t *resp;
    if ((rc = post(conn(ec), "/v3/kv/txn", req, &resp, rev)) < 0)
        return rc;
    bool yes = json_is_true(json_object_get(resp, "succeeded"));
    struct etcd_op *ops = yes ? then_ops : else_ops;
    size_t n = yes ? nthen : nelse;
    const json_t *rs = json_object_get(resp, "responses");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const json_t *r = json_object_get(json_array_get(rs, i), resp_names[ops[i].kind]);
        rc = op_answer(&ops[i], r);
    }
    json_decref(resp);
    if (rc == 0 && succeeded)
        *succeeded = yes;
    return rc;
}

static int l_op(struct etcd *ec, struct etcd_op *op, int64_t *rev)
{
    int rc;
    static const char *const paths[] = {"", "/v3/kv/range", "/v3/kv/put", "/v3/kv/deleterange"};
    json_t *resp;
    if ((rc = post(conn(ec), paths[op->kind], op_json(op), &resp, rev)) < 0)
        return rc;
    rc = op_answer(op, resp);
    json_decref(resp);
    return rc;
}

static int l_grant(struct etcd *ec, int64_t ttl_s, int64_t *id, int64_t *granted_s, int64_t *rev)
{
    json_t *req = json_object(), *resp;
    json_object_set_new(req, "TTL", jnum(ttl_s));
    int rc = post(conn(ec), "/v3/lease/grant", req, &resp, rev);
    if (rc < 0)
        return rc;
    if (json_object_get(resp, "error"))
        rc = -EINVAL;
    if (id)
        *id = jint(resp, "ID");
    if (granted_s)
        *granted_s = jint(resp, "TTL");
    json_decref(resp);
    return rc;
}

static int l_revoke(struct etcd *ec, int64_t id, int64_t *rev)
{
    json_t *req = json_object(), *resp;
    json_object_set_new(req, "ID", jnum(id));
    int rc = post(conn(ec), "/v3/lease/revoke", req, &resp, rev);
    json_decref(resp);
    return rc;
}

static int l_keepalive(struct etcd *ec, int64_t id, int64_t *ttl_s, int64_t *rev)
{
    json_t *req = json_object(), *resp;
    json_object_set_new(req, "ID", jnum(id));
    int rc = post(conn(ec), "/v3/lease/keepalive", req, &resp, rev);
    if (rc < 0)
        return rc;
    int64_t ttl = jint(resp, "TTL");
    json_decref(resp);
    if (ttl <= 0)
        return -ENOENT; /* etcd answers TTL 0 (omitted) for a lease it no longer has */
    if (ttl_s)
        *ttl_s = ttl;
    return 0;
}

static int l_compact(struct etcd *ec, int64_t rev)
{
    json_t *req = json_object(), *resp;
    json_object_set_new(req, "revision", jnum(rev));
    int rc = post(conn(ec), "/v3/kv/compaction", req, &resp, NULL);
    json_decref(resp);
    return rc;
}

/* ---- Watches ------------------------------------------------------------------------- */

static void queue_event(struct lwatch *w, const struct etcd_event *ev)
{
    if (w->head > 0 && w->n == w->cap) {
        memmove(w->q, w->q + w->head, (w->n - w->head) * sizeof(*w->q));
        w->n -= w->head;
        w->head = 0;
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        struct etcd_event *q = realloc(w->q, nc * sizeof(*q));
        if (!q) {
            w->err = -ENOMEM;
            return;
        }
        w->q = q;
        w->cap = nc;
    }
    w->q[w->n++] = *ev;
}

/* One line of the stream: {"result": {header, created, canceled, compact_revision,
 * events}} or {"error": ...}. Sets *created when it is the creation answer. */
static void take_line(struct lwatch *w, const char *line, size_t len, bool *created, int64_t *rev)
{
    json_t *j = json_loadb(line, len, 0, NULL);
    json_t *r = json_object_get(j, "result");
    if (!json_is_object(r)) {
        if (!w->err)
            w->err = json_object_get(j, "error") ? -ECONNRESET : -EPROTO;
        json_decref(j);
        return;
    }
    if (json_is_true(json_object_get(r, "created"))) {
        *created = true;
        if (rev)
            *rev = jint(json_object_get(r, "header"), "revision");
    }
    const json_t *evs = json_object_get(r, "events");
    size_t i;
    const json_t *e;
    json_array_foreach(evs, i, e)
    {
        struct etcd_event ev;
        const char *type = json_string_value(json_object_get(e, "type"));
        ev.type = type && !strcmp(type, "DELETE") ? ETCD_EV_DELETE : ETCD_EV_PUT;
        if (parse_kv(json_object_get(e, "kv"), &ev.kv) < 0) {
            w->err = -EPROTO;
            break;
        }
        queue_event(w, &ev);
    }
    if (json_is_true(json_object_get(r, "canceled")) && !w->err) {
        w->base.compact_rev = jint(r, "compact_revision");
        w->err = w->base.compact_rev > 0 ? -ECANCELED : -ECONNRESET;
    }
    json_decref(j);
}

/* Parse every complete line received so far. */
static void take_lines(struct lwatch *w, bool *created, int64_t *rev)
{
    size_t off = 0;
    while (off < w->in.n) {
        char *nl = memchr(w->in.p + off, '\n', w->in.n - off);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (w->in.p + off));
        if (len > 0)
            take_line(w, w->in.p + off, len, created, rev);
        off += len + 1;
    }
    if (off) {
        memmove(w->in.p, w->in.p + off, w->in.n - off);
        w->in.n -= off;
    }
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Drive the transfer until 'stop' says so or deadline_ns passes (< 0: never). Returns 0,
 * -ETIMEDOUT, or the transfer's end as an errno. */
static int pump(struct lwatch *w, int64_t deadline_ns, bool (*stop)(struct lwatch *w, void *arg),
                void *arg, bool *created, int64_t *rev)
{
    for (;;) {
        int running = 0;
        curl_multi_perform(w->multi, &running);
        take_lines(w, created, rev);
        if (stop(w, arg))
            return 0;
        if (!running) {
            int left;
            CURLMsg *msg = curl_multi_info_read(w->multi, &left);
            w->done = true;
            take_lines(w, created, rev);
            if (stop(w, arg))
                return 0;
            if (!w->err)
                w->err = msg && msg->data.result != CURLE_OK ? curl_errno(msg->data.result)
                                                             : -ECONNRESET;
            if (w->err == -ETIMEDOUT)
                w->err = -ECONNRESET;
            return w->err;
        }
        int64_t wait = deadline_ns < 0 ? 1000000000LL : deadline_ns - mono_ns();
        if (wait <= 0)
            return -ETIMEDOUT;
        curl_multi_poll(w->multi, NULL, 0,
                        (int)timeout_ms(wait < 1000000000LL ? wait : 1000000000LL), NULL);
    }
}

static bool is_created(struct lwatch *w, void *arg)
{
    return *(bool *)arg || w->err;
}

static bool has_event(struct lwatch *w, void *arg)
{
    return w->head < w->n || w->err;
}

static size_t on_stream(char *data, size_t size, size_t nmemb, void *arg)
{
    struct lwatch *w = arg;
    return buf_add(&w->in, data, size * nmemb) == 0 ? size * nmemb : 0;
}

static void free_watch(struct lwatch *w)
{
    if (w->multi) {
        if (w->h)
            curl_multi_remove_handle(w->multi, w->h);
        curl_multi_cleanup(w->multi);
    }
    if (w->h)
        curl_easy_cleanup(w->h); /* closes the stream: the server cancels the watch */
    curl_slist_free_all(w->hdrs);
    free(w->body);
    free(w->in.p);
    free(w->q);
    free(w);
}

static int l_watch_open(struct etcd *ec, const char *key, bool prefix, int64_t start_rev,
                        struct etcd_watch **out, int64_t *rev)
{
    struct lconn *c = conn(ec);
    struct lwatch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->base.c = ec;
    w->c = c;
    json_t *cr = json_object(), *req = json_object();
    json_object_set_new(cr, "key", jb64(key));
    set_range_end(cr, key, prefix);
    if (start_rev > 0)
        json_object_set_new(cr, "start_revision", jnum(start_rev));
    json_object_set_new(req, "create_request", cr);
    w->body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    w->h = curl_easy_init();
    w->multi = curl_multi_init();
    w->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    w->hdrs = w->hdrs ? curl_slist_append(w->hdrs, "Expect:") : NULL;
    if (!w->body || !w->h || !w->multi || !w->hdrs) {
        free_watch(w);
        return -ENOMEM;
    }
    char url[URL_MAX + 16];
    snprintf(url, sizeof(url), "%s/v3/watch", c->ep[c->cur]);
    curl_easy_setopt(w->h, CURLOPT_URL, url);
    curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, w->hdrs);
    curl_easy_setopt(w->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(w->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(c->base.timeout_ns));
    curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
    if (curl_multi_add_handle(w->multi, w->h) != CURLM_OK) {
        free_watch(w);
        return -ENOMEM;
    }
    bool created = false;
    int rc = pump(w, mono_ns() + c->base.timeout_ns, is_created, &created, &created, rev);
    if (!created) {
        free_watch(w);
        if (rc != -ENOMEM)
            rotate(c);
        return rc < 0 ? rc : -EPROTO;
    }
    *out = &w->base;
    return 0;
}

static int l_watch_next(struct etcd_watch *ew, struct etcd_event *ev, int64_t timeout_ns)
{
    struct lwatch *w = (struct lwatch *)(void *)ew;
    bool created = true;
    if (w->head >= w->n && !w->err) {
        int rc =
            pump(w, timeout_ns < 0 ? -1 : mono_ns() + timeout_ns, has_event, NULL, &created, NULL);
        if (rc == -ETIMEDOUT)
            return rc;
    }
    if (w->head < w->n) {
        *ev = w->q[w->head++];
        if (w->head == w->n)
            w->head = w->n = 0;
        return 0;
    }
    return w->err ? w->err : -EPROTO;
}

static void l_watch_close(struct etcd_watch *ew)
{
    free_watch((struct lwatch *)(void *)ew);
}

static void l_close(struct etcd *ec)
{
    struct lconn *c = conn(ec);
    if (c->h)
        curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdrs);
    free(c->out.p);
    free(c);
}

static const struct etcd_ops live_etcd_ops = {
    .txn = l_txn,
    .op = l_op,
    .lease_grant = l_grant,
    .lease_revoke = l_revoke,
    .lease_keepalive = l_keepalive,
    .compact = l_compact,
    .watch_open = l_watch_open,
    .watch_next = l_watch_next,
    .watch_close = l_watch_close,
    .close = l_close,
};

/* ---- Endpoints --------------------------------------------------------------------------- */

static int parse_endpoints(struct lconn *c, const char *endpoints)
{
    const char *p = endpoints;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        const char *scheme = strncmp(p, "http://", 7) == 0 ? "" : "http://";
        if (len == 0 || c->nep == MAX_ENDPOINTS || len + strlen(scheme) >= URL_MAX)
            return -EINVAL;
        if (strncmp(p, "https://", 8) == 0)
            return -EINVAL; /* no TLS here */
        int n = snprintf(c->ep[c->nep], URL_MAX, "%s%.*s", scheme, (int)len, p);
        while (n > 0 && c->ep[c->nep][n - 1] == '/')
            c->ep[c->nep][--n] = 0;
        if (!strchr(c->ep[c->nep] + 7, ':'))
            return -EINVAL; /* host:port */
        c->nep++;
        p += len;
        if (*p == ',')
            p++;
    }
    return c->nep ? 0 : -EINVAL;
}

struct etcd *live_etcd_connect(const char *endpoints, int64_t timeout_ns)
{
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ok || !endpoints || timeout_ns <= 0)
        return NULL;
    struct lconn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &live_etcd_ops;
    c->base.timeout_ns = timeout_ns;
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdrs = c->hdrs ? curl_slist_append(c->hdrs, "Expect:") : NULL; /* no 100-continue */
    if (!c->hdrs || parse_endpoints(c, endpoints) < 0) {
        curl_slist_free_all(c->hdrs);
        free(c);
        return NULL;
    }
    return &c->base;
}

struct etcd *live_etcd_connect_from(const char *endpoints, size_t first, int64_t timeout_ns)
{
    struct etcd *ec = live_etcd_connect(endpoints, timeout_ns);
    if (ec)
        conn(ec)->cur = first % conn(ec)->nep;
    return ec;
}

int live_etcd_version(struct etcd *ec)
{
    struct lconn *c = conn(ec);
    int rc = ensure(c);
    if (rc < 0)
        return rc;
    char url[URL_MAX + 16];
    snprintf(url, sizeof(url), "%s/version", c->ep[c->cur]);
    c->out.n = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms(c->base.timeout_ns));
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(c->base.timeout_ns));
    CURLcode cr = curl_easy_perform(c->h);
    long code = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    rc = cr != CURLE_OK ? curl_errno(cr) : code == 200 ? 0 : -EPROTO;
    if (rc < 0)
        rotate(c);
    return rc;
}

int live_etcd_leader(const char *endpoints, int64_t timeout_ns)
{
    struct etcd *ec = live_etcd_connect(endpoints, timeout_ns);
    if (!ec)
        return -EINVAL;
    struct lconn *c = conn(ec);
    int rc = -ENOENT;
    for (size_t i = 0; i < c->nep; i++) {
        c->cur = i;
        json_t *resp;
        /* each member says who it is and whom it follows */
        int r = post(c, "/v3/maintenance/status", json_object(), &resp, NULL);
        if (r < 0) {
            if (rc == -ENOENT)
                rc = r;
            continue;
        }
        uint64_t self = juint(json_object_get(resp, "header"), "member_id");
        uint64_t leader = juint(resp, "leader");
        json_decref(resp);
        if (self != 0 && self == leader) {
            rc = (int)i;
            break;
        }
    }
    etcd_close(ec);
    return rc;
}

/* The member id of endpoint i (its status header), or 0. */
static uint64_t member_id(struct lconn *c, size_t i)
{
    c->cur = i;
    json_t *resp;
    if (post(c, "/v3/maintenance/status", json_object(), &resp, NULL) < 0)
        return 0;
    uint64_t id = juint(json_object_get(resp, "header"), "member_id");
    json_decref(resp);
    return id;
}

int live_etcd_make_leader(const char *endpoints, size_t target, int64_t timeout_ns)
{
    int64_t deadline = mono_ns() + timeout_ns;
    struct etcd *ec = live_etcd_connect(endpoints, timeout_ns);
    if (!ec)
        return -EINVAL;
    struct lconn *c = conn(ec);
    int rc = target < c->nep ? 0 : -EINVAL;
    uint64_t id = rc == 0 ? member_id(c, target) : 0;
    if (rc == 0 && id == 0)
        rc = -ECONNREFUSED;
    while (rc == 0) {
        int leader = live_etcd_leader(endpoints, timeout_ns);
        if (leader == (int)target)
            break;
        if (mono_ns() > deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        if (leader >= 0) { /* only the leader hands over */
            json_t *req = json_object(), *resp = NULL;
            char num[24];
            snprintf(num, sizeof(num), "%llu", (unsigned long long)id);
            json_object_set_new(req, "targetID", json_string(num));
            c->cur = (size_t)leader;
            if (post(c, "/v3/maintenance/transfer-leadership", req, &resp, NULL) == 0)
                json_decref(resp);
        }
        struct timespec nap = {0, 50000000L};
        nanosleep(&nap, NULL);
    }
    etcd_close(ec);
    return rc;
}

int live_etcd_ping(const char *endpoints, int64_t timeout_ns)
{
    struct etcd *ec = live_etcd_connect(endpoints, timeout_ns);
    if (!ec)
        return -EINVAL;
    int rc = -ECONNREFUSED;
    for (size_t i = 0; i < conn(ec)->nep && rc < 0; i++)
        rc = live_etcd_version(ec); /* a failure moves to the next endpoint */
    etcd_close(ec);
    return rc;
}
