/* redis_server.h - a real redis-server (Debian's) started for a live run or a test: in a
 * fresh temporary directory, listening on a unix socket there (or a free loopback TCP
 * port), with persistence off (--save "" --appendonly no), and stopped when the run ends.
 *
 * Faults on the real thing: pause is SIGSTOP and resume SIGCONT; crash is SIGKILL (every
 * key is lost, as nothing is persisted) and restart starts it again on the same address.
 *
 * Cleanup even on error: the server dies with the thread that started it (PDEATHSIG:
 * start, restart and stop it from one long-lived thread, such as the main thread), and a
 * SIGINT/SIGTERM handler installed on the first start kills every running server and
 * removes its directory before the process dies of the signal; exit() does the same. A
 * directory left by a process that died of SIGKILL is removed by the next start. */
#ifndef DISTLAB_LIVE_REDIS_SERVER_H
#define DISTLAB_LIVE_REDIS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct live_redis_server;

/* Start redis-server and wait (up to 10 s) until it answers PING. 'tcp': listen on a free
 * port of 127.0.0.1 instead of a unix socket. Returns 0 and *out, or -ENOENT (no
 * redis-server on PATH), -ETIMEDOUT (it never answered), another negative errno; a
 * message for the user goes to err (errlen bytes) on failure. */
int live_redis_server_start(bool tcp, struct live_redis_server **out, char *err, size_t errlen);

/* Its address for live_redis_connect: "unix:/tmp/.../redis.sock" or "127.0.0.1:PORT". */
const char *live_redis_server_addr(const struct live_redis_server *s);
pid_t live_redis_server_pid(const struct live_redis_server *s); /* 0 while crashed */

/* SIGSTOP / SIGCONT. Return 0 or a negative errno (-ESRCH when not running). */
int live_redis_server_pause(struct live_redis_server *s);
int live_redis_server_resume(struct live_redis_server *s);

/* SIGKILL and reap: the keyspace is gone. Returns 0 or -ESRCH. */
int live_redis_server_crash(struct live_redis_server *s);

/* Start it again on the same address (after a crash; a running server is killed first)
 * and wait until it answers. Returns 0 or a negative errno. */
int live_redis_server_restart(struct live_redis_server *s);

/* Stop it (SIGCONT, SIGTERM, SIGKILL after 2 s), reap it, remove its directory, free s.
 * NULL is allowed. */
void live_redis_server_stop(struct live_redis_server *s);

#endif
