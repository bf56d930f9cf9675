/* sf-ua-log.c: the log writer: structured GLib logs as one line each on
 * standard error, filtered by level (core.log_level / --log-level); a line
 * carrying the field SF_LOG_FIELD_AUDIT (the "auth failed" lines for fail2ban)
 * is written whatever the level. */
#include "config.h"
#include "sf-ua.h"
#include <stdio.h>
#include <string.h>

static GLogLevelFlags threshold = G_LOG_LEVEL_WARNING;

static const char *
level_name (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK) {
  case G_LOG_LEVEL_ERROR: return "error";
  case G_LOG_LEVEL_CRITICAL: return "critical";
  case G_LOG_LEVEL_WARNING: return "warning";
  case G_LOG_LEVEL_MESSAGE: return "message";
  case G_LOG_LEVEL_INFO: return "info";
  case G_LOG_LEVEL_DEBUG: return "debug";
  default: return "log";
  }
}

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const char *domain = NULL, *message = NULL;
  gboolean audit = FALSE;
  for (gsize i = 0; i < n_fields; i++) {
    if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (strcmp (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
    else if (strcmp (fields[i].key, SF_LOG_FIELD_AUDIT) == 0)
      audit = TRUE;
  }
  /* GLib levels: smaller flag values are more severe. */
  if ((level & G_LOG_LEVEL_MASK) > threshold && !audit)
    return G_LOG_WRITER_HANDLED;
  /* One message, one line: a control character a peer put in a value (a %0A in a
   * Request-URI's user part, unescaped) is written as an escape, so it cannot forge
   * a line of its own (an "auth failed" line for fail2ban, docs/security.md). */
  GString *line = g_string_new (NULL);
  for (const char *p = message != NULL ? message : ""; *p != '\0'; p++) {
    guchar c = (guchar) *p;
    if (c == '\n')
      g_string_append (line, "\\n");
    else if (c == '\r')
      g_string_append (line, "\\r");
    else if (c < 0x20 || c == 0x7f)
      g_string_append_printf (line, "\\x%02x", c);
    else
      g_string_append_c (line, (char) c);
  }
  fprintf (stderr, "%s: %s: %s\n", domain != NULL ? domain : "sipflow", level_name (level), line->str);
  g_string_free (line, TRUE);
  return G_LOG_WRITER_HANDLED;
}

void
sf_ua_log_init (const char *level)
{
  static const struct { const char *name; GLogLevelFlags flag; } levels[] = {
    { "error", G_LOG_LEVEL_ERROR },     { "critical", G_LOG_LEVEL_CRITICAL }, { "warning", G_LOG_LEVEL_WARNING },
    { "message", G_LOG_LEVEL_MESSAGE }, { "info", G_LOG_LEVEL_INFO },         { "debug", G_LOG_LEVEL_DEBUG },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_strcmp0 (level, levels[i].name) == 0)
      threshold = levels[i].flag;
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    g_log_set_writer_func (writer, NULL, NULL);
    g_once_init_leave (&once, 1);
  }
}
