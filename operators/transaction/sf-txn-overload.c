/* sf-txn-overload.c: overload control before any state is made for a request
 * (docs/security.md): sip.rate_limit (a token bucket per source, an IPv4
 * address or an IPv6 /64), sip.max_per_source (the live server transactions one
 * address holds), sip.max_instances (checked in sf-txn-match.c), and the 503
 * with Retry-After new work gets while shutting down (RFC 3261 21.5.4, 20.33). */
#include "config.h"
#include "sf-stack-private.h"
#include "framework/sf-clock.h"
#include "sip/sf-sip-build.h"
#include "framework/sf-secret.h"
#include <string.h>

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
  GList link;   /* in its Stripe's lru; data: this bucket */
} Bucket;
/* Sources tracked at most; when full, the least recently seen one (of its
 * stripe) is forgotten (it gets a fresh bucket when it comes back): O(1) a
 * request, and a new source is always counted. */
#define SF_STACK_MAX_BUCKETS 65536

/* The rate buckets and the sip.max_per_source counts are one table for every
 * worker of a set (docs/workers.md, "State that stays per worker"): a table
 * per worker would let a source whose calls hash to N workers send N times its
 * rate and hold N times its share.  The table is cut in stripes by the hash of
 * the source, each under a mutex of its own, so workers on threads meet only
 * when two of their sources share a stripe (both the rate key's and the
 * address's hash are keyed: a peer cannot aim at one stripe).  Lock order: a stripe's lock is a
 * leaf; it is never held with another stripe's, nor across a call out of
 * this file (only the GHashTable, GQueue and g_free under it).  At one
 * worker the stack owns the table alone and each lock is uncontended. */
#define SF_SOURCE_STRIPES 16

typedef struct {
  GMutex lock;
  GHashTable *buckets;   /* RateKey (inside its Bucket) -> Bucket (owned) */
  GQueue lru;            /* the Buckets' links, the most recently used first */
  guint max_buckets;     /* this stripe's share of the table's */
  GHashTable *held;      /* source address (the text inside the value) -> Held (owned) */
} Stripe;

struct _SfSourceTable {
  gatomicrefcount ref;   /* each stack of the set, and each SfTxnSourceHold */
  gint live;             /* atomic: the set's live server transactions (a set of N > 1 counts them) */
  guint n;               /* stripes in use: SF_SOURCE_STRIPES (1 in a test that wants one exact LRU) */
  Stripe stripes[SF_SOURCE_STRIPES];
};

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
rate_seed (void)
{
  static gsize seeded = 0;
  if (g_once_init_enter (&seeded)) {
    for (guint i = 0; i < 2; i++)
      rate_hash_key[i] = sf_sip_random_u64 (); /* a peer that could predict it could aim at one bucket */
    g_once_init_leave (&seeded, 1);
  }
}

static guint held_hash (gconstpointer source);

/* A table of @n stripes (1 or SF_SOURCE_STRIPES) holding @max buckets in all. */
static SfSourceTable *
source_table_new (guint n, guint max)
{
  rate_seed ();
  SfSourceTable *t = g_new0 (SfSourceTable, 1);
  g_atomic_ref_count_init (&t->ref);
  t->n = n;
  for (guint i = 0; i < n; i++) {
    Stripe *st = &t->stripes[i];
    g_mutex_init (&st->lock);
    st->buckets = g_hash_table_new_full (rate_key_hash, rate_key_equal, NULL, g_free);
    g_queue_init (&st->lru);
    st->max_buckets = MAX ((max + n - 1) / n, 1);
    st->held = g_hash_table_new_full (held_hash, g_str_equal, NULL, g_free);
  }
  return t;
}

static SfSourceTable *
source_table_ref (SfSourceTable *t)
{
  g_atomic_ref_count_inc (&t->ref);
  return t;
}

static void
source_table_unref (SfSourceTable *t)
{
  if (t == NULL || !g_atomic_ref_count_dec (&t->ref))
    return;
  for (guint i = 0; i < t->n; i++) {
    Stripe *st = &t->stripes[i];
    g_hash_table_unref (st->buckets); /* frees the Buckets, and so the LRU links inside them */
    g_hash_table_unref (st->held);
    g_mutex_clear (&st->lock);
  }
  g_free (t);
}

/* The stripe of a rate key: the hash's top bits (its low ones pick the
 * GHashTable's bucket inside the stripe). */
static Stripe *
rate_stripe (SfSourceTable *t, const RateKey *k)
{
  guint64 h = sf_siphash24 (rate_hash_key, (const guint8 *) k, sizeof *k);
  return &t->stripes[(h >> 56) % t->n];
}

/* A source address's hash for sip.max_per_source, under the rate key too:
 * spoofed UDP sources are as easy to choose for an unkeyed string hash (one
 * stripe's lock and one GHashTable's chain for all) as for the buckets'. */
static guint64
held_hash64 (const char *source)
{
  return sf_siphash24 (rate_hash_key, (const guint8 *) source, strlen (source));
}

static guint
held_hash (gconstpointer source)
{
  return (guint) held_hash64 (source);
}

static Stripe *
held_stripe (SfSourceTable *t, const char *source)
{
  return &t->stripes[(held_hash64 (source) >> 56) % t->n];
}

/* sip.rate_limit: may one more new request from @addr go on?  O(1): a lookup,
 * a move to the front of the LRU list, and at most one eviction, under the
 * source's stripe's lock. */
static gboolean
rate_take (SfStack *s, GInetAddress *addr)
{
  RateKey key;
  rate_key_of (addr, &key);
  gint64 now = sf_clock_now_us (sf_endpoint_clock (s->ep));
  double cap = 2.0 * s->rate;
  Stripe *st = rate_stripe (s->sources, &key);
  gboolean evicted = FALSE, ok = TRUE;
  g_mutex_lock (&st->lock);
  Bucket *b = g_hash_table_lookup (st->buckets, &key);
  if (b != NULL) {
    g_queue_unlink (&st->lru, &b->link);
  } else {
    if (g_hash_table_size (st->buckets) >= st->max_buckets) {
      GList *oldest = g_queue_pop_tail_link (&st->lru);
      g_hash_table_remove (st->buckets, &((Bucket *) oldest->data)->key); /* frees it */
      evicted = TRUE;
    }
    b = g_new0 (Bucket, 1);
    b->key = key;
    b->tokens = cap;
    b->last_us = now;
    b->link.data = b;
    g_hash_table_insert (st->buckets, &b->key, b);
  }
  g_queue_push_head_link (&st->lru, &b->link);
  if (now > b->last_us) {
    b->tokens = MIN (cap, b->tokens + (double) (now - b->last_us) / G_USEC_PER_SEC * s->rate);
    b->last_us = now;
  }
  if (b->tokens < 1.0)
    ok = FALSE;
  else
    b->tokens -= 1.0;
  g_mutex_unlock (&st->lock);
  if (evicted)
    s->stats.rate_evicted++;
  return ok;
}

/* sip.rate_limit: may one more new request from @from's address go on? */
gboolean
sf_stack_rate_ok (SfStack *s, const SfSipPeer *from)
{
  if (s->rate == 0 || from == NULL || from->remote == NULL)
    return TRUE;
  if (sf_stack_gate_trusted (s, from))
    return TRUE;
  return rate_take (s, g_inet_socket_address_get_address (from->remote));
}

gboolean
sf_stack_rate_ok_for_test (SfStack *s, const char *addr, guint port)
{
  g_autoptr (GSocketAddress) remote = g_inet_socket_address_new_from_string (addr, port);
  g_assert (remote != NULL);
  SfSipPeer from = { .proto = SF_SIP_UDP, .remote = G_INET_SOCKET_ADDRESS (remote) };
  return sf_stack_rate_ok (s, &from);
}

void
sf_stack_set_rate_sources_for_test (SfStack *s, guint max)
{
  /* one stripe: the test sees one exact least-recently-used order */
  source_table_unref (s->sources);
  s->sources = source_table_new (1, max);
}

/* Tests: the sources the rate table holds, or (@held) the stripes holding a
 * per-source count. */
static guint
table_count (SfStack *s, gboolean held)
{
  guint n = 0;
  for (guint i = 0; i < s->sources->n; i++) {
    Stripe *st = &s->sources->stripes[i];
    g_mutex_lock (&st->lock);
    g_assert (g_hash_table_size (st->buckets) == st->lru.length);
    n += held ? g_hash_table_size (st->held) > 0 : g_hash_table_size (st->buckets);
    g_mutex_unlock (&st->lock);
  }
  return n;
}

guint
sf_stack_held_stripes_for_test (SfStack *s)
{
  return table_count (s, TRUE);
}

guint
sf_stack_rate_sources_for_test (SfStack *s)
{
  return table_count (s, FALSE);
}

/* sip.max_per_source: the server transactions one source address holds
 * live, counted in the stripe of the address (the table held by reference by
 * each transaction's data, SfTxnInstance.source), whose release counts it
 * down when the transaction is freed; an address leaves the table at 0, so it
 * holds at most one entry per live transaction. */
struct _SfTxnSourceHold {
  SfSourceTable *table; /* owned ref: it may outlive the stack that made the hold */
  SfSourceTable *here;  /* owned ref, nullable: the worker's own counts (a set of N > 1) */
  char *source;         /* owned, NULL: not counted for a source (trusted, or no limit) */
  gboolean live;        /* counted in the table's live (a set of N > 1) */
};

/* An address's count in a stripe's table, its key the text inside it: one
 * block made when the address comes and freed when it leaves, so that a
 * count moving up and down (twice a transaction) copies no text. */
typedef struct {
  guint n;
  char source[];
} Held;

/* The live server transactions @source holds in @t (read under its stripe's lock). */
static guint
held_get (SfSourceTable *t, const char *source)
{
  Stripe *st = held_stripe (t, source);
  g_mutex_lock (&st->lock);
  const Held *h = g_hash_table_lookup (st->held, source);
  guint n = h != NULL ? h->n : 0;
  g_mutex_unlock (&st->lock);
  return n;
}

/* Counts one more (@up) or one less for @source in @t; it leaves at 0. */
static void
held_move (SfSourceTable *t, const char *source, gboolean up)
{
  Stripe *st = held_stripe (t, source);
  g_mutex_lock (&st->lock);
  Held *h = g_hash_table_lookup (st->held, source);
  if (up) {
    if (h == NULL) {
      gsize len = strlen (source) + 1;
      h = g_malloc (sizeof (Held) + len);
      h->n = 0;
      memcpy (h->source, source, len);
      g_hash_table_insert (st->held, h->source, h);
    }
    h->n++;
  } else if (h != NULL && h->n > 1) {
    h->n--;
  } else if (h != NULL) {
    g_hash_table_remove (st->held, source); /* frees h */
  }
  g_mutex_unlock (&st->lock);
}

void
sf_txn_source_hold_free (SfTxnSourceHold *h)
{
  if (h->source != NULL) {
    held_move (h->table, h->source, FALSE);
    if (h->here != NULL)
      held_move (h->here, h->source, FALSE);
  }
  if (h->live)
    g_atomic_int_add (&h->table->live, -1);
  source_table_unref (h->table);
  if (h->here != NULL)
    source_table_unref (h->here);
  g_free (h->source);
  g_free (h);
}

void
sf_stack_source_hold (SfStack *s, SfInstance *txn, char *source)
{
  if (*source == '\0' && s->set_max == 0) {
    g_free (source);
    return; /* alone and not counted: nothing to hold */
  }
  SfTxnSourceHold *h = g_new0 (SfTxnSourceHold, 1);
  h->table = source_table_ref (s->sources);
  if (*source == '\0') {
    g_free (source);
  } else {
    h->source = source;
    held_move (s->sources, source, TRUE);
    if (s->here != NULL) {
      h->here = source_table_ref (s->here);
      held_move (s->here, source, TRUE);
    }
  }
  if (s->set_max != 0) {
    g_atomic_int_inc (&s->sources->live);
    h->live = TRUE;
  }
  SfTxnInstance *t = sf_txn_inst_of (s->ep, txn);
  g_clear_pointer (&t->source, sf_txn_source_hold_free);
  t->source = h;
}

/* May @from's address hold one more server transaction (in the set, and in a
 * set of N > 1 at this worker), and the set one more?  Its address (transfer
 * full), "" when it is not counted (a trusted source, no limit), NULL when it
 * holds its share already or the set holds sip.max_instances.  The test here
 * and the count in sf_stack_source_hold are two steps: workers on threads
 * testing at once may pass a bound by one transaction each, a bounded excess
 * (N - 1 at most), never a growth. */
char *
sf_stack_source_over_share (SfStack *s, const SfSipPeer *from)
{
  if (s->set_max != 0 && (guint) g_atomic_int_get (&s->sources->live) >= s->set_max)
    return NULL;
  if (s->max_per_source == 0 || from == NULL || from->remote == NULL)
    return g_strdup ("");
  if (sf_stack_gate_trusted (s, from))
    return g_strdup ("");
  char ip4[SF_SIP_IPV4_TEXT];
  g_autofree char *ip6 = NULL;
  const char *source = sf_sip_ip_text (g_inet_socket_address_get_address (from->remote), ip4, &ip6);
  if (held_get (s->sources, source) >= s->max_per_source ||
      (s->here != NULL && held_get (s->here, source) >= s->worker_per_source))
    return NULL;
  return ip6 != NULL ? g_steal_pointer (&ip6) : g_strdup (source);
}

/* Shutting down (quit, SIGINT, SIGTERM) until the sockets close: does @msg (a
 * request no server transaction has) start new work, to be refused?  What
 * belongs to work still running goes on: an ACK; a CANCEL (given to its INVITE,
 * or 481: 9.2); a request of a call we have (a BYE, an INFO, an INVITE again
 * after a challenge); anything inside a dialog (a To tag: 481 at a UA that has
 * no such call, 12.2.2; at a proxy a BYE along our Record-Route, 16.12, which
 * ends a call cleanly). */
gboolean
sf_stack_starts_new_work (SfStack *s, SfSipMsg *msg, const char *method, SfInstance *call)
{
  if (strcmp (method, "ACK") == 0 || strcmp (method, "CANCEL") == 0)
    return FALSE;
  if (sf_sip_value_param (sf_sip_msg_to (msg), "tag") != NULL)
    return FALSE;
  return sf_stack_per_transaction (s) || call == NULL;
}

/* 21.5.4: 503 Service Unavailable with Retry-After (20.33), statelessly: no
 * transaction nor instance is made for a request we will not serve (an INVITE's
 * retransmission gets the same answer again, its ACK is absorbed: sf_stack_on_recv). */
void
sf_stack_refuse_shutting_down (SfStack *s, SfSipMsg *msg, const SfSipPeer *from, const char *method)
{
  g_autofree char *retry = g_strdup_printf ("Retry-After: %u", sf_stack_shutdown_retry_after (s));
  const char *const lines[] = { retry, NULL };
  g_info ("%s refused: shutting down (503)", method);
  if (sf_stack_answer_stateless (s, msg, from, 503, "Shutting Down", lines))
    s->stats.shutdown_refused++;
}

void
sf_stack_overload_init (SfStack *s)
{
  sf_stack_overload_reconfigure (s);
  s->rate = (guint) sf_config_get_int (s->cfg, "sip", "rate_limit");
  s->sources = source_table_new (SF_SOURCE_STRIPES, SF_STACK_MAX_BUCKETS);
  s->max_per_source = (guint) sf_config_get_int (s->cfg, "sip", "max_per_source");
}

void
sf_stack_overload_reconfigure (SfStack *s)
{
  /* A bound stays a bound with workers, and one source fills a worker no
   * more than it can fill one engine.  The keyed hash of the Call-ID spreads
   * calls, not one source's requests: a source reusing one Call-ID sends all
   * of them to one worker, which a share of max/N, with max_per_source (2/5
   * of max by default) not divided, let it fill.  So in a set of N > 1: the
   * set holds at most max live server transactions (the shared table's
   * count); a worker at most 2 max/N instances (room for the hash's
   * unevenness); one source at most max_per_source in the set and 2
   * max_per_source/N at one worker, the same part of that worker's bound as
   * max_per_source is of max (counted only where it is tighter, N > 2)
   * (docs/workers.md "Bounds in a set", docs/security.md). */
  guint n = s->workers != NULL ? sf_workers_n (s->workers) : 1;
  guint max = (guint) sf_config_get_int (s->cfg, "sip", "max_instances");
  if (n == 1) {
    s->max_instances = max;
    s->set_max = 0;
    return;
  }
  guint mps = (guint) sf_config_get_int (s->cfg, "sip", "max_per_source");
  s->max_instances = (guint) MIN ((guint64) max, 2 * (guint64) max / n);
  s->set_max = max;
  s->worker_per_source = MAX (2 * mps / n, 1);
  if (n > 2 && s->here == NULL)
    s->here = source_table_new (1, 1); /* only its held counts: this worker's thread alone */
}

void
sf_stack_overload_share (SfStack *s, SfStack *home)
{
  if (s->sources == home->sources)
    return;
  source_table_unref (s->sources);
  s->sources = source_table_ref (home->sources);
}

void
sf_stack_overload_clear (SfStack *s)
{
  g_clear_pointer (&s->sources, source_table_unref); /* transactions still alive hold their own ref */
  g_clear_pointer (&s->here, source_table_unref);
}
