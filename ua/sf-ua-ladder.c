/* sf-ua-ladder.c: 'sipflow ladder', the ladder diagram of the event files of
 * one or several sipflow processes (docs/teaching.md, "sipflow ladder"), as
 * SVG or as one self-contained HTML page (sf-ladder.c draws it).  Each file is
 * one element; a bad line is reported with its FILE:LINE, counted, and the
 * rest is still drawn. */
#include "config.h"
#include "sf-ua.h"
#include "sf-ladder.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Reads @path ("-": standard input) line by line into element @element of @l,
 * each line bounded (a longer one is reported, its bytes dropped).  FALSE with
 * @error when the file cannot be read or the ladder is full. */
static gboolean
read_file (SfLadder *l, guint element, const char *path, guint *bad, GError **error)
{
  gboolean is_stdin = strcmp (path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen (path, "rb");
  if (f == NULL) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path, g_strerror (e));
    return FALSE;
  }
  g_autoptr (GString) line = g_string_sized_new (4096);
  g_autofree char *buf = g_malloc (64 * 1024);
  gboolean too_long = FALSE, ok = TRUE;
  guint lineno = 0;
  for (;;) {
    size_t n = fread (buf, 1, 64 * 1024, f);
    gboolean eof = n == 0;
    if (eof && ferror (f)) {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path, g_strerror (e));
      ok = FALSE;
      break;
    }
    /* at the end, a last line without its newline */
    if (eof && (line->len > 0 || too_long))
      buf[n++] = '\n';
    for (size_t i = 0; i < n;) {
      const char *nl = memchr (buf + i, '\n', n - i);
      size_t take = nl != NULL ? (size_t) (nl - (buf + i)) : n - i;
      if (!too_long) {
        if (line->len + take > SF_LADDER_MAX_LINE + 1) { /* +1: a CR before the LF */
          too_long = TRUE;
          g_string_truncate (line, 0);
        } else {
          g_string_append_len (line, buf + i, (gssize) take);
        }
      }
      i += take;
      if (nl == NULL)
        break;
      i++;
      lineno++;
      g_autoptr (GError) lerr = NULL;
      if (too_long) {
        g_set_error (&lerr, SF_LADDER_ERROR, SF_LADDER_ERROR_LINE_LONG, "line longer than %d bytes",
                     SF_LADDER_MAX_LINE);
      } else if (strspn (line->str, " \t\r") == line->len) {
        g_string_truncate (line, 0);
        continue; /* a blank line is no event and no error */
      } else {
        sf_ladder_add_line (l, element, line->str, (gssize) line->len, &lerr);
      }
      too_long = FALSE;
      g_string_truncate (line, 0);
      if (lerr == NULL)
        continue;
      if (g_error_matches (lerr, SF_LADDER_ERROR, SF_LADDER_ERROR_FULL)) {
        g_set_error (error, SF_LADDER_ERROR, SF_LADDER_ERROR_FULL, "%s:%u: %s", path, lineno, lerr->message);
        ok = FALSE;
        goto out;
      }
      fprintf (stderr, "sipflow ladder: warning: %s:%u: %s (line skipped)\n", path, lineno, lerr->message);
      (*bad)++;
    }
    if (eof)
      break;
  }
out:
  if (!is_stdin)
    fclose (f);
  return ok;
}

int
sf_ua_cmd_ladder (int argc, char **argv)
{
  g_autofree char *call_id = NULL;
  g_autofree char *format = NULL;
  g_autofree char *out = NULL;
  g_autofree char *title = NULL;
  GOptionEntry entries[] = {
    { "call-id", 0, 0, G_OPTION_ARG_STRING, &call_id,
      "only this call: its messages, and the states and timers of the instances they moved", "ID" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "svg (default; html when OUT ends in .html) or html (one self-contained page)", "svg|html" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "write to OUT instead of standard output", "OUT" },
    { "title", 0, 0, G_OPTION_ARG_STRING, &title, "the HTML page's title (default: the files' names)", "TEXT" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("FILE... - the ladder diagram of sipflow event files");
  g_option_context_set_summary (
    octx, "Each FILE is the event output of one sipflow process ('sipflow run --messages FLOW >FILE'; '-' reads\n"
          "standard input).  One lifeline per file, named by its flow and listening addresses, and one per\n"
          "address seen only at the other end (sipp, a phone); an arrow per SIP message, from its sip_out to\n"
          "the sip_in of the element it reached, labelled with its start line: dashed when it is a\n"
          "retransmission, ending half way in a cross when it was lost; beside each lifeline, the state\n"
          "transitions and timers (set, fired, cancelled) of its machines.  Rows in time order.\n"
          "Bad lines are reported as FILE:LINE warnings and skipped.\n"
          "Exit status: 0 drawn, 1 a file could not be read or written, 2 usage error.\n"
          "Example: sipflow ladder --format html -o call.html proxy.events ua.events");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_set_help_enabled (octx, TRUE);
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup ("sipflow ladder");
  g_set_prgname (prgname);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    return sf_ua_usage_error ("ladder", "%s", error->message);
  if (argc < 2)
    return sf_ua_usage_error ("ladder", "no event file given");
  gboolean html;
  if (format == NULL)
    html = out != NULL && (g_str_has_suffix (out, ".html") || g_str_has_suffix (out, ".htm"));
  else if (strcmp (format, "svg") == 0 || strcmp (format, "html") == 0)
    html = strcmp (format, "html") == 0;
  else
    return sf_ua_usage_error ("ladder", "--format is svg or html, not '%s'", format);

  g_autoptr (SfLadder) l = sf_ladder_new ();
  guint bad = 0;
  for (int i = 1; i < argc; i++) {
    g_autofree char *base = strcmp (argv[i], "-") == 0 ? g_strdup ("stdin") : g_path_get_basename (argv[i]);
    guint el = sf_ladder_add_element (l, base);
    if (!read_file (l, el, argv[i], &bad, &error)) {
      fprintf (stderr, "sipflow ladder: %s\n", error->message);
      return SF_EXIT_FAIL;
    }
  }
  if (bad > 0)
    fprintf (stderr, "sipflow ladder: %u bad line%s skipped\n", bad, bad == 1 ? "" : "s");
  g_autofree char *doc = NULL;
  if (html) {
    if (title == NULL) {
      g_autoptr (GString) t = g_string_new ("sipflow ladder:");
      for (int i = 1; i < argc; i++) {
        g_autofree char *base = g_path_get_basename (argv[i]);
        g_string_append_printf (t, " %s", base);
      }
      title = g_string_free (g_steal_pointer (&t), FALSE);
    }
    doc = sf_ladder_html (l, call_id, title);
  } else {
    doc = sf_ladder_svg (l, call_id);
  }
  if (out != NULL && strcmp (out, "-") != 0) {
    if (!g_file_set_contents (out, doc, -1, &error)) {
      fprintf (stderr, "sipflow ladder: %s\n", error->message);
      return SF_EXIT_FAIL;
    }
  } else if (fputs (doc, stdout) == EOF || fflush (stdout) != 0) {
    fprintf (stderr, "sipflow ladder: standard output: %s\n", g_strerror (errno));
    return SF_EXIT_FAIL;
  }
  return SF_EXIT_OK;
}
