/* make_dict.c - writes the scenario fuzzers' dictionary (libFuzzer's -dict format) to
 * stdout: the loader's keys and words, then every workload's name, parameters and enum
 * choices from the executable's own table, so the dictionary never lags the workloads. */
#include <stdio.h>
#include <string.h>

#include "lab/lab.h"

/* The loader's vocabulary (DESIGN.md "A scenario file"), and YAML's. */
/* clang-format off */
static const char *const words[] = {
    /* top level */
    "name", "about", "seed", "duration", "repeat", "world", "workload", "faults", "sweep",
    "plots", "expect", "primitive",
    /* world */
    "cores", "nodes", "slice", "stack", "max_events", "network", "links", "clocks", "redis",
    "etcd", "zookeeper", "latency", "jitter", "loss", "from", "to", "both", "node", "offset",
    "drift", "dist", "const", "uniform", "lognormal", "value", "min", "max", "median", "p99",
    "world.cores", "world.nodes", "world.slice", "world.network.loss", "workload.",
    /* faults */
    "at", "crash", "restart", "pause", "clock", "partition", "for", "step", "ppm", "until",
    "oneway", "client-*", "redis-0", "client-0",
    /* the node names the workloads give (lab.h), which faults, links and clocks name */
    "replica-0", "sentinel-0", "etcd-0", "zk-0", "zk-2", "zk-*", "broker-0", "worker-0",
    "worker-*", "node-1", "node-*", "ep-0",
    /* plots and expect */
    "kind", "bars", "cdf", "timeseries", "heatmap", "metric", "by", "x", "theory", "where",
    "title", "xlabel", "ylabel", "logx", "logy", "stat", "sum", "mean", "count", "range",
    "op", "tol", "why", "<", "<=", ">", ">=", "==", "!=", "~", "5%", ".p50", ".p90", ".p99",
    ".p999", ".max", ".min", ".sum", ".mean", ".count", "[0]", "sim", "live",
    /* values */
    "true", "false", "null", "~", "0", "1", "-1", "0.5", "1e9", "9223372036854775807",
    "1ns", "1us", "1ms", "1s", "1m", "1440m", "-200ms", "1.5s", "128k", "1M", "1G",
    /* YAML */
    ": ", "- ", "\n  ", "\n    - ", "[", "]", "{", "}", ", ", "&a ", "*a", "!!str ", "---",
    "...", "\"", "'", "|\n  ", ">\n  ", "# ", "\t", "? ", "<<: ",
    NULL,
};
/* clang-format on */

static void entry(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\' || *p < 0x20 || *p > 0x7e)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
    puts("\"");
}

int main(void)
{
    for (size_t i = 0; words[i]; i++)
        entry(words[i]);
    for (size_t i = 0; lab_workloads[i]; i++) {
        const struct lab_workload *w = lab_workloads[i];
        entry(w->name);
        for (size_t k = 0; w->params && w->params[k].name; k++) {
            const struct lab_param *p = &w->params[k];
            entry(p->name);
            if (p->def && *p->def)
                entry(p->def);
            for (const char *c = p->choices; c && *c;) {
                size_t len = strcspn(c, "|");
                char buf[128];
                if (len < sizeof(buf)) {
                    memcpy(buf, c, len);
                    buf[len] = 0;
                    entry(buf);
                }
                c += len + (c[len] == '|');
            }
        }
    }
    return 0;
}
