/* sf-clock.c: system and fake clocks (see sf-clock.h). */
#include "config.h"
#include "sf-clock.h"

struct _SfClock {
  gboolean fake;
  gint64 now_us; /* fake clocks only */
};

SfClock *
sf_clock_new_system (void)
{
  return g_new0 (SfClock, 1);
}

SfClock *
sf_clock_new_fake (gint64 start_us)
{
  SfClock *c = g_new0 (SfClock, 1);
  c->fake = TRUE;
  c->now_us = start_us;
  return c;
}

void
sf_clock_free (SfClock *clock)
{
  g_free (clock);
}

gint64
sf_clock_now_us (SfClock *clock)
{
  return clock->fake ? clock->now_us : g_get_monotonic_time ();
}

gint64
sf_clock_wall_us (SfClock *clock)
{
  return clock->fake ? clock->now_us : g_get_real_time ();
}

gboolean
sf_clock_is_fake (SfClock *clock)
{
  return clock->fake;
}

void
sf_clock_fake_set_us (SfClock *clock, gint64 now_us)
{
  g_return_if_fail (clock->fake);
  g_return_if_fail (now_us >= clock->now_us);
  clock->now_us = now_us;
}
