/* sf-location-redis.c: the location service's Redis layer (see
 * sf-location-store.h, docs/servers.md "Redis: several nodes, one store").
 *
 * Redis is authoritative: several nodes share it, so this layer answers every
 * lookup and update itself (the memory core stays empty).  One hash per
 * address-of-record ("sipflow:loc:" AOR), one field per contact URI, the value
 * the binding in JSON (cjson, inside Redis: redis-cli shows it as it is); the
 * key's TTL follows the longest expiry, and since Redis 7.0 has no per-field
 * expiry the expired contacts are filtered on every read.  Lookups and updates
 * are one script (SCRIPT LOAD at connect, EVALSHA, EVAL again after NOSCRIPT):
 * an update does 10.3 step 7 atomically (expired filtered, CSeq order,
 * Contact: *, the limits, the write, EXPIRE) and returns the bindings, so the
 * 200 goes out only once Redis has them.
 *
 * hiredis 0.14 drives the protocol over the connection sf-redis-conn.c keeps
 * up (names resolved with GResolver, a deadline for connecting, reconnect
 * with backoff); every command has a deadline kept here: past it, or when
 * the connection is lost, every pending command fails (an update
 * SF_LOCATION_ERROR_STORE_FAILED, a lookup SF_LOCATION_ERROR_UNAVAILABLE) and
 * the connection is dropped and made again after the backoff.
 *
 * Everything Redis returns is taken as hostile: the reply's shape, each
 * field's length and number are checked, a bad binding dropped with a counted
 * warning. */
#include "config.h"
#include "sf-location-store.h"
#include "sf-redis-conn.h"
#include <gio/gio.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <string.h>

#define KEY_PREFIX "sipflow:loc:"
/* Commands waiting at once, and the bytes of their arguments: past either a
 * request fails at once (a flood while Redis is slow costs no more memory
 * than this: an update may carry ~64 KiB, 10,000 of them would be 640 MiB). */
#define MAX_FLIGHT 10000
#define MAX_FLIGHT_BYTES (16 * 1024 * 1024)

/* KEYS[1]: the address-of-record's hash.  ARGV[1] 'lookup' or 'update',
 * ARGV[2] now (wall seconds, the node's), ARGV[3] most bindings, ARGV[4] most
 * bytes, ARGV[5] most keys (registrar.max_aors, 0 none); an update: ARGV[6]
 * Call-ID, [7] CSeq, [8] '1' for Contact: *, [9..14] source transport local
 * flow path node ('-' none, '+' then the value), then five a contact: URI, q,
 * expires (seconds, 0 removes), +sip.instance ('-' or '+'), reg-id.  Returns
 * {status, dropped, detail, then 13 fields a binding}: status ok, order
 * (CSeq), full (the limits of one address-of-record) or store_full (a new
 * key while the database holds most keys already: DBSIZE, so the database
 * is the location store's alone; what else it holds counts against the
 * bound); dropped the stored values that could not be read (removed by the
 * next update). */
static const char script[] =
  "local key, now = KEYS[1], tonumber(ARGV[2])\n"
  "local maxb, maxbytes, maxkeys = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
  "local names = {'source', 'transport', 'local', 'flow', 'path', 'node'}\n"
  "local function opt(v) if string.sub(v, 1, 1) == '+' then return string.sub(v, 2) end return nil end\n"
  "local function str(v) if type(v) == 'string' then return v end return false end\n"
  "local function num(v) return type(v) == 'number' and v == v end\n"
  /* whole numbers the nodes can read back: Lua writes 1e14 and above with an
   * exponent, which is no expiry, CSeq or reg-id to them */
  "local function whole(v, max) return num(v) and v >= 0 and v <= max and v == math.floor(v) end\n"
  "local live, order, dropped = {}, {}, 0\n"
  "local raw = redis.call('HGETALL', key)\n"
  "for i = 1, #raw, 2 do\n"
  "  local ok, b = pcall(cjson.decode, raw[i + 1])\n"
  "  if ok and type(b) == 'table' and num(b.q) and whole(b.expires, 1e13) and whole(b.cseq, 4294967295) and\n"
  "     whole(b.reg_id, 4294967295) and type(b.call_id) == 'string' then\n"
  "    if b.expires > now then live[raw[i]] = b; order[#order + 1] = raw[i] end\n"
  "  else dropped = dropped + 1 end\n"
  "end\n"
  "local function reply(status, detail)\n"
  "  local out = {status, tostring(dropped), detail or ''}\n"
  "  if status ~= 'ok' then return out end\n"
  "  local n = 0\n"
  "  for _, c in ipairs(order) do\n"
  "    local b = live[c]\n"
  "    if n < maxb then\n"
  "      n = n + 1\n"
  "      local f = {c, tostring(b.q), tostring(b.expires), b.call_id, tostring(b.cseq)}\n"
  "      for k = 1, 5 do f[#f + 1] = str(b[names[k]]) end\n"
  "      f[#f + 1] = str(b.instance); f[#f + 1] = tostring(b.reg_id); f[#f + 1] = str(b.node)\n"
  "      for k = 1, 13 do out[#out + 1] = f[k] end\n"
  "    end\n"
  "  end\n"
  "  return out\n"
  "end\n"
  "if ARGV[1] ~= 'update' then return reply('ok') end\n"
  "local call_id, cseq, all = ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1'\n"
  "local origin = {}\n"
  "for k = 1, 6 do origin[names[k]] = opt(ARGV[8 + k]) end\n"
  "local changes = {}\n"
  "for i = 15, #ARGV - 4, 5 do\n"
  "  changes[#changes + 1] = {contact = ARGV[i], q = tonumber(ARGV[i + 1]), expires = tonumber(ARGV[i + 2]),\n"
  "                           instance = opt(ARGV[i + 3]), reg_id = tonumber(ARGV[i + 4])}\n"
  "end\n"
  "for _, c in ipairs(order) do\n"
  "  local b, touched = live[c], all\n"
  "  for _, ch in ipairs(changes) do if ch.contact == c then touched = true end end\n"
  "  if touched and b.call_id == call_id and cseq <= b.cseq then\n"
  "    return reply('order', 'CSeq ' .. ARGV[7] .. ' is not above ' .. tostring(b.cseq) .. ' for Call-ID ' .. call_id)\n"
  "  end\n"
  "end\n"
  "local after, aorder = {}, {}\n"
  "if not all then for _, c in ipairs(order) do after[c] = live[c]; aorder[#aorder + 1] = c end end\n"
  "for _, ch in ipairs(changes) do\n"
  "  if ch.expires <= 0 then after[ch.contact] = nil\n"
  "  else\n"
  "    aorder[#aorder + 1] = ch.contact\n"
  "    local b = {q = ch.q, expires = now + ch.expires, call_id = call_id, cseq = cseq, instance = ch.instance,\n"
  "               reg_id = ch.reg_id}\n"
  "    for k = 1, 6 do b[names[k]] = origin[names[k]] end\n"
  "    after[ch.contact] = b\n"
  "  end\n"
  "end\n"
  "local kept, seen, bytes, longest = {}, {}, 0, 0\n"
  "for _, c in ipairs(aorder) do\n"
  "  local b = after[c]\n"
  "  if b and not seen[c] then\n"
  "    seen[c] = true; kept[#kept + 1] = c\n"
  "    bytes = bytes + #c + #b.call_id\n"
  "    for k = 1, 6 do if type(b[names[k]]) == 'string' then bytes = bytes + #b[names[k]] end end\n"
  "    if type(b.instance) == 'string' then bytes = bytes + #b.instance end\n"
  "    if b.expires > longest then longest = b.expires end\n"
  "  end\n"
  "end\n"
  "if #kept > maxb or bytes > maxbytes then\n"
  "  return reply('full', key .. ' would have ' .. #kept .. ' bindings of ' .. bytes .. ' bytes')\n"
  "end\n"
  "if #raw == 0 and #kept > 0 and maxkeys > 0 and redis.call('DBSIZE') >= maxkeys then\n"
  "  return reply('store_full', 'the location store holds ' .. maxkeys .. ' keys already')\n"
  "end\n"
  "redis.call('DEL', key)\n"
  "if #kept > 0 then\n"
  "  local args = {}\n"
  "  for _, c in ipairs(kept) do args[#args + 1] = c; args[#args + 1] = cjson.encode(after[c]) end\n"
  "  redis.call('HSET', key, unpack(args))\n"
  "  redis.call('EXPIRE', key, longest - now + 1)\n"
  "end\n"
  "live, order = after, kept\n"
  "return reply('ok')\n";

typedef struct _Store Store;

/* One lookup or update: held by the queue it is in (flight or failing) and by
 * hiredis while a reply is due (its callback comes exactly once). */
typedef struct {
  Store *s;
  guint refs;
  gboolean update;
  gboolean answered;  /* its outcome given, or dropped at close: a late reply is ignored */
  gboolean sent;      /* handed to hiredis on this connection */
  gboolean evaled;    /* sent again as EVAL after NOSCRIPT */
  gpointer data;
  gint64 deadline;    /* monotonic microseconds */
  GPtrArray *args;    /* char*: KEYS[1] then ARGV; freed once it failed */
  gsize bytes;        /* of args, counted in the store's flight_bytes while in flight */
  GError *error;      /* set when it failed, delivered from the failing queue */
} Cmd;

struct _Store {
  SfLocStore base;
  SfRedisConn *conn;
  char *sha;               /* the script's, from SCRIPT LOAD */
  GQueue flight;           /* Cmd*, not answered yet, oldest first */
  gsize flight_bytes;      /* their arguments' bytes (MAX_FLIGHT_BYTES) */
  GQueue failing;          /* Cmd*, failed, to deliver from tick */
  GSource *tick;           /* deadlines and failed deliveries */
  guint64 dropped;         /* stored bindings that could not be read, since start */
};

static void
cmd_unref (Cmd *c)
{
  if (--c->refs > 0)
    return;
  if (c->args != NULL)
    g_ptr_array_unref (c->args);
  g_clear_error (&c->error);
  g_free (c);
}

/* ---- the URI ---- */

void
sf_loc_redis_uri_clear (SfLocRedisUri *u)
{
  g_clear_pointer (&u->host, g_free);
  g_clear_pointer (&u->password, g_free);
}

gboolean
sf_loc_redis_parse_uri (const char *uri, SfLocRedisUri *out, GError **error)
{
  memset (out, 0, sizeof *out);
  g_autoptr (GError) e = NULL;
  g_autoptr (GUri) u = g_uri_parse (uri != NULL ? uri : "", G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_NON_DNS, &e);
  const char *why = NULL;
  if (u == NULL)
    why = e->message;
  else if (g_strcmp0 (g_uri_get_scheme (u), "redis") != 0)
    why = "the scheme is not redis";
  else if (g_uri_get_host (u) == NULL || *g_uri_get_host (u) == '\0')
    why = "no host";
  else if (g_uri_get_user (u) != NULL && *g_uri_get_user (u) != '\0')
    why = "a user name (Redis ACL users are not supported: redis://:PASSWORD@HOST)";
  else if (g_uri_get_query (u) != NULL || g_uri_get_fragment (u) != NULL)
    why = "a query or fragment";
  guint64 db = 0;
  if (why == NULL) {
    const char *path = g_uri_get_path (u);
    if (*path == '/')
      path++;
    if (*path != '\0' && !g_ascii_string_to_unsigned (path, 10, 0, G_MAXINT, &db, NULL))
      why = "the database is not a number (redis://HOST:PORT/DB)";
  }
  if (why != NULL) {
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED,
                 "location.uri: expected redis://[:PASSWORD@]HOST[:PORT][/DB]: %s", why);
    return FALSE;
  }
  out->host = g_strdup (g_uri_get_host (u));
  out->port = g_uri_get_port (u) > 0 ? (guint) g_uri_get_port (u) : 6379;
  out->db = (guint) db;
  const char *pw = g_uri_get_password (u);
  out->password = pw != NULL && *pw != '\0' ? g_strdup (pw) : NULL;
  return TRUE;
}

/* ---- decoding what Redis returns ---- */

/* A string field: no NUL inside, at most the bytes an address-of-record may hold. */
static gboolean
text_ok (const char *v, gsize len, gboolean required)
{
  if (v == NULL)
    return !required;
  return len <= SF_LOCATION_MAX_AOR_BYTES && memchr (v, '\0', len) == NULL && (!required || len > 0);
}

static gboolean
unsigned_ok (const char *v, guint64 max, guint64 *out)
{
  return v != NULL && g_ascii_string_to_unsigned (v, 10, 0, max, out, NULL);
}

SfLocBinding *
sf_loc_redis_decode (const char *const *f, const gsize *lens, const char **why)
{
  /* contact q expires call_id cseq source transport local flow path instance reg_id node */
  static const gboolean required[SF_LOC_REDIS_FIELDS] = { TRUE, TRUE, TRUE, TRUE, TRUE, FALSE, FALSE,
                                                          FALSE, FALSE, FALSE, FALSE, TRUE, FALSE };
  static const gboolean number[SF_LOC_REDIS_FIELDS] = { FALSE, TRUE, TRUE, FALSE, TRUE, FALSE, FALSE,
                                                        FALSE, FALSE, FALSE, FALSE, TRUE, FALSE };
  for (guint i = 0; i < SF_LOC_REDIS_FIELDS; i++)
    if (!text_ok (f[i], lens[i], required[i]) || (number[i] && lens[i] > 32)) {
      *why = "a field missing, too long or holding a NUL";
      return NULL;
    }
  char *end = NULL;
  double q = g_ascii_strtod (f[1], &end);
  guint64 expires, cseq, reg_id;
  if (end == f[1] || *end != '\0') {
    *why = "q is not a number";
    return NULL;
  }
  if (!unsigned_ok (f[2], G_MAXINT64, &expires) || !unsigned_ok (f[4], G_MAXUINT32, &cseq) ||
      !unsigned_ok (f[11], G_MAXUINT32, &reg_id)) {
    *why = "expires, CSeq or reg-id is not a whole number in range";
    return NULL;
  }
  SfLocBinding *b = g_new0 (SfLocBinding, 1);
  /* 0..1 whatever Redis says: the proxy and the 200 turn q into thousandths */
  b->q = isnan (q) || q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
  b->expires_at = (gint64) expires;
  b->cseq = (guint32) cseq;
  b->reg_id = (guint32) reg_id;
  b->contact = g_strdup (f[0]);
  b->call_id = g_strdup (f[3]);
  b->source = g_strdup (f[5]);
  b->transport = g_strdup (f[6]);
  b->local = g_strdup (f[7]);
  b->flow = g_strdup (f[8]);
  b->path = g_strdup (f[9]);
  b->instance = g_strdup (f[10]);
  b->node = g_strdup (f[12]);
  return b;
}

/* The script's reply: the bindings (transfer full) or an error naming
 * @shown; *@dropped (added to) the stored bindings that could not be read,
 * *@why (nullable) why the last was not. */
static GPtrArray *
decode_reply (const char *shown, const redisReply *r, guint64 *dropped_out, const char **why_out, GError **error)
{
  if (r->type == REDIS_REPLY_ERROR) {
    g_autofree char *msg = sf_redis_quote (r->str, r->len);
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "%s: %s", shown, msg);
    return NULL;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || (r->elements - 3) % SF_LOC_REDIS_FIELDS != 0 ||
      (r->elements - 3) / SF_LOC_REDIS_FIELDS > SF_LOCATION_MAX_BINDINGS) {
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "%s: a reply of an unexpected shape",
                 shown);
    return NULL;
  }
  const char *f[SF_LOC_REDIS_FIELDS];
  gsize lens[SF_LOC_REDIS_FIELDS];
  for (guint i = 0; i < r->elements; i++) {
    const redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_NIL) {
      g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "%s: a reply of an unexpected shape",
                   shown);
      return NULL;
    }
  }
  const redisReply *status = r->element[0], *detail = r->element[2];
  guint64 dropped = 0;
  if (r->element[1]->str != NULL)
    unsigned_ok (r->element[1]->str, G_MAXUINT32, &dropped);
  if (status->str == NULL || strcmp (status->str, "ok") != 0) {
    gboolean order = status->str != NULL && strcmp (status->str, "order") == 0;
    gboolean full = status->str != NULL && strcmp (status->str, "full") == 0;
    gboolean store_full = status->str != NULL && strcmp (status->str, "store_full") == 0;
    g_autofree char *msg = sf_redis_quote (detail->str, detail->len);
    g_set_error (error, SF_LOCATION_ERROR,
                 order        ? SF_LOCATION_ERROR_OUT_OF_ORDER
                 : full       ? SF_LOCATION_ERROR_FULL
                 : store_full ? SF_LOCATION_ERROR_STORE_FULL
                              : SF_LOCATION_ERROR_STORE_FAILED,
                 "%s", order || full || store_full ? msg : "an unexpected status from the script");
    return NULL;
  }
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
  gsize bytes = 0;
  const char *why = NULL;
  for (guint i = 3; i < r->elements; i += SF_LOC_REDIS_FIELDS) {
    gsize sum = 0;
    for (guint k = 0; k < SF_LOC_REDIS_FIELDS; k++) {
      f[k] = r->element[i + k]->str;
      lens[k] = f[k] != NULL ? r->element[i + k]->len : 0;
      sum += lens[k];
    }
    SfLocBinding *b = bytes + sum <= 2 * SF_LOCATION_MAX_AOR_BYTES ? sf_loc_redis_decode (f, lens, &why) : NULL;
    if (b == NULL) {
      dropped++;
      why = why != NULL ? why : "more bytes than an address-of-record may hold";
      continue;
    }
    bytes += sum;
    g_ptr_array_add (list, b);
  }
  *dropped_out += dropped;
  if (why_out != NULL && dropped > 0)
    *why_out = why != NULL ? why : "not a binding";
  return list;
}

/* decode_reply, its dropped bindings counted and logged. */
static GPtrArray *
read_reply (Store *s, const redisReply *r, GError **error)
{
  guint64 dropped = 0;
  const char *why = NULL;
  GPtrArray *list = decode_reply (sf_redis_conn_shown (s->conn), r, &dropped, &why, error);
  if (dropped > 0) {
    s->dropped += dropped;
    g_warning ("location: %s: %" G_GUINT64_FORMAT " stored binding(s) could not be read and were left out (%s; "
               "%" G_GUINT64_FORMAT " since start)",
               sf_redis_conn_shown (s->conn), dropped, why, s->dropped);
  }
  return list;
}


/* ---- commands, deadlines, failures ---- */

static void
arm (Store *s)
{
  gint64 t = -1;
  if (s->failing.length > 0)
    t = 0;
  else {
    Cmd *head = g_queue_peek_head (&s->flight);
    if (head != NULL && sf_redis_conn_is_ready (s->conn))
      t = head->deadline;
  }
  g_source_set_ready_time (s->tick, t);
}

static void
flight_remove (Store *s, Cmd *c)
{
  if (g_queue_remove (&s->flight, c))
    s->flight_bytes -= c->bytes;
}

/* @c fails with @why; its outcome goes out from the tick, never from inside the call that asked. */
static void
fail_cmd (Store *s, Cmd *c, const char *why)
{
  flight_remove (s, c);
  g_clear_pointer (&c->args, g_ptr_array_unref); /* hiredis has its own copy if it was sent */
  c->error = g_error_new (SF_LOCATION_ERROR, c->update ? SF_LOCATION_ERROR_STORE_FAILED : SF_LOCATION_ERROR_UNAVAILABLE,
                          "%s: %s", sf_redis_conn_shown (s->conn), why);
  g_queue_push_tail (&s->failing, c);
  g_source_set_ready_time (s->tick, 0);
}

static void
fail_all (Store *s, const char *why)
{
  for (Cmd *c; (c = g_queue_peek_head (&s->flight)) != NULL;)
    fail_cmd (s, c, why);
}

/* The connection failed or is gone: fail what waits (sf-redis-conn.c connects again). */
static void
conn_down (SfRedisConn *conn, const char *why, gpointer data)
{
  Store *s = data;
  fail_all (s, why);
  arm (s);
}

static void on_reply (redisAsyncContext *ac, void *reply, void *privdata);

static void
send_cmd (Store *s, Cmd *c)
{
  guint n = c->args->len + 3;
  g_autofree const char **argv = g_new (const char *, n);
  g_autofree size_t *lens = g_new (size_t, n);
  argv[0] = c->evaled ? "EVAL" : "EVALSHA";
  argv[1] = c->evaled ? script : s->sha;
  argv[2] = "1";
  for (guint i = 0; i < c->args->len; i++)
    argv[i + 3] = c->args->pdata[i];
  for (guint i = 0; i < n; i++)
    lens[i] = strlen (argv[i]);
  if (redisAsyncCommandArgv (sf_redis_conn_context (s->conn), on_reply, c, (int) n, argv, lens) != REDIS_OK) {
    fail_cmd (s, c, "the connection is closing");
    return;
  }
  c->sent = TRUE;
  c->refs++; /* hiredis's, until its callback */
}

static void
on_reply (redisAsyncContext *ac, void *reply, void *privdata)
{
  Cmd *c = privdata;
  redisReply *r = reply;
  if (!c->answered && c->error == NULL) {
    Store *s = c->s;
    if (r == NULL)
      fail_cmd (s, c, "the connection was lost");
    else if (r->type == REDIS_REPLY_ERROR && !c->evaled && g_str_has_prefix (r->str, "NOSCRIPT")) {
      c->evaled = TRUE; /* Redis restarted or SCRIPT FLUSH: the script itself, once */
      send_cmd (s, c);
    } else {
      g_autoptr (GError) error = NULL;
      GPtrArray *bindings = read_reply (s, r, &error);
      if (error != NULL && error->code == SF_LOCATION_ERROR_STORE_FAILED && !c->update)
        error->code = SF_LOCATION_ERROR_UNAVAILABLE;
      flight_remove (s, c);
      c->answered = TRUE;
      s->base.answered (error, bindings, c->data);
      cmd_unref (c); /* the queue's */
      arm (s);
    }
  }
  cmd_unref (c); /* hiredis's */
}

static gboolean
tick_dispatch (GSource *src, GSourceFunc cb, gpointer data)
{
  Store *s = data;
  g_source_set_ready_time (src, -1);
  for (Cmd *c; (c = g_queue_pop_head (&s->failing)) != NULL;) {
    c->answered = TRUE;
    s->base.answered (c->error, NULL, c->data);
    cmd_unref (c);
  }
  gint64 now = g_get_monotonic_time ();
  Cmd *head = g_queue_peek_head (&s->flight);
  if (sf_redis_conn_is_ready (s->conn) && head != NULL && now >= head->deadline) {
    g_autofree char *why = g_strdup_printf ("no answer within %u ms", sf_redis_conn_timeout_ms (s->conn));
    sf_redis_conn_drop (s->conn, why);
  }
  arm (s);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs tick_funcs = { NULL, NULL, tick_dispatch, NULL, NULL, NULL };

/* A lookup or an update for @aor: sent now when connected, kept while
 * connecting, failed at once while waiting to reconnect. */
static void
submit (Store *s, gboolean update, const char *aor, GPtrArray *argv, gpointer data)
{
  Cmd *c = g_new0 (Cmd, 1);
  c->s = s;
  c->refs = 1;
  c->update = update;
  c->data = data;
  c->deadline = g_get_monotonic_time () + (gint64) sf_redis_conn_timeout_ms (s->conn) * 1000;
  c->args = argv;
  g_ptr_array_insert (c->args, 0, g_strconcat (KEY_PREFIX, aor, NULL));
  for (guint i = 0; i < c->args->len; i++)
    c->bytes += strlen (c->args->pdata[i]) + 16; /* and what the protocol adds */
  g_queue_push_tail (&s->flight, c);
  s->flight_bytes += c->bytes;
  if (s->flight.length > MAX_FLIGHT)
    fail_cmd (s, c, "too many commands waiting");
  else if (s->flight_bytes > MAX_FLIGHT_BYTES)
    fail_cmd (s, c, "too many bytes of commands waiting");
  else if (sf_redis_conn_is_ready (s->conn))
    send_cmd (s, c);
  else if (!sf_redis_conn_is_connecting (s->conn))
    fail_cmd (s, c, sf_redis_conn_last_why (s->conn) != NULL ? sf_redis_conn_last_why (s->conn) : "not connected");
  arm (s);
}

static GPtrArray *
argv_new (const char *mode, gint64 now, guint max_aors)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (a, g_strdup (mode));
  g_ptr_array_add (a, g_strdup_printf ("%" G_GINT64_FORMAT, now));
  g_ptr_array_add (a, g_strdup_printf ("%d", SF_LOCATION_MAX_BINDINGS));
  g_ptr_array_add (a, g_strdup_printf ("%d", SF_LOCATION_MAX_AOR_BYTES));
  g_ptr_array_add (a, g_strdup_printf ("%u", max_aors));
  return a;
}

static char *
opt (const char *v)
{
  return v != NULL ? g_strconcat ("+", v, NULL) : g_strdup ("-");
}

static void
redis_lookup (SfLocStore *base, const char *aor, gint64 now, gpointer data)
{
  submit ((Store *) base, FALSE, aor, argv_new ("lookup", now, 0), data);
}

static void
redis_update (SfLocStore *base, const char *aor, const SfLocUpdate *u, gint64 now, gpointer data)
{
  GPtrArray *a = argv_new ("update", now, u->max_aors);
  g_ptr_array_add (a, g_strdup (u->call_id));
  g_ptr_array_add (a, g_strdup_printf ("%u", u->cseq));
  g_ptr_array_add (a, g_strdup (u->remove_all ? "1" : "0"));
  const SfLocOrigin *o = u->origin;
  const char *origin[] = { o != NULL ? o->source : NULL, o != NULL ? o->transport : NULL, o != NULL ? o->local : NULL,
                           o != NULL ? o->flow : NULL,   o != NULL ? o->path : NULL,      o != NULL ? o->node : NULL };
  for (guint i = 0; i < G_N_ELEMENTS (origin); i++)
    g_ptr_array_add (a, opt (origin[i]));
  for (guint k = 0; k < u->n_changes; k++) {
    const SfLocChange *ch = &u->changes[k];
    char q[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_dtostr (q, sizeof q, isfinite (ch->q) ? CLAMP (ch->q, 0.0, 1.0) : 1.0);
    g_ptr_array_add (a, g_strdup (ch->contact));
    g_ptr_array_add (a, g_strdup (q));
    g_ptr_array_add (a, g_strdup_printf ("%" G_GINT64_FORMAT, MAX (ch->expires_s, 0)));
    g_ptr_array_add (a, opt (ch->instance));
    g_ptr_array_add (a, g_strdup_printf ("%u", ch->reg_id));
  }
  submit ((Store *) base, TRUE, aor, a, data);
}

/* ---- the connection ---- */

static void
on_loaded (redisAsyncContext *ac, void *reply, void *privdata)
{
  Store *s = privdata;
  redisReply *r = reply;
  if (r == NULL || sf_redis_conn_context (s->conn) != ac)
    return;
  if (r->type != REDIS_REPLY_STRING || r->len != 40 || strspn (r->str, "0123456789abcdef") != 40) {
    g_autofree char *msg = r->type == REDIS_REPLY_ERROR ? sf_redis_quote (r->str, r->len) : g_strdup ("not a SHA1");
    g_autofree char *why = g_strdup_printf ("SCRIPT LOAD refused: %s", msg);
    sf_redis_conn_drop (s->conn, why);
    return;
  }
  g_free (s->sha);
  s->sha = g_strndup (r->str, r->len);
  sf_redis_conn_set_ready (s->conn);
  /* what waited for the connection, in order; each with the deadline it was given */
  GList *waiting = g_list_copy (s->flight.head);
  for (GList *l = waiting; l != NULL && sf_redis_conn_context (s->conn) == ac; l = l->next)
    if (!((Cmd *) l->data)->sent)
      send_cmd (s, l->data);
  g_list_free (waiting);
  arm (s);
}

/* AUTH and SELECT are queued: the script is loaded after them, and the
 * connection is ready once it is. */
static void
conn_connected (SfRedisConn *conn, redisAsyncContext *ac, gpointer data)
{
  redisAsyncCommand (ac, on_loaded, data, "SCRIPT LOAD %b", script, strlen (script));
}

static const SfRedisConnHooks conn_hooks = { conn_connected, conn_down };

static void
redis_close (SfLocStore *base)
{
  Store *s = (Store *) base;
  /* results not delivered are dropped (sf_location_free frees their callers' data) */
  for (Cmd *c; (c = g_queue_pop_head (&s->flight)) != NULL; cmd_unref (c))
    c->answered = TRUE;
  s->flight_bytes = 0;
  for (Cmd *c; (c = g_queue_pop_head (&s->failing)) != NULL; cmd_unref (c))
    c->answered = TRUE;
  sf_redis_conn_free (s->conn); /* its callbacks: no reply, each command already answered */
  g_source_destroy (s->tick);
  g_source_unref (s->tick);
  g_free (s->sha);
  g_free (s);
}

static const SfLocStoreClass redis_class = { NULL, NULL, redis_close, redis_lookup, redis_update };

SfLocStore *
sf_loc_redis_open (const char *uri, const char *password, guint timeout_ms, SfLocAnswered answered, GError **error)
{
  SfLocRedisUri u;
  if (!sf_loc_redis_parse_uri (uri, &u, error))
    return NULL;
  Store *s = g_new0 (Store, 1);
  s->base.klass = &redis_class;
  s->base.answered = answered;
  if (password != NULL && *password != '\0') {
    g_free (u.password);
    u.password = g_strdup (password);
  }
  g_queue_init (&s->flight);
  g_queue_init (&s->failing);
  s->tick = g_source_new (&tick_funcs, sizeof (GSource));
  g_source_set_callback (s->tick, NULL, s, NULL);
  g_source_set_name (s->tick, "location redis deadlines");
  g_source_set_ready_time (s->tick, -1);
  g_source_attach (s->tick, g_main_context_get_thread_default ());
  s->conn = sf_redis_conn_new (&u, "location", "its commands fail until it is back", timeout_ms, &conn_hooks, s);
  return &s->base;
}

/* ---- the offline tools (sipflow location), on a blocking connection ---- */

/* Most keys a walk takes: a store past it is cut with an error rather than
 * held whole in the tool's memory. */
#define MAX_WALK_KEYS 10000000
/* SCANs a walk may make a thousand keys DBSIZE counts at its start (at most
 * MAX_WALK_KEYS), and 1000 more: Redis visits 1000 keys or 10,000 buckets a
 * SCAN (COUNT 1000) and keeps its table under 10 buckets a key, so a whole
 * walk takes about 2 a thousand keys; a server that never brings the cursor
 * back to 0 is cut there, not followed for ever. */
#define WALK_SCANS_PER_1000_KEYS 4

/* The script for @key with @argv (consumed), read like the nodes read it. */
static GPtrArray *
sync_script (redisContext *c, const char *shown, const char *key, GPtrArray *argv, guint64 *dropped, GError **error)
{
  g_autoptr (GPtrArray) a = argv;
  guint n = a->len + 4;
  g_autofree const char **av = g_new (const char *, n);
  g_autofree size_t *lens = g_new (size_t, n);
  av[0] = "EVAL";
  av[1] = script;
  av[2] = "1";
  av[3] = key;
  for (guint i = 0; i < a->len; i++)
    av[i + 4] = a->pdata[i];
  for (guint i = 0; i < n; i++)
    lens[i] = strlen (av[i]);
  redisReply *r = redisCommandArgv (c, (int) n, av, lens);
  if (r == NULL) {
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "%s: %s", shown,
                 c->errstr[0] != '\0' ? c->errstr : "no answer");
    return NULL;
  }
  GPtrArray *list = decode_reply (shown, r, dropped, NULL, error);
  freeReplyObject (r);
  return list;
}

static int
by_key (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The store's keys (@aor's alone when non-NULL), in byte order. */
static GPtrArray *
sync_keys (redisContext *c, const char *shown, const char *aor, GError **error)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  if (aor != NULL) {
    g_ptr_array_add (keys, g_strconcat (KEY_PREFIX, aor, NULL));
    return keys;
  }
  redisReply *size = redisCommand (c, "DBSIZE");
  long long dbsize = size != NULL && size->type == REDIS_REPLY_INTEGER ? size->integer : 0;
  freeReplyObject (size);
  guint64 scans = 0, max_scans = 1000 + (guint64) CLAMP (dbsize, 0, MAX_WALK_KEYS) * WALK_SCANS_PER_1000_KEYS / 1000;
  g_autofree char *cursor = g_strdup ("0");
  do {
    if (++scans > max_scans) {
      g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED,
                   "%s: SCAN: the cursor did not come back to 0 within %" G_GUINT64_FORMAT " SCANs (DBSIZE %lld)",
                   shown, scans - 1, dbsize);
      g_ptr_array_unref (keys);
      return NULL;
    }
    redisReply *r = redisCommand (c, "SCAN %s MATCH %s* COUNT 1000", cursor, KEY_PREFIX);
    gboolean ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_ARRAY;
    for (gsize i = 0; ok && i < r->element[1]->elements; i++) {
      const redisReply *k = r->element[1]->element[i];
      ok = k->type == REDIS_REPLY_STRING && memchr (k->str, '\0', k->len) == NULL && keys->len < MAX_WALK_KEYS;
      if (ok)
        g_ptr_array_add (keys, g_strndup (k->str, k->len));
    }
    if (!ok) {
      g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "%s: SCAN: %s", shown,
                   r == NULL ? c->errstr
                   : keys->len >= MAX_WALK_KEYS ? "more keys than a walk takes"
                                                : "a reply of an unexpected shape");
      freeReplyObject (r);
      g_ptr_array_unref (keys);
      return NULL;
    }
    g_free (cursor);
    cursor = g_strndup (r->element[0]->str, r->element[0]->len);
    freeReplyObject (r);
  } while (strcmp (cursor, "0") != 0);
  g_ptr_array_sort (keys, by_key);
  /* SCAN may return a key twice (a rehash during the walk) */
  for (guint i = 1; i < keys->len;)
    if (strcmp (keys->pdata[i], keys->pdata[i - 1]) == 0)
      g_ptr_array_remove_index (keys, i);
    else
      i++;
  return keys;
}

static void
warn_dropped (const char *shown, guint64 dropped)
{
  if (dropped > 0)
    g_printerr ("sipflow location: %s: %" G_GUINT64_FORMAT " stored binding(s) could not be read and were left out\n",
                shown, dropped);
}

gboolean
sf_location_redis_each (const char *uri, const char *password, guint timeout_ms, const char *aor,
                        SfLocationEachFunc f, gpointer data, GError **error)
{
  g_autofree char *shown = NULL;
  redisContext *c = sf_redis_sync_open (uri, password, timeout_ms, "location.uri", &shown, error);
  if (c == NULL)
    return FALSE;
  g_autoptr (GPtrArray) keys = sync_keys (c, shown, aor, error);
  gboolean ok = keys != NULL, go_on = TRUE;
  guint64 dropped = 0;
  for (guint i = 0; ok && go_on && i < keys->len; i++) {
    /* now 0: the expired bindings too, as the file's dump shows them */
    g_autoptr (GPtrArray) list = sync_script (c, shown, keys->pdata[i], argv_new ("lookup", 0, 0), &dropped, error);
    ok = list != NULL;
    for (guint k = 0; ok && go_on && k < list->len; k++)
      go_on = f ((const char *) keys->pdata[i] + strlen (KEY_PREFIX), list->pdata[k], data);
  }
  warn_dropped (shown, dropped);
  redisFree (c);
  return ok;
}

gboolean
sf_location_redis_purge (const char *uri, const char *password, guint timeout_ms, const char *aor, gint64 now,
                         guint64 *removed, GError **error)
{
  g_autofree char *shown = NULL;
  redisContext *c = sf_redis_sync_open (uri, password, timeout_ms, "location.uri", &shown, error);
  if (c == NULL)
    return FALSE;
  g_autoptr (GPtrArray) keys = sync_keys (c, shown, aor, error);
  gboolean ok = keys != NULL;
  guint64 gone = 0, dropped = 0;
  for (guint i = 0; ok && i < keys->len; i++) {
    redisReply *r = redisCommand (c, "HLEN %s", (const char *) keys->pdata[i]);
    ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
    long long before = ok ? r->integer : 0;
    freeReplyObject (r);
    if (!ok) {
      g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "%s: HLEN: %s", shown,
                   c->errstr[0] != '\0' ? c->errstr : "a reply of an unexpected shape");
      break;
    }
    if (aor != NULL) {
      r = redisCommand (c, "DEL %s", (const char *) keys->pdata[i]);
      ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
      freeReplyObject (r);
      gone += (guint64) before;
      continue;
    }
    /* an update that changes nothing: the script keeps the live bindings
     * (and drops what cannot be read), atomically beside the nodes' updates */
    GPtrArray *a = argv_new ("update", now, 0);
    g_ptr_array_add (a, g_strdup (""));
    g_ptr_array_add (a, g_strdup ("0"));
    g_ptr_array_add (a, g_strdup ("0"));
    for (guint k = 0; k < 6; k++)
      g_ptr_array_add (a, g_strdup ("-"));
    g_autoptr (GError) e = NULL;
    /* what the script read back is not needed here, only whether it ran
     * (a g_autoptr never read is an unused variable to clang) */
    GPtrArray *list = sync_script (c, shown, keys->pdata[i], a, &dropped, &e);
    if (list != NULL)
      g_ptr_array_unref (list);
    if (g_error_matches (e, SF_LOCATION_ERROR, SF_LOCATION_ERROR_FULL)) {
      /* a hash over the limits (written by hand, or by another program):
       * left as it is, the others purged */
      g_autofree char *k = sf_redis_quote (keys->pdata[i], strlen (keys->pdata[i]));
      g_autofree char *why = sf_redis_quote (e->message, strlen (e->message));
      g_printerr ("sipflow location: %s: %s: left as it is (%s)\n", shown, k, why);
      continue;
    }
    if (e != NULL) {
      g_propagate_error (error, g_steal_pointer (&e));
      ok = FALSE;
      break;
    }
    r = ok ? redisCommand (c, "HLEN %s", (const char *) keys->pdata[i]) : NULL;
    ok = ok && r != NULL && r->type == REDIS_REPLY_INTEGER;
    if (ok && before > r->integer)
      gone += (guint64) (before - r->integer);
    freeReplyObject (r);
  }
  if (ok && removed != NULL)
    *removed = gone;
  if (!ok && error != NULL && *error == NULL)
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "%s: DEL: %s", shown,
                 c->errstr[0] != '\0' ? c->errstr : "refused");
  redisFree (c);
  return ok;
}
