/* sf-ua-lines.c: bounded asynchronous line reading (see sf-ua-lines.h). */
#include "config.h"
#include "sf-ua-lines.h"
#include <string.h>

struct _SfLineReader {
  grefcount ref;            /* the owner's, and one for a pending read */
  GInputStream *in;         /* owned */
  GCancellable *cancel;     /* owned */
  gsize max_line;
  GString *acc;             /* the line so far */
  gboolean discarding;      /* inside a line that went past max_line */
  gboolean stopped;
  SfLineFunc on_line;
  SfLineEndFunc on_end;
  gpointer data;
  char buf[4096];           /* the pending read's buffer: lives as long as the read's ref */
};

static void
reader_unref (SfLineReader *r)
{
  if (!g_ref_count_dec (&r->ref))
    return;
  g_object_unref (r->in);
  g_object_unref (r->cancel);
  g_string_free (r->acc, TRUE);
  g_free (r);
}

static void start_read (SfLineReader *r);

/* Hands over every complete line in @data; FALSE when the owner said stop. */
static gboolean
feed (SfLineReader *r, const char *data, gsize n)
{
  while (n > 0) {
    const char *nl = memchr (data, '\n', n);
    gsize take = nl != NULL ? (gsize) (nl - data) : n;
    if (!r->discarding) {
      if (r->acc->len + take > r->max_line) {
        r->discarding = TRUE;
        g_string_truncate (r->acc, 0);
      } else {
        g_string_append_len (r->acc, data, (gssize) take);
      }
    }
    if (nl == NULL)
      return TRUE;
    gboolean go_on;
    if (r->discarding) {
      go_on = r->on_line (NULL, 0, TRUE, r->data);
    } else {
      if (r->acc->len > 0 && r->acc->str[r->acc->len - 1] == '\r')
        g_string_truncate (r->acc, r->acc->len - 1);
      go_on = r->on_line (r->acc->str, r->acc->len, FALSE, r->data);
    }
    r->discarding = FALSE;
    g_string_truncate (r->acc, 0);
    if (!go_on || r->stopped)
      return FALSE;
    data = nl + 1;
    n -= take + 1;
  }
  return TRUE;
}

static void
on_read (GObject *src, GAsyncResult *res, gpointer user_data)
{
  SfLineReader *r = user_data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, &error);
  if (r->stopped || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_clear_error (&error);
    reader_unref (r);
    return;
  }
  if (n <= 0) {
    r->stopped = TRUE;
    r->on_end (error, r->data); /* may free the reader: our own ref keeps it */
    g_clear_error (&error);
    reader_unref (r);
    return;
  }
  if (!feed (r, r->buf, (gsize) n)) {
    if (!r->stopped) {
      r->stopped = TRUE;
      r->on_end (NULL, r->data);
    }
    reader_unref (r);
    return;
  }
  start_read (r);
  reader_unref (r);
}

static void
start_read (SfLineReader *r)
{
  g_ref_count_inc (&r->ref);
  g_input_stream_read_async (r->in, r->buf, sizeof r->buf, G_PRIORITY_DEFAULT, r->cancel, on_read, r);
}

SfLineReader *
sf_line_reader_new (GInputStream *in, gsize max_line, SfLineFunc on_line, SfLineEndFunc on_end, gpointer data)
{
  SfLineReader *r = g_new0 (SfLineReader, 1);
  g_ref_count_init (&r->ref);
  r->in = g_object_ref (in);
  r->cancel = g_cancellable_new ();
  r->max_line = max_line;
  r->acc = g_string_new (NULL);
  r->on_line = on_line;
  r->on_end = on_end;
  r->data = data;
  start_read (r);
  return r;
}

void
sf_line_reader_free (SfLineReader *r)
{
  if (r == NULL)
    return;
  r->stopped = TRUE;
  g_cancellable_cancel (r->cancel);
  reader_unref (r);
}
