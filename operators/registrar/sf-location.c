/* sf-location.c: the location service's memory core and its persistence
 * layer's plumbing (see sf-location.h, sf-location-store.h). */
#include "config.h"
#include "sf-location.h"
#include "sf-location-store.h"
#include "sf-location-mirror.h"

#include "framework/sf-endpoint.h"
#include <string.h>

G_DEFINE_QUARK (sf-location-error-quark, sf_location_error)

struct _SfLocation {
  SfClock *clock;        /* unowned */
  GHashTable *aors;      /* char* aor -> GPtrArray of SfLocBinding* */
  GList *pending;        /* GSource* of results not delivered yet (no answer_ep) */
  SfEndpoint *answer_ep; /* unowned, nullable: the core's answers run in its batch (sf_location_answer_in) */
  GQueue ready;          /* Pending* deferred to answer_ep's batch, not delivered yet, oldest first */
  guint max_aors;        /* 0: no limit */
  gint64 purged_at;      /* clock seconds of the last full purge */
  SfLocStore *store;     /* owned, nullable: the persistence layer */
  GQueue writing;        /* Pending* whose write the store has not reported yet, oldest first */
  GHashTable *asking;    /* Pending* the shared store (lookup and update hooks) has not answered yet */
  SfMetricHistogram latency[SF_LOC_N_OPS]; /* how long the store took, by SfLocOp (the metrics') */
  SfLocMirror *mirror;   /* owned ref: the bindings for the other workers' lookups, on once one joins */
  /* A closed flow's bindings without a walk of every address-of-record (a
   * remote party opens and closes WebSockets at will): flow name -> the set
   * (char* -> itself, owned) of the addresses-of-record with a binding on
   * it, expired or not, as the core holds them; and, to undo that on the
   * next change, address-of-record -> GPtrArray of the flow names it is
   * filed under.  Both at most the bindings' count of entries. */
  GHashTable *by_flow;
  GHashTable *flows_of;
  guint64 flow_visits;   /* addresses-of-record sf_location_remove_flow looked at (tests) */
};

void
sf_loc_binding_free (SfLocBinding *b)
{
  if (b == NULL || g_atomic_int_add (&b->refs, -1) > 0) /* the old value: 0 was the last owner */
    return;
  g_free (b->contact);
  g_free (b->call_id);
  g_free (b->source);
  g_free (b->transport);
  g_free (b->local);
  g_free (b->flow);
  g_free (b->path);
  g_free (b->instance);
  g_free (b->node);
  g_free (b);
}

SfLocBinding *
sf_loc_binding_ref (SfLocBinding *b)
{
  g_atomic_int_inc (&b->refs);
  return b;
}

void
sf_location_result_free (SfLocationResult *r)
{
  if (r == NULL)
    return;
  g_clear_pointer (&r->bindings, g_ptr_array_unref);
  g_clear_error (&r->error);
  g_free (r);
}

SfLocation *
sf_location_new_memory (SfClock *clock)
{
  SfLocation *loc = g_new0 (SfLocation, 1);
  loc->clock = clock;
  loc->aors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  g_queue_init (&loc->writing);
  loc->mirror = sf_loc_mirror_new ();
  loc->by_flow = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  loc->flows_of = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);

  g_queue_init (&loc->ready);
  return loc;
}

static void written (GError *error, GPtrArray *committed, gpointer data);
static void reindex_all (SfLocation *loc);

SfLocation *
sf_location_new_sqlite (SfClock *clock, const char *path, guint busy_timeout_ms, GError **error)
{
  SfLocStore *store = sf_loc_sqlite_open (path, busy_timeout_ms, written, error);
  if (store == NULL)
    return NULL;
  SfLocation *loc = sf_location_new_memory (clock);
  loc->store = store;
  if (!store->klass->load (store, sf_clock_wall_us (clock) / G_USEC_PER_SEC, loc->aors, error)) {
    sf_location_free (loc);
    return NULL;
  }
  reindex_all (loc);
  return loc;
}

static void answered (GError *error, GPtrArray *bindings, gpointer data);

SfLocation *
sf_location_new_over (SfClock *clock, SfLocStore *store)
{
  SfLocation *loc = sf_location_new_memory (clock);
  store->answered = answered;
  loc->store = store;
  return loc;
}

SfLocation *
sf_location_new_redis (SfClock *clock, const char *uri, const char *password, guint timeout_ms, GError **error)
{
  SfLocStore *store = sf_loc_redis_open (uri, password, timeout_ms, answered, error);
  return store != NULL ? sf_location_new_over (clock, store) : NULL;
}

guint64
sf_location_worker_busy (SfLocation *loc)
{
  return loc->store != NULL ? sf_loc_worker_busy (loc->store) : 0;
}

SfLocation *
sf_location_new_worker (SfClock *clock, SfWorkers *set, guint w, SfLocation *home, guint max_asks)
{
  SfLocStore *store = sf_loc_worker_open (set, w, home, max_asks, answered);
  g_return_val_if_fail (store != NULL, NULL);
  return sf_location_new_over (clock, store);
}

static void pending_free (gpointer p);
static void deliver_ready (gpointer p);
static gboolean pending_of (gpointer p, gpointer loc);

/* Does the store answer lookups and updates itself (the core stays empty)? */
static gboolean
shared (SfLocation *loc)
{
  return loc->store != NULL && loc->store->klass->lookup != NULL;
}

gboolean
sf_location_shared (SfLocation *loc)
{
  return shared (loc);
}

void
sf_location_free (SfLocation *loc)
{
  if (loc == NULL)
    return;
  if (loc->store != NULL)
    loc->store->klass->close (loc->store); /* commits what is queued; no more callbacks */
  g_queue_clear_full (&loc->writing, pending_free);
  g_clear_pointer (&loc->asking, g_hash_table_unref); /* frees the Pendings the store will not answer now */
  while (loc->pending != NULL) {
    GSource *src = loc->pending->data;
    loc->pending = g_list_delete_link (loc->pending, loc->pending);
    g_source_destroy (src); /* frees the Pending: the result and the caller's data */
    g_source_unref (src);
  }
  sf_loc_mirror_close (loc->mirror); /* before the core's bindings go: readers find it closed */
  sf_loc_mirror_unref (loc->mirror);
  if (loc->ready.length > 0) /* one walk of the endpoint's calls, not one per answer */
    sf_endpoint_undefer_matching (loc->answer_ep, deliver_ready, pending_of, loc);
  g_queue_clear_full (&loc->ready, pending_free); /* the results and the callers' data */
  g_hash_table_unref (loc->aors);
  g_hash_table_unref (loc->by_flow);
  g_hash_table_unref (loc->flows_of);
  g_free (loc);
}

SfLocMirror *
sf_location_mirror (SfLocation *loc)
{
  if (shared (loc))
    return NULL; /* the core is empty: the store answers */
  sf_loc_mirror_enable (loc->mirror, loc->aors);
  return sf_loc_mirror_ref (loc->mirror);
}

/* Files @aor under the flows of its bindings now, after taking it out from
 * under those it was filed under (the cost: its bindings, bounded). */
static void
reindex (SfLocation *loc, const char *aor)
{
  GPtrArray *old = g_hash_table_lookup (loc->flows_of, aor);
  for (guint i = 0; old != NULL && i < old->len; i++) {
    GHashTable *set = g_hash_table_lookup (loc->by_flow, old->pdata[i]);
    g_hash_table_remove (set, aor);
    if (g_hash_table_size (set) == 0)
      g_hash_table_remove (loc->by_flow, old->pdata[i]);
  }
  g_hash_table_remove (loc->flows_of, aor);
  GPtrArray *list = g_hash_table_lookup (loc->aors, aor);
  GPtrArray *now = NULL;
  for (guint i = 0; list != NULL && i < list->len; i++) {
    const char *flow = ((SfLocBinding *) list->pdata[i])->flow;
    if (flow == NULL)
      continue;
    GHashTable *set = g_hash_table_lookup (loc->by_flow, flow);
    if (set == NULL) {
      set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_hash_table_insert (loc->by_flow, g_strdup (flow), set);
    }
    if (g_hash_table_contains (set, aor))
      continue; /* two bindings on one flow */
    g_hash_table_add (set, g_strdup (aor));
    if (now == NULL)
      now = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (now, g_strdup (flow));
  }
  if (now != NULL)
    g_hash_table_insert (loc->flows_of, g_strdup (aor), now);
}

static void
reindex_all (SfLocation *loc)
{
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, loc->aors);
  while (g_hash_table_iter_next (&it, &k, NULL))
    reindex (loc, k);
}

/* After each change to @aor's bindings in the core (every change comes
 * here), before its result goes out: the flow index follows, and the other
 * workers' lookups see it from then on. */
static void
publish (SfLocation *loc, const char *aor)
{
  reindex (loc, aor);
  if (sf_loc_mirror_on (loc->mirror))
    sf_loc_mirror_publish (loc->mirror, aor, g_hash_table_lookup (loc->aors, aor));
}

static gint64
now_s (SfLocation *loc)
{
  return sf_clock_wall_us (loc->clock) / G_USEC_PER_SEC; /* wall time: expiries outlive a restart */
}

/* The bindings of @aor with the expired ones dropped (NULL when none). */
static GPtrArray *
live (SfLocation *loc, const char *aor)
{
  GPtrArray *list = g_hash_table_lookup (loc->aors, aor);
  if (list == NULL)
    return NULL;
  gint64 now = now_s (loc);
  guint before = list->len;
  for (guint i = list->len; i > 0; i--)
    if (((SfLocBinding *) list->pdata[i - 1])->expires_at <= now)
      g_ptr_array_remove_index (list, i - 1);
  if (list->len == before)
    return list;
  if (list->len == 0) {
    g_hash_table_remove (loc->aors, aor); /* frees list */
    list = NULL;
  }
  publish (loc, aor);
  return list;
}

static gsize
len0 (const char *s)
{
  return s != NULL ? strlen (s) : 0;
}

/* The bytes a binding's strings take (SF_LOCATION_MAX_AOR_BYTES). */
static gsize
binding_bytes (const SfLocBinding *b)
{
  return len0 (b->contact) + len0 (b->call_id) + len0 (b->source) + len0 (b->transport) + len0 (b->local) +
         len0 (b->flow) + len0 (b->path) + len0 (b->instance) + len0 (b->node);
}

static gint
by_q (gconstpointer a, gconstpointer b)
{
  const SfLocBinding *x = *(SfLocBinding *const *) a, *y = *(SfLocBinding *const *) b;
  return x->q > y->q ? -1 : x->q < y->q ? 1 : 0;
}

static gint
by_key (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static SfLocationResult *
snapshot (SfLocation *loc, const char *aor, GError *error)
{
  SfLocationResult *r = g_new0 (SfLocationResult, 1);
  r->now = now_s (loc);
  r->error = error;
  r->bindings = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
  GPtrArray *list = error == NULL ? live (loc, aor) : NULL;
  for (guint i = 0; list != NULL && i < list->len; i++)
    g_ptr_array_add (r->bindings, sf_loc_binding_ref (list->pdata[i]));
  g_ptr_array_sort (r->bindings, by_q);
  return r;
}

typedef struct {
  SfLocation *loc;
  GSource *src;
  SfLocationResult *result;   /* NULL once delivered */
  SfLocationFunc done;
  gpointer data;
  GDestroyNotify data_free;
  char *aor;                  /* owned: an update's, while the store writes it */
  gint64 asked_us;            /* monotonic: when the store was asked */
  SfLocOp op;                 /* what it was asked */
} Pending;

static void
pending_free (gpointer p)
{
  Pending *d = p;
  if (d->result != NULL) {
    sf_location_result_free (d->result);
    if (d->data_free != NULL)
      d->data_free (d->data);
  }
  g_free (d->aor);
  g_free (d);
}

static gboolean
deliver (gpointer p)
{
  Pending *d = p;
  d->loc->pending = g_list_remove (d->loc->pending, d->src);
  g_source_unref (d->src);
  SfLocationResult *r = g_steal_pointer (&d->result);
  d->done (r, d->data);
  return G_SOURCE_REMOVE;
}

static Pending *
pending_new (SfLocation *loc, SfLocationResult *r, SfLocationFunc done, gpointer data, GDestroyNotify data_free)
{
  Pending *d = g_new0 (Pending, 1);
  d->loc = loc;
  d->result = r;
  d->done = done;
  d->data = data;
  d->data_free = data_free;
  d->asked_us = g_get_monotonic_time ();
  d->op = SF_LOC_OP_WRITE;
  return d;
}

/* The store answered @d: how long it took. */
static void
observe (Pending *d)
{
  sf_metric_histogram_observe (&d->loc->latency[d->op], (double) (g_get_monotonic_time () - d->asked_us) / G_USEC_PER_SEC);
}

const SfMetricHistogram *
sf_location_latency (SfLocation *loc, SfLocOp op)
{
  return &loc->latency[op];
}

gboolean
sf_location_persistent (SfLocation *loc)
{
  return loc->store != NULL;
}

/* From the endpoint's batch: one answer, taken off the location's list
 * first, so that a callback may free the location (sf_location_free drops
 * the others' calls). */
static void
deliver_ready (gpointer p)
{
  Pending *d = p;
  g_queue_remove (&d->loc->ready, d); /* its head: the calls run in the order deferred */
  SfLocationResult *r = g_steal_pointer (&d->result);
  d->done (r, d->data);
  pending_free (d);
}

static gboolean
pending_of (gpointer p, gpointer loc)
{
  return ((Pending *) p)->loc == loc;
}

void
sf_location_answer_in (SfLocation *loc, SfEndpoint *ep)
{
  loc->answer_ep = ep;
}

/* The result goes out later, never inside the caller's call, as a remote
 * store's would: from the endpoint's batch once its queue is empty
 * (sf_location_answer_in: in the same turn of the loop), else from an idle
 * source in a later iteration of the thread-default main context. */
static void
later (SfLocation *loc, SfLocationResult *r, SfLocationFunc done, gpointer data, GDestroyNotify data_free)
{
  Pending *d = pending_new (loc, r, done, data, data_free);
  if (loc->answer_ep != NULL) {
    g_queue_push_tail (&loc->ready, d);
    sf_endpoint_defer (loc->answer_ep, deliver_ready, d);
    return;
  }
  d->src = g_idle_source_new ();
  g_source_set_callback (d->src, deliver, d, pending_free);
  g_source_set_priority (d->src, G_PRIORITY_DEFAULT);
  loc->pending = g_list_prepend (loc->pending, g_source_ref (d->src));
  g_source_attach (d->src, g_main_context_get_thread_default ());
  g_source_unref (d->src);
}

/* A Pending the shared store answers (answered()), kept in loc->asking so
 * sf_location_free drops it. */
static Pending *
ask (SfLocation *loc, SfLocationFunc done, gpointer data, GDestroyNotify data_free)
{
  SfLocationResult *r = g_new0 (SfLocationResult, 1);
  r->now = now_s (loc);
  r->bindings = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
  Pending *d = pending_new (loc, r, done, data, data_free);
  if (loc->asking == NULL)
    loc->asking = g_hash_table_new_full (NULL, NULL, pending_free, NULL);
  g_hash_table_add (loc->asking, d);
  return d;
}

/* The shared store's answer (in the main context, in a later iteration than
 * the ask): the bindings best q first, or the error. */
static void
answered (GError *error, GPtrArray *bindings, gpointer data)
{
  Pending *d = data;
  SfLocation *loc = d->loc;
  g_hash_table_steal (loc->asking, d);
  observe (d);
  SfLocationResult *r = g_steal_pointer (&d->result);
  if (error != NULL)
    r->error = g_error_copy (error);
  if (bindings != NULL) {
    for (guint i = 0; i < bindings->len; i++)
      g_ptr_array_add (r->bindings, g_steal_pointer (&bindings->pdata[i]));
    g_ptr_array_unref (bindings); /* emptied: its free func sees NULLs */
  }
  g_ptr_array_sort (r->bindings, by_q);
  d->done (r, d->data);
  pending_free (d);
}

void
sf_location_lookup (SfLocation *loc, const char *aor, SfLocationFunc done, gpointer data, GDestroyNotify data_free)
{
  if (shared (loc)) {
    Pending *d = ask (loc, done, data, data_free);
    d->op = SF_LOC_OP_LOOKUP;
    loc->store->klass->lookup (loc->store, aor, d->result->now, d);
    return;
  }
  later (loc, snapshot (loc, aor, NULL), done, data, data_free);
}

static SfLocBinding *
find (GPtrArray *list, const char *contact)
{
  for (guint i = 0; list != NULL && i < list->len; i++)
    if (strcmp (((SfLocBinding *) list->pdata[i])->contact, contact) == 0)
      return list->pdata[i];
  return NULL;
}

void
sf_location_set_max_aors (SfLocation *loc, guint max)
{
  loc->max_aors = max;
}

/* Drops every expired binding of every address-of-record (expiry is otherwise
 * lazy, per address, when it is read). */
static void
purge (SfLocation *loc)
{
  GList *keys = g_hash_table_get_keys (loc->aors);
  GList *copies = NULL;
  for (GList *k = keys; k != NULL; k = k->next)
    copies = g_list_prepend (copies, g_strdup (k->data)); /* live() may free the key */
  g_list_free (keys);
  for (GList *k = copies; k != NULL; k = k->next)
    live (loc, k->data);
  g_list_free_full (copies, g_free);
}

/* The store's outcome of an update's write (in the main context, in order):
 * the result goes out now, an error instead when the write failed, and then
 * the core goes back to what the store holds unless a later update of the
 * same address-of-record is still being written (its outcome will decide). */
static void
written (GError *error, GPtrArray *committed, gpointer data)
{
  Pending *d = data;
  SfLocation *loc = d->loc;
  g_queue_remove (&loc->writing, d);
  observe (d);
  if (error != NULL) {
    SfLocationResult *r = d->result;
    g_ptr_array_set_size (r->bindings, 0);
    g_clear_error (&r->error);
    r->error = g_error_copy (error);
    gboolean later_one = FALSE;
    for (GList *l = loc->writing.head; l != NULL && !later_one; l = l->next)
      later_one = strcmp (((Pending *) l->data)->aor, d->aor) == 0;
    if (!later_one && committed != NULL) {
      if (committed->len > 0)
        g_hash_table_insert (loc->aors, g_strdup (d->aor), g_steal_pointer (&committed));
      else
        g_hash_table_remove (loc->aors, d->aor);
      publish (loc, d->aor);
    }
  }
  g_clear_pointer (&committed, g_ptr_array_unref);
  SfLocationResult *r = g_steal_pointer (&d->result);
  d->done (r, d->data);
  pending_free (d);
}

void
sf_location_update (SfLocation *loc, const char *aor, const char *call_id, guint32 cseq, const SfLocOrigin *origin,
                    gboolean remove_all, const SfLocChange *changes, guint n_changes, SfLocationFunc done,
                    gpointer data, GDestroyNotify data_free)
{
  if (shared (loc)) {
    /* the store checks and applies it atomically: other nodes write the same address-of-record */
    Pending *d = ask (loc, done, data, data_free);
    d->op = SF_LOC_OP_UPDATE;
    SfLocUpdate u = { call_id, cseq, origin, remove_all, changes, n_changes, loc->max_aors };
    loc->store->klass->update (loc->store, aor, &u, d->result->now, d);
    return;
  }
  GPtrArray *list = live (loc, aor);
  /* 10.3 step 7: a binding this Call-ID made with a CSeq not lower refuses the request, whole. */
  for (guint i = 0; list != NULL && i < list->len; i++) {
    const SfLocBinding *b = list->pdata[i];
    gboolean touched = remove_all;
    for (guint k = 0; k < n_changes && !touched; k++)
      touched = strcmp (changes[k].contact, b->contact) == 0;
    if (touched && strcmp (b->call_id, call_id) == 0 && cseq <= b->cseq) {
      GError *e = g_error_new (SF_LOCATION_ERROR, SF_LOCATION_ERROR_OUT_OF_ORDER,
                               "CSeq %u is not above %u for Call-ID %s", cseq, b->cseq, call_id);
      later (loc, snapshot (loc, aor, e), done, data, data_free);
      return;
    }
  }
  /* The limits are checked before anything changes: a REGISTER is applied whole or not at all. */
  guint after = remove_all || list == NULL ? 0 : list->len;
  gsize bytes = 0;
  for (guint i = 0; !remove_all && list != NULL && i < list->len; i++)
    bytes += binding_bytes (list->pdata[i]);
  gsize origin_bytes = len0 (call_id);
  if (origin != NULL)
    origin_bytes += len0 (origin->source) + len0 (origin->transport) + len0 (origin->local) + len0 (origin->flow) +
                    len0 (origin->path) + len0 (origin->node);
  for (guint k = 0; k < n_changes; k++) {
    /* a contact given twice: the last one decides, as it is applied last */
    gboolean repeated = FALSE;
    for (guint j = k + 1; j < n_changes && !repeated; j++)
      repeated = strcmp (changes[j].contact, changes[k].contact) == 0;
    if (repeated)
      continue;
    SfLocBinding *old = remove_all ? NULL : find (list, changes[k].contact);
    if (old != NULL)
      bytes -= binding_bytes (old);
    if (changes[k].expires_s > 0)
      bytes += len0 (changes[k].contact) + len0 (changes[k].instance) + origin_bytes;
    if (changes[k].expires_s <= 0 && old != NULL)
      after--;
    else if (changes[k].expires_s > 0 && old == NULL)
      after++;
  }
  if (after > SF_LOCATION_MAX_BINDINGS || bytes > SF_LOCATION_MAX_AOR_BYTES) {
    GError *e = g_error_new (SF_LOCATION_ERROR, SF_LOCATION_ERROR_FULL,
                             "%s would have %u bindings of %" G_GSIZE_FORMAT " bytes, more than %d or %d", aor, after,
                             bytes, SF_LOCATION_MAX_BINDINGS, SF_LOCATION_MAX_AOR_BYTES);
    later (loc, snapshot (loc, aor, e), done, data, data_free);
    return;
  }
  if (after > 0 && list == NULL && loc->max_aors > 0 && g_hash_table_size (loc->aors) >= loc->max_aors) {
    if (now_s (loc) != loc->purged_at) { /* a full purge at most once a second: a flood of new AORs costs no more */
      loc->purged_at = now_s (loc);
      purge (loc);
    }
    if (g_hash_table_size (loc->aors) >= loc->max_aors) {
      GError *e = g_error_new (SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FULL,
                               "the location service holds %u addresses-of-record already", loc->max_aors);
      later (loc, snapshot (loc, aor, e), done, data, data_free);
      return;
    }
  }
  if (remove_all) {
    g_hash_table_remove (loc->aors, aor);
    list = NULL;
  }
  gint64 now = now_s (loc);
  for (guint k = 0; k < n_changes; k++) {
    SfLocBinding *b = find (list, changes[k].contact);
    if (changes[k].expires_s <= 0) {
      if (b != NULL)
        g_ptr_array_remove (list, b);
      continue;
    }
    if (b == NULL) {
      if (list == NULL) {
        list = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
        g_hash_table_insert (loc->aors, g_strdup (aor), list);
      }
      b = g_new0 (SfLocBinding, 1);
      b->contact = g_strdup (changes[k].contact);
      g_ptr_array_add (list, b);
    } else if (g_atomic_int_get (&b->refs) > 0) {
      /* shared with a result, a write still in use or the workers' mirror
       * (maybe read in another thread): replaced, never changed.  A binding
       * the core alone holds gains no owner meanwhile: only the core's
       * thread refs it (the mirror's readers ref only what it holds). */
      SfLocBinding *fresh = g_new0 (SfLocBinding, 1);
      fresh->contact = g_strdup (b->contact);
      guint at = 0;
      g_ptr_array_find (list, b, &at);
      list->pdata[at] = fresh; /* the array's free func not run: the old one is dropped below */
      sf_loc_binding_free (b);
      b = fresh;
    }
    b->q = changes[k].q;
    b->expires_at = now + changes[k].expires_s;
    b->cseq = cseq;
    b->reg_id = changes[k].reg_id;
    /* every field from this REGISTER: a refresh from elsewhere moves the binding */
    char **fields[] = { &b->call_id, &b->instance, &b->source, &b->transport, &b->local, &b->flow, &b->path, &b->node };
    const char *values[] = { call_id, changes[k].instance, origin != NULL ? origin->source : NULL,
                             origin != NULL ? origin->transport : NULL, origin != NULL ? origin->local : NULL,
                             origin != NULL ? origin->flow : NULL, origin != NULL ? origin->path : NULL,
                             origin != NULL ? origin->node : NULL };
    for (guint f = 0; f < G_N_ELEMENTS (fields); f++) {
      g_free (*fields[f]);
      *fields[f] = g_strdup (values[f]);
    }
  }
  if (list != NULL && list->len == 0) {
    g_hash_table_remove (loc->aors, aor);
    list = NULL;
  }
  publish (loc, aor); /* before the result, and so a REGISTER's 200, goes out */
  if (loc->store == NULL) {
    later (loc, snapshot (loc, aor, NULL), done, data, data_free);
    return;
  }
  /* written through: the result waits for the commit */
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
  for (guint i = 0; list != NULL && i < list->len; i++)
    g_ptr_array_add (rows, sf_loc_binding_ref (list->pdata[i]));
  Pending *d = pending_new (loc, snapshot (loc, aor, NULL), done, data, data_free);
  d->aor = g_strdup (aor);
  g_queue_push_tail (&loc->writing, d);
  loc->store->klass->write (loc->store, aor, rows, now, d);
}

void
sf_location_each (SfLocation *loc, const char *aor, SfLocationEachFunc f, gpointer data)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  if (aor != NULL) {
    if (g_hash_table_contains (loc->aors, aor))
      g_ptr_array_add (keys, (gpointer) aor);
  } else {
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init (&it, loc->aors);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_ptr_array_add (keys, k);
    g_ptr_array_sort (keys, by_key);
  }
  gint64 now = now_s (loc);
  for (guint i = 0; i < keys->len; i++) {
    GPtrArray *list = g_hash_table_lookup (loc->aors, keys->pdata[i]);
    for (guint k = 0; k < list->len; k++) {
      const SfLocBinding *b = list->pdata[k];
      if (b->expires_at > now && !f (keys->pdata[i], b, data))
        return;
    }
  }
}

static void
removed_written (SfLocationResult *r, gpointer data)
{
  sf_location_result_free (r); /* a failed write put the core back: nothing more to do */
}

guint
sf_location_remove (SfLocation *loc, const char *aor, const char *contact)
{
  if (shared (loc))
    return 0; /* the node holds none: redis-cli removes them (sf_location_shared) */
  GPtrArray *list = g_hash_table_lookup (loc->aors, aor);
  if (list == NULL)
    return 0;
  guint before = list->len;
  for (guint i = list->len; i > 0; i--)
    if (contact == NULL || strcmp (((SfLocBinding *) list->pdata[i - 1])->contact, contact) == 0)
      g_ptr_array_remove_index (list, i - 1);
  guint removed = before - list->len;
  if (removed == 0)
    return 0;
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
  for (guint i = 0; i < list->len; i++)
    g_ptr_array_add (rows, sf_loc_binding_ref (list->pdata[i]));
  if (list->len == 0)
    g_hash_table_remove (loc->aors, aor);
  publish (loc, aor);
  if (loc->store == NULL) {
    g_ptr_array_unref (rows);
    return removed;
  }
  Pending *d = pending_new (loc, snapshot (loc, aor, NULL), removed_written, NULL, NULL);
  d->aor = g_strdup (aor);
  g_queue_push_tail (&loc->writing, d);
  loc->store->klass->write (loc->store, aor, rows, now_s (loc), d);
  return removed;
}

guint
sf_location_remove_flow (SfLocation *loc, const char *flow)
{
  if (loc->store != NULL && sf_loc_worker_remove_flow (loc->store, flow))
    return 0; /* worker 0 holds them */
  if (shared (loc))
    return 0;
  GHashTable *set = g_hash_table_lookup (loc->by_flow, flow);
  if (set == NULL)
    return 0;
  /* what to remove first: each removal changes the index */
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free); /* AOR, then contact, for each */
  gint64 now = now_s (loc);
  GHashTableIter it;
  gpointer aor;
  g_hash_table_iter_init (&it, set);
  while (g_hash_table_iter_next (&it, &aor, NULL)) {
    loc->flow_visits++;
    GPtrArray *list = g_hash_table_lookup (loc->aors, aor);
    for (guint k = 0; list != NULL && k < list->len; k++) {
      const SfLocBinding *b = list->pdata[k];
      if (b->expires_at > now && b->flow != NULL && strcmp (b->flow, flow) == 0) {
        g_ptr_array_add (gone, g_strdup (aor));
        g_ptr_array_add (gone, g_strdup (b->contact));
      }
    }
  }
  guint removed = 0;
  for (guint i = 0; i + 1 < gone->len; i += 2)
    removed += sf_location_remove (loc, gone->pdata[i], gone->pdata[i + 1]);
  if (removed > 0)
    g_info ("%s closed: %u binding(s) on it removed", flow, removed);
  return removed;
}

void
sf_location_sqlite_warn_every (SfLocation *loc, guint ms)
{
  if (loc->store != NULL)
    sf_loc_sqlite_warn_every (loc->store, ms);
}

guint64
sf_location_flow_visits (SfLocation *loc)
{
  return loc->flow_visits;
}

gboolean
sf_location_flows_exact (SfLocation *loc)
{
  guint filed = 0, held = 0;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, loc->by_flow);
  while (g_hash_table_iter_next (&it, &k, &v))
    filed += g_hash_table_size (v);
  g_hash_table_iter_init (&it, loc->aors);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    GPtrArray *list = v;
    for (guint i = 0; i < list->len; i++) {
      const char *flow = ((SfLocBinding *) list->pdata[i])->flow;
      gboolean first = flow != NULL; /* each (flow, AOR) counted once */
      for (guint j = 0; j < i && first; j++)
        first = g_strcmp0 (((SfLocBinding *) list->pdata[j])->flow, flow) != 0;
      if (!first)
        continue;
      held++;
      GHashTable *set = g_hash_table_lookup (loc->by_flow, flow);
      if (set == NULL || !g_hash_table_contains (set, k))
        return FALSE;
    }
  }
  return filed == held;
}

guint
sf_location_size (SfLocation *loc)
{
  guint n = 0;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, loc->aors);
  while (g_hash_table_iter_next (&it, &k, &v))
    n += ((GPtrArray *) v)->len;
  return n;
}
