/* sf-sip-route.c: the pre-parse Call-ID scan (see sf-sip-route.h).  RFC 3261
 * 7.3.1 (header lines, folding), 20.8 (Call-ID, compact form i), 25.1 (word). */
#include "config.h"
#include "sf-sip-route.h"

/* The line starting at @p: its content end (before CRLF or LF) in *@cend, and
 * the position after its LF; NULL when it has no LF. */
static const char *
line_after (const char *p, const char *end, const char **cend)
{
  const char *nl = memchr (p, '\n', (gsize) (end - p));
  if (nl == NULL)
    return NULL;
  *cend = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
  return nl + 1;
}

/* Whether the header name @n (@len bytes, a token) is Call-ID or i. */
static gboolean
is_call_id_name (const char *n, gsize len)
{
  if (len == 1)
    return n[0] == 'i' || n[0] == 'I';
  return len == 7 && sf_sip_caseeq_len (sf_sip_str (n, len), "call-id", 7);
}

/* The value of a Call-ID line, from after its colon to @cend, as the parser
 * takes it: leading LWS (folds too) skipped, trailing SP, HTAB, CR and LF
 * dropped; then it must be one word with '@' (25.1 callid), nothing else. */
static gboolean
value_of (const char *v, const char *cend, SfSipStr *out)
{
  SfSipScan s;
  sf_sip_scan_init (&s, sf_sip_str (v, (gsize) (cend - v)), NULL);
  sf_sip_scan_sws (&s);
  const char *vend = cend;
  while (vend > s.p && (vend[-1] == ' ' || vend[-1] == '\t' || vend[-1] == '\r' || vend[-1] == '\n'))
    vend--;
  if (vend == s.p)
    return FALSE;
  for (const char *q = s.p; q < vend; q++)
    if (!sf_sip_ch ((guchar) *q, SF_SIP_CH_WORD) && *q != '@')
      return FALSE; /* white space or a byte no Call-ID has: the parser refuses it */
  *out = sf_sip_str (s.p, (gsize) (vend - s.p));
  return TRUE;
}

gboolean
sf_sip_route_call_id (const char *data, gsize size, SfSipStr *call_id)
{
  g_return_val_if_fail (call_id != NULL, FALSE);
  *call_id = SF_SIP_STR_NULL;
  if (data == NULL || size == 0)
    return FALSE;
  const char *p = data, *end = data + size, *cend;
  while (p < end && (*p == '\r' || *p == '\n'))
    p++; /* keep-alives before the start line, as the parser skips them */
  p = p < end ? line_after (p, end, &cend) : NULL; /* the start line */
  if (p == NULL)
    return FALSE;
  SfSipStr found = SF_SIP_STR_NULL;
  for (;;) {
    const char *next = line_after (p, end, &cend);
    if (next == NULL)
      return FALSE; /* no empty line: the parser refuses it */
    if (cend == p)
      break; /* the empty line: the body is not looked at */
    const char *last_cend = cend;
    while (next < end && (*next == ' ' || *next == '\t')) {
      /* folded continuation lines belong to this header */
      const char *n2 = line_after (next, end, &last_cend);
      if (n2 == NULL)
        return FALSE;
      next = n2;
    }
    /* Only names that start with c or i can be Call-ID: most lines cost a look at one byte. */
    char first = sf_sip_lower (*p);
    if (first == 'c' || first == 'i') {
      const char *n = p;
      while (n < cend && sf_sip_ch ((guchar) *n, SF_SIP_CH_TOKEN))
        n++;
      const char *colon = n;
      while (colon < cend && (*colon == ' ' || *colon == '\t'))
        colon++;
      if (colon < cend && *colon == ':' && is_call_id_name (p, (gsize) (n - p))) {
        if (sf_sip_str_is_set (found))
          return FALSE; /* two Call-ID lines (8.1.1): refused, it stays where it was read */
        if (!value_of (colon + 1, last_cend, &found))
          return FALSE;
      }
    }
    p = next;
  }
  *call_id = found;
  return sf_sip_str_is_set (found);
}
