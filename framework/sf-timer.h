/* sf-timer.h: one binary min-heap of timers per endpoint (docs/architecture.md: timers are
 * delayed events in one heap, not one GSource each: Timer H lives 32 s and a busy
 * server holds tens of thousands).  Ties fire in the order they were added.
 * Insert, remove and pop are O(log n); a timer knows its heap slot. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _SfTimerHeap SfTimerHeap;
typedef struct _SfTimer SfTimer;

SfTimerHeap *sf_timer_heap_new (void);
/* Frees the heap and every timer left in it (their data with their destroy function). */
void sf_timer_heap_free (SfTimerHeap *heap);
/* Adds a timer; @data (transfer full) is freed with @destroy when the timer is removed. */
SfTimer *sf_timer_heap_add (SfTimerHeap *heap, gint64 deadline_us, gpointer data, GDestroyNotify destroy);
/* Removes and frees @timer (and its data). */
void sf_timer_heap_remove (SfTimerHeap *heap, SfTimer *timer);
/* The earliest deadline, or G_MAXINT64 when empty. */
gint64 sf_timer_heap_next_deadline (SfTimerHeap *heap);
/* Removes the earliest timer if it is due at @now_us; returns its data (transfer full)
 * and its deadline, or NULL. */
gpointer sf_timer_heap_pop_due (SfTimerHeap *heap, gint64 now_us, gint64 *deadline_us);
guint sf_timer_heap_size (SfTimerHeap *heap);
/* A timer whose data is @size bytes of its own block (uninitialised, for the
 * caller to fill; sf_timer_data), freed with it: one allocation a timer, not
 * two (the engine starts some fourteen a proxied call). */
SfTimer *sf_timer_heap_add_sized (SfTimerHeap *heap, gint64 deadline_us, gsize size);
gpointer sf_timer_data (SfTimer *timer);
/* Takes the earliest timer out of the heap if it is due at @now_us (the
 * caller's: sf_timer_free), or NULL. */
SfTimer *sf_timer_heap_take_due (SfTimerHeap *heap, gint64 now_us);
/* Frees a timer taken out (and its data). */
void sf_timer_free (SfTimer *timer);

/* The deadline of a timer of @ms started at @now_us.  A timer of
 * SF_TIMER_COARSE_MS or more (the transaction's 64*T1 timers B, F, H, J,
 * Timers D, I, K, the proxy's Timer C, a flow's long ones) is due at the next
 * multiple of SF_TIMER_GRID_US at or after now + @ms: never early, at most
 * 100 ms late (2% of 5 s), and the timers of one grid step fire in one loop
 * wake-up (a server answering 1,000 REGISTERs a second ends 1,000 transactions
 * a second; it wakes 10 times for them, not 1,000).  Shorter ones, the T1/T2
 * retransmission timers among them, are due at now + @ms exactly. */
#define SF_TIMER_COARSE_MS 5000
#define SF_TIMER_GRID_US (100 * 1000)
gint64 sf_timer_deadline (gint64 now_us, guint64 ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfTimerHeap, sf_timer_heap_free)

G_END_DECLS
