/* sf-timer.c: the endpoint's timer heap (see sf-timer.h). */
#include "config.h"
#include "sf-timer.h"

struct _SfTimer {
  gint64 deadline;
  guint64 seq;          /* insertion order: ties fire first-in first-out */
  guint slot;           /* index in heap->v */
  gpointer data;        /* owned through destroy */
  GDestroyNotify destroy;
};

struct _SfTimerHeap {
  GPtrArray *v;         /* SfTimer*, heap-ordered */
  guint64 seq;
};

static gboolean
before (const SfTimer *a, const SfTimer *b)
{
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void
put (SfTimerHeap *h, guint i, SfTimer *t)
{
  h->v->pdata[i] = t;
  t->slot = i;
}

static void
sift_up (SfTimerHeap *h, guint i)
{
  SfTimer *t = h->v->pdata[i];
  while (i > 0) {
    guint parent = (i - 1) / 2;
    SfTimer *p = h->v->pdata[parent];
    if (!before (t, p))
      break;
    put (h, i, p);
    i = parent;
  }
  put (h, i, t);
}

static void
sift_down (SfTimerHeap *h, guint i)
{
  guint n = h->v->len;
  SfTimer *t = h->v->pdata[i];
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    SfTimer *best = t;
    if (l < n && before (h->v->pdata[l], best)) {
      m = l;
      best = h->v->pdata[l];
    }
    if (r < n && before (h->v->pdata[r], best)) {
      m = r;
      best = h->v->pdata[r];
    }
    if (m == i)
      break;
    put (h, i, best);
    i = m;
  }
  put (h, i, t);
}

SfTimerHeap *
sf_timer_heap_new (void)
{
  SfTimerHeap *h = g_new0 (SfTimerHeap, 1);
  h->v = g_ptr_array_new ();
  return h;
}

static void
timer_free (SfTimer *t)
{
  if (t->destroy != NULL && t->data != NULL)
    t->destroy (t->data);
  g_free (t);
}

void
sf_timer_heap_free (SfTimerHeap *heap)
{
  if (heap == NULL)
    return;
  for (guint i = 0; i < heap->v->len; i++)
    timer_free (heap->v->pdata[i]);
  g_ptr_array_unref (heap->v);
  g_free (heap);
}

SfTimer *
sf_timer_heap_add (SfTimerHeap *heap, gint64 deadline_us, gpointer data, GDestroyNotify destroy)
{
  SfTimer *t = g_new0 (SfTimer, 1);
  t->deadline = deadline_us;
  t->seq = heap->seq++;
  t->data = data;
  t->destroy = destroy;
  g_ptr_array_add (heap->v, t);
  sift_up (heap, heap->v->len - 1);
  return t;
}

/* Takes @t out of the heap without freeing it. */
static void
detach (SfTimerHeap *heap, SfTimer *t)
{
  guint i = t->slot;
  guint last = heap->v->len - 1;
  g_return_if_fail (i <= last && heap->v->pdata[i] == t);
  SfTimer *moved = heap->v->pdata[last];
  g_ptr_array_set_size (heap->v, last);
  if (i == last)
    return;
  put (heap, i, moved);
  if (i > 0 && before (moved, heap->v->pdata[(i - 1) / 2]))
    sift_up (heap, i);
  else
    sift_down (heap, i);
}

void
sf_timer_heap_remove (SfTimerHeap *heap, SfTimer *timer)
{
  detach (heap, timer);
  timer_free (timer);
}

gint64
sf_timer_heap_next_deadline (SfTimerHeap *heap)
{
  if (heap->v->len == 0)
    return G_MAXINT64;
  return ((SfTimer *) heap->v->pdata[0])->deadline;
}

gpointer
sf_timer_heap_pop_due (SfTimerHeap *heap, gint64 now_us, gint64 *deadline_us)
{
  /* a timer of sf_timer_heap_add_sized keeps its data in its own block:
   * freeing it here would hand back freed bytes, so it is taken, never popped */
  if (heap->v->len > 0)
    g_return_val_if_fail (((SfTimer *) heap->v->pdata[0])->data != (gpointer) ((SfTimer *) heap->v->pdata[0] + 1), NULL);
  SfTimer *t = sf_timer_heap_take_due (heap, now_us);
  if (t == NULL)
    return NULL;
  gpointer data = t->data;
  if (deadline_us != NULL)
    *deadline_us = t->deadline;
  g_free (t);
  return data;
}

SfTimer *
sf_timer_heap_add_sized (SfTimerHeap *heap, gint64 deadline_us, gsize size)
{
  /* the data right after the struct: sizeof keeps it aligned as the struct is (8) */
  SfTimer *t = g_malloc (sizeof (SfTimer) + size);
  t->deadline = deadline_us;
  t->seq = heap->seq++;
  t->data = t + 1;
  t->destroy = NULL;
  g_ptr_array_add (heap->v, t);
  sift_up (heap, heap->v->len - 1);
  return t;
}

gpointer
sf_timer_data (SfTimer *timer)
{
  return timer->data;
}

SfTimer *
sf_timer_heap_take_due (SfTimerHeap *heap, gint64 now_us)
{
  if (heap->v->len == 0)
    return NULL;
  SfTimer *t = heap->v->pdata[0];
  if (t->deadline > now_us)
    return NULL;
  detach (heap, t);
  return t;
}

void
sf_timer_free (SfTimer *timer)
{
  timer_free (timer);
}

guint
sf_timer_heap_size (SfTimerHeap *heap)
{
  return heap->v->len;
}

gint64
sf_timer_deadline (gint64 now_us, guint64 ms)
{
  gint64 d = now_us + (gint64) ms * 1000;
  if (ms < SF_TIMER_COARSE_MS)
    return d;
  gint64 r = d % SF_TIMER_GRID_US;
  if (r < 0)
    r += SF_TIMER_GRID_US; /* a clock before its epoch (a fake one may start anywhere) */
  return r == 0 ? d : d + (SF_TIMER_GRID_US - r);
}
