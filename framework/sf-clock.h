/* sf-clock.h: the injectable clock behind every timer (docs/style.md, GstTestClock).
 * The system clock reads the monotonic time; the fake clock moves only when a
 * test advances it, so timer tests never sleep. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _SfClock SfClock;

SfClock *sf_clock_new_system (void);
SfClock *sf_clock_new_fake (gint64 start_us);
void sf_clock_free (SfClock *clock);
gint64 sf_clock_now_us (SfClock *clock);
gboolean sf_clock_is_fake (SfClock *clock);
/* The wall-clock time in microseconds since 1970 (g_get_real_time); a fake
 * clock's own time, so that tests read the same "ts" every run. */
gint64 sf_clock_wall_us (SfClock *clock);
/* Fake clocks only: sets the time (never backwards). */
void sf_clock_fake_set_us (SfClock *clock, gint64 now_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfClock, sf_clock_free)

G_END_DECLS
