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
  GString *k = g_string_new (NULL);
  if (cookie (branch)) {
    /* branch|sent-by host (lower case):port|method */
    append (k, branch->value);
    g_string_append_c (k, '|');
    gsize at = k->len;
    append (k, via->host);
    for (gsize i = at; i < k->len; i++)
      k->str[i] = g_ascii_tolower (k->str[i]);
    g_string_append_printf (k, ":%u|%s", via->port, method);
    return g_string_free (k, FALSE);
  }
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
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (req));
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

char *
sf_sip_txn_call_key (const char *call_id, const char *remote_tag)
{
  return g_strdup_printf ("%s|%s", call_id != NULL ? call_id : "", remote_tag != NULL ? remote_tag : "");
}

char *
sf_sip_txn_call_key_of (SfSipMsg *req)
{
  const SfSipValue *cid = sf_sip_msg_value (req, SF_SIP_HDR_CALL_ID, NULL);
  g_autofree char *c = cid != NULL ? sf_sip_str_dup (cid->text) : g_strdup ("");
  g_autofree char *t = sf_sip_str_dup (tag_of (req, SF_SIP_HDR_FROM));
  return sf_sip_txn_call_key (c, t);
}
