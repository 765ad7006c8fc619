/* server_etcd.c - the etcd recipe (servers.h): members on 127.0.0.1 client and peer ports,
 * ready when a linearizable read answers through the v3 JSON gateway (libcurl). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/servers_internal.h"

#define PROBE_TIMEOUT_MS 1000

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct body {
    char buf[512];
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb, room = sizeof(b->buf) - 1 - b->len;
    memcpy(b->buf + b->len, data, n < room ? n : room);
    b->len += n < room ? n : room;
    b->buf[b->len] = 0;
    return n;
}

int live__etcd_ping(const char *addr, int64_t timeout_ns)
{
    pthread_once(&curl_once, curl_init);
    CURL *h = curl_easy_init();
    if (!h)
        return -ENOMEM;
    char url[192];
    snprintf(url, sizeof(url), "%s/v3/kv/range", addr);
    struct body b = {.len = 0};
    long ms = (long)(timeout_ns / 1000000);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"key\":\"ZGlzdGxhYg==\"}"); /* "distlab" */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long status = 0;
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return -ETIMEDOUT;
    return status == 200 && strstr(b.buf, "\"header\"") ? 0 : -ECONNREFUSED;
}

/* Ready: POST /v3/kv/range (linearizable: serializable is false) answers 200 with a
 * header, which needs a leader and this member caught up with it. */
static int range_probe(struct live_proc *p, void *arg, char *err, size_t errlen)
{
    struct live__member *m = arg;
    return live__etcd_ping(m->addr, PROBE_TIMEOUT_MS * 1000000LL) == 0;
}

int live__etcd_prepare(struct live_cluster *c, int n, char *err, size_t errlen)
{
    char exe[512];
    int rc = live__need_exe("etcd", "etcd-server", exe, sizeof(exe), err, errlen);
    for (int i = 0; rc == 0 && i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "etcd-%d", i);
        rc = live__member_init(c, i, name, 2, err, errlen);
        c->n = i + 1;
        snprintf(c->m[i].addr, sizeof(c->m[i].addr), "http://127.0.0.1:%d", c->m[i].port[0]);
    }
    if (rc < 0)
        return rc;
    char cluster[LIVE_CLUSTER_MAX * 48], token[64];
    size_t off = 0;
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(cluster + off, sizeof(cluster) - off, "%s%s=http://127.0.0.1:%d",
                                i ? "," : "", c->m[i].name, c->m[i].port[1]);
    /* A token of its own, so members of two runs never take each other for peers. */
    const char *dir = live_dir_path(c->dir);
    snprintf(token, sizeof(token), "distlab-%s", strrchr(dir, '-') + 1);
    for (int i = 0; rc == 0 && i < n; i++) {
        struct live__member *m = &c->m[i];
        char client[64], peer[64], data[200];
        snprintf(client, sizeof(client), "http://127.0.0.1:%d", m->port[0]);
        snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", m->port[1]);
        snprintf(data, sizeof(data), "%s/data", m->dir);
        /* clang-format off */
        const char *argv[] = {exe,
                              "--name", m->name,
                              "--data-dir", data,
                              "--listen-client-urls", client,
                              "--advertise-client-urls", client,
                              "--listen-peer-urls", peer,
                              "--initial-advertise-peer-urls", peer,
                              "--initial-cluster", cluster,
                              "--initial-cluster-token", token,
                              "--initial-cluster-state", "new",
                              "--logger", "zap",
                              "--log-outputs", "stderr",
                              NULL};
        /* clang-format on */
        rc = live__member_proc(m, argv, range_probe, err, errlen);
    }
    if (rc == 0)
        live__join_addrs(c, 0, c->n);
    return rc;
}
