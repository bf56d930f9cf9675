/* sf-txn-answers.h: the transaction layer's default answers, one small policy
 * object: what a request gets when no transaction user takes it (RFC 3261
 * 12.2.2: 481 inside a dialog nobody has; 21.4.6 and 20.5: 405 with Allow for a
 * method known but not taken; 21.5.2: 501 for one not known; 9.2: 200 for a
 * CANCEL whose INVITE has its final response; an ACK nothing), and how such an
 * answer, or the 500 (8.2.6) and 503 (21.5.4) the layer makes itself, is built. */
#pragma once
#include <glib.h>
#include "sip/sf-sip-msg.h"

G_BEGIN_DECLS

typedef struct {
  const char *allow;          /* 21.4.6: the Allow of a 405 (SF_STACK_ALLOW) */
  const char *const *known;   /* NULL-terminated: the methods answered 405, not 501 */
} SfTxnAnswers;

/* The policy the stack applies (transfer none, static). */
const SfTxnAnswers *sf_txn_answers_default (void);

/* The status @req gets when its transaction user did not take it: 0 for none
 * (an ACK, 12.2.2), 200 (a CANCEL, 9.2), 481 (a To tag that is not
 * @local_tag's dialog, 12.2.2; @local_tag nullable), 405 or 501. */
guint sf_txn_answers_untaken (const SfTxnAnswers *p, SfSipMsg *req, const char *local_tag);

/* The response @status to @req (transfer full, NULL when it cannot be built):
 * a CANCEL's 200 keeps the To as received (9.2: the INVITE's response's tag
 * is not ours to make here), any other gets a fresh To tag; a 405 lists @p's
 * Allow (21.4.6). */
SfSipMsg *sf_txn_answers_build (const SfTxnAnswers *p, SfSipMsg *req, guint status);

G_END_DECLS
