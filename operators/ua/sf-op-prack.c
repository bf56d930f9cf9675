/* sf-op-prack.c: reliable provisional responses (RFC 3262), both roles of the
 * user agent.  As UAS: a 1xx sent reliably (Require: 100rel, RSeq, section 3)
 * is retransmitted from T1 doubling until its PRACK, given up after 64*T1 with
 * a 5xx; the PRACK is matched by its RAck (7.2) and answered; the 2xx waits
 * for the PRACK of a reliable 1xx that carried SDP (3).  As UAC (4): every
 * reliable 1xx of every early dialog gets one PRACK with RAck, in that early
 * dialog (12.1.2), retransmissions and old RSeqs are discarded.  Offer/answer
 * in the reliable 1xx, the PRACK and their 200 (5; RFC 3264).  ua.100rel says
 * whether we ask for it (docs/ua.md, "Reliable provisional responses"). */
#include "config.h"
#include "sf-ua-call.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include <string.h>

/* Forked early dialogs followed for their reliable 1xx at most (a UAS or a
 * forking proxy can make as many To tags as it likes). */
#define SF_UA_MAX_EARLY 16

/* The reason phrase of our 5xx when a reliable 1xx was never PRACKed. */
#define NO_PRACK_REASON "Reliable Provisional Response Not Acknowledged"

/* One early dialog of our INVITE that sent reliable 1xx: the RSeq of the last
 * one taken in order (4), and the dialog its PRACKs go in (the call's own
 * dialog for the first To tag: @dialog NULL). */
typedef struct {
  char *tag;              /* owned: the To tag */
  guint32 cseq;           /* the INVITE's CSeq number the 1xx answered */
  guint32 rseq;           /* the last RSeq PRACKed */
  guint32 prack_cseq;     /* the CSeq of our PRACK awaiting its final response, 0: none */
  SfSipDialog *dialog;    /* owned, nullable: a fork's early dialog */
} SfUaEarly;

static void
early_free (gpointer p)
{
  SfUaEarly *e = p;
  g_free (e->tag);
  g_clear_pointer (&e->dialog, sf_sip_dialog_free);
  g_free (e);
}

void
sf_ua_prack_clear (SfUaCall *call)
{
  g_clear_pointer (&call->rel_1xx, sf_sip_msg_unref);
  g_clear_pointer (&call->rel_body, g_free);
  g_clear_pointer (&call->early, g_ptr_array_unref);
}

/* ---- parsing (RFC 3262 7.1, 7.2) ---- */

static gboolean
is_lws (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* 1*DIGIT from @p up to @end, 1 to @max (leading zeros taken, at most 10 digits). */
static const char *
scan_num (const char *p, const char *end, guint64 max, guint64 *out)
{
  const char *start = p;
  guint64 v = 0;
  while (p < end && g_ascii_isdigit (*p)) {
    if (p - start >= 10)
      return NULL;
    v = v * 10 + (guint64) (*p - '0');
    p++;
  }
  if (p == start || v == 0 || v > max)
    return NULL;
  *out = v;
  return p;
}

gboolean
sf_ua_parse_rseq (SfSipStr value, guint32 *rseq)
{
  const char *p = value.p, *end = value.p + value.len;
  guint64 v;
  while (p < end && is_lws (*p))
    p++;
  p = scan_num (p, end, G_MAXUINT32, &v);
  if (p == NULL)
    return FALSE;
  while (p < end && is_lws (*p))
    p++;
  if (p != end)
    return FALSE;
  *rseq = (guint32) v;
  return TRUE;
}

gboolean
sf_ua_parse_rack (SfSipStr value, guint32 *rseq, guint32 *cseq, char **method)
{
  const char *p = value.p, *end = value.p + value.len;
  guint64 r, c;
  while (p < end && is_lws (*p))
    p++;
  p = scan_num (p, end, G_MAXUINT32, &r);
  if (p == NULL || p == end || !is_lws (*p))
    return FALSE;
  while (p < end && is_lws (*p))
    p++;
  /* RFC 3261 8.1.1.5: a CSeq number is below 2**31 */
  p = scan_num (p, end, G_MAXINT32, &c);
  if (p == NULL || p == end || !is_lws (*p))
    return FALSE;
  while (p < end && is_lws (*p))
    p++;
  const char *m = p;
  while (p < end && sf_sip_is_token_char ((guchar) *p))
    p++;
  if (p == m)
    return FALSE;
  const char *mend = p;
  while (p < end && is_lws (*p))
    p++;
  if (p != end)
    return FALSE;
  *rseq = (guint32) r;
  *cseq = (guint32) c;
  *method = g_strndup (m, (gsize) (mend - m));
  return TRUE;
}

/* ---- settings ---- */

/* ua.100rel: 0 off, 1 supported, 2 required (supported without a configuration). */
static int
rel_mode (SfCtx *ctx)
{
  const char *v = sf_ua_cfg (ctx, "100rel");
  if (v == NULL)
    return 1;
  return strcmp (v, "off") == 0 ? 0 : strcmp (v, "required") == 0 ? 2 : 1;
}

gboolean
sf_ua_prack_on (SfCtx *ctx)
{
  /* as UAS: a flow that cannot take the PRACK sends nothing reliably */
  return rel_mode (ctx) > 0 && sf_ua_flow_binds (ctx, "OpPrack");
}

const char *
sf_ua_prack_invite_line (SfCtx *ctx)
{
  if (!sf_ua_flow_binds (ctx, "OpSendPrack"))
    return NULL; /* as UAC: a flow that sends no PRACK does not offer 100rel */
  switch (rel_mode (ctx)) {
  case 1:
    return "Supported: 100rel";
  case 2:
    return "Require: 100rel";
  default:
    return NULL;
  }
}

gboolean
sf_ua_late_offer (SfCtx *ctx)
{
  SfConfig *cfg = sf_endpoint_config (sf_ctx_endpoint (ctx));
  return cfg != NULL && sf_config_get_bool (cfg, "ua", "late_offer");
}

/* Does @m name the option tag @tag in one of its @id lines (Supported, Require)? */
static gboolean
names_tag (SfSipMsg *m, SfSipHdrId id, const char *tag)
{
  SfSipValues *v = sf_sip_msg_values (m, id, NULL);
  for (guint i = 0; v != NULL && i < v->len; i++)
    if (sf_sip_str_caseeq (((SfSipValue *) v->pdata[i])->text, tag))
      return TRUE;
  return FALSE;
}

/* ---- UAS ---- */

gboolean
sf_ua_prack_reliable (SfCtx *ctx, SfUaCall *call, gboolean early)
{
  if (call->invite == NULL || !sf_ua_prack_on (ctx))
    return FALSE;
  SfSipMsg *inv = call->invite->msg;
  /* 3: Require: 100rel obliges every non-100 provisional to go reliably; with
   * ua.100rel = required, every INVITE left here supports it (OpNeed100rel);
   * Supported alone: only a 183 whose SDP starts early media, which must not
   * be lost (RFC 3262 1: the PSTN interworking it was made for) */
  if (names_tag (inv, SF_SIP_HDR_REQUIRE, "100rel") || rel_mode (ctx) == 2)
    return TRUE;
  return early && names_tag (inv, SF_SIP_HDR_SUPPORTED, "100rel");
}

/* "127.0.0.1" of the socket the INVITE came in on (transfer full). */
static char *
invite_host (SfUaCall *call)
{
  GInetSocketAddress *l = call->invite->peer.local;
  if (l == NULL)
    return g_strdup ("127.0.0.1");
  return g_inet_address_to_string (g_inet_socket_address_get_address (l));
}

/* Writes a "rel1xx" event: our reliable 1xx sent (retransmission @n, 0 the first). */
static void
emit_rel1xx (SfCtx *ctx, SfUaCall *call, guint n)
{
  g_autofree char *f = g_strdup_printf ("\"status\":%u,\"rseq\":%u,\"retransmission\":%u",
                                        sf_sip_msg_status (call->rel_1xx), call->rseq, n);
  sf_ctx_emit (ctx, "rel1xx", f);
}

SfSipMsg *
sf_ua_prack_send_1xx (SfCtx *ctx, SfUaCall *call, guint status)
{
  /* 3: one reliable 1xx at a time; this UA sends one 1xx per INVITE */
  if (call->rel_1xx != NULL)
    return NULL;
  g_autofree char *body = NULL;
  if (call->pending_answer != NULL) {
    /* RFC 3261 13.2.1: the answer goes in the first reliable non-failure message */
    body = g_strdup (call->pending_answer);
    call->offer_in = FALSE;
    call->oa_done = TRUE;
  } else if (call->leg != NULL) {
    /* a B2BUA leg: the callee's 1xx had no SDP to relay; none of our own goes */
  } else {
    /* an INVITE without offer: ours goes in the first reliable message, the PRACK brings the answer (5) */
    g_autofree char *host = invite_host (call);
    g_autoptr (GError) error = NULL;
    SfSdpSession *s = sf_ua_call_sdp (ctx, call, host, &error);
    if (s == NULL) {
      g_warning ("%s: reliable %u: %s", sf_ctx_handle (ctx), status, error->message);
      return NULL;
    }
    body = sf_sdp_session_offer (s, call->want_dir);
    call->offer_out = TRUE;
  }
  g_autoptr (SfSipMsg) base =
    sf_ua_build_response (ctx, call->invite->msg, &call->invite->peer, status, call->tag, NULL, NULL, NULL);
  if (base == NULL)
    return NULL;
  /* 3: RSeq starts anywhere from 1 to 2**31 - 1 and grows by one per reliable 1xx */
  call->rseq = call->rseq == 0 ? (guint32) g_random_int_range (1, G_MAXINT32) : call->rseq + 1;
  g_autofree char *reason = sf_sip_str_dup (sf_sip_msg_reason (base));
  g_autoptr (SfSipBuilder) b = sf_sip_builder_response (status, reason);
  for (guint i = 0; i < sf_sip_msg_n_headers (base); i++) {
    const SfSipHdr *h = sf_sip_msg_header (base, i);
    if (h->id != SF_SIP_HDR_CONTENT_LENGTH)
      sf_sip_builder_add_line (b, h);
  }
  sf_sip_builder_add (b, "Require", "100rel");
  sf_sip_builder_add (b, "RSeq", "%u", call->rseq);
  if (body != NULL)
    sf_sip_builder_body (b, "application/sdp", body, strlen (body));
  SfSipMsg *r = sf_sip_builder_finish (g_steal_pointer (&b), NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), call->invite->txn, r)) {
    g_clear_pointer (&r, sf_sip_msg_unref);
    return NULL;
  }
  call->rel_1xx = sf_sip_msg_ref (r);
  call->rel_sdp = body != NULL;
  if (body != NULL) {
    g_free (call->rel_body);
    call->rel_body = g_steal_pointer (&body);
  }
  /* 3: retransmitted from T1, doubling, until the PRACK; given up after 64*T1 */
  guint t1 = sf_stack_timer_ms (sf_stack_from_ctx (ctx), '1');
  sf_stack_backoff_start (ctx, "rel1xx", t1);
  sf_ctx_timer_start (ctx, "rel1xx_guard", 64 * (guint64) t1);
  call->rel_sent = 0;
  emit_rel1xx (ctx, call, 0);
  return r;
}

/* timer:rel1xx: the reliable 1xx again, its interval doubled (3: no T2 cap). */
static SfOpResult
sf_op_rel1xx_resend (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "rel1xx") != 0)
    return SF_OP_SKIP;
  if (call == NULL || call->rel_1xx == NULL || call->final_sent) {
    /* 3: a final response went (487, a redirection): no more retransmissions */
    sf_ctx_timer_cancel (ctx, "rel1xx_guard");
    return SF_OP_DONE;
  }
  SfStack *s = sf_stack_from_ctx (ctx);
  if (sf_stack_respond (s, call->invite->txn, call->rel_1xx))
    sf_stack_count (s, SF_STACK_STAT_RETRANSMISSIONS_SENT);
  emit_rel1xx (ctx, call, ++call->rel_sent);
  sf_stack_backoff (ctx, "rel1xx", FALSE);
  return SF_OP_DONE;
}

/* timer:rel1xx_guard: no PRACK in 64*T1 (3: the UAS SHOULD reject the INVITE
 * with a 5xx): 500, the call ends (call_end no_prack). */
static SfOpResult
sf_op_rel1xx_give_up (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "rel1xx_guard") != 0 || call == NULL || call->rel_1xx == NULL || call->invite == NULL)
    return SF_OP_SKIP;
  sf_ctx_timer_cancel (ctx, "rel1xx");
  g_clear_pointer (&call->rel_1xx, sf_sip_msg_unref);
  if (!call->final_sent) {
    g_autoptr (SfSipMsg) r = sf_sip_create_response (call->invite->msg, 500, NO_PRACK_REASON, call->tag, NULL);
    if (r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), call->invite->txn, r))
      call->final_sent = TRUE;
  }
  g_warning ("%s: no PRACK for our reliable 1xx in 64*T1: 500 (RFC 3262 3)", sf_ctx_handle (ctx));
  sf_ua_call_set_reason (call, "no_prack", 500);
  return SF_OP_TRANSITION;
}

/* device:answer or timer:answer while a reliable 1xx with SDP waits for its
 * PRACK (3: no 2xx before it): the answer is held until the PRACK, which
 * starts timer:answer again; the call stays where it is (Ringing). */
static SfOpResult
sf_op_hold_answer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "answer") != 0 || call == NULL || call->rel_1xx == NULL || !call->rel_sdp ||
      call->final_sent)
    return SF_OP_SKIP;
  call->answer_held = TRUE;
  g_info ("%s: answered: the 200 waits for the PRACK of our reliable 1xx (RFC 3262 3)", sf_ctx_handle (ctx));
  return SF_OP_DONE;
}

/* Writes a "prack" event: a PRACK received (dir in, with our answer's status)
 * or sent (dir out), its RAck. */
static void
emit_prack (SfCtx *ctx, const char *dir, guint status, guint32 rseq, guint32 cseq)
{
  g_autofree char *f =
    g_strdup_printf ("\"dir\":\"%s\",\"status\":%u,\"rseq\":%u,\"cseq\":%u", dir, status, rseq, cseq);
  sf_ctx_emit (ctx, "prack", f);
}

static gboolean
respond (SfCtx *ctx, SfSipEvent *e, guint status, const char *reason, const char *ctype, const char *body)
{
  g_autoptr (SfSipMsg) r = NULL;
  if (ctype != NULL)
    r = sf_ua_build_response (ctx, e->msg, &e->peer, status, NULL, ctype, body, NULL);
  else
    r = sf_sip_create_response (e->msg, status, reason, NULL, NULL);
  return r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r);
}

static const char *const prack_outcomes[] = { "sdp_failed", NULL };

/* Our reliable 1xx is PRACKed: an answer held for it goes now (OpAnswerCall on timer:answer). */
static void
resume_held_answer (SfCtx *ctx, SfUaCall *call)
{
  if (call->answer_held) {
    call->answer_held = FALSE;
    sf_ctx_timer_start (ctx, "answer", 0);
  }
}

/* A PRACK (3, 5): one whose RAck (RSeq, CSeq number, method INVITE) names our
 * reliable 1xx not yet acknowledged gets 200 and stops its retransmission; any
 * other 481; a missing or malformed RAck 400 naming it.  When our 1xx carried
 * the offer, the PRACK carries the answer (none usable: the PRACK gets its
 * 200, the INVITE 488, outcome sdp_failed); a PRACK with a new offer gets the
 * answer in its 200.  An answer held for this PRACK goes now (timer:answer). */
static SfOpResult
sf_op_prack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "PRACK") != 0 || e == NULL || e->txn == NULL)
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call_peek (ctx);
  const SfSipHdr *h = sf_sip_msg_find_name (e->msg, "RAck");
  guint32 rseq = 0, cseq = 0;
  g_autofree char *method = NULL;
  if (h == NULL || !sf_ua_parse_rack (h->value, &rseq, &cseq, &method)) {
    respond (ctx, e, 400, h == NULL ? "Missing RAck Header" : "Bad RAck Header", NULL, NULL);
    emit_prack (ctx, "in", 400, rseq, cseq);
    return SF_OP_DONE;
  }
  guint status = 200;
  if (call == NULL || call->dialog == NULL || !call->incoming) {
    status = 481;
  } else if (!sf_sip_dialog_request_in (call->dialog, e->msg, &status)) {
    /* 12.2.2: another dialog (481) or a CSeq out of order (500) */
  } else if (call->rel_1xx == NULL || rseq != call->rseq || strcmp (method, "INVITE") != 0 ||
             cseq != sf_sip_msg_cseq (call->invite->msg)->number) {
    status = 481; /* 3: no unacknowledged reliable 1xx matches */
  }
  if (status != 200) {
    respond (ctx, e, status, NULL, NULL, NULL);
    emit_prack (ctx, "in", status, rseq, cseq);
    return SF_OP_DONE;
  }
  sf_ctx_timer_cancel (ctx, "rel1xx");
  sf_ctx_timer_cancel (ctx, "rel1xx_guard");
  g_clear_pointer (&call->rel_1xx, sf_sip_msg_unref);
  SfSipStr body = sf_sip_msg_body (e->msg);
  g_autofree char *answer = NULL;
  g_autofree char *why = NULL;
  if (call->offer_out) {
    /* 5: the answer to the offer of our reliable 1xx */
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
    if (body.len == 0)
      why = g_strdup ("the PRACK has no SDP answer to the offer in our reliable 1xx");
    else if (!sf_sdp_session_take_answer (call->sdp, body.p, body.len, &m, &error))
      why = g_strdup_printf ("the SDP answer in the PRACK: %s", error->message);
    else {
      sf_ua_call_take_media (call, &m);
      call->have_media = TRUE;
      call->media_new = TRUE;
    }
    call->offer_out = FALSE;
    call->oa_done = why == NULL;
  } else if (body.len > 0 && call->sdp != NULL) {
    /* 5: a new offer in the PRACK, answered in its 200 */
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
    answer = sf_sdp_session_answer (call->sdp, body.p, body.len, call->want_dir, &m, &error);
    if (answer == NULL) {
      g_info ("%s: the offer in the PRACK: 488: %s", sf_ctx_handle (ctx), error->message);
      respond (ctx, e, 488, NULL, NULL, NULL);
      emit_prack (ctx, "in", 488, rseq, cseq);
      /* the PRACK acknowledged our 1xx all the same (its retransmission
       * stopped): a held answer goes, the session as the 1xx set it (RFC 3264
       * 6); kept held, the call rang for ever (Ringing has no timer) */
      resume_held_answer (ctx, call);
      return SF_OP_DONE;
    }
    sf_ua_call_take_media (call, &m);
    call->media_new = TRUE;
    /* the 2xx to the INVITE repeats the latest SDP we sent */
    g_free (call->pending_answer);
    call->pending_answer = g_strdup (answer);
    g_free (call->rel_body);
    call->rel_body = g_strdup (answer);
  }
  if (!respond (ctx, e, 200, NULL, answer != NULL ? "application/sdp" : NULL, answer))
    return SF_OP_ERROR;
  emit_prack (ctx, "in", 200, rseq, cseq);
  if (why != NULL) {
    g_autoptr (SfSipMsg) r = sf_sip_create_response (call->invite->msg, 488, NULL, call->tag, NULL);
    if (r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), call->invite->txn, r))
      call->final_sent = TRUE;
    sf_ua_call_sdp_failed (ctx, call, why);
    sf_ua_call_set_reason (call, "sdp_failed", 488);
    return SF_OP_OUTCOME (0);
  }
  resume_held_answer (ctx, call); /* OpAnswerCall sends the 200 now */
  return SF_OP_DONE;
}

static const char *const need_outcomes[] = { "refused", NULL };

/* ua.100rel = required: a new INVITE that neither supports nor requires 100rel
 * gets 421 Extension Required with Require: 100rel (RFC 3262 3, RFC 3261
 * 21.4.16), outcome refused (call_end extension_required). */
static SfOpResult
sf_op_need_100rel (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "INVITE") != 0 || e == NULL || e->txn == NULL || rel_mode (ctx) != 2 ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL || sf_ua_call_peek (ctx) != NULL ||
      names_tag (e->msg, SF_SIP_HDR_SUPPORTED, "100rel") || names_tag (e->msg, SF_SIP_HDR_REQUIRE, "100rel"))
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call_screened (ctx, e);
  static const char *const lines[] = { "Require: 100rel", NULL };
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, 421, NULL, call->tag, lines, NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  sf_ua_call_set_reason (call, "extension_required", 421);
  return SF_OP_OUTCOME (0);
}

/* ---- UAC ---- */

/* The early dialog of @tag for our INVITE of CSeq @cseq, made on first use
 * from @resp (NULL past SF_UA_MAX_EARLY). */
static SfUaEarly *
early_of (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp, const char *tag, guint32 cseq)
{
  if (call->early == NULL)
    call->early = g_ptr_array_new_with_free_func (early_free);
  for (guint i = call->early->len; i > 0; i--) {
    SfUaEarly *x = call->early->pdata[i - 1];
    if (x->cseq != cseq)
      g_ptr_array_remove_index (call->early, i - 1); /* a 1xx of an INVITE before a redirect or challenge */
    else if (strcmp (x->tag, tag) == 0)
      return x;
  }
  if (call->early->len >= SF_UA_MAX_EARLY)
    return NULL;
  SfUaEarly *x = g_new0 (SfUaEarly, 1);
  x->tag = g_strdup (tag);
  x->cseq = cseq;
  if (call->dialog == NULL)
    sf_ua_uac_early_dialog (ctx, call, resp); /* 12.1.2: the first early dialog is the call's */
  gboolean calls = /* the call's own early dialog */
    call->dialog != NULL && call->dialog->remote_tag != NULL && strcmp (call->dialog->remote_tag, tag) == 0;
  if (!calls)
    x->dialog = sf_sip_dialog_new_uac (call->invite_out, resp, NULL); /* a fork's */
  if (!calls && x->dialog == NULL) {
    early_free (x);
    return NULL; /* no dialog to PRACK in (no Contact) */
  }
  g_ptr_array_add (call->early, x);
  return x;
}

/* A PRACK for the reliable 1xx @rseq in @d (12.2.1.1, 7.2: RAck RSEQ CSEQ
 * INVITE): its CSeq number, 0 when it could not go. */
static guint32
send_prack (SfCtx *ctx, SfSipDialog *d, guint32 rseq, guint32 cseq, const char *sdp)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  g_auto (SfUaHop) hop = { 0 };
  if (s == NULL || !sf_ua_hop (ctx, sf_ua_dialog_hop (d), &hop))
    return 0;
  g_autofree char *rack = g_strdup_printf ("RAck: %u %u INVITE", rseq, cseq);
  const char *const extra[] = { rack, NULL };
  SfSipDialogRequest r = { .method = "PRACK", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .extra = extra, .content_type = sdp != NULL ? "application/sdp" : NULL, .body = sdp,
                           .body_len = sdp != NULL ? strlen (sdp) : 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *next_hop = NULL;
  g_autoptr (SfSipMsg) prack = sf_sip_dialog_create_request (d, &r, &next_hop, &error);
  if (prack == NULL) {
    g_warning ("%s: PRACK: %s", sf_ctx_handle (ctx), error->message);
    return 0;
  }
  guint32 number = (guint32) sf_sip_msg_cseq (prack)->number;
  sf_stack_request_to (s, sf_ctx_instance (ctx), prack, next_hop);
  return number;
}

/* A reliable 1xx to our INVITE (Require: 100rel with an RSeq; 4): the first of
 * its early dialog, or the one after the last taken (RSeq one higher), gets a
 * PRACK in that dialog, and goes on to OpFarEndResponse; a retransmission or
 * one out of order is discarded (not processed further, 4).  Other responses
 * go on untouched. */
static SfOpResult
sf_op_send_prack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "response") != 0 || e == NULL || call == NULL || call->incoming || call->invite_out == NULL ||
      rel_mode (ctx) == 0)
    return SF_OP_SKIP;
  const SfSipValue *cs = sf_sip_msg_cseq (e->msg);
  guint status = sf_sip_msg_status (e->msg);
  if (status <= 100 || status >= 200 || !sf_sip_str_eq (cs->text, "INVITE") ||
      cs->number != sf_sip_msg_cseq (call->invite_out)->number || !names_tag (e->msg, SF_SIP_HDR_REQUIRE, "100rel"))
    return SF_OP_SKIP;
  const SfSipHdr *h = sf_sip_msg_find_name (e->msg, "RSeq");
  guint32 rseq;
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (e->msg), "tag");
  if (h == NULL || !sf_ua_parse_rseq (h->value, &rseq) || tt == NULL) {
    /* no PRACK can name it: taken as an unreliable 1xx */
    g_warning ("%s: a %u with Require: 100rel but %s: no PRACK", sf_ctx_handle (ctx), status,
               tt == NULL ? "no To tag" : h == NULL ? "no RSeq" : "a bad RSeq");
    return SF_OP_SKIP;
  }
  g_autofree char *tag = sf_sip_str_dup (tt->value);
  SfUaEarly *x = early_of (ctx, call, e->msg, tag, (guint32) cs->number);
  if (x == NULL) {
    g_warning ("%s: a reliable %u from early dialog %s: not PRACKed (bound %d or no Contact)", sf_ctx_handle (ctx),
               status, tag, SF_UA_MAX_EARLY);
    return SF_OP_CONTINUE; /* taken as an unreliable 1xx */
  }
  if (x->rseq != 0 && rseq != x->rseq + 1) {
    g_info ("%s: reliable %u with RSeq %u after %u: discarded (RFC 3262 4)", sf_ctx_handle (ctx), status, rseq,
            x->rseq);
    return SF_OP_DONE;
  }
  if (x->prack_cseq != 0) {
    /* 3: no reliable 1xx before the previous one is PRACKed; ours is not
     * answered yet: discarded, not taken (its UAS retransmits it).  One PRACK
     * at a time per early dialog: a callee flooding RSeqs cannot make a
     * client transaction of ours per 1xx (each retransmitted for 32 s). */
    g_info ("%s: reliable %u with RSeq %u while our PRACK for %u waits: discarded", sf_ctx_handle (ctx), status,
            rseq, x->rseq);
    return SF_OP_DONE;
  }
  x->rseq = rseq;
  SfSipDialog *d = x->dialog != NULL ? x->dialog : call->dialog;
  SfSipStr body = sf_sip_msg_body (e->msg);
  g_autofree char *answer = NULL;
  if (body.len > 0 && !call->offer_out && !call->oa_done && call->sdp != NULL) {
    /* our INVITE had no offer (ua.late_offer): this is the offer, the PRACK
     * carries the answer (RFC 3262 5); kept as the early SDP, so that
     * OpFarEndResponse does not take it as an answer and the 2xx may repeat it */
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
    answer = sf_sdp_session_answer (call->sdp, body.p, body.len, call->want_dir, &m, &error);
    if (answer == NULL) {
      g_warning ("%s: the offer in the reliable %u: %s: PRACK without answer", sf_ctx_handle (ctx), status,
                 error->message);
    } else {
      sf_ua_call_take_media (call, &m);
      call->have_media = TRUE;
      call->media_new = TRUE; /* RingBack's OpStartAudio: early media */
      g_free (call->early_sdp);
      call->early_sdp = g_strndup (body.p, body.len);
      call->oa_done = TRUE;
    }
  } else if (body.len > 0 && call->offer_out) {
    call->offer_out = FALSE; /* 5: the SDP of a reliable 1xx answers our offer (taken by OpFarEndResponse) */
    call->oa_done = TRUE;
  }
  if (d == NULL || (x->prack_cseq = send_prack (ctx, d, rseq, (guint32) cs->number, answer)) == 0)
    return SF_OP_CONTINUE;
  emit_prack (ctx, "out", 0, rseq, (guint32) cs->number);
  return SF_OP_CONTINUE;
}

gboolean
sf_ua_late_answer (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp, char **answer, char **why)
{
  if (call->offer_out || call->oa_done || call->sdp == NULL || call->invite_out == NULL ||
      sf_sip_msg_body (call->invite_out).len > 0)
    return FALSE;
  SfSipStr body = sf_sip_msg_body (resp);
  if (body.len == 0) {
    *why = g_strdup_printf ("the %u has no SDP offer to our INVITE without one", sf_sip_msg_status (resp));
    return TRUE;
  }
  g_autoptr (GError) error = NULL;
  g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
  *answer = sf_sdp_session_answer (call->sdp, body.p, body.len, call->want_dir, &m, &error);
  if (*answer == NULL) {
    *why = g_strdup_printf ("the SDP offer in the %u: %s", sf_sip_msg_status (resp), error->message);
    return TRUE;
  }
  g_info ("%s: the offer came in the %u: the answer goes in the ACK (RFC 3261 13.2.1)", sf_ctx_handle (ctx),
          sf_sip_msg_status (resp));
  sf_ua_call_take_media (call, &m);
  call->have_media = TRUE;
  call->oa_done = TRUE;
  return TRUE;
}

/* A 2xx from another fork confirms a dialog OpFarEndResponse made from the
 * INVITE: its CSeq goes past the PRACKs sent in its early dialog (12.2.1.1). */
void
sf_ua_prack_confirmed (SfUaCall *call)
{
  if (call->early == NULL || call->dialog == NULL || call->dialog->remote_tag == NULL)
    return;
  for (guint i = 0; i < call->early->len; i++) {
    SfUaEarly *x = call->early->pdata[i];
    if (x->dialog != NULL && strcmp (x->tag, call->dialog->remote_tag) == 0 &&
        x->dialog->local_cseq > call->dialog->local_cseq)
      call->dialog->local_cseq = x->dialog->local_cseq;
  }
}

/* Our PRACK @m (or a response to it) is done with: its early dialog may PRACK again. */
static void
prack_done (SfCtx *ctx, SfSipMsg *m)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (m), "tag");
  for (guint i = 0; call != NULL && call->early != NULL && tt != NULL && i < call->early->len; i++) {
    SfUaEarly *x = call->early->pdata[i];
    if (x->prack_cseq == (guint32) sf_sip_msg_cseq (m)->number && sf_sip_str_eq (tt->value, x->tag))
      x->prack_cseq = 0;
  }
}

/* The responses to our PRACKs and their transaction's failure: logged, never
 * the call's business (the INVITE's own responses move it). */
static SfOpResult
sf_op_prack_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (ev->kind == SF_EV_TXN) {
    SfSipMsg *req = sf_ua_failed_request (sf_ua_call_peek (ctx), ev); /* a PRACK we received is not ours */
    if (req == NULL || !sf_sip_str_eq (sf_sip_msg_method (req), "PRACK"))
      return SF_OP_SKIP;
    g_warning ("%s: our PRACK: %s", sf_ctx_handle (ctx), ev->name);
    prack_done (ctx, req);
    return SF_OP_DONE;
  }
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "response") != 0 || e == NULL || !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "PRACK"))
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status >= 300)
    g_warning ("%s: %u to our PRACK", sf_ctx_handle (ctx), status);
  if (status >= 200) {
    prack_done (ctx, e->msg);
    g_autofree char *f = g_strdup_printf ("\"dir\":\"answered\",\"status\":%u", status);
    sf_ctx_emit (ctx, "prack", f);
  }
  return SF_OP_DONE;
}

const SfOperatorDef sf_op_prack_table[] = {
  { "OpNeed100rel", sf_op_need_100rel, SF_Q_NORMAL, SF_EV_SIP, 0, need_outcomes, SF_ARG_NONE, NULL, NULL,
    "with ua.100rel = required, refuses a new INVITE that neither supports nor requires 100rel with 421 Extension "
    "Required and Require: 100rel; outcome refused (the call ends)", "sip:INVITE", NULL, "RFC 3262 3" },
  { "OpPrack", sf_op_prack, SF_Q_NORMAL, SF_EV_SIP, 0, prack_outcomes, SF_ARG_NONE, NULL, NULL,
    "answers a PRACK: 200 when its RAck names our reliable 1xx not yet acknowledged (its retransmission stops; an "
    "answer to our offer taken, a new offer answered in the 200; a held answer goes on timer:answer), 481 "
    "otherwise, 400 for a missing or bad RAck; outcome sdp_failed when the PRACK lacks the answer to our offer "
    "(the INVITE gets 488)", "sip:PRACK", NULL, "RFC 3262 3, 5" },
  { "OpRel1xxResend", sf_op_rel1xx_resend, SF_Q_NORMAL, SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "on timer:rel1xx sends our reliable 1xx again, its interval doubled (from T1, no cap), until the PRACK",
    "timer:rel1xx", NULL, "RFC 3262 3" },
  { "OpRel1xxGiveUp", sf_op_rel1xx_give_up, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL,
    "on timer:rel1xx_guard (64*T1 without PRACK): the INVITE gets 500, the call ends (call_end no_prack); then "
    "transitions", "timer:rel1xx_guard", NULL, "RFC 3262 3" },
  { "OpHoldAnswer", sf_op_hold_answer, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes device:answer or timer:answer while our reliable 1xx with SDP waits for its PRACK: no 2xx before it, "
    "the answer is held (OpPrack starts timer:answer when the PRACK comes, for OpAnswerCall); the call stays",
    "device:answer|timer:answer", NULL, "RFC 3262 3" },
  { "OpSendPrack", sf_op_send_prack, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a reliable 1xx to our INVITE (Require: 100rel, RSeq): a PRACK with RAck in its early dialog (one per "
    "To tag, bounded), once per RSeq, and the 1xx goes on to the next operator; a retransmission, an RSeq out of "
    "order or one that comes while our PRACK in its early dialog is unanswered is discarded", "sip:response 1xx", NULL, "RFC 3262 4" },
  { "OpPrackAnswered", sf_op_prack_answered, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes the responses to our PRACKs and their transaction's timeout or transport error: logged (prack event), "
    "the call does not move", "sip:response|txn:timeout|txn:transport_error", NULL, "RFC 3262 4" },
};
const gsize sf_op_prack_table_len = G_N_ELEMENTS (sf_op_prack_table);
