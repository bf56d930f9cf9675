/* sf-stack.c: the SIP stack of an endpoint (see sf-stack.h). */
#include "config.h"
#include "sf-stack.h"
#include "framework/sf-endpoint-private.h"
#include "framework/sf-json.h"
#include "framework/sf-clock.h"
#include "framework/sf-secret.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-resolve.h"
#include "sip/sf-sip-dialog.h"
#include "sip/sf-sip-uri.h"
#include "sip/sf-sip-txn-key.h"
#include <string.h>
#include <sys/resource.h>

struct _SfStack {
  SfEndpoint *ep;            /* unowned */
  SfConfig *cfg;             /* unowned */
  SfSipTransport *tp;        /* owned */
  SfMachine *tu;             /* owned ref */
  SfMachine *ist, *nist;     /* owned refs */
  SfMachine *ict, *nict;     /* owned refs */
  SfStackStats stats;
  SfUntakenFunc chained;     /* the untaken hook that was there before ours */
  gpointer chained_data;
  SfStatsFunc stats_chained; /* the stats hook that was there before ours (the registrar's) */
  gpointer stats_chained_data;
  gboolean no_lookups;       /* names are not resolved (fuzzing): their requests fail */
  char *adv_host;            /* owned, nullable: sip.advertise's host (an IPv6 one in brackets) */
  guint adv_port;            /* its port, 0: the socket's */
  SfStackGate gate;          /* what the flow decides before any state (all NULL: nothing) */
  guint max_instances;       /* sip.max_instances */
  guint rate;                /* sip.rate_limit: new requests a second per source, 0: off */
  GHashTable *buckets;       /* RateKey (inside its Bucket) -> Bucket (owned) */
  GQueue lru;                /* the Buckets' links, the most recently used first */
  guint max_buckets;         /* SF_STACK_MAX_BUCKETS (smaller in tests) */
  guint max_per_source;      /* sip.max_per_source, 0: no limit */
  GHashTable *held;          /* source address (owned string) -> live server transactions (GUINT) */
};

/* What sip.rate_limit counts by: an IPv4 address (an IPv4-mapped IPv6 one,
 * ::ffff:a.b.c.d, as its IPv4 form), or the /64 prefix of an IPv6 address (one
 * subscriber's network: whoever holds a /64 has 2^64 addresses).  No padding:
 * compared and hashed as bytes. */
typedef struct {
  guint8 len;   /* 4: IPv4, 8: an IPv6 /64 */
  guint8 b[8];
} RateKey;

/* A token bucket per source for sip.rate_limit: up to two seconds' worth of
 * requests in a burst.  The key and the LRU link live inside. */
typedef struct {
  RateKey key;
  double tokens;
  gint64 last_us;
  GList link;   /* in SfStack.lru; data: this bucket */
} Bucket;
/* Sources tracked at most; when full, the least recently seen one is
 * forgotten (it gets a fresh bucket when it comes back): O(1) a request, and a
 * new source is always counted. */
#define SF_STACK_MAX_BUCKETS 65536

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
  { "listen", SF_CFG_LIST, NULL, 0, 0, NULL, "addresses to listen on: udp:ADDR:PORT, tcp:ADDR:PORT (--listen replaces)" },
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
  { "shutdown_retry_after", SF_CFG_INT, "10", 1, 86400, NULL,
    "seconds in the Retry-After of the 503 new requests get while shutting down (long enough for a restart)" },
};

gboolean
sf_stack_declare_config (SfConfig *cfg, GError **error)
{
  return sf_config_declare (cfg, "sip", sip_keys, G_N_ELEMENTS (sip_keys), error);
}

SfSipEvent *
sf_sip_event_new (SfSipMsg *msg, const SfSipPeer *peer, const char *txn)
{
  SfSipEvent *e = g_new0 (SfSipEvent, 1);
  e->msg = msg != NULL ? sf_sip_msg_ref (msg) : NULL;
  if (peer != NULL)
    sf_sip_peer_copy (&e->peer, peer);
  e->txn = g_strdup (txn);
  return e;
}

void
sf_sip_event_free (SfSipEvent *e)
{
  if (e == NULL)
    return;
  if (e->msg != NULL)
    sf_sip_msg_unref (e->msg);
  sf_sip_peer_clear (&e->peer);
  g_free (e->txn);
  g_free (e);
}

SfStack *
sf_stack_from_ctx (SfCtx *ctx)
{
  return sf_endpoint_get_data (sf_ctx_endpoint (ctx), "sip.stack");
}

guint
sf_stack_timer_ms (SfStack *s, char which)
{
  const char *key = which == '1' ? "t1_ms" : which == '2' ? "t2_ms" : "t4_ms";
  return (guint) sf_config_get_int (s->cfg, "sip", key);
}

void
sf_stack_backoff_start (SfCtx *ctx, const char *name, guint ms)
{
  g_autofree char *key = g_strdup_printf ("backoff.%s", name);
  sf_ctx_set_data (ctx, key, GUINT_TO_POINTER (ms), NULL);
  sf_ctx_timer_start (ctx, name, ms);
}

void
sf_stack_backoff (SfCtx *ctx, const char *name, gboolean cap)
{
  g_autofree char *key = g_strdup_printf ("backoff.%s", name);
  guint interval = MAX (GPOINTER_TO_UINT (sf_ctx_get_data (ctx, key)), 1) * 2;
  if (cap)
    interval = MIN (interval, sf_stack_timer_ms (sf_stack_from_ctx (ctx), '2'));
  sf_stack_backoff_start (ctx, name, interval);
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
  g_autofree char *more = s->stats_chained != NULL ? s->stats_chained (s->stats_chained_data) : NULL;
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
                          ",\"tcp_pongs\":%" G_GUINT64_FORMAT "%s%s",
                          t->received, t->sent, t->bad_requests, t->dropped, s->stats.transactions,
                          s->stats.calls_answered, s->stats.calls_ended, s->stats.retransmissions_sent,
                          s->stats.retransmissions_absorbed, s->stats.stateless, s->stats.stray_responses,
                          s->stats.stray_acks, s->stats.timeouts, s->stats.transport_errors, s->stats.guarded, t->oversize_responses,
                          sf_endpoint_n_instances (s->ep) - sf_endpoint_n_instances_but (s->ep, "transaction"),
                          s->stats.refused, s->stats.rate_limited, s->stats.rate_evicted, s->stats.overloaded, s->stats.shutdown_refused,
                          t->tcp_accepted, t->tcp_refused, t->tcp_closed_idle, t->tcp_closed_stalled, t->tcp_pongs,
                          more != NULL && *more != '\0' ? "," : "", more != NULL ? more : "");
}

gboolean
sf_stack_send_response (SfStack *s, SfSipMsg *resp, const SfSipPeer *to)
{
  g_autoptr (GError) error = NULL;
  if (!sf_sip_transport_send_response (s->tp, resp, to, &error)) {
    g_warning ("sending %u: %s", sf_sip_msg_status (resp), error->message);
    return FALSE;
  }
  s->stats.responses_sent++;
  return TRUE;
}

gboolean
sf_stack_respond (SfStack *s, const char *txn, SfSipMsg *resp)
{
  SfInstance *t = txn != NULL ? sf_endpoint_lookup_handle (s->ep, txn) : NULL;
  if (t == NULL)
    return FALSE; /* the transaction is gone (it timed out): nothing can be sent */
  sf_endpoint_post_always (s->ep, t, sf_event_new_full (SF_EV_TXN, "respond", NULL, sf_sip_event_new (resp, NULL, NULL),
                                                       (GDestroyNotify) sf_sip_event_free));
  return TRUE;
}

/* ---- matching: sip/sf-sip-txn-key.h (17.1.3, 17.2.3, 9.2) ---- */

char *
sf_stack_call_key (const char *call_id, const char *remote_tag)
{
  return sf_sip_txn_call_key (call_id, remote_tag);
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
  if (s->adv_host != NULL)
    return g_strdup_printf ("%s:%u", s->adv_host, s->adv_port != 0 ? s->adv_port : g_inet_socket_address_get_port (a));
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (a));
  gboolean v6 = strchr (ip, ':') != NULL;
  return g_strdup_printf ("%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", g_inet_socket_address_get_port (a));
}

gboolean
sf_stack_is_local (SfStack *s, const char *host, guint port)
{
  g_autofree char *h = g_strdup (host);
  if (h[0] == '[' && strlen (h) >= 2)
    memmove (h, h + 1, strlen (h)), h[strlen (h) - 1] = '\0';
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (h);
  if (ip != NULL && sf_sip_transport_is_local (s->tp, ip, port))
    return TRUE;
  /* the advertised address is ours too (with its port, or any of our sockets') */
  if (s->adv_host == NULL)
    return FALSE;
  g_autofree char *ah = g_strdup (s->adv_host);
  if (ah[0] == '[' && strlen (ah) >= 2)
    memmove (ah, ah + 1, strlen (ah)), ah[strlen (ah) - 1] = '\0';
  g_autoptr (GInetAddress) aip = g_inet_address_new_from_string (ah);
  gboolean same = aip != NULL ? ip != NULL && g_inet_address_equal (aip, ip) : g_ascii_strcasecmp (ah, h) == 0;
  if (!same)
    return FALSE;
  if (port == 0)
    return TRUE;
  return s->adv_port != 0 ? port == s->adv_port : sf_sip_transport_has_port (s->tp, port);
}

/* A proxy's flow runs one instance per server transaction (scope "request"). */
static gboolean
is_proxy (SfStack *s)
{
  return strcmp (s->tu->scope, "request") == 0;
}

/* 8.2.7: a stateless answer's To tag is the same for every retransmission of
 * its request: made from the request's transaction key (17.2.3), so the ACK
 * for a non-2xx answer (the INVITE's branch, 17.1.1.3) is known by it too. */
static char *
stateless_tag (SfSipMsg *req, const char *method)
{
  g_autofree char *key = sf_sip_txn_server_key_for (req, method);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key != NULL ? key : "", -1);
  return g_strdup_printf ("sfs%.16s", hash);
}

gboolean
sf_stack_answer_stateless (SfStack *s, SfSipMsg *req, const SfSipPeer *to, guint status, const char *reason,
                           const char *const *lines)
{
  g_autofree char *m = sf_sip_str_dup (sf_sip_msg_method (req));
  g_autofree char *tag = stateless_tag (req, m);
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (req, status, reason, tag, lines, NULL);
  if (r == NULL || !sf_stack_send_response (s, r, to))
    return FALSE;
  s->stats.stateless++;
  GString *ev = sf_json_begin ("stateless_answer");
  sf_json_add_int (ev, "status", status);
  g_autofree char *rs = sf_sip_str_dup (sf_sip_msg_reason (r));
  sf_json_add_str (ev, "reason", rs);
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (req));
  sf_json_add_str (ev, "method", method);
  g_autofree char *cid = sf_sip_str_dup (sf_sip_msg_call_id (req));
  sf_json_add_str (ev, "call_id", cid);
  if (to != NULL && to->remote != NULL) {
    g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (to->remote));
    g_autofree char *src = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (to->remote));
    sf_json_add_str (ev, "source", src);
  }
  sf_endpoint_emit_line (s->ep, sf_json_end (ev));
  return TRUE;
}

void
sf_stack_set_gate (SfStack *s, const SfStackGate *gate)
{
  if (gate != NULL)
    s->gate = *gate;
  else
    memset (&s->gate, 0, sizeof s->gate);
}

/* SipHash-2-4 (Aumasson, Bernstein) of a RateKey under a key drawn once a
 * process: the table's hash, so sources cannot be chosen to collide (an
 * attacker picks among 2^16 /64s in a /48, or spoofs IPv4 sources over UDP). */
static guint64 rate_hash_key[2];

static guint
rate_key_hash (gconstpointer k)
{
  return (guint) sf_siphash24 (rate_hash_key, k, sizeof (RateKey));
}

static gboolean
rate_key_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, sizeof (RateKey)) == 0;
}

static void
rate_key_of (GInetAddress *addr, RateKey *k)
{
  static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  const guint8 *b = g_inet_address_to_bytes (addr);
  memset (k, 0, sizeof *k);
  if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV4) {
    k->len = 4;
    memcpy (k->b, b, 4);
  } else if (memcmp (b, mapped, sizeof mapped) == 0) {
    k->len = 4;
    memcpy (k->b, b + 12, 4);
  } else {
    k->len = 8;
    memcpy (k->b, b, 8);
  }
}

static void
rate_table_init (SfStack *s, guint max)
{
  static gsize seeded = 0;
  if (g_once_init_enter (&seeded)) {
    for (guint i = 0; i < 2; i++)
      rate_hash_key[i] = ((guint64) g_random_int () << 32) | g_random_int ();
    g_once_init_leave (&seeded, 1);
  }
  if (s->buckets != NULL)
    g_hash_table_unref (s->buckets);
  s->buckets = g_hash_table_new_full (rate_key_hash, rate_key_equal, NULL, g_free);
  g_queue_init (&s->lru);
  s->max_buckets = max;
}

/* sip.rate_limit: may one more new request from @addr go on?  O(1): a lookup,
 * a move to the front of the LRU list, and at most one eviction. */
static gboolean
rate_take (SfStack *s, GInetAddress *addr)
{
  RateKey key;
  rate_key_of (addr, &key);
  gint64 now = sf_clock_now_us (sf_endpoint_clock (s->ep));
  double cap = 2.0 * s->rate;
  Bucket *b = g_hash_table_lookup (s->buckets, &key);
  if (b != NULL) {
    g_queue_unlink (&s->lru, &b->link);
  } else {
    if (g_hash_table_size (s->buckets) >= s->max_buckets) {
      GList *oldest = g_queue_pop_tail_link (&s->lru);
      g_hash_table_remove (s->buckets, &((Bucket *) oldest->data)->key); /* frees it */
      s->stats.rate_evicted++;
    }
    b = g_new0 (Bucket, 1);
    b->key = key;
    b->tokens = cap;
    b->last_us = now;
    b->link.data = b;
    g_hash_table_insert (s->buckets, &b->key, b);
  }
  g_queue_push_head_link (&s->lru, &b->link);
  if (now > b->last_us) {
    b->tokens = MIN (cap, b->tokens + (double) (now - b->last_us) / G_USEC_PER_SEC * s->rate);
    b->last_us = now;
  }
  if (b->tokens < 1.0)
    return FALSE;
  b->tokens -= 1.0;
  return TRUE;
}

/* sip.rate_limit: may one more new request from @from's address go on? */
static gboolean
rate_ok (SfStack *s, const SfSipPeer *from)
{
  if (s->rate == 0 || from == NULL || from->remote == NULL)
    return TRUE;
  if (s->gate.trusted != NULL) {
    SfCtx c = { .ep = s->ep };
    if (s->gate.trusted (&c, from, s->gate.data))
      return TRUE;
  }
  return rate_take (s, g_inet_socket_address_get_address (from->remote));
}

gboolean
sf_stack_rate_ok_for_test (SfStack *s, const char *addr, guint port)
{
  g_autoptr (GSocketAddress) remote = g_inet_socket_address_new_from_string (addr, port);
  g_assert (remote != NULL);
  SfSipPeer from = { .proto = SF_SIP_UDP, .remote = G_INET_SOCKET_ADDRESS (remote) };
  return rate_ok (s, &from);
}

void
sf_stack_set_rate_sources_for_test (SfStack *s, guint max)
{
  rate_table_init (s, max);
}

guint
sf_stack_rate_sources_for_test (SfStack *s)
{
  g_assert (g_hash_table_size (s->buckets) == s->lru.length);
  return g_hash_table_size (s->buckets);
}

/* sip.max_per_source: the server transactions one source address holds
 * live, counted in a table shared (by reference) with each transaction's
 * instance data, whose release counts it down when the transaction is
 * freed; an address leaves the table at 0, so it holds at most one entry per
 * live transaction. */
typedef struct {
  GHashTable *held; /* owned ref: address -> count */
  char *source;     /* owned */
} SourceHold;

static void
source_release (SourceHold *h)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (h->held, h->source));
  if (n <= 1)
    g_hash_table_remove (h->held, h->source);
  else
    g_hash_table_insert (h->held, g_strdup (h->source), GUINT_TO_POINTER (n - 1));
  g_hash_table_unref (h->held);
  g_free (h->source);
  g_free (h);
}

static void
source_hold (SfStack *s, SfInstance *txn, const char *source)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (s->held, source));
  g_hash_table_insert (s->held, g_strdup (source), GUINT_TO_POINTER (n + 1));
  SourceHold *h = g_new0 (SourceHold, 1);
  h->held = g_hash_table_ref (s->held);
  h->source = g_strdup (source);
  sf_endpoint_set_instance_data (txn, "txn.source", h, (GDestroyNotify) source_release);
}

/* May @from's address hold one more server transaction?  Its address
 * (transfer full), "" when it is not counted (a trusted source, no limit),
 * NULL when it holds its share already. */
static char *
source_over_share (SfStack *s, const SfSipPeer *from)
{
  if (s->max_per_source == 0 || from == NULL || from->remote == NULL)
    return g_strdup ("");
  if (s->gate.trusted != NULL) {
    SfCtx c = { .ep = s->ep };
    if (s->gate.trusted (&c, from, s->gate.data))
      return g_strdup ("");
  }
  char *source = g_inet_address_to_string (g_inet_socket_address_get_address (from->remote));
  if (GPOINTER_TO_UINT (g_hash_table_lookup (s->held, source)) >= s->max_per_source) {
    g_free (source);
    return NULL;
  }
  return source;
}

/* Shutting down (quit, SIGINT, SIGTERM) until the sockets close: does @msg (a
 * request no server transaction has) start new work, to be refused?  What
 * belongs to work still running goes on: an ACK; a CANCEL (given to its INVITE,
 * or 481: 9.2); a request of a call we have (a BYE, an INFO, an INVITE again
 * after a challenge); anything inside a dialog (a To tag: 481 at a UA that has
 * no such call, 12.2.2; at a proxy a BYE along our Record-Route, 16.12, which
 * ends a call cleanly). */
static gboolean
starts_new_work (SfStack *s, SfSipMsg *msg, const char *method, SfInstance *call)
{
  if (strcmp (method, "ACK") == 0 || strcmp (method, "CANCEL") == 0)
    return FALSE;
  if (sf_sip_value_param (sf_sip_msg_to (msg), "tag") != NULL)
    return FALSE;
  return is_proxy (s) || call == NULL;
}

/* 21.5.4: 503 Service Unavailable with Retry-After (20.33), statelessly: no
 * transaction nor instance is made for a request we will not serve (an INVITE's
 * retransmission gets the same answer again, its ACK is absorbed: on_recv). */
static void
refuse_shutting_down (SfStack *s, SfSipMsg *msg, const SfSipPeer *from, const char *method)
{
  g_autofree char *retry = g_strdup_printf ("Retry-After: %u", sf_stack_shutdown_retry_after (s));
  const char *const lines[] = { retry, NULL };
  g_info ("%s refused: shutting down (503)", method);
  if (sf_stack_answer_stateless (s, msg, from, 503, "Shutting Down", lines))
    s->stats.shutdown_refused++;
}

static gboolean
sent_by_is_local (SfStack *s, const SfSipValue *via)
{
  if (via == NULL)
    return FALSE;
  g_autofree char *host = sf_sip_str_dup (via->host);
  return sf_stack_is_local (s, host, via->port != 0 ? via->port : 5060);
}

/* 16.7 (no response context) and 16.11: a response whose top Via is ours goes
 * on to the next Via, as a stateless proxy sends it (18.2.2). */
static void
forward_stray (SfStack *s, SfSipMsg *msg, const SfSipPeer *from)
{
  const SfSipValue *top = sf_sip_msg_top_via (msg);
  const SfSipParam *branch = sf_sip_value_param (top, "branch");
  /* ours: our address and one of our branches (not any response naming us: a reflector) */
  if (!sent_by_is_local (s, top) || branch == NULL || !sf_sip_str_is_set (branch->value) ||
      branch->value.len < strlen (SF_SIP_BRANCH_COOKIE "sf") || strncmp (branch->value.p, SF_SIP_BRANCH_COOKIE "sf", strlen (SF_SIP_BRANCH_COOKIE "sf")) != 0)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) fwd = sf_sip_create_forward_response (msg, &error);
  if (fwd == NULL)
    return;
  const SfSipValue *next = sf_sip_msg_top_via (fwd);
  const SfSipParam *received = sf_sip_value_param (next, "received");
  g_autofree char *host = sf_sip_str_dup (received != NULL && sf_sip_str_is_set (received->value) ? received->value : next->host);
  if (host[0] == '[')
    memmove (host, host + 1, strlen (host)), host[strlen (host) - 1] = '\0';
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (host);
  if (ip == NULL)
    return; /* a host name to resolve: a stateless forward does not wait for DNS */
  SfSipPeer to = { 0 };
  to.proto = sf_sip_str_caseeq (next->transport, "TCP") ? SF_SIP_TCP : SF_SIP_UDP;
  to.local = from->proto == to.proto && from->local != NULL ? g_object_ref (from->local) : NULL;
  to.remote = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, (guint16) (next->port != 0 ? next->port : 5060)));
  if (sf_stack_send_response (s, fwd, &to))
    s->stats.stateless++;
  sf_sip_peer_clear (&to);
}

SfInstance *
sf_stack_client_txn (SfStack *s, SfSipMsg *req)
{
  g_autofree char *key = sf_sip_txn_client_key (req);
  if (key == NULL)
    return NULL;
  return sf_endpoint_lookup (s->ep, "transaction", key);
}

static void
on_recv (SfSipMsg *msg, const SfSipPeer *from, gpointer data)
{
  SfStack *s = data;
  if (!sf_sip_msg_is_request (msg)) {
    g_autofree char *ck = sf_sip_txn_client_key (msg);
    SfInstance *ct = ck != NULL ? sf_endpoint_lookup (s->ep, "transaction", ck) : NULL;
    if (ct == NULL) {
      s->stats.stray_responses++;
      SfCtx c = { .ep = s->ep };
      if (is_proxy (s) && s->gate.stray_ok != NULL && rate_ok (s, from) && s->gate.stray_ok (&c, msg, s->gate.data))
        forward_stray (s, msg, from); /* 16.7: no response context: forwarded as a stateless proxy would */
      return; /* otherwise no transaction: dropped (17.1.3) */
    }
    sf_endpoint_post (s->ep, ct, sf_event_new_full (SF_EV_SIP, "response", NULL, sf_sip_event_new (msg, from, NULL),
                                                    (GDestroyNotify) sf_sip_event_free));
    return;
  }
  s->stats.requests++;
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (msg));
  gboolean ack = strcmp (method, "ACK") == 0;
  g_autofree char *key = sf_sip_txn_server_key (msg); /* an ACK: its INVITE's */
  if (key == NULL)
    return; /* the transport hands on validated messages only: never */
  SfInstance *txn = sf_endpoint_lookup (s->ep, "transaction", key);
  if (txn != NULL) {
    sf_endpoint_post (s->ep, txn, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, sf_instance_handle (txn)),
                                                     (GDestroyNotify) sf_sip_event_free));
    return;
  }
  if (ack) {
    /* The ACK for a non-2xx answer we made statelessly: nothing to hand it to (a
     * proxy must not forward it: 16.11 forwards the ACK for a 2xx). */
    const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (msg), "tag");
    g_autofree char *ours = tt != NULL && tt->value.len > 3 && strncmp (tt->value.p, "sfs", 3) == 0 ? stateless_tag (msg, "INVITE") : NULL;
    if (ours != NULL && sf_sip_str_eq (tt->value, ours)) {
      s->stats.retransmissions_absorbed++;
      return;
    }
  }
  /* New work: the source's rate (ACKs included: a proxy relays them); 503
   * while shutting down; what the flow decides without state; the bound on
   * all live state (an ACK for a 2xx is part of a call's, never refused by
   * it) (docs/security.md). */
  gboolean cancel = strcmp (method, "CANCEL") == 0;
  if (!rate_ok (s, from)) {
    s->stats.rate_limited++;
    return;
  }
  g_autofree char *ck = sf_sip_txn_call_key_of (msg);
  SfInstance *call = sf_endpoint_lookup (s->ep, s->tu->scope, ck);
  if (sf_endpoint_shutting_down (s->ep) && starts_new_work (s, msg, method, call)) {
    refuse_shutting_down (s, msg, from, method);
    return;
  }
  if (s->gate.admit != NULL && !cancel) {
    SfCtx c = { .ep = s->ep };
    if (s->gate.admit (&c, msg, from, s->gate.data))
      return;
  }
  if (!ack && sf_endpoint_n_instances (s->ep) >= s->max_instances) {
    s->stats.overloaded++;
    const char *const lines[] = { "Retry-After: 5", NULL };
    sf_stack_answer_stateless (s, msg, from, 503, "Overloaded", lines);
    return;
  }
  if (ack && is_proxy (s)) {
    /* A proxy: the ACK for a 2xx gets a request instance of its own, which
     * forwards it without a transaction (16.11, 17.1.1.3). */
    g_autoptr (GError) error = NULL;
    SfInstance *r = sf_endpoint_create (s->ep, s->tu, NULL, NULL, &error);
    if (r == NULL) {
      g_warning ("ACK not taken: %s", error->message);
      return;
    }
    sf_endpoint_post_always (s->ep, r, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, NULL),
                                                         (GDestroyNotify) sf_sip_event_free));
    return;
  }
  if (ack) {
    /* The ACK for a 2xx is a transaction of its own (17.1.1.3): straight to the call. */
    if (call != NULL)
      sf_endpoint_post (s->ep, call, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, NULL),
                                                        (GDestroyNotify) sf_sip_event_free));
    else
      s->stats.stray_acks++;
    return;
  }
  if (cancel) {
    /* 9.2: a CANCEL for an INVITE this element knows gets its own (non-INVITE)
     * transaction and goes to the call; one that matches nothing gets 481. */
    g_autofree char *ikey = sf_sip_txn_cancel_target_key (msg);
    if (sf_endpoint_lookup (s->ep, "transaction", ikey) == NULL) {
      sf_stack_answer_stateless (s, msg, from, 481, NULL, NULL);
      return;
    }
  }
  SfMachine *m = strcmp (method, "INVITE") == 0 ? s->ist : s->nist;
  g_autofree char *source = source_over_share (s, from);
  if (source == NULL) {
    s->stats.overloaded++;
    const char *const lines[] = { "Retry-After: 5", NULL };
    sf_stack_answer_stateless (s, msg, from, 503, "Overloaded", lines);
    return;
  }
  g_autoptr (GError) error = NULL;
  txn = sf_endpoint_create (s->ep, m, key, NULL, &error);
  if (txn == NULL) {
    g_warning ("%s not taken: %s", method, error->message);
    sf_stack_answer_stateless (s, msg, from, 503, NULL, NULL);
    return;
  }
  if (*source != '\0')
    source_hold (s, txn, source);
  s->stats.transactions++;
  sf_endpoint_post_always (s->ep, txn, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, sf_instance_handle (txn)),
                                                          (GDestroyNotify) sf_sip_event_free));
}

static void
client_data_free (SfClientTxn *c)
{
  sf_sip_msg_unref (c->req);
  g_object_unref (c->dest);
  g_free (c);
}

SfInstance *
sf_stack_request (SfStack *s, SfInstance *tu, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest, GError **error)
{
  g_autofree char *key = sf_sip_txn_client_key (req);
  if (key == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a request without Via or CSeq");
    return NULL;
  }
  SfMachine *m = sf_sip_str_eq (sf_sip_msg_method (req), "INVITE") ? s->ict : s->nict;
  SfInstance *t = sf_endpoint_create (s->ep, m, key, tu, error);
  if (t == NULL)
    return NULL;
  SfClientTxn *c = g_new0 (SfClientTxn, 1);
  c->req = sf_sip_msg_ref (req);
  c->proto = proto;
  c->dest = g_object_ref (dest);
  sf_endpoint_set_instance_data (t, "txn.client", c, (GDestroyNotify) client_data_free);
  s->stats.transactions++;
  return t;
}

typedef struct {
  SfStack *s;
  char *tu;          /* owned, nullable: the TU's handle (it may end while the lookup runs); NULL: send statelessly */
  SfSipMsg *req;     /* owned ref */
  SfSipProto proto;  /* sf_stack_proto_for() the next hop: what the request's Via names */
} Locate;

static void
locate_free (Locate *l)
{
  g_free (l->tu);
  sf_sip_msg_unref (l->req);
  g_free (l);
}

static void
located (Locate *l, GPtrArray *targets, const char *why)
{
  /* The first target this element can reach (an IPv6 address is no use with IPv4 sockets only). */
  SfSipTarget *t = NULL;
  for (guint i = 0; targets != NULL && i < targets->len; i++)
    ((SfSipTarget *) targets->pdata[i])->proto = l->proto; /* the resolver's default is UDP */
  for (guint i = 0; targets != NULL && i < targets->len && t == NULL; i++)
    if (sf_sip_transport_can_send (l->s->tp, ((SfSipTarget *) targets->pdata[i])->proto,
                                   ((SfSipTarget *) targets->pdata[i])->addr))
      t = targets->pdata[i];
  if (l->tu == NULL) {
    if (t == NULL || !sf_stack_send_request (l->s, l->req, t->proto, t->addr))
      g_warning ("%.*s not sent: %s", (int) sf_sip_msg_method (l->req).len, sf_sip_msg_method (l->req).p,
                 why != NULL ? why : "no reachable target");
    return;
  }
  SfInstance *tu = sf_endpoint_lookup_handle (l->s->ep, l->tu);
  if (tu == NULL)
    return;
  g_autoptr (GError) error = NULL;
  if (t == NULL || sf_stack_request (l->s, tu, l->req, t->proto, t->addr, &error) == NULL)
    sf_endpoint_post_always (l->s->ep, tu,
                             sf_event_new_full (SF_EV_TXN, "transport_error",
                                                why != NULL ? why : error != NULL ? error->message : "no target",
                                                sf_sip_msg_ref (l->req), (GDestroyNotify) sf_sip_msg_unref));
}

static void
on_located (GObject *src, GAsyncResult *res, gpointer data)
{
  Locate *l = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) targets = sf_sip_resolve_finish (res, &error);
  located (l, targets, error != NULL ? error->message : NULL);
  locate_free (l);
}

/* @hop (nullable): the URI the request goes to, when its sender knows better
 * than its first Route (a strict router first in a dialog's route set gets the
 * Request-URI: 8.1.2, 12.2.1.1). */
static void
locate (SfStack *s, SfInstance *tu, SfSipMsg *req, const char *hop)
{
  const SfSipValue *route = sf_sip_msg_value (req, SF_SIP_HDR_ROUTE, NULL);
  g_autoptr (SfSipUri) hop_uri = hop != NULL ? sf_sip_uri_parse (sf_sip_str (hop, strlen (hop)), NULL, NULL) : NULL;
  const SfSipUri *target = hop_uri != NULL                      ? hop_uri
                           : route != NULL && route->uri != NULL ? route->uri
                                                                 : sf_sip_msg_ruri (req);
  Locate *l = g_new0 (Locate, 1);
  l->s = s;
  l->tu = tu != NULL ? g_strdup (sf_instance_handle (tu)) : NULL;
  l->req = sf_sip_msg_ref (req);
  l->proto = sf_stack_proto_for (s, target);
  g_autoptr (GPtrArray) numeric = sf_sip_resolve_numeric (target);
  if (numeric != NULL || s->no_lookups) {
    located (l, numeric, numeric != NULL ? NULL : "name lookups are off");
    locate_free (l);
    return;
  }
  sf_sip_resolve_async (target, NULL, on_located, l);
}

SfSipProto
sf_stack_proto_for (SfStack *s, const SfSipUri *uri)
{
  const SfSipParam *tp = uri != NULL ? sf_sip_uri_param (uri, "transport") : NULL;
  if ((uri != NULL && uri->kind == SF_URI_SIPS) || (tp != NULL && sf_sip_str_caseeq (tp->value, "tcp")))
    return SF_SIP_TCP;
  if (tp != NULL && sf_sip_str_caseeq (tp->value, "udp"))
    return SF_SIP_UDP;
  /* 4.1: UDP for a sip URI that names no transport, when we have it */
  return sf_sip_transport_local (s->tp, SF_SIP_UDP) != NULL ? SF_SIP_UDP : SF_SIP_TCP;
}

void
sf_stack_request_located (SfStack *s, SfInstance *tu, SfSipMsg *req)
{
  g_return_if_fail (tu != NULL);
  locate (s, tu, req, NULL);
}

void
sf_stack_send_request_located (SfStack *s, SfSipMsg *req)
{
  locate (s, NULL, req, NULL);
}

void
sf_stack_request_to (SfStack *s, SfInstance *tu, SfSipMsg *req, const char *next_hop)
{
  g_return_if_fail (tu != NULL);
  locate (s, tu, req, next_hop);
}

void
sf_stack_send_request_to (SfStack *s, SfSipMsg *req, const char *next_hop)
{
  locate (s, NULL, req, next_hop);
}

gboolean
sf_stack_send_request (SfStack *s, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest)
{
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
  return sf_sip_transport_send (s->tp, proto, dest, 0, wire, NULL);
}

/* Gives a request its transaction user (the call), creating one for a request
 * outside any dialog; called by the transaction machines' OpTxnRequest. */
gboolean sf_stack_to_tu (SfStack *s, SfSipEvent *e);
/* A proxy: each server transaction has its own request instance, keyed as the
 * transaction; a CANCEL goes to its INVITE's (16.10), and gets 200 when that
 * is gone (the INVITE has its final response: 9.2). */
static gboolean
to_request (SfStack *s, SfSipEvent *e, const char *method)
{
  gboolean cancel = strcmp (method, "CANCEL") == 0;
  g_autofree char *key = cancel ? sf_sip_txn_cancel_target_key (e->msg) : sf_sip_txn_server_key_for (e->msg, method);
  SfInstance *r = sf_endpoint_lookup (s->ep, s->tu->scope, key);
  if (cancel) {
    /* 16.10: the CANCEL gets 200 at once, whatever becomes of the request (its
     * instance may end before the CANCEL is dispatched); then the instance hears it. */
    g_autoptr (SfSipMsg) ok = sf_sip_create_response (e->msg, 200, NULL, NULL, NULL);
    if (ok != NULL)
      sf_stack_respond (s, e->txn, ok);
    if (r != NULL)
      sf_endpoint_post_always (s->ep, r, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (e->msg, &e->peer, e->txn),
                                                           (GDestroyNotify) sf_sip_event_free));
    return TRUE;
  }
  if (r == NULL) {
    g_autoptr (GError) error = NULL;
    r = sf_endpoint_create (s->ep, s->tu, key, NULL, &error);
    if (r == NULL) {
      g_autofree char *tag = sf_sip_random_tag ();
      g_autoptr (SfSipMsg) resp = sf_sip_create_response (e->msg, 503, NULL, tag, NULL);
      return resp != NULL && sf_stack_respond (s, e->txn, resp);
    }
  }
  SfInstance *txn = e->txn != NULL ? sf_endpoint_lookup_handle (s->ep, e->txn) : NULL;
  if (txn != NULL)
    sf_endpoint_set_instance_data (txn, "txn.tu", g_strdup (sf_instance_handle (r)), g_free);
  sf_endpoint_post_always (s->ep, r, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (e->msg, &e->peer, e->txn),
                                                       (GDestroyNotify) sf_sip_event_free));
  return TRUE;
}

gboolean
sf_stack_to_tu (SfStack *s, SfSipEvent *e)
{
  if (is_proxy (s)) {
    g_autofree char *m = sf_sip_str_dup (sf_sip_msg_method (e->msg));
    return to_request (s, e, m);
  }
  g_autofree char *ck = sf_sip_txn_call_key_of (e->msg);
  SfInstance *call = sf_endpoint_lookup (s->ep, s->tu->scope, ck);
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (e->msg));
  if (call == NULL) {
    if (sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL) {
      g_autofree char *tag = sf_sip_random_tag ();
      g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, 481, NULL, tag, NULL);
      return r != NULL && sf_stack_respond (s, e->txn, r); /* inside an unknown dialog (12.2.2) */
    }
    g_autoptr (GError) error = NULL;
    call = sf_endpoint_create (s->ep, s->tu, ck, NULL, &error);
    if (call == NULL) {
      g_autofree char *tag = sf_sip_random_tag ();
      g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, 503, NULL, tag, NULL);
      return r != NULL && sf_stack_respond (s, e->txn, r);
    }
    sf_endpoint_set_instance_data (call, "sip.fresh", GINT_TO_POINTER (1), NULL);
  }
  /* The transaction tells its user of a timeout (Timer H). */
  SfInstance *txn = e->txn != NULL ? sf_endpoint_lookup_handle (s->ep, e->txn) : NULL;
  if (txn != NULL)
    sf_endpoint_set_instance_data (txn, "txn.tu", g_strdup (sf_instance_handle (call)), g_free);
  /* The transaction is committed to this request: its call must hear it. */
  sf_endpoint_post_always (s->ep, call, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (e->msg, &e->peer, e->txn),
                                                          (GDestroyNotify) sf_sip_event_free));
  return TRUE;
}

/* docs/architecture.md: a request nothing takes still gets an answer. */
static void
untaken (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, gpointer data)
{
  SfStack *s = data;
  if (ev->kind != SF_EV_SIP || ev->payload == NULL || sf_instance_machine (inst) != s->tu) {
    if (s->chained != NULL)
      s->chained (ep, inst, ev, s->chained_data);
    return;
  }
  SfSipEvent *e = ev->payload;
  if (!sf_sip_msg_is_request (e->msg))
    return;
  if (strcmp (ev->name, "ACK") == 0) {
    s->stats.stray_acks++; /* an ACK is never answered: one the call did not take is dropped (12.2.2) */
    return;
  }
  if (strcmp (ev->name, "CANCEL") == 0) {
    /* The INVITE has its final response already: the CANCEL has no effect, 200 (9.2). */
    g_autoptr (SfSipMsg) ok = sf_sip_create_response (e->msg, 200, NULL, NULL, NULL);
    if (ok != NULL)
      sf_stack_respond (s, e->txn, ok);
    return;
  }
  static const char *const known[] = { "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE",
                                       "PRACK", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH" };
  gboolean is_known = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    is_known |= strcmp (ev->name, known[i]) == 0;
  /* A request with a To tag that is not this call's dialog: 481 (12.2.2). */
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (e->msg), "tag");
  const char *local_tag = sf_endpoint_get_instance_data (inst, SF_STACK_LOCAL_TAG);
  gboolean foreign = tt != NULL && (local_tag == NULL || !sf_sip_str_eq (tt->value, local_tag));
  guint status = foreign ? 481 : !is_known ? 501 : 405;
  g_autofree char *tag = sf_sip_random_tag ();
  g_autoptr (SfSipMsg) base = sf_sip_create_response (e->msg, status, NULL, tag, NULL);
  g_autoptr (SfSipMsg) r = NULL;
  if (base != NULL && status == 405) {
    /* 21.4.6: a 405 lists what is allowed. */
    SfSipBuilder *b = sf_sip_builder_response (status, NULL);
    for (guint i = 0; i < sf_sip_msg_n_headers (base); i++)
      if (sf_sip_msg_header (base, i)->id != SF_SIP_HDR_CONTENT_LENGTH)
        sf_sip_builder_add_line (b, sf_sip_msg_header (base, i));
    sf_sip_builder_add (b, "Allow", SF_STACK_ALLOW);
    r = sf_sip_builder_finish (b, NULL);
  } else if (base != NULL) {
    r = sf_sip_msg_ref (base);
  }
  if (r != NULL)
    sf_stack_respond (s, e->txn, r);
  /* A call made for this request alone, that took nothing, ends. */
  if (sf_endpoint_get_instance_data (inst, "sip.fresh") != NULL && strcmp (sf_instance_state (inst), sf_instance_machine (inst)->initial->name) == 0)
    sf_endpoint_end (ep, inst, "request not taken");
}

/* A connection failed: every client transaction sending there hears it. */
static void
on_send_error (SfSipProto proto, GInetSocketAddress *dest, const GError *error, gpointer data)
{
  SfStack *s = data;
  g_autoptr (GPtrArray) all = sf_endpoint_instances (s->ep);
  for (guint i = 0; i < all->len; i++) {
    SfInstance *inst = all->pdata[i];
    SfClientTxn *c = sf_endpoint_get_instance_data (inst, "txn.client");
    if (c != NULL && c->proto == proto &&
        g_inet_socket_address_get_port (c->dest) == g_inet_socket_address_get_port (dest) &&
        g_inet_address_equal (g_inet_socket_address_get_address (c->dest), g_inet_socket_address_get_address (dest)))
      sf_endpoint_post (s->ep, inst, sf_event_new (SF_EV_TXN, "transport_error", error->message));
  }
}

static SfMachine *
load_txn (SfLoader *loader, SfMachine *tu, const char *name, GError **error)
{
  /* Beside the flow first (a user's own copy wins), then the built-in one. */
  g_autofree char *dir = g_str_has_prefix (tu->file, "builtin:") ? NULL : g_path_get_dirname (tu->file);
  g_autofree char *local = dir != NULL ? g_build_filename (dir, "transaction", name, NULL) : NULL;
  g_autofree char *builtin = g_strconcat ("builtin:transaction/", name, NULL);
  return sf_loader_load (loader, local != NULL && g_file_test (local, G_FILE_TEST_EXISTS) ? local : builtin, error);
}

/* Descriptors kept for what is not an accepted connection: sockets, files,
 * outgoing connections, media. */
#define FD_RESERVE 128

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

SfStack *
sf_stack_new (SfEndpoint *ep, SfLoader *loader, SfMachine *tu, GError **error)
{
  g_autoptr (SfMachine) ist = load_txn (loader, tu, "ist.xml", error);
  if (ist == NULL)
    return NULL;
  g_autoptr (SfMachine) nist = load_txn (loader, tu, "nist.xml", error);
  if (nist == NULL)
    return NULL;
  g_autoptr (SfMachine) ict = load_txn (loader, tu, "ict.xml", error);
  if (ict == NULL)
    return NULL;
  g_autoptr (SfMachine) nict = load_txn (loader, tu, "nict.xml", error);
  if (nict == NULL)
    return NULL;
  const char *adv = sf_config_get_string (sf_endpoint_config (ep), "sip", "advertise");
  g_autofree char *adv_host = NULL;
  guint adv_port = 0;
  if (adv != NULL && !parse_advertise (adv, &adv_host, &adv_port, error))
    return NULL;
  SfStack *s = g_new0 (SfStack, 1);
  s->ep = ep;
  s->cfg = sf_endpoint_config (ep);
  s->adv_host = g_steal_pointer (&adv_host);
  s->adv_port = adv_port;
  s->tu = sf_machine_ref (tu);
  s->ist = g_steal_pointer (&ist);
  s->nist = g_steal_pointer (&nist);
  s->ict = g_steal_pointer (&ict);
  s->nict = g_steal_pointer (&nict);
  s->max_instances = (guint) sf_config_get_int (s->cfg, "sip", "max_instances");
  s->rate = (guint) sf_config_get_int (s->cfg, "sip", "rate_limit");
  rate_table_init (s, SF_STACK_MAX_BUCKETS);
  s->max_per_source = (guint) sf_config_get_int (s->cfg, "sip", "max_per_source");
  s->held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->tp = sf_sip_transport_new (NULL, on_recv, s);
  sf_sip_transport_set_tcp_idle (s->tp, (guint) sf_config_get_int (s->cfg, "sip", "tcp_idle"));
  sf_sip_transport_set_tcp_limits (s->tp, (guint) sf_config_get_int (s->cfg, "sip", "tcp_stall"),
                                   (guint) sf_config_get_int (s->cfg, "sip", "tcp_max_per_source"),
                                   tcp_max_connections (s->cfg));
  sf_sip_transport_set_send_error (s->tp, on_send_error, s);
  sf_endpoint_get_untaken (ep, &s->chained, &s->chained_data);
  sf_endpoint_set_untaken (ep, untaken, s);
  sf_endpoint_set_data (ep, "sip.stack", s);
  sf_endpoint_get_stats_extra (ep, &s->stats_chained, &s->stats_chained_data);
  sf_endpoint_set_stats_extra (ep, (SfStatsFunc) sf_stack_stats_fields, s);
  return s;
}

void
sf_stack_free (SfStack *s)
{
  if (s == NULL)
    return;
  sf_endpoint_set_untaken (s->ep, s->chained, s->chained_data);
  sf_endpoint_set_data (s->ep, "sip.stack", NULL);
  sf_endpoint_set_stats_extra (s->ep, s->stats_chained, s->stats_chained_data);
  sf_sip_transport_free (s->tp);
  sf_machine_unref (s->tu);
  sf_machine_unref (s->ist);
  sf_machine_unref (s->nist);
  sf_machine_unref (s->ict);
  sf_machine_unref (s->nict);
  g_free (s->adv_host);
  g_hash_table_unref (s->buckets);
  g_hash_table_unref (s->held); /* transactions still alive hold their own ref */
  g_free (s);
}

gboolean
sf_stack_listen (SfStack *s, const char *spec, GError **error)
{
  SfSipProto proto;
  g_autoptr (GInetSocketAddress) addr = NULL;
  g_autoptr (GInetSocketAddress) bound = NULL;
  if (!sf_sip_listen_spec_parse (spec, &proto, &addr, error) || !sf_sip_transport_listen (s->tp, proto, addr, &bound, error))
    return FALSE;
  GString *ev = sf_json_begin ("listening");
  sf_json_add_str (ev, "transport", proto == SF_SIP_UDP ? "udp" : "tcp");
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (bound));
  sf_json_add_str (ev, "addr", ip);
  sf_json_add_int (ev, "port", g_inet_socket_address_get_port (bound));
  sf_endpoint_emit_line (s->ep, sf_json_end (ev));
  return TRUE;
}
