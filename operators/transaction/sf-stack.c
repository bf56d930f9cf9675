/* sf-stack.c: the SIP stack object of an endpoint (see sf-stack.h): its
 * [sip] configuration, its transports and listening sockets, its addresses
 * (sip.advertise; RFC 3261 18.2.1 sent-by, 16.3 and 16.4 "is it us?"), the
 * transaction timers' base values and back-off (17.1.1.2, 17.1.2.2, 17.2.1),
 * its statistics, and its setup and teardown: loading the four transaction
 * machines (xml/transaction/) and hooking into the endpoint.  The jobs live
 * beside it: sf-txn-match.c (matching, 17.1.3, 17.2.3, 9.2), sf-txn-tu.c (the
 * transaction user, 12.2.2, 16.10), sf-txn-answers.c (the default answers),
 * sf-txn-overload.c (overload control), sf-txn-send.c (18.2.2, 18.1.1, RFC
 * 3263). */
#include "config.h"
#include "sf-stack-private.h"
#include "framework/sf-endpoint-private.h" /* a gate's context: an endpoint, no instance */
#include "framework/sf-json.h"
#include "framework/sf-module.h"
#include "operators/sf-modules.h"
#include "sip/sf-sip-build.h"
#include <string.h>
#include <sys/resource.h>

/* "host", "host:port", "[v6]" or "[v6]:port", checked by the URI parser (a
 * user part or parameters are refused). */
static gboolean
parse_advertise (const char *text, char **host, guint *port, GError **error)
{
  g_autofree char *uri_text = g_strconcat ("sip:", text, NULL);
  g_autoptr (SfSipUri) uri = strpbrk (text, "@;?") == NULL ? sf_sip_uri_parse (sf_sip_str (uri_text, strlen (uri_text)), NULL, NULL) : NULL;
  if (uri == NULL || uri->host_kind == SF_HOST_NONE || sf_sip_str_is_set (uri->user)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "sip.advertise: expected HOST, HOST:PORT or [IPV6]:PORT, got '%s'", text);
    return FALSE;
  }
  *host = sf_sip_str_dup (uri->host);
  *port = uri->port;
  return TRUE;
}

void
sf_stack_set_lookups (SfStack *s, gboolean on)
{
  s->no_lookups = !on;
}

static const SfConfigKey sip_keys[] = {
  { "listen", SF_CFG_LIST, NULL, 0, 0, NULL,
    "addresses to listen on: udp:ADDR:PORT, tcp:ADDR:PORT, tls:ADDR:PORT, ws:ADDR:PORT, wss:ADDR:PORT (--listen replaces)" },
  { "t1_ms", SF_CFG_MS, "500", 1, 60000, NULL, "RFC 3261 T1: round-trip estimate" },
  { "t2_ms", SF_CFG_MS, "4000", 1, 600000, NULL, "RFC 3261 T2: longest retransmission interval" },
  { "t4_ms", SF_CFG_MS, "5000", 1, 600000, NULL, "RFC 3261 T4: longest a message stays in the network" },
  { "tcp_idle", SF_CFG_INT, "64", 1, 86400, NULL,
    "seconds a TCP connection stays open without a whole SIP message (keep-alives count on a registered flow only)" },
  { "tcp_stall", SF_CFG_INT, "10", 1, 3600, NULL,
    "seconds a TCP message may take from its first byte to its last, and an accepted connection to its first message" },
  { "tcp_max_per_source", SF_CFG_INT, "32", 1, 65536, NULL, "most TCP connections accepted from one IP address at once" },
  { "tcp_max_connections", SF_CFG_INT, "1024", 1, 1048576, NULL,
    "most TCP connections at once (lowered to fit the descriptor limit, RLIMIT_NOFILE)" },
  { "max_instances", SF_CFG_INT, "50000", 16, 100000000, NULL,
    "live instances (transactions, calls, requests, branches) past which a new request gets 503 with Retry-After, statelessly" },
  { "max_per_source", SF_CFG_INT, "20000", 0, 100000000, NULL,
    "live server transactions one source address may hold (two fifths of max_instances by default); one more gets 503 with Retry-After (0: no limit; trusted sources exempt)" },
  { "rate_limit", SF_CFG_INT, "2000", 0, 10000000, NULL,
    "new requests a second from one source (an IPv4 address, an IPv6 /64), bursts of two seconds' worth; more are dropped and counted (0: no limit; trusted sources exempt)" },
  { "advertise", SF_CFG_STRING, NULL, 0, 0, NULL,
    "HOST or HOST:PORT written in Via, Contact and Record-Route instead of the socket's address (listening on 0.0.0.0, NAT)" },
  { "dns_servers", SF_CFG_STRING, NULL, 0, 0, NULL,
    "DNS servers for RFC 3263 location, IP[:PORT] or [IPV6]:PORT separated by commas (default: /etc/resolv.conf's)" },
  { "dns_timeout_ms", SF_CFG_MS, "1000", 10, 30000, NULL,
    "how long the first try of a DNS query waits for its answer (each further try waits twice as long)" },
  { "dns_tries", SF_CFG_INT, "2", 1, 5, NULL, "tries of a DNS query before it fails" },
  { "shutdown_retry_after", SF_CFG_INT, "10", 1, 86400, NULL,
    "seconds in the Retry-After of the 503 new requests get while shutting down (long enough for a restart)" },
};

/* SIP over TLS (docs/sip.md, "TLS"): files relative to the configuration
 * file that names them. */
static const SfConfigKey tls_keys[] = {
  { "certificate", SF_CFG_STRING, NULL, 0, 0, NULL,
    "PEM file: this node's certificate (chain), shown to TLS clients and to servers that ask for one" },
  { "key", SF_CFG_STRING, NULL, 0, 0, NULL, "PEM file: the certificate's private key (unset: in the certificate's file)" },
  { "ca_file", SF_CFG_STRING, NULL, 0, 0, NULL,
    "PEM file: the authorities trusted for servers' and clients' certificates (unset: the system's)" },
  { "verify_client", SF_CFG_ENUM, "off", 0, 0, "off|optional|require",
    "ask TLS clients for a certificate: off, optional (one shown must be trusted), require" },
  { "verify_server", SF_CFG_BOOL, "true", 0, 0, NULL,
    "check a TLS server's certificate against the URI's host (RFC 5922); false only for tests" },
  { "min_version", SF_CFG_ENUM, "1.2", 0, 0, "1.2|1.3", "the oldest TLS version accepted" },
};

/* SIP over WebSocket (docs/sip.md, "WebSocket"). */
static const SfConfigKey ws_keys[] = {
  { "origins", SF_CFG_LIST, "*", 0, 0, NULL,
    "Origin values a WebSocket upgrade may carry (https://phone.example.com, ...; *: any); one without Origin is not a browser's and is let in" },
};

gboolean
sf_stack_declare_config (SfConfig *cfg, GError **error)
{
  return sf_config_declare (cfg, "sip", sip_keys, G_N_ELEMENTS (sip_keys), error) &&
         sf_config_declare (cfg, "tls", tls_keys, G_N_ELEMENTS (tls_keys), error) &&
         sf_config_declare (cfg, "ws", ws_keys, G_N_ELEMENTS (ws_keys), error);
}

/* tls.@key's file, made absolute: relative to the configuration file it came
 * from, else to the working directory (--set). */
static char *
tls_path (SfConfig *cfg, const char *key)
{
  const char *v = sf_config_get_string (cfg, "tls", key);
  if (v == NULL || *v == '\0')
    return NULL;
  if (g_path_is_absolute (v))
    return g_strdup (v);
  const char *src = sf_config_get_source (cfg, "tls", key);
  g_autofree char *dir = src != NULL && g_file_test (src, G_FILE_TEST_IS_REGULAR) ? g_path_get_dirname (src) : g_get_current_dir ();
  if (!g_path_is_absolute (dir)) {
    g_autofree char *cwd = g_get_current_dir ();
    g_autofree char *abs = g_build_filename (cwd, dir, NULL);
    return g_build_filename (abs, v, NULL);
  }
  return g_build_filename (dir, v, NULL);
}

SfSipTlsConfig *
sf_stack_tls_load (SfConfig *cfg, GError **error)
{
  g_autofree char *cert = tls_path (cfg, "certificate");
  g_autofree char *key = tls_path (cfg, "key");
  g_autofree char *ca = tls_path (cfg, "ca_file");
  SfSipTlsConfig *tls = sf_sip_tls_config_load (cert, key, ca, sf_config_get_string (cfg, "tls", "verify_client"),
                                                sf_config_get_bool (cfg, "tls", "verify_server"),
                                                sf_config_get_string (cfg, "tls", "min_version"), error);
  if (tls == NULL) {
    const char *src = sf_config_get_source (cfg, "tls", cert != NULL ? "certificate" : "ca_file");
    if (src != NULL && strcmp (src, "default") != 0)
      g_prefix_error (error, "%s: ", src);
  }
  return tls;
}

SfConfig *
sf_stack_config (SfStack *s)
{
  return s->cfg;
}

SfStack *
sf_stack_from_ctx (SfCtx *ctx)
{
  return sf_module_state (sf_ctx_endpoint (ctx), &sf_transaction_module);
}

/* sip.t1_ms, t2_ms and t4_ms into s->t_ms: when the stack is made and at a reload. */
static void
read_timers (SfStack *s)
{
  static const char *const keys[] = { "t1_ms", "t2_ms", "t4_ms" };
  G_STATIC_ASSERT (G_N_ELEMENTS (keys) == G_N_ELEMENTS (s->t_ms));
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    s->t_ms[i] = (guint) sf_config_get_int (s->cfg, "sip", keys[i]);
}

guint
sf_stack_timer_ms (SfStack *s, char which)
{
  return s->t_ms[which == '1' ? 0 : which == '2' ? 1 : 2];
}

static gpointer
inst_new (void)
{
  /* not g_new0: calloc passes by malloc's cache (sf_instance_new) */
  SfTxnInstance *t = g_new (SfTxnInstance, 1);
  return memset (t, 0, sizeof *t);
}

static void
inst_free (gpointer p)
{
  SfTxnInstance *t = p;
  g_clear_pointer (&t->request, sf_sip_event_free);
  g_clear_pointer (&t->last, sf_sip_msg_unref);
  g_free (t->kept);
  g_free (t->tu);
  g_clear_pointer (&t->source, sf_txn_source_hold_free);
  g_clear_pointer (&t->client, sf_txn_client_free);
  g_clear_pointer (&t->final, sf_sip_msg_unref);
  g_clear_pointer (&t->ack, sf_sip_msg_unref);
  g_free (t->local_tag);
  if (t->moved != NULL)
    g_hash_table_unref (t->moved);
  SfTxnBackoff *all = t->backoff != NULL ? t->backoff : t->backoff_room;
  for (guint i = 0; i < t->n_backoff; i++)
    g_free (all[i].owned);
  g_free (t->backoff);
  g_free (t);
}

SfTxnInstance *
sf_txn_inst_of (SfEndpoint *ep, SfInstance *inst)
{
  return sf_instance_module_slot_ensure (ep, inst, &sf_transaction_module, inst_new, inst_free);
}

SfTxnInstance *
sf_txn_inst_peek_of (SfEndpoint *ep, SfInstance *inst)
{
  return sf_instance_module_slot (ep, inst, &sf_transaction_module);
}

SfTxnInstance *
sf_txn_inst (SfCtx *ctx)
{
  return sf_ctx_module_slot_ensure (ctx, &sf_transaction_module, inst_new, inst_free);
}

SfTxnInstance *
sf_txn_inst_peek (SfCtx *ctx)
{
  return sf_ctx_module_slot (ctx, &sf_transaction_module);
}

/* @t's entry for timer @name, NULL when it was never started by sf_stack_backoff_start(). */
static SfTxnBackoff *
backoff_find (SfTxnInstance *t, const char *name)
{
  if (t == NULL)
    return NULL;
  SfTxnBackoff *all = t->backoff != NULL ? t->backoff : t->backoff_room;
  for (guint i = 0; i < t->n_backoff; i++)
    if (strcmp (all[i].owned != NULL ? all[i].owned : all[i].room, name) == 0)
      return &all[i];
  return NULL;
}

void
sf_stack_backoff_start (SfCtx *ctx, const char *name, guint ms)
{
  SfTxnInstance *t = sf_txn_inst (ctx);
  SfTxnBackoff *b = backoff_find (t, name);
  if (b == NULL) {
    /* a few timers an instance (G; A or E; the UA's 2xx): in the room, then
     * in an array grown one at a time */
    if (t->backoff != NULL)
      t->backoff = g_renew (SfTxnBackoff, t->backoff, t->n_backoff + 1);
    else if (t->n_backoff == G_N_ELEMENTS (t->backoff_room)) {
      t->backoff = g_new (SfTxnBackoff, t->n_backoff + 1);
      memcpy (t->backoff, t->backoff_room, sizeof t->backoff_room);
    }
    b = &(t->backoff != NULL ? t->backoff : t->backoff_room)[t->n_backoff++];
    gsize len = strlen (name);
    b->owned = len < sizeof b->room ? NULL : g_strdup (name);
    if (b->owned == NULL)
      memcpy (b->room, name, len + 1);
  }
  b->ms = ms;
  sf_ctx_timer_start (ctx, name, ms);
}

void
sf_stack_backoff (SfCtx *ctx, const char *name, gboolean cap)
{
  SfTxnBackoff *b = backoff_find (sf_txn_inst_peek (ctx), name);
  guint interval = MAX (b != NULL ? b->ms : 0, 1) * 2;
  if (cap)
    interval = MIN (interval, sf_stack_timer_ms (sf_stack_from_ctx (ctx), '2'));
  sf_stack_backoff_start (ctx, name, interval);
}

void
sf_stack_set_local_tag (SfCtx *ctx, const char *tag)
{
  SfTxnInstance *t = tag != NULL ? sf_txn_inst (ctx) : sf_txn_inst_peek (ctx);
  if (t == NULL)
    return;
  char *old = t->local_tag;
  t->local_tag = g_strdup (tag);
  g_free (old); /* after: @tag may be the old one */
}

const char *
sf_stack_local_tag (SfCtx *ctx)
{
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  return t != NULL ? t->local_tag : NULL;
}

SfSipEvent *
sf_stack_txn_request_for_test (SfEndpoint *ep, SfInstance *txn)
{
  SfTxnInstance *t = sf_txn_inst_peek_of (ep, txn);
  return t != NULL ? t->request : NULL;
}

SfSipTransport *
sf_stack_transport (SfStack *s)
{
  return s->tp;
}

const SfStackStats *
sf_stack_stats (SfStack *s)
{
  return &s->stats;
}

G_STATIC_ASSERT (sizeof (SfStackStats) == SF_STACK_N_STATS * sizeof (guint64));

void
sf_stack_count (SfStack *s, SfStackStat what)
{
  g_return_if_fail ((guint) what < SF_STACK_N_STATS);
  s->stats.n[what]++;
}

guint
sf_stack_shutdown_retry_after (SfStack *s)
{
  return (guint) sf_config_get_int (s->cfg, "sip", "shutdown_retry_after");
}

char *
sf_stack_stats_fields (SfStack *s)
{
  const SfSipTransportStats *t = sf_sip_transport_stats (s->tp);
  return g_strdup_printf ("\"sip_received\":%" G_GUINT64_FORMAT ",\"sip_sent\":%" G_GUINT64_FORMAT
                          ",\"sip_bad_requests\":%" G_GUINT64_FORMAT ",\"sip_dropped\":%" G_GUINT64_FORMAT
                          ",\"transactions\":%" G_GUINT64_FORMAT ",\"calls_answered\":%" G_GUINT64_FORMAT
                          ",\"calls_ended\":%" G_GUINT64_FORMAT ",\"retransmissions_sent\":%" G_GUINT64_FORMAT
                          ",\"retransmissions_absorbed\":%" G_GUINT64_FORMAT ",\"stateless_answers\":%" G_GUINT64_FORMAT
                          ",\"stray_responses\":%" G_GUINT64_FORMAT ",\"stray_acks\":%" G_GUINT64_FORMAT
                          ",\"transactions_timed_out\":%" G_GUINT64_FORMAT
                          ",\"transactions_failed\":%" G_GUINT64_FORMAT ",\"transactions_guarded\":%" G_GUINT64_FORMAT
                          ",\"oversize_responses\":%" G_GUINT64_FORMAT ",\"transactions_live\":%u"
                          ",\"requests_refused\":%" G_GUINT64_FORMAT ",\"requests_rate_limited\":%" G_GUINT64_FORMAT ",\"rate_sources_evicted\":%" G_GUINT64_FORMAT
                          ",\"requests_overload\":%" G_GUINT64_FORMAT ",\"shutdown_refused\":%" G_GUINT64_FORMAT
                          ",\"tcp_accepted\":%" G_GUINT64_FORMAT ",\"tcp_refused\":%" G_GUINT64_FORMAT
                          ",\"tcp_closed_idle\":%" G_GUINT64_FORMAT ",\"tcp_closed_stalled\":%" G_GUINT64_FORMAT
                          ",\"tcp_pongs\":%" G_GUINT64_FORMAT ",\"tls_failed\":%" G_GUINT64_FORMAT
                          ",\"ws_refused\":%" G_GUINT64_FORMAT,
                          t->received, t->sent, t->bad_requests, t->dropped, s->stats.transactions,
                          s->stats.calls_answered, s->stats.calls_ended, s->stats.retransmissions_sent,
                          s->stats.retransmissions_absorbed, s->stats.stateless, s->stats.stray_responses,
                          s->stats.stray_acks, s->stats.timeouts, s->stats.transport_errors, s->stats.guarded, t->oversize_responses,
                          sf_endpoint_n_instances (s->ep) - sf_endpoint_n_instances_but (s->ep, "transaction"),
                          s->stats.refused, s->stats.rate_limited, s->stats.rate_evicted, s->stats.overloaded, s->stats.shutdown_refused,
                          t->tcp_accepted, t->tcp_refused, t->tcp_closed_idle, t->tcp_closed_stalled, t->tcp_pongs,
                          t->tls_failed, t->ws_refused);
}

const char *
sf_stack_advertised (SfStack *s)
{
  return s->adv_host;
}

char *
sf_stack_local_socket (SfStack *s, SfSipProto proto)
{
  GInetSocketAddress *a = sf_sip_transport_local (s->tp, proto);
  if (a == NULL)
    return NULL;
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (a));
  gboolean v6 = strchr (ip, ':') != NULL;
  return g_strdup_printf ("%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", g_inet_socket_address_get_port (a));
}

char *
sf_stack_local (SfStack *s, SfSipProto proto)
{
  GInetSocketAddress *a = sf_sip_transport_local (s->tp, proto);
  if (a == NULL)
    return NULL;
  g_return_val_if_fail ((guint) proto < G_N_ELEMENTS (s->local_text), NULL);
  if (s->local_text[proto].addr == (GSocketAddress *) a) /* adv_host and adv_port never change */
    return g_strdup (s->local_text[proto].text);
  char *text;
  if (s->adv_host != NULL) {
    text = g_strdup_printf ("%s:%u", s->adv_host, s->adv_port != 0 ? s->adv_port : g_inet_socket_address_get_port (a));
  } else {
    g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (a));
    gboolean v6 = strchr (ip, ':') != NULL;
    text = g_strdup_printf ("%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", g_inet_socket_address_get_port (a));
  }
  g_set_object (&s->local_text[proto].addr, (GSocketAddress *) a);
  g_free (s->local_text[proto].text);
  s->local_text[proto].text = text;
  return g_strdup (text);
}

gboolean
sf_stack_is_local (SfStack *s, const char *host, guint port)
{
  return sf_stack_is_local_host (s, sf_sip_str (host, strlen (host)), port);
}

/* An IPv6 literal's brackets dropped, as sf_sip_ip_parse() does. */
static SfSipStr
bare_host (SfSipStr h)
{
  return h.len >= 2 && h.p[0] == '[' && h.p[h.len - 1] == ']' ? sf_sip_str (h.p + 1, h.len - 2) : h;
}

/* Asked some ten times a proxied call (Route, Record-Route, Via): addresses
 * compared as bytes, no address object made. */
gboolean
sf_stack_is_local_host (SfStack *s, SfSipStr host, guint port)
{
  SfSipIp ip;
  gboolean is_ip = sf_sip_ip_parse (host, &ip);
  if (is_ip && sf_sip_transport_is_local (s->tp, &ip, port))
    return TRUE;
  /* the advertised address is ours too (with its port, or any of our sockets') */
  if (s->adv_host == NULL)
    return FALSE;
  gboolean same;
  if (s->adv_is_ip) {
    same = is_ip && sf_sip_ip_equal (&s->adv_ip, &ip);
  } else {
    SfSipStr a = bare_host (sf_sip_str (s->adv_host, strlen (s->adv_host))), h = bare_host (host);
    same = a.len == h.len && (a.len == 0 || g_ascii_strncasecmp (a.p, h.p, a.len) == 0);
  }
  if (!same)
    return FALSE;
  if (port == 0)
    return TRUE;
  return s->adv_port != 0 ? port == s->adv_port : sf_sip_transport_has_port (s->tp, port);
}

gboolean
sf_stack_per_transaction (SfStack *s)
{
  return s->gate.per_transaction;
}

/* The gate's functions get a context with an endpoint and no instance: nothing
 * is made for the request yet. */
gboolean
sf_stack_gate_admit (SfStack *s, SfSipMsg *req, const SfSipPeer *from)
{
  SfCtx c = { .ep = s->ep };
  return s->gate.admit != NULL && s->gate.admit (&c, req, from, s->gate.data);
}

gboolean
sf_stack_gate_trusted (SfStack *s, const SfSipPeer *from)
{
  SfCtx c = { .ep = s->ep };
  return s->gate.trusted != NULL && s->gate.trusted (&c, from, s->gate.data);
}

void
sf_stack_gate_stray (SfStack *s, SfSipMsg *resp, const SfSipPeer *from)
{
  SfCtx c = { .ep = s->ep };
  if (s->gate.stray != NULL)
    s->gate.stray (&c, resp, from, s->gate.data);
}

void
sf_stack_set_gate (SfStack *s, const SfStackGate *gate)
{
  if (gate != NULL)
    s->gate = *gate;
  else
    memset (&s->gate, 0, sizeof s->gate);
}

SfMachine *
sf_stack_load_txn (SfLoader *loader, SfMachine *tu, const char *name, GError **error)
{
  g_autofree char *dir = g_str_has_prefix (tu->file, "builtin:") ? NULL : g_path_get_dirname (tu->file);
  g_autofree char *local = dir != NULL ? g_build_filename (dir, "transaction", name, NULL) : NULL;
  g_autofree char *builtin = g_strconcat ("builtin:transaction/", name, NULL);
  return sf_loader_load (loader, local != NULL && g_file_test (local, G_FILE_TEST_EXISTS) ? local : builtin, error);
}

/* Descriptors kept for what is not an accepted connection: sockets, files,
 * outgoing connections, media. */
#define FD_RESERVE 128

/* ws.origins: an empty list is no Origin at all (browsers refused, other clients let in). */
static void
ws_origins (SfStack *s)
{
  const char *const *o = sf_config_get_list (s->cfg, "ws", "origins");
  static const char *const none[] = { "", NULL };
  sf_sip_transport_set_ws_origins (s->tp, o[0] != NULL ? o : none);
}

/* sip.tcp_max_connections, within the descriptor limit: past it accept() fails
 * and GLib's socket service retries at once, forever.  The soft limit is raised
 * toward the hard one when needed. */
static guint
tcp_max_connections (SfConfig *cfg)
{
  guint want = (guint) sf_config_get_int (cfg, "sip", "tcp_max_connections");
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t) want + FD_RESERVE)
    return want;
  rlim_t need = (rlim_t) want + FD_RESERVE;
  struct rlimit raised = { rl.rlim_max == RLIM_INFINITY ? need : MIN (need, rl.rlim_max), rl.rlim_max };
  if (raised.rlim_cur > rl.rlim_cur && setrlimit (RLIMIT_NOFILE, &raised) == 0)
    rl.rlim_cur = raised.rlim_cur;
  if (rl.rlim_cur >= need)
    return want;
  guint fit = rl.rlim_cur > 2 * FD_RESERVE ? (guint) (rl.rlim_cur - FD_RESERVE) : (guint) (rl.rlim_cur / 2);
  g_warning ("sip.tcp_max_connections=%u does not fit the descriptor limit (%lu, ulimit -n): %u used instead", want,
             (unsigned long) rl.rlim_cur, MAX (fit, 1));
  return MAX (fit, 1);
}

/* After a read that handed up messages (datagrams, stream messages): what
 * they queued is dispatched in the turn of the loop that read them, not in
 * the next after another poll. */
static void
after_read (gpointer data)
{
  sf_endpoint_dispatch_queued (((SfStack *) data)->ep);
}

SfStack *
sf_stack_new (SfEndpoint *ep, SfLoader *loader, SfMachine *tu, GError **error)
{
  g_autoptr (SfMachine) ist = sf_stack_load_txn (loader, tu, "ist.xml", error);
  if (ist == NULL)
    return NULL;
  g_autoptr (SfMachine) nist = sf_stack_load_txn (loader, tu, "nist.xml", error);
  if (nist == NULL)
    return NULL;
  g_autoptr (SfMachine) ict = sf_stack_load_txn (loader, tu, "ict.xml", error);
  if (ict == NULL)
    return NULL;
  g_autoptr (SfMachine) nict = sf_stack_load_txn (loader, tu, "nict.xml", error);
  if (nict == NULL)
    return NULL;
  const char *adv = sf_config_get_string (sf_endpoint_config (ep), "sip", "advertise");
  g_autofree char *adv_host = NULL;
  guint adv_port = 0;
  if (adv != NULL && !parse_advertise (adv, &adv_host, &adv_port, error))
    return NULL;
  /* Always a TLS configuration (the system's CAs at least): a sips: or
   * transport=tls target can be reached without a [tls] section.  A file
   * that is missing or wrong stops the start, naming its key. */
  g_autoptr (SfSipTlsConfig) tls = sf_stack_tls_load (sf_endpoint_config (ep), error);
  if (tls == NULL)
    return NULL;
  g_autoptr (GError) dns_error = NULL;
  SfConfig *cfg = sf_endpoint_config (ep);
  SfSipResolver *resolver = sf_sip_resolver_new (sf_config_get_string (cfg, "sip", "dns_servers"),
                                                 (guint) sf_config_get_int (cfg, "sip", "dns_timeout_ms"),
                                                 (guint) sf_config_get_int (cfg, "sip", "dns_tries"), &dns_error);
  if (resolver == NULL) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "sip.dns_servers: %s", dns_error->message);
    return NULL;
  }
  SfStack *s = g_new0 (SfStack, 1);
  s->ep = ep;
  s->resolver = resolver;
  s->lookups = g_cancellable_new ();
  s->cfg = sf_endpoint_config (ep);
  read_timers (s);
  s->adv_host = g_steal_pointer (&adv_host);
  s->adv_port = adv_port;
  s->adv_is_ip = s->adv_host != NULL && sf_sip_ip_parse (sf_sip_str (s->adv_host, strlen (s->adv_host)), &s->adv_ip);
  s->tu = sf_machine_ref (tu);
  s->ist = g_steal_pointer (&ist);
  s->nist = g_steal_pointer (&nist);
  s->ict = g_steal_pointer (&ict);
  s->nict = g_steal_pointer (&nict);
  sf_stack_overload_init (s);
  s->listened = g_ptr_array_new_with_free_func (g_free);
  /* The thread-default context: a worker's (docs/workers.md), or NULL, the
   * global default, on the main thread. */
  s->tp = sf_sip_transport_new (g_main_context_get_thread_default (), sf_stack_on_recv, s);
  sf_sip_transport_set_tcp_idle (s->tp, (guint) sf_config_get_int (s->cfg, "sip", "tcp_idle"));
  sf_sip_transport_set_tcp_limits (s->tp, (guint) sf_config_get_int (s->cfg, "sip", "tcp_stall"),
                                   (guint) sf_config_get_int (s->cfg, "sip", "tcp_max_per_source"),
                                   tcp_max_connections (s->cfg));
  sf_sip_transport_set_send_error (s->tp, sf_stack_on_send_error, s);
  sf_sip_transport_set_udp_failed (s->tp, sf_stack_on_udp_failed, s);
  /* a running loop sends a turn's datagrams at its end; the unit tests' fake
   * clock, advanced by hand between reads of the sockets, sends at once */
  sf_sip_transport_set_udp_batch (s->tp, !sf_clock_is_fake (sf_endpoint_clock (s->ep)));
  sf_sip_transport_set_after_read (s->tp, after_read, s);
  sf_sip_transport_set_tls (s->tp, tls);
  ws_origins (s);
  s->debug_messages = g_strcmp0 (sf_config_get_string (s->cfg, "core", "log_level"), "debug") == 0;
  sf_stack_tap_init (s);
  sf_endpoint_get_untaken (ep, &s->chained, &s->chained_data);
  sf_endpoint_set_untaken (ep, sf_stack_untaken, s);
  sf_module_attach (ep, &sf_transaction_module, s);
  return s;
}

void
sf_stack_reconfigure (SfStack *s)
{
  sf_stack_overload_reconfigure (s); /* sip.max_instances: this worker's share */
  read_timers (s);
  s->rate = (guint) sf_config_get_int (s->cfg, "sip", "rate_limit"); /* the buckets fill at the new rate from now */
  s->max_per_source = (guint) sf_config_get_int (s->cfg, "sip", "max_per_source");
  /* Connections open keep the timers they have; the next ones get these. */
  sf_sip_transport_set_tcp_idle (s->tp, (guint) sf_config_get_int (s->cfg, "sip", "tcp_idle"));
  sf_sip_transport_set_tcp_limits (s->tp, (guint) sf_config_get_int (s->cfg, "sip", "tcp_stall"),
                                   (guint) sf_config_get_int (s->cfg, "sip", "tcp_max_per_source"),
                                   tcp_max_connections (s->cfg));
  ws_origins (s);
  s->debug_messages = g_strcmp0 (sf_config_get_string (s->cfg, "core", "log_level"), "debug") == 0;
}

void
sf_stack_free (SfStack *s)
{
  if (s == NULL)
    return;
  g_cancellable_cancel (s->lookups);
  sf_sip_resolver_free (s->resolver); /* the lookups running end, cancelled: their callbacks touch nothing of ours */
  g_object_unref (s->lookups);
  sf_endpoint_set_untaken (s->ep, s->chained, s->chained_data);
  sf_module_attach (s->ep, &sf_transaction_module, NULL);
  sf_stack_tap_clear (s);
  sf_sip_transport_free (s->tp);
  sf_stack_send_warn_flush (s);
  sf_machine_unref (s->tu);
  sf_machine_unref (s->ist);
  sf_machine_unref (s->nist);
  sf_machine_unref (s->ict);
  sf_machine_unref (s->nict);
  g_free (s->adv_host);
  for (guint i = 0; i < G_N_ELEMENTS (s->local_text); i++) {
    g_clear_object (&s->local_text[i].addr);
    g_free (s->local_text[i].text);
  }
  g_ptr_array_unref (s->listened);
  g_free (s->home_sent_by);
  sf_stack_overload_clear (s);
  g_free (s);
}

const GPtrArray *
sf_stack_listened (SfStack *s)
{
  return s->listened;
}

gboolean
sf_stack_listen (SfStack *s, const char *spec, GError **error)
{
  SfSipProto proto;
  g_autoptr (GInetSocketAddress) addr = NULL;
  g_autoptr (GInetSocketAddress) bound = NULL;
  if (!sf_sip_listen_spec_parse (spec, &proto, &addr, error) || !sf_sip_transport_listen (s->tp, proto, addr, &bound, error))
    return FALSE;
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (bound));
  gboolean v6 = g_inet_address_get_family (g_inet_socket_address_get_address (bound)) == G_SOCKET_FAMILY_IPV6;
  g_ptr_array_add (s->listened, g_strdup_printf (v6 ? "%s:[%s]:%u" : "%s:%s:%u", sf_sip_proto_name (proto), ip,
                                                 g_inet_socket_address_get_port (bound)));
  /* One 'listening' per address: worker 0's, the others bind where it did. */
  if (s->workers != NULL && s->worker != 0)
    return TRUE;
  GString *ev = sf_json_begin ("listening");
  sf_json_add_str (ev, "transport", sf_sip_proto_name (proto));
  sf_json_add_str (ev, "addr", ip);
  sf_json_add_int (ev, "port", g_inet_socket_address_get_port (bound));
  sf_endpoint_emit_json_as (s->ep, SF_EVC_SERVICE, ev);
  return TRUE;
}

