/* sf-redis-conn.c: one hiredis asynchronous connection kept up on a GLib main
 * context (see sf-redis-conn.h). */
#include "config.h"
#include "sf-redis-conn.h"
#include "sipflow/sf-config.h"
#include <gio/gio.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <string.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_LAST_MS 5000
/* Longest error text of Redis's quoted in a log line or a GError. */
#define MAX_QUOTE 200

typedef struct {
  GSource source;
  SfRedisConn *c;
  redisAsyncContext *ac;
  GPollFD pfd;
  gboolean detached;  /* dropped by us: hiredis's cleanup must not touch the connection */
} IoSource;

typedef struct {
  SfRedisConn *c;     /* NULL once dropped or freed */
} Resolving;

struct _SfRedisConn {
  SfLocRedisUri uri;
  char *shown;
  char *what, *consequence;
  guint timeout_ms;
  const SfRedisConnHooks *hooks;
  gpointer data;
  GMainContext *ctx;
  redisAsyncContext *ac;   /* NULL: not connected */
  IoSource *io;
  gboolean ready;          /* AUTH, SELECT and the owner's setup answered */
  gint64 ready_since;      /* monotonic, when it became ready */
  gboolean connecting;
  GSource *deadline;       /* while resolving or connecting */
  Resolving *resolving;
  GCancellable *cancel;
  GSource *retry;          /* the next connect, after the backoff */
  guint backoff_ms;
  char *last_why;          /* the last failure logged: the same one again is not */
};

static void connect_start (SfRedisConn *c);

char *
sf_redis_quote (const char *str, gsize len)
{
  g_autofree char *cut = g_strndup (str != NULL ? str : "", MIN (len, MAX_QUOTE));
  char *v = g_utf8_make_valid (cut, -1);
  for (char *p = v; *p != '\0'; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      *p = '?';
  return v;
}

static void
clear_source (GSource **src)
{
  if (*src == NULL)
    return;
  g_source_destroy (*src);
  g_source_unref (*src);
  *src = NULL;
}

/* Logs @why unless it is what was logged last (a Redis that stays away, or a
 * wrong password, is said once, not at each retry). */
static void
tell (SfRedisConn *c, const char *why)
{
  if (g_strcmp0 (c->last_why, why) == 0)
    return;
  g_free (c->last_why);
  c->last_why = g_strdup (why);
  g_warning ("%s: %s: %s; %s (reconnecting)", c->what, c->shown, why, c->consequence);
}

static gboolean
retry_cb (gpointer data)
{
  SfRedisConn *c = data;
  g_source_unref (c->retry);
  c->retry = NULL;
  connect_start (c);
  return G_SOURCE_REMOVE;
}

/* The connection is gone (c->ac already NULL): connect again after the backoff. */
static void
down (SfRedisConn *c, const char *why)
{
  clear_source ((GSource **) &c->io);
  clear_source (&c->deadline);
  /* a connection that served a while and then went (Redis restarted, an idle
   * timeout): again at once, so few requests fail; else after the backoff */
  gboolean at_once = c->ready && g_get_monotonic_time () - c->ready_since >= G_USEC_PER_SEC;
  c->ready = FALSE;
  c->connecting = FALSE;
  tell (c, why);
  if (c->retry == NULL) {
    c->retry = g_timeout_source_new (at_once ? 0 : c->backoff_ms);
    g_source_set_callback (c->retry, retry_cb, c, NULL);
    g_source_attach (c->retry, c->ctx);
    if (!at_once)
      c->backoff_ms = MIN (c->backoff_ms * 2, BACKOFF_LAST_MS);
  }
}

/* Lost without our doing: the owner told, then the backoff. */
static void
lost (SfRedisConn *c, const char *why)
{
  c->hooks->down (c, why, c->data);
  down (c, why);
}

void
sf_redis_conn_drop (SfRedisConn *c, const char *why)
{
  g_autofree char *w = g_strdup (why); /* @why may be the owner's, freed by its hook */
  c->hooks->down (c, w, c->data); /* before the free: hiredis then calls each back with no reply */
  redisAsyncContext *ac = g_steal_pointer (&c->ac);
  if (c->io != NULL)
    c->io->detached = TRUE;
  if (ac != NULL)
    redisAsyncFree (ac);
  if (c->resolving != NULL) {
    c->resolving->c = NULL;
    c->resolving = NULL;
    g_cancellable_cancel (c->cancel);
  }
  down (c, w);
}

/* ---- the hiredis event hooks ---- */

static void
io_add_read (void *p)
{
  ((IoSource *) p)->pfd.events |= G_IO_IN;
}

static void
io_del_read (void *p)
{
  ((IoSource *) p)->pfd.events &= ~G_IO_IN;
}

static void
io_add_write (void *p)
{
  ((IoSource *) p)->pfd.events |= G_IO_OUT;
}

static void
io_del_write (void *p)
{
  ((IoSource *) p)->pfd.events &= ~G_IO_OUT;
}

/* hiredis frees the context (ours, or its own after an error): from here on
 * the source never touches it; unless we dropped it, the connection is lost. */
static void
io_cleanup (void *p)
{
  IoSource *io = p;
  io->pfd.events = 0;
  if (!io->detached) {
    io->detached = TRUE;
    SfRedisConn *c = io->c;
    g_autofree char *why = g_strdup (io->ac->err != 0 ? io->ac->errstr : "the connection was lost");
    c->ac = NULL;
    lost (c, why);
  }
  g_source_unref ((GSource *) io); /* hiredis's reference */
}

static gboolean
io_check (GSource *src)
{
  IoSource *io = (IoSource *) src;
  return (io->pfd.revents & (io->pfd.events | G_IO_ERR | G_IO_HUP)) != 0;
}

static gboolean
io_prepare (GSource *src, gint *timeout)
{
  *timeout = -1;
  return FALSE;
}

static gboolean
io_dispatch (GSource *src, GSourceFunc cb, gpointer data)
{
  IoSource *io = (IoSource *) src;
  gushort rev = io->pfd.revents, ev = io->pfd.events;
  io->pfd.revents = 0;
  if (io->detached)
    return G_SOURCE_REMOVE;
  /* hiredis may free the context in either call (io_cleanup marks it) */
  if ((ev & G_IO_OUT) && (rev & (G_IO_OUT | G_IO_ERR | G_IO_HUP)))
    redisAsyncHandleWrite (io->ac);
  if (!io->detached && (rev & (G_IO_IN | G_IO_ERR | G_IO_HUP)))
    redisAsyncHandleRead (io->ac);
  return io->detached ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static GSourceFuncs io_funcs = { io_prepare, io_check, io_dispatch, NULL, NULL, NULL };

/* ---- connecting ---- */

/* AUTH's and SELECT's replies: an error drops the connection, its text logged. */
static void
on_hello (redisAsyncContext *ac, void *reply, void *privdata)
{
  SfRedisConn *c = ac->data;
  redisReply *r = reply;
  if (r == NULL || c->ac != ac || r->type != REDIS_REPLY_ERROR)
    return;
  g_autofree char *msg = sf_redis_quote (r->str, r->len);
  g_autofree char *why = g_strdup_printf ("%s refused: %s", (const char *) privdata, msg);
  sf_redis_conn_drop (c, why);
}

static gboolean
deadline_cb (gpointer data)
{
  SfRedisConn *c = data;
  g_source_unref (c->deadline);
  c->deadline = NULL;
  g_autofree char *why = g_strdup_printf ("no connection within %u ms", c->timeout_ms);
  sf_redis_conn_drop (c, why);
  return G_SOURCE_REMOVE;
}

static void
connect_addr (SfRedisConn *c, const char *ip)
{
  redisAsyncContext *ac = redisAsyncConnect (ip, (int) c->uri.port);
  if (ac == NULL || ac->err != 0) {
    g_autofree char *why = g_strdup_printf ("cannot connect: %s", ac != NULL ? ac->errstr : "out of memory");
    if (ac != NULL)
      redisAsyncFree (ac);
    lost (c, why);
    return;
  }
  IoSource *io = (IoSource *) g_source_new (&io_funcs, sizeof (IoSource));
  io->c = c;
  io->ac = ac;
  io->pfd.fd = ac->c.fd;
  g_source_add_poll ((GSource *) io, &io->pfd);
  g_source_set_name ((GSource *) io, c->what);
  ac->ev.addRead = io_add_read;
  ac->ev.delRead = io_del_read;
  ac->ev.addWrite = io_add_write;
  ac->ev.delWrite = io_del_write;
  ac->ev.cleanup = io_cleanup;
  ac->ev.data = g_source_ref ((GSource *) io); /* released by io_cleanup */
  ac->data = c;
  g_source_attach ((GSource *) io, c->ctx);
  c->io = io;
  c->ac = ac;
  /* hiredis sends them once connected, before anything else */
  if (c->uri.password != NULL) {
    const char *argv[] = { "AUTH", c->uri.password };
    size_t lens[] = { 4, strlen (c->uri.password) };
    redisAsyncCommandArgv (ac, on_hello, "AUTH", 2, argv, lens);
  }
  if (c->uri.db != 0)
    redisAsyncCommand (ac, on_hello, "SELECT", "SELECT %u", c->uri.db);
  c->hooks->connected (c, ac, c->data);
  /* io_add_write was called by redisAsyncConnect before the hooks were set */
  io->pfd.events |= G_IO_OUT | G_IO_IN;
}

static void
resolved (GObject *src, GAsyncResult *res, gpointer data)
{
  Resolving *rv = data;
  g_autoptr (GError) error = NULL;
  GList *addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (src), res, &error);
  SfRedisConn *c = rv->c;
  g_free (rv);
  if (c == NULL) { /* freed or dropped meanwhile */
    g_resolver_free_addresses (addrs);
    return;
  }
  c->resolving = NULL;
  if (addrs == NULL) {
    g_autofree char *why = g_strdup_printf ("cannot resolve %s: %s", c->uri.host, error->message);
    lost (c, why);
    return;
  }
  g_autofree char *ip = g_inet_address_to_string (addrs->data);
  g_resolver_free_addresses (addrs);
  connect_addr (c, ip);
}

static void
connect_start (SfRedisConn *c)
{
  c->connecting = TRUE;
  clear_source (&c->deadline);
  c->deadline = g_timeout_source_new (c->timeout_ms);
  g_source_set_callback (c->deadline, deadline_cb, c, NULL);
  g_source_attach (c->deadline, c->ctx);
  if (g_hostname_is_ip_address (c->uri.host)) {
    connect_addr (c, c->uri.host);
    return;
  }
  /* hiredis would resolve it with a blocking getaddrinfo on the main loop */
  g_autoptr (GResolver) resolver = g_resolver_get_default ();
  g_clear_object (&c->cancel);
  c->cancel = g_cancellable_new ();
  c->resolving = g_new0 (Resolving, 1);
  c->resolving->c = c;
  g_resolver_lookup_by_name_async (resolver, c->uri.host, c->cancel, resolved, c->resolving);
}

void
sf_redis_conn_set_ready (SfRedisConn *c)
{
  c->ready = TRUE;
  c->ready_since = g_get_monotonic_time ();
  c->connecting = FALSE;
  c->backoff_ms = BACKOFF_FIRST_MS;
  clear_source (&c->deadline);
  if (c->last_why != NULL)
    g_message ("%s: %s: connected again", c->what, c->shown);
  g_clear_pointer (&c->last_why, g_free);
}

SfRedisConn *
sf_redis_conn_new (SfLocRedisUri *uri, const char *what, const char *consequence, guint timeout_ms,
                   const SfRedisConnHooks *hooks, gpointer data)
{
  SfRedisConn *c = g_new0 (SfRedisConn, 1);
  c->uri = *uri;
  memset (uri, 0, sizeof *uri);
  c->shown = g_strdup_printf (strchr (c->uri.host, ':') != NULL ? "redis://[%s]:%u/%u" : "redis://%s:%u/%u",
                              c->uri.host, c->uri.port, c->uri.db);
  c->what = g_strdup (what);
  c->consequence = g_strdup (consequence);
  c->timeout_ms = MAX (timeout_ms, 1);
  c->hooks = hooks;
  c->data = data;
  c->backoff_ms = BACKOFF_FIRST_MS;
  c->ctx = g_main_context_ref_thread_default ();
  connect_start (c);
  return c;
}

void
sf_redis_conn_free (SfRedisConn *c)
{
  if (c == NULL)
    return;
  redisAsyncContext *ac = g_steal_pointer (&c->ac);
  if (c->io != NULL)
    c->io->detached = TRUE;
  if (ac != NULL)
    redisAsyncFree (ac); /* its callbacks: no reply */
  clear_source ((GSource **) &c->io);
  if (c->resolving != NULL) {
    c->resolving->c = NULL;
    g_cancellable_cancel (c->cancel);
  }
  g_clear_object (&c->cancel);
  clear_source (&c->retry);
  clear_source (&c->deadline);
  g_main_context_unref (c->ctx);
  sf_loc_redis_uri_clear (&c->uri);
  g_free (c->shown);
  g_free (c->what);
  g_free (c->consequence);
  g_free (c->last_why);
  g_free (c);
}

redisAsyncContext *
sf_redis_conn_context (SfRedisConn *c)
{
  return c->ac;
}

gboolean
sf_redis_conn_is_ready (SfRedisConn *c)
{
  return c->ready;
}

gboolean
sf_redis_conn_is_connecting (SfRedisConn *c)
{
  return c->connecting;
}

const char *
sf_redis_conn_shown (SfRedisConn *c)
{
  return c->shown;
}

const char *
sf_redis_conn_last_why (SfRedisConn *c)
{
  return c->last_why;
}

guint
sf_redis_conn_timeout_ms (SfRedisConn *c)
{
  return c->timeout_ms;
}

/* ---- synchronous, for the offline tools ---- */

static void
sync_error (GError **error, const char *key, const char *shown, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static void
sync_error (GError **error, const char *key, const char *shown, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: %s: %s", key, shown, msg);
}

redisContext *
sf_redis_sync_open (const char *uri, const char *password, guint timeout_ms, const char *key, char **shown,
                    GError **error)
{
  SfLocRedisUri u;
  g_autoptr (GError) e = NULL;
  if (!sf_loc_redis_parse_uri (uri, &u, &e)) {
    /* the parser speaks of location.uri */
    const char *msg = strstr (e->message, "expected");
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: %s", key, msg != NULL ? msg : e->message);
    return NULL;
  }
  *shown = g_strdup_printf (strchr (u.host, ':') != NULL ? "redis://[%s]:%u/%u" : "redis://%s:%u/%u", u.host, u.port,
                            u.db);
  struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
  redisContext *c = redisConnectWithTimeout (u.host, (int) u.port, tv);
  if (c == NULL || c->err != 0) {
    sync_error (error, key, *shown, "cannot connect: %s", c != NULL ? c->errstr : "out of memory");
    redisFree (c);
    sf_loc_redis_uri_clear (&u);
    return NULL;
  }
  redisSetTimeout (c, tv);
  const char *pw = password != NULL && *password != '\0' ? password : u.password;
  const char *what[] = { "AUTH", "SELECT" };
  for (guint i = 0; i < 2; i++) {
    redisReply *r = NULL;
    if (i == 0 && pw != NULL) {
      const char *argv[] = { "AUTH", pw };
      size_t lens[] = { 4, strlen (pw) };
      r = redisCommandArgv (c, 2, argv, lens);
    } else if (i == 1 && u.db != 0) {
      r = redisCommand (c, "SELECT %u", u.db);
    } else {
      continue;
    }
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
      g_autofree char *msg = r != NULL ? sf_redis_quote (r->str, r->len) : g_strdup (c->errstr);
      sync_error (error, key, *shown, "%s refused: %s", what[i], msg);
      freeReplyObject (r);
      redisFree (c);
      sf_loc_redis_uri_clear (&u);
      return NULL;
    }
    freeReplyObject (r);
  }
  sf_loc_redis_uri_clear (&u);
  return c;
}
