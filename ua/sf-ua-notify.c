/* sf-ua-notify.c: systemd's service notifications (see sf-ua-notify.h). */
#include "config.h"
#include "sf-ua-notify.h"
#include <systemd/sd-daemon.h>

/* @state to systemd; a failure is logged once at info (the service runs on:
 * systemd then times its start out, which says more than we could). */
static void
notify (const char *state)
{
  static gboolean said;
  int rc = sd_notify (0, state);
  if (rc < 0 && !said) {
    said = TRUE;
    g_info ("sd_notify: %s", g_strerror (-rc));
  }
}

/* "STATUS=" and @status on one line: each assignment ends at a newline. */
static char *
status_line (const char *status)
{
  char *line = g_strconcat ("STATUS=", status, NULL);
  g_strdelimit (line, "\n", ' ');
  return line;
}

void
sf_ua_notify_ready (const char *status)
{
  g_autofree char *st = status != NULL ? status_line (status) : NULL;
  g_autofree char *state = g_strconcat ("READY=1", st != NULL ? "\n" : NULL, st, NULL);
  notify (state);
}

void
sf_ua_notify_reloading (void)
{
  /* systemd (from 253, Type=notify-reload) matches MONOTONIC_USEC with its
   * own reload request; GLib's monotonic clock is CLOCK_MONOTONIC, as it wants */
  g_autofree char *state = g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  notify (state);
}

void
sf_ua_notify_stopping (void)
{
  notify ("STOPPING=1");
}

void
sf_ua_notify_status (const char *status)
{
  g_autofree char *state = status_line (status);
  notify (state);
}

static gboolean
watchdog_ping (gpointer data)
{
  notify ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

guint
sf_ua_notify_watchdog_start (void)
{
  guint64 usec = 0;
  if (sd_watchdog_enabled (0, &usec) <= 0 || usec == 0)
    return 0;
  /* half the interval (systemd's advice), at least a millisecond */
  guint ms = (guint) MAX (usec / 2000, 1);
  notify ("WATCHDOG=1");
  return g_timeout_add (ms, watchdog_ping, NULL);
}
