/* sf-json.c: JSON output helpers (see sf-json.h). */
#include "config.h"
#include "sf-json.h"

void
sf_json_append_string (GString *out, const char *str)
{
  if (str == NULL) {
    g_string_append (out, "null");
    return;
  }
  g_autofree char *valid = g_utf8_make_valid (str, -1);
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) valid; *p != '\0'; p++) {
    switch (*p) {
    case '"': g_string_append (out, "\\\""); break;
    case '\\': g_string_append (out, "\\\\"); break;
    case '\n': g_string_append (out, "\\n"); break;
    case '\r': g_string_append (out, "\\r"); break;
    case '\t': g_string_append (out, "\\t"); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  }
  g_string_append_c (out, '"');
}

GString *
sf_json_begin (const char *event)
{
  GString *out = g_string_new ("{\"event\":");
  sf_json_append_string (out, event);
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

void
sf_json_add_int (GString *out, const char *k, gint64 value)
{
  key (out, k);
  g_string_append_printf (out, "%" G_GINT64_FORMAT, value);
}

void
sf_json_add_bool (GString *out, const char *k, gboolean value)
{
  key (out, k);
  g_string_append (out, value ? "true" : "false");
}

void
sf_json_add_double (GString *out, const char *k, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  key (out, k);
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.3f", value));
}

void
sf_json_add_raw (GString *out, const char *k, const char *json)
{
  key (out, k);
  g_string_append (out, json);
}

void
sf_json_add_strv (GString *out, const char *k, const char *const *values, gssize n)
{
  key (out, k);
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
