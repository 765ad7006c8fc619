/* lab.h - what a workload (one primitive family's driver) sees of the lab.
 *
 * The lab reads a scenario file, expands its sweep and repeats into runs, and for each
 * run calls the workload's run(). The workload reads its parameters, builds its world
 * (a simulated one through lab_sim_run, or threads and real servers), and
 * records metrics. The lab then checks the scenario's expectations, writes summary.json
 * and CSVs, and draws the plots. A workload never writes files and never exits. */
#ifndef DISTLAB_LAB_H
#define DISTLAB_LAB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "lab/hist.h"
#include "lab/series.h"
#include "live/servers.h"

struct lab_run;
struct sim;

/* ---- Declaring a workload --------------------------------------------------------- */

enum lab_type {
    LAB_INT,      /* integer, checked against [min, max] */
    LAB_FLOAT,    /* real number, checked against [min, max] */
    LAB_BOOL,     /* true / false */
    LAB_DURATION, /* "250ms", "5s", "1.5us", "0": int64 ns, checked against [min, max] ns */
    LAB_STRING,   /* any scalar text */
    LAB_ENUM,     /* one of 'choices', "a|b|c"; lab_enum gives its index */
    LAB_LIST,     /* a sequence of scalars (e.g. per-endpoint weights); see lab_list_* */
};

/* One key a workload accepts under `workload:`. A NULL 'def' makes it required. Keys not
 * declared here are errors (file:line:col: unknown key 'x' in workload 'y'). */
struct lab_param {
    const char *name;
    enum lab_type type;
    const char *def;     /* default, written as it would be in YAML, or NULL */
    double min, max;     /* inclusive range (ns for durations); min > max: unchecked */
    const char *choices; /* LAB_ENUM: "a|b|c"; for an enum of a primitive, its names
                          * table joined: NAMES_CHOICES(X_NAMES) (names.h) */
    const char *doc;     /* one line, shown by `distlab list -v` */
};

#define LAB_WORLD_SIM 1u
#define LAB_WORLD_LIVE 2u

struct lab_workload {
    const char *name;  /* the scenario's `primitive:` value, e.g. "lb/shuffle" */
    const char *about; /* one line */
    const struct lab_param *params; /* terminated by an entry with name == NULL */
    unsigned worlds;   /* LAB_WORLD_SIM | LAB_WORLD_LIVE */
    /* Performs one run. Returns 0, or a negative errno after lab_fail(): -EINVAL for bad
     * input (exit 2), -ECONNREFUSED / -EHOSTUNREACH when a server or world cannot be
     * reached (exit 3), anything else is an internal error (exit 2 with the message).
     * lab/err.h holds the whole mapping. */
    int (*run)(struct lab_run *run);
};

/* All workloads, NULL-terminated: the executable's main.c, which meson writes from the
 * families' meson.build files (see lab/meson.build); a test links a table of its own. */
extern const struct lab_workload *const lab_workloads[];
const struct lab_workload *lab_workload_find(const char *name);

/* ---- Parameters of this run (sweep values and --set applied) ---------------------- */

int64_t lab_int(struct lab_run *run, const char *name);
double lab_float(struct lab_run *run, const char *name);
bool lab_bool(struct lab_run *run, const char *name);
int64_t lab_duration(struct lab_run *run, const char *name); /* ns */
const char *lab_str(struct lab_run *run, const char *name);  /* also for LAB_ENUM */
/* LAB_ENUM: the index of the value among the parameter's choices: with choices from an
 * enum's names table (NAMES_CHOICES, names.h), the enum value itself. */
int lab_enum(struct lab_run *run, const char *name);
size_t lab_list_len(struct lab_run *run, const char *name);
double lab_list_float(struct lab_run *run, const char *name, size_t i);
const char *lab_list_str(struct lab_run *run, const char *name, size_t i);

/* Run identity. */
uint64_t lab_seed(struct lab_run *run);       /* this run's seed (scenario seed, repeat) */
unsigned lab_world(struct lab_run *run);      /* LAB_WORLD_SIM or LAB_WORLD_LIVE */
int64_t lab_duration_total(struct lab_run *run); /* the scenario's `duration:`, ns */
const char *lab_scenario_name(struct lab_run *run);
size_t lab_run_index(struct lab_run *run);    /* this run's place among the scenario's */

/* The `world:` section's generic values. */
int lab_world_cores(struct lab_run *run);     /* cores per node (world.cores, default 2) */
int lab_world_nodes(struct lab_run *run);     /* world.nodes, default 0 (workload decides) */
const char *lab_world_str(struct lab_run *run, const char *key); /* e.g. "redis": NULL if unset */

/* ---- Faults (the scenario's `faults:` list) -------------------------------------- */

/* A partition heals at the end its `until:` gives (dur). A crash with `for:` has dur set
 * too, and the lab schedules its restart. */
enum lab_fault_kind {
    LAB_FAULT_CRASH, LAB_FAULT_RESTART, LAB_FAULT_PAUSE, LAB_FAULT_CLOCK_STEP,
    LAB_FAULT_DRIFT, LAB_FAULT_PARTITION,
};
struct lab_fault {
    enum lab_fault_kind kind;
    int64_t at;          /* true time, ns from the start of the run */
    const char *node;    /* target node name (crash, restart, pause, clock, drift) */
    int64_t dur;         /* pause: length; partition: until - at (or -1: never heals);
                          * crash: for (or -1: until a restart) */
    int64_t step;        /* clock step, ns */
    double ppm;          /* drift */
    const char *const *side_a, *const *side_b; /* partition: node names, NULL-terminated */
    bool oneway;         /* partition: only a -> b is cut */
    int line, col;       /* where it was written, for errors */
};
size_t lab_fault_count(struct lab_run *run);
const struct lab_fault *lab_fault_get(struct lab_run *run, size_t i);

/* ---- The simulated world --------------------------------------------------------- */

/* A simulated run, in one call: the lab creates the world from `world:` (network, slice,
 * stack size, event budget) and the run seed; build(run, sim, w) adds the nodes
 * (sim_node_add) and their actors; the lab sets the clocks of `world.clocks`, schedules
 * `faults:` by node name (an unknown name is a scenario error at its line) and runs to
 * the scenario's duration, showing progress; record(run, w) reads the world and puts the
 * metrics. Then the lab ends the world: every actor is gone (its exit handlers have run)
 * before lab_sim_run returns, so the workload frees what its actors used (a counter whose
 * mutex they wait on, a model they call) only afterwards, in any order it likes.
 *
 * In the check pass (before the first run of an invocation starts, once per sweep point)
 * the lab builds the world and resolves its names, ends it without running it, and
 * returns LAB_CHECKED: the workload returns that at once (any negative return does),
 * after checking its parameters as it always does, so that a bad value in the third
 * file stops the invocation before the first file runs. A workload's simulated world is
 * the one lab_sim_run gives it.
 *
 * A negative errno from build fails the run with "cannot build the world: ..." (unless
 * build gave its own reason with lab_fail). Returns 0, LAB_CHECKED, or the first
 * failure's negative errno (-EINVAL for a hang or the event budget spent: the message
 * names the actor or the key); the workload frees w afterwards either way. */
int lab_sim_run(struct lab_run *run, void *w,
                int (*build)(struct lab_run *run, struct sim *sim, void *w),
                int (*record)(struct lab_run *run, void *w));
#define LAB_CHECKED (-ECANCELED)

/* True in the check pass. A workload that computes without a simulated world (no
 * lab_sim_run) returns LAB_CHECKED once its parameters are checked when this is true, so
 * that checking a file never costs a whole run. */
bool lab_checking(const struct lab_run *run);

/* ---- The live world ------------------------------------------------------------------
 * The live counterpart of the simulated world above: the workload asks for servers and
 * client nodes by role, the lab starts them and names them as the simulated world would
 * (redis-0, replica-0, sentinel-0, etcd-0.., zk-0.., client-0..), schedules the scenario's
 * `faults:` against them by name, runs to `duration`, and tears everything down after
 * the run. How each fault maps (DESIGN.md and live/README.md say the same):
 *   server node: pause = SIGSTOP, SIGCONT after `for`; crash = SIGKILL, restarted on the
 *     same address and data dir after `for` if given; restart = start it if it is down;
 *   client node: pause = the node's actors block at their next env call for `for`;
 *     clock step / drift = the node's env_now (drift: env_mono too); crash = the node's
 *     actors end at their next env call, their live_env_atexit handlers run, and `for`
 *     starts its main again; restart = the same if it is down;
 *   a partition, a server's clock, world.clocks on a server: errors at the fault's
 *     file:line:col ("needs the simulated world"), never skipped in silence.
 * A server lost while the run goes on, not by a scheduled fault, fails the run (exit 3):
 * its numbers would be wrong. Call these from the run's thread (the servers die with the
 * thread that started them), except lab_live_now, lab_live_stopping and lab_live_fault. */

/* Begin this run's live world: threads on the system clock, random streams from the run
 * seed. Returns it (for live_spawn and friends), or NULL after lab_fail. */
struct live_world *lab_live_begin(struct lab_run *run);

/* How many servers of 'kind' the world offers: world.KEY (redis for LIVE_REDIS and
 * LIVE_SENTINEL, etcd, zookeeper) as a count, or the number of addresses it lists, or -1
 * when it is not set (the lab starts as many as asked). For a workload that must leave a
 * sweep point out when the user gives fewer servers than it needs. */
int lab_live_offered(struct lab_run *run, enum live_kind kind);

/* Servers of 'kind' for this run: n of them started by the lab (a count in world.KEY
 * replaces n), or the user's own from world.KEY's comma-separated addresses, each of
 * which must answer (else exit 3); fewer than n is an error at world.KEY. Starting takes
 * what live/README.md measured (Redis 20 ms, a 3-member ZooKeeper 2-3 s). Returns the
 * string the kind's client takes (servers.h), or NULL after lab_fail (exit 3 when a
 * server cannot start or answer, with the last lines of its log). */
const char *lab_live_servers(struct lab_run *run, enum live_kind kind, int n);
/* The same with the launcher's options for the servers the lab starts (servers.h: e.g. a
 * replication lag, Sentinel's down-after). */
const char *lab_live_servers_opts(struct lab_run *run, enum live_kind kind, int n,
                                  const struct live_cluster_opts *opts);

/* Member i's own address and name ("replica-0") among the servers of 'kind'; how many
 * there are; the cluster when the lab started it (NULL for the user's own servers). */
const char *lab_live_server_addr(struct lab_run *run, enum live_kind kind, int i);
const char *lab_live_server_name(struct lab_run *run, enum live_kind kind, int i);
int lab_live_server_count(struct lab_run *run, enum live_kind kind);
struct live_cluster *lab_live_cluster(struct lab_run *run, enum live_kind kind);

/* A client node 'name' whose main actor runs fn(env, arg) from lab_live_go on (a thread
 * "NAME/main"; the threads it spawns belong to the node). Returns 0 or a negative errno
 * (-EINVAL: the name is taken). */
int lab_live_node(struct lab_run *run, const char *name, env_fn fn, void *arg);

/* What a pause of client node 'name' must stop besides its actors: fn(arg, dur) runs on
 * the run's thread each time a pause fault (written, or from lab_live_fault) reaches the
 * node, e.g. to freeze the connections a client library keeps alive from threads of its
 * own, so that the node's servers hear nothing from it, as from a stopped process.
 * Returns 0, or -ENOENT (no such node). */
int lab_live_on_pause(struct lab_run *run, const char *name, void (*fn)(void *arg, int64_t dur),
                      void *arg);

/* Check `faults:` and `world.clocks` against the nodes (errors at their file:line:col),
 * start the nodes, run to the scenario's duration (or 'until' ns if > 0) applying the
 * faults, and watch the servers; then resume paused servers and wait for every actor,
 * which must end by itself (its loop watches lab_live_stopping). Returns 0, -EINVAL
 * after lab_fail (a fault the live world cannot do), or -EHOSTUNREACH (a server lost
 * behind the lab's back; exit 3). */
int lab_live_go(struct lab_run *run, int64_t until);

/* True time since lab_live_go started, ns (any thread). */
int64_t lab_live_now(struct lab_run *run);
/* Whether the run has reached its end (any thread). */
bool lab_live_stopping(struct lab_run *run);

/* A fault the workload aims itself (e.g. at whoever holds a lock), from any thread:
 * applied by the run's thread within about a millisecond, as if it had been written in
 * `faults:` at that instant (f->at is ignored; f->node names the target). Returns 0, or
 * -EINVAL for a target or kind the live world cannot fault (before go: -EAGAIN). */
int lab_live_fault(struct lab_run *run, const struct lab_fault *f);

/* ---- Metrics --------------------------------------------------------------------- */

/* A scalar. Names are identifiers ([a-z0-9_]); setting one twice replaces it. */
void lab_metric(struct lab_run *run, const char *name, double value);
/* An array (per endpoint, per position...), copied; written to <name>.csv too. */
void lab_metric_array(struct lab_run *run, const char *name, const double *v, size_t n);
/* A rows x cols matrix, row-major, copied; drawn by `kind: heatmap`. */
void lab_metric_matrix(struct lab_run *run, const char *name, const double *v, size_t rows,
                       size_t cols);
/* A histogram owned by the run (created on first call); record into it with hist_add.
 * 'unit' is "ns", "ids", ... and appears in summary.json and the CSV header. */
struct hist *lab_hist(struct lab_run *run, const char *name, const char *unit);
/* A time series in fixed bins of bin_ns (true time), owned by the run. */
struct series *lab_series(struct lab_run *run, const char *name, int64_t bin_ns,
                          const char *unit);
/* A document for the results, next to summary.json: results/<scenario>/<name> (e.g.
 * "placement.md": a table the run drew). 'name' is a file name of [A-Za-z0-9_.-], at most
 * 200 characters (other
 * names fail the run as a misuse of the lab). Calls with one name add to the run's text;
 * runs that write the same name share the file, in run order, each run's part under a
 * line "## run N: key=value, ..." naming its sweep point and repeat when more than one run
 * wrote to it. Written with the rest, and only when every run succeeded. */
void lab_text(struct lab_run *run, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short text fact for the report (e.g. "the first endpoint gets 2.9x the last"). */
void lab_note(struct lab_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Leave this run out because the world cannot serve it (e.g. redlock over the one Redis
 * server the user gave): it records nothing, its expectations are not checked, the
 * report prints "SKIP" with the reason, and summary.json marks it "skipped". 'key' (a
 * sweep key or a workload parameter, or NULL) places the reason at the value's
 * file:line:col ("FILE:L:C: algorithm=redlock skipped: REASON"). The workload returns 0
 * after it. A misuse after any metric was recorded. */
void lab_skip(struct lab_run *run, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record why the run failed (the CLI prints it, prefixed with the scenario file). */
void lab_fail(struct lab_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A parameter's value that the workload refuses (a key its primitive cannot take, a
 * duration its server rounds differently, a value that does not fit another): "file:
 * line:col: message" at the place the value was written (or "--set k=v: message").
 * Returns -EINVAL, for the run to return. Check parameters before building anything: the
 * check pass (lab_sim_run) then finds the error before any run of the invocation
 * starts. */
int lab_fail_param(struct lab_run *run, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* lab_text's table form: every run's rows of document 'name' (e.g. "choice.csv") one
 * after the other under one header (the first writer's), without the lines that name
 * each run's part. Calls with one name add rows. */
void lab_table(struct lab_run *run, const char *name, const char *header, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- One workload driving another ------------------------------------------------------
 * Perform this run as workload 'wl' (one of its family's, e.g. lock/choice runs lock/zk):
 * wl's run() reads its parameters from 'set' ("name=value" texts, NULL-terminated,
 * checked as a scenario's values are), else from this run's own parameter of the same
 * name and type, else from wl's default; it sees the scenario's faults plus 'faults' (n;
 * errors about them point at this run's parameter 'at'). What wl records is this run's.
 * Returns what wl's run returns, or -EINVAL after lab_fail (a 'set' wl cannot take, a
 * world it does not run in). */
int lab_run_as(struct lab_run *run, const struct lab_workload *wl, const char *const *set,
               const struct lab_fault *faults, size_t nfaults, const char *at);

/* A scalar metric this run recorded: true with *out, or false. */
bool lab_metric_get(struct lab_run *run, const char *name, double *out);

/* Tell the user how far along a long run is (0..1); quiet unless stderr is a tty. */
void lab_progress(struct lab_run *run, double fraction);

#endif
