/* sf-ua-notify.h: telling systemd how a 'sipflow run' service is doing
 * (Type=notify: sd_notify from libsystemd, docs/operations.md "Running as a
 * service").  Each is a no-op outside systemd (no NOTIFY_SOCKET). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* READY=1 with STATUS=@status (nullable): every socket is open, requests are
 * served.  systemd holds the units ordered after sipflow until then.  Also
 * what ends a reload (after sf_ua_notify_reloading). */
void sf_ua_notify_ready (const char *status);
/* RELOADING=1 with MONOTONIC_USEC (the clock systemd compares with): a reload
 * of the configuration has begun; sf_ua_notify_ready says when it is done. */
void sf_ua_notify_reloading (void);
/* STOPPING=1: the shutdown has begun (the instances are ending). */
void sf_ua_notify_stopping (void);
/* STATUS=@status: one line for 'systemctl status'. */
void sf_ua_notify_status (const char *status);
/* When the unit has WatchdogSec= (WATCHDOG_USEC for this process): a timer on
 * the default main context sends WATCHDOG=1 at half the interval, so a main
 * loop stuck for longer than WatchdogSec= gets the service restarted.  Returns
 * the source's id (remove it at exit), 0 when there is no watchdog. */
guint sf_ua_notify_watchdog_start (void);

G_END_DECLS
