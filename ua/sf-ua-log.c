/* sf-ua-log.c: the log writer: structured GLib logs as one line each on
 * standard error, filtered by level (core.log_level / --log-level); a line
 * carrying the field SF_LOG_FIELD_AUDIT (the "auth failed" lines for fail2ban)
 * is written whatever the level.  A service whose standard error is the
 * journal's sends each line to the journal itself, with its fields
 * (framework/sf-log.h), or, when the journal's socket cannot be reached, writes
 * it with its syslog priority first. */
#include "config.h"
#include "sf-ua.h"
#include "framework/sf-log.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static GLogLevelFlags threshold = G_LOG_LEVEL_WARNING;
/* Standard error is the journal's (systemd's JOURNAL_STREAM names it): each
 * line goes to the journal's socket with its fields or, failing that, starts
 * with its syslog priority, "<4>", which journald reads as the line's priority
 * and strips. */
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

/* @message as one line: a control character a peer put in a value (a %0A in a
 * Request-URI's user part, unescaped) is written as an escape, so it cannot
 * forge a line of its own (an "auth failed" line for fail2ban,
 * docs/security.md) (transfer full). */
static char *
one_line (const char *message)
{
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
  return g_string_free (line, FALSE);
}

/* Most fields sent to the journal (sf_log_fields' lines have at most a dozen). */
#define MAX_JOURNAL_FIELDS 32

/* The line to the journal's own socket with its fields (CALL_ID,
 * SIPFLOW_INSTANCE..., docs/operations.md "Logs"), @line for MESSAGE;
 * G_LOG_WRITER_UNHANDLED when the journal cannot be reached. */
static GLogWriterOutput
to_journal (GLogLevelFlags level, const GLogField *fields, gsize n_fields, const char *line)
{
  GLogField out[MAX_JOURNAL_FIELDS];
  gsize n = 0;
  out[n++] = (GLogField) { "MESSAGE", line, -1 };
  out[n++] = (GLogField) { "SYSLOG_IDENTIFIER", "sipflow", -1 };
  for (gsize i = 0; i < n_fields && n < MAX_JOURNAL_FIELDS; i++)
    if (strcmp (fields[i].key, "MESSAGE") != 0 && strcmp (fields[i].key, "SYSLOG_IDENTIFIER") != 0)
      out[n++] = fields[i];
  return g_log_writer_journald (level, out, n, NULL);
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
  g_autofree char *line = one_line (message);
  if (journal && to_journal (level, fields, n_fields, line) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  if (journal)
    fprintf (stderr, "<%d>", syslog_priority (level));
  fprintf (stderr, "%s: %s: %s\n", domain != NULL ? domain : "sipflow", level_name (level), line);
  return G_LOG_WRITER_HANDLED;
}

void
sf_ua_log_init (const char *level)
{
  threshold = sf_log_level_from_name (level, threshold);
  journal = stderr_is_journal ();
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    g_log_set_writer_func (writer, NULL, NULL);
    g_once_init_leave (&once, 1);
  }
}
