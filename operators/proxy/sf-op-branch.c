/* sf-op-branch.c: one branch of a stateful proxy (RFC 3261 16.6 to 16.8,
 * 16.10), run from xml/proxy-branch.xml as a child of the request instance:
 * it forwards the request to its target through a client transaction of its
 * own, hands each response (its Via popped, 16.7 step 9) to its parent, runs
 * Timer C for an INVITE and sends the CANCEL when its parent asks (9.1: not
 * before a provisional response). */
#include "config.h"
#include "sf-proxy.h"
#include "operators/registrar/sf-registrar.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include "sip/sf-sip-flow-token.h"
#include <string.h>

static SfProxyJob *
job (SfCtx *ctx)
{
  SfProxyInstance *pi = sf_proxy_inst_peek (ctx);
  return pi != NULL ? pi->job : NULL;
}

/* The request as forwarded, NULL before (and once Accepted). */
static SfSipMsg *
forwarded (SfCtx *ctx)
{
  SfProxyInstance *pi = sf_proxy_inst_peek (ctx);
  return pi != NULL ? pi->fwd : NULL;
}

/* A response for the parent (always queued: a lost 2xx would strand the call). */
static void
post_parent (SfCtx *ctx, SfSipMsg *resp, const SfSipPeer *peer)
{
  SfInstance *parent = sf_instance_parent (sf_ctx_instance (ctx));
  if (parent == NULL || sf_instance_ended (parent))
    return;
  /* the arg names the branch, then the status, so that a trace reads "sip:response b1 180" */
  char status[24], arg[64]; /* a handle ("b3", 11 bytes at most) and a status: on the stack */
  sf_sip_uint_text (status, sf_sip_msg_status (resp));
  const char *handle = sf_ctx_handle (ctx);
  gsize hlen = MIN (strlen (handle), sizeof arg - sizeof status - 1);
  memcpy (arg, handle, hlen);
  arg[hlen] = ' ';
  memcpy (arg + hlen + 1, status, strlen (status) + 1);
  sf_endpoint_post_always (sf_ctx_endpoint (ctx), parent,
                           sf_event_new_full (SF_EV_SIP, "response", arg, sf_sip_event_new (resp, peer, NULL),
                                              (GDestroyNotify) sf_sip_event_free));
}

/* Hands @resp (a response to the forwarded request, our Via on top) to the parent, its Via popped. */
static void
to_parent (SfCtx *ctx, SfSipMsg *resp, const SfSipPeer *peer)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) up = sf_proxy_forward_response (ctx, resp, &error);
  if (up == NULL) {
    g_warning ("%s: response not forwarded: %s", sf_ctx_handle (ctx), error->message);
    return;
  }
  post_parent (ctx, up, peer);
}

/* A response this branch makes itself (408 for Timer C or a timeout, 503 for a
 * transport failure: 16.7 step 6, 16.8), to its parent like any other. */
static void
synthesize (SfCtx *ctx, guint status)
{
  SfSipMsg *fwd = forwarded (ctx);
  if (fwd == NULL)
    return;
  g_autofree char *tag = sf_sip_random_tag ();
  g_autoptr (SfSipMsg) r = sf_sip_create_response (fwd, status, NULL, tag, NULL);
  if (r != NULL)
    to_parent (ctx, r, NULL);
}

/* Trying's entry, 16.6: a copy of the request for the target (Request-URI
 * replaced, Max-Forwards decremented, Max-Breadth set to the share its parent
 * gave it (RFC 5393 5.3.3), Record-Route when proxy.record_route,
 * our Route popped, a Via whose branch carries the loop hash), sent through a
 * client transaction of this branch located by RFC 3263; Timer C started for an
 * INVITE.  A request that cannot be built gets 500 from the branch. */
static SfOpResult
sf_op_branch_forward (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfProxyJob *j = job (ctx);
  if (j == NULL || j->req == NULL || forwarded (ctx) != NULL)
    return SF_OP_SKIP; /* forwarded already (j->req NULL: and Accepted) */
  SfStack *s = sf_stack_from_ctx (ctx);
  SfProxyConfig *c = sf_proxy_config (ctx);
  g_autoptr (SfSipUri) target = j->target != NULL ? sf_sip_uri_parse (sf_sip_str (j->target, strlen (j->target)), NULL, NULL) : NULL;
  g_autoptr (SfSipUri) hop = j->hop != NULL ? sf_sip_uri_parse (sf_sip_str (j->hop, strlen (j->hop)), NULL, NULL) : NULL;
  SfSipProto proto = sf_proxy_next_proto (ctx, j->req, hop != NULL ? hop : target);
  g_autofree char *branch = sf_proxy_branch (ctx, j->req);
  g_autofree char *local = NULL;
  /* From this worker's own socket when there is one (core.worker_source =
   * own), so the responses come back to it; from the listener over a flow (a
   * NAT lets in only what comes from the address it was sent to), to any
   * location binding (a firewall in front of it may do the same, and it
   * registered with the listener's address and port), for a REGISTER (a
   * registrar records its source as the binding's), and for a request inside
   * a dialog (its target came from a Contact through Route and the Request-URI,
   * not from a binding looked up again: it may be a registered UA behind such
   * a firewall, which admitted the dialog's INVITE from the listener). */
  gboolean in_dialog = sf_sip_value_param (sf_sip_msg_to (j->req), "tag") != NULL;
  gboolean own = hop == NULL && !j->binding && !in_dialog && !sf_sip_str_eq (sf_sip_msg_method (j->req), "REGISTER");
  g_autofree char *via = sf_proxy_via (ctx, &proto, branch, own, &local);
  g_autofree char *rr = NULL;
  if (c != NULL && c->record_route && !in_dialog && !sf_sip_str_eq (sf_sip_msg_method (j->req), "REGISTER")) {
    /* the token proves, when the dialog's requests come back, that it was set up through us */
    const SfSipValue *from = sf_sip_msg_from (j->req);
    const SfSipParam *ftag = sf_sip_value_param (from, "tag");
    const SfSipValue *contact = sf_sip_msg_value (j->req, SF_SIP_HDR_CONTACT, NULL);
    g_autofree char *token = sf_proxy_token (c, sf_sip_msg_call_id (j->req), ftag != NULL ? ftag->value : sf_sip_str ("", 0),
                                             from != NULL ? from->uri : NULL, contact != NULL ? contact->uri : NULL);
    /* The Record-Route names the transport requests are to come back on
     * (20.30, 19.1.1): the one we send on, toward the callee.  When the request
     * came in on another, a second value names that one, toward the caller
     * (RFC 5658 double Record-Route: the callee's route set starts with the
     * first, the caller's, reversed, with the second; both carry the token, and
     * a request coming back pops both, sf_sip_create_forward). */
    /* A caller that came across a NAT gets a flow token too (RFC 5626 5.3),
     * so the callee's requests reach it over that flow, not at its Contact
     * (sf_proxy_flow_route); else a callee reached over its flow (behind NAT,
     * or its connection) gets it, so the caller's requests reach it there. */
    SfSipValues *in_routes = sf_sip_msg_values (j->req, SF_SIP_HDR_ROUTE, NULL);
    gboolean routed = j->route != NULL || (in_routes != NULL && in_routes->len > sf_proxy_own_routes (ctx, in_routes));
    /* Both parties on flows of ours, one of them a WebSocket (whose Contact
     * cannot be reached: RFC 7118): two values, each with the other party's
     * flow (the callee's requests meet the first, the caller's the second),
     * even on one transport. */
    gboolean ws_side = sf_sip_proto_is_ws (j->in_proto) || sf_sip_proto_is_ws (proto);
    g_autofree char *out_flow = (j->in_flow == NULL || ws_side) && hop != NULL && !routed
                                  ? sf_proxy_hop_token (ctx, hop, sf_sip_msg_call_id (j->req)) : NULL;
    gboolean two_flows = j->in_flow != NULL && out_flow != NULL;
    const char *flow_token = j->in_flow != NULL ? j->in_flow : out_flow;
    /* g_strconcat, not printf: once a forwarded request */
    g_autofree char *ff = flow_token != NULL ? g_strconcat (";" SF_FLOW_TOKEN_PARAM "=", flow_token, NULL) : g_strdup ("");
    g_autofree char *ff_in = two_flows ? g_strconcat (";" SF_FLOW_TOKEN_PARAM "=", out_flow, NULL) : g_strdup (ff);
    /* a sips request is record-routed with a sips URI (RFC 5630 4.2, 3261
     * 16.6 4); over TLS else ;transport=tls */
    gboolean sips = sf_sip_msg_ruri (j->req) != NULL && sf_sip_msg_ruri (j->req)->kind == SF_URI_SIPS;
    rr = g_strconcat ("<", sips && proto == SF_SIP_TLS ? "sips" : "sip", ":", local, ";lr",
                      proto != SF_SIP_UDP && !(sips && proto == SF_SIP_TLS) ? ";transport=" : "",
                      proto != SF_SIP_UDP && !(sips && proto == SF_SIP_TLS) ? sf_sip_proto_name (proto) : "", ";sft=", token,
                      ff, ">", NULL);
    g_autofree char *in_local = j->in_proto != proto || two_flows ? sf_stack_local (s, j->in_proto) : NULL;
    if (in_local != NULL) {
      gboolean in_sips = sips && j->in_proto == SF_SIP_TLS;
      char *both = g_strdup_printf ("%s, <%s:%s;lr%s%s;sft=%s%s>", rr, in_sips ? "sips" : "sip", in_local,
                                    j->in_proto != SF_SIP_UDP && !in_sips ? ";transport=" : "",
                                    j->in_proto != SF_SIP_UDP && !in_sips ? sf_sip_proto_name (j->in_proto) : "", token, ff_in);
      g_free (rr);
      rr = both;
    }
    SfProxyInstance *pi = sf_proxy_inst (ctx);
    g_free (pi->rr_token);
    pi->rr_token = g_steal_pointer (&token);
  }
  SfRegistrar *reg = sf_registrar_from_ctx (ctx);
  SfSipForward f = { .via = via, .record_route = rr, .target = j->target, .is_mine = sf_proxy_uri_is_mine, .data = ctx,
                     .strip_realm = reg != NULL ? reg->realm : NULL, .max_breadth = MAX (j->breadth, 1),
                     .preload = j->route };
  g_autoptr (GError) error = NULL;
  if (via == NULL)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "no socket to send from");
  g_autoptr (SfSipMsg) fwd = via != NULL ? sf_sip_create_forward (j->req, &f, &error) : NULL;
  GString *fields = g_string_new ("\"target\":");
  sf_json_append_string (fields, j->target != NULL ? j->target : "(Request-URI)");
  if (fwd == NULL) {
    g_warning ("%s: not forwarded: %s", sf_ctx_handle (ctx), error->message);
    g_autofree char *tag = sf_sip_random_tag ();
    g_autoptr (SfSipMsg) r = sf_sip_create_response (j->req, 500, NULL, tag, NULL);
    if (r != NULL)
      post_parent (ctx, r, NULL);
    g_string_free (fields, TRUE);
    /* an entry queue cannot transition: the branch ends on this event (OpBranchFailed) */
    sf_endpoint_post_always (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), sf_event_new (SF_EV_TXN, "transport_error", "not built"));
    return SF_OP_ERROR;
  }
  SfProxyInstance *pi = sf_proxy_inst (ctx);
  g_clear_pointer (&pi->fwd, sf_sip_msg_unref); /* none: the operator skips when it has one */
  pi->fwd = sf_sip_msg_ref (fwd);
  gboolean emits = sf_ctx_emits (ctx);
  if (emits) {
    g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (fwd)->raw);
    g_string_append (fields, ",\"request_uri\":");
    sf_json_append_string (fields, ruri);
    sf_json_add_int (fields, "max_breadth", MAX (j->breadth, 1));
  }
  /* A hop is a flow (a flow token of ours, or a binding behind NAT, which has
   * no Path): the request goes over it whatever Route is left (RFC 5626 5.3;
   * what is left, the Path values beyond ours, names the flow's own peer).
   * Were a Route left to take it, whoever holds a Path token (it never
   * expires) would relay anywhere by writing a Route after ours.  Else the
   * Route (16.6 step 7) or the Request-URI. */
  gboolean by_hop = hop != NULL;
  if (by_hop && emits) {
    g_string_append (fields, ",\"next_hop\":");
    sf_json_append_string (fields, j->hop);
  }
  if (emits)
    sf_ctx_emit (ctx, "branch_forward", fields->str);
  g_string_free (fields, TRUE);
  if (by_hop)
    sf_stack_request_to (s, sf_ctx_instance (ctx), fwd, j->hop);
  else
    sf_stack_request_located (s, sf_ctx_instance (ctx), fwd);
  if (j->invite && c != NULL && c->timer_c_ms > 0)
    sf_ctx_timer_start (ctx, "C", c->timer_c_ms);
  return SF_OP_CONTINUE;
}

static const char *const response_outcomes[] = { "provisional", "accepted", "final", NULL };

/* A response to the forwarded request: to the parent (16.7).  A provisional
 * one (outcome provisional) restarts Timer C unless it is a 100 (16.7 step 2); a 2xx to an INVITE
 * leads to waiting for further 2xx while the client transaction lives
 * (outcome accepted); any other final ends the branch (outcome final).
 * Responses to our CANCEL are absorbed. */
static SfOpResult
sf_op_branch_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfProxyJob *j = job (ctx);
  if (strcmp (ev->name, "response") != 0 || e == NULL || e->msg == NULL || sf_sip_msg_is_request (e->msg) || j == NULL)
    return SF_OP_SKIP;
  if (sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "CANCEL"))
    return SF_OP_DONE;
  to_parent (ctx, e->msg, &e->peer);
  guint status = sf_sip_msg_status (e->msg);
  if (status < 200) {
    SfProxyConfig *c = sf_proxy_config (ctx);
    if (status > 100 && j->invite && c != NULL && sf_ctx_timer_running (ctx, "C")) /* 101-199 (16.7 step 2) */
      sf_ctx_timer_start (ctx, "C", c->timer_c_ms);
    return SF_OP_OUTCOME (0);
  }
  sf_ctx_timer_cancel (ctx, "C");
  if (j->invite && status < 300) {
    /* Accepted: the branch lives on as long as its client transaction (64*T1)
     * and builds nothing more from its requests (no CANCEL, no 408 of its
     * own): both are let go; the client transaction keeps its own (compact)
     * ref of the one forwarded, the parent its ref of the one received. */
    g_clear_pointer (&j->req, sf_sip_msg_unref);
    g_clear_pointer (&sf_proxy_inst (ctx)->fwd, sf_sip_msg_unref);
  }
  return SF_OP_OUTCOME (j->invite && status < 300 ? 1 : 2);
}

/* The client transaction failed (txn:timeout, txn:transport_error): the parent
 * hears 408 or 503 (16.7 step 6, 16.8), and the branch ends (transition).
 * Failures of our CANCEL's transaction are ignored. */
static SfOpResult
sf_op_branch_failed (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipMsg *req = ev->payload;
  if (req != NULL && sf_sip_str_eq (sf_sip_msg_method (req), "CANCEL"))
    return SF_OP_DONE;
  gboolean timeout = strcmp (ev->name, "timeout") == 0;
  if (!timeout && strcmp (ev->name, "transport_error") != 0)
    return SF_OP_SKIP;
  if (forwarded (ctx) != NULL)
    synthesize (ctx, timeout ? 408 : 503);
  return SF_OP_TRANSITION;
}

static const char *const timer_c_outcomes[] = { "silent", NULL };

/* Timer C (16.8): after a provisional response, the branch is cancelled
 * (transition); with none, the parent hears 408 at once and a CANCEL follows
 * any provisional response that still comes (outcome silent). */
static SfOpResult
sf_op_branch_timer_c (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "C") != 0)
    return SF_OP_SKIP;
  g_info ("%s: Timer C fired", sf_ctx_handle (ctx));
  sf_ctx_emit (ctx, "branch_timer_c", NULL);
  if (arg != NULL && strcmp (arg, "silent") == 0) {
    synthesize (ctx, 408);
    return SF_OP_OUTCOME (0);
  }
  return SF_OP_TRANSITION;
}

/* sip:cancel from the parent (16.10, 16.7 step 10): transitions (to send the
 * CANCEL, or to wait for a provisional response before it); the arg is the
 * Reason value to send. */
static SfOpResult
sf_op_branch_cancel (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "cancel") != 0 || ev->payload != NULL)
    return SF_OP_SKIP;
  if (ev->arg != NULL) {
    SfProxyInstance *pi = sf_proxy_inst (ctx);
    g_free (pi->cancel_reason);
    pi->cancel_reason = g_strdup (ev->arg);
  }
  return SF_OP_TRANSITION;
}

/* Cancelling's entry (9.1): once, a CANCEL for the forwarded request, through
 * a client transaction of its own, to where the request went; timer ARG runs
 * 64*T1 for the final response. */
static SfOpResult
sf_op_branch_send_cancel (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipMsg *fwd = forwarded (ctx);
  SfProxyInstance *pi = sf_proxy_inst_peek (ctx); /* made with fwd */
  if (fwd == NULL || pi->cancelled)
    return SF_OP_SKIP;
  pi->cancelled = TRUE;
  sf_ctx_timer_cancel (ctx, "C");
  SfStack *s = sf_stack_from_ctx (ctx);
  sf_ctx_timer_start (ctx, arg, 64 * (guint64) sf_stack_timer_ms (s, '1'));
  const char *reason = pi->cancel_reason;
  g_autofree char *line = reason != NULL ? g_strdup_printf ("Reason: %s", reason) : NULL; /* RFC 3326 */
  const char *const lines[] = { line, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) cancel = sf_sip_create_cancel_with (fwd, lines, &error);
  if (cancel == NULL) {
    g_warning ("%s: no CANCEL: %s", sf_ctx_handle (ctx), error != NULL ? error->message : "?");
    return SF_OP_ERROR;
  }
  /* 9.1: to where the INVITE went (its client transaction's address), not located again */
  sf_stack_request_cancel (s, sf_ctx_instance (ctx), fwd, cancel);
  sf_ctx_emit (ctx, "branch_cancel", NULL);
  return SF_OP_CONTINUE;
}

/* No final response 64*T1 after our CANCEL (9.1): the parent hears 408; transitions. */
static SfOpResult
sf_op_branch_give_up (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, arg) != 0)
    return SF_OP_SKIP;
  synthesize (ctx, 408);
  /* 9.1: the INVITE's client transaction is given up too (it has no timer left) */
  SfSipMsg *fwd = forwarded (ctx);
  SfInstance *ict = fwd != NULL ? sf_stack_client_txn (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), fwd) : NULL;
  if (ict != NULL)
    sf_endpoint_end (sf_ctx_endpoint (ctx), ict, "no final response after CANCEL (9.1)");
  return SF_OP_TRANSITION;
}

const SfOperatorDef sf_op_branch_table[] = {
  { "OpBranchForward", sf_op_branch_forward, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of a branch: the request for its target (our Via and Record-Route, with a flow token when the caller came "
    "across a NAT or the callee is reached over its flow; our Route popped; a binding's Path as Route; its "
    "Max-Breadth share) goes out through a client transaction, to the binding's source instead of its Contact when it "
    "is behind NAT (registrar.nat), or over the flow a token names; Timer C starts for an INVITE", "*", NULL,
    "RFC 3261 16.6, RFC 3581, RFC 3327, RFC 5626 5.3" },
  { "OpBranchResponse", sf_op_branch_response, SF_Q_NORMAL, SF_EV_SIP, 0, response_outcomes, SF_ARG_NONE, NULL, NULL,
    "takes a response to the forwarded request and hands it, our Via popped, to the parent: outcome provisional "
    "(a 1xx but 100 restarts Timer C), accepted (a 2xx to an INVITE) or final; responses to our CANCEL are absorbed",
    "sip:response", NULL, "RFC 3261 16.7" },
  { "OpBranchFailed", sf_op_branch_failed, SF_Q_NORMAL, SF_EV_TXN, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a timeout or transport error of the client transaction: the parent hears 408 or 503; then transitions "
    "(a failure of our CANCEL's transaction is dropped)", "txn:timeout|txn:transport_error", NULL,
    "RFC 3261 16.7 step 6" },
  { "OpBranchTimerC", sf_op_branch_timer_c, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, timer_c_outcomes,
    SF_ARG_OPTIONAL, NULL, NULL,
    "on Timer C: transitions to cancel the branch; with arg silent (no provisional response yet) the parent hears "
    "408 at once (outcome silent)", "timer:C", "silent", "RFC 3261 16.8" },
  { "OpBranchCancel", sf_op_branch_cancel, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes sip:cancel from the parent (the event's arg: the Reason to send) and transitions, to send the CANCEL or "
    "to wait for a provisional response before it", "sip:cancel", NULL, "RFC 3261 16.10" },
  { "OpBranchSendCancel", sf_op_branch_send_cancel, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, sf_op_fixup_name,
    g_free,
    "entry, once: a CANCEL for the forwarded request through its own transaction, to where the request went "
    "(Reason when the parent gave one, RFC 3326); timer ARG runs 64*T1 for the final response", "*",
    "NAME (a timer)", "RFC 3261 9.1" },
  { "OpBranchGiveUp", sf_op_branch_give_up, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED,
    sf_op_fixup_name, g_free,
    "on timer ARG, when no final response came after our CANCEL: the parent hears 408 and the INVITE's client "
    "transaction is given up too; then transitions", "timer:$arg", "NAME (a timer)", "RFC 3261 9.1" },
};
const gsize sf_op_branch_table_len = G_N_ELEMENTS (sf_op_branch_table);
