/* sf-sip-str.c: slices and the lexical scanner (RFC 3261 section 25.1). */
#include "config.h"
#include "sf-sip-str.h"
#include <string.h>

gboolean
sf_sip_str_eq (SfSipStr a, const char *lit)
{
  gsize n = strlen (lit);
  return a.len == n && (n == 0 || memcmp (a.p, lit, n) == 0);
}

gboolean
sf_sip_str_caseeq (SfSipStr a, const char *lit)
{
  gsize n = strlen (lit);
  return a.len == n && (n == 0 || g_ascii_strncasecmp (a.p, lit, n) == 0);
}

gboolean
sf_sip_str_caseeq_str (SfSipStr a, SfSipStr b)
{
  return a.len == b.len && (a.len == 0 || g_ascii_strncasecmp (a.p, b.p, a.len) == 0);
}

char *
sf_sip_str_dup (SfSipStr s)
{
  char *d = g_malloc (s.len + 1);
  if (s.len > 0)
    memcpy (d, s.p, s.len);
  d[s.len] = '\0';
  return d;
}

gboolean
sf_sip_str_to_u64 (SfSipStr s, guint64 max, guint64 *out)
{
  if (s.len == 0 || s.len > 20)
    return FALSE;
  guint64 v = 0;
  for (gsize i = 0; i < s.len; i++) {
    if (!g_ascii_isdigit (s.p[i]))
      return FALSE;
    guint d = (guint) (s.p[i] - '0');
    if (v > (G_MAXUINT64 - d) / 10)
      return FALSE;
    v = v * 10 + d;
  }
  if (v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
sf_sip_is_token_char (guchar c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("-.!%*_+`'~", c) != NULL);
}

gboolean
sf_sip_is_unreserved (guchar c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("-_.!~*'()", c) != NULL);
}

gboolean
sf_sip_scan_sws (SfSipScan *s)
{
  const char *start = s->p;
  for (;;) {
    if (s->p < s->end && (*s->p == ' ' || *s->p == '\t')) {
      s->p++;
      continue;
    }
    /* A fold: CRLF (or a bare LF) followed by SP or HTAB. */
    const char *q = s->p;
    if (q < s->end && *q == '\r')
      q++;
    if (q < s->end && *q == '\n' && q + 1 < s->end && (q[1] == ' ' || q[1] == '\t')) {
      s->p = q + 1;
      continue;
    }
    break;
  }
  return s->p != start;
}

char
sf_sip_scan_peek (SfSipScan *s)
{
  sf_sip_scan_sws (s);
  return s->p < s->end ? *s->p : '\0';
}

gboolean
sf_sip_scan_sep (SfSipScan *s, char c)
{
  const char *save = s->p;
  sf_sip_scan_sws (s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    sf_sip_scan_sws (s);
    return TRUE;
  }
  s->p = save;
  return FALSE;
}

gboolean
sf_sip_scan_token (SfSipScan *s, SfSipStr *out)
{
  const char *start = s->p;
  while (s->p < s->end && sf_sip_is_token_char ((guchar) *s->p))
    s->p++;
  if (s->p == start)
    return FALSE;
  *out = sf_sip_str (start, (gsize) (s->p - start));
  return TRUE;
}

gboolean
sf_sip_scan_quoted (SfSipScan *s, SfSipStr *out)
{
  if (s->p >= s->end || *s->p != '"')
    return FALSE;
  const char *start = s->p + 1;
  for (const char *q = start; q < s->end; q++) {
    if (*q == '\\') {
      if (q + 1 >= s->end)
        return FALSE;
      q++; /* quoted-pair: any octet but CR and LF (NUL included, RFC 4475 intmeth) */
      if (*q == '\r' || *q == '\n')
        return FALSE;
      continue;
    }
    if (*q == '"') {
      *out = sf_sip_str (start, (gsize) (q - start));
      s->p = q + 1;
      return TRUE;
    }
  }
  return FALSE; /* unterminated (RFC 4475 quotbal) */
}

SfSipStr
sf_sip_scan_until (SfSipScan *s, const char *stops)
{
  const char *start = s->p;
  gboolean quoted = FALSE, angle = FALSE;
  while (s->p < s->end) {
    char c = *s->p;
    if (quoted) {
      if (c == '\\' && s->p + 1 < s->end)
        s->p++;
      else if (c == '"')
        quoted = FALSE;
    } else if (!angle && c != '\0' && strchr (stops, c) != NULL) {
      break;
    } else if (c == '"') {
      quoted = TRUE;
    } else if (c == '<') {
      angle = TRUE;
    } else if (c == '>') {
      angle = FALSE;
    }
    s->p++;
  }
  return sf_sip_str (start, (gsize) (s->p - start));
}

char *
sf_sip_unquote (SfSipStr s, gsize *len)
{
  char *out = g_malloc (s.len + 1);
  gsize n = 0;
  for (gsize i = 0; i < s.len; i++) {
    if (s.p[i] == '\\' && i + 1 < s.len)
      i++;
    out[n++] = s.p[i];
  }
  out[n] = '\0';
  if (len != NULL)
    *len = n;
  return out;
}
