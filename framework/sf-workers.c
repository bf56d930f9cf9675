/* sf-workers.c: a set of workers and their inboxes (see sf-workers.h,
 * docs/workers.md). */
#include "config.h"
#include "sf-workers.h"
#include "sf-secret.h"
#include "sf-clock.h"
#include <string.h>

typedef struct {
  SfWorkFunc func;
  gpointer data;
  GDestroyNotify destroy;
  gsize size;        /* the bytes it declared (sf_workers_offer), counted while it waits */
} Item;

typedef struct _Worker Worker;

typedef struct {
  GSource source;
  Worker *w;
} InboxSource;

struct _Worker {
  SfWorkers *set;
  guint index;
  SfEndpoint *ep;            /* unowned, nullable until set */
  gpointer data;             /* unowned */
  GMutex lock;
  /* The inbox, under lock: a ring of items by value (owned), so a hand-off
   * allocates no queue node nor item: @len from @head, @cap slots, grown by
   * doubling (offers stop at the set's max_items; hands are bounded by their
   * callers). */
  Item *ring;
  guint cap, head, len;
  gsize inbox_bytes;         /* the sizes of what waits in it, under lock */
  gint queued;               /* len, written under lock, read without it (atomic) */
  gint asleep;               /* 1 from the inbox's prepare to its check: the owner may be in poll() (atomic) */
  GSource *source;           /* owned, nullable: runs the inbox in the worker's context */
  GMainContext *context;     /* owned ref, nullable: that context */
  guint64 wake_pending;      /* bit k: worker k waits for this one's sf_workers_wake (this worker's thread only) */
  SfWorkerStats stats;       /* handed_out counted by the reader, handed_in by the worker, wakeups and dropped by
                              * the posters under lock */
};

#define CLAIM_BUCKET_US (5 * G_USEC_PER_SEC)

/* A claim: a slot of the open-addressing table below. */
typedef struct {
  guint64 h;       /* the Call-ID's keyed hash; 0: an empty slot */
  gint64 end_us;   /* when it ends, unless a message routed by it moves this on */
  guint32 txn;     /* the keyed hash of the INVITE server transaction that made it (sf_workers_claim_bind); 0: none yet */
  guint16 worker;
  guint8 ending;   /* its call ended (sf_workers_claim_end): end_us stays, whatever uses it */
  guint8 answered; /* its INVITE transaction sent a 2xx (sf_workers_claim_answered): a BYE's 2xx may end it */
} Claim;

struct _SfWorkers {
  guint n;
  guint64 key[2];
  /* Claims (sf_workers_claim), under claim_lock: @slots (a power of two, twice
   * @claim_max) probed linearly from h, deleted by shifting back, so a lookup
   * stops at the first empty slot; allocated at the first claim. */
  GMutex claim_lock;
  Claim *claim;
  guint slots, claim_count, claim_max;
  gint64 claim_life_us;
  gint64 claim_hold_until_us; /* a full table made no claim: none until then */
  gint64 claim_hashed_until_us; /* then, until this, claims name the hash's worker */
  gint64 claim_swept_us;      /* the last sweep of the whole table */
  guint claim_cursor;         /* the next slot a claim's small sweep looks at */
  /* The claims each worker made lately (the balance below), in two buckets
   * of CLAIM_BUCKET_US: [w] this one's, from @claim_made_since_us, [n + w]
   * the one before.  Load that decays: claims that ended, or never were
   * calls, stop counting within two buckets, unlike a count of the claims
   * held (an ended claim stays in the table until a sweep passes it). */
  guint *claim_made;          /* owned, 2n (claim_lock) */
  gint64 claim_made_since_us;
  guint max_items;           /* what may wait in one inbox (sf_workers_offer) */
  gsize max_bytes;
  Worker *workers;           /* owned, n of them */
};

guint
sf_workers_route_key (const guint64 key[2], const char *id, gsize len, guint n)
{
  if (n <= 1)
    return 0;
  return (guint) (sf_siphash24 (key, (const guint8 *) id, len) % n);
}

static void
item_clear (Item *i)
{
  if (i->destroy != NULL)
    i->destroy (i->data);
}

/* Appends @item to @w's ring, under its lock. */
static void
ring_push (Worker *w, const Item *item)
{
  if (w->len == w->cap) {
    guint cap = MAX (w->cap * 2, 64);
    Item *ring = g_new (Item, cap);
    for (guint k = 0; k < w->len; k++)
      ring[k] = w->ring[(w->head + k) % w->cap];
    g_free (w->ring);
    w->ring = ring;
    w->cap = cap;
    w->head = 0;
  }
  w->ring[(w->head + w->len) % w->cap] = *item;
  w->len++;
}

static Item
ring_pop (Worker *w)
{
  Item i = w->ring[w->head];
  w->head = (w->head + 1) % w->cap;
  w->len--;
  return i;
}

/* Takes up to SF_WORKERS_RUN_MAX items of @w's inbox and runs them; returns
 * how many ran.  The rest wait for the next turn of the context (the source
 * stays ready), so a backlog reaches the owner's event queue a slice at a
 * time, as a socket's datagrams do, instead of at once past core.max_queue. */
static guint
run_inbox (Worker *w)
{
  Item items[SF_WORKERS_RUN_MAX];
  guint n = 0;
  g_mutex_lock (&w->lock);
  while (n < SF_WORKERS_RUN_MAX && w->len > 0) {
    items[n] = ring_pop (w);
    w->inbox_bytes -= items[n].size;
    n++;
  }
  g_atomic_int_set (&w->queued, (gint) w->len);
  g_mutex_unlock (&w->lock);
  for (guint k = 0; k < n; k++) {
    items[k].func (items[k].data);
    item_clear (&items[k]);
  }
  w->stats.handed_in += n;
  return n;
}

/* Asked twice each turn of the worker's context, whatever it runs: an atomic
 * read, not the lock.  An item posted just after it reads 0 wakes the
 * context (post), which then asks again (check). */
static gboolean
inbox_ready (Worker *w)
{
  return g_atomic_int_get (&w->queued) > 0;
}

/* A hand-off wakes the owner only when it may be asleep in poll(): an eventfd
 * write, a wake from poll(), a read and a context switch each, while an owner
 * that is awake (running a slice of its inbox, a read, a timer) turns its
 * context again before it next sleeps and finds the item in this prepare.
 *
 * GLib calls every source's prepare before it polls (g_main_context_prepare),
 * unless a source already found ready makes the poll's timeout 0 (one of
 * higher priority, or this one still ready: then there is no sleep to miss),
 * and this source's check after the poll.  So the owner sets @asleep here,
 * then reads @queued; a poster (post) stores @queued, then reads @asleep,
 * and wakes the context only when it is set.  All four accesses are
 * sequentially consistent (g_atomic_int_get and g_atomic_int_set), so they
 * fall in one total order in which each load sees the last store before it:
 * if the owner's read of @queued comes before the poster's store, its own
 * store of @asleep came before that too, and the poster's read of @asleep,
 * after its store, sees 1 and wakes it; otherwise the owner sees the item
 * and does not sleep (prepare returns TRUE: timeout 0).  Either the owner
 * sees the item or the poster sees the owner asleep: a wake-up cannot be
 * lost (Dekker's mutual exclusion, store then load on each side).  A poster
 * that reads 1 just after the owner woke for something else writes one
 * needless eventfd (the next poll returns at once): the flag errs only that
 * way.  A clear (check) always comes after a poll and before the next
 * prepare sets it again.
 *
 * An item pushed into an inbox that already held some needs no wake-up of
 * its own: the post that made it non-empty woke the owner, saw it awake, or
 * (sf_workers_offer_later) owes it a wake in that poster's wake_pending,
 * which sf_workers_wake writes at the end of the poster's read batch; the
 * owner never sleeps with @queued > 0 but in that last case, bounded by the
 * poster's batch.  A new path that sets a pending bit must always flush it.
 *
 * The proof needs GLib's atomics to be sequentially consistent, which they
 * are where the compiler has __ATOMIC_SEQ_CST (gcc and clang: the store is an
 * xchg on x86); GLib's older fallback (a fence then a plain store) would let
 * a store and the next load swap, and is refused below.
 *
 * Only the inbox's hand-offs are gated so: everything else that wakes the
 * context (a source attached from another thread, sf_endpoint_post_threadsafe,
 * the run's control and stop closures) goes through GLib, which writes the
 * eventfd each time.  A source blocked by a recursive turn of its context
 * (none in sipflow) is not prepared; then its inbox does not run either
 * until the outer turn, whose prepare sets @asleep again. */
#ifndef __ATOMIC_SEQ_CST
#error "sf-workers.c: the inbox's wake-up gate needs sequentially consistent atomics (__ATOMIC_SEQ_CST)"
#endif
static gboolean
inbox_prepare (GSource *source, gint *timeout)
{
  Worker *w = ((InboxSource *) source)->w;
  *timeout = -1;
  g_atomic_int_set (&w->asleep, 1);
  if (!inbox_ready (w))
    return FALSE;
  g_atomic_int_set (&w->asleep, 0); /* ready: this turn does not sleep */
  return TRUE;
}

static gboolean
inbox_check (GSource *source)
{
  Worker *w = ((InboxSource *) source)->w;
  g_atomic_int_set (&w->asleep, 0);
  return inbox_ready (w);
}

static gboolean
inbox_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  (void) callback;
  (void) user_data;
  Worker *w = ((InboxSource *) source)->w;
  /* What the items queued runs in this turn, not after another poll (as a
   * socket's batch does: sf_endpoint_dispatch_queued). */
  if (run_inbox (w) > 0 && w->ep != NULL)
    sf_endpoint_dispatch_queued (w->ep);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs inbox_source_funcs = {
  .prepare = inbox_prepare,
  .check = inbox_check,
  .dispatch = inbox_dispatch,
};

SfWorkers *
sf_workers_new (guint n, const guint64 key[2])
{
  g_return_val_if_fail (n >= 1 && n <= SF_WORKERS_MAX && key != NULL, NULL);
  SfWorkers *set = g_new0 (SfWorkers, 1);
  set->n = n;
  set->key[0] = key[0];
  set->key[1] = key[1];
  set->max_items = SF_WORKERS_INBOX_MAX;
  set->max_bytes = SF_WORKERS_INBOX_MAX_BYTES;
  set->workers = g_new0 (Worker, n);
  for (guint i = 0; i < n; i++) {
    Worker *w = &set->workers[i];
    w->set = set;
    w->index = i;
    g_mutex_init (&w->lock);
  }
  g_mutex_init (&set->claim_lock);
  return set;
}

void
sf_workers_free (SfWorkers *set)
{
  if (set == NULL)
    return;
  for (guint i = 0; i < set->n; i++) {
    Worker *w = &set->workers[i];
    if (w->source != NULL) {
      g_source_destroy (w->source);
      g_source_unref (w->source);
    }
    while (w->len > 0) {
      Item left = ring_pop (w);
      item_clear (&left);
    }
    g_free (w->ring);
    g_clear_pointer (&w->context, g_main_context_unref);
    g_mutex_clear (&w->lock);
  }
  g_free (set->workers);
  g_free (set->claim);
  g_free (set->claim_made);
  g_mutex_clear (&set->claim_lock);
  memset (set->key, 0, sizeof set->key);
  g_free (set);
}

guint
sf_workers_n (SfWorkers *set)
{
  return set->n;
}

guint
sf_workers_route (SfWorkers *set, const char *id, gsize len)
{
  return sf_workers_route_key (set->key, id, len, set->n);
}

void
sf_workers_set_claims (SfWorkers *set, guint max, guint lifetime_ms)
{
  g_return_if_fail (set->claim == NULL && max <= G_MAXUINT / 4 && lifetime_ms > 0);
  set->claim_max = set->n > 1 ? max : 0; /* one worker owns everything already */
  set->claim_life_us = (gint64) lifetime_ms * 1000;
  set->slots = 1;
  while (set->slots < 2 * max)
    set->slots *= 2;
}

gboolean
sf_workers_claims_on (SfWorkers *set)
{
  return set->claim_max > 0;
}

/* The slot holding @h, or -1; under claim_lock, the table allocated.  At
 * most a whole turn: the table always keeps an empty slot (claim_count <
 * claim_max, half the slots), the bound is there should that ever break. */
static gint
claim_find (SfWorkers *set, guint64 h)
{
  guint i = (guint) h & (set->slots - 1);
  for (guint n = 0; n < set->slots; n++, i = (i + 1) & (set->slots - 1)) {
    if (set->claim[i].h == h)
      return (gint) i;
    if (set->claim[i].h == 0)
      return -1;
  }
  return -1;
}

/* Empties slot @i, moving back the entries whose probe passed it, so that no
 * lookup stops short of them. */
static void
claim_delete (SfWorkers *set, guint i)
{
  guint mask = set->slots - 1;
  for (guint j = (i + 1) & mask; set->claim[j].h != 0; j = (j + 1) & mask) {
    guint home = (guint) set->claim[j].h & mask;
    /* j's entry may move to i when i lies on its probe from home to j */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      set->claim[i] = set->claim[j];
      i = j;
    }
  }
  set->claim[i].h = 0;
  set->claim_count--;
}

/* Every ended claim out, at most once a second (a whole pass of the table):
 * when the table looks full, so that ended claims do not keep it so. */
static void
claim_sweep (SfWorkers *set, gint64 now_us)
{
  if (now_us - set->claim_swept_us < G_USEC_PER_SEC && set->claim_swept_us != 0)
    return;
  set->claim_swept_us = now_us;
  for (guint i = 0; i < set->slots;)
    if (set->claim[i].h != 0 && set->claim[i].end_us <= now_us)
      claim_delete (set, i); /* slot i may now hold a moved entry: look again */
    else
      i++;
}

/* The Call-ID's keyed hash, worker_of's own (h % n is worker_of): a peer
 * that cannot predict it cannot aim two Call-IDs at one claim.  0 marks an
 * empty slot, so it is taken as 1 (a chance of 2^-64 a Call-ID; its messages
 * then agree with each other, if not with sf_workers_route). */
static guint64
claim_hash (SfWorkers *set, const char *id, gsize len)
{
  guint64 h = sf_siphash24 (set->key, (const guint8 *) id, len);
  return h != 0 ? h : 1;
}

/* @h's live claim's slot (its end moved on to @now_us + the lifetime unless
 * it is ending), or -1 (an ended one deleted); under claim_lock. */
static gint
claim_live (SfWorkers *set, guint64 h, gint64 now_us)
{
  if (set->claim == NULL)
    return -1;
  gint i = claim_find (set, h);
  if (i < 0)
    return -1;
  if (set->claim[i].end_us <= now_us) {
    claim_delete (set, (guint) i);
    return -1;
  }
  if (!set->claim[i].ending)
    set->claim[i].end_us = now_us + set->claim_life_us;
  return i;
}

guint
sf_workers_claim (SfWorkers *set, guint w, const char *id, gsize len, gint64 now_us)
{
  g_return_val_if_fail (w < set->n, 0);
  guint64 h = claim_hash (set, id, len);
  if (set->claim_max == 0)
    return (guint) (h % set->n);
  g_mutex_lock (&set->claim_lock);
  if (set->claim == NULL) {
    set->claim = g_new0 (Claim, set->slots);
    set->claim_made = g_new0 (guint, 2 * set->n);
  }
  gint i = claim_live (set, h, now_us);
  guint owner;
  if (i >= 0) {
    owner = set->claim[i].worker; /* first come: a retransmission, or another reader's copy, follows it */
    if (set->claim[i].ending) {
      /* A new INVITE of an ended call (a retry after 401/407, a re-INVITE
       * of a fork's other dialog) may ring long: live again; a mere
       * retransmission of the ended one pays the idle bound at most. */
      set->claim[i].ending = FALSE;
      set->claim[i].end_us = now_us + set->claim_life_us;
      set->claim[i].txn = 0; /* the new INVITE's transaction binds it */
      set->claim[i].answered = FALSE;
    }
  } else {
    /* Two slots looked at per new claim, going round the table: ended claims
     * leave it a whole turn after their end at most (65,536 claims), so the
     * counts per worker below are mostly of live ones. */
    for (guint k = 0; k < 2; k++) {
      guint c = set->claim_cursor++ & (set->slots - 1);
      if (set->claim[c].h != 0 && set->claim[c].end_us <= now_us)
        claim_delete (set, c);
    }
    if (set->claim_count >= set->claim_max)
      claim_sweep (set, now_us);
    if (set->claim_count >= set->claim_max) {
      set->claim_hold_until_us = now_us + SF_WORKERS_CLAIM_HOLD_MS * G_GINT64_CONSTANT (1000);
      /* An INVITE the hold sent by the hash may keep its transaction for a
       * claim's life after: until then a claim of its Call-ID (its
       * retransmission, anyone's INVITE with that Call-ID) names the hash's
       * worker too, where that transaction is. */
      set->claim_hashed_until_us = set->claim_hold_until_us + set->claim_life_us;
    }
    if (now_us < set->claim_hold_until_us || set->claim_count >= set->claim_max) {
      owner = (guint) (h % set->n); /* full, or full lately: the hash rule */
    } else {
      /* The reader's, unless it already took a quarter more new claims than
       * the hash's worker (and 64) in the last 5 to 15 s (the buckets turn
       * over at a claim 5 s or more after the last turn): one source (a trunk, the one port a peer
       * sends from) would otherwise bring every call to the worker the
       * kernel gives it, and leave the others idle.  Then the hash's worker
       * takes it, as without claims, and the claim says so. */
      guint hashed = (guint) (h % set->n);
      owner = now_us < set->claim_hashed_until_us ? hashed : w;
      if (now_us - set->claim_made_since_us >= CLAIM_BUCKET_US) {
        gboolean last = now_us - set->claim_made_since_us < 2 * CLAIM_BUCKET_US; /* the one before is the last */
        for (guint k = 0; k < set->n; k++) {
          set->claim_made[set->n + k] = last ? set->claim_made[k] : 0;
          set->claim_made[k] = 0;
        }
        set->claim_made_since_us = now_us;
      }
      guint mine = set->claim_made[w] + set->claim_made[set->n + w];
      guint its = set->claim_made[hashed] + set->claim_made[set->n + hashed];
      if (owner != hashed && mine > its + its / 4 + 64)
        owner = hashed;
      guint k = (guint) h & (set->slots - 1);
      while (set->claim[k].h != 0)
        k = (k + 1) & (set->slots - 1);
      set->claim[k] = (Claim) { h, now_us + set->claim_life_us, 0, (guint16) owner, FALSE, FALSE };
      set->claim_count++;
      set->claim_made[owner]++;
    }
  }
  g_mutex_unlock (&set->claim_lock);
  return owner;
}

guint
sf_workers_owner (SfWorkers *set, const char *id, gsize len, gint64 now_us)
{
  guint64 h = claim_hash (set, id, len);
  guint owner = (guint) (h % set->n);
  if (set->claim_max == 0)
    return owner;
  g_mutex_lock (&set->claim_lock);
  gint i = claim_live (set, h, now_us);
  if (i >= 0)
    owner = set->claim[i].worker;
  g_mutex_unlock (&set->claim_lock);
  return owner;
}

void
sf_workers_touch (SfWorkers *set, const char *id, gsize len, gint64 now_us)
{
  if (set->claim_max == 0)
    return;
  guint64 h = claim_hash (set, id, len);
  g_mutex_lock (&set->claim_lock);
  claim_live (set, h, now_us);
  g_mutex_unlock (&set->claim_lock);
}

/* A transaction handle's keyed hash, never 0 (0: no transaction bound). */
static guint32
claim_txn_hash (SfWorkers *set, const char *txn)
{
  guint32 t = (guint32) sf_siphash24 (set->key, (const guint8 *) txn, strlen (txn));
  return t != 0 ? t : 1;
}

void
sf_workers_claim_bind (SfWorkers *set, guint w, const char *id, gsize len, const char *txn, gint64 now_us)
{
  if (set->claim_max == 0 || txn == NULL)
    return;
  guint64 h = claim_hash (set, id, len);
  guint32 t = claim_txn_hash (set, txn);
  g_mutex_lock (&set->claim_lock);
  gint i = claim_live (set, h, now_us);
  /* only on the claim's worker: where its INVITE's transaction runs; an
   * INVITE that reached another (over a connection, not steered) must not
   * take the call's place */
  if (i >= 0 && set->claim[i].txn == 0 && set->claim[i].worker == w)
    set->claim[i].txn = t;
  g_mutex_unlock (&set->claim_lock);
}

void
sf_workers_claim_answered (SfWorkers *set, const char *id, gsize len, const char *txn, gint64 now_us)
{
  if (set->claim_max == 0 || txn == NULL)
    return;
  guint64 h = claim_hash (set, id, len);
  guint32 t = claim_txn_hash (set, txn);
  g_mutex_lock (&set->claim_lock);
  gint i = set->claim != NULL ? claim_find (set, h) : -1;
  if (i >= 0 && set->claim[i].end_us > now_us && set->claim[i].txn == t)
    set->claim[i].answered = TRUE;
  g_mutex_unlock (&set->claim_lock);
}

void
sf_workers_claim_end (SfWorkers *set, const char *id, gsize len, const char *txn, gint64 now_us, guint within_ms)
{
  if (set->claim_max == 0)
    return;
  guint64 h = claim_hash (set, id, len);
  guint32 t = txn != NULL ? claim_txn_hash (set, txn) : 0;
  g_mutex_lock (&set->claim_lock);
  gint i = set->claim != NULL ? claim_find (set, h) : -1;
  /* a BYE's 2xx (@txn NULL) ends a claim only once its INVITE was answered
   * (or none was bound): a BYE sent to a UAS of the sender's choosing, or on
   * one early dialog of a forked INVITE, is answered 2xx while the INVITE
   * still rings, and its CANCEL must still meet it */
  if (i >= 0 && set->claim[i].end_us > now_us &&
      (txn == NULL ? set->claim[i].answered || set->claim[i].txn == 0 : set->claim[i].txn == t)) {
    Claim *c = &set->claim[i];
    c->end_us = MIN (c->end_us, now_us + (gint64) within_ms * 1000); /* never past the idle bound */
    c->ending = TRUE;
  }
  g_mutex_unlock (&set->claim_lock);
}

guint
sf_workers_claims_live (SfWorkers *set, gint64 now_us)
{
  g_mutex_lock (&set->claim_lock);
  if (set->claim != NULL)
    claim_sweep (set, now_us);
  guint n = set->claim_count;
  g_mutex_unlock (&set->claim_lock);
  return n;
}

guint
sf_workers_claims (SfWorkers *set)
{
  g_mutex_lock (&set->claim_lock);
  guint n = set->claim_count;
  g_mutex_unlock (&set->claim_lock);
  return n;
}

void
sf_workers_set_worker (SfWorkers *set, guint w, SfEndpoint *ep, gpointer data, GMainContext *context)
{
  g_return_if_fail (w < set->n && set->workers[w].ep == NULL && ep != NULL);
  Worker *wk = &set->workers[w];
  wk->ep = ep;
  wk->data = data;
  sf_endpoint_set_worker (ep, w, set->n);
  wk->source = g_source_new (&inbox_source_funcs, sizeof (InboxSource));
  ((InboxSource *) wk->source)->w = wk;
  g_source_set_name (wk->source, "sipflow worker inbox");
  g_source_attach (wk->source, context);
  wk->context = g_main_context_ref (g_source_get_context (wk->source));
}

SfEndpoint *
sf_workers_endpoint (SfWorkers *set, guint w)
{
  g_return_val_if_fail (w < set->n, NULL);
  return set->workers[w].ep;
}

gpointer
sf_workers_data (SfWorkers *set, guint w)
{
  g_return_val_if_fail (w < set->n, NULL);
  return set->workers[w].data;
}

void
sf_workers_set_inbox_max (SfWorkers *set, guint items, gsize bytes)
{
  g_return_if_fail (items >= 1 && bytes >= 1);
  set->max_items = items;
  set->max_bytes = bytes;
}

/* Queues @func at @to; with @bounded, refuses it (FALSE, counted) when
 * @to's inbox is full; with @later, leaves the wake-up to sf_workers_wake. */
static gboolean
post (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data, GDestroyNotify destroy, gsize size,
      gboolean bounded, gboolean later)
{
  Worker *w = &set->workers[to];
  g_mutex_lock (&w->lock);
  if (bounded && (w->len >= set->max_items || w->inbox_bytes + size > set->max_bytes)) {
    w->stats.dropped++;
    g_mutex_unlock (&w->lock);
    if (destroy != NULL)
      destroy (data);
    return FALSE;
  }
  w->inbox_bytes += size;
  gboolean was_empty = w->len == 0;
  ring_push (w, &(Item) { func, data, destroy, size });
  g_atomic_int_set (&w->queued, (gint) w->len);
  /* Stored @queued, now read @asleep (inbox_prepare: why no wake-up is lost).
   * Only the first item of a batch may need to wake the owner: its source
   * stays ready until the inbox is empty. */
  gboolean wake = was_empty && g_atomic_int_get (&w->asleep) != 0;
  if (wake)
    w->stats.wakeups++;
  g_mutex_unlock (&w->lock);
  set->workers[from].stats.handed_out++;
  /* Its context, not its source: the source may be destroyed by then
   * (closed).  A wake-up held back (@later) is made by sf_workers_wake
   * whatever the owner does meanwhile: it was asleep when the item went in. */
  if (wake && later)
    set->workers[from].wake_pending |= G_GUINT64_CONSTANT (1) << to;
  else if (wake && w->context != NULL)
    g_main_context_wakeup (w->context);
  return TRUE;
}

void
sf_workers_hand (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data, GDestroyNotify destroy)
{
  g_return_if_fail (from < set->n && to < set->n && func != NULL);
  post (set, from, to, func, data, destroy, 0, FALSE, FALSE);
}

gboolean
sf_workers_offer (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data, GDestroyNotify destroy,
                  gsize size)
{
  g_return_val_if_fail (from < set->n && to < set->n && func != NULL, FALSE);
  return post (set, from, to, func, data, destroy, size, TRUE, FALSE);
}

gboolean
sf_workers_offer_later (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data, GDestroyNotify destroy,
                        gsize size)
{
  g_return_val_if_fail (from < set->n && to < set->n && func != NULL, FALSE);
  return post (set, from, to, func, data, destroy, size, TRUE, TRUE);
}

void
sf_workers_wake (SfWorkers *set, guint from)
{
  g_return_if_fail (from < set->n);
  guint64 pending = set->workers[from].wake_pending;
  set->workers[from].wake_pending = 0;
  for (guint to = 0; pending != 0; to++, pending >>= 1)
    if ((pending & 1) != 0 && set->workers[to].context != NULL)
      g_main_context_wakeup (set->workers[to].context);
}

guint
sf_workers_drain (SfWorkers *set)
{
  guint total = 0;
  /* Each round runs every inbox and every endpoint; what one worker hands
   * another runs in the next round.  A bound like sf_endpoint_drain's: a
   * ping-pong between workers cannot hold the thread for ever. */
  for (guint round = 0; round < 1000; round++) {
    guint moved = 0;
    for (guint i = 0; i < set->n; i++) {
      Worker *w = &set->workers[i];
      moved += run_inbox (w);
      if (w->ep != NULL)
        moved += sf_endpoint_drain (w->ep);
    }
    total += moved;
    if (moved == 0)
      break;
  }
  return total;
}

void
sf_workers_advance (SfWorkers *set, guint64 ms)
{
  SfEndpoint *first = set->workers[0].ep;
  g_return_if_fail (first != NULL && sf_clock_is_fake (sf_endpoint_clock (first)));
  gint64 target = sf_clock_now_us (sf_endpoint_clock (first)) + (gint64) ms * 1000;
  sf_workers_drain (set);
  for (;;) {
    gint64 next = G_MAXINT64;
    for (guint i = 0; i < set->n; i++)
      if (set->workers[i].ep != NULL)
        next = MIN (next, sf_endpoint_next_deadline (set->workers[i].ep));
    if (next > target)
      break;
    for (guint i = 0; i < set->n; i++)
      if (set->workers[i].ep != NULL)
        sf_endpoint_advance_to (set->workers[i].ep, next);
    sf_workers_drain (set);
  }
  for (guint i = 0; i < set->n; i++)
    if (set->workers[i].ep != NULL)
      sf_endpoint_advance_to (set->workers[i].ep, target);
  sf_workers_drain (set);
}

void
sf_workers_stats (SfWorkers *set, guint w, SfWorkerStats *out)
{
  g_return_if_fail (w < set->n);
  /* handed_in and handed_out are written by worker @w's thread (the caller's,
   * with threads), wakeups and dropped by the posting threads under the inbox
   * lock. */
  Worker *wk = &set->workers[w];
  g_mutex_lock (&wk->lock);
  *out = wk->stats;
  out->waiting = wk->len;
  out->waiting_bytes = wk->inbox_bytes;
  g_mutex_unlock (&wk->lock);
}

void
sf_workers_close (SfWorkers *set)
{
  for (guint i = 0; i < set->n; i++) {
    Worker *w = &set->workers[i];
    if (w->source != NULL) {
      g_source_destroy (w->source);
      g_clear_pointer (&w->source, g_source_unref);
    }
  }
}
