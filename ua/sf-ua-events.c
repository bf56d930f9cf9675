/* sf-ua-events.c: reading event files (see sf-ua-events.h). */
#include "config.h"
#include "sf-ua-events.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Warnings printed per file before only counting: a file that is not an
 * event file at all would otherwise print one line per line. */
#define MAX_WARNINGS 10

struct _SfUaEvents {
  char *path;          /* owned */
  FILE *f;             /* owned */
  guint line;          /* the last line read */
  guint bad;
  gboolean quiet;
  GString *buf;        /* owned: the current line */
  JsonParser *parser;  /* owned: holds the current line's object */
};

SfUaEvents *
sf_ua_events_open (const char *path, GError **error)
{
  FILE *f = fopen (path, "r");
  if (f == NULL) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path, g_strerror (e));
    return NULL;
  }
  SfUaEvents *r = g_new0 (SfUaEvents, 1);
  r->path = g_strdup (path);
  r->f = f;
  r->buf = g_string_new (NULL);
  r->parser = json_parser_new_immutable ();
  return r;
}

void
sf_ua_events_free (SfUaEvents *r)
{
  if (r == NULL)
    return;
  if (r->bad > MAX_WARNINGS && !r->quiet)
    g_printerr ("%s: %u bad lines in all, skipped\n", r->path, r->bad);
  fclose (r->f);
  g_string_free (r->buf, TRUE);
  g_object_unref (r->parser);
  g_free (r->path);
  g_free (r);
}

guint
sf_ua_events_bad (SfUaEvents *r)
{
  return r->bad;
}

void
sf_ua_events_set_quiet (SfUaEvents *r, gboolean quiet)
{
  r->quiet = quiet;
}

static void
bad_v (SfUaEvents *r, const char *fmt, va_list ap)
{
  r->bad++;
  if (r->bad > MAX_WARNINGS || r->quiet)
    return;
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  for (char *c = msg; *c != '\0'; c++) /* the line's own bytes never reach the terminal raw */
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = '?';
  g_printerr ("%s:%u: warning: %s: line skipped%s\n", r->path, r->line, msg,
              r->bad == MAX_WARNINGS ? " (further bad lines are only counted)" : "");
}

static void bad (SfUaEvents *r, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
bad (SfUaEvents *r, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  bad_v (r, fmt, ap);
  va_end (ap);
}

void
sf_ua_events_reject (SfUaEvents *r, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  bad_v (r, fmt, ap);
  va_end (ap);
}

/* Reads one line into r->buf without its line end (byte by byte: a NUL in
 * the line stays in it, and the line count stays true).  FALSE at the end of
 * the file; *@too_long when the line passed the bound (its bytes dropped). */
static gboolean
read_line (SfUaEvents *r, gboolean *too_long)
{
  g_string_truncate (r->buf, 0);
  *too_long = FALSE;
  gboolean any = FALSE;
  int c;
  while ((c = getc_unlocked (r->f)) != EOF) {
    any = TRUE;
    if (c == '\n')
      break;
    if (r->buf->len >= SF_UA_EVENT_MAX_LINE)
      *too_long = TRUE;
    else
      g_string_append_c (r->buf, (char) c);
  }
  if (any)
    r->line++;
  return any;
}

gboolean
sf_ua_events_too_deep (const char *s, gsize len)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > SF_UA_EVENT_MAX_DEPTH)
        return TRUE;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return FALSE;
}

JsonObject *
sf_ua_events_next (SfUaEvents *r, guint *line)
{
  gboolean too_long;
  while (read_line (r, &too_long)) {
    *line = r->line;
    if (too_long) {
      bad (r, "longer than %d bytes", SF_UA_EVENT_MAX_LINE);
      continue;
    }
    if (r->buf->len > 0 && r->buf->str[r->buf->len - 1] == '\r')
      g_string_truncate (r->buf, r->buf->len - 1);
    if (r->buf->len == 0)
      continue;
    if (sf_ua_events_too_deep (r->buf->str, r->buf->len)) {
      bad (r, "nested deeper than %d", SF_UA_EVENT_MAX_DEPTH);
      continue;
    }
    g_autoptr (GError) error = NULL;
    if (!json_parser_load_from_data (r->parser, r->buf->str, (gssize) r->buf->len, &error)) {
      bad (r, "not JSON (%s)", error->message);
      continue;
    }
    JsonNode *root = json_parser_get_root (r->parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
      bad (r, "not a JSON object");
      continue;
    }
    JsonObject *o = json_node_get_object (root);
    if (sf_ua_events_str (o, "event") == NULL) {
      bad (r, "no \"event\" name");
      continue;
    }
    return o;
  }
  if (ferror (r->f)) {
    r->line++;
    bad (r, "read error (%s)", g_strerror (errno));
  }
  return NULL;
}

const char *
sf_ua_events_str (JsonObject *o, const char *member)
{
  JsonNode *n = json_object_get_member (o, member);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}
