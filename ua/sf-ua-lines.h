/* sf-ua-lines.h: reading text lines asynchronously with a bound on their
 * length, for control commands (standard input and the control socket).  A
 * GDataInputStream grows its buffer without limit to find a line end; this
 * reader gives a line longer than the bound as "too long" and drops its bytes. */
#pragma once
#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _SfLineReader SfLineReader;

/* One line without its line end (@line NUL-terminated; NULL when @too_long).
 * Return FALSE to stop reading (on_end is then called with no error). */
typedef gboolean (*SfLineFunc) (const char *line, gsize len, gboolean too_long, gpointer data);
/* The input ended (@error NULL) or failed.  Not called after sf_line_reader_free(). */
typedef void (*SfLineEndFunc) (const GError *error, gpointer data);

SfLineReader *sf_line_reader_new (GInputStream *in, gsize max_line, SfLineFunc on_line, SfLineEndFunc on_end,
                                  gpointer data);
/* Stops reading; no callback runs after it.  Safe from inside on_end. */
void sf_line_reader_free (SfLineReader *r);

G_END_DECLS
