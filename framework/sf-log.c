/* sf-log.c: structured log lines (see sf-log.h). */
#include "config.h"
#include "sf-log.h"

GLogLevelFlags
sf_log_level_from_name (const char *name, GLogLevelFlags fallback)
{
  static const struct { const char *name; GLogLevelFlags flag; } levels[] = {
    { "error", G_LOG_LEVEL_ERROR },     { "critical", G_LOG_LEVEL_CRITICAL }, { "warning", G_LOG_LEVEL_WARNING },
    { "message", G_LOG_LEVEL_MESSAGE }, { "info", G_LOG_LEVEL_INFO },         { "debug", G_LOG_LEVEL_DEBUG },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_strcmp0 (name, levels[i].name) == 0)
      return levels[i].flag;
  return fallback;
}

/* The syslog priority journald files a GLib level under (GLib's own mapping). */
static const char *
priority (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK) {
  case G_LOG_LEVEL_ERROR: return "3";
  case G_LOG_LEVEL_CRITICAL: return "4";
  case G_LOG_LEVEL_WARNING: return "4";
  case G_LOG_LEVEL_MESSAGE: return "5";
  case G_LOG_LEVEL_INFO: return "6";
  default: return "7";
  }
}

/* Most fields of one line: the three of every line and the extras. */
#define MAX_FIELDS 12

void
sf_log_fields (GLogLevelFlags level, const GLogField *extra, gsize n_extra, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* g_log_structured_array adds none of the fields g_log_structured does */
  GLogField fields[MAX_FIELDS] = {
    { "MESSAGE", text, -1 },
    { "PRIORITY", priority (level), -1 },
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
  };
  gsize n = 3;
  for (gsize i = 0; i < n_extra && n < MAX_FIELDS; i++)
    if (extra[i].value != NULL)
      fields[n++] = extra[i];
  g_log_structured_array (level & G_LOG_LEVEL_MASK, fields, n);
}
