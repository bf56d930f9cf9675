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

struct _SfWorkers {
  guint n;
  guint64 key[2];
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
