/* sf-redis-conn.h: one hiredis asynchronous connection kept up on a GLib main
 * context, shared by the Redis location layer (sf-location-redis.c) and the
 * Redis credentials source (sf-users-redis.c).
 *
 * hiredis 0.14 has no timeouts for its asynchronous context and resolves
 * names synchronously, so the name is resolved with GResolver first and the
 * connection (AUTH, SELECT and the owner's own setup included) must be ready
 * within the timeout; past it, or when the connection is lost, the owner's
 * down hook is told, the connection dropped and made again after a backoff
 * (100 ms doubling to 5 s, back to 100 ms once ready; at once when a
 * connection that served for a second or more is lost).  Each reason is
 * logged once, and the recovery once.  Its GLib adapter is not used: after a
 * failed connect it reads from the context hiredis has just freed; the small
 * source here checks after each step.  Deadlines of the owner's commands are
 * the owner's (it calls sf_redis_conn_drop past one). */
#pragma once
#include <glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include "sf-location-store.h"

G_BEGIN_DECLS

typedef struct _SfRedisConn SfRedisConn;

typedef struct {
  /* A connection is made and AUTH and SELECT are queued on @ac: queue the
   * owner's setup after them and call sf_redis_conn_set_ready once it is
   * answered (until then the connection counts as connecting). */
  void (*connected) (SfRedisConn *c, redisAsyncContext *ac, gpointer data);
  /* The connection failed or is gone, @why: fail what waits on it.  Called
   * before hiredis calls the pending callbacks back with no reply. */
  void (*down) (SfRedisConn *c, const char *why, gpointer data);
} SfRedisConnHooks;

/* Takes @uri (its strings); @what prefixes the log lines ("location"),
 * @consequence says what a failure means ("its commands fail until it is
 * back").  Starts connecting at once. */
SfRedisConn *sf_redis_conn_new (SfLocRedisUri *uri, const char *what, const char *consequence, guint timeout_ms,
                                const SfRedisConnHooks *hooks, gpointer data);
/* Drops the connection without calling the down hook (hiredis calls the
 * pending callbacks back with no reply). */
void sf_redis_conn_free (SfRedisConn *c);

/* The context while connected (setup included), else NULL. */
redisAsyncContext *sf_redis_conn_context (SfRedisConn *c);
gboolean sf_redis_conn_is_ready (SfRedisConn *c);
gboolean sf_redis_conn_is_connecting (SfRedisConn *c);
void sf_redis_conn_set_ready (SfRedisConn *c);
/* Drops the connection (also from inside a hiredis callback) and connects again after the backoff. */
void sf_redis_conn_drop (SfRedisConn *c, const char *why);
/* redis://host:port/db, never the password: for logs and errors. */
const char *sf_redis_conn_shown (SfRedisConn *c);
/* The last failure logged, NULL once ready again. */
const char *sf_redis_conn_last_why (SfRedisConn *c);
guint sf_redis_conn_timeout_ms (SfRedisConn *c);

/* Redis's text quoted safely in a log or an error (bounded, valid UTF-8, no controls). */
char *sf_redis_quote (const char *str, gsize len);

/* ---- synchronous, for the offline tools (sipflow location, sipflow user) ---- */

/* A blocking connection to @uri (@password, nullable, wins over the URI's),
 * AUTH and SELECT done, each command bounded by @timeout_ms (hiredis's
 * redisSetTimeout); NULL with an error prefixed by @key ("location.uri")
 * when it cannot be made.  *@shown (transfer full, set when the URI parses):
 * redis://host:port/db, never the password, for messages. */
redisContext *sf_redis_sync_open (const char *uri, const char *password, guint timeout_ms, const char *key,
                                  char **shown, GError **error);

G_END_DECLS
