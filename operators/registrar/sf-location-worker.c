/* sf-location-worker.c: the location service of a worker other than 0
 * (docs/workers.md, "The location service").  Worker 0 holds the bindings
 * (the memory core, sqlite written through); this layer makes every other
 * worker's SfLocation a client of it, through the seam a store shared by
 * several nodes uses (SfLocStoreClass.lookup and .update, as redis).
 *
 * A lookup is answered here, from worker 0's mirror (sf-location-mirror.h):
 * the bindings worker 0's core published after its last change to the
 * address-of-record, the expired ones left out by this worker's clock.  The
 * answer goes out in a later turn of this worker's context (a store never
 * answers inside the call that asked), the lookups of one turn under one
 * idle source.  Worker 0 publishes before a change's result goes out, so a
 * lookup that starts after a REGISTER's 200 sees its bindings.
 *
 * An update, the REGISTER's changes copied, is posted to worker 0's inbox,
 * run there by sf_location_update(), and its result posted back to the
 * asking worker, where it is delivered as a store's answer.  So CSeq order
 * (10.3 step 7) and the limits are checked in one place, the core has one
 * writer, and the location code stays single-threaded.  A lookup crosses
 * the same way when worker 0's location has no mirror (a shared store's:
 * only tests make such a layer, redis being one store for every worker).
 *
 * Requests in flight are bounded per asking worker (max_asks, counted on the
 * Link): past it a request is answered at once, in the asking worker, as a
 * store that does not answer is (a lookup SF_LOCATION_ERROR_UNAVAILABLE, 503
 * at the proxy; an update SF_LOCATION_ERROR_STORE_FAILED, 500 with
 * Retry-After at the registrar), so a worker 0 that falls behind makes the
 * others refuse, not queue without end.
 *
 * Threads: a request is owned by one worker at a time (the asker, then worker
 * 0 while its location has it, then the asker again); nothing is shared but
 * the Link, whose counts are atomic and whose closed flag only the asking
 * worker reads and writes (the answer runs in its thread), the mirror
 * (under its mutex), and the bindings of a result, which worker 0's core
 * holds too: their reference counts are atomic and a binding with two owners
 * is never changed (sf-location.h). */
#include "config.h"
#include "sf-location-store.h"
#include "sf-location-mirror.h"
#include "framework/sf-workers.h"
#include <string.h>

/* What outlives the store while its requests travel: they find it closed. */
typedef struct {
  gatomicrefcount ref;
  gint in_flight;    /* atomic: Asks alive (made by the asker, freed by whichever worker has it) */
  gboolean closed;   /* the asking worker's: set by close, read by the answer */
} Link;

typedef struct {
  SfLocStore base;
  SfWorkers *set;    /* unowned: it goes after the engines' location services */
  guint w;           /* this worker */
  SfLocation *home;  /* unowned: worker 0's, used only in worker 0's thread */
  Link *link;        /* owned ref */
  guint max_asks;    /* requests in flight at most (0: no limit) */
  guint64 busy;      /* requests answered at once past max_asks */
  SfLocMirror *mirror; /* owned ref, nullable: worker 0's bindings, read for lookups */
  GQueue ready;      /* Ready*: lookups answered from the mirror, to deliver next turn */
  GSource *idle;     /* owned ref, while ready is not empty: delivers it */
} WorkerStore;

/* A lookup's answer from the mirror, waiting for the asker's next turn. */
typedef struct {
  gpointer data;       /* the asking SfLocation's request */
  GPtrArray *bindings; /* owned */
  gboolean closed;     /* the mirror was closed (worker 0's location gone): unavailable */
} Ready;

static void
ready_free (gpointer p)
{
  Ready *r = p;
  g_ptr_array_unref (r->bindings);
  g_free (r);
}

/* A lookup or an update on its way to worker 0 and back; every string owned. */
typedef struct {
  WorkerStore *store;  /* valid only while !link->closed, in the asking worker */
  Link *link;          /* owned ref */
  SfWorkers *set;
  guint w;
  SfLocation *home;
  gpointer data;       /* the asking SfLocation's request (answered's data) */
  gboolean at_home;    /* worker 0 took it from the inbox: its location holds it, then the way
                        * back; set once, never cleared */
  char *aor;
  gboolean update;
  char *call_id;
  guint32 cseq;
  gboolean has_origin;
  char *origin[6];     /* source, transport, local, flow, path, node */
  gboolean remove_all;
  SfLocChange *changes;
  guint n_changes;
  SfLocationResult *result; /* on the way back */
} Ask;

static void
link_unref (Link *l)
{
  if (g_atomic_ref_count_dec (&l->ref))
    g_free (l);
}

static void
ask_free (gpointer p)
{
  Ask *a = p;
  g_atomic_int_add (&a->link->in_flight, -1);
  link_unref (a->link);
  g_free (a->aor);
  g_free (a->call_id);
  for (guint i = 0; i < G_N_ELEMENTS (a->origin); i++)
    g_free (a->origin[i]);
  for (guint k = 0; k < a->n_changes; k++) {
    g_free ((char *) a->changes[k].contact);
    g_free ((char *) a->changes[k].instance);
  }
  g_free (a->changes);
  g_clear_pointer (&a->result, sf_location_result_free);
  g_free (a);
}

/* The destroy of the way to worker 0: an Ask at_home took is no longer the
 * inbox's (worker 0's location frees it, or home_done hands it back);
 * only one dropped before it ran is freed here.  The flag is never cleared,
 * so this holds even when the location answers inside at_home's call. */
static void
ask_drop (gpointer p)
{
  Ask *a = p;
  if (!a->at_home)
    ask_free (a);
}

/* In the asking worker: the answer, unless its location closed meanwhile
 * (then the request it answered is gone with it). */
static void
back (gpointer p)
{
  Ask *a = p;
  if (a->link->closed)
    return;
  SfLocationResult *r = a->result;
  GPtrArray *bindings = r->error == NULL ? g_steal_pointer (&r->bindings) : NULL;
  a->store->base.answered (r->error, bindings, a->data);
}

/* In worker 0: its location's result, posted back; the way back owns the
 * Ask (freed once back ran, or when the inbox is dropped). */
static void
home_done (SfLocationResult *result, gpointer p)
{
  Ask *a = p;
  a->result = result;
  sf_workers_hand (a->set, 0, a->w, back, a, ask_free);
}

/* In worker 0: the request run on its location. */
static void
at_home (gpointer p)
{
  Ask *a = p;
  a->at_home = TRUE; /* from here the location has it: home_done or its data_free */
  if (!a->update) {
    sf_location_lookup (a->home, a->aor, home_done, a, ask_free);
    return;
  }
  SfLocOrigin o = { a->origin[0], a->origin[1], a->origin[2], a->origin[3], a->origin[4], a->origin[5] };
  sf_location_update (a->home, a->aor, a->call_id, a->cseq, a->has_origin ? &o : NULL, a->remove_all, a->changes,
                      a->n_changes, home_done, a, ask_free);
}

static Ask *
ask_new (WorkerStore *s, const char *aor, gpointer data)
{
  Ask *a = g_new0 (Ask, 1);
  a->store = s;
  g_atomic_ref_count_inc (&s->link->ref);
  g_atomic_int_inc (&s->link->in_flight);
  a->link = s->link;
  a->set = s->set;
  a->w = s->w;
  a->home = s->home;
  a->data = data;
  a->aor = g_strdup (aor);
  return a;
}

static gboolean
busy_back (gpointer p)
{
  back (p);
  return G_SOURCE_REMOVE;
}

/* Sends @a (made) to worker 0, or past max_asks answers it busy: in a later
 * iteration of the asking worker's context (a store never answers inside
 * the call that asked). */
static void
ask_send (WorkerStore *s, Ask *a)
{
  guint n = (guint) g_atomic_int_get (&s->link->in_flight);
  if (s->max_asks == 0 || n <= s->max_asks) {
    sf_workers_hand (s->set, s->w, 0, at_home, a, ask_drop);
    return;
  }
  s->busy++;
  a->result = g_new0 (SfLocationResult, 1);
  a->result->error = g_error_new (SF_LOCATION_ERROR, a->update ? SF_LOCATION_ERROR_STORE_FAILED : SF_LOCATION_ERROR_UNAVAILABLE,
                                  "worker 0's location busy: %u requests in flight", n - 1);
  GSource *src = g_idle_source_new ();
  g_source_set_callback (src, busy_back, a, ask_free);
  g_source_attach (src, g_main_context_get_thread_default ());
  g_source_unref (src);
}

/* The lookups answered from the mirror in earlier turns (those queued when
 * it started: one answered may ask again, for the next turn).  A lookup
 * made after worker 0's location closed (at shutdown) is answered
 * unavailable, as a store that cannot answer is (503 at the proxy), not
 * left waiting; one read before gets what it read. */
static gboolean
deliver_ready (gpointer p)
{
  WorkerStore *s = p;
  Link *link = s->link;
  g_atomic_ref_count_inc (&link->ref);
  for (guint n = s->ready.length; n > 0 && !link->closed; n--) {
    Ready *r = g_queue_pop_head (&s->ready);
    gpointer data = r->data;
    g_autoptr (GError) error = r->closed ? g_error_new_literal (SF_LOCATION_ERROR, SF_LOCATION_ERROR_UNAVAILABLE,
                                                                "worker 0's location is closed")
                                         : NULL;
    GPtrArray *bindings = g_steal_pointer (&r->bindings);
    g_free (r);
    if (error != NULL)
      g_clear_pointer (&bindings, g_ptr_array_unref);
    s->base.answered (error, bindings, data); /* may close the store: s is gone then */
  }
  gboolean more = !link->closed && s->ready.length > 0;
  if (!link->closed && !more)
    g_clear_pointer (&s->idle, g_source_unref);
  link_unref (link);
  return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
worker_lookup (SfLocStore *base, const char *aor, gint64 now, gpointer data)
{
  WorkerStore *s = (WorkerStore *) base;
  if (s->mirror == NULL) {
    ask_send (s, ask_new (s, aor, data));
    return;
  }
  Ready *r = g_new (Ready, 1);
  r->data = data;
  r->bindings = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
  r->closed = !sf_loc_mirror_read (s->mirror, aor, now, r->bindings);
  g_queue_push_tail (&s->ready, r);
  if (s->idle == NULL) {
    s->idle = g_idle_source_new ();
    g_source_set_priority (s->idle, G_PRIORITY_DEFAULT); /* as the memory core's results */
    g_source_set_callback (s->idle, deliver_ready, s, NULL);
    g_source_attach (s->idle, g_main_context_get_thread_default ());
  }
}

static void
worker_update (SfLocStore *base, const char *aor, const SfLocUpdate *u, gint64 now, gpointer data)
{
  (void) now;
  WorkerStore *s = (WorkerStore *) base;
  Ask *a = ask_new (s, aor, data);
  a->update = TRUE;
  a->call_id = g_strdup (u->call_id);
  a->cseq = u->cseq;
  a->remove_all = u->remove_all;
  if (u->origin != NULL) {
    const char *o[] = { u->origin->source, u->origin->transport, u->origin->local,
                        u->origin->flow,   u->origin->path,      u->origin->node };
    a->has_origin = TRUE;
    for (guint i = 0; i < G_N_ELEMENTS (a->origin); i++)
      a->origin[i] = g_strdup (o[i]);
  }
  /* As many as the REGISTER carried: the message's own bounds (its size, its
   * header count) bound the copy; worker 0 then applies the location's limits. */
  a->n_changes = u->n_changes;
  a->changes = g_new0 (SfLocChange, MAX (u->n_changes, 1));
  for (guint k = 0; k < u->n_changes; k++) {
    a->changes[k] = u->changes[k];
    a->changes[k].contact = g_strdup (u->changes[k].contact);
    a->changes[k].instance = g_strdup (u->changes[k].instance);
  }
  ask_send (s, a);
}

static void
worker_close (SfLocStore *base)
{
  WorkerStore *s = (WorkerStore *) base;
  s->link->closed = TRUE;
  link_unref (s->link);
  if (s->idle != NULL) {
    g_source_destroy (s->idle);
    g_source_unref (s->idle);
  }
  g_queue_clear_full (&s->ready, ready_free); /* their requests go with the asking location */
  g_clear_pointer (&s->mirror, sf_loc_mirror_unref);
  g_free (s);
}

static const SfLocStoreClass worker_class = {
  .close = worker_close,
  .lookup = worker_lookup,
  .update = worker_update,
};

/* A closed flow's name on its way to worker 0 (sf_loc_worker_remove_flow). */
typedef struct {
  SfLocation *home;  /* unowned: used only in worker 0's thread, as an Ask's */
  char *flow;        /* owned */
} FlowGone;

static void
flow_gone_free (gpointer p)
{
  FlowGone *f = p;
  g_free (f->flow);
  g_free (f);
}

static void
flow_gone_at_home (gpointer p)
{
  FlowGone *f = p;
  sf_location_remove_flow (f->home, f->flow);
}

gboolean
sf_loc_worker_remove_flow (SfLocStore *base, const char *flow)
{
  if (base->klass != &worker_class)
    return FALSE;
  WorkerStore *s = (WorkerStore *) base;
  FlowGone *f = g_new (FlowGone, 1);
  f->home = s->home;
  f->flow = g_strdup (flow);
  /* offered, not handed: a remote party closes connections at its will, so
   * the inbox's bound holds (one refused leaves its bindings to expire) */
  sf_workers_offer (s->set, s->w, 0, flow_gone_at_home, f, flow_gone_free, sizeof *f + strlen (flow));
  return TRUE;
}

guint64
sf_loc_worker_busy (SfLocStore *base)
{
  return base->klass == &worker_class ? ((WorkerStore *) base)->busy : 0;
}

SfLocStore *
sf_loc_worker_open (SfWorkers *set, guint w, SfLocation *home, guint max_asks, SfLocAnswered answered)
{
  g_return_val_if_fail (set != NULL && w > 0 && w < sf_workers_n (set) && home != NULL, NULL);
  WorkerStore *s = g_new0 (WorkerStore, 1);
  s->base.klass = &worker_class;
  s->base.answered = answered;
  s->set = set;
  s->w = w;
  s->home = home;
  s->max_asks = max_asks;
  s->mirror = sf_location_mirror (home);
  g_queue_init (&s->ready);
  s->link = g_new0 (Link, 1);
  g_atomic_ref_count_init (&s->link->ref);
  return &s->base;
}
