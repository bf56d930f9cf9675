/* sf-users-redis.c: the credentials in a Redis hash (see sf-users.h,
 * docs/servers.md "Credentials"): the server's source, and the offline
 * add/del/list of `sipflow user` (one place knows the keys and the format).
 *
 * One hash, "sipflow:users": field the user name, value a JSON object
 * {"realm", "ha1_md5", "ha1_sha256", "password"} (cjson, inside Redis:
 * redis-cli shows it as it is); beside it a counter, "sipflow:users:version",
 * that every change made here increments in the same script.  The server
 * reads the whole hash at start (synchronously, bounded by the timeout: it
 * serves nothing yet), then, from poll, at most once a second: a GET of the
 * counter on the connection sf-redis-conn.c keeps up, and when it moved one
 * script that returns the counter and the hash (atomically, so the table
 * matches its version); the table is built when the reply comes and handed
 * over at the next poll.  poll never waits: a command past the timeout drops
 * the connection (reconnected with backoff) and the table read before is kept.
 *
 * Why one script rather than HSCAN: the read is atomic with its version (an
 * HSCAN would see a hash that changes under it), and the reply is bounded:
 * the script returns nothing past registrar.max_users users (HLEN first), no
 * value longer than a field may be, and decodes the JSON itself, so 100,000
 * users are some 15 MB read in 16 KB steps by the main loop.  Every value is
 * hostile: checked by sf_users_reader_add as the SQLite rows are. */
#include "config.h"
#include "sf-users.h"
#include "sf-redis-conn.h"
#include <hiredis/hiredis.h>
#include <string.h>

#define KEY_USERS "sipflow:users"
#define KEY_VERSION "sipflow:users:version"
#define ROW 5                 /* user realm ha1_md5 ha1_sha256 password */
#define MAX_VERSION_BYTES 32

/* KEYS[1] the hash, KEYS[2] the counter; ARGV[1] most users, ARGV[2] most
 * bytes of a value's field.  Returns {version, users, then 5 a user: name
 * (cut), realm, ha1_md5, ha1_sha256, password (nil: none)}; a value that is
 * not an object of strings comes back with every field nil (a bad row);
 * nothing but the first two past ARGV[1] users. */
static const char load_script[] =
  "local n = redis.call('HLEN', KEYS[1])\n"
  "local v = redis.call('GET', KEYS[2]) or '0'\n"
  "local out = {v, tostring(n)}\n"
  "if n > tonumber(ARGV[1]) then return out end\n"
  "local maxlen = tonumber(ARGV[2])\n"
  "local keys = {'realm', 'ha1_md5', 'ha1_sha256', 'password'}\n"
  "local raw = redis.call('HGETALL', KEYS[1])\n"
  "for i = 1, #raw, 2 do\n"
  "  local ok, b = pcall(cjson.decode, raw[i + 1])\n"
  "  local row, good = {}, ok and type(b) == 'table'\n"
  "  for k = 1, 4 do\n"
  "    local x = nil\n"
  "    if good then x = b[keys[k]] end\n"
  "    if x == nil or x == cjson.null then row[k] = false\n"
  "    elseif type(x) == 'string' and #x <= maxlen then row[k] = x\n"
  "    else good = false end\n"
  "  end\n"
  "  out[#out + 1] = string.sub(raw[i], 1, 129)\n"
  "  for k = 1, 4 do if good then out[#out + 1] = row[k] else out[#out + 1] = false end end\n"
  "end\n"
  "return out\n";

/* ARGV: user, '1' to replace, realm, ha1_md5, ha1_sha256, password ('' none).  0: exists. */
static const char add_script[] =
  "if ARGV[2] ~= '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end\n"
  "local v = {realm = ARGV[3], ha1_md5 = ARGV[4], ha1_sha256 = ARGV[5]}\n"
  "if ARGV[6] ~= '' then v.password = ARGV[6] end\n"
  "redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(v))\n"
  "redis.call('INCR', KEYS[2])\n"
  "return 1\n";

/* ARGV: user.  The users removed (0 or 1). */
static const char del_script[] =
  "local n = redis.call('HDEL', KEYS[1], ARGV[1])\n"
  "if n > 0 then redis.call('INCR', KEYS[2]) end\n"
  "return n\n";

static gboolean
set_error (GError **error, const char *where, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
set_error (GError **error, const char *where, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "registrar.users: %s: %s", where, msg);
  return FALSE;
}

/* A string of the reply, copied; *@ok FALSE when it holds a NUL. */
static char *
reply_str (const redisReply *e, gboolean *ok)
{
  if (e->type == REDIS_REPLY_NIL)
    return NULL;
  if (memchr (e->str, '\0', e->len) != NULL) {
    *ok = FALSE;
    return NULL;
  }
  return g_strndup (e->str, e->len);
}

GHashTable *
sf_users_redis_read (const redisReply *r, const char *where, const char *realm, guint max_users, char **version,
           GError **error)
{
  if (r->type == REDIS_REPLY_ERROR) {
    g_autofree char *msg = sf_redis_quote (r->str, r->len);
    set_error (error, where, "%s", msg);
    return NULL;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || (r->elements - 2) % ROW != 0 ||
      (r->elements - 2) / ROW > max_users) {
    set_error (error, where, "a reply of an unexpected shape");
    return NULL;
  }
  for (gsize i = 0; i < r->elements; i++) {
    int t = r->element[i]->type;
    if (t != REDIS_REPLY_STRING && (t != REDIS_REPLY_NIL || i % ROW == 2 || i < 2)) {
      set_error (error, where, "a reply of an unexpected shape");
      return NULL;
    }
  }
  const redisReply *v = r->element[0], *n = r->element[1];
  guint64 users = 0;
  if (v->len > MAX_VERSION_BYTES || memchr (v->str, '\0', v->len) != NULL ||
      !g_ascii_string_to_unsigned (n->str, 10, 0, G_MAXUINT32, &users, NULL)) {
    set_error (error, where, "a reply of an unexpected shape");
    return NULL;
  }
  if (users > max_users) {
    set_error (error, where, "%" G_GUINT64_FORMAT " users, more than registrar.max_users (%u): not read", users,
               max_users);
    return NULL;
  }
  SfUsersReader rd;
  sf_users_reader_init (&rd, where, realm);
  for (gsize i = 2; i < r->elements; i += ROW) {
    gboolean ok = TRUE;
    char *name = reply_str (r->element[i], &ok);
    SfUser *u = g_new0 (SfUser, 1);
    u->realm = reply_str (r->element[i + 1], &ok);
    u->ha1_md5 = reply_str (r->element[i + 2], &ok);
    u->ha1_sha256 = reply_str (r->element[i + 3], &ok);
    u->password = reply_str (r->element[i + 4], &ok);
    sf_users_reader_add (&rd, name, u, ok);
  }
  *version = g_strndup (v->str, v->len);
  return sf_users_reader_finish (&rd);
}

/* ---- synchronous (at start, and `sipflow user`) ---- */

/* A connection to @uri (@password, nullable, wins over the URI's), each
 * command bounded by @timeout_ms; *@shown: redis://host:port/db for messages. */
static redisContext *
sync_open (const char *uri, const char *password, guint timeout_ms, char **shown, GError **error)
{
  SfLocRedisUri u;
  g_autoptr (GError) e = NULL;
  if (!sf_loc_redis_parse_uri (uri, &u, &e)) {
    /* the parser speaks of location.uri */
    const char *msg = strstr (e->message, "expected");
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "registrar.users: %s", msg != NULL ? msg : e->message);
    return NULL;
  }
  *shown = g_strdup_printf (strchr (u.host, ':') != NULL ? "redis://[%s]:%u/%u" : "redis://%s:%u/%u", u.host, u.port,
                            u.db);
  struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
  redisContext *c = redisConnectWithTimeout (u.host, (int) u.port, tv);
  if (c == NULL || c->err != 0) {
    set_error (error, *shown, "cannot connect: %s", c != NULL ? c->errstr : "out of memory");
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
      set_error (error, *shown, "%s refused: %s", what[i], msg);
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

/* EVAL of @script with the two keys and @argv; the reply (transfer full) or an error. */
static redisReply *
sync_eval (redisContext *c, const char *shown, const char *script, guint argc, const char *const *argv,
           GError **error)
{
  guint n = argc + 5;
  g_autofree const char **av = g_new (const char *, n);
  g_autofree size_t *lens = g_new (size_t, n);
  av[0] = "EVAL";
  av[1] = script;
  av[2] = "2";
  av[3] = KEY_USERS;
  av[4] = KEY_VERSION;
  for (guint i = 0; i < argc; i++)
    av[i + 5] = argv[i];
  for (guint i = 0; i < n; i++)
    lens[i] = strlen (av[i]);
  redisReply *r = redisCommandArgv (c, (int) n, av, lens);
  if (r == NULL) {
    set_error (error, shown, "%s", c->errstr[0] != '\0' ? c->errstr : "no answer");
    return NULL;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    g_autofree char *msg = sf_redis_quote (r->str, r->len);
    set_error (error, shown, "%s", msg);
    freeReplyObject (r);
    return NULL;
  }
  return r;
}

static redisReply *
sync_load (const char *uri, const char *password, guint timeout_ms, guint max_users, char **shown, GError **error)
{
  redisContext *c = sync_open (uri, password, timeout_ms, shown, error);
  if (c == NULL)
    return NULL;
  g_autofree char *max = g_strdup_printf ("%u", max_users);
  g_autofree char *len = g_strdup_printf ("%d", MAX (SF_USERS_MAX_REALM, SF_USERS_MAX_PASSWORD));
  const char *argv[] = { max, len };
  redisReply *r = sync_eval (c, *shown, load_script, 2, argv, error);
  redisFree (c);
  return r;
}

/* ---- the server's source ---- */

typedef struct {
  SfUsersSource base;
  SfRedisConn *conn;
  char *password;       /* nullable: registrar.users_password */
  char *version;        /* of the table handed over last; NULL: none read yet */
  gboolean asking;      /* a GET or the load in flight */
  gint64 deadline;      /* its, monotonic */
  GHashTable *loaded;   /* read, handed over at the next poll */
  char *loaded_version;
} Source;

static void
ask (Source *s, const char *script, redisCallbackFn *cb)
{
  redisAsyncContext *ac = sf_redis_conn_context (s->conn);
  g_autofree char *max = g_strdup_printf ("%u", s->base.max_users);
  g_autofree char *len = g_strdup_printf ("%d", MAX (SF_USERS_MAX_REALM, SF_USERS_MAX_PASSWORD));
  int rc = script != NULL
             ? redisAsyncCommand (ac, cb, s, "EVAL %s 2 %s %s %s %s", script, KEY_USERS, KEY_VERSION, max, len)
             : redisAsyncCommand (ac, cb, s, "GET %s", KEY_VERSION);
  if (rc != REDIS_OK)
    return;
  s->asking = TRUE;
  s->deadline = g_get_monotonic_time () + (gint64) sf_redis_conn_timeout_ms (s->conn) * 1000;
}

static void
on_loaded (redisAsyncContext *ac, void *reply, void *privdata)
{
  Source *s = privdata;
  redisReply *r = reply;
  if (r == NULL || sf_redis_conn_context (s->conn) != ac)
    return;
  s->asking = FALSE;
  g_autoptr (GError) error = NULL;
  char *version = NULL;
  GHashTable *t = sf_users_redis_read (r, sf_redis_conn_shown (s->conn), s->base.realm, s->base.max_users, &version, &error);
  if (t == NULL) {
    /* the version is not taken: read again at the next poll that finds it moved */
    g_warning ("%s; the users read before are kept", error->message);
    return;
  }
  g_clear_pointer (&s->loaded, g_hash_table_unref);
  g_free (s->loaded_version);
  s->loaded = t;
  s->loaded_version = version;
}

static void
on_version (redisAsyncContext *ac, void *reply, void *privdata)
{
  Source *s = privdata;
  redisReply *r = reply;
  if (r == NULL || sf_redis_conn_context (s->conn) != ac)
    return;
  s->asking = FALSE;
  const char *v = r->type == REDIS_REPLY_NIL ? "0" : r->type == REDIS_REPLY_STRING ? r->str : NULL;
  if (v == NULL || g_strcmp0 (v, s->version) != 0) /* an error reply: the load says what it is */
    ask (s, load_script, on_loaded);
}

static void
on_ping (redisAsyncContext *ac, void *reply, void *privdata)
{
  Source *s = privdata;
  redisReply *r = reply;
  if (r == NULL || sf_redis_conn_context (s->conn) != ac)
    return;
  if (r->type == REDIS_REPLY_ERROR) {
    g_autofree char *msg = sf_redis_quote (r->str, r->len);
    g_autofree char *why = g_strdup_printf ("PING refused: %s", msg);
    sf_redis_conn_drop (s->conn, why);
    return;
  }
  sf_redis_conn_set_ready (s->conn);
}

static void
conn_connected (SfRedisConn *conn, redisAsyncContext *ac, gpointer data)
{
  redisAsyncCommand (ac, on_ping, data, "PING");
}

static void
conn_down (SfRedisConn *conn, const char *why, gpointer data)
{
  ((Source *) data)->asking = FALSE;
}

static const SfRedisConnHooks conn_hooks = { conn_connected, conn_down };

/* Never waits: hands over a table read since the last poll, else asks for the
 * counter when nothing is asked; a Redis away is the connection's to log and
 * retry (the table read before stays). */
static gboolean
source_poll (SfUsersSource *base, GHashTable **out, GError **error)
{
  Source *s = (Source *) base;
  *out = NULL;
  if (s->loaded != NULL) {
    *out = g_steal_pointer (&s->loaded);
    g_free (s->version);
    s->version = g_steal_pointer (&s->loaded_version);
    return TRUE;
  }
  if (s->asking && g_get_monotonic_time () >= s->deadline) {
    g_autofree char *why = g_strdup_printf ("no answer within %u ms", sf_redis_conn_timeout_ms (s->conn));
    sf_redis_conn_drop (s->conn, why);
  } else if (!s->asking && sf_redis_conn_is_ready (s->conn)) {
    ask (s, NULL, on_version);
  }
  return TRUE;
}

static void
source_free (SfUsersSource *base)
{
  Source *s = (Source *) base;
  sf_redis_conn_free (s->conn);
  g_clear_pointer (&s->loaded, g_hash_table_unref);
  g_free (s->loaded_version);
  g_free (s->version);
  g_free (s->password);
  g_free (base->where);
  g_free (base->realm);
  g_free (s);
}

static const SfUsersSourceClass redis_class = { "redis", source_poll, source_free };

SfUsersSource *
sf_users_redis_source_new (const char *uri, const char *password, guint timeout_ms, const char *realm,
                           guint max_users, GError **error)
{
  SfLocRedisUri u;
  if (!sf_loc_redis_parse_uri (uri, &u, NULL)) {
    g_autofree char *shown = NULL;
    redisContext *c = sync_open (uri, password, timeout_ms, &shown, error); /* says why */
    redisFree (c);
    return NULL;
  }
  if (password != NULL && *password != '\0') {
    g_free (u.password);
    u.password = g_strdup (password);
  }
  Source *s = g_new0 (Source, 1);
  s->base.klass = &redis_class;
  s->base.realm = g_strdup (realm);
  s->base.max_users = max_users;
  /* at start, read at once (nothing is served yet): a Redis reachable now
   * gives its users to the first REGISTER; one that is not leaves the table
   * empty until it is (sipflow starts: several nodes need not wait for each
   * other or for Redis) */
  g_autoptr (GError) e = NULL;
  g_autofree char *shown = NULL;
  redisReply *r = sync_load (uri, password, timeout_ms, max_users, &shown, &e);
  s->base.where = g_strdup (shown != NULL ? shown : uri);
  if (r != NULL) {
    s->loaded = sf_users_redis_read (r, s->base.where, realm, max_users, &s->loaded_version, &e);
    freeReplyObject (r);
  }
  if (e != NULL)
    g_warning ("%s; no users until it is read (again within a second of Redis answering)", e->message);
  else if (s->loaded != NULL && g_hash_table_size (s->loaded) > 0) /* an empty table: sf_users_new says so */
    g_message ("registrar.users: %s: %u users", s->base.where, g_hash_table_size (s->loaded));
  s->conn = sf_redis_conn_new (&u, "registrar.users", "the users read before are kept", timeout_ms, &conn_hooks, s);
  return &s->base;
}

/* ---- offline ---- */

gboolean
sf_users_redis_add (const char *uri, const char *password, guint timeout_ms, const char *user, const char *realm,
                    const char *secret, gboolean plain, gboolean replace, GError **error)
{
  if (!sf_users_add_ok (user, realm, secret, error))
    return FALSE;
  g_autofree char *shown = NULL;
  redisContext *c = sync_open (uri, password, timeout_ms, &shown, error);
  if (c == NULL)
    return FALSE;
  g_autofree char *md5 = sf_digest_ha1 (SF_DIGEST_MD5, user, realm, secret);
  g_autofree char *sha = sf_digest_ha1 (SF_DIGEST_SHA256, user, realm, secret);
  const char *argv[] = { user, replace ? "1" : "0", realm, md5, sha, plain ? secret : "" };
  redisReply *r = sync_eval (c, shown, add_script, G_N_ELEMENTS (argv), argv, error);
  gboolean ok = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  if (r != NULL && !ok)
    set_error (error, shown, r->type == REDIS_REPLY_INTEGER ? "user '%s' exists (--replace to change it)"
                                                            : "an unexpected reply adding '%s'", user);
  freeReplyObject (r);
  redisFree (c);
  return ok;
}

gboolean
sf_users_redis_del (const char *uri, const char *password, guint timeout_ms, const char *user, guint *removed,
                    GError **error)
{
  g_autofree char *shown = NULL;
  redisContext *c = sync_open (uri, password, timeout_ms, &shown, error);
  if (c == NULL)
    return FALSE;
  const char *argv[] = { user };
  redisReply *r = sync_eval (c, shown, del_script, 1, argv, error);
  gboolean ok = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= 1;
  if (ok)
    *removed = (guint) r->integer;
  else if (r != NULL)
    set_error (error, shown, "an unexpected reply removing '%s'", user);
  freeReplyObject (r);
  redisFree (c);
  return ok;
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

gboolean
sf_users_redis_each (const char *uri, const char *password, guint timeout_ms, const char *realm, guint max_users,
                     SfUsersEachFunc f, gpointer data, GError **error)
{
  g_autofree char *shown = NULL;
  redisReply *r = sync_load (uri, password, timeout_ms, max_users, &shown, error);
  if (r == NULL)
    return FALSE;
  g_autofree char *version = NULL;
  g_autoptr (GHashTable) t = sf_users_redis_read (r, shown, realm, max_users, &version, error);
  freeReplyObject (r);
  if (t == NULL)
    return FALSE;
  g_autofree gpointer *names = g_hash_table_get_keys_as_array (t, NULL);
  guint n = g_hash_table_size (t);
  qsort (names, n, sizeof *names, (int (*) (const void *, const void *)) by_name);
  for (guint i = 0; i < n; i++) {
    const SfUser *u = g_hash_table_lookup (t, names[i]);
    f (names[i], u->realm, u->ha1_md5 != NULL, u->ha1_sha256 != NULL, u->password != NULL, data);
  }
  return TRUE;
}
