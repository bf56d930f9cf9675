/* sf-registrar.c: the server variants' shared state (see sf-registrar.h). */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-registrar.h"
#include "operators/transaction/sf-stack.h"
#include "framework/sf-secret.h"
#include "framework/sf-clock.h"
#include "sip/sf-sip-uri.h"
#include "sip/sf-sip-build.h"
#include "sf-location-store.h"
#include "sf-nat.h"
#include <arpa/inet.h>
#include <gio/gio.h>
#include <string.h>

static const SfConfigKey registrar_keys[] = {
  { "realm", SF_CFG_STRING, "sipflow.test", 0, 0, NULL, "digest realm, and a domain served" },
  { "domains", SF_CFG_LIST, NULL, 0, 0, NULL, "domains served (default: the realm; the addresses listened on always count)" },
  { "users", SF_CFG_STRING, NULL, 0, 0, NULL,
    "the credentials: a users file (user:password or user:realm:HA1 lines), or sqlite:PATH, an SQLite users table "
    "(sqlite: alone: core.state_dir/users.sqlite; 'sipflow user' manages it), or redis://[:PASSWORD@]HOST[:PORT][/DB], "
    "a Redis hash several nodes share ('sipflow user' too); re-read within a second of a change "
    "(unset: no authentication)" },
  { "users_password", SF_CFG_STRING, NULL, 0, 0, NULL,
    "registrar.users = redis://: the AUTH password (wins over the URI's; keep it out of argv)" },
  { "users_without_password", SF_CFG_BOOL, "false", 0, 0, NULL,
    "registrar.users = redis://: start without a password (else an error): whoever reaches that Redis, a SIP "
    "request a phone made this node send included, may rewrite it (docs/security.md)" },
  { "max_users", SF_CFG_INT, "100000", 1, 10000000, NULL,
    "most users read from registrar.users (a users file with more is an error; an SQLite table's first ones by name "
    "are read, with a warning)" },
  { "min_expires", SF_CFG_SECONDS, "60", 1, 3600, NULL, "shortest registration accepted (shorter: 423 with Min-Expires; 10.3 allows at most 3600)" },
  { "max_expires", SF_CFG_SECONDS, "3600", 1, 604800, NULL, "longest registration granted (longer is cut to this)" },
  { "max_aors", SF_CFG_INT, "100000", 1, 100000000, NULL,
    "most addresses-of-record with bindings at once; one more REGISTER gets 503 (memory bound without a users file)" },
  { "nat", SF_CFG_ENUM, "auto", 0, 0, "auto|off|always",
    "how the proxy reaches a binding: auto (through the source its REGISTER came from when that crossed a NAT), "
    "off (its Contact), always (its source)" },
  { "cluster", SF_CFG_STRING, "auto", 0, 0, NULL,
    "nodes share the location store: a binding received over TCP or behind NAT gets this node, with a flow token, "
    "as its first Path hop, so other nodes route requests for it through this one (docs/servers.md); "
    "auto (on with location.backend = redis, the shared store, off with the others), or a boolean" },
};

static const SfConfigKey location_keys[] = {
  { "backend", SF_CFG_STRING, "sqlite", 0, 0, NULL,
    "where the bindings live: sqlite (a file, written through before each 200; loaded at start), redis (shared by "
    "several nodes) or memory (lost on exit)" },
  { "uri", SF_CFG_STRING, NULL, 0, 0, NULL,
    "sqlite: the database file (default: core.state_dir/location.sqlite); redis: redis://[:PASSWORD@]HOST[:PORT][/DB] "
    "(default: redis://127.0.0.1:6379/0)" },
  { "busy_timeout_ms", SF_CFG_INT, "2000", 0, 60000, NULL,
    "sqlite: longest wait for a lock another process holds; past it the REGISTER gets 500 with Retry-After" },
  { "password", SF_CFG_STRING, NULL, 0, 0, NULL, "redis: the AUTH password (wins over the URI's; keep it out of argv)" },
  { "redis_without_password", SF_CFG_BOOL, "false", 0, 0, NULL,
    "redis: start without a password (else an error): whoever reaches that Redis, a SIP request a phone made this "
    "node send included, may rewrite every binding (docs/security.md)" },
  { "timeout_ms", SF_CFG_INT, "1000", 10, 60000, NULL,
    "redis: longest wait for a connection or an answer; past it the REGISTER gets 500 and a lookup 503, both with "
    "Retry-After" },
};

static const SfConfigKey auth_keys[] = {
  { "algorithms", SF_CFG_LIST, "MD5", 0, 0, NULL,
    "digest algorithms offered, one challenge each: SHA-256 ones first, then MD5 ones (docs/servers.md)" },
  { "nonce_ttl_s", SF_CFG_INT, "300", 10, 86400, NULL, "seconds a nonce is good for (then stale=true)" },
  { "nonce_slots", SF_CFG_INT, "65536", 1, 4194304, NULL,
    "nonces usable at once (a fixed table, 32 bytes a slot): a nonce whose slot a newer one took is stale" },
  { "log_failures", SF_CFG_BOOL, "true", 0, 0, NULL,
    "write the \"auth failed\" lines for fail2ban whatever core.log_level (false: only at log level message)" },
};

gboolean
sf_registrar_declare_config (SfConfig *cfg, GError **error)
{
  return sf_config_declare (cfg, "registrar", registrar_keys, G_N_ELEMENTS (registrar_keys), error) &&
         sf_config_declare (cfg, "location", location_keys, G_N_ELEMENTS (location_keys), error) &&
         sf_config_declare (cfg, "auth", auth_keys, G_N_ELEMENTS (auth_keys), error);
}

GHashTable *
sf_registrar_parse_users (const char *text, const char *source, const char *realm, GError **error)
{
  g_autoptr (GHashTable) users = sf_users_table_new ();
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    char *line = g_strstrip (lines[i]);
    if (*line == '\0' || *line == '#')
      continue;
    g_auto (GStrv) f = g_strsplit (line, ":", 3);
    guint n = g_strv_length (f);
    gboolean ok = n >= 2 && *f[0] != '\0' && strspn (f[0], ":@ \t") == 0 && strpbrk (f[0], "@ \t") == NULL;
    SfUser *u = g_new0 (SfUser, 1);
    if (ok && n == 2) {
      ok = *f[1] != '\0';
      u->password = g_strdup (f[1]);
    } else if (ok && n == 3) {
      /* htdigest: user:realm:HA1 for our realm, 32 hex digits for MD5, 64 for SHA-256 */
      gsize len = strlen (f[2]);
      ok = strcmp (f[1], realm) == 0 && (len == 32 || len == 64) && sf_users_hex_ok (f[2], len);
      if (ok && len == 32)
        u->ha1_md5 = g_strdup (f[2]);
      else if (ok)
        u->ha1_sha256 = g_strdup (f[2]);
      if (!ok && strcmp (f[1], realm) != 0) {
        sf_user_free (u);
        g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                     "%s:%u: realm '%s' is not registrar.realm '%s'", source, i + 1, f[1], realm);
        return NULL;
      }
    }
    if (!ok) {
      sf_user_free (u);
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                   "%s:%u: expected user:password or user:realm:HA1 (32 hex digits: MD5, 64: SHA-256)", source, i + 1);
      return NULL;
    }
    SfUser *had = g_hash_table_lookup (users, f[0]);
    if (had != NULL && had->password == NULL && u->password == NULL && (had->ha1_md5 == NULL) != (u->ha1_md5 == NULL)) {
      /* an MD5 line and a SHA-256 line for one user: one user with both */
      if (had->ha1_md5 == NULL)
        had->ha1_md5 = g_steal_pointer (&u->ha1_md5);
      else
        had->ha1_sha256 = g_steal_pointer (&u->ha1_sha256);
      sf_user_free (u);
      continue;
    }
    if (had != NULL) {
      sf_user_free (u);
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s:%u: user '%s' given twice", source, i + 1,
                   f[0]);
      return NULL;
    }
    g_hash_table_insert (users, g_strdup (f[0]), u);
  }
  return g_steal_pointer (&users);
}

static void
registrar_free (SfRegistrar *r)
{
  if (r == NULL)
    return;
  sf_location_free (r->loc);
  g_clear_pointer (&r->digest, sf_digest_server_free);
  g_clear_pointer (&r->users, sf_users_free);
  g_clear_pointer (&r->log_sources, g_hash_table_unref);
  g_free (r->realm);
  g_strfreev (r->domains);
  for (guint i = 0; i < r->n_stores; i++)
    g_free (r->stores[i].host);
  memset (r->flow_key, 0, sizeof r->flow_key);
  g_free (r);
}

/* The stats event's fields: nonce-count slots in use, users read (with registrar.users). */
char *
sf_registrar_stats_fields (SfRegistrar *r)
{
  if (r->users == NULL)
    return NULL;
  gint64 now_s = sf_clock_now_us (sf_endpoint_clock (r->ep)) / G_USEC_PER_SEC;
  sf_registrar_user (r, ""); /* a poll (at most once a second): the count is the table's now */
  return g_strdup_printf ("\"nonce_slots_used\":%u,\"users\":%u", sf_digest_server_slots_used (r->digest, now_s),
                          sf_users_count (r->users));
}

char *
sf_registrar_location_path (SfConfig *cfg)
{
  const char *uri = sf_config_get_string (cfg, "location", "uri");
  if (uri != NULL && *uri != '\0')
    return g_strdup (uri);
  g_autofree char *dir = sf_state_dir (cfg);
  return g_build_filename (dir, "location.sqlite", NULL);
}

/* A Redis store's @uri (@password wins over its own): refused without a
 * password unless @optout (a config key) is true, since a Redis without one
 * runs whatever reaches it (a SIP request relayed to it included: Redis takes
 * each line as a command); else its address kept in @r, for a Contact or a
 * Path naming it to be refused. */
static gboolean
store_check (SfRegistrar *r, SfConfig *cfg, const char *uri, const char *password, const char *section,
             const char *uri_key, const char *password_key, const char *optout, GError **error)
{
  SfLocRedisUri u;
  if (!sf_loc_redis_parse_uri (uri, &u, NULL))
    return TRUE; /* its opener says why, naming its key */
  gboolean none = (password == NULL || *password == '\0') && u.password == NULL;
  if (none && !sf_config_get_bool (cfg, section, optout)) {
    const char *src = sf_config_get_source (cfg, section, uri_key);
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "%s%s%s.%s: a Redis without a password: set %s.%s (requirepass) or, if nothing but this node "
                 "can reach it, %s.%s = true (docs/security.md)",
                 src != NULL ? src : "", src != NULL ? ": " : "", section, uri_key, section, password_key, section, optout);
    sf_loc_redis_uri_clear (&u);
    return FALSE;
  }
  if (r->n_stores < G_N_ELEMENTS (r->stores)) {
    r->stores[r->n_stores].host = g_steal_pointer (&u.host);
    r->stores[r->n_stores].port = u.port;
    r->n_stores++;
  }
  sf_loc_redis_uri_clear (&u);
  return TRUE;
}

/* The location service location.backend names (docs/servers.md). */
static SfLocation *
location_open (SfEndpoint *ep, SfConfig *cfg, GError **error)
{
  const char *backend = sf_config_get_string (cfg, "location", "backend");
  if (g_strcmp0 (backend, "memory") == 0)
    return sf_location_new_memory (sf_endpoint_clock (ep));
  if (g_strcmp0 (backend, "redis") == 0) {
    const char *uri = sf_config_get_string (cfg, "location", "uri");
    SfLocation *loc = sf_location_new_redis (sf_endpoint_clock (ep), uri != NULL && *uri != '\0' ? uri : "redis://127.0.0.1:6379/0",
                                             sf_config_get_string (cfg, "location", "password"),
                                             (guint) sf_config_get_int (cfg, "location", "timeout_ms"), error);
    if (loc == NULL && sf_config_get_source (cfg, "location", "uri") != NULL)
      g_prefix_error (error, "%s: ", sf_config_get_source (cfg, "location", "uri"));
    return loc;
  }
  if (g_strcmp0 (backend, "sqlite") != 0) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: location.backend: expected memory, sqlite or redis, got '%s'",
                 sf_config_get_source (cfg, "location", "backend"), backend != NULL ? backend : "");
    return NULL;
  }
  g_autofree char *path = sf_registrar_location_path (cfg);
  return sf_location_new_sqlite (sf_endpoint_clock (ep), path, (guint) sf_config_get_int (cfg, "location", "busy_timeout_ms"),
                                 error);
}

/* What the registrar reads from @cfg that a reload may change, into @r (new):
 * the domains, the expiry limits, the NAT mode, the cluster setting, the
 * algorithms, the Redis stores and the users (read now: a file that cannot be
 * read is an error).  FALSE with @error set; @r is then only fit for
 * registrar_free. */
static gboolean
registrar_read (SfRegistrar *r, SfConfig *cfg, gboolean read_users, GError **error)
{
  r->realm = g_strdup (sf_config_get_string (cfg, "registrar", "realm"));
  const char *const *domains = sf_config_get_list (cfg, "registrar", "domains");
  r->domains = domains != NULL && domains[0] != NULL ? g_strdupv ((char **) domains) : g_strsplit (r->realm, ",", 1);
  for (guint i = 0; r->domains[i] != NULL; i++) {
    char *low = g_ascii_strdown (r->domains[i], -1);
    g_free (r->domains[i]);
    r->domains[i] = low;
  }
  r->min_expires = sf_config_get_int (cfg, "registrar", "min_expires");
  r->max_expires = sf_config_get_int (cfg, "registrar", "max_expires");
  sf_nat_mode_parse (sf_config_get_string (cfg, "registrar", "nat"), &r->nat); /* the enum checked it; auto else */
  /* registrar.cluster = auto: a shared store is what makes a cluster, so on
   * with redis; true/false (on/off, yes/no) as the boolean it was */
  const char *cluster = sf_config_get_string (cfg, "registrar", "cluster");
  if (cluster == NULL || g_ascii_strcasecmp (cluster, "auto") == 0)
    r->cluster = g_strcmp0 (sf_config_get_string (cfg, "location", "backend"), "redis") == 0;
  else if (!sf_config_parse_bool (cluster, &r->cluster)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: registrar.cluster: expected auto, true or false, got '%s'",
                 sf_config_get_source (cfg, "registrar", "cluster"), cluster);
    return FALSE;
  }
  if (r->min_expires > r->max_expires) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "registrar.min_expires (%" G_GINT64_FORMAT ") is above registrar.max_expires (%" G_GINT64_FORMAT ")",
                 r->min_expires, r->max_expires);
    return FALSE;
  }
  const char *const *algs = sf_config_get_list (cfg, "auth", "algorithms");
  for (guint i = 0; algs != NULL && algs[i] != NULL; i++) {
    SfDigestAlg a;
    if (!sf_digest_alg_parse (algs[i], &a) || r->n_algs >= G_N_ELEMENTS (r->algs)) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                   "%s: auth.algorithms: expected MD5, MD5-sess, SHA-256 or SHA-256-sess, got '%s'",
                   sf_config_get_source (cfg, "auth", "algorithms"), algs[i]);
      return FALSE;
    }
    r->algs[r->n_algs++] = a;
  }
  /* RFC 8760 2.4, RFC 7616 3.7: challenges go most preferred first, so the
   * SHA-256 ones before the MD5 ones whatever order they were written in
   * (stable within each family); many clients read only the first challenge */
  SfDigestAlg sorted[G_N_ELEMENTS (r->algs)];
  guint n = 0;
  for (int sha = 1; sha >= 0; sha--)
    for (guint i = 0; i < r->n_algs; i++)
      if ((r->algs[i] == SF_DIGEST_SHA256 || r->algs[i] == SF_DIGEST_SHA256_SESS) == sha)
        sorted[n++] = r->algs[i];
  memcpy (r->algs, sorted, n * sizeof sorted[0]);
  if (r->n_algs == 0) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "auth.algorithms: at least one algorithm");
    return FALSE;
  }
  gboolean sqlite = FALSE;
  g_autofree char *path = sf_users_config_path (cfg, &sqlite);
  if (path != NULL && sf_users_is_redis (path) &&
      !store_check (r, cfg, path, sf_config_get_string (cfg, "registrar", "users_password"), "registrar", "users",
                    "users_password", "users_without_password", error))
    return FALSE;
  if (g_strcmp0 (sf_config_get_string (cfg, "location", "backend"), "redis") == 0) {
    const char *uri = sf_config_get_string (cfg, "location", "uri");
    if (!store_check (r, cfg, uri != NULL && *uri != '\0' ? uri : "redis://127.0.0.1:6379/0",
                      sf_config_get_string (cfg, "location", "password"), "location", "uri", "password",
                      "redis_without_password", error))
      return FALSE;
  }
  if (path != NULL && read_users) {
    guint max_users = (guint) sf_config_get_int (cfg, "registrar", "max_users");
    SfUsersSource *src =
      sf_users_is_redis (path) ? sf_users_redis_source_new (path, sf_config_get_string (cfg, "registrar", "users_password"),
                                                            (guint) sf_config_get_int (cfg, "location", "timeout_ms"),
                                                            r->realm, max_users, error)
      : sqlite               ? sf_users_sqlite_source_new (path, r->realm, max_users, error)
                             : sf_users_file_source_new (path, r->realm, max_users);
    r->users = src != NULL ? sf_users_new (src, error) : NULL;
    if (r->users == NULL)
      return FALSE;
  }
  r->log_failures = sf_config_get_bool (cfg, "auth", "log_failures");
  return TRUE;
}

/* The nonces' server for auth.nonce_ttl_s and auth.nonce_slots, keyed from the secret. */
static SfDigestServer *
digest_new (SfConfig *cfg, GError **error)
{
  guint8 secret[SF_SECRET_LEN];
  if (!sf_secret_derive (cfg, "sipflow digest nonces", secret, error))
    return NULL;
  SfDigestServer *d = sf_digest_server_new (secret, sizeof secret, (guint) sf_config_get_int (cfg, "auth", "nonce_ttl_s"),
                                            (guint) sf_config_get_int (cfg, "auth", "nonce_slots"));
  memset (secret, 0, sizeof secret);
  return d;
}

/* A WebSocket that carried a registration closed: its bindings go (RFC 7118
 * 5: a browser's Contact names no address, the connection was the only way
 * to it; RFC 5626's flow is gone).  TCP and TLS flows stay until they expire:
 * a phone reconnects and registers again, and a cluster's other nodes may
 * still reach it.  Only the connections that carried a REGISTER (marked as
 * flows) get here, so the walk over the bindings is paid per registered
 * browser that leaves, not per connection.  On a worker other than 0 the
 * removal crosses to worker 0's location (sf_location_remove_flow); a shared
 * (redis) store is left to expiry: this node holds none of its bindings. */
static void
flow_closed (SfSipProto proto, GInetSocketAddress *remote, gpointer data)
{
  SfRegistrar *r = data;
  if (!sf_sip_proto_is_ws (proto) || r->loc == NULL)
    return;
  /* the peer is back from the same address (a NAT kept its mapping) on a
   * connection still open: its bindings (named by the address) are that one's */
  SfStack *stack = sf_module_state (r->ep, &sf_transaction_module);
  if (stack != NULL && sf_sip_transport_tcp_open (sf_stack_transport (stack), remote))
    return;
  g_autofree char *source = sf_sip_addr_to_string (remote);
  g_autofree char *flow = sf_nat_flow (sf_sip_proto_name (proto), source);
  sf_location_remove_flow (r->loc, flow);
}

gboolean
sf_registrar_setup (SfEndpoint *ep, SfConfig *cfg, GError **error)
{
  SfRegistrar *r = g_new0 (SfRegistrar, 1);
  if (!registrar_read (r, cfg, TRUE, error) || (r->cluster && !sf_secret_derive (cfg, "sipflow flow", r->flow_key, error)) ||
      (r->digest = digest_new (cfg, error)) == NULL || (r->loc = location_open (ep, cfg, error)) == NULL) {
    registrar_free (r);
    return FALSE;
  }
  sf_location_set_max_aors (r->loc, (guint) sf_config_get_int (cfg, "registrar", "max_aors"));
  /* the memory core's answers in the endpoint's batch, not one more loop
   * turn later (freed in our teardown, inside the endpoint's free) */
  sf_location_answer_in (r->loc, ep);
  r->ep = ep;
  SfStack *stack = sf_module_state (ep, &sf_transaction_module);
  if (stack != NULL)
    sf_sip_transport_set_flow_closed (sf_stack_transport (stack), flow_closed, r);
  sf_module_attach (ep, &sf_registrar_module, r);
  return TRUE;
}

gboolean
sf_registrar_reload_prepare (SfRegistrar *r, SfConfig *cfg, SfRegistrar **prepared, GError **error)
{
  *prepared = NULL;
  if (r == NULL)
    return TRUE;
  SfConfig *had = sf_endpoint_config (r->ep);
  gboolean x;
  g_autofree char *had_path = sf_users_config_path (had, &x);
  g_autofree char *path = sf_users_config_path (cfg, &x);
  if (r->users != NULL && path == NULL) {
    /* Every request would be served without a challenge from then on: a
     * configuration that lost its users line must not open the server. */
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "registrar.users: a reload cannot remove the users (authentication would stop); restart to run "
                 "without them");
    return FALSE;
  }
  /* An unchanged Redis source is kept: it follows the hash on its own, and a
   * new one would start on a blocking read which, with Redis away, leaves it
   * with no users at all (every request 403) until Redis is back. */
  gboolean keep_users = r->users != NULL && path != NULL && sf_users_is_redis (path) && g_strcmp0 (path, had_path) == 0 &&
                        g_strcmp0 (sf_config_get_string (had, "registrar", "users_password"),
                                   sf_config_get_string (cfg, "registrar", "users_password")) == 0 &&
                        g_strcmp0 (sf_config_get_string (had, "registrar", "realm"),
                                   sf_config_get_string (cfg, "registrar", "realm")) == 0 &&
                        sf_config_get_int (had, "registrar", "max_users") == sf_config_get_int (cfg, "registrar", "max_users");
  SfRegistrar *n = g_new0 (SfRegistrar, 1);
  if (!registrar_read (n, cfg, !keep_users, error)) {
    registrar_free (n);
    return FALSE;
  }
  n->users_kept = keep_users;
  /* The nonces given out stay good unless their table changes (then they
   * are stale: the phone answers the new challenge without asking its user).
   * The workers of a set share one table, which no worker may replace alone. */
  gboolean nonces_changed = sf_config_get_int (had, "auth", "nonce_ttl_s") != sf_config_get_int (cfg, "auth", "nonce_ttl_s") ||
                            sf_config_get_int (had, "auth", "nonce_slots") != sf_config_get_int (cfg, "auth", "nonce_slots");
  if (nonces_changed && r->joined) {
    registrar_free (n);
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "auth.nonce_ttl_s, auth.nonce_slots: the workers share one nonce table; restart to change it");
    return FALSE;
  }
  if (nonces_changed && (n->digest = digest_new (cfg, error)) == NULL) {
    registrar_free (n);
    return FALSE;
  }
  *prepared = n;
  return TRUE;
}

#define SWAP(type, a, b) \
  do { \
    type swap_ = (a); \
    (a) = (b); \
    (b) = swap_; \
  } while (0)

void
sf_registrar_reload_commit (SfRegistrar *r, SfRegistrar *n)
{
  if (r == NULL || n == NULL)
    return;
  /* In place: the operators reach @r through the module's state. The
   * location service, the flow key and the "auth failed" counts stay. */
  SWAP (char *, r->realm, n->realm);
  SWAP (char **, r->domains, n->domains);
  if (!n->users_kept)
    SWAP (SfUsers *, r->users, n->users);
  if (n->digest != NULL)
    SWAP (SfDigestServer *, r->digest, n->digest);
  for (guint i = 0; i < G_N_ELEMENTS (r->stores); i++)
    SWAP (char *, r->stores[i].host, n->stores[i].host);
  for (guint i = 0; i < G_N_ELEMENTS (r->stores); i++)
    r->stores[i].port = n->stores[i].port;
  r->n_stores = n->n_stores;
  r->min_expires = n->min_expires;
  r->max_expires = n->max_expires;
  r->nat = n->nat;
  memcpy (r->algs, n->algs, sizeof r->algs);
  r->n_algs = n->n_algs;
  r->log_failures = n->log_failures;
  sf_location_set_max_aors (r->loc, (guint) sf_config_get_int (sf_endpoint_config (r->ep), "registrar", "max_aors"));
  registrar_free (n); /* what @r had */
}

void
sf_registrar_reload_abort (SfRegistrar *n)
{
  registrar_free (n);
}

void
sf_registrar_join_workers (SfEndpoint *ep, SfWorkers *set, guint w)
{
  SfRegistrar *r = sf_module_state (ep, &sf_registrar_module);
  if (r == NULL || sf_workers_n (set) < 2)
    return; /* one worker: nothing is shared, nothing changes */
  r->joined = TRUE;
  if (w == 0)
    return;
  SfEndpoint *ep0 = sf_workers_endpoint (set, 0);
  SfRegistrar *home = ep0 != NULL ? sf_module_state (ep0, &sf_registrar_module) : NULL;
  g_return_if_fail (home != NULL);
  sf_digest_server_free (r->digest);
  r->digest = sf_digest_server_ref (home->digest);
  if (sf_location_shared (r->loc))
    return; /* redis: the store is already one for every node, and so for every worker */
  /* The copy this worker opened at setup (sqlite: the same file, loaded) is
   * dropped unused: worker 0's is the one that answers. */
  sf_location_free (r->loc);
  /* At most this worker's share of sip.max_instances asks in flight: each
   * serves a transaction, so more means worker 0 has fallen behind. */
  guint max = (guint) sf_config_get_int (sf_endpoint_config (ep), "sip", "max_instances");
  r->loc = sf_location_new_worker (sf_endpoint_clock (ep), set, w, home->loc, MAX (max / sf_workers_n (set), 1));
}

void
sf_registrar_teardown (SfEndpoint *ep)
{
  SfRegistrar *r = sf_module_state (ep, &sf_registrar_module);
  SfStack *stack = sf_module_state (ep, &sf_transaction_module);
  if (stack != NULL)
    sf_sip_transport_set_flow_closed (sf_stack_transport (stack), NULL, NULL);
  sf_module_attach (ep, &sf_registrar_module, NULL);
  registrar_free (r);
}

SfLocation *
sf_registrar_location (SfEndpoint *ep)
{
  SfRegistrar *r = sf_module_state (ep, &sf_registrar_module);
  return r != NULL ? r->loc : NULL;
}

SfRegistrar *
sf_registrar_from_ctx (SfCtx *ctx)
{
  return sf_module_state (sf_ctx_endpoint (ctx), &sf_registrar_module);
}

gboolean
sf_registrar_serves (SfCtx *ctx, const char *host)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  g_autofree char *low = g_ascii_strdown (host, -1);
  gsize n = strlen (low);
  if (n > 1 && low[n - 1] == '.')
    low[n - 1] = '\0'; /* a fully qualified name: "sipflow.test." is sipflow.test */
  for (guint i = 0; r != NULL && r->domains[i] != NULL; i++)
    if (strcmp (r->domains[i], low) == 0)
      return TRUE;
  return FALSE;
}

gboolean
sf_registrar_is_ours (SfCtx *ctx, const char *host)
{
  if (sf_registrar_serves (ctx, host))
    return TRUE;
  g_autofree char *low = g_ascii_strdown (host, -1);
  SfStack *s = sf_stack_from_ctx (ctx);
  return s != NULL && sf_stack_is_local (s, low, 0); /* an address we listen on, any port, or sip.advertise's host */
}

gboolean
sf_registrar_uri_is_self (SfCtx *ctx, const SfSipUri *uri)
{
  if (uri == NULL || (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS))
    return FALSE;
  g_autofree char *host = sf_sip_str_dup (uri->host);
  if (sf_registrar_serves (ctx, host))
    return TRUE;
  SfStack *s = sf_stack_from_ctx (ctx);
  guint port = uri->port != 0 ? uri->port : uri->kind == SF_URI_SIPS ? 5061 : 5060;
  return s != NULL && sf_stack_is_local (s, host, port); /* 127.0.0.1 with another port is another element */
}

/* @host (IPv6 without brackets) as an address: an IPv4-mapped IPv6 one as
 * the IPv4 one it reaches, and the short and numeric forms getaddrinfo takes
 * (127.1, 2130706433, 0x7f.0.0.1) as the address they are; NULL for a name. */
static GInetAddress *
host_address (const char *host)
{
  GInetAddress *a = g_inet_address_new_from_string (host);
  struct in_addr numeric;
  if (a == NULL && inet_aton (host, &numeric) != 0)
    a = g_inet_address_new_from_bytes ((const guint8 *) &numeric.s_addr, G_SOCKET_FAMILY_IPV4);
  if (a != NULL && g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6) {
    const guint8 *b = g_inet_address_to_bytes (a);
    static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp (b, mapped, sizeof mapped) == 0) {
      GInetAddress *v4 = g_inet_address_new_from_bytes (b + 12, G_SOCKET_FAMILY_IPV4);
      g_object_unref (a);
      a = v4;
    }
  }
  return a;
}

/* Does @host lead to this machine whatever interface: localhost, a loopback
 * address or the unspecified one (a connection to 0.0.0.0 reaches the host)? */
static gboolean
host_is_loopback (const char *host, GInetAddress *a)
{
  return g_ascii_strcasecmp (host, "localhost") == 0 ||
         (a != NULL && (g_inet_address_get_is_loopback (a) || g_inet_address_get_is_any (a)));
}

/* Is @host_str with @port one of @r's stores? */
static gboolean
host_is_store (SfCtx *ctx, SfRegistrar *r, SfSipStr host_str, guint port)
{
  g_autofree char *raw = sf_sip_str_dup (host_str);
  g_autofree char *host = sf_sip_host_dup (host_str);
  gsize n = strlen (host);
  if (n >= 2 && host[n - 1] == '.')
    host[n - 1] = '\0'; /* a fully qualified name, as localhost. */
  g_autoptr (GInetAddress) a = host_address (host);
  for (guint i = 0; i < r->n_stores; i++) {
    if (r->stores[i].port != port)
      continue;
    if (g_ascii_strcasecmp (host, r->stores[i].host) == 0)
      return TRUE;
    g_autoptr (GInetAddress) b = host_address (r->stores[i].host);
    if (a != NULL && b != NULL && g_inet_address_equal (a, b))
      return TRUE;
    /* a Redis on loopback: any loopback name, or an address of this node's
     * (Redis bound to all of them) */
    SfStack *st = sf_stack_from_ctx (ctx);
    if (host_is_loopback (r->stores[i].host, b) &&
        (host_is_loopback (host, a) || (st != NULL && a != NULL && sf_stack_is_local (st, raw, 0))))
      return TRUE;
  }
  return FALSE;
}

gboolean
sf_registrar_uri_is_store (SfCtx *ctx, const SfSipUri *uri)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  if (r == NULL || r->n_stores == 0 || uri == NULL || (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS))
    return FALSE;
  guint port = uri->port != 0 ? uri->port : uri->kind == SF_URI_SIPS ? 5061 : 5060;
  /* a maddr is where the request goes (RFC 3261 19.1.1), the host then unused */
  const SfSipParam *maddr = sf_sip_uri_param (uri, "maddr");
  return host_is_store (ctx, r, uri->host, port) ||
         (maddr != NULL && sf_sip_str_is_set (maddr->value) && host_is_store (ctx, r, maddr->value, port));
}

char *
sf_registrar_aor (SfCtx *ctx, const SfSipUri *uri)
{
  if (uri == NULL || (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS) || !sf_sip_str_is_set (uri->user))
    return NULL;
  gsize len = 0;
  g_autofree char *user = sf_sip_unescape (uri->user, &len);
  g_autofree char *host = sf_sip_str_dup (uri->host);
  g_autofree char *low = g_ascii_strdown (host, -1);
  if (user == NULL || len != strlen (user)) /* an escaped NUL (%00) is no user name */
    return NULL;
  if (uri->port != 0 && !sf_registrar_is_ours (ctx, low))
    return g_strdup_printf ("sip:%s@%s:%u", user, low, uri->port);
  return g_strconcat ("sip:", user, "@", low, NULL);
}

typedef struct {
  SfEndpoint *ep;
  char *handle;
} ReplyTo;

static void
reply_free (gpointer p)
{
  ReplyTo *t = p;
  g_free (t->handle);
  g_free (t);
}

static gpointer
reply_to (SfCtx *ctx)
{
  ReplyTo *t = g_new0 (ReplyTo, 1);
  t->ep = sf_ctx_endpoint (ctx);
  t->handle = g_strdup (sf_ctx_handle (ctx));
  return t;
}

static void
deliver (SfLocationResult *r, gpointer data)
{
  ReplyTo *t = data;
  SfInstance *inst = sf_endpoint_lookup_handle (t->ep, t->handle);
  if (inst != NULL) { /* always: the result belongs to work already accepted (a full queue must not lose it) */
    sf_endpoint_post_always (t->ep, inst, sf_event_new_full (SF_EV_TASK, "location", NULL, r,
                                                      (GDestroyNotify) sf_location_result_free));
    /* run it in this turn, not after another poll: a store's answer comes
     * from a source of the loop (the memory core's from the endpoint's batch,
     * which runs it anyway: then this does nothing) */
    sf_endpoint_dispatch_queued (t->ep);
  } else
    sf_location_result_free (r); /* the instance is gone: nothing to tell */
  reply_free (t);
}

void
sf_registrar_lookup (SfCtx *ctx, const char *aor)
{
  sf_location_lookup (sf_registrar_from_ctx (ctx)->loc, aor, deliver, reply_to (ctx), reply_free);
}

void
sf_registrar_update (SfCtx *ctx, const char *aor, const char *call_id, guint32 cseq, const SfLocOrigin *origin,
                     gboolean remove_all, const SfLocChange *changes, guint n_changes)
{
  sf_location_update (sf_registrar_from_ctx (ctx)->loc, aor, call_id, cseq, origin, remove_all, changes, n_changes,
                      deliver, reply_to (ctx), reply_free);
}

SfOpResult
sf_registrar_answer (SfCtx *ctx, SfSipEvent *e, guint status, const char *reason, const char *const *lines)
{
  g_autofree char *tag = sf_sip_random_tag ();
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, status, reason, tag, lines, NULL);
  if (r == NULL) {
    /* Too big to build (a request near the size limit, many long contacts): a bare 500
     * still ends the transaction. */
    g_warning ("%s: the %u response could not be built: 500 instead", sf_ctx_handle (ctx), status);
    r = sf_sip_create_response (e->msg, 500, "Response Too Large", tag, NULL);
  }
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  SfRegistrar *reg = sf_registrar_from_ctx (ctx);
  if (reg != NULL && sf_sip_str_eq (sf_sip_msg_method (e->msg), "REGISTER")) {
    if (status < 300)
      reg->counts.registers_accepted++;
    else if (status != 401)
      reg->counts.registers_refused++;
  }
  return SF_OP_TRANSITION;
}

void
sf_registrar_metrics (SfRegistrar *r, SfMetricsWriter *w)
{
  sf_metrics_family (w, "sipflow_registrations_total", SF_METRIC_COUNTER,
                     "REGISTER requests answered by the registrar: accepted (2xx), refused (any other final response "
                     "but the 401 challenge).");
  sf_metrics_sample (w, r->counts.registers_accepted, "outcome", "accepted", NULL);
  sf_metrics_sample (w, r->counts.registers_refused, "outcome", "refused", NULL);
  if (r->loc != NULL && !sf_location_shared (r->loc)) {
    sf_metrics_family (w, "sipflow_location_bindings", SF_METRIC_GAUGE,
                       "Bindings (contacts) held now, expired ones not yet purged included (not with a shared store).");
    sf_metrics_sample (w, sf_location_size (r->loc), NULL);
  }
  if (r->loc != NULL && sf_location_persistent (r->loc)) {
    static const char *const ops[] = { "lookup", "update", "write" };
    sf_metrics_family (w, "sipflow_location_store_seconds", SF_METRIC_HISTOGRAM,
                       "How long the location store took to answer, by operation: lookup and update (redis), write (sqlite).");
    for (guint i = 0; i < SF_LOC_N_OPS; i++)
      sf_metrics_histogram (w, sf_location_latency (r->loc, i), "operation", ops[i]);
  }
  sf_metrics_family (w, "sipflow_auth_challenges_total", SF_METRIC_COUNTER, "Digest challenges sent (401, 407).");
  sf_metrics_sample (w, r->counts.auth_challenges, NULL);
  sf_metrics_family (w, "sipflow_auth_failures_total", SF_METRIC_COUNTER,
                     "Digest authentication failures: bad_credentials (a wrong response, a replayed nonce count, an "
                     "algorithm not offered; challenged again), unknown_user (403), wrong_identity (403: another "
                     "user's address-of-record or From).");
  sf_metrics_sample (w, r->counts.auth_bad_credentials, "reason", "bad_credentials", NULL);
  sf_metrics_sample (w, r->counts.auth_unknown_user, "reason", "unknown_user", NULL);
  sf_metrics_sample (w, r->counts.auth_wrong_identity, "reason", "wrong_identity", NULL);
}

gboolean
sf_registrar_parse_q (const char *text, guint *out)
{
  /* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
  if ((text[0] != '0' && text[0] != '1') || (text[1] != '\0' && text[1] != '.'))
    return FALSE;
  guint v = text[0] == '1' ? 1000 : 0, scale = 100;
  const char *p = text[1] == '.' ? text + 2 : text + 1;
  guint n = 0;
  for (; *p != '\0'; p++, n++) {
    if (!g_ascii_isdigit (*p) || n >= 3 || (text[0] == '1' && *p != '0'))
      return FALSE;
    v += (guint) (*p - '0') * scale;
    scale /= 10;
  }
  *out = v;
  return TRUE;
}

/* The lines below are written by hand, not by printf: a Contact line for each
 * binding of every 200 and 302. */
static void
append_decimal (GString *out, guint64 v)
{
  char buf[24], *p = buf + sizeof buf;
  do {
    *--p = (char) ('0' + v % 10);
    v /= 10;
  } while (v > 0);
  g_string_append_len (out, p, buf + sizeof buf - p);
}

static void
append_q (GString *out, guint thousandths)
{
  append_decimal (out, thousandths / 1000);
  char frac[] = { '.', (char) ('0' + thousandths / 100 % 10), (char) ('0' + thousandths / 10 % 10),
                  (char) ('0' + thousandths % 10) };
  g_string_append_len (out, frac, sizeof frac);
}

char *
sf_registrar_format_q (guint thousandths)
{
  GString *out = g_string_sized_new (8);
  append_q (out, thousandths);
  return g_string_free (out, FALSE);
}

char *
sf_registrar_contact_line (const char *contact, gint64 expires_s, double q, gboolean q_first)
{
  guint thousandths = (guint) CLAMP (q * 1000 + 0.5, 0, 1000);
  GString *out = g_string_sized_new (40 + strlen (contact));
  g_string_append (out, "Contact: <");
  g_string_append (out, contact);
  g_string_append_c (out, '>');
  if (q_first) {
    g_string_append (out, ";q=");
    append_q (out, thousandths);
  }
  g_string_append (out, ";expires=");
  append_decimal (out, (guint64) MAX (expires_s, 0));
  if (!q_first) {
    g_string_append (out, ";q=");
    append_q (out, thousandths);
  }
  return g_string_free (out, FALSE);
}

char *
sf_registrar_unsupported (SfSipMsg *msg, SfSipHdrId id)
{
  SfSipValues *req = sf_sip_msg_values (msg, id, NULL);
  if (req == NULL || req->len == 0)
    return NULL;
  GString *tags = g_string_new ("Unsupported: ");
  for (guint i = 0; i < req->len; i++) {
    g_autofree char *t = sf_sip_str_dup (((SfSipValue *) req->pdata[i])->text);
    g_string_append_printf (tags, "%s%s", i > 0 ? ", " : "", t);
  }
  return g_string_free (tags, FALSE);
}

gboolean
sf_registrar_refuse_extensions (SfCtx *ctx, SfSipEvent *e, SfOpResult *result)
{
  g_autofree char *unsupported = sf_registrar_unsupported (e->msg, SF_SIP_HDR_REQUIRE);
  if (unsupported == NULL)
    return FALSE;
  const char *const lines[] = { unsupported, NULL };
  *result = sf_registrar_answer (ctx, e, 420, NULL, lines);
  return TRUE;
}
