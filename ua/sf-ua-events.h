/* sf-ua-events.h: reading an event file ('sipflow run' output, one JSON object
 * a line; docs/teaching.md) for the tools that read runs back ('sipflow
 * coverage').  The file is untrusted: a line that is not such an object is
 * warned on standard error as FILE:LINE and counted, never fatal; a line is read
 * with a bound on its length (longer ones are refused and their bytes dropped)
 * and on its nesting (json-glib's parser recurses once per level: a line of
 * 100000 '[' overflows the stack), so memory per line stays bounded. */
#pragma once
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The longest event line read: a message's whole text (--messages=full) fits. */
#define SF_UA_EVENT_MAX_LINE (1024 * 1024)
/* The deepest nesting of arrays and objects read (an event line has 2). */
#define SF_UA_EVENT_MAX_DEPTH 32

typedef struct _SfUaEvents SfUaEvents;

/* Opens @path for reading; NULL with @error when it cannot be. */
SfUaEvents *sf_ua_events_open (const char *path, GError **error);
void sf_ua_events_free (SfUaEvents *r);
/* The next event: an object with a string "event" (transfer none: valid until
 * the next call), *@line its line number; NULL at the end of the file (or when
 * reading failed: then the failure is warned and counted as a bad line).  Empty
 * lines are skipped; bad lines are warned (at most 10 a file, then a note) and
 * counted. */
JsonObject *sf_ua_events_next (SfUaEvents *r, guint *line);
/* The bad lines so far. */
guint sf_ua_events_bad (SfUaEvents *r);
/* Counts the line just read as bad, with a warning like the reader's own: an
 * event the caller cannot use ("a state event without \"to\""). */
void sf_ua_events_reject (SfUaEvents *r, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* No warnings from now on (a first look through a file that is read again). */
void sf_ua_events_set_quiet (SfUaEvents *r, gboolean quiet);

/* Whether @s's arrays and objects nest deeper than SF_UA_EVENT_MAX_DEPTH
 * (strings skipped): such a line is refused before json-glib sees it. */
gboolean sf_ua_events_too_deep (const char *s, gsize len);

/* A member of @o as a string, or NULL when it is missing or no string. */
const char *sf_ua_events_str (JsonObject *o, const char *member);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfUaEvents, sf_ua_events_free)

G_END_DECLS
