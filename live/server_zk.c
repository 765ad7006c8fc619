/* server_zk.c - the ZooKeeper recipe (servers.h): QuorumPeerMain on java with a zoo.cfg
 * and a myid per server, loopback ports only, admin server off; ready when a client
 * session to that server alone connects (the four-letter words are not whitelisted by
 * default, and a session is what a client needs anyway). */
#define THREADED
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "live/servers_internal.h"

#define ZK_JAR "/usr/share/java/zookeeper.jar"
#define SLF4J_SIMPLE_JAR "/usr/share/java/slf4j-simple.jar"
#define PROBE_WAIT_MS 2000

static void quiet_log(const char *message)
{
    (void)message;
}

static void no_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx) {}

int live__zk_ping(const char *hosts, int64_t timeout_ns)
{
    zhandle_t *zh = zookeeper_init2(hosts, no_watch, 4000, NULL, NULL, 0, quiet_log);
    if (!zh)
        return errno == EINVAL ? -EINVAL : -ECONNREFUSED;
    bool ok = false;
    for (int64_t waited = 0; waited < timeout_ns && !ok; waited += 10000000) {
        ok = zoo_state(zh) == ZOO_CONNECTED_STATE;
        if (!ok) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    zookeeper_close(zh);
    return ok ? 0 : -ECONNREFUSED;
}

/* One session attempt to this server alone, bounded by PROBE_WAIT_MS; closed at once. */
static int session_probe(struct live_proc *p, void *arg, char *err, size_t errlen)
{
    struct live__member *m = arg;
    return live__zk_ping(m->addr, PROBE_WAIT_MS * 1000000LL) == 0;
}

int live__zk_prepare(struct live_cluster *c, int n, char *err, size_t errlen)
{
    char java[512];
    int rc = live__need_exe("java", "zookeeper", java, sizeof(java), err, errlen);
    if (rc == 0 && access(ZK_JAR, R_OK) != 0) {
        snprintf(err, errlen, "%s is missing; install it with: apt-get install -y zookeeper",
                 ZK_JAR);
        rc = -ENOENT;
    }
    bool ensemble = n > 1;
    for (int i = 0; rc == 0 && i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "zk-%d", i);
        rc = live__member_init(c, i, name, ensemble ? 3 : 1, err, errlen);
        c->n = i + 1;
        snprintf(c->m[i].addr, sizeof(c->m[i].addr), "127.0.0.1:%d", c->m[i].port[0]);
    }
    if (rc < 0)
        return rc;
    int64_t tick_ms = c->opts.zk_tick_ns > 0 ? c->opts.zk_tick_ns / 1000000 : 200;
    if (tick_ms < 1)
        tick_ms = 1;
    /* The server lines every member shares; myid N+1 is zk-N. */
    char servers[LIVE_CLUSTER_MAX * 64] = "";
    size_t off = 0;
    for (int i = 0; ensemble && i < n; i++)
        off += (size_t)snprintf(servers + off, sizeof(servers) - off, "server.%d=127.0.0.1:%d:%d\n",
                                i + 1, c->m[i].port[1], c->m[i].port[2]);
    char cp[256];
    snprintf(cp, sizeof(cp), "%s%s", ZK_JAR,
             access(SLF4J_SIMPLE_JAR, R_OK) == 0 ? ":" SLF4J_SIMPLE_JAR : "");
    for (int i = 0; rc == 0 && i < n; i++) {
        struct live__member *m = &c->m[i];
        /* initLimit 50 ticks: a follower's JVM on a loaded machine may be slow to sync;
         * syncLimit 10 ticks: a stopped follower is dropped after 2 s at 200 ms. */
        char cfg[sizeof(servers) + 512], path[256], myid[16];
        snprintf(cfg, sizeof(cfg),
                 "tickTime=%lld\ninitLimit=50\nsyncLimit=10\ndataDir=%s\n"
                 "clientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                 "maxClientCnxns=0\n4lw.commands.whitelist=ruok,srvr,stat\n%s",
                 (long long)tick_ms, m->dir, m->port[0], servers);
        snprintf(path, sizeof(path), "%s/zoo.cfg", m->dir);
        if ((rc = live__write_file(path, cfg, err, errlen)) < 0)
            break;
        if (ensemble) {
            char idpath[256];
            snprintf(idpath, sizeof(idpath), "%s/myid", m->dir);
            snprintf(myid, sizeof(myid), "%d\n", i + 1);
            if ((rc = live__write_file(idpath, myid, err, errlen)) < 0)
                break;
        }
        /* A small heap and the serial collector: three JVMs share two cores here. */
        /* clang-format off */
        const char *argv[] = {java,
                              "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC",
                              "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
                              "-Djava.net.preferIPv4Stack=true",
                              "-Dzookeeper.admin.enableServer=false",
                              "-Dorg.slf4j.simpleLogger.showDateTime=true",
                              "-cp", cp,
                              "org.apache.zookeeper.server.quorum.QuorumPeerMain", path,
                              NULL};
        /* clang-format on */
        rc = live__member_proc(m, argv, session_probe, err, errlen);
    }
    if (rc == 0)
        live__join_addrs(c, 0, c->n);
    return rc;
}
