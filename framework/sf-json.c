/* sf-json.c: JSON output helpers (see sf-json.h). */
#include "config.h"
#include "sf-json.h"
#include <math.h>
#include <string.h>

#define PUT_LITERAL(out, lit) sf_json_put ((out), (lit), sizeof (lit) - 1)

/* Bytes copied as they are: printable ASCII but the quote and the backslash.
 * A string made only of them (nearly every one the events write: names,
 * handles, keys) is valid UTF-8 and needs no escape, so it goes in with one
 * copy, without g_utf8_make_valid's allocation. */
static gboolean
plain (unsigned char c)
{
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* plain () as a table: the scan below reads every byte of every string of
 * every line (some 400 strings a proxied call), and a load and a test cost
 * half of plain ()'s four comparisons.  1 for a plain byte. */
#define P8 1, 1, 1, 1, 1, 1, 1, 1
#define P16 P8, P8
static const guint8 plain_table[256] = {
  [0x20] = 1, 1, 0 /* " */, P8, 1, 1, 1, 1, 1,                  /* 0x20-0x2f */
  [0x30] = P16, [0x40] = P16,                                   /* 0x30-0x4f */
  [0x50] = P8, 1, 1, 1, 1, 0 /* \ */, 1, 1, 1,                   /* 0x50-0x5f */
  [0x60] = P16, [0x70] = P8, 1, 1, 1, 1, 1, 1, 1, 0 /* DEL */,   /* 0x60-0x7f */
};
#undef P8
#undef P16

/* @n bytes (at most 16) from @s to @d: two overlapping moves of a fixed
 * size, not memcpy's call, for the short strings nearly every one is. */
static inline void
copy_short (char *d, const char *s, gsize n)
{
  if (n >= 8) {
    memcpy (d, s, 8);
    memcpy (d + n - 8, s + n - 8, 8);
  } else if (n >= 4) {
    memcpy (d, s, 4);
    memcpy (d + n - 4, s + n - 4, 4);
  } else {
    for (gsize i = 0; i < n; i++)
      d[i] = s[i];
  }
}

void
sf_json_append_string_nn (GString *out, const char *str)
{
  const unsigned char *p = (const unsigned char *) str;
  /* four bytes a turn: a byte is read only when the one before it is plain
   * (so not the NUL), never past the string's end */
  for (;;) {
    if (!plain_table[p[0]])
      break;
    if (!plain_table[p[1]]) {
      p += 1;
      break;
    }
    if (!plain_table[p[2]]) {
      p += 2;
      break;
    }
    if (!plain_table[p[3]]) {
      p += 3;
      break;
    }
    p += 4;
  }
  if (*p == '\0') {
    gsize n = (gsize) (p - (const unsigned char *) str);
    if (out->len + n + 2 < out->allocated_len) {
      char *d = out->str + out->len;
      d[0] = '"';
      if (n <= 16)
        copy_short (d + 1, str, n);
      else
        memcpy (d + 1, str, n);
      d[n + 1] = '"';
      d[n + 2] = '\0';
      out->len += n + 2;
      return;
    }
    g_string_append_c (out, '"');
    g_string_append_len (out, str, (gssize) n);
    g_string_append_c (out, '"');
    return;
  }
  /* Bytes that are not valid UTF-8 are replaced, as g_utf8_make_valid does
   * (the same bytes out: it copies a valid string as it is). */
  g_autofree char *made = g_utf8_validate (str, -1, NULL) ? NULL : g_utf8_make_valid (str, -1);
  const char *valid = made != NULL ? made : str;
  g_string_append_c (out, '"');
  const unsigned char *run = (const unsigned char *) valid;
  for (p = run; *p != '\0'; p++) {
    if (plain (*p) || *p >= 0x80)
      continue;
    sf_json_put (out, (const char *) run, (gsize) (p - run));
    run = p + 1;
    switch (*p) {
    case '"': g_string_append (out, "\\\""); break;
    case '\\': g_string_append (out, "\\\\"); break;
    case '\n': g_string_append (out, "\\n"); break;
    case '\r': g_string_append (out, "\\r"); break;
    case '\t': g_string_append (out, "\\t"); break;
    default: { /* < 0x20, 0x7f */
      static const char hex[] = "0123456789abcdef";
      char u[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 0xf] };
      g_string_append_len (out, u, 6);
    }
    }
  }
  sf_json_put (out, (const char *) run, (gsize) (p - run));
  g_string_append_c (out, '"');
}

/* An event line is about 230 bytes (a proxied call's average): room for that
 * at once, not GString's doublings from 16. */
#define LINE_START 256

GString *
sf_json_begin (const char *event)
{
  GString *out = g_string_sized_new (LINE_START);
  sf_json_begin_in (out, event);
  return out;
}

static void
key (GString *out, const char *k)
{
  g_string_append_c (out, ',');
  sf_json_append_string (out, k);
  g_string_append_c (out, ':');
}

void
sf_json_add_str (GString *out, const char *k, const char *value)
{
  key (out, k);
  sf_json_append_string (out, value);
}

char *
sf_json_uint_text (char out[24], guint64 v)
{
  /* "%" G_GUINT64_FORMAT's digits, without printf */
  char *p = out + 24;
  *--p = '\0';
  do
    *--p = (char) ('0' + v % 10);
  while ((v /= 10) != 0);
  return p;
}

void
sf_json_add_int (GString *out, const char *k, gint64 value)
{
  key (out, k);
  char buf[24];
  if (value < 0)
    sf_json_put (out, "-", 1);
  const char *d = sf_json_uint_text (buf, value < 0 ? (guint64) 0 - (guint64) value : (guint64) value);
  sf_json_put (out, d, strlen (d));
}

void
sf_json_add_bool (GString *out, const char *k, gboolean value)
{
  key (out, k);
  if (value)
    PUT_LITERAL (out, "true");
  else
    PUT_LITERAL (out, "false");
}

void
sf_json_add_double (GString *out, const char *k, double value)
{
  key (out, k);
  sf_json_append_double (out, value);
}

void
sf_json_append_double (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  /* "%.3f" without printf when the thousandths are not in doubt: below 2^40
   * the product is off the exact value by at most 2^-12, so a fraction of the
   * product more than 1/1000 away from one half rounds as printf rounds the
   * exact value.  The rest (negative, huge, a tie to be) by printf. */
  double m = value * 1000.0;
  double f = m - floor (m);
  if (!signbit (value) && m < 1099511627776.0 && fabs (f - 0.5) > 0.001) { /* NaN: not below */
    guint64 n = (guint64) floor (m + 0.5);
    char d[24];
    const char *whole = sf_json_uint_text (d, n / 1000);
    sf_json_put (out, whole, strlen (whole));
    char frac[4] = { '.', (char) ('0' + n / 100 % 10), (char) ('0' + n / 10 % 10), (char) ('0' + n % 10) };
    sf_json_put (out, frac, 4);
    return;
  }
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.3f", value));
}

void
sf_json_add_raw (GString *out, const char *k, const char *json)
{
  key (out, k);
  sf_json_put (out, json, strlen (json));
}

void
sf_json_add_strv (GString *out, const char *k, const char *const *values, gssize n)
{
  key (out, k);
  sf_json_append_strv (out, values, n);
}

void
sf_json_append_strv (GString *out, const char *const *values, gssize n)
{
  g_string_append_c (out, '[');
  for (gssize i = 0; n < 0 ? values[i] != NULL : i < n; i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    sf_json_append_string (out, values[i]);
  }
  g_string_append_c (out, ']');
}

char *
sf_json_end (GString *out)
{
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}
