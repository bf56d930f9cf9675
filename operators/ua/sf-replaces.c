/* sf-replaces.c: the Replaces header (RFC 3891 6.1), parsed strictly and
 * bounded, and formatted (see sf-replaces.h).  The grammar:
 *
 *   Replaces        = "Replaces" HCOLON callid *(SEMI replaces-param)
 *   replaces-param  = to-tag / from-tag / early-flag / generic-param
 *   to-tag          = "to-tag" EQUAL token
 *   from-tag        = "from-tag" EQUAL token
 *   early-flag      = "early-only"
 *
 * with callid, token, generic-param, SEMI and EQUAL from RFC 3261 25.1.  A
 * value with anything else is refused whole: the receiver answers it 400
 * (RFC 3891 3), it never guesses which dialog was meant. */
#include "config.h"
#include "sf-replaces.h"
#include <gio/gio.h>
#include <string.h>

#define ERR(...) g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, __VA_ARGS__)

void
sf_replaces_free (SfReplaces *r)
{
  if (r == NULL)
    return;
  g_free (r->call_id);
  g_free (r->to_tag);
  g_free (r->from_tag);
  g_free (r);
}

/* token (RFC 3261 25.1): alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
static gboolean
is_token_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("-.!%*_+`'~", c) != NULL);
}

/* word (RFC 3261 25.1): a token's characters and ( ) < > : \ DQUOTE / [ ] ? { } */
static gboolean
is_word_char (char c)
{
  return is_token_char (c) || (c != '\0' && strchr ("()<>:\\\"/[]?{}", c) != NULL);
}

typedef struct {
  const char *p, *end;
} Cursor;

/* SWS (RFC 3261 25.1): [LWS], LWS = [*WSP CRLF] 1*WSP (a fold is a line end
 * followed by white space; a bare line end is not white space). */
static void
skip_sws (Cursor *c)
{
  for (;;) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
      c->p++;
    const char *q = c->p;
    if (q < c->end && *q == '\r')
      q++;
    if (q < c->end && *q == '\n' && q + 1 < c->end && (q[1] == ' ' || q[1] == '\t')) {
      c->p = q + 1;
      continue;
    }
    return;
  }
}

/* 1*token-char: its length (0: none). */
static gsize
take_token (Cursor *c)
{
  const char *s = c->p;
  while (c->p < c->end && is_token_char (*c->p))
    c->p++;
  return (gsize) (c->p - s);
}

/* gen-value (RFC 3261 25.1): token / host / quoted-string.  A host is a
 * token's characters (hostname, IPv4) or "[" IPv6 "]"; a quoted string's
 * quoted-pairs may not hide a control character. */
static gboolean
take_gen_value (Cursor *c, GError **error)
{
  if (c->p < c->end && *c->p == '"') {
    c->p++;
    while (c->p < c->end && *c->p != '"') {
      guchar ch = (guchar) *c->p;
      if (ch == '\\') {
        if (c->p + 1 >= c->end || (guchar) c->p[1] < 0x20 || (guchar) c->p[1] == 0x7f) {
          ERR ("a control character in a quoted parameter value");
          return FALSE;
        }
        c->p += 2;
        continue;
      }
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
        ERR ("a control character in a quoted parameter value");
        return FALSE;
      }
      c->p++;
    }
    if (c->p >= c->end) {
      ERR ("an unterminated quoted parameter value");
      return FALSE;
    }
    c->p++;
    return TRUE;
  }
  if (c->p < c->end && *c->p == '[') {
    const char *s = ++c->p;
    while (c->p < c->end && (g_ascii_isxdigit (*c->p) || *c->p == ':' || *c->p == '.'))
      c->p++;
    if (c->p == s || c->p >= c->end || *c->p != ']') {
      ERR ("a bad IPv6 reference in a parameter value");
      return FALSE;
    }
    c->p++;
    return TRUE;
  }
  if (take_token (c) == 0) {
    ERR ("a parameter with '=' but no value");
    return FALSE;
  }
  return TRUE;
}

SfReplaces *
sf_replaces_parse (const char *text, gsize len, GError **error)
{
  g_return_val_if_fail (text != NULL || len == 0, NULL);
  if (len > SF_REPLACES_MAX_LEN) {
    ERR ("longer than %u bytes", SF_REPLACES_MAX_LEN);
    return NULL;
  }
  Cursor c = { text, text + len };
  skip_sws (&c);
  /* callid = word ["@" word] */
  const char *cid = c.p;
  while (c.p < c.end && is_word_char (*c.p))
    c.p++;
  if (c.p == cid) {
    ERR ("no Call-ID");
    return NULL;
  }
  if (c.p < c.end && *c.p == '@') {
    const char *w = ++c.p;
    while (c.p < c.end && is_word_char (*c.p))
      c.p++;
    if (c.p == w) {
      ERR ("nothing after '@' in the Call-ID");
      return NULL;
    }
  }
  g_autoptr (SfReplaces) r = g_new0 (SfReplaces, 1);
  r->call_id = g_strndup (cid, (gsize) (c.p - cid));
  guint params = 0;
  for (;;) {
    skip_sws (&c);
    if (c.p >= c.end)
      break;
    if (*c.p != ';') {
      ERR ("'%c' where ';' or the end was expected", g_ascii_isprint (*c.p) ? *c.p : '?');
      return NULL;
    }
    c.p++;
    skip_sws (&c);
    if (++params > SF_REPLACES_MAX_PARAMS) {
      ERR ("more than %u parameters", SF_REPLACES_MAX_PARAMS);
      return NULL;
    }
    const char *name = c.p;
    gsize name_len = take_token (&c);
    if (name_len == 0) {
      ERR ("an empty parameter");
      return NULL;
    }
    Cursor before_eq = c;
    skip_sws (&c);
    gboolean has_value = c.p < c.end && *c.p == '=';
    const char *value = NULL;
    gsize value_len = 0;
    if (has_value) {
      c.p++;
      skip_sws (&c);
      value = c.p;
      if (!take_gen_value (&c, error))
        return NULL;
      value_len = (gsize) (c.p - value);
    } else {
      c = before_eq;
    }
    gboolean to = name_len == 6 && g_ascii_strncasecmp (name, "to-tag", 6) == 0;
    gboolean from = name_len == 8 && g_ascii_strncasecmp (name, "from-tag", 8) == 0;
    if (to || from) {
      char **slot = to ? &r->to_tag : &r->from_tag;
      if (*slot != NULL) {
        ERR ("more than one %s", to ? "to-tag" : "from-tag");
        return NULL;
      }
      /* to-tag and from-tag are tokens (a quoted string or an IPv6 reference is not) */
      gboolean token = has_value && value_len > 0;
      for (gsize i = 0; token && i < value_len; i++)
        token = is_token_char (value[i]);
      if (!token) {
        ERR ("%s without a token value", to ? "to-tag" : "from-tag");
        return NULL;
      }
      *slot = g_strndup (value, value_len);
    } else if (name_len == 10 && g_ascii_strncasecmp (name, "early-only", 10) == 0) {
      if (has_value || r->early_only) {
        ERR (has_value ? "early-only with a value" : "more than one early-only");
        return NULL;
      }
      r->early_only = TRUE;
    }
    /* any other parameter: a generic-param of the grammar's form, ignored (RFC 3261 7.3.1) */
  }
  if (r->to_tag == NULL || r->from_tag == NULL) {
    /* RFC 3891 6.1: exactly one of each, needed to match a dialog uniquely */
    ERR ("no %s", r->to_tag == NULL ? "to-tag" : "from-tag");
    return NULL;
  }
  return g_steal_pointer (&r);
}

SfReplaces *
sf_replaces_parse_escaped (const char *text, gsize len, GError **error)
{
  g_return_val_if_fail (text != NULL || len == 0, NULL);
  if (len > 3 * SF_REPLACES_MAX_LEN) {
    ERR ("longer than %u bytes", 3 * SF_REPLACES_MAX_LEN);
    return NULL;
  }
  GString *out = g_string_sized_new (len);
  for (gsize i = 0; i < len; i++) {
    char ch = text[i];
    if (ch == '%') {
      if (i + 2 >= len || !g_ascii_isxdigit (text[i + 1]) || !g_ascii_isxdigit (text[i + 2])) {
        g_string_free (out, TRUE);
        ERR ("a bad %%HH escape");
        return NULL;
      }
      ch = (char) (g_ascii_xdigit_value (text[i + 1]) * 16 + g_ascii_xdigit_value (text[i + 2]));
      i += 2;
    }
    if (ch == '\0' || ch == '\r' || ch == '\n') {
      g_string_free (out, TRUE);
      ERR ("a NUL, CR or LF in the value");
      return NULL;
    }
    g_string_append_c (out, ch);
  }
  SfReplaces *r = sf_replaces_parse (out->str, out->len, error);
  g_string_free (out, TRUE);
  return r;
}

char *
sf_replaces_format (const SfReplaces *r)
{
  g_return_val_if_fail (r != NULL && r->call_id != NULL && r->to_tag != NULL && r->from_tag != NULL, NULL);
  return g_strdup_printf ("%s;to-tag=%s;from-tag=%s%s", r->call_id, r->to_tag, r->from_tag,
                          r->early_only ? ";early-only" : "");
}

char *
sf_replaces_format_escaped (const SfReplaces *r)
{
  g_autofree char *plain = sf_replaces_format (r);
  if (plain == NULL)
    return NULL;
  GString *out = g_string_new (NULL);
  for (const char *p = plain; *p != '\0'; p++) {
    /* hvalue = *( hnv-unreserved / unreserved / escaped ) (RFC 3261 25.1) */
    if (g_ascii_isalnum (*p) || strchr ("-_.!~*'()[]/?:+$", *p) != NULL)
      g_string_append_c (out, *p);
    else
      g_string_append_printf (out, "%%%02X", (guchar) *p);
  }
  return g_string_free (out, FALSE);
}
