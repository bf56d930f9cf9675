/* sf-op-uac.c: the calling side of the user agent, named after VOCAL's
 * (OpStartCall, OpFarEndResponse, OpReDirect, OpTerminateCall...): an INVITE
 * with an SDP offer sent by RFC 3263 location (13.2.1), redirects followed
 * (8.1.3.4), challenges answered (22.2, 22.3), the UAC dialog from the 2xx
 * (12.1.2) with its ACK (13.2.2.4), CANCEL before the answer (9.1), the BYE
 * (15.1.1), and hold and resume by re-INVITE (14.1, RFC 3264 8.4). */
#include "config.h"
#include "sf-ua-call.h"
#include "sf-session-timer.h"
#include "sf-refer.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-clock.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

char *
sf_ua_outbound_route (SfCtx *ctx)
{
  const char *proxy = sf_ua_cfg (ctx, "outbound_proxy");
  if (proxy == NULL)
    return NULL;
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (proxy, strlen (proxy)), NULL, NULL);
  gboolean lr = u != NULL && sf_sip_uri_param (u, "lr") != NULL;
  return g_strdup_printf ("<%s%s>", proxy, lr ? "" : ";lr");
}

/* @lines: the credentials of @auth with ua.100rel's
 * Supported or Require line (RFC 3262 4). */
static const char *const *
with_100rel (SfCtx *ctx, const SfUaAuth *auth, const char *lines[10])
{
  const char *rel = sf_ua_prack_invite_line (ctx);
  guint n = 0;
  sf_ua_auth_lines (auth, lines);
  while (lines[n] != NULL)
    n++;
  lines[n] = rel;
  if (rel != NULL)
    lines[n + 1] = NULL;
  return lines;
}

/* One Supported line and one Require line out of the several the extensions
 * give (100rel's, the session timer's): the same header on several lines is
 * legal (7.3.1), but one list is what peers read best.  @lines is rewritten in
 * place; the combined lines go into @keep (freed with it). */
static void
combine_option_lines (const char **lines, GPtrArray *keep)
{
  static const char *const names[] = { "Supported: ", "Require: " };
  for (guint k = 0; k < G_N_ELEMENTS (names); k++) {
    GString *all = NULL;
    guint w = 0;
    for (guint r = 0; lines[r] != NULL; r++) {
      if (!g_str_has_prefix (lines[r], names[k])) {
        lines[w++] = lines[r];
        continue;
      }
      if (all == NULL)
        all = g_string_new (names[k]);
      else
        g_string_append (all, ", ");
      g_string_append (all, lines[r] + strlen (names[k]));
    }
    if (all != NULL) {
      char *line = g_string_free (all, FALSE);
      g_ptr_array_add (keep, line);
      lines[w++] = line;
    }
    lines[w] = NULL;
  }
}

/* An INVITE to @ruri like the last one (same Call-ID, From tag, To; CSeq one
 * more, 8.1.3.4 and 22.2) with its offer, or with a new offer when
 * @new_offer, or the first one; with @auth_line (a whole header line) when
 * answering a challenge.  Sent through a new client transaction. */
static gboolean
send_invite (SfCtx *ctx, SfUaCall *call, const char *ruri, gboolean new_offer, GError **error)
{
  g_autofree char *route = sf_ua_outbound_route (ctx);
  /* the Via names the transport the INVITE leaves on (18.1.1), the Contact the
   * one we are reached on (20.10): TCP for a transport=tcp hop, or when we
   * listen on TCP only (RFC 3263 4.1) */
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, route != NULL ? route : ruri, &hop)) {
    g_set_error (error, SF_SDP_ERROR, SF_SDP_ERROR_NOT_ACCEPTABLE, "no socket to call from (use --listen udp:ADDR:PORT)");
    return FALSE;
  }
  const char *local = hop.local;
  if (call->invite_out == NULL)
    call->signalling_tls = hop.proto == SF_SIP_TLS; /* SDES keys only over TLS (sf_ua_call_signalling_secure) */
  SfUaLeg *leg = call->leg; /* a B2BUA's B leg: built from what device:call gave, nothing of A's (docs/b2bua.md) */
  g_autofree char *from = leg != NULL && leg->from != NULL ? g_strdup (leg->from) : sf_ua_from (ctx, local);
  g_autofree char *contact = sf_ua_contact (ctx, local, hop.contact_proto, hop.sips);
  const char *routes[] = { route, NULL };
  const char *extra[14]; /* the credentials answered so far, 401's and 407's both (22.3); 100rel's line; the session timer's; invite_extra's */
  g_autofree char *to = NULL, *call_id = NULL, *from_tag = NULL, *body = NULL;
  guint32 cseq = 1;
  SfSipMsg *prev = call->invite_out;
  if (prev != NULL) {
    to = sf_sip_str_dup (sf_sip_msg_to (prev)->raw);
    call_id = sf_sip_str_dup (sf_sip_msg_call_id (prev));
    const SfSipParam *ft = sf_sip_value_param (sf_sip_msg_from (prev), "tag");
    from_tag = ft != NULL ? sf_sip_str_dup (ft->value) : NULL;
    cseq = (guint32) sf_sip_msg_cseq (prev)->number + 1;
    body = new_offer && call->sdp != NULL ? sf_ua_offer (ctx, call, call->want_dir)
                                          : sf_sip_str_dup (sf_sip_msg_body (prev));
  } else if (leg != NULL) {
    to = g_strdup_printf ("<%s>", ruri);
    body = g_strdup (leg->last_sdp != NULL ? leg->last_sdp : ""); /* the bridge's offer; none: offer-less */
  } else {
    to = g_strdup_printf ("<%s>", ruri);
    /* the SDP names the socket's own address (sip.advertise may be a name) */
    SfStack *st = sf_stack_from_ctx (ctx);
    g_autofree char *sock = st != NULL ? sf_stack_local_socket (st, SF_SIP_UDP) : NULL;
    if (sock == NULL && st != NULL)
      sock = sf_stack_local_socket (st, SF_SIP_TCP);
    g_autofree char *host = sf_ua_host_of (sock != NULL ? sock : local);
    SfSdpSession *sdp = sf_ua_call_sdp (ctx, call, host, error);
    if (sdp == NULL)
      return FALSE;
    /* ua.late_offer: no offer, the callee makes it (RFC 3261 13.2.1; sf-op-prack.c) */
    body = sf_ua_late_offer (ctx) ? g_strdup ("") : sf_ua_offer (ctx, call, call->want_dir);
  }
  call->offer_out = *body != '\0';
  g_auto (GStrv) timer = sf_ua_se_invite_lines (ctx, call); /* RFC 4028 7.1 */
  guint n = g_strv_length ((char **) with_100rel (ctx, &call->auth, extra));
  for (guint i = 0; timer != NULL && timer[i] != NULL && n + 1 < G_N_ELEMENTS (extra); i++)
    extra[n++] = timer[i];
  if (sf_ua_supports (ctx, "replaces") && n + 1 < G_N_ELEMENTS (extra))
    extra[n++] = "Supported: replaces"; /* RFC 3891 6.2: combined with the others below */
  for (guint i = 0; call->invite_extra != NULL && i < call->invite_extra->len && n + 1 < G_N_ELEMENTS (extra); i++)
    extra[n++] = call->invite_extra->pdata[i];
  extra[n] = NULL;
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (all, (gpointer) extra[i]);
  for (guint i = 0; leg != NULL && leg->lines != NULL && i < leg->lines->len; i++) {
    const char *l = leg->lines->pdata[i];
    /* the flow's lines (OpBridgeCall's arg): whole "Name: value" lines, never a line break (no header injection) */
    if (l != NULL && strchr (l, ':') != NULL && strpbrk (l, "\r\n") == NULL)
      g_ptr_array_add (all, (gpointer) l);
  }
  g_ptr_array_add (all, NULL);
  g_autoptr (GPtrArray) combined = g_ptr_array_new_with_free_func (g_free);
  combine_option_lines ((const char **) all->pdata, combined);
  SfSipRequestSpec spec = { .method = "INVITE", .ruri = ruri, .from = from, .from_tag = from_tag, .to = to,
                            .call_id = call_id, .cseq = cseq, .via_sent_by = local,
                            .transport = sf_ua_hop_transport (&hop), .contact = contact,
                            .route = route != NULL ? routes : NULL, .extra = (const char *const *) all->pdata,
                            .content_type = *body != '\0' ? "application/sdp" : NULL, .body = body,
                            .body_len = strlen (body), .max_forwards = leg != NULL ? leg->max_forwards : 0 };
  SfSipMsg *inv = sf_sip_create_request (&spec, error);
  if (inv == NULL)
    return FALSE;
  if (call->invite_out == NULL)
    sf_ua_call_set_call_id (ctx, sf_sip_msg_call_id (inv));
  g_clear_pointer (&call->invite_out, sf_sip_msg_unref);
  call->invite_out = inv;
  const SfSipParam *tag = sf_sip_value_param (sf_sip_msg_from (inv), "tag");
  g_autofree char *local_tag = tag != NULL ? sf_sip_str_dup (tag->value) : NULL;
  sf_stack_set_local_tag (ctx, local_tag);
  call->provisional = FALSE;
  g_clear_pointer (&call->early_sdp, g_free); /* an early answer is for the INVITE it came to */
  sf_stack_request_located (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), inv);
  return TRUE;
}

gboolean
sf_ua_resend_invite (SfCtx *ctx, SfUaCall *call, const char *ruri, GError **error)
{
  return send_invite (ctx, call, ruri, FALSE, error);
}

/* device:call URI: the INVITE with an SDP offer (13.2.1), through ua.outbound_proxy
 * when set; ua.no_answer_timeout starts. */
static SfOpResult
sf_op_start_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *kept = sf_ua_call_peek (ctx);
  SfUaLegCall *lc = kept != NULL && kept->leg != NULL ? ev->payload : NULL; /* only a bridge's event has one */
  const char *target = lc != NULL ? lc->target : ev->arg;
  if (strcmp (ev->name, "call") != 0 || target == NULL)
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call (ctx);
  call->incoming = FALSE;
  if (lc != NULL) {
    SfUaLeg *leg = call->leg;
    g_free (leg->target);
    leg->target = g_strdup (lc->target);
    g_free (leg->from);
    leg->from = g_strdup (lc->from);
    leg->max_forwards = lc->max_forwards;
    g_free (leg->last_sdp);
    leg->last_sdp = g_strdup (lc->offer.body);
    g_clear_pointer (&leg->lines, g_ptr_array_unref);
    if (lc->offer.lines != NULL)
      leg->lines = g_ptr_array_ref (lc->offer.lines);
    if (lc->refer_notifier != NULL) { /* the bridge transfers: this call is the REFER's, its progress the notifier's */
      g_free (call->refer_notifier);
      call->refer_notifier = g_strdup (lc->refer_notifier);
    }
    if (lc->referred_by != NULL) {
      g_free (call->referred_by);
      call->referred_by = g_strdup (lc->referred_by);
    }
  }
  g_autoptr (GError) error = NULL;
  if (!send_invite (ctx, call, target, FALSE, &error)) {
    g_warning ("%s: call %s: %s", sf_ctx_handle (ctx), target, error->message);
    sf_ua_call_set_reason (call, "failed", 0);
    return SF_OP_ERROR;
  }
  gint64 t = sf_ua_cfg_int (ctx, "no_answer_timeout");
  if (t <= 0 && call->referred_by != NULL)
    t = SF_REFER_EXPIRES; /* a call a REFER made is state the network made: it ends by a timer, whatever the setting */
  if (t > 0)
    sf_ctx_timer_start (ctx, "no_answer", (guint64) t * 1000);
  return SF_OP_TRANSITION;
}

/* Is @e a response to the INVITE we sent last? */
static gboolean
response_to_invite (SfUaCall *call, SfEvent *ev)
{
  SfSipEvent *e = ev->payload;
  if (call == NULL || call->invite_out == NULL || strcmp (ev->name, "response") != 0 || e == NULL)
    return FALSE;
  const SfSipValue *cs = sf_sip_msg_cseq (e->msg);
  return sf_sip_str_eq (cs->text, "INVITE") && cs->number == sf_sip_msg_cseq (call->invite_out)->number;
}

/* A 401 or 407 to our INVITE: the same INVITE again with credentials for the
 * first challenge we can answer (22.2, 22.3), once per challenge: a second
 * challenge with the nonce we answered (not stale) means the credentials are
 * wrong, and is left to OpFarEndResponse (failed). */
static SfOpResult
sf_op_authenticate (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (!response_to_invite (call, ev))
    return SF_OP_SKIP;
  SfSipEvent *e = ev->payload;
  guint status = sf_sip_msg_status (e->msg);
  if (status != 401 && status != 407)
    return SF_OP_SKIP;
  g_autoptr (GError) error = NULL;
  g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (call->invite_out)->raw);
  if (!sf_ua_credentials (ctx, call->invite_out, e->msg, &call->auth, &error) || !send_invite (ctx, call, ruri, FALSE, &error)) {
    g_warning ("%s: %u: %s", sf_ctx_handle (ctx), status, error->message);
    return SF_OP_SKIP;
  }
  g_autofree char *fields = g_strdup_printf ("\"status\":%u", status);
  sf_ctx_emit (ctx, "authenticating", fields);
  return SF_OP_DONE;
}

typedef struct {
  char *uri;
  double q;
  guint order;
} Target;

/* A Contact URI as a Request-URI: its headers (?...) and method parameter
 * dropped (19.1.1, 19.1.5: they are not for the Request-URI). */
static char *
redirect_target (const SfSipUri *u)
{
  g_autofree char *raw = sf_sip_str_dup (u->raw);
  char *q = strchr (raw, '?');
  if (q != NULL)
    *q = '\0';
  const SfSipParam *m = sf_sip_uri_param (u, "method");
  if (m == NULL)
    return g_steal_pointer (&raw);
  /* Cut ";method[=value]" out of what is left. */
  GString *out = g_string_new (NULL);
  g_auto (GStrv) parts = g_strsplit (raw, ";", -1);
  for (guint i = 0; parts[i] != NULL; i++) {
    if (i > 0 && g_ascii_strncasecmp (parts[i], "method", 6) == 0 && (parts[i][6] == '\0' || parts[i][6] == '='))
      continue;
    if (i > 0)
      g_string_append_c (out, ';');
    g_string_append (out, parts[i]);
  }
  return g_string_free (out, FALSE);
}

static gint
target_cmp (gconstpointer a, gconstpointer b)
{
  const Target *x = *(Target *const *) a, *y = *(Target *const *) b;
  if (x->q != y->q)
    return x->q > y->q ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static void
target_free (gpointer p)
{
  Target *t = p;
  g_free (t->uri);
  g_free (t);
}

/* A 3xx to our INVITE (8.1.3.4): its Contacts join the targets, best q first;
 * the next one not tried yet gets a new INVITE.  At most SF_UA_MAX_REDIRECTS
 * redirects, never the same URI twice; with none left, OpFarEndResponse
 * takes the 3xx (failed).  A B2BUA's B leg follows none: 8.1.3.4 lets a UAC
 * choose not to recurse, and a Contact the callee chose is no target the
 * bridge's flow chose (docs/b2bua.md: no open relay); OpFarEndResponse ends
 * the leg with the 3xx and the bridge maps it for A. */
static SfOpResult
sf_op_redirect (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (!response_to_invite (call, ev) || call->leg != NULL)
    return SF_OP_SKIP;
  SfSipEvent *e = ev->payload;
  guint status = sf_sip_msg_status (e->msg);
  if (status < 300 || status > 399 || status == 305 || status == 380)
    return SF_OP_SKIP; /* 305 Use Proxy and 380 Alternative Service are not followed */
  if (call->tried == NULL) {
    call->tried = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_add (call->tried, sf_sip_str_dup (sf_sip_msg_ruri (call->invite_out)->raw));
    call->targets = g_ptr_array_new_with_free_func (g_free);
  }
  SfSipValues *contacts = sf_sip_msg_values (e->msg, SF_SIP_HDR_CONTACT, NULL);
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (target_free);
  for (guint i = 0; contacts != NULL && i < contacts->len; i++) {
    const SfSipValue *v = contacts->pdata[i];
    if (v->uri == NULL || (v->uri->kind != SF_URI_SIP && v->uri->kind != SF_URI_SIPS))
      continue;
    /* a call a REFER made goes where ua.refer lets a REFER send it, redirected
     * or not: else a 3xx from the target would call anywhere (toll fraud) */
    if (call->referred_by != NULL && !sf_ua_refer_allows (ctx, v->uri)) {
      g_autofree char *no = sf_sip_str_dup (v->uri->raw);
      g_info ("%s: redirect to %s not followed: ua.refer", sf_ctx_handle (ctx), no);
      continue;
    }
    Target *t = g_new0 (Target, 1);
    t->uri = redirect_target (v->uri);
    const SfSipParam *q = sf_sip_value_param (v, "q");
    g_autofree char *qs = q != NULL ? sf_sip_str_dup (q->value) : NULL;
    t->q = qs != NULL ? g_ascii_strtod (qs, NULL) : 1.0;
    t->order = i;
    g_ptr_array_add (found, t);
  }
  g_ptr_array_sort (found, target_cmp);
  /* The new Contacts go before the older ones still untried (the latest redirect knows best). */
  for (guint i = found->len; i > 0; i--) {
    Target *t = found->pdata[i - 1];
    if (!g_hash_table_contains (call->tried, t->uri))
      g_ptr_array_insert (call->targets, 0, g_strdup (t->uri));
  }
  while (call->targets->len > 0 && call->redirects < SF_UA_MAX_REDIRECTS) {
    g_autofree char *next = g_ptr_array_steal_index (call->targets, 0);
    if (g_hash_table_contains (call->tried, next))
      continue;
    g_hash_table_add (call->tried, g_strdup (next));
    call->redirects++;
    g_autoptr (GError) error = NULL;
    sf_ua_auth_clear (&call->auth); /* another target, another realm */
    if (!send_invite (ctx, call, next, FALSE, &error)) {
      g_warning ("%s: redirect to %s: %s", sf_ctx_handle (ctx), next, error->message);
      continue;
    }
    g_clear_pointer (&call->dialog, sf_sip_dialog_free); /* an early dialog ends with the 3xx (12.3) */
    GString *f = g_string_new (NULL);
    g_string_append_printf (f, "\"status\":%u,\"target\":", status);
    sf_json_append_string (f, next);
    sf_ctx_emit (ctx, "redirect", f->str);
    g_string_free (f, TRUE);
    return SF_OP_DONE;
  }
  return SF_OP_SKIP;
}

/* The SDP answer to our offer in the 2xx @resp (RFC 3264 7), or the early one
 * kept: FALSE with @why (transfer full) when there is none or it cannot be used. */
static gboolean
take_answer (SfUaCall *call, SfSipMsg *resp, char **why)
{
  SfSipStr body = sf_sip_msg_body (resp);
  if (call->sdp == NULL) {
    *why = g_strdup ("we made no offer");
    return FALSE;
  }
  if (body.len == 0) {
    if (call->early_sdp != NULL)
      return TRUE; /* the answer of the provisional response stays (RFC 3960 3, 13.2.1) */
    *why = g_strdup_printf ("the %u has no SDP answer to our offer", sf_sip_msg_status (resp));
    return FALSE;
  }
  if (call->early_sdp != NULL && strlen (call->early_sdp) == body.len && memcmp (call->early_sdp, body.p, body.len) == 0)
    return TRUE; /* the early answer repeated: the session is kept */
  g_autoptr (GError) error = NULL;
  g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
  if (!sf_sdp_session_take_answer (call->sdp, body.p, body.len, &m, &error)) {
    *why = g_strdup_printf ("the SDP answer in the %u: %s", sf_sip_msg_status (resp), error->message);
    return FALSE;
  }
  sf_ua_call_take_media (call, &m);
  return TRUE;
}

/* The SDP of a provisional response to our INVITE (RFC 3960 3, the gateway
 * model): an answer to our offer, reliable or not; the latest one sets up the
 * early media (taken by RingBack's OpStartAudio).  One we cannot use is logged
 * and passed over: the call goes on without early media. */
static void
take_early_answer (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp)
{
  SfSipStr body = sf_sip_msg_body (resp);
  if (body.len == 0 || call->sdp == NULL)
    return;
  if (call->early_sdp != NULL && strlen (call->early_sdp) == body.len && memcmp (call->early_sdp, body.p, body.len) == 0)
    return; /* the same SDP again (a retransmitted or repeated 183) */
  g_autoptr (GError) error = NULL;
  g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
  if (!sf_sdp_session_take_answer (call->sdp, body.p, body.len, &m, &error)) {
    g_warning ("%s: the SDP of the %u (no early media): %s", sf_ctx_handle (ctx), sf_sip_msg_status (resp),
               error->message);
    return;
  }
  g_free (call->early_sdp);
  call->early_sdp = g_strndup (body.p, body.len);
  sf_ua_call_take_media (call, &m);
}

void
sf_ua_uac_early_dialog (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp)
{
  if (call->dialog != NULL || sf_sip_msg_find (resp, SF_SIP_HDR_CONTACT) == NULL)
    return;
  call->dialog = sf_sip_dialog_new_uac (call->invite_out, resp, NULL);
  if (call->dialog != NULL) {
    sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"early\"");
    /* 12.2.2: requests on the early dialog (the callee's BYE) find the call. */
    g_autofree char *key = sf_stack_call_key (call->dialog->call_id, call->dialog->remote_tag);
    sf_endpoint_set_key (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), key);
  }
}

/* The ACK of the 2xx to our INVITE of CSeq @cseq (13.2.2.4), through the
 * call's dialog, with the INVITE's credentials and @sdp (an answer; NULL:
 * none); kept in call->ack for the 2xx's retransmissions (OpAckAgain). */
static gboolean
send_2xx_ack (SfCtx *ctx, SfUaCall *call, guint32 cseq, const char *sdp)
{
  g_auto (SfUaHop) hop = { 0 };
  if (call->dialog == NULL || !sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    return FALSE;
  const char *creds[3];
  SfSipDialogRequest r = { .method = "ACK", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .cseq = cseq, .extra = sf_ua_auth_lines (&call->auth, creds),
                           .content_type = sdp != NULL ? "application/sdp" : NULL, .body = sdp,
                           .body_len = sdp != NULL ? strlen (sdp) : 0 };
  g_autofree char *next_hop = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) ack = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
  if (ack == NULL) {
    g_warning ("%s: ACK: %s", sf_ctx_handle (ctx), error->message);
    return FALSE;
  }
  /* 8.1.2: a strict router gets it by the Request-URI */
  sf_stack_send_request_to (sf_stack_from_ctx (ctx), ack, next_hop);
  g_clear_pointer (&call->ack, sf_sip_msg_unref);
  call->ack = sf_sip_msg_ref (ack);
  return TRUE;
}

/* A B2BUA's B leg: the ACK held for the offer in the callee's 2xx goes now,
 * with @sdp (the caller's answer, rewritten by the bridge) or without body;
 * FALSE when none was held. */
static gboolean
leg_ack_release (SfCtx *ctx, SfUaCall *call, const char *sdp)
{
  if (call == NULL || call->leg == NULL || !call->leg->ack_held)
    return FALSE;
  call->leg->ack_held = FALSE;
  sf_ctx_timer_cancel (ctx, "ack_hold");
  call->offer_in = FALSE;
  call->oa_done = sdp != NULL;
  if (sdp != NULL) {
    g_free (call->leg->last_sdp);
    call->leg->last_sdp = g_strdup (sdp); /* an offer-less re-INVITE's answer later on */
  }
  if (!send_2xx_ack (ctx, call, call->leg->ack_cseq, sdp))
    g_warning ("%s: the held ACK could not go", sf_ctx_handle (ctx));
  return TRUE;
}

static const char *const far_end_outcomes[] = { "ringing", "answered", "busy", "failed", "sdp_failed", "unusable", NULL };

/* A response to our INVITE: 1xx ringing (an early dialog from one with a To
 * tag; its SDP, if any, for early media, RFC 3960); 2xx answered (the dialog
 * confirmed, the call re-keyed by its remote tag, the SDP answer taken, the ACK
 * sent, 13.2.2.4), or sdp_failed when the 2xx has no answer we can use (the
 * ACK sent all the same: the flow ends the call with a BYE); 486/600 busy;
 * others failed.  Responses to other requests are not its business. */
static SfOpResult
sf_op_far_end_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (!response_to_invite (call, ev))
    return SF_OP_SKIP;
  SfSipEvent *e = ev->payload;
  SfSipMsg *inv = call->invite_out;
  guint status = sf_sip_msg_status (e->msg);
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (e->msg), "tag");
  if (call->refer_notifier != NULL) {
    /* a B2BUA leg's party is hidden from the transferor: our phrase, not its */
    g_autofree char *phrase = call->leg != NULL ? g_strdup (sf_sip_reason_phrase (status))
                                                : sf_sip_str_dup (sf_sip_msg_reason (e->msg));
    sf_ua_refer_progress (ctx, call, status, phrase); /* a referred call's progress to its notifier (RFC 3515 2.4.5) */
  }
  if (status < 200) {
    call->provisional = TRUE;
    /* 12.1.2: a 1xx with a To tag (and a Contact) makes an early dialog. */
    if (status > 100 && call->dialog == NULL && tt != NULL)
      sf_ua_uac_early_dialog (ctx, call, e->msg);
    if (status > 100 && call->leg != NULL) {
      SfSipStr b = sf_sip_msg_body (e->msg);
      const SfSipValue *ct = sf_sip_msg_value (e->msg, SF_SIP_HDR_CONTENT_TYPE, NULL);
      if (sf_sip_msg_body (inv).len == 0) {
        /* our INVITE had no offer: SDP in a 1xx is no answer, and the leg
         * cannot answer an offer in it (the caller has the answer, and a
         * 1xx's offer would need it in the PRACK, RFC 3262 5): the progress
         * goes up without body, the offer must come in the 2xx (13.2.1) */
        SfUaLegNote *n = sf_ua_leg_note_new (status, NULL, NULL);
        n->method = g_strdup ("INVITE");
        n->reason = sf_sip_str_dup (sf_sip_msg_reason (e->msg));
        n->msg = sf_sip_msg_ref (e->msg);
        sf_ua_leg_notify (ctx, SF_UA_LEG_UP_PROGRESS, n);
        return SF_OP_OUTCOME (0);
      }
      if (b.len > 0 && ct != NULL && sf_sip_str_caseeq (ct->text, "application/sdp")) {
        g_free (call->early_sdp); /* the answer a 2xx without SDP stands on (13.2.1) */
        call->early_sdp = g_strndup (b.p, b.len);
      }
      sf_ua_leg_notify_msg (ctx, SF_UA_LEG_UP_PROGRESS, e->msg, "INVITE");
    } else if (status > 100) {
      take_early_answer (ctx, call, e->msg);
    }
    return status > 100 ? SF_OP_OUTCOME (0) : SF_OP_DONE;
  }
  sf_ctx_timer_cancel (ctx, "no_answer");
  if (status == 488 && !call->cancelling && call->sdp != NULL && sf_sdp_session_srtp_fall_back (call->sdp)) {
    /* media.srtp = offer: the callee refused our RTP/SAVP offer; the INVITE
     * again, RTP/AVP (docs/media.md "SRTP"). */
    if (call->dialog != NULL) {
      g_clear_pointer (&call->dialog, sf_sip_dialog_free);
      sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"terminated\"");
    }
    g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (inv)->raw);
    g_autoptr (GError) err = NULL;
    if (send_invite (ctx, call, ruri, TRUE, &err)) {
      g_info ("%s: 488 to our RTP/SAVP offer: the INVITE again with RTP/AVP", sf_ctx_handle (ctx));
      sf_ctx_emit (ctx, "srtp_fallback", "\"status\":488");
      gint64 t = sf_ua_cfg_int (ctx, "no_answer_timeout");
      if (t <= 0 && call->referred_by != NULL)
        t = SF_REFER_EXPIRES; /* as OpStartCall */
      if (t > 0)
        sf_ctx_timer_start (ctx, "no_answer", (guint64) t * 1000);
      return SF_OP_DONE;
    }
    g_warning ("%s: 488: %s", sf_ctx_handle (ctx), err->message);
  }
  if (status >= 300) {
    call->offer_out = FALSE; /* the INVITE failed: its offer with it */
    /* A non-2xx final response ends the early dialog (12.3). */
    if (call->dialog != NULL) {
      g_clear_pointer (&call->dialog, sf_sip_dialog_free);
      sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"terminated\"");
    }
    gboolean busy = status == 486 || status == 600;
    /* 420, 421: an option tag we require is not supported, one we do not offer required (RFC 3262 3) */
    sf_ua_call_set_reason (call,
                           busy ? "busy" : status == 487 ? "cancelled" : status == 420 ? "bad_extension"
                                 : status == 421 ? "extension_required" : "failed", status);
    return SF_OP_OUTCOME (busy ? 2 : 3);
  }
  g_autoptr (GError) error = NULL;
  /* 13.2.2.4: every 2xx gets its ACK.  One we cannot make a usable dialog from
   * (no or several Contacts) gets it through a fallback dialog toward where the
   * INVITE went, then the call ends with a BYE (outcome unusable).  A 2xx
   * without To tag is a dialog with a null remote tag (12.1.2). */
  gboolean usable = TRUE;
  if (call->dialog != NULL && tt != NULL && sf_sip_str_eq (tt->value, call->dialog->remote_tag)) {
    /* The same dialog: confirmed, its route set and target from the 2xx (12.1.2). */
    if (!sf_sip_dialog_update_uac (call->dialog, e->msg, FALSE, &error)) {
      usable = FALSE; /* the early dialog's target and route set stay */
      call->dialog->early = FALSE;
    }
  } else {
    SfSipDialog *d = sf_sip_dialog_new_uac (inv, e->msg, &error);
    if (d == NULL) {
      usable = FALSE;
      d = sf_sip_dialog_new_uac_fallback (inv, e->msg);
    }
    g_clear_pointer (&call->dialog, sf_sip_dialog_free);
    call->dialog = d;
    sf_ua_prack_confirmed (call); /* a fork's PRACKs used CSeqs of its dialog */
  }
  if (usable) {
    sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"confirmed\"");
  } else {
    g_warning ("%s: a 2xx we cannot make a dialog from: %s: ACK, then BYE", sf_ctx_handle (ctx), error->message);
    GString *f = g_string_new ("\"dialog_state\":\"unusable\",\"message\":");
    sf_json_append_string (f, error->message);
    sf_ctx_emit (ctx, "dialog", f->str);
    g_string_free (f, TRUE);
    sf_ua_call_set_reason (call, "bad_2xx", status);
  }
  g_autofree char *key = sf_stack_call_key (call->dialog->call_id, call->dialog->remote_tag);
  sf_endpoint_set_key (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), key);
  SfSipStr ok_body = sf_sip_msg_body (e->msg);
  if (usable && call->leg != NULL && sf_sip_msg_body (inv).len == 0 && !call->oa_done && ok_body.len > 0) {
    /* A B2BUA's B leg whose INVITE had no offer (the caller's had none): the
     * offer is in this 2xx and its answer must go in the ACK (RFC 3261 13.2.1,
     * RFC 3264 4), and only the caller has it.  The ACK is held: the bridge
     * gives A our 200 with this offer, and A's ACK's answer comes back as
     * device:ack (OpRelayAck sends ours then).  Bounded by timer ack_hold
     * (64*T1: the callee's own wait for the ACK, 13.3.1.4), and a hang-up
     * before it sends the ACK without body first (OpTerminateCall). */
    call->leg->ack_held = TRUE;
    call->leg->ack_cseq = (guint32) sf_sip_msg_cseq (inv)->number;
    call->status = status;
    call->offer_out = FALSE;
    call->offer_in = TRUE; /* an offer we have not answered: another (UPDATE, re-INVITE) is refused meanwhile */
    call->oa_done = FALSE;
    call->up_us = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
    sf_ctx_timer_start (ctx, "ack_hold", 64 * (guint64) sf_stack_timer_ms (sf_stack_from_ctx (ctx), '1'));
    SfUaLegNote *n = sf_ua_leg_note_new (status, "application/sdp", NULL);
    n->body = g_strndup (ok_body.p, ok_body.len);
    n->method = g_strdup ("ACK"); /* the body is an offer: our ACK waits for device:ack */
    n->reason = sf_sip_str_dup (sf_sip_msg_reason (e->msg));
    n->msg = sf_sip_msg_ref (e->msg);
    sf_ua_leg_notify (ctx, SF_UA_LEG_UP_ANSWERED, n);
    return SF_OP_OUTCOME (1);
  }
  /* 13.2.2.4: the ACK carries the INVITE's credentials; after an offer-less
   * INVITE whose offer came in this 2xx, the answer (13.2.1; sf-op-prack.c) */
  g_autofree char *ack_sdp = NULL, *late_why = NULL;
  gboolean late = sf_ua_late_answer (ctx, call, e->msg, &ack_sdp, &late_why);
  if (!send_2xx_ack (ctx, call, (guint32) sf_sip_msg_cseq (inv)->number, ack_sdp))
    return SF_OP_ERROR;
  call->status = status;
  call->offer_out = FALSE; /* the 2xx answers (or ends the call: sdp_failed, unusable) */
  call->oa_done = TRUE;
  if (!usable)
    return SF_OP_OUTCOME (5);
  call->up_us = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
  if (late && late_why != NULL) {
    sf_ua_call_sdp_failed (ctx, call, late_why);
    return SF_OP_OUTCOME (4);
  }
  if (late)
    return SF_OP_OUTCOME (1);
  g_autofree char *why = NULL;
  if (call->leg != NULL && sf_sip_msg_body (inv).len == 0 && ok_body.len == 0) {
    /* our INVITE had no offer: the 2xx must carry one (13.2.1) */
    sf_ua_call_sdp_failed (ctx, call, "the 2xx has no SDP offer to our INVITE without one");
    return SF_OP_OUTCOME (4);
  }
  if (call->leg != NULL) {
    /* the answer goes to the bridge: the 2xx's SDP, else the one of a 1xx (RFC 3264 4: it stands) */
    SfUaLegNote *n = sf_ua_leg_note_new (status, NULL, NULL);
    SfSipStr b = sf_sip_msg_body (e->msg);
    if (b.len > 0)
      n->body = g_strndup (b.p, b.len);
    else if (call->early_sdp != NULL)
      n->body = g_strdup (call->early_sdp);
    if (n->body == NULL) {
      sf_ua_leg_note_free (n);
      sf_ua_call_sdp_failed (ctx, call, "the 2xx has no SDP answer to the offer");
      return SF_OP_OUTCOME (4);
    }
    n->ctype = g_strdup ("application/sdp");
    n->reason = sf_sip_str_dup (sf_sip_msg_reason (e->msg));
    n->msg = sf_sip_msg_ref (e->msg);
    sf_ua_leg_notify (ctx, SF_UA_LEG_UP_ANSWERED, n);
    return SF_OP_OUTCOME (1);
  }
  if (!take_answer (call, e->msg, &why)) {
    sf_ua_call_sdp_failed (ctx, call, why);
    return SF_OP_OUTCOME (4);
  }
  return SF_OP_OUTCOME (1);
}

/* A 2xx once the call is up: a retransmission (its ACK was lost) gets the same
 * ACK again; a 2xx from another fork (another To tag) gets its own ACK and a BYE
 * (13.2.2.4). */
static SfOpResult
sf_op_ack_again (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  gboolean held = call != NULL && call->leg != NULL && call->leg->ack_held;
  if (strcmp (ev->name, "response") != 0 || e == NULL || call == NULL || (call->ack == NULL && !held) ||
      sf_sip_msg_status (e->msg) / 100 != 2 || !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "INVITE"))
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (e->msg), "tag");
  if (call->dialog == NULL || tt == NULL || sf_sip_str_eq (tt->value, call->dialog->remote_tag)) {
    /* a B2BUA leg holding its ACK for the caller's answer (OpFarEndResponse):
     * the retransmission waits for it too, an ACK without the answer would
     * end the offer/answer with none (RFC 3264 4) */
    if (call->ack != NULL && sf_sip_msg_cseq (e->msg)->number == sf_sip_msg_cseq (call->ack)->number) {
      g_autofree char *next_hop = call->dialog != NULL ? sf_sip_dialog_next_hop (call->dialog) : NULL;
      sf_stack_send_request_to (s, call->ack, next_hop);
    }
    return SF_OP_DONE;
  }
  if (call->invite_out == NULL || sf_sip_msg_cseq (e->msg)->number != sf_sip_msg_cseq (call->invite_out)->number)
    return SF_OP_DONE;
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipDialog) d = sf_sip_dialog_new_uac (call->invite_out, e->msg, &error);
  if (d == NULL)
    return SF_OP_DONE;
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, sf_ua_dialog_hop (d), &hop))
    return SF_OP_DONE;
  SfSipDialogRequest ra = { .method = "ACK", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                            .cseq = (guint32) sf_sip_msg_cseq (call->invite_out)->number };
  g_autofree char *next_hop = NULL;
  g_autoptr (SfSipMsg) ack = sf_sip_dialog_create_request (d, &ra, &next_hop, &error);
  SfSipDialogRequest rb = { .method = "BYE", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop) };
  g_autoptr (SfSipMsg) bye = ack != NULL ? sf_sip_dialog_create_request (d, &rb, NULL, &error) : NULL;
  if (bye == NULL)
    return SF_OP_DONE;
  sf_stack_send_request_to (s, ack, next_hop);
  sf_stack_request_to (s, sf_ctx_instance (ctx), bye, next_hop);
  sf_ctx_emit (ctx, "fork_ended", NULL);
  return SF_OP_DONE;
}

/* The CANCEL of our INVITE (9.1), to where the INVITE went. */
static void
send_cancel (SfCtx *ctx, SfUaCall *call)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) cancel = sf_sip_create_cancel (call->invite_out, &error);
  if (cancel == NULL) {
    g_warning ("%s: CANCEL: %s", sf_ctx_handle (ctx), error->message);
    return;
  }
  /* to the address and transport the INVITE's client transaction uses, not located again */
  sf_stack_request_cancel (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), call->invite_out, cancel);
  call->cancel_pending = FALSE;
}

/* device:hangup or timer:no_answer before the answer: CANCEL (9.1), which may
 * go only once a provisional response came: before that it waits for the first
 * 1xx.  In the state that waits for the 487, it also takes the 1xx responses
 * (sending the CANCEL that waited for one). */
static SfOpResult
sf_op_cancel_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->invite_out == NULL)
    return SF_OP_SKIP;
  if (ev->kind == SF_EV_SIP) {
    SfSipEvent *e = ev->payload;
    if (!call->cancelling || !response_to_invite (call, ev) || sf_sip_msg_status (e->msg) >= 200)
      return SF_OP_SKIP;
    call->provisional = TRUE;
    if (call->cancel_pending)
      send_cancel (ctx, call);
    return SF_OP_DONE;
  }
  if (ev->kind == SF_EV_TIMER && strcmp (ev->name, "early_bye") == 0) {
    /* The callee ended the early dialog with a BYE but sent no final response
     * to our INVITE: CANCEL it (9.1; OpEarlyBye). */
    if (!call->cancelling)
      return SF_OP_SKIP;
    if (call->provisional)
      send_cancel (ctx, call);
    else
      call->cancel_pending = TRUE;
    return SF_OP_DONE;
  }
  gboolean hangup = ev->kind == SF_EV_DEVICE && (strcmp (ev->name, "hangup") == 0 || strcmp (ev->name, "shutdown") == 0);
  gboolean timeout = ev->kind == SF_EV_TIMER && strcmp (ev->name, "no_answer") == 0;
  if (!hangup && !timeout)
    return SF_OP_SKIP;
  if (call->cancelling)
    return SF_OP_DONE; /* cancelling already */
  call->cancelling = TRUE;
  sf_ua_call_set_reason (call, hangup ? "cancelled" : "no_answer", 0);
  if (call->provisional)
    send_cancel (ctx, call);
  else
    call->cancel_pending = TRUE;
  sf_ctx_timer_cancel (ctx, "no_answer");
  return SF_OP_TRANSITION;
}

/* A BYE from the callee on the early dialog of our INVITE (12.2.2: it matches
 * the dialog the 1xx made; 15.1.2): 200, and the call ends.  The callee owes a
 * final response (487) to the INVITE, which its transaction ACKs: the call
 * waits for it (outcome: Cancelling), and CANCELs the INVITE (9.1) when none
 * came 8*T1 later (timer early_bye).  A second BYE while waiting gets 200 too. */
static SfOpResult
sf_op_early_bye (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "BYE") != 0 || e == NULL || call == NULL || call->incoming || call->invite_out == NULL ||
      call->dialog == NULL || !call->dialog->early)
    return SF_OP_SKIP;
  guint status = 200;
  if (!sf_sip_dialog_request_in (call->dialog, e->msg, &status)) {
    g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, status, NULL, NULL, NULL);
    if (r != NULL)
      sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r); /* 481 or 500 (12.2.2) */
    return SF_OP_DONE;
  }
  g_autoptr (SfSipMsg) ok = sf_sip_create_response (e->msg, 200, NULL, NULL, NULL);
  if (ok == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, ok))
    return SF_OP_ERROR;
  if (call->cancelling)
    return SF_OP_DONE;
  call->cancelling = TRUE;
  sf_ua_call_set_reason (call, "remote_bye", 0);
  sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"terminated\"");
  sf_ctx_timer_cancel (ctx, "no_answer");
  sf_ctx_timer_start (ctx, "early_bye", 8 * (guint64) sf_stack_timer_ms (sf_stack_from_ctx (ctx), '1'));
  return SF_OP_TRANSITION;
}

/* BYE through the dialog (15.1.1), its transaction a child of the call. */
static gboolean
send_bye (SfCtx *ctx, SfUaCall *call)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (call == NULL || call->dialog == NULL || s == NULL)
    return FALSE;
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    return FALSE;
  SfSipDialogRequest r = { .method = "BYE", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop) };
  g_autoptr (GError) error = NULL;
  g_autofree char *next_hop = NULL;
  g_autoptr (SfSipMsg) bye = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
  if (bye == NULL) {
    g_warning ("%s: BYE: %s", sf_ctx_handle (ctx), error->message);
    return FALSE;
  }
  sf_stack_request_to (s, sf_ctx_instance (ctx), bye, next_hop); /* 8.1.2, 12.2.1.1 */
  return TRUE;
}

/* device:hangup or timer:hangup: BYE through the dialog (15.1.1). */
static SfOpResult
sf_op_hangup (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "hangup") != 0)
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (!send_bye (ctx, call))
    return SF_OP_SKIP;
  sf_ua_call_set_reason (call, "local_bye", 0);
  return SF_OP_TRANSITION;
}

/* Entry of the state that ends a call from our side: BYE through the dialog
 * (VOCAL's OpTerminateCall), whatever brought us here (hang-up, a 2xx that
 * came after our CANCEL, the 2xx never ACKed). */
static SfOpResult
sf_op_terminate_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  /* a B2BUA leg's ACK held for the caller's answer goes first, without it:
   * every 2xx gets its ACK (13.2.2.4), and the BYE follows it (15) */
  if (leg_ack_release (ctx, call, NULL) && call->reason == NULL)
    sf_ua_call_sdp_failed (ctx, call, "the call ended before the caller's ACK brought the answer to the 2xx's offer");
  if (!send_bye (ctx, call))
    return SF_OP_ERROR;
  sf_ua_call_set_reason (call, ev->kind == SF_EV_TIMER ? ev->name : "local_bye", 0);
  return SF_OP_CONTINUE;
}

/* The final response to our BYE: the call is over, whatever it says (15.1.1). */
static SfOpResult
sf_op_bye_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "response") != 0 || e == NULL || !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "BYE") ||
      sf_sip_msg_status (e->msg) < 200)
    return SF_OP_SKIP;
  return SF_OP_TRANSITION;
}

/* A re-INVITE with a new offer in direction @dir (14.1; RFC 3264 8.4 for hold). */
static gboolean
send_reinvite (SfCtx *ctx, SfUaCall *call, SfSdpDir dir)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (call == NULL || call->dialog == NULL || call->sdp == NULL || s == NULL || call->reinvite_out != NULL ||
      call->ok != NULL || call->update_out != NULL || call->update_due)
    return FALSE; /* one re-INVITE at a time, none while our 2xx waits for its ACK or our UPDATE is under way (14.1, RFC 3264 4) */
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    return FALSE;
  g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
  g_autofree char *offer = sf_ua_offer (ctx, call, dir);
  g_auto (GStrv) timer = sf_ua_se_request_lines (ctx, call, FALSE); /* it refreshes the session too (RFC 4028 7.4) */
  SfSipDialogRequest r = { .method = "INVITE", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .contact = contact, .extra = (const char *const *) timer,
                           .content_type = "application/sdp", .body = offer, .body_len = strlen (offer) };
  g_autoptr (GError) error = NULL;
  g_autofree char *next_hop = NULL;
  SfSipMsg *inv = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
  if (inv == NULL) {
    g_warning ("%s: re-INVITE: %s", sf_ctx_handle (ctx), error->message);
    return FALSE;
  }
  call->reinvite_out = inv;
  call->offer_out = TRUE;
  call->want_dir = dir;
  sf_stack_request_to (s, sf_ctx_instance (ctx), inv, next_hop);
  return TRUE;
}

/* device:hold: a re-INVITE offering sendonly (RFC 3264 8.4). */
static SfOpResult
sf_op_hold (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "hold") != 0 || call == NULL || call->sdp == NULL)
    return SF_OP_SKIP;
  /* RFC 3264 8.4: sendonly; inactive when the peer holds us already (it sends only). */
  SfSdpDir remote = sf_sdp_session_remote_dir (call->sdp);
  SfSdpDir dir = remote == SF_SDP_SENDONLY || remote == SF_SDP_INACTIVE ? SF_SDP_INACTIVE : SF_SDP_SENDONLY;
  if (!send_reinvite (ctx, call, dir))
    return SF_OP_SKIP;
  return SF_OP_TRANSITION;
}

/* device:resume: a re-INVITE offering sendrecv again. */
static SfOpResult
sf_op_resume (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "resume") != 0 || !send_reinvite (ctx, sf_ua_call_peek (ctx), SF_SDP_SENDRECV))
    return SF_OP_SKIP;
  return SF_OP_TRANSITION;
}

static const char *const reinvite_outcomes[] = { "accepted", "refused", "dialog_gone", "sdp_failed", NULL };

/* The final response to our re-INVITE: 2xx gets its ACK (13.2.2.4), the answer
 * is taken and the media follows (outcome accepted); a failure leaves the
 * session as it was (14.1, outcome refused; the transaction ACKs it). */
static SfOpResult
sf_op_reinvite_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (ev->kind == SF_EV_TXN && call != NULL && call->reinvite_out != NULL &&
      (strcmp (ev->name, "timeout") == 0 || strcmp (ev->name, "transport_error") == 0)) {
    SfSipMsg *failed = sf_ua_failed_request (call, ev);
    if (failed == NULL || !sf_sip_str_eq (sf_sip_msg_method (failed), "INVITE") ||
        sf_sip_msg_cseq (failed)->number != sf_sip_msg_cseq (call->reinvite_out)->number)
      return SF_OP_SKIP; /* another transaction of the call, or the peer's */
    /* No answer at all, or the target cannot be reached: the dialog is gone (12.2.1.2). */
    g_clear_pointer (&call->reinvite_out, sf_sip_msg_unref);
    call->offer_out = FALSE;
    return SF_OP_OUTCOME (2);
  }
  if (ev->kind != SF_EV_SIP || strcmp (ev->name, "response") != 0 || e == NULL || call == NULL || call->reinvite_out == NULL ||
      !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "INVITE") ||
      sf_sip_msg_cseq (e->msg)->number != sf_sip_msg_cseq (call->reinvite_out)->number)
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status < 200)
    return SF_OP_DONE;
  g_autoptr (SfSipMsg) inv = g_steal_pointer (&call->reinvite_out);
  call->offer_out = FALSE;
  if (status == 481 || status == 408) /* 12.2.1.2: the dialog is over */
    return SF_OP_OUTCOME (2);
  if (status == 491 && call->reinvite_glares < SF_UA_MAX_GLARES) {
    /* 14.1: glare: the same offer goes again after the interval (OpReInviteRetry
     * on timer reinvite_glare); the peer's request may come first meanwhile. */
    call->reinvite_glares++;
    sf_ua_glare (ctx, call, "INVITE", "reinvite_glare");
    return SF_OP_DONE;
  }
  call->reinvite_glares = 0;
  if (status >= 300) {
    call->want_dir = call->want_dir == SF_SDP_SENDRECV ? SF_SDP_SENDONLY : SF_SDP_SENDRECV;
    g_autofree char *f = g_strdup_printf ("\"status\":%u", status);
    sf_ctx_emit (ctx, "reinvite_refused", f);
    return SF_OP_OUTCOME (1);
  }
  SfStack *s = sf_stack_from_ctx (ctx);
  g_autoptr (GError) error = NULL;
  sf_sip_dialog_update_uac (call->dialog, e->msg, TRUE, NULL);
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    return SF_OP_ERROR;
  SfSipDialogRequest r = { .method = "ACK", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .cseq = (guint32) sf_sip_msg_cseq (inv)->number };
  g_autofree char *next_hop = NULL;
  g_autoptr (SfSipMsg) ack = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
  if (ack == NULL)
    return SF_OP_ERROR;
  sf_stack_send_request_to (s, ack, next_hop);
  g_clear_pointer (&call->ack, sf_sip_msg_unref);
  call->ack = sf_sip_msg_ref (ack);
  sf_ua_se_take_2xx (ctx, call, e->msg); /* the session refreshed, its timer as the 2xx says (RFC 4028 7.2) */
  g_autofree char *why = NULL;
  g_clear_pointer (&call->early_sdp, g_free); /* a new offer: no early answer stands for it */
  if (!take_answer (call, e->msg, &why)) {
    sf_ua_call_sdp_failed (ctx, call, why);
    return SF_OP_OUTCOME (3);
  }
  return SF_OP_OUTCOME (0);
}

static const char *const reinvite_retry_outcomes[] = { "refused", NULL };

/* timer:reinvite_glare: our re-INVITE refused 491 goes again (14.1), the same
 * direction, a new CSeq and offer; while it cannot (our 2xx to the peer's
 * re-INVITE waits for its ACK) another interval, at most SF_UA_MAX_GLARES in
 * all, then outcome refused (the session as it was). */
static SfOpResult
sf_op_reinvite_retry (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "reinvite_glare") != 0 || call == NULL || call->reinvite_out != NULL)
    return SF_OP_SKIP;
  if (send_reinvite (ctx, call, call->want_dir))
    return SF_OP_DONE;
  if (call->reinvite_glares < SF_UA_MAX_GLARES) {
    call->reinvite_glares++;
    sf_ua_glare (ctx, call, "INVITE", "reinvite_glare");
    return SF_OP_DONE;
  }
  call->reinvite_glares = 0;
  call->want_dir = call->want_dir == SF_SDP_SENDRECV ? SF_SDP_SENDONLY : SF_SDP_SENDRECV;
  sf_ctx_emit (ctx, "reinvite_refused", "\"status\":491");
  return SF_OP_OUTCOME (0);
}

/* txn:timeout or txn:transport_error of a request of method ARG (the event's
 * payload is the transaction's request): for INVITE, the one we sent last (a
 * re-INVITE's failure is OpReInviteAnswered's; a CANCEL's or a forked BYE's is
 * nobody's).  Without a request in the event (none known), it is taken. */
static SfOpResult
sf_op_request_failed (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "timeout") != 0 && strcmp (ev->name, "transport_error") != 0)
    return SF_OP_SKIP;
  SfSipMsg *req = ev->payload;
  if (req == NULL)
    return SF_OP_TRANSITION;
  if (!sf_sip_str_eq (sf_sip_msg_method (req), arg))
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (arg, "INVITE") == 0 && call != NULL && call->invite_out != NULL &&
      (sf_ua_failed_request (call, ev) == NULL || sf_sip_msg_cseq (req)->number != sf_sip_msg_cseq (call->invite_out)->number))
    return SF_OP_SKIP; /* an older INVITE of ours, or one the peer sent */
  if (call != NULL)
    sf_ua_call_set_reason (call, strcmp (ev->name, "timeout") == 0 ? "timeout" : "unreachable",
                           strcmp (ev->name, "timeout") == 0 ? 408 : 503);
  return SF_OP_TRANSITION;
}

/* ---- B2BUA leg mode: relays inside the dialog (sf-ua-leg.h) ---- */

/* Our final answer to the INVITE we took is not complete yet: its 2xx waits for
 * the ACK, or for the PRACK of our reliable 1xx (RFC 3262 3). */
static gboolean
initial_2xx_open (const SfUaCall *call)
{
  if (!call->incoming || call->invite == NULL)
    return FALSE;
  if (call->answer_held)
    return TRUE;
  return call->ok != NULL &&
         sf_sip_msg_cseq (call->ok)->number == sf_sip_msg_cseq (call->invite->msg)->number;
}

/* device:reoffer: the bridge's offer (the other leg's re-INVITE or UPDATE)
 * sent in our dialog: re-INVITE, or UPDATE when the note says so or the dialog
 * is early (RFC 3311 5.1), with our Contact (a target refresh); one at a time,
 * none while an offer of either side is open (RFC 3264 4): then child:offer_answered
 * 491 at once, for the bridge to refuse the other side's request. */
static SfOpResult
sf_op_relay_offer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "reoffer") != 0 || call == NULL || call->leg == NULL)
    return SF_OP_SKIP;
  SfUaLegNote *note = ev->payload;
  SfUaLeg *leg = call->leg;
  SfStack *s = sf_stack_from_ctx (ctx);
  gboolean update = call->dialog != NULL && (call->dialog->early || (note != NULL && g_strcmp0 (note->method, "UPDATE") == 0));
  const char *method = update ? "UPDATE" : "INVITE";
  if (note != NULL && note->body != NULL && *note->body != '\0' && initial_2xx_open (call) &&
      leg->reoffer_held == NULL && leg->relay_out == NULL && leg->pending == NULL && !call->offer_in &&
      !call->offer_out && call->reinvite_out == NULL && call->update_out == NULL) {
    /* Our 2xx to the INVITE waits for its ACK (or for the PRACK our held 2xx
     * waits on): RFC 3261 14.1 has no new INVITE transaction start while
     * one is in progress, and the caller may not have our answer yet.  The
     * offer is kept, one at most, and goes once the ACK came (OpAck); a
     * B2BUA's bridge sends its own offer right after the 2xx (docs/b2bua.md,
     * a reliable 183 whose answer B's 2xx changed). */
    leg->reoffer_held = sf_ua_leg_note_new (note->status, note->ctype, note->body);
    leg->reoffer_held->method = g_strdup (note->method);
    return SF_OP_DONE;
  }
  g_auto (SfUaHop) hop = { 0 };
  if (note == NULL || note->body == NULL || *note->body == '\0' || call->dialog == NULL || s == NULL ||
      leg->relay_out != NULL || leg->pending != NULL || call->reinvite_out != NULL || call->update_out != NULL ||
      call->ok != NULL || call->offer_in || call->offer_out || !sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop)) {
    SfUaLegNote *n = sf_ua_leg_note_new (491, NULL, NULL);
    n->method = g_strdup (method);
    sf_ua_leg_notify (ctx, SF_UA_LEG_UP_OFFER_ANSWERED, n);
    return SF_OP_DONE;
  }
  g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
  SfSipDialogRequest r = { .method = method, .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .contact = contact, .content_type = "application/sdp", .body = note->body,
                           .body_len = strlen (note->body) };
  g_autoptr (GError) error = NULL;
  g_autofree char *next_hop = NULL;
  SfSipMsg *req = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
  if (req == NULL) {
    g_warning ("%s: relayed %s: %s", sf_ctx_handle (ctx), method, error->message);
    SfUaLegNote *n = sf_ua_leg_note_new (500, NULL, NULL);
    n->method = g_strdup (method);
    sf_ua_leg_notify (ctx, SF_UA_LEG_UP_OFFER_ANSWERED, n);
    return SF_OP_DONE;
  }
  leg->relay_out = req;
  call->offer_out = TRUE;
  g_free (leg->last_sdp);
  leg->last_sdp = g_strdup (note->body);
  sf_stack_request_to (s, sf_ctx_instance (ctx), req, next_hop);
  /* A re-INVITE a peer answers with a 1xx only has no timer left (17.1.1.2):
   * given up after 64*T1, as a UA gives up its own (reinvite_guard). */
  if (!update)
    sf_ctx_timer_start (ctx, "relay_out_guard", 64 * (guint64) sf_stack_timer_ms (s, '1'));
  return SF_OP_DONE;
}

/* The final response to our relayed re-INVITE or UPDATE: a 2xx to a re-INVITE
 * gets its ACK (13.2.2.4) and refreshes the target; every final status goes to
 * the bridge (child:offer_answered, the SDP of a 2xx), a 491 too: the bridge
 * relays it, no local retry (the other side's peer retries, 14.1).  481, 408,
 * or no answer at all (408 to the bridge): the dialog is gone (12.2.1.2), and
 * the bridge, which ends both legs, says so with device:hangup. */
static SfOpResult
sf_op_relay_offer_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->leg == NULL || call->leg->relay_out == NULL)
    return SF_OP_SKIP;
  SfUaLeg *leg = call->leg;
  SfSipMsg *out = leg->relay_out;
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (out));
  if (ev->kind == SF_EV_TIMER) {
    if (strcmp (ev->name, "relay_out_guard") != 0)
      return SF_OP_SKIP;
    /* No final response in 64*T1: the client transaction ended, the bridge
     * told 408 (12.2.1.2: no response to a request in a dialog, the dialog
     * is gone). */
    SfInstance *ict = sf_stack_client_txn (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), out);
    if (ict != NULL)
      sf_endpoint_end (sf_ctx_endpoint (ctx), ict, "no final response to a relayed re-INVITE");
    g_clear_pointer (&leg->relay_out, sf_sip_msg_unref);
    call->offer_out = FALSE;
    SfUaLegNote *n = sf_ua_leg_note_new (408, NULL, NULL);
    n->method = g_strdup (method);
    sf_ua_leg_notify (ctx, SF_UA_LEG_UP_OFFER_ANSWERED, n);
    return SF_OP_DONE;
  }
  if (ev->kind == SF_EV_TXN) {
    SfSipMsg *failed = sf_ua_failed_request (call, ev); /* a failure of the peer's request is not ours */
    if (failed == NULL || !sf_sip_str_eq (sf_sip_msg_method (failed), method) ||
        sf_sip_msg_cseq (failed)->number != sf_sip_msg_cseq (out)->number)
      return SF_OP_SKIP;
    g_clear_pointer (&leg->relay_out, sf_sip_msg_unref);
    call->offer_out = FALSE;
    sf_ctx_timer_cancel (ctx, "relay_out_guard");
    SfUaLegNote *n = sf_ua_leg_note_new (408, NULL, NULL);
    n->method = g_strdup (method);
    sf_ua_leg_notify (ctx, SF_UA_LEG_UP_OFFER_ANSWERED, n);
    return SF_OP_DONE;
  }
  if (ev->kind != SF_EV_SIP || strcmp (ev->name, "response") != 0 || e == NULL ||
      !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, method) ||
      sf_sip_msg_cseq (e->msg)->number != sf_sip_msg_cseq (out)->number)
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status < 200)
    return SF_OP_DONE;
  g_autoptr (SfSipMsg) req = g_steal_pointer (&leg->relay_out);
  call->offer_out = FALSE;
  sf_ctx_timer_cancel (ctx, "relay_out_guard");
  if (status < 300) {
    sf_sip_dialog_update_uac (call->dialog, e->msg, TRUE, NULL); /* a target refresh (12.2.1.2) */
    if (strcmp (method, "INVITE") == 0) {
      g_auto (SfUaHop) hop = { 0 };
      if (!sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
        return SF_OP_ERROR;
      SfSipDialogRequest r = { .method = "ACK", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                               .cseq = (guint32) sf_sip_msg_cseq (req)->number };
      g_autofree char *next_hop = NULL;
      g_autoptr (SfSipMsg) ack = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, NULL);
      if (ack == NULL)
        return SF_OP_ERROR;
      sf_stack_send_request_to (sf_stack_from_ctx (ctx), ack, next_hop);
      g_clear_pointer (&call->ack, sf_sip_msg_unref);
      call->ack = sf_sip_msg_ref (ack);
    }
  }
  sf_ua_leg_notify_msg (ctx, SF_UA_LEG_UP_OFFER_ANSWERED, e->msg, method);
  return SF_OP_DONE;
}

/* device:ack (a B2BUA's B leg holding the ACK of the 2xx whose offer the
 * caller answers: OpFarEndResponse): the ACK goes with the note's SDP, the
 * caller's answer the bridge rewrote (RFC 3261 13.2.1: an offer in a 2xx is
 * answered in the ACK).  A note without SDP (the caller's ACK had no usable
 * answer), or timer:ack_hold (64*T1 and no device:ack: the caller never
 * ACKed, or its leg is gone): the ACK goes without body, since every 2xx
 * needs one (13.2.2.4), and the call ends with a BYE (the callee's offer is
 * unanswered: no media, RFC 3264 4), as for an unusable answer.  Nothing held:
 * nothing to do (the bridge relays every ACK of A's that had a body). */
static SfOpResult
sf_op_relay_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  gboolean device = ev->kind == SF_EV_DEVICE && strcmp (ev->name, "ack") == 0;
  if ((!device && !(ev->kind == SF_EV_TIMER && strcmp (ev->name, "ack_hold") == 0)) || call == NULL ||
      call->leg == NULL)
    return SF_OP_SKIP;
  if (!call->leg->ack_held)
    return SF_OP_DONE;
  SfUaLegNote *note = device ? ev->payload : NULL;
  const char *sdp = note != NULL && note->body != NULL && *note->body != '\0' &&
                        g_ascii_strcasecmp (note->ctype != NULL ? note->ctype : "", "application/sdp") == 0
                      ? note->body
                      : NULL;
  leg_ack_release (ctx, call, sdp);
  if (sdp != NULL)
    return SF_OP_DONE;
  sf_ua_call_sdp_failed (ctx, call, device ? "the caller's ACK has no usable SDP answer to the offer in the 2xx"
                                           : "no answer from the caller to the offer in the 2xx within 64*T1");
  /* InCall takes device:hangup: HangingUp's BYE */
  sf_ctx_post_self (ctx, sf_event_new (SF_EV_DEVICE, SF_UA_LEG_DOWN_HANGUP, NULL));
  return SF_OP_DONE;
}

/* device:info: an INFO in the dialog with the bridge's Content-Type and body
 * (RFC 6086 4.1; the other leg's INFO relayed); its final response is taken
 * here and goes nowhere (a failed INFO does not end the call). */
static SfOpResult
sf_op_relay_info (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->leg == NULL)
    return SF_OP_SKIP;
  if (ev->kind == SF_EV_SIP) {
    SfSipEvent *e = ev->payload;
    return strcmp (ev->name, "response") == 0 && e != NULL && sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "INFO")
             ? SF_OP_DONE
             : SF_OP_SKIP;
  }
  if (ev->kind == SF_EV_TXN) {
    SfSipMsg *failed = ev->payload;
    return failed != NULL && sf_sip_str_eq (sf_sip_msg_method (failed), "INFO") ? SF_OP_DONE : SF_OP_SKIP;
  }
  if (strcmp (ev->name, "info") != 0)
    return SF_OP_SKIP;
  SfUaLegNote *note = ev->payload;
  SfStack *s = sf_stack_from_ctx (ctx);
  g_auto (SfUaHop) hop = { 0 };
  if (call->dialog == NULL || s == NULL || !sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    return SF_OP_DONE; /* no dialog (yet or any more): the INFO has nowhere to go */
  const char *ctype = note != NULL && note->body != NULL && *note->body != '\0' ? note->ctype : NULL;
  if (ctype != NULL && (strpbrk (ctype, "\r\n") != NULL || *ctype == '\0'))
    ctype = NULL;
  SfSipDialogRequest r = { .method = "INFO", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .content_type = ctype, .body = ctype != NULL ? note->body : NULL,
                           .body_len = ctype != NULL ? strlen (note->body) : 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *next_hop = NULL;
  g_autoptr (SfSipMsg) info = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
  if (info == NULL) {
    g_warning ("%s: INFO: %s", sf_ctx_handle (ctx), error->message);
    return SF_OP_DONE;
  }
  sf_stack_request_to (s, sf_ctx_instance (ctx), info, next_hop);
  return SF_OP_DONE;
}

/* Timer ARG in Cancelling: no final response came 64*T1 after our CANCEL (9.1):
 * the INVITE's client transaction (which has no timer left in Proceeding) is
 * ended too; transitions. */
static SfOpResult
sf_op_cancel_give_up (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, arg) != 0)
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call_peek (ctx);
  SfInstance *ict = call != NULL && call->invite_out != NULL ? sf_stack_client_txn (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), call->invite_out) : NULL;
  if (ict != NULL)
    sf_endpoint_end (sf_ctx_endpoint (ctx), ict, "no final response after CANCEL (9.1)");
  return SF_OP_TRANSITION;
}

const SfOperatorDef sf_op_uac_table[] = {
  { "OpCancelGiveUp", sf_op_cancel_give_up, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED,
    sf_op_fixup_name, g_free,
    "on timer ARG, when no final response came 64*T1 after our CANCEL: the INVITE's client transaction (which has "
    "no timer left in Proceeding) is ended too; then transitions", "timer:$arg", "NAME (a timer)", "RFC 3261 9.1" },
  { "OpRequestFailed", sf_op_request_failed, SF_Q_NORMAL, SF_EV_TXN, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED,
    sf_op_fixup_name, g_free,
    "takes txn:timeout or txn:transport_error of our request of method ARG (for INVITE, the one sent last: a "
    "re-INVITE's failure is OpReInviteAnswered's); the call's reason becomes timeout (408) or unreachable (503); "
    "then transitions", "txn:timeout|txn:transport_error", "METHOD (INVITE, BYE)", "RFC 3261 8.1.3.1" },
  { "OpStartCall", sf_op_start_call, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "on the control command 'call URI': an INVITE with an SDP offer, sent through ua.outbound_proxy or to the "
    "target located by RFC 3263; ua.no_answer_timeout starts the timer no_answer; then transitions", "device:call",
    NULL, "RFC 3261 13.2.1" },
  { "OpAuthenticate", sf_op_authenticate, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a 401 or 407 to our INVITE: the INVITE again with digest credentials for the challenge, once per "
    "challenge (the same nonce challenged again means wrong credentials: left to OpFarEndResponse)",
    "sip:response 401|sip:response 407", NULL, "RFC 3261 22.2" },
  { "OpReDirect", sf_op_redirect, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a 3xx to our INVITE (not 305 or 380): its Contacts join the targets, best q first, and the next one not "
    "tried yet gets a new INVITE; bounded, never the same URI twice; with none left, OpFarEndResponse takes the "
    "3xx; a B2BUA leg follows none (OpFarEndResponse ends it)", "sip:response 3xx", NULL, "RFC 3261 8.1.3.4" },
  { "OpFarEndResponse", sf_op_far_end_response, SF_Q_NORMAL, SF_EV_SIP, 0, far_end_outcomes, SF_ARG_NONE, NULL,
    NULL,
    "takes a response to our INVITE: outcome ringing for a 1xx (an early dialog, early media from its SDP, RFC "
    "3960), answered for a 2xx (dialog confirmed, answer taken, ACK sent), sdp_failed (ACK sent, no usable answer), "
    "unusable, busy (486, 600) or failed; under media.srtp = offer a 488 to our RTP/SAVP INVITE sends it again "
    "with RTP/AVP (no outcome); a B2BUA leg whose INVITE had no offer holds the 2xx's ACK for the caller's answer "
    "(OpRelayAck)", "sip:response", NULL, "RFC 3261 13.2.2" },
  { "OpAckAgain", sf_op_ack_again, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a 2xx to our INVITE once the call is up: a retransmission gets the same ACK again; a 2xx from another "
    "fork gets its own ACK and a BYE; while a B2BUA leg holds its ACK for the caller's answer, none",
    "sip:response 2xx", NULL, "RFC 3261 13.2.2.4" },
  { "OpCancelCall", sf_op_cancel_call, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER | SF_EV_SIP, SF_OPF_TRANSITIONS, NULL,
    SF_ARG_NONE, NULL, NULL,
    "on device:hangup, device:shutdown or timer:no_answer before the answer: CANCEL, sent once the first 1xx came "
    "(then transitions); in the state that waits for the 487 it takes the 1xx responses and timer:early_bye",
    "device:hangup|device:shutdown|timer:no_answer|timer:early_bye|sip:response 1xx", NULL, "RFC 3261 9.1" },
  { "OpEarlyBye", sf_op_early_bye, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a BYE on the early dialog of our INVITE: 200 (12.2.2), then transitions to wait for the 487 the callee "
    "owes; the INVITE is cancelled when none came 8*T1 later (timer early_bye)", "sip:BYE", NULL,
    "RFC 3261 15.1.2" },
  { "OpHangup", sf_op_hangup, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL, "on the control command 'hangup' or timer:hangup: BYE through the dialog, then transitions",
    "device:hangup|timer:hangup", NULL, "RFC 3261 15.1.1" },
  { "OpTerminateCall", sf_op_terminate_call, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of the state that ends a call from our side: BYE through the dialog, whatever brought the call here "
    "(a hang-up, a 2xx after our CANCEL, a 2xx never ACKed); a B2BUA leg's held ACK goes first, without body",
    "*", NULL, "RFC 3261 15.1.1" },
  { "OpByeAnswered", sf_op_bye_answered, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes the final response to our BYE, whatever it says: the call is over; transitions", "sip:response 2xx-6xx",
    NULL, "RFC 3261 15.1.1" },
  { "OpHold", sf_op_hold, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "on the control command 'hold': a re-INVITE offering sendonly (inactive when the peer holds us already), then "
    "transitions", "device:hold", NULL, "RFC 3264 8.4" },
  { "OpResume", sf_op_resume, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "on the control command 'resume': a re-INVITE offering sendrecv again, then transitions", "device:resume", NULL,
    "RFC 3261 14.1" },
  { "OpRelayOffer", sf_op_relay_offer, SF_Q_NORMAL, SF_EV_DEVICE, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "B2BUA leg mode: on the bridge's device:reoffer sends its SDP as an offer in the call's dialog: a re-INVITE, "
    "or an UPDATE when the note says UPDATE or the dialog is early; while any offer is open (either side's, or a "
    "relay pending) child:offer_answered 491 at once instead; while our 2xx to the INVITE waits for its ACK the "
    "offer is kept (one) and goes once the ACK came", "device:reoffer", NULL, "RFC 3261 14.1, RFC 3311 5.1" },
  { "OpRelayOfferAnswered", sf_op_relay_offer_answered, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN | SF_EV_TIMER, 0, NULL,
    SF_ARG_NONE, NULL, NULL,
    "B2BUA leg mode: takes the final response to our relayed re-INVITE or UPDATE: a 2xx to a re-INVITE gets its "
    "ACK; every final status (491 too: no local retry) goes to the bridge as child:offer_answered with the 2xx's "
    "SDP (481, 408 and a timeout or transport error, sent as 408, say the dialog is gone: the bridge hangs up); "
    "timer:relay_out_guard (64*T1, a re-INVITE answered with a 1xx only): its transaction ended, 408 to the bridge",
    "sip:response|txn:timeout|txn:transport_error|timer:relay_out_guard",
    NULL, "RFC 3261 14.1, 13.2.2.4" },
  { "OpRelayAck", sf_op_relay_ack, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "B2BUA leg mode: the ACK our INVITE without offer held for the caller's answer to the offer in the callee's "
    "2xx goes on the bridge's device:ack with the note's SDP; without SDP, or at timer:ack_hold (64*T1), it goes "
    "without body and the call ends with a BYE (sdp_failed)", "device:ack|timer:ack_hold", NULL,
    "RFC 3261 13.2.1, 13.2.2.4" },
  { "OpRelayInfo", sf_op_relay_info, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_SIP | SF_EV_TXN, 0, NULL, SF_ARG_NONE, NULL,
    NULL,
    "B2BUA leg mode: on the bridge's device:info sends an INFO in the call's dialog with the note's Content-Type "
    "and body; takes the responses and failures of our INFOs, which change nothing", "device:info|sip:response|txn",
    NULL, "RFC 6086 4.1" },
  { "OpReInviteAnswered", sf_op_reinvite_answered, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0, reinvite_outcomes,
    SF_ARG_NONE, NULL, NULL,
    "takes the responses to our re-INVITE (not an UPDATE's): a final one gives outcome accepted (2xx: ACK sent, answer taken, the "
    "media follows), refused (the session unchanged), dialog_gone (481, 408, a timeout or transport error) or "
    "sdp_failed (ACK sent, no usable answer); a 491 (glare) starts timer reinvite_glare for OpReInviteRetry "
    "instead, at most 3 times in a row", "sip:response|txn:timeout|txn:transport_error", NULL, "RFC 3261 14.1" },
  { "OpReInviteRetry", sf_op_reinvite_retry, SF_Q_NORMAL, SF_EV_TIMER, 0, reinvite_retry_outcomes, SF_ARG_NONE,
    NULL, NULL,
    "on timer:reinvite_glare (our re-INVITE got 491): sends it again, same direction, new offer and CSeq; when it "
    "cannot go yet (our 2xx waits for its ACK) another interval, bounded; then outcome refused (session unchanged)",
    "timer:reinvite_glare", NULL, "RFC 3261 14.1" },
};
const gsize sf_op_uac_table_len = G_N_ELEMENTS (sf_op_uac_table);
