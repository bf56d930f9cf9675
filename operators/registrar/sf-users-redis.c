/* sf-users-redis.c: the credentials in a Redis hash (see sf-users.h,
 * docs/servers.md "Credentials"): the server's source, and the offline
 * add/del/list of `sipflow user` (one place knows the keys and the format).
 *
 * One hash, "sipflow:users": field the user name, value a JSON object
 * {"realm", "ha1_md5", "ha1_sha256", "password"} (written by cjson inside
 * Redis: redis-cli shows it as it is); beside it a counter,
 * "sipflow:users:version", that every change made here increments in the
 * same script.  The server reads the whole hash at start (synchronously,
 * bounded by the timeout: it serves nothing yet), then, from poll, at most
 * once a second: a script returning the counter and HLEN (O(1)) on the
 * connection sf-redis-conn.c keeps up, and when the counter moved
 * MULTI GET HGETALL EXEC (atomic, so the table matches its version); the
 * table is built when the reply comes and handed over at the next poll.  poll
 * never waits: a command past the timeout drops the connection (reconnected
 * with backoff) and the table read before is kept.
 *
 * Why HGETALL in a MULTI rather than HSCAN or a script: the read is atomic
 * with its version (an HSCAN would see a hash that changes under it); a Lua
 * script decoding the values took Redis close to a second for 100,000 users
 * (blocking every node's location commands meanwhile), HGETALL some 100 ms.
 * The reply is bounded by HLEN, checked first against registrar.max_users
 * (and its size again on arrival); 100,000 users are some 16 MB, read by the
 * main loop in 16 KB steps.  Every value is hostile: parsed here (a flat
 * object of strings, nothing else), then checked by sf_users_reader_add as
 * the SQLite rows are. */
#include "config.h"
#include "sf-users.h"
#include "sf-redis-conn.h"
#include <hiredis/hiredis.h>
#include <string.h>

#define KEY_USERS "sipflow:users"
#define KEY_VERSION "sipflow:users:version"
#define MAX_VERSION_BYTES 32
#define MAX_VALUE 2048       /* bytes of a value: four fields of at most 256, escaped */

/* KEYS[1] the hash, KEYS[2] the counter: {version, users}, both O(1). */
static const char check_script[] =
  "return {redis.call('GET', KEYS[2]) or '0', redis.call('HLEN', KEYS[1])}\n";

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

/* A JSON string at *@p (its opening quote) into @out; FALSE when malformed or
 * holding what no field may (a NUL, a surrogate). */
static gboolean
json_string (const char **p, const char *end, GString *out)
{
  const char *s = *p;
  if (s >= end || *s != '"')
    return FALSE;
  for (s++; s < end && *s != '"';) {
    guchar c = (guchar) *s++;
    if (c < 0x20)
      return FALSE;
    if (c != '\\') {
      g_string_append_c (out, (char) c);
      continue;
    }
    if (s >= end)
      return FALSE;
    c = (guchar) *s++;
    switch (c) {
    case '"': case '\\': case '/': g_string_append_c (out, (char) c); continue;
    case 'b': g_string_append_c (out, '\b'); continue;
    case 'f': g_string_append_c (out, '\f'); continue;
    case 'n': g_string_append_c (out, '\n'); continue;
    case 'r': g_string_append_c (out, '\r'); continue;
    case 't': g_string_append_c (out, '\t'); continue;
    case 'u': break;
    default: return FALSE;
    }
    guint cp = 0;
    for (int i = 0; i < 4; i++) {
      int d = s + i < end ? g_ascii_xdigit_value (s[i]) : -1;
      if (d < 0)
        return FALSE;
      cp = cp * 16 + (guint) d;
    }
    s += 4;
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
      return FALSE;
    g_string_append_unichar (out, cp);
  }
  if (s >= end)
    return FALSE;
  *p = s + 1;
  return TRUE;
}

static void
json_ws (const char **p, const char *end)
{
  while (*p < end && (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n'))
    (*p)++;
}

gboolean
sf_users_redis_parse_value (const char *v, gsize len, SfUser *u)
{
  static const char *const keys[] = { "realm", "ha1_md5", "ha1_sha256", "password" };
  char **dst[] = { &u->realm, &u->ha1_md5, &u->ha1_sha256, &u->password };
  const char *p = v, *end = v + len;
  if (len > MAX_VALUE)
    return FALSE;
  g_autoptr (GString) key = g_string_new (NULL);
  g_autoptr (GString) val = g_string_new (NULL);
  json_ws (&p, end);
  if (p >= end || *p++ != '{')
    return FALSE;
  json_ws (&p, end);
  gboolean more = p < end && *p != '}';
  if (!more)
    p++;
  while (more) {
    g_string_truncate (key, 0);
    json_ws (&p, end);
    if (!json_string (&p, end, key))
      return FALSE;
    json_ws (&p, end);
    if (p >= end || *p++ != ':')
      return FALSE;
    json_ws (&p, end);
    int which = -1;
    for (int i = 0; i < (int) G_N_ELEMENTS (keys); i++)
      if (strcmp (key->str, keys[i]) == 0)
        which = i;
    if (p < end && *p == '"') {
      g_string_truncate (val, 0);
      if (!json_string (&p, end, val))
        return FALSE;
      if (which >= 0) {
        if (*dst[which] != NULL) /* twice */
          return FALSE;
        *dst[which] = g_strndup (val->str, val->len);
      }
    } else if (end - p >= 4 && memcmp (p, "null", 4) == 0) {
      p += 4;
    } else {
      return FALSE;
    }
    json_ws (&p, end);
    if (p >= end)
      return FALSE;
    char c = *p++;
    if (c == '}')
      more = FALSE;
    else if (c != ',')
      return FALSE;
  }
  json_ws (&p, end);
  return p == end;
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
  /* EXEC's: {GET's, HGETALL's} */
  const redisReply *v = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[0] : NULL;
  const redisReply *h = v != NULL ? r->element[1] : NULL;
  if (v == NULL || (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_NIL) || v->len > MAX_VERSION_BYTES ||
      (v->str != NULL && memchr (v->str, '\0', v->len) != NULL) || h->type != REDIS_REPLY_ARRAY ||
      h->elements % 2 != 0) {
    set_error (error, where, "a reply of an unexpected shape");
    return NULL;
  }
  if (h->elements / 2 > max_users) {
    set_error (error, where, "%zu users, more than registrar.max_users (%u): not read", h->elements / 2, max_users);
    return NULL;
  }
  for (gsize i = 0; i < h->elements; i++)
    if (h->element[i]->type != REDIS_REPLY_STRING) {
      set_error (error, where, "a reply of an unexpected shape");
      return NULL;
    }
  SfUsersReader rd;
  sf_users_reader_init (&rd, where, realm);
  for (gsize i = 0; i < h->elements; i += 2) {
    const redisReply *n = h->element[i], *val = h->element[i + 1];
    SfUser *u = g_new0 (SfUser, 1);
    /* a name too long or with a NUL is cut and shown as it is: the reader refuses it */
    gboolean ok = n->len <= SF_USERS_MAX_NAME && memchr (n->str, '\0', n->len) == NULL &&
                  sf_users_redis_parse_value (val->str, val->len, u);
    sf_users_reader_add (&rd, g_strndup (n->str, MIN (n->len, SF_USERS_MAX_NAME + 1)), u, ok);
  }
  *version = g_strndup (v->str != NULL ? v->str : "0", v->str != NULL ? v->len : 1);
  return sf_users_reader_finish (&rd);
}

/* ---- synchronous (at start, and `sipflow user`) ---- */


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

/* The hash and its version, atomically: EXEC's reply (transfer full), after
 * HLEN bounded it by @max_users. */
static redisReply *
sync_load (const char *uri, const char *password, guint timeout_ms, guint max_users, char **shown, GError **error)
{
  redisContext *c = sf_redis_sync_open (uri, password, timeout_ms, "registrar.users", shown, error);
  if (c == NULL)
    return NULL;
  redisReply *n = redisCommand (c, "HLEN %s", KEY_USERS);
  if (n == NULL || n->type != REDIS_REPLY_INTEGER || n->integer < 0 || (guint64) n->integer > max_users) {
    if (n == NULL)
      set_error (error, *shown, "%s", c->errstr[0] != '\0' ? c->errstr : "no answer");
    else if (n->type == REDIS_REPLY_INTEGER)
      set_error (error, *shown, "%lld users, more than registrar.max_users (%u): not read", n->integer, max_users);
    else
      set_error (error, *shown, "HLEN: an unexpected reply");
    freeReplyObject (n);
    redisFree (c);
    return NULL;
  }
  freeReplyObject (n);
  redisAppendCommand (c, "MULTI");
  redisAppendCommand (c, "GET %s", KEY_VERSION);
  redisAppendCommand (c, "HGETALL %s", KEY_USERS);
  redisAppendCommand (c, "EXEC");
  redisReply *r = NULL;
  for (int i = 0; i < 4; i++) {
    freeReplyObject (r);
    r = NULL;
    if (redisGetReply (c, (void **) &r) != REDIS_OK) {
      set_error (error, *shown, "%s", c->errstr[0] != '\0' ? c->errstr : "no answer");
      redisFree (c);
      return NULL;
    }
  }
  redisFree (c);
  return r;
}

/* ---- the server's source ---- */

typedef struct {
  SfUsersSource base;
  SfRedisConn *conn;
  char *version;        /* of the table handed over last; NULL: none read yet */
  gboolean asking;      /* a GET or the load in flight */
  gint64 deadline;      /* its, monotonic */
  GHashTable *loaded;   /* read, handed over at the next poll */
  char *loaded_version;
  char *too_many;       /* the version found with more than max_users users (warned once) */
} Source;

static void on_loaded (redisAsyncContext *ac, void *reply, void *privdata);
static void on_version (redisAsyncContext *ac, void *reply, void *privdata);

/* The counter and HLEN (@load FALSE) or the hash with its version: asked,
 * bounded by the timeout (poll looks). */
static void
ask (Source *s, gboolean load)
{
  redisAsyncContext *ac = sf_redis_conn_context (s->conn);
  int rc;
  if (load) {
    redisAsyncCommand (ac, NULL, NULL, "MULTI");
    redisAsyncCommand (ac, NULL, NULL, "GET %s", KEY_VERSION);
    redisAsyncCommand (ac, NULL, NULL, "HGETALL %s", KEY_USERS);
    rc = redisAsyncCommand (ac, on_loaded, s, "EXEC");
  } else {
    rc = redisAsyncCommand (ac, on_version, s, "EVAL %s 2 %s %s", check_script, KEY_USERS, KEY_VERSION);
  }
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
  const redisReply *v = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[0] : NULL;
  const redisReply *n = v != NULL ? r->element[1] : NULL;
  if (v == NULL || v->type != REDIS_REPLY_STRING || n->type != REDIS_REPLY_INTEGER) {
    g_autofree char *msg = r->type == REDIS_REPLY_ERROR ? sf_redis_quote (r->str, r->len) : g_strdup ("an unexpected reply");
    g_autofree char *why = g_strdup_printf ("reading the version: %s", msg);
    sf_redis_conn_drop (s->conn, why);
    return;
  }
  if (g_strcmp0 (v->str, s->version) == 0)
    return;
  if (n->integer < 0 || (guint64) n->integer > s->base.max_users) {
    if (g_strcmp0 (v->str, s->too_many) != 0) /* once a version */
      g_warning ("registrar.users: %s: %lld users, more than registrar.max_users (%u): not read; the users read "
                 "before are kept", sf_redis_conn_shown (s->conn), n->integer, s->base.max_users);
    g_free (s->too_many);
    s->too_many = g_strndup (v->str, MIN (v->len, MAX_VERSION_BYTES));
    return;
  }
  ask (s, TRUE);
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
    ask (s, FALSE);
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
  g_free (s->too_many);
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
    redisContext *c = sf_redis_sync_open (uri, password, timeout_ms, "registrar.users", &shown, error); /* says why */
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
  redisContext *c = sf_redis_sync_open (uri, password, timeout_ms, "registrar.users", &shown, error);
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
  redisContext *c = sf_redis_sync_open (uri, password, timeout_ms, "registrar.users", &shown, error);
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
