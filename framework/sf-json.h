/* sf-json.h: the few JSON writing helpers the event output needs (one object a
 * line, docs/architecture.md "Events out").  Strings are escaped per RFC 8259; bytes that
 * are not valid UTF-8 are replaced, so a hostile peer cannot break the output. */
#pragma once
#include <glib.h>
#include <string.h>

G_BEGIN_DECLS

/* g_string_append_len without its call and its general case (an insert
 * anywhere, a source inside the string) when the room is there: a line is
 * some twenty pieces, and the line's buffer has room for nearly all of them
 * from the start (sf_json_begin). */
static inline void
sf_json_put (GString *out, const char *s, gsize n)
{
  if (out->len + n < out->allocated_len) {
    memcpy (out->str + out->len, s, n);
    out->len += n;
    out->str[out->len] = '\0';
  } else {
    g_string_append_len (out, s, (gssize) n);
  }
}

/* @str as a JSON string; NULL is written null.  The NULL test inline, so
 * the writer itself is one call with no wrapper (some 250 strings a proxied
 * call). */
void sf_json_append_string_nn (GString *out, const char *str);
static inline void
sf_json_append_string (GString *out, const char *str)
{
  if (G_UNLIKELY (str == NULL))
    sf_json_put (out, "null", 4);
  else
    sf_json_append_string_nn (out, str);
}
/* Starts {"event":"@event" */
GString *sf_json_begin (const char *event);
/* The same at the end of @out (an empty buffer used again). */
static inline void
sf_json_begin_in (GString *out, const char *event)
{
  sf_json_put (out, "{\"event\":", sizeof "{\"event\":" - 1);
  sf_json_append_string (out, event);
}
void sf_json_add_str (GString *out, const char *key, const char *value);   /* NULL -> null */
void sf_json_add_int (GString *out, const char *key, gint64 value);
void sf_json_add_bool (GString *out, const char *key, gboolean value);
void sf_json_add_double (GString *out, const char *key, double value);
void sf_json_add_raw (GString *out, const char *key, const char *json);
void sf_json_add_strv (GString *out, const char *key, const char *const *values, gssize n);
/* The same with a key known when compiling: @k a string literal of plain
 * characters (no quote, backslash nor control byte: it is written as it is),
 * its ",\"k\":" made by the compiler, not scanned for escapes at each line,
 * and copied inline (a constant length: a few moves, not memcpy's call). */
#define SF_JSON_KEY(out, k) sf_json_put ((out), ",\"" k "\":", sizeof (",\"" k "\":") - 1)
#define sf_json_add_str_k(out, k, value) (SF_JSON_KEY (out, k), sf_json_append_string ((out), (value)))
#define sf_json_add_double_k(out, k, value) (SF_JSON_KEY (out, k), sf_json_append_double ((out), (value)))
#define sf_json_add_strv_k(out, k, values, n) (SF_JSON_KEY (out, k), sf_json_append_strv ((out), (values), (n)))
/* The values alone (sf_json_append_string is the string's). */
void sf_json_append_double (GString *out, double value);
void sf_json_append_strv (GString *out, const char *const *values, gssize n);
/* The decimal digits of @v written at the end of @out, returned (a pointer
 * into @out): a number in a line or a handle without printf. */
char *sf_json_uint_text (char out[24], guint64 v);
/* Closes the object; returns the line without a newline (transfer full). */
char *sf_json_end (GString *out);

G_END_DECLS
