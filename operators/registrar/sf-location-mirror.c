/* sf-location-mirror.c: worker 0's bindings for the other workers to read
 * (sf-location-mirror.h; docs/workers.md, "The location service").
 *
 * One mutex over a hash of address-of-record -> the bindings last published
 * for it.  A reader holds it while it takes references to a list's bindings
 * (32 at most, SF_LOCATION_MAX_BINDINGS), the writer while it swaps one
 * list for another; the lists are built and freed outside it.  With two
 * workers one lock is enough: a lookup holds it for a few dozen
 * instructions, and striping it would pay for contention that is not there. */
#include "config.h"
#include "sf-location-mirror.h"

/* One address-of-record's bindings as published: never changed once made. */
typedef struct {
  guint n;
  SfLocBinding *b[]; /* owned refs */
} List;

/* The hash's value; its key is the aor it holds. */
typedef struct {
  char *aor;         /* owned */
  List *list;        /* owned */
} Slot;

struct _SfLocMirror {
  gatomicrefcount ref;
  gint on;           /* atomic: set once by sf_loc_mirror_enable */
  GMutex lock;
  GHashTable *aors;  /* under lock: aor -> Slot*; NULL until on, and once closed */
  gboolean closed;   /* under lock */
};

static void
list_free (List *l)
{
  if (l == NULL)
    return;
  for (guint i = 0; i < l->n; i++)
    sf_loc_binding_free (l->b[i]);
  g_free (l);
}

static List *
list_new (const GPtrArray *bindings)
{
  if (bindings == NULL || bindings->len == 0)
    return NULL;
  List *l = g_malloc (sizeof (List) + bindings->len * sizeof (SfLocBinding *));
  l->n = bindings->len;
  for (guint i = 0; i < l->n; i++)
    l->b[i] = sf_loc_binding_ref (bindings->pdata[i]);
  return l;
}

static void
slot_free (gpointer p)
{
  Slot *s = p;
  list_free (s->list);
  g_free (s->aor);
  g_free (s);
}

SfLocMirror *
sf_loc_mirror_new (void)
{
  SfLocMirror *m = g_new0 (SfLocMirror, 1);
  g_atomic_ref_count_init (&m->ref);
  g_mutex_init (&m->lock);
  return m;
}

SfLocMirror *
sf_loc_mirror_ref (SfLocMirror *m)
{
  g_atomic_ref_count_inc (&m->ref);
  return m;
}

void
sf_loc_mirror_unref (SfLocMirror *m)
{
  if (m == NULL || !g_atomic_ref_count_dec (&m->ref))
    return;
  g_clear_pointer (&m->aors, g_hash_table_unref);
  g_mutex_clear (&m->lock);
  g_free (m);
}

gboolean
sf_loc_mirror_on (SfLocMirror *m)
{
  return g_atomic_int_get (&m->on);
}

/* Under the lock: @aor's slot gets @l (taken); the old list is returned for
 * the caller to free outside it. */
static List *
swap (SfLocMirror *m, const char *aor, List *l)
{
  Slot *s = g_hash_table_lookup (m->aors, aor);
  if (s == NULL) {
    if (l != NULL) {
      s = g_new (Slot, 1);
      s->aor = g_strdup (aor);
      s->list = l;
      g_hash_table_insert (m->aors, s->aor, s);
    }
    return NULL;
  }
  List *old = g_steal_pointer (&s->list);
  if (l != NULL)
    s->list = l;
  else
    g_hash_table_remove (m->aors, aor); /* frees the slot, its list already taken */
  return old;
}

void
sf_loc_mirror_enable (SfLocMirror *m, GHashTable *aors)
{
  g_mutex_lock (&m->lock);
  if (!m->on && !m->closed) {
    m->aors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, slot_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, aors);
    while (g_hash_table_iter_next (&it, &k, &v))
      swap (m, k, list_new (v));
    g_atomic_int_set (&m->on, TRUE);
  }
  g_mutex_unlock (&m->lock);
}

void
sf_loc_mirror_publish (SfLocMirror *m, const char *aor, const GPtrArray *list)
{
  if (!g_atomic_int_get (&m->on))
    return;
  List *l = list_new (list);
  g_mutex_lock (&m->lock);
  List *old = m->closed ? l : swap (m, aor, l);
  g_mutex_unlock (&m->lock);
  list_free (old);
}

void
sf_loc_mirror_close (SfLocMirror *m)
{
  g_mutex_lock (&m->lock);
  m->closed = TRUE;
  GHashTable *aors = g_steal_pointer (&m->aors);
  g_mutex_unlock (&m->lock);
  g_clear_pointer (&aors, g_hash_table_unref); /* the bindings go with the core's */
}

gboolean
sf_loc_mirror_read (SfLocMirror *m, const char *aor, gint64 now, GPtrArray *out)
{
  g_mutex_lock (&m->lock);
  gboolean open = !m->closed;
  const Slot *s = open && m->aors != NULL ? g_hash_table_lookup (m->aors, aor) : NULL;
  for (guint i = 0; s != NULL && i < s->list->n; i++)
    if (s->list->b[i]->expires_at > now) /* the core drops them as lazily: filtered by the clock as it does */
      g_ptr_array_add (out, sf_loc_binding_ref (s->list->b[i]));
  g_mutex_unlock (&m->lock);
  return open;
}

guint
sf_loc_mirror_size (SfLocMirror *m)
{
  guint n = 0;
  g_mutex_lock (&m->lock);
  if (m->aors != NULL) {
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init (&it, m->aors);
    while (g_hash_table_iter_next (&it, NULL, &v))
      n += ((Slot *) v)->list->n;
  }
  g_mutex_unlock (&m->lock);
  return n;
}
