/* sf-ladder.h: a ladder (sequence) diagram of one or several sipflow event
 * files (docs/teaching.md, "sipflow ladder"): one lifeline per element, an
 * arrow per SIP message (a sip_out matched to its sip_in), and beside each
 * lifeline the state transitions and timers of that element's machines.
 * Used by 'sipflow ladder' and by the live view.  Every line is untrusted:
 * a bad one is refused with an error, never a crash; what is kept is bounded
 * (SF_LADDER_MAX_LINES lines of at most SF_LADDER_MAX_LINE bytes, each field
 * cut to a few KiB); all text is escaped on the way out. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Longest event line taken, in bytes (without its line end). */
#define SF_LADDER_MAX_LINE (1024 * 1024)
/* Event lines per ladder, all elements together (taken or not). */
#define SF_LADDER_MAX_LINES 200000

#define SF_LADDER_ERROR (sf_ladder_error_quark ())
GQuark sf_ladder_error_quark (void);
typedef enum {
  SF_LADDER_ERROR_PARSE,     /* not JSON, not an object, no string "event" */
  SF_LADDER_ERROR_LINE_LONG, /* a line over SF_LADDER_MAX_LINE: that line only is refused */
  SF_LADDER_ERROR_FULL,      /* SF_LADDER_MAX_LINES reached: every further line is refused */
} SfLadderError;

typedef struct _SfLadder SfLadder;

SfLadder *sf_ladder_new (void);
void sf_ladder_free (SfLadder *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfLadder, sf_ladder_free)

/* A new element (one sipflow process's event file); returns its index.
 * @name (transfer none): its lifeline's name when its listening/flow events say
 * nothing better (the file's base name). */
guint sf_ladder_add_element (SfLadder *l, const char *name);
/* One event line (no newline needed; a trailing CR/LF is dropped) of element
 * @element; @len -1: NUL-terminated.  FALSE with @error (SF_LADDER_ERROR) when
 * it is not a JSON object with a string "event", or past a limit (the caller
 * counts and reports it); unknown events and fields are ignored, never an error. */
gboolean sf_ladder_add_line (SfLadder *l, guint element, const char *line, gssize len, GError **error);
/* The diagram as a standalone SVG document (transfer full).  @call_id
 * (nullable): only that call's messages, and the state, timer and step events
 * of the instances they name; NULL: every call. */
char *sf_ladder_svg (SfLadder *l, const char *call_id);
/* One self-contained HTML page with the SVG inline (transfer full): no script,
 * no external resource; each row's events as a tooltip.  @title (transfer none)
 * is escaped. */
char *sf_ladder_html (SfLadder *l, const char *call_id, const char *title);

G_END_DECLS
