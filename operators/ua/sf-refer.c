/* sf-refer.c: the parsers of REFER (RFC 3515) and norefersub (RFC 4488):
 * Refer-To, Refer-Sub, the message/sipfrag status line of its NOTIFYs, and
 * the Refer-To of an attended transfer (sf-refer.h).  Every input is data
 * from the network: bounded, never read past its length. */
#include "config.h"
#include "sf-refer.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

#define REFER_ERROR g_quark_from_static_string ("sf-refer")

void
sf_refer_to_clear (SfReferTo *r)
{
  g_clear_pointer (&r->uri, g_free);
  g_clear_pointer (&r->host, g_free);
  g_clear_pointer (&r->maddr, g_free);
  g_clear_pointer (&r->method, g_free);
  g_clear_pointer (&r->replaces, g_free);
}

static gboolean
is_ws (char c)
{
  return c == ' ' || c == '\t';
}

/* Skips a display-name (RFC 3261 25.1: *(token LWS) or quoted-string) up to
 * '<'; FALSE when it is not one. */
static gboolean
skip_display (const char **pp, const char *end)
{
  const char *p = *pp;
  if (p < end && *p == '"') {
    for (p++; p < end && *p != '"'; p++)
      if (*p == '\\' && ++p >= end)
        return FALSE;
    if (p >= end)
      return FALSE;
    p++;
  } else {
    static const char tok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~ \t";
    while (p < end && *p != '<' && strchr (tok, *p) != NULL && *p != '\0')
      p++;
  }
  while (p < end && is_ws (*p))
    p++;
  if (p >= end || *p != '<')
    return FALSE;
  *pp = p;
  return TRUE;
}

gboolean
sf_refer_parse_refer_to (SfSipStr value, SfReferTo *out, GError **error)
{
  memset (out, 0, sizeof *out);
  const char *p = value.p, *end = value.p + value.len;
  while (p < end && is_ws (*p))
    p++;
  while (end > p && is_ws (end[-1]))
    end--;
  if (p == end || memchr (p, '\0', (gsize) (end - p)) != NULL) {
    g_set_error (error, REFER_ERROR, 1, "empty");
    return FALSE;
  }
  SfSipStr us;
  if (memchr (p, '<', (gsize) (end - p)) != NULL) {
    if (!skip_display (&p, end)) {
      g_set_error (error, REFER_ERROR, 1, "bad display name");
      return FALSE;
    }
    const char *close = memchr (p, '>', (gsize) (end - p));
    if (close == NULL) {
      g_set_error (error, REFER_ERROR, 1, "no '>'");
      return FALSE;
    }
    us = sf_sip_str (p + 1, (gsize) (close - p - 1));
    /* after '>': header params only (RFC 3515 2.1: *( SEMI generic-param )) */
    const char *q = close + 1;
    while (q < end && is_ws (*q))
      q++;
    if (q < end && *q != ';') {
      g_set_error (error, REFER_ERROR, 1, "text after the URI");
      return FALSE;
    }
  } else {
    /* addr-spec: a URI with ',', '?' or ';' must be in angle brackets (2.1),
     * so what follows a ';' is a header parameter */
    const char *semi = memchr (p, ';', (gsize) (end - p));
    us = sf_sip_str (p, (gsize) ((semi != NULL ? semi : end) - p));
    if (memchr (us.p, '?', us.len) != NULL || memchr (us.p, ',', us.len) != NULL) {
      g_set_error (error, REFER_ERROR, 1, "a URI with '?' or ',' must be in angle brackets");
      return FALSE;
    }
  }
  g_autoptr (GError) e = NULL;
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (us, NULL, &e);
  if (u == NULL) {
    g_set_error (error, REFER_ERROR, 1, "bad URI: %s", e->message);
    return FALSE;
  }
  out->sip = u->kind == SF_URI_SIP || u->kind == SF_URI_SIPS;
  const char *qm = out->sip ? memchr (us.p, '?', us.len) : NULL;
  out->uri = g_strndup (us.p, qm != NULL ? (gsize) (qm - us.p) : us.len);
  if (out->sip) {
    out->host = sf_sip_host_dup (u->host);
    const SfSipParam *m = sf_sip_uri_param (u, "method");
    if (m != NULL)
      out->method = m->value.p != NULL ? sf_sip_str_dup (m->value) : g_strdup ("");
    const SfSipParam *ma = sf_sip_uri_param (u, "maddr");
    if (ma != NULL) /* an empty one too: never mistaken for none */
      out->maddr = ma->value.p != NULL ? sf_sip_host_dup (ma->value) : g_strdup ("");
  }
  for (guint i = 0; i < u->n_headers; i++) {
    if (u->headers[i].name.len != 8 || g_ascii_strncasecmp (u->headers[i].name.p, "Replaces", 8) != 0)
      continue; /* other embedded headers are not carried (RFC 3261 19.1.5 leaves it to us) */
    if (out->replaces != NULL || u->headers[i].value.p == NULL) {
      g_set_error (error, REFER_ERROR, 1, out->replaces != NULL ? "more than one Replaces" : "an empty Replaces");
      sf_refer_to_clear (out);
      return FALSE;
    }
    gsize len = 0;
    char *v = sf_sip_unescape (u->headers[i].value, &len);
    gboolean ok = len > 0 && len <= SF_REFER_MAX_REPLACES;
    for (gsize k = 0; ok && k < len; k++)
      ok = (guchar) v[k] >= 0x20 && v[k] != 0x7f; /* no CR, LF, NUL: it becomes a header line */
    if (!ok) {
      g_free (v);
      g_set_error (error, REFER_ERROR, 1, "a Replaces that cannot be a header (control characters, empty or over %d bytes)",
                   SF_REFER_MAX_REPLACES);
      sf_refer_to_clear (out);
      return FALSE;
    }
    out->replaces = v;
  }
  return TRUE;
}

gboolean
sf_refer_parse_refer_sub (SfSipStr value, gboolean *sub, GError **error)
{
  const char *p = value.p, *end = value.p + value.len;
  while (p < end && is_ws (*p))
    p++;
  const char *w = p;
  while (p < end && *p != ';' && !is_ws (*p))
    p++;
  gsize n = (gsize) (p - w);
  if (n == 4 && g_ascii_strncasecmp (w, "true", 4) == 0)
    *sub = TRUE;
  else if (n == 5 && g_ascii_strncasecmp (w, "false", 5) == 0)
    *sub = FALSE;
  else {
    g_set_error (error, REFER_ERROR, 1, "not true or false");
    return FALSE;
  }
  while (p < end && is_ws (*p))
    p++;
  if (p < end && *p != ';') {
    g_set_error (error, REFER_ERROR, 1, "text after the value");
    return FALSE;
  }
  if (memchr (w, '\0', (gsize) (end - w)) != NULL) {
    g_set_error (error, REFER_ERROR, 1, "NUL");
    return FALSE;
  }
  return TRUE;
}

gboolean
sf_refer_parse_sipfrag (const char *body, gsize len, guint *status, char **reason, GError **error)
{
  if (body == NULL || len == 0) {
    g_set_error (error, REFER_ERROR, 1, "empty (a Status-Line is required)");
    return FALSE;
  }
  if (memchr (body, '\0', len) != NULL) {
    g_set_error (error, REFER_ERROR, 1, "NUL in the body");
    return FALSE;
  }
  if (len < 12 || memcmp (body, "SIP/2.0 ", 8) != 0 || !g_ascii_isdigit (body[8]) || !g_ascii_isdigit (body[9]) ||
      !g_ascii_isdigit (body[10]) || body[8] < '1' || body[8] > '6' || body[11] != ' ') {
    g_set_error (error, REFER_ERROR, 1, "not a SIP/2.0 Status-Line");
    return FALSE;
  }
  *status = (guint) ((body[8] - '0') * 100 + (body[9] - '0') * 10 + (body[10] - '0'));
  const char *r = body + 12, *end = body + len;
  const char *eol = r;
  while (eol < end && *eol != '\r' && *eol != '\n')
    eol++;
  if (eol < end && (*eol != '\r' || eol + 1 >= end || eol[1] != '\n')) {
    g_set_error (error, REFER_ERROR, 1, "the Status-Line does not end with CRLF");
    return FALSE;
  }
  gsize rl = (gsize) (eol - r);
  if (rl > SF_REFER_MAX_REASON) {
    g_set_error (error, REFER_ERROR, 1, "a reason phrase over %d bytes", SF_REFER_MAX_REASON);
    return FALSE;
  }
  for (gsize i = 0; i < rl; i++)
    if ((guchar) r[i] < 0x20 && r[i] != '\t') {
      g_set_error (error, REFER_ERROR, 1, "a control character in the reason phrase");
      return FALSE;
    }
  if (!g_utf8_validate (r, (gssize) rl, NULL)) {
    g_set_error (error, REFER_ERROR, 1, "a reason phrase that is not UTF-8");
    return FALSE;
  }
  *reason = g_strndup (r, rl);
  return TRUE;
}

static void
append_escaped (GString *s, const char *v)
{
  /* RFC 3261 25.1 hvalue: unreserved characters as they are, the rest escaped */
  static const char unreserved[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()";
  for (const char *p = v; *p != '\0'; p++)
    if (strchr (unreserved, *p) != NULL)
      g_string_append_c (s, *p);
    else
      g_string_append_printf (s, "%%%02X", (guchar) *p);
}

char *
sf_refer_to_with_replaces (const char *target, const char *call_id, const char *to_tag, const char *from_tag)
{
  GString *s = g_string_new ("<");
  g_string_append (s, target);
  g_string_append (s, "?Replaces=");
  g_autofree char *v = g_strdup_printf ("%s;to-tag=%s;from-tag=%s", call_id, to_tag, from_tag);
  append_escaped (s, v);
  g_string_append_c (s, '>');
  return g_string_free (s, FALSE);
}
