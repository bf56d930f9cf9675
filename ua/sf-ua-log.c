/* sf-ua-log.c: the log writer: structured GLib logs as one line each on
 * standard error, filtered by level (core.log_level / --log-level); a line
 * carrying the field SF_LOG_FIELD_AUDIT (the "auth failed" lines for fail2ban)
 * is written whatever the level. */
#include "config.h"
#include "sf-ua.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static GLogLevelFlags threshold = G_LOG_LEVEL_WARNING;
/* Standard error is the journal's (systemd's JOURNAL_STREAM names it): each
 * line starts with its syslog priority, "<4>", which journald reads as the
 * line's priority and strips. */
static gboolean journal;

/* Does JOURNAL_STREAM ("DEVICE:INODE", set by systemd for a service whose
 * output goes to the journal) name standard error?  Compared, since a child
 * may inherit the variable with its standard error sent elsewhere. */
static gboolean
stderr_is_journal (void)
{
  const char *v = g_getenv ("JOURNAL_STREAM");
  guint64 dev, ino;
  char *end = NULL;
  if (v == NULL)
    return FALSE;
  dev = g_ascii_strtoull (v, &end, 10);
  if (end == v || *end != ':')
    return FALSE;
  const char *rest = end + 1;
  ino = g_ascii_strtoull (rest, &end, 10);
  if (end == rest || *end != '\0')
    return FALSE;
  struct stat st;
  return fstat (STDERR_FILENO, &st) == 0 && (guint64) st.st_dev == dev && (guint64) st.st_ino == ino;
}

static int
syslog_priority (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK) {
  case G_LOG_LEVEL_ERROR: return 3;
  case G_LOG_LEVEL_CRITICAL: return 2;
  case G_LOG_LEVEL_WARNING: return 4;
  case G_LOG_LEVEL_MESSAGE: return 5;
  case G_LOG_LEVEL_INFO: return 6;
  default: return 7;
  }
}

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
  if (journal)
    fprintf (stderr, "<%d>", syslog_priority (level));
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
  journal = stderr_is_journal ();
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    g_log_set_writer_func (writer, NULL, NULL);
    g_once_init_leave (&once, 1);
  }
}
