/* sf-sip-txn-key.c: transaction keys, RFC 3261 17.1.3, 17.2.3 and 9.2 (see
 * sf-sip-txn-key.h for what is compared and how). */
#include "config.h"
#include "sf-sip-txn-key.h"
#include <string.h>

#define COOKIE_LEN (sizeof SF_SIP_BRANCH_COOKIE - 1)

/* The values the keys read, without the criticals sf_sip_msg_top_via() and
 * the like raise on a message that did not validate: a pure function answers
 * NULL for it instead. */
static const SfSipValue *
top_via (SfSipMsg *m)
{
  return sf_sip_msg_value (m, SF_SIP_HDR_VIA, NULL);
}

static const SfSipParam *
branch_of (const SfSipValue *via)
{
  const SfSipParam *b = via != NULL ? sf_sip_value_param (via, "branch") : NULL;
  return b != NULL && sf_sip_str_is_set (b->value) ? b : NULL;
}

static gboolean
cookie (const SfSipParam *branch)
{
  return branch != NULL && branch->value.len > COOKIE_LEN &&
         memcmp (branch->value.p, SF_SIP_BRANCH_COOKIE, COOKIE_LEN) == 0;
}

gboolean
sf_sip_txn_has_cookie (SfSipMsg *msg)
{
  return cookie (branch_of (top_via (msg)));
}

/* A tag parameter's value ("" without one). */
static SfSipStr
tag_of (SfSipMsg *m, SfSipHdrId id)
{
  const SfSipValue *v = sf_sip_msg_value (m, id, NULL);
  const SfSipParam *t = v != NULL ? sf_sip_value_param (v, "tag") : NULL;
  return t != NULL && sf_sip_str_is_set (t->value) ? t->value : SF_SIP_STR_LIT ("");
}

static void
append (GString *s, SfSipStr v)
{
  g_string_append_len (s, v.p != NULL ? v.p : "", (gssize) v.len);
}

/* Copies @len bytes of @p to @at, returns the end (a key is built in one
 * block of its exact size: no GString growth, no printf, a few thousand
 * instructions a message less). */
static char *
put (char *at, const char *p, gsize len)
{
  if (len > 0)
    memcpy (at, p, len);
  return at + len;
}

/* @v's decimal digits, at most 10 (a guint), written backwards into the end of @buf [10]: their start. */
static char *
utoa (guint v, char *end)
{
  do
    *--end = (char) ('0' + v % 10);
  while ((v /= 10) != 0);
  return end;
}

char *
sf_sip_txn_server_key_for (SfSipMsg *req, const char *method)
{
  g_return_val_if_fail (method != NULL, NULL);
  if (req == NULL)
    return NULL;
  const SfSipValue *via = top_via (req);
  const SfSipValue *cseq = sf_sip_msg_value (req, SF_SIP_HDR_CSEQ, NULL);
  if (via == NULL || cseq == NULL)
    return NULL;
  const SfSipParam *branch = branch_of (via);
  if (cookie (branch)) {
    /* branch|sent-by host (lower case):port|method */
    char digits[10], *d = utoa (via->port, digits + sizeof digits);
    gsize dlen = (gsize) (digits + sizeof digits - d), mlen = strlen (method);
    char *key = g_malloc (branch->value.len + 1 + via->host.len + 1 + dlen + 1 + mlen + 1);
    char *at = put (key, branch->value.p, branch->value.len);
    *at++ = '|';
    for (gsize i = 0; i < via->host.len; i++)
      *at++ = g_ascii_tolower (via->host.p[i]);
    *at++ = ':';
    at = put (at, d, dlen);
    *at++ = '|';
    at = put (at, method, mlen + 1); /* its NUL too */
    return key;
  }
  GString *k = g_string_new (NULL);
  /* RFC 2543: Request-URI, From tag, Call-ID, CSeq number, top Via, method;
   * the To tag for a non-INVITE transaction.  A response has no Request-URI. */
  if (!sf_sip_msg_is_request (req)) {
    g_string_free (k, TRUE);
    return NULL;
  }
  g_string_append (k, "2543|");
  const SfSipUri *ruri = sf_sip_msg_ruri (req);
  if (ruri != NULL)
    append (k, ruri->raw);
  g_string_append_c (k, '|');
  append (k, tag_of (req, SF_SIP_HDR_FROM));
  g_string_append_c (k, '|');
  const SfSipValue *cid = sf_sip_msg_value (req, SF_SIP_HDR_CALL_ID, NULL);
  if (cid != NULL)
    append (k, cid->text);
  g_string_append_printf (k, "|%" G_GUINT64_FORMAT "|", cseq->number);
  append (k, via->raw);
  g_string_append_printf (k, "|%s", method);
  if (strcmp (method, "INVITE") != 0) {
    g_string_append_c (k, '|');
    append (k, tag_of (req, SF_SIP_HDR_TO));
  }
  return g_string_free (k, FALSE);
}

char *
sf_sip_txn_server_key (SfSipMsg *req)
{
  if (req == NULL || !sf_sip_msg_is_request (req))
    return NULL;
  SfSipStr m = sf_sip_msg_method (req);
  char buf[32]; /* every common method fits: no copy on the heap */
  g_autofree char *long_method = NULL;
  const char *method = buf;
  if (m.len < sizeof buf)
    *put (buf, m.p, m.len) = '\0';
  else
    method = long_method = sf_sip_str_dup (m);
  return sf_sip_txn_server_key_for (req, strcmp (method, "ACK") == 0 ? "INVITE" : method);
}

char *
sf_sip_txn_cancel_target_key (SfSipMsg *cancel)
{
  if (cancel == NULL || !sf_sip_msg_is_request (cancel) || !sf_sip_str_eq (sf_sip_msg_method (cancel), "CANCEL"))
    return NULL;
  return sf_sip_txn_server_key_for (cancel, "INVITE");
}

static char *
client_key (SfSipMsg *msg, const char *method)
{
  if (msg == NULL)
    return NULL;
  const SfSipValue *via = top_via (msg);
  const SfSipValue *cseq = sf_sip_msg_value (msg, SF_SIP_HDR_CSEQ, NULL);
  if (via == NULL || cseq == NULL)
    return NULL;
  const SfSipParam *branch = branch_of (via);
  GString *k = g_string_new ("client|");
  if (branch != NULL)
    append (k, branch->value);
  g_string_append_c (k, '|');
  if (method != NULL)
    g_string_append (k, method);
  else
    append (k, cseq->text);
  return g_string_free (k, FALSE);
}

char *
sf_sip_txn_client_key (SfSipMsg *msg)
{
  return client_key (msg, NULL);
}

char *
sf_sip_txn_client_key_for (SfSipMsg *msg, const char *method)
{
  g_return_val_if_fail (method != NULL, NULL);
  return client_key (msg, method);
}

/* "@c|@t" in one block of its size. */
static char *
call_key (const char *c, gsize clen, const char *t, gsize tlen)
{
  char *key = g_malloc (clen + 1 + tlen + 1);
  char *at = put (key, c, clen);
  *at++ = '|';
  *put (at, t, tlen) = '\0';
  return key;
}

char *
sf_sip_txn_call_key (const char *call_id, const char *remote_tag)
{
  return call_key (call_id != NULL ? call_id : "", call_id != NULL ? strlen (call_id) : 0,
                   remote_tag != NULL ? remote_tag : "", remote_tag != NULL ? strlen (remote_tag) : 0);
}

char *
sf_sip_txn_call_key_of (SfSipMsg *req)
{
  const SfSipValue *cid = sf_sip_msg_value (req, SF_SIP_HDR_CALL_ID, NULL);
  SfSipStr t = tag_of (req, SF_SIP_HDR_FROM);
  /* as the C strings sf_sip_str_dup made of them before: up to a NUL inside */
  gsize clen = cid != NULL && cid->text.p != NULL ? strnlen (cid->text.p, cid->text.len) : 0;
  return call_key (clen > 0 ? cid->text.p : "", clen, t.p, strnlen (t.p, t.len));
}
