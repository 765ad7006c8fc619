/* launch.h - the one launcher of real server processes (redis-server, redis-sentinel,
 * etcd, ZooKeeper's JVM) for live runs and tests. The recipes in servers.h are built on
 * it; a new kind of server needs a recipe, never a launcher of its own.
 *
 * What it guarantees, whatever happens to the caller:
 * - every process lives in a temporary directory of its own run, /tmp/distlab-TAG-XXXXXX
 *   (mode 0700), with its stdout and stderr in NAME.log there;
 * - a process dies with the thread that started it (PR_SET_PDEATHSIG): start, restart
 *   and stop servers from one long-lived thread (the main thread);
 * - SIGINT or SIGTERM (the first launch installs handlers, chained to the ones before)
 *   and exit() kill every process still registered and remove every directory before
 *   the process goes on dying; only what this process started is touched;
 * - a directory whose owner died of SIGKILL (no handler ran) is removed by the next
 *   live_dir_create of any distlab process (its owner pid is in DIR/owner).
 *
 * Errors: functions return 0 or a negative errno and, where they take err, write one
 * message for the user (with the last lines of the server's log when the server failed). */
#ifndef DISTLAB_LIVE_LAUNCH_H
#define DISTLAB_LIVE_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- A run's directory ------------------------------------------------------------- */

struct live_dir;

/* mkdtemp /tmp/distlab-TAG-XXXXXX (0700) with an owner file, registered for cleanup;
 * sweeps what killed owners left first. Returns 0 and *out, or a negative errno. */
int live_dir_create(const char *tag, struct live_dir **out, char *err, size_t errlen);
const char *live_dir_path(const struct live_dir *d);

/* Remove the directory and everything in it, unregister it, free d (NULL is allowed).
 * The caller has stopped the processes that used it. */
void live_dir_remove(struct live_dir *d);

/* ---- A free loopback port ------------------------------------------------------------ */

/* Bind 127.0.0.1:0, read the port back, close. Another process may take it before the
 * server binds it: a launch that fails with "address in use" says -EADDRINUSE, and the
 * recipes try again with fresh ports. Returns the port or a negative errno. */
int live_free_port(void);

/* Find 'prog' on PATH (then /usr/bin, /usr/sbin): 0 and its path in out, or -ENOENT. */
int live_find_exe(const char *prog, char *out, size_t cap);

/* ---- A server process -------------------------------------------------------------- */

struct live_proc;

/* Ready probe: 1 when the server answers as it should, 0 not yet, a negative errno when
 * it never will (the launch then fails with that error and 'err'). Called every few ms
 * from the launching thread until the deadline; each call must bound its own wait. */
typedef int (*live_probe_fn)(struct live_proc *p, void *arg, char *err, size_t errlen);

struct live_proc_cfg {
    const char *name;         /* e.g. "etcd-1": the log is DIR/NAME.log */
    const char *const *argv;  /* argv[0] is the program's path; copied */
    live_probe_fn probe;      /* NULL: ready when it has not exited for 100 ms */
    void *probe_arg;          /* kept, passed to every probe */
    int64_t ready_timeout_ns; /* for live_proc_start and restarts */
};

/* Register a process of directory d (not started yet). NULL on -ENOMEM (or more than
 * 64 processes at once in this process). */
struct live_proc *live_proc_new(struct live_dir *d, const struct live_proc_cfg *cfg);

/* Fork and exec it (stdin /dev/null, stdout and stderr appended to its log, its own
 * process group so a terminal's ^C reaches distlab only, PDEATHSIG). Does not wait.
 * A running process is killed first. Returns 0 or a negative errno. */
int live_proc_spawn(struct live_proc *p, char *err, size_t errlen);

/* Wait until the probe says ready, up to timeout_ns (< 0: the cfg's). Returns 0, or
 * -ETIMEDOUT (the process is killed), -EADDRINUSE or -ECONNREFUSED when it exited at
 * start (status and log tail in err), or the probe's error. */
int live_proc_wait_ready(struct live_proc *p, int64_t timeout_ns, char *err, size_t errlen);

/* live_proc_spawn then live_proc_wait_ready. */
int live_proc_start(struct live_proc *p, char *err, size_t errlen);

/* SIGSTOP / SIGCONT. Pause returns once the process has stopped. 0, or -ESRCH when it is
 * not running. */
int live_proc_pause(struct live_proc *p);
int live_proc_resume(struct live_proc *p);

/* SIGKILL and reap. 0, or -ESRCH when it was not running. */
int live_proc_kill(struct live_proc *p);

/* SIGCONT, SIGTERM, SIGKILL after grace_ns; reap. No-op when not running. */
void live_proc_stop(struct live_proc *p, int64_t grace_ns);

/* Stop it (2 s grace) and free p; its files stay until live_dir_remove. NULL allowed. */
void live_proc_free(struct live_proc *p);

enum live_proc_state {
    LIVE_PROC_DOWN, /* never started, killed or stopped by this launcher */
    LIVE_PROC_RUNNING,
    LIVE_PROC_PAUSED, /* SIGSTOPped by this launcher */
    LIVE_PROC_LOST,   /* it exited, or was stopped, by something else: see live_proc_check */
};

/* Whether the process is where the launcher left it: 0, or -EPIPE when it exited or was
 * stopped behind the launcher's back (a crash, an OOM kill, a stray SIGSTOP); 'why'
 * then says how, with the log's last lines. Reaps an exited process. Cheap (waitpid
 * WNOHANG): call it as often as a run's loop turns. */
int live_proc_check(struct live_proc *p, char *why, size_t cap);
enum live_proc_state live_proc_state(const struct live_proc *p);

pid_t live_proc_pid(const struct live_proc *p); /* 0 when not running */
const char *live_proc_name(const struct live_proc *p);
const char *live_proc_log(const struct live_proc *p); /* its log file's path */

/* The last 'lines' lines of its log, each indented by two spaces, into buf. */
void live_proc_log_tail(const struct live_proc *p, int lines, char *buf, size_t cap);

#endif
