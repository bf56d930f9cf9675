/* sf-txn-answers.c: the default answers (RFC 3261 12.2.2, 21.4.6, 20.5,
 * 21.5.2, 9.2, 8.2.6; see sf-txn-answers.h). */
#include "config.h"
#include "sf-txn-answers.h"
#include "sf-stack.h"
#include "sip/sf-sip-build.h"
#include <string.h>

static const char *const known_methods[] = { "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE",
                                             "PRACK", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH", NULL };

static const SfTxnAnswers default_answers = { SF_STACK_ALLOW, known_methods };

const SfTxnAnswers *
sf_txn_answers_default (void)
{
  return &default_answers;
}

guint
sf_txn_answers_untaken (const SfTxnAnswers *p, SfSipMsg *req, const char *local_tag)
{
  SfSipStr method = sf_sip_msg_method (req);
  if (sf_sip_str_eq (method, "ACK"))
    return 0; /* an ACK is never answered: one the call did not take is dropped (12.2.2) */
  if (sf_sip_str_eq (method, "CANCEL"))
    return 200; /* the INVITE has its final response already: the CANCEL has no effect (9.2) */
  gboolean known = FALSE;
  for (guint i = 0; p->known[i] != NULL && !known; i++)
    known = sf_sip_str_eq (method, p->known[i]);
  /* A request with a To tag that is not this call's dialog: 481 (12.2.2). */
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (req), "tag");
  gboolean foreign = tt != NULL && (local_tag == NULL || !sf_sip_str_eq (tt->value, local_tag));
  /* An UPDATE exists only inside a dialog (RFC 3311 5.1): without To tag there is none. */
  foreign = foreign || (tt == NULL && sf_sip_str_eq (method, "UPDATE"));
  return foreign ? 481 : !known ? 501 : 405;
}

SfSipMsg *
sf_txn_answers_build (const SfTxnAnswers *p, SfSipMsg *req, guint status)
{
  gboolean cancel_ok = status == 200 && sf_sip_str_eq (sf_sip_msg_method (req), "CANCEL");
  g_autofree char *tag = cancel_ok ? NULL : sf_sip_random_tag ();
  g_autoptr (SfSipMsg) base = sf_sip_create_response (req, status, NULL, tag, NULL);
  if (base == NULL || status != 405)
    return g_steal_pointer (&base);
  /* 21.4.6: a 405 lists what is allowed. */
  SfSipBuilder *b = sf_sip_builder_response (status, NULL);
  for (guint i = 0; i < sf_sip_msg_n_headers (base); i++)
    if (sf_sip_msg_header (base, i)->id != SF_SIP_HDR_CONTENT_LENGTH)
      sf_sip_builder_add_line (b, sf_sip_msg_header (base, i));
  sf_sip_builder_add (b, "Allow", "%s", p->allow);
  return sf_sip_builder_finish (b, NULL);
}
