/* sf-op-proxy.c: the stateful proxy's request machine (RFC 3261 16), run from
 * xml/proxy.xml: one instance per server transaction.  It validates the request
 * (16.3), authenticates it (22.3), finds its targets (16.4, 16.5), spawns one
 * branch instance per target (xml/proxy-branch.xml, 16.6) and keeps the
 * response context (16.7): provisional and 2xx responses go upstream as they
 * come, the best final response once every branch has one, 401/407 challenges
 * aggregated; a CANCEL cancels the pending branches (16.10). */
#include "config.h"
#include "sf-proxy.h"
#include "framework/sf-secret.h"
#include "operators/registrar/sf-registrar.h"
#include "framework/sf-flow.h"
#include "framework/sf-json.h"
#include "sipflow/sf-message.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

/* A zeroed target, by malloc: calloc passes by malloc's cache (sf_instance_new) */
static SfProxyTarget *
target_new (void)
{
  SfProxyTarget *t = g_new (SfProxyTarget, 1);
  *t = (SfProxyTarget) { 0 };
  return t;
}

static void
target_free (SfProxyTarget *t)
{
  g_free (t->uri);
  g_free (t->hop);
  g_free (t->route);
  g_free (t);
}

void
sf_proxy_ctx_free (SfProxyCtx *p)
{
  sf_sip_event_free (p->req);
  g_ptr_array_unref (p->targets);
  g_ptr_array_unref (p->branches);
  if (p->challenges != NULL)
    g_ptr_array_unref (p->challenges);
  if (p->best != NULL)
    sf_sip_msg_unref (p->best);
  g_free (p);
}

static SfProxyCtx *
pctx (SfCtx *ctx)
{
  SfProxyInstance *pi = sf_proxy_inst_peek (ctx);
  return pi != NULL ? pi->ctx : NULL;
}

static SfOpResult
answer (SfCtx *ctx, SfSipEvent *e, guint status, const char *reason, const char *const *lines)
{
  SfProxyCtx *p = pctx (ctx);
  if (p != NULL)
    p->final_sent = status;
  GString *f = g_string_new (NULL);
  g_string_append_printf (f, "\"status\":%u", status);
  if (reason != NULL) {
    g_string_append (f, ",\"reason\":");
    sf_json_append_string (f, reason);
  }
  sf_ctx_emit (ctx, "proxy_answer", f->str);
  g_string_free (f, TRUE);
  return sf_registrar_answer (ctx, e, status, reason, lines);
}

/* "Retry-After: N" for a 503 while shutting down (sip.shutdown_retry_after, RFC
 * 3261 21.5.4), counted in the stats (shutdown_refused); transfer full. */
static char *
shutdown_retry_after (SfCtx *ctx)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (s == NULL)
    return g_strdup ("Retry-After: 10");
  sf_stack_count (s, SF_STACK_STAT_SHUTDOWN_REFUSED);
  return g_strdup_printf ("Retry-After: %u", sf_stack_shutdown_retry_after (s));
}

static gboolean
is_method (SfSipEvent *e, const char *m)
{
  return sf_sip_str_eq (sf_sip_msg_method (e->msg), m);
}

/* ---- Idle ---- */

static const char *const answered_outcomes[] = { "answered", NULL };

/* 16.3: the status a request unfit to be proxied gets, 0 when it is fit: a
 * sip or sips Request-URI (else 416), Max-Forwards above 0 (else 483), Route
 * and Proxy-Require readable (else 400, *@why the reason phrase), not a loop
 * (else 482), no Proxy-Require (this proxy supports no extension: 420, the
 * Unsupported line in *@line, owned). */
static guint
unfit (SfCtx *ctx, SfSipMsg *msg, char **why, char **line)
{
  const SfSipUri *ruri = sf_sip_msg_ruri (msg);
  g_autoptr (GError) error = NULL;
  if (ruri == NULL || (ruri->kind != SF_URI_SIP && ruri->kind != SF_URI_SIPS))
    return 416;
  if (sf_sip_msg_max_forwards (msg) == 0)
    return 483;
  if (sf_sip_msg_values (msg, SF_SIP_HDR_ROUTE, &error) == NULL && sf_sip_msg_find (msg, SF_SIP_HDR_ROUTE) != NULL) {
    *why = g_strdup_printf ("Bad Route: %s", error != NULL ? error->message : "unreadable");
    for (char *c = *why; *c != '\0'; c++)
      if (*c == '\r' || *c == '\n' || *c == '"')
        *c = ' ';
    return 400;
  }
  if (sf_proxy_looped (ctx, msg))
    return 482;
  if (sf_sip_msg_find (msg, SF_SIP_HDR_PROXY_REQUIRE) != NULL && sf_sip_msg_values (msg, SF_SIP_HDR_PROXY_REQUIRE, NULL) == NULL) {
    *why = g_strdup ("Bad Proxy-Require");
    return 400;
  }
  *line = sf_registrar_unsupported (msg, SF_SIP_HDR_PROXY_REQUIRE);
  if (*line != NULL)
    return 420;
  return 0;
}

/* 16.3: a request that is fit to be proxied (unfit(): 416, 483, 400, 482,
 * 420), and not one that came while the proxy quits (503 with Retry-After;
 * the stack refuses those before they get an instance, but for an ACK or a
 * request inside a dialog, which go on, as a BYE ending a call must).  An ACK
 * is never answered: a bad one is dropped (outcome answered all the same).
 * CONTINUE when fit.  (The stack's gate, sf_proxy_gate, answers most of these
 * statelessly before any transaction; this operator serves what reaches the
 * flow.) */
static SfOpResult
sf_op_proxy_validate (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || e->msg == NULL || !sf_sip_msg_is_request (e->msg))
    return SF_OP_SKIP;
  gboolean ack = is_method (e, "ACK");
  guint status = 0;
  const char *reason = NULL;
  g_autofree char *why = NULL, *line = NULL; /* one extra line at most: no array for every request */
  SfProxyInstance *pi = sf_proxy_inst_peek (ctx);
  if (pi != NULL && pi->quitting && !ack &&
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL) {
    status = 503;
    reason = "Shutting Down";
    line = shutdown_retry_after (ctx);
  } else {
    status = unfit (ctx, e->msg, &why, &line);
    reason = why;
  }
  if (status == 0)
    return SF_OP_CONTINUE;
  if (ack) {
    g_info ("%s: ACK dropped (%u)", sf_ctx_handle (ctx), status);
    return SF_OP_OUTCOME (0);
  }
  const char *const lines[] = { line, NULL };
  return answer (ctx, e, status, reason, lines) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
}

static const char *const classify_outcomes[] = { "register", "ack", NULL };

/* Keeps the request (its response context starts) and sends it on to the
 * state that serves it, where it is dispatched again: a REGISTER for a domain
 * of ours to the registrar (outcome register), an ACK outside any transaction
 * (the ACK for a 2xx) to stateless forwarding (outcome ack), anything else to
 * routing (transition). */
static SfOpResult
sf_op_proxy_classify (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || e->msg == NULL || !sf_sip_msg_is_request (e->msg) || pctx (ctx) != NULL)
    return SF_OP_SKIP;
  SfProxyCtx *p = g_new (SfProxyCtx, 1); /* not g_new0: calloc passes by malloc's cache (sf_instance_new) */
  *p = (SfProxyCtx) { .req = sf_sip_event_new (e->msg, &e->peer, e->txn) };
  p->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) target_free);
  p->branches = g_ptr_array_new_with_free_func (g_free);
  sf_proxy_inst (ctx)->ctx = p; /* none before: pctx () is NULL */
  /* the Call-ID copied on the stack when it fits (three requests a call), the
   * line's room made once for it and its quotes */
  SfSipStr id = sf_sip_msg_call_id (e->msg);
  char room[128];
  g_autofree char *owned = id.len < sizeof room ? NULL : sf_sip_str_dup (id);
  const char *cid = owned;
  if (owned == NULL) {
    if (id.len > 0)
      memcpy (room, id.p, id.len);
    room[id.len] = '\0';
    cid = room;
  }
  GString *f = g_string_sized_new (sizeof "\"call_id\":\"\"" + id.len);
  g_string_append_len (f, "\"call_id\":", sizeof "\"call_id\":" - 1);
  sf_json_append_string (f, cid);
  sf_endpoint_set_event_fields (sf_ctx_instance (ctx), g_string_free (f, FALSE));
  /* always: the request is work accepted (its transaction waits for an answer) */
  sf_endpoint_post_always (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), sf_event_ref (ev));
  if (is_method (e, "ACK"))
    return SF_OP_OUTCOME (1);
  if (is_method (e, "REGISTER") && sf_proxy_domain_is_ours (ctx, sf_sip_msg_ruri (e->msg)))
    return SF_OP_OUTCOME (0);
  return SF_OP_TRANSITION;
}

static gboolean
trusted (SfCtx *ctx, const SfSipPeer *peer)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  if (c == NULL || peer == NULL || peer->remote == NULL)
    return FALSE;
  GInetAddress *a = g_inet_socket_address_get_address (peer->remote);
  for (guint i = 0; i < c->trusted->len; i++)
    if (g_inet_address_mask_matches (c->trusted->pdata[i], a))
      return TRUE;
  return FALSE;
}

/* Out of a dialog, is @req for a target of ours: once our own Route is popped
 * (and a strict router's Request-URI put back) no Route is left, and the
 * Request-URI is in a domain of ours (16.4, 16.5)?  A request that still
 * names another hop by Route or Request-URI asks to be relayed. */
static gboolean
for_us (SfCtx *ctx, SfSipMsg *req)
{
  SfSipValues *routes = sf_sip_msg_values (req, SF_SIP_HDR_ROUTE, NULL);
  guint n = routes != NULL ? routes->len : 0;
  const SfSipUri *ruri = sf_sip_msg_ruri (req);
  if (n > 0 && sf_proxy_uri_is_mine (ruri, ctx)) {
    ruri = ((SfSipValue *) routes->pdata[n - 1])->uri;
    n--;
  }
  n -= MIN (n, sf_proxy_own_routes (ctx, routes));
  return n == 0 && ruri != NULL && sf_proxy_domain_is_ours (ctx, ruri);
}

/* Do @a and @b name the same IP address and port (5060 when none)? */
static gboolean
same_host_port (const SfSipUri *a, const SfSipUri *b)
{
  if ((a->port != 0 ? a->port : 5060) != (b->port != 0 ? b->port : 5060))
    return FALSE;
  SfSipIp ip[2];
  return sf_sip_ip_parse (a->host, &ip[0]) && sf_sip_ip_parse (b->host, &ip[1]) && sf_sip_ip_equal (&ip[0], &ip[1]);
}

typedef enum {
  ADMIT_PASS,   /* forwarded (or served) without credentials */
  ADMIT_AUTH,   /* only with good credentials for our realm */
  ADMIT_REFUSE, /* 403 (an ACK: dropped) */
  ADMIT_GONE,   /* 430 Flow Failed: a good flow token whose flow is gone (an ACK: dropped) */
} Admit;

/* Who may have a request forwarded (22.3, and no open relay), before any
 * credentials are checked.  A REGISTER for a domain of ours goes to the
 * registrar (AUTH with a users file, trusted or not); one for another domain
 * is REFUSEd.  Sources in proxy.trusted PASS.  A request with a To tag claims
 * a dialog: it PASSes only when it comes back along a Record-Route of ours
 * whose token was made for its Call-ID and its From or To tag
 * (sf_proxy_token_ok); a To tag alone proves nothing.  An ACK is part of a
 * dialog or nothing.  Out of a dialog, a request whose From is a user of
 * ours, or anonymous (RFC 3323) toward another domain, needs AUTH (with a
 * users file; without one nobody can prove it); anything else PASSes only
 * for a target of ours (for_us), else it is REFUSEd.  A good flow token whose
 * TCP connection is gone is GONE, but from a trusted source (OpProxyRoute
 * decides).  *@reason: the phrase of the 403. */
static Admit
admit (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *peer, const char **reason)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  gboolean users = r != NULL && r->users != NULL;
  gboolean tagged = sf_sip_value_param (sf_sip_msg_to (req), "tag") != NULL;
  SfSipStr method = sf_sip_msg_method (req);
  *reason = NULL;
  if (sf_sip_str_eq (method, "REGISTER") && sf_proxy_domain_is_ours (ctx, sf_sip_msg_ruri (req)))
    return users ? ADMIT_AUTH : ADMIT_PASS;
  /* a flow token in our Route that we did not make (or not for this kind of
   * request) is refused before anything, from a trusted source too: followed,
   * it would send anywhere its writer chose (RFC 5626 5.2) */
  g_autofree char *flow_hop = NULL;
  SfProxyFlow flow = sf_proxy_flow_route (ctx, req, peer, &flow_hop);
  if (flow == SF_PROXY_FLOW_BAD) {
    *reason = "Invalid Flow Token";
    return ADMIT_REFUSE;
  }
  if (trusted (ctx, peer))
    return ADMIT_PASS;
  if (flow == SF_PROXY_FLOW_GONE) {
    *reason = "Flow Failed";
    return ADMIT_GONE;
  }
  if (tagged || sf_sip_str_eq (method, "ACK")) {
    if (tagged && sf_proxy_token_ok (ctx, req))
      return ADMIT_PASS;
    *reason = "Not A Dialog Of This Proxy";
    return ADMIT_REFUSE;
  }
  if (sf_sip_str_eq (method, "REGISTER")) {
    *reason = "Not A Domain Of This Registrar";
    return ADMIT_REFUSE;
  }
  const SfSipValue *from = sf_sip_msg_from (req);
  /* a Path token of ours names a flow a user of ours registered on: a target of
   * ours, as its address-of-record would be */
  gboolean local = for_us (ctx, req) || flow == SF_PROXY_FLOW_TO;
  /* an identity of ours: a domain we serve, or one of our addresses at any
   * port (the same rule sf_registrar_from_matches holds the credentials to) */
  g_autofree char *from_host = from != NULL && from->uri != NULL ? sf_sip_str_dup (from->uri->host) : NULL;
  gboolean from_ours = from_host != NULL && sf_registrar_is_ours (ctx, from_host);
  if (users && (from_ours || (!local && sf_registrar_is_anonymous (from))))
    return ADMIT_AUTH;
  if (local)
    return ADMIT_PASS; /* from outside to a user of ours */
  *reason = "Relaying Denied";
  return ADMIT_REFUSE;
}

/* 16.11 and 17.1.1.3: the ACK for a 2xx has no transaction; it goes on by its
 * Route (the top one, ours, popped) or Request-URI, with a Via whose branch
 * depends only on the ACK's own (a retransmission gets the same). */
static SfOpResult
sf_op_proxy_forward_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || e->msg == NULL || strcmp (ev->name, "ACK") != 0)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  /* The ACK for a 2xx belongs to a dialog: it has a To tag and comes back
   * along our Record-Route with its token (or from a trusted source).  Any
   * other ACK, the ACK for a response we made statelessly among them, is
   * absorbed: never answered, never relayed. */
  const char *why = NULL;
  g_autofree char *flow_hop = NULL;
  if (admit (ctx, e->msg, &e->peer, &why) != ADMIT_PASS ||
      sf_proxy_flow_route (ctx, e->msg, &e->peer, &flow_hop) == SF_PROXY_FLOW_GONE) {
    g_info ("%s: ACK absorbed: not in a dialog of this proxy", sf_ctx_handle (ctx));
    sf_stack_count (s, SF_STACK_STAT_REFUSED);
    return SF_OP_TRANSITION;
  }
  const SfSipParam *b = sf_sip_value_param (sf_sip_msg_top_via (e->msg), "branch");
  char sum[17];
  sf_hash_hex (b != NULL ? b->value.p : "", b != NULL ? b->value.len : 0, sum);
  g_autofree char *branch = g_strconcat (SF_SIP_BRANCH_COOKIE "sfa", sum, NULL);
  /* toward a party behind NAT or a connection: over its flow (RFC 5626 5.3;
   * one gone: absorbed above) */
  g_autoptr (SfSipUri) hop_uri = flow_hop != NULL ? sf_sip_uri_parse (sf_sip_str (flow_hop, strlen (flow_hop)), NULL, NULL) : NULL;
  SfSipProto proto = sf_proxy_next_proto (ctx, e->msg, hop_uri);
  /* from the listener, even with core.worker_source = own: an ACK has no
   * response to bring home, and the callee (a location binding among them,
   * or behind a firewall that let in the INVITE's source) knows the
   * listener's address and port */
  g_autofree char *via = sf_proxy_via (ctx, &proto, branch, FALSE, NULL);
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  SfSipForward fwd = { .via = via, .is_mine = sf_proxy_uri_is_mine, .data = ctx, .strip_realm = r != NULL ? r->realm : NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) out = via != NULL ? sf_sip_create_forward (e->msg, &fwd, &error) : NULL;
  if (out == NULL) {
    g_info ("%s: ACK not forwarded: %s", sf_ctx_handle (ctx), error != NULL ? error->message : "no socket");
    return SF_OP_TRANSITION;
  }
  if (sf_proxy_uri_is_mine (sf_sip_msg_ruri (out), ctx) && sf_sip_msg_find (out, SF_SIP_HDR_ROUTE) == NULL) {
    g_info ("%s: ACK for this proxy itself: absorbed", sf_ctx_handle (ctx));
    return SF_OP_TRANSITION;
  }
  if (flow_hop != NULL) /* over the flow whatever Route follows ours, as OpBranchForward */
    sf_stack_send_request_to (s, out, flow_hop);
  else
    sf_stack_send_request_located (s, out);
  sf_ctx_emit (ctx, "proxy_ack", NULL);
  return SF_OP_TRANSITION;
}

/* ---- Routing ---- */

/* 22.3 and no open relay (admit): a request that may pass goes on (SKIP); one
 * that needs credentials has them checked (sf_registrar_authorize: CONTINUE
 * when good; 407, or 403 for an unknown user or another user's From); one
 * that may not is refused 403 (transition). */
static SfOpResult
sf_op_proxy_authorize (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfProxyCtx *p = pctx (ctx);
  if (e == NULL || e->msg == NULL || p == NULL || e->msg != p->req->msg || is_method (e, "ACK") || is_method (e, "CANCEL"))
    return SF_OP_SKIP;
  const char *reason = NULL;
  switch (admit (ctx, e->msg, &e->peer, &reason)) {
  case ADMIT_PASS:
    return SF_OP_SKIP;
  case ADMIT_AUTH: {
    SfOpResult res = sf_registrar_authorize (ctx, e);
    if (res == SF_OP_TRANSITION)
      p->final_sent = 407;
    return res;
  }
  case ADMIT_GONE:
    sf_stack_count (sf_stack_from_ctx (ctx), SF_STACK_STAT_REFUSED);
    return answer (ctx, e, 430, reason, NULL);
  case ADMIT_REFUSE:
  default:
    sf_stack_count (sf_stack_from_ctx (ctx), SF_STACK_STAT_REFUSED);
    return answer (ctx, e, 403, reason, NULL);
  }
}

/* The stack's gate (SfStackGate, operators/transaction/sf-stack.h): what this proxy can
 * decide about a new request before any transaction or instance exists, and
 * answers statelessly (RFC 3261 8.2.7, 16.3), so that a flood of requests
 * that are only refused or challenged holds no state: 16.3's 416, 483, 400,
 * 482, 420; admit()'s 403; a 401/407 challenge for a request that needs
 * credentials and carries none for our realm; 404 for a user of ours not in
 * registrar.users.  A refused ACK (the ACK for such an answer among them) is
 * dropped.  Everything else goes to the flow (FALSE), where OpProxyValidate
 * and OpProxyAuthorize decide the same way. */
static gboolean
gate_admit (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *from, gpointer data)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (trusted (ctx, from))
    return FALSE; /* relayed: the flow validates it (OpProxyValidate) */
  gboolean ack = sf_sip_str_eq (sf_sip_msg_method (req), "ACK");
  g_autofree char *why = NULL, *line = NULL;
  guint status = unfit (ctx, req, &why, &line);
  const char *reason = why;
  Admit a = status != 0 ? ADMIT_REFUSE : admit (ctx, req, from, &reason);
  if (status == 0 && (a == ADMIT_REFUSE || a == ADMIT_GONE))
    status = a == ADMIT_GONE ? 430 : 403;
  if (a == ADMIT_REFUSE || a == ADMIT_GONE)
    sf_stack_count (s, SF_STACK_STAT_REFUSED);
  if (ack)
    return a == ADMIT_REFUSE || a == ADMIT_GONE; /* an ACK is never answered: dropped, or on to the flow */
  if (a == ADMIT_AUTH && !sf_registrar_has_credentials (ctx, req)) {
    status = sf_sip_str_eq (sf_sip_msg_method (req), "REGISTER") ? 401 : 407;
    g_autoptr (GPtrArray) ch = sf_registrar_challenge_lines (ctx, status, FALSE);
    SfRegistrar *r = sf_registrar_from_ctx (ctx);
    if (sf_stack_answer_stateless (s, req, from, status, NULL, (const char *const *) ch->pdata) && r != NULL)
      r->counts.auth_challenges++; /* the first challenge, stateless: the proxy's own (sf-op-auth.c counts the rest) */
    return TRUE;
  }
  if (a == ADMIT_PASS && !sf_sip_str_eq (sf_sip_msg_method (req), "REGISTER") && for_us (ctx, req) &&
      sf_sip_msg_find (req, SF_SIP_HDR_ROUTE) == NULL) {
    /* a user of ours that does not exist: 404 without a lookup */
    SfRegistrar *r = sf_registrar_from_ctx (ctx);
    const SfSipUri *ruri = sf_sip_msg_ruri (req);
    g_autofree char *user = sf_sip_str_is_set (ruri->user) ? sf_sip_unescape (ruri->user, NULL) : NULL;
    if (r != NULL && r->users != NULL && user != NULL && sf_registrar_user (r, user) == NULL) {
      status = 404;
      reason = NULL;
    }
  }
  if (status == 0)
    return FALSE;
  const char *const lines[] = { line, NULL };
  sf_stack_answer_stateless (s, req, from, status, reason, lines);
  return TRUE; /* answered, or dropped when it could not be */
}

static gboolean
gate_trusted (SfCtx *ctx, const SfSipPeer *from, gpointer data)
{
  return trusted (ctx, from);
}

/* A transaction-stateful proxy (16): an instance per server transaction; its
 * stray responses forwarded statelessly (sf-proxy-stateless.c). */
const SfStackGate sf_proxy_gate = {
  .admit = gate_admit, .trusted = gate_trusted, .stray = sf_proxy_gate_stray, .per_transaction = TRUE, .data = NULL
};

static const char *const route_outcomes[] = { "answered", "locate", NULL };

/* RFC 5393 5.3.3: the request's Max-Breadth (proxy.max_breadth when it has
 * none) is what its concurrent branches share, each at least 1 (fork_next).
 * CONTINUE when at least one branch fits; else answered (transition): 400 for
 * a value that is not 1*DIGIT (5.3.1), 440 Max-Breadth Exceeded for 0 (the
 * grammar admits it, but no branch can have a share of 0, and with no branch
 * pending either the proxy answers 440). */
static SfOpResult
take_breadth (SfCtx *ctx, SfProxyCtx *p)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  if (!sf_proxy_max_breadth (p->req->msg, c != NULL ? c->max_breadth : 60, &p->breadth))
    return answer (ctx, p->req, 400, "Bad Max-Breadth", NULL);
  if (p->breadth == 0)
    return answer (ctx, p->req, 440, "Max-Breadth Exceeded", NULL);
  return SF_OP_CONTINUE;
}

/* 16.4 and 16.5: the target set.  A request with a Route left once ours is
 * popped, or for a domain we do not serve, goes on by its Request-URI
 * (transition).  One for a user of ours is looked up in the location service
 * (outcome locate; OpProxyLocated goes on).  One for a domain of ours without
 * a user is for this proxy: OPTIONS gets 200, anything else 404 (outcome
 * answered). */
static SfOpResult
sf_op_proxy_route (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfProxyCtx *p = pctx (ctx);
  if (e == NULL || e->msg == NULL || p == NULL || e->msg != p->req->msg)
    return SF_OP_SKIP;
  const SfSipUri *ruri = sf_sip_msg_ruri (e->msg);
  SfSipValues *routes = sf_sip_msg_values (e->msg, SF_SIP_HDR_ROUTE, NULL);
  guint n = routes != NULL ? routes->len : 0;
  if (n > 0 && sf_proxy_uri_is_mine (ruri, ctx)) {
    /* 16.4: a strict router put our Record-Route in the Request-URI: the last
     * Route is the real Request-URI (OpBranchForward's builder moves it back) */
    const SfSipValue *last = routes->pdata[n - 1];
    n--;
    if (last->uri == NULL)
      return answer (ctx, e, 400, "Bad Route", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
    ruri = last->uri;
  }
  n -= MIN (n, sf_proxy_own_routes (ctx, routes));
  /* our Route with a flow token: over that flow, the Request-URI kept (RFC
   * 5626 5.2, 5.3; a bad token was refused by admit) */
  g_autofree char *flow_hop = NULL;
  SfProxyFlow flow = sf_proxy_flow_route (ctx, e->msg, &e->peer, &flow_hop);
  if (flow == SF_PROXY_FLOW_BAD)
    return answer (ctx, e, 403, "Invalid Flow Token", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  gboolean by_flow = flow_hop != NULL;
  /* A token whose TCP connection is gone (RFC 5626 5.3): 430 Flow Failed,
   * never a new connection to the address it named.  But our Path hop from
   * another node of the cluster (trusted: it could have the request relayed
   * anywhere) goes by the Request-URI, the binding's Contact, as that node
   * would send it without a cluster (the phone registered without outbound,
   * so its Contact is reachable, RFC 3261 10; it closed the connection it
   * registered on), unless that Contact is the flow's own address (a new
   * connection there is what 5.3 forbids). */
  if (flow == SF_PROXY_FLOW_GONE) {
    g_autoptr (SfSipUri) gone = sf_sip_uri_parse (sf_sip_str (flow_hop, strlen (flow_hop)), NULL, NULL);
    gboolean to_flow = gone == NULL || ruri == NULL || same_host_port (gone, ruri);
    if (sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL || !trusted (ctx, &e->peer) || to_flow) {
      sf_stack_count (sf_stack_from_ctx (ctx), SF_STACK_STAT_REFUSED);
      return answer (ctx, e, 430, "Flow Failed", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
    }
    g_clear_pointer (&flow_hop, g_free);
  }
  if (n > 0 || by_flow || !sf_proxy_domain_is_ours (ctx, ruri)) {
    SfOpResult res = take_breadth (ctx, p);
    if (res != SF_OP_CONTINUE)
      return res == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
    SfProxyTarget *t = target_new ();
    t->q = 1000;
    t->hop = g_steal_pointer (&flow_hop);
    g_ptr_array_add (p->targets, t);
    return SF_OP_TRANSITION;
  }
  g_autofree char *aor = sf_registrar_aor (ctx, ruri);
  if (aor == NULL) {
    if (is_method (e, "OPTIONS")) {
      const char *const lines[] = { "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER", NULL };
      return answer (ctx, e, 200, NULL, lines) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
    }
    return answer (ctx, e, 404, NULL, NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  }
  SfProxyInstance *pi = sf_proxy_inst (ctx);
  g_free (pi->aor);
  pi->aor = g_strdup (aor);
  g_free (pi->user);
  pi->user = sf_sip_unescape (ruri->user, NULL);
  sf_registrar_lookup (ctx, aor);
  return SF_OP_OUTCOME (1);
}

/* ---- OpProxyForward: targets the flow chooses ---- */

/* "GROUP [GROUP]...": the groups are tried one after another (each waits for the
 * one before to end without a 2xx), the URIs of a group, joined by ',', ring at
 * once.  The host of every target comes from the flow or the configuration (a
 * literal, or ${cfg...}), never from the request or a variable a request could
 * fill: a flow cannot open a relay (docs/security.md). */
static gboolean
fixup_forward (const char *text, gpointer *out, GError **error)
{
  g_auto (GStrv) groups = g_strsplit_set (text, " \t", -1);
  g_autoptr (GPtrArray) kept = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; groups[i] != NULL; i++) {
    if (*groups[i] == '\0')
      continue;
    g_auto (GStrv) uris = g_strsplit (groups[i], ",", -1);
    for (guint k = 0; uris[k] != NULL; k++) {
      const char *u = uris[k];
      gboolean whole_cfg = g_str_has_prefix (u, "${cfg.") && strchr (u, '}') == u + strlen (u) - 1;
      if (!whole_cfg && (strchr (u, ':') == NULL || g_str_has_prefix (u, "${"))) {
        g_set_error (error, SF_OP_ARG_ERROR, 0, "'%s' is not a URI (sip:user@host) nor a ${cfg...} value", u);
        return FALSE;
      }
      if (whole_cfg)
        continue; /* the configuration's: its value is read as it comes */
      const char *at = strrchr (u, '@');
      const char *host = at != NULL ? at + 1 : strchr (u, ':') + 1;
      for (const char *d = strstr (host, "${"); d != NULL; d = strstr (d + 2, "${"))
        if (!g_str_has_prefix (d, "${cfg.")) {
          g_set_error (error, SF_OP_ARG_ERROR, 0, "the host of '%s' reads '%s': a forward target's host must come "
                       "from the flow or the configuration, so a request cannot choose where it is relayed", u, d);
          return FALSE;
        }
    }
    g_ptr_array_add (kept, g_strdup (groups[i]));
  }
  if (kept->len == 0) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected one or more targets: 'sip:a@h sip:b@h,sip:c@h'");
    return FALSE;
  }
  g_ptr_array_add (kept, NULL);
  *out = g_ptr_array_steal (kept, NULL);
  return TRUE;
}

static void
forward_arg_free (gpointer p)
{
  g_strfreev (p);
}

static const char *const forward_outcomes[] = { "answered", NULL };

/* A request for a domain of ours with no Route left but ours (the case
 * OpProxyRoute would look up) goes to the targets of the arg instead: group by
 * group (a q value each, best first, so proxy.fork = q tries them in order),
 * transition.  A target that is not a URI once read is left out (logged); with
 * none left the request gets 480; a Max-Breadth no branch fits: 440 or 400
 * (outcome answered).  Another request: SKIP, for OpProxyRoute. */
static SfOpResult
sf_op_proxy_forward (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const char *const *groups = arg;
  SfSipEvent *e = ev->payload;
  SfProxyCtx *p = pctx (ctx);
  if (e == NULL || e->msg == NULL || p == NULL || e->msg != p->req->msg)
    return SF_OP_SKIP;
  const SfSipUri *ruri = sf_sip_msg_ruri (e->msg);
  SfSipValues *routes = sf_sip_msg_values (e->msg, SF_SIP_HDR_ROUTE, NULL);
  guint n = routes != NULL ? routes->len : 0;
  if (n > sf_proxy_own_routes (ctx, routes) || !sf_proxy_domain_is_ours (ctx, ruri))
    return SF_OP_SKIP;
  SfOpResult res = take_breadth (ctx, p);
  if (res != SF_OP_CONTINUE)
    return res == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  GString *list = g_string_new (NULL);
  for (guint g = 0; groups[g] != NULL; g++) {
    g_auto (GStrv) templates = g_strsplit (groups[g], ",", -1);
    g_autoptr (GPtrArray) uris = g_ptr_array_new_with_free_func (g_free);
    for (guint k = 0; templates[k] != NULL; k++) {
      const char *tpl = templates[k];
      if (g_str_has_prefix (tpl, "${cfg.")) {
        /* The configuration's value, as written there: it may list several URIs. */
        g_autofree char *value = sf_ctx_expand (ctx, ev, tpl);
        g_auto (GStrv) items = g_strsplit_set (value, ", \t", -1);
        for (guint i = 0; items[i] != NULL; i++)
          if (*items[i] != '\0')
            g_ptr_array_add (uris, g_strdup (items[i]));
      } else {
        /* One URI: what it reads from the request is escaped into it, so it can
         * neither split into more targets nor change the host the flow wrote. */
        g_ptr_array_add (uris, sf_ctx_expand_mode (ctx, ev, tpl, SF_EXPAND_URI));
      }
    }
    guint in_group = 0;
    for (guint k = 0; k < uris->len; k++) {
      const char *uri = uris->pdata[k];
      g_autoptr (SfUri) u = sf_uri_parse (uri, strlen (uri), NULL);
      if (u == NULL || strpbrk (uri, "<>\"\r\n ,") != NULL) {
        sf_log (ctx, G_LOG_LEVEL_WARNING, "forward target '%s' is not a URI: left out", uri);
        continue;
      }
      SfProxyTarget *t = target_new ();
      t->uri = g_strdup (uri);
      t->q = g > 999 ? 1 : 1000 - g;
      g_ptr_array_add (p->targets, t);
      g_string_append_printf (list, "%s%s", list->len == 0 ? "" : in_group > 0 ? "," : " ", uri);
      in_group++;
    }
  }
  GString *f = g_string_new ("\"targets\":");
  sf_json_append_string (f, list->str);
  sf_ctx_emit (ctx, "proxy_forward", f->str);
  g_string_free (f, TRUE);
  g_string_free (list, TRUE);
  if (p->targets->len == 0)
    return answer (ctx, e, 480, NULL, NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  return SF_OP_TRANSITION;
}

static int
by_q (gconstpointer a, gconstpointer b)
{
  const SfProxyTarget *x = *(SfProxyTarget *const *) a, *y = *(SfProxyTarget *const *) b;
  return x->q > y->q ? -1 : x->q < y->q ? 1 : 0;
}

/* task:location after OpProxyRoute: the bindings are the target set, best q
 * first (transition); none: 480 for a user of registrar.users (or any user
 * when there is no users file), 404 otherwise; a Max-Breadth no branch fits
 * in: 440, or 400 (take_breadth) (outcome answered). */
static SfOpResult
sf_op_proxy_located (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfLocationResult *res = ev->payload;
  SfProxyCtx *p = pctx (ctx);
  if (strcmp (ev->name, "location") != 0 || res == NULL || p == NULL)
    return SF_OP_SKIP;
  SfProxyInstance *pi = sf_proxy_inst (ctx); /* made with p */
  const char *aor = pi->aor;
  if (res->error != NULL && res->error->code == SF_LOCATION_ERROR_UNAVAILABLE) {
    /* the shared store did not answer: not "nobody there", try again shortly (docs/servers.md) */
    const char *const lines[] = { "Retry-After: 5", NULL };
    return answer (ctx, p->req, 503, "Location Service Unavailable", lines) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0)
                                                                                               : SF_OP_ERROR;
  }
  if (res->error != NULL || res->bindings->len == 0) {
    SfRegistrar *r = sf_registrar_from_ctx (ctx);
    const char *user = pi->user;
    gboolean known = r != NULL && (r->users == NULL || (user != NULL && sf_registrar_user (r, user) != NULL));
    GString *f = g_string_new ("\"aor\":");
    sf_json_append_string (f, aor != NULL ? aor : "");
    sf_ctx_emit (ctx, "proxy_no_target", f->str);
    g_string_free (f, TRUE);
    return answer (ctx, p->req, known ? 480 : 404, NULL, NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  }
  SfOpResult taken = take_breadth (ctx, p);
  if (taken != SF_OP_CONTINUE)
    return taken == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  SfRegistrar *reg = sf_registrar_from_ctx (ctx);
  const SfSipUri *ruri = sf_sip_msg_ruri (p->req->msg);
  gboolean sips = ruri != NULL && ruri->kind == SF_URI_SIPS;
  for (guint i = 0; i < res->bindings->len; i++) {
    const SfLocBinding *b = res->bindings->pdata[i];
    /* a sips request goes to sips Contacts only (RFC 3261 16.5, RFC 5630
     * 4.3): a sip: one would take it over a hop that may not be TLS */
    if (sips && g_ascii_strncasecmp (b->contact, "sips:", 5) != 0) {
      g_info ("%s: %s: not a sips Contact, for a sips request: not a target", sf_ctx_handle (ctx), b->contact);
      continue;
    }
    SfProxyTarget *t = target_new ();
    t->uri = g_strdup (b->contact);
    t->binding = TRUE;
    /* behind NAT: the Request-URI stays the Contact, the request goes to the
     * source the REGISTER came from (docs/servers.md, "Behind NAT") */
    /* a Path whose first hop is this node (registrar.cluster): the hop
     * stripped, the flow its token names taken at once; another node's Path
     * is the route to the binding (RFC 3327 5.3) */
    g_autofree char *flow_hop = NULL, *rest = NULL;
    const char *path = b->path;
    gboolean gone = FALSE;
    if (sf_proxy_path_self (ctx, b->path, &flow_hop, &rest, &gone))
      path = rest;
    /* our own hop's TCP flow gone (its connection closed, or of an earlier
     * process): the binding as without the hop, at its Contact (registered
     * without outbound: reachable, RFC 3261 10); when it was behind NAT its
     * only way in was that connection (RFC 5626 5.3: the flow failed), and a
     * new connection to its NAT's port would reach whoever has it now */
    gboolean contact_is_flow = FALSE;
    if (gone && flow_hop != NULL) {
      /* a Contact that is the gone connection's own address and port: a new
       * connection there reaches whoever holds that port now (RFC 5626 5.3:
       * the flow failed), as OpProxyRoute refuses */
      g_autoptr (SfSipUri) hop_uri = sf_sip_uri_parse (sf_sip_str (flow_hop, strlen (flow_hop)), NULL, NULL);
      g_autoptr (SfSipUri) contact_uri = sf_sip_uri_parse (sf_sip_str (b->contact, strlen (b->contact)), NULL, NULL);
      contact_is_flow = hop_uri == NULL || contact_uri == NULL || same_host_port (hop_uri, contact_uri);
    }
    if (gone)
      g_clear_pointer (&flow_hop, g_free);
    if (contact_is_flow) {
      g_info ("%s: %s: its TCP flow is gone and its Contact is that flow's address: not a target", sf_ctx_handle (ctx),
              b->contact);
      target_free (t);
      continue;
    }
    t->route = g_strdup (path);
    t->hop = flow_hop != NULL || gone ? g_steal_pointer (&flow_hop)
                                      : sf_nat_next_hop (reg != NULL ? reg->nat : SF_NAT_AUTO, b->contact, b->source,
                                                         b->transport, b->flow, path);
    /* the same for a binding behind NAT over TCP without a Path of ours: its
     * source is its connection, gone when closed */
    if ((gone && b->flow != NULL) || (t->hop != NULL && sf_proxy_flow_closed (ctx, t->hop))) {
      g_info ("%s: %s: its TCP flow is gone: not a target", sf_ctx_handle (ctx), b->contact);
      target_free (t);
      continue;
    }
    t->q = (guint) (b->q * 1000 + 0.5);
    g_ptr_array_add (p->targets, t);
  }
  if (p->targets->len == 0) { /* every binding's flow gone */
    GString *f = g_string_new ("\"aor\":");
    sf_json_append_string (f, aor != NULL ? aor : "");
    sf_ctx_emit (ctx, "proxy_no_target", f->str);
    g_string_free (f, TRUE);
    return answer (ctx, p->req, 480, NULL, NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  }
  g_ptr_array_sort (p->targets, by_q); /* the service gives q order already */
  return SF_OP_TRANSITION;
}

/* ---- the response context (16.7) ---- */

static SfProxyBranchRec *
find_branch (SfProxyCtx *p, const char *handle)
{
  for (guint i = 0; handle != NULL && i < p->branches->len; i++)
    if (strcmp (((SfProxyBranchRec *) p->branches->pdata[i])->handle, handle) == 0)
      return p->branches->pdata[i];
  return NULL;
}

static guint
n_pending (SfProxyCtx *p)
{
  guint n = 0;
  for (guint i = 0; i < p->branches->len; i++) {
    SfProxyBranchRec *b = p->branches->pdata[i];
    n += b->final == 0 && !b->ended;
  }
  return n;
}

/* The breadth the pending branches hold (RFC 5393 5.3.3: a branch counts
 * until its final response). */
static guint
breadth_used (SfProxyCtx *p)
{
  guint used = 0;
  for (guint i = 0; i < p->branches->len; i++) {
    SfProxyBranchRec *b = p->branches->pdata[i];
    if (b->final == 0 && !b->ended)
      used += b->breadth;
  }
  return used;
}

/* Spawns branches (16.6): once every branch of the group before has its final
 * response, the next group of targets (all, one, or those of the best q left,
 * as proxy.fork says); then as many of the group's targets as the request's
 * Max-Breadth lets run at once, each with its share (RFC 5393 5.3.3: the
 * shares of concurrent branches sum to at most the Max-Breadth, each at least
 * 1).  The targets that do not fit wait for a branch to end and free its
 * share: called again on every final response, they go then (a sequential
 * fallback).  FALSE when no branch was spawned. */
static gboolean
fork_next (SfCtx *ctx, SfProxyCtx *p)
{
  if (p->no_new_branches || p->next_target >= p->targets->len)
    return FALSE;
  if (p->next_target >= p->group_end) {
    if (n_pending (p) > 0)
      return FALSE; /* the group before is still being tried */
    SfProxyConfig *c = sf_proxy_config (ctx);
    SfProxyFork mode = c != NULL ? c->fork : SF_FORK_Q;
    guint q = ((SfProxyTarget *) p->targets->pdata[p->next_target])->q;
    p->group_end = p->next_target + 1;
    while (mode != SF_FORK_SEQUENTIAL && p->group_end < p->targets->len &&
           (mode == SF_FORK_PARALLEL || ((SfProxyTarget *) p->targets->pdata[p->group_end])->q == q))
      p->group_end++;
  }
  guint used = breadth_used (p);
  guint left = p->group_end - p->next_target;
  /* on the stack when few (a group is a target or two) */
  guint room[8] = { 0 };
  g_autofree guint *owned = left > G_N_ELEMENTS (room) ? g_new0 (guint, left) : NULL;
  guint *shares = owned != NULL ? owned : room;
  guint fit = sf_proxy_breadth_split (p->breadth > used ? p->breadth - used : 0, left, shares);
  guint spawned = 0;
  for (guint k = 0; k < fit; k++) {
    SfProxyTarget *t = p->targets->pdata[p->next_target];
    p->next_target++;
    g_autoptr (GError) error = NULL;
    SfInstance *child = sf_ctx_spawn (ctx, "branch", NULL, &error);
    if (child == NULL) {
      g_warning ("%s: no branch for %s: %s", sf_ctx_handle (ctx), t->uri != NULL ? t->uri : "the Request-URI", error->message);
      continue;
    }
    SfProxyJob *j = sf_proxy_job_new (t);
    j->req = sf_sip_msg_ref (p->req->msg);
    j->in_proto = p->req->peer.proto;
    j->in_flow = sf_proxy_in_flow (ctx, p->req->msg, &p->req->peer);
    j->invite = sf_sip_str_eq (sf_sip_msg_method (p->req->msg), "INVITE");
    j->breadth = shares[k];
    SfProxyInstance *ci = sf_proxy_inst_of (sf_ctx_endpoint (ctx), child);
    sf_proxy_job_free (ci->job);
    ci->job = j;
    const char *fields = sf_endpoint_event_fields (sf_ctx_instance (ctx));
    if (fields != NULL)
      sf_endpoint_set_event_fields (child, g_strdup (fields));
    SfProxyBranchRec *b = g_new (SfProxyBranchRec, 1); /* not g_new0: sf_instance_new says why */
    *b = (SfProxyBranchRec) { .breadth = shares[k] };
    g_strlcpy (b->handle, sf_instance_handle (child), sizeof b->handle);
    g_ptr_array_add (p->branches, b);
    spawned++;
  }
  return spawned > 0;
}

/* Proceeding's entry: the first group of branches (16.6). */
static SfOpResult
sf_op_proxy_fork (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfProxyCtx *p = pctx (ctx);
  if (p == NULL || p->branches->len > 0)
    return SF_OP_SKIP;
  return fork_next (ctx, p) ? SF_OP_CONTINUE : SF_OP_ERROR;
}

/* Asks every pending branch to cancel (16.10, 16.7 step 10); @reason: a cause
 * for the Reason header (RFC 3326), or NULL. */
static void
cancel_pending (SfCtx *ctx, SfProxyCtx *p, const char *reason)
{
  if (!sf_sip_str_eq (sf_sip_msg_method (p->req->msg), "INVITE"))
    return; /* 9.1: only an INVITE is cancelled */
  for (guint i = 0; i < p->branches->len; i++) {
    SfProxyBranchRec *b = p->branches->pdata[i];
    if (b->final != 0 || b->ended)
      continue;
    SfInstance *child = sf_endpoint_lookup_handle (sf_ctx_endpoint (ctx), b->handle);
    if (child != NULL)
      sf_endpoint_post_always (sf_ctx_endpoint (ctx), child, sf_event_new (SF_EV_SIP, "cancel", reason));
  }
}

/* sf_proxy_rank, with a 408 last for a non-INVITE: RFC 4320 sends it nowhere,
 * so any other final response is better. */
static guint
rank_for (SfProxyCtx *p, guint status)
{
  if (status == 408 && !sf_sip_str_eq (sf_sip_msg_method (p->req->msg), "INVITE"))
    return G_MAXUINT;
  return sf_proxy_rank (status);
}

static void
emit_response (SfCtx *ctx, const char *what, guint status, const char *branch)
{
  if (sf_ctx_emits (ctx)) { /* one a response: built only when written */
    /* a status and a branch's handle (sf_op_proxy_response: 11 bytes at most) on the stack */
    char s[24], f[80];
    sf_sip_uint_text (s, status);
    char *at = g_stpcpy (g_stpcpy (g_stpcpy (f, "\"status\":"), s), ",\"branch\":\"");
    gsize blen = branch != NULL ? MIN (strlen (branch), (gsize) (f + sizeof f - at) - 2) : 0;
    if (blen > 0)
      memcpy (at, branch, blen);
    memcpy (at + blen, "\"", 2);
    sf_ctx_emit (ctx, what, f);
  }
  SfProxyConfig *c = strcmp (what, "proxy_final") == 0 ? sf_proxy_config (ctx) : NULL;
  if (c != NULL && status >= 100 && status < 700)
    c->finals[status / 100]++;
}

/* Sends the best final response upstream (16.7 step 6: 408 when there is none,
 * a 503 as 500; step 7: every challenge in a 401/407); a non-INVITE gets no 408
 * (RFC 4320). */
static gboolean
send_best (SfCtx *ctx, SfProxyCtx *p)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (!sf_sip_str_eq (sf_sip_msg_method (p->req->msg), "INVITE") && (p->best == NULL || sf_sip_msg_status (p->best) == 408)) {
    /* RFC 4320 4.2: no 408 to a non-INVITE: the caller's own Timer F ends it.
     * The server transaction, which has no timer of its own before its final
     * response, goes on absorbing retransmissions for 64*T1 and is then ended
     * (OpProxyQuietEnd), so they are not forwarded again. */
    p->final_sent = 408;
    p->quiet = TRUE;
    emit_response (ctx, "proxy_final_none", 408, NULL);
    sf_ctx_timer_start (ctx, "quiet", 64 * (guint64) sf_stack_timer_ms (s, '1'));
    return TRUE;
  }
  if (p->best == NULL) {
    g_autofree char *tag = sf_sip_random_tag ();
    g_autoptr (SfSipMsg) r = sf_sip_create_response (p->req->msg, 408, NULL, tag, NULL);
    p->final_sent = 408;
    emit_response (ctx, "proxy_final", 408, NULL);
    return r != NULL && sf_stack_respond (s, p->req->txn, r);
  }
  guint status = sf_sip_msg_status (p->best);
  gboolean aggregate = (status == 401 || status == 407) && p->challenges != NULL && p->challenges->len > 0;
  g_autoptr (SfSipMsg) r = sf_proxy_final_response (p->best, aggregate ? p->challenges : NULL);
  p->final_sent = sf_sip_msg_status (r);
  emit_response (ctx, "proxy_final", p->final_sent, NULL);
  return sf_stack_respond (s, p->req->txn, r);
}

static const char *const response_outcomes[] = { "provisional", "success", "failure", NULL };

/* A branch's response (sip:response, arg "BRANCH STATUS", its Via popped already).
 * 16.7 step 5: a 1xx other than 100 goes upstream while no final response has
 * (outcome provisional); a 2xx always goes upstream at once, and the first
 * cancels the other branches (outcome success).  Other finals are kept: the
 * best (6xx cancels the pending branches); once no branch is pending, the next
 * group of targets is tried, or the best goes upstream (outcome failure). */
static SfOpResult
sf_op_proxy_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfProxyCtx *p = pctx (ctx);
  if (strcmp (ev->name, "response") != 0 || e == NULL || e->msg == NULL || sf_sip_msg_is_request (e->msg) || p == NULL)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  /* the branch's handle, the arg's first word ("b1 180"), on the stack: an
   * instance's handle fits; a longer word names no branch of ours */
  char room[sizeof ((SfProxyBranchRec *) NULL)->handle];
  gsize hlen = ev->arg != NULL ? strcspn (ev->arg, " ") : sizeof room;
  const char *handle = hlen < sizeof room ? memcpy (room, ev->arg, hlen) : NULL;
  if (handle != NULL)
    room[hlen] = '\0';
  SfProxyBranchRec *b = find_branch (p, handle);
  guint status = sf_sip_msg_status (e->msg);
  SfSipMsg *up = e->msg; /* our Via popped, our Record-Route's token made for the caller: sf_proxy_forward_response */
  if (status < 200) {
    if (status == 100 || p->final_sent != 0)
      return SF_OP_DONE;
    sf_stack_respond (s, p->req->txn, up);
    emit_response (ctx, "proxy_provisional", status, handle);
    return SF_OP_OUTCOME (0);
  }
  if (b != NULL && b->final == 0)
    b->final = status;
  if (status < 300) {
    if (p->final_sent >= 300)
      sf_stack_send_response (s, up, &p->req->peer); /* the server transaction has its final response: 16.7 step 10 */
    else
      sf_stack_respond (s, p->req->txn, up);
    emit_response (ctx, "proxy_2xx", status, handle);
    if (p->final_sent == 0) {
      SfProxyConfig *c = sf_proxy_config (ctx);
      if (c != NULL)
        c->finals[2]++;
      p->final_sent = status;
      p->no_new_branches = TRUE;
      cancel_pending (ctx, p, "SIP;cause=200;text=\"Call completed elsewhere\"");
      /* No branch follows a 2xx, and the instance lives on while the
       * branches wait for further 2xx (up to 64*T1): the request as a
       * compact copy from here (its values parsed again if read). */
      SfSipMsg *old = p->req->msg;
      p->req->msg = sf_sip_msg_compact (old);
      sf_sip_msg_unref (old);
    }
    return SF_OP_OUTCOME (1);
  }
  if (p->final_sent != 0)
    return SF_OP_DONE; /* a final response went upstream already: only 2xx follow it */
  if (status == 401 || status == 407)
    for (guint i = 0; i < sf_sip_msg_n_headers (e->msg); i++) {
      const SfSipHdr *h = sf_sip_msg_header (e->msg, i);
      if (h->id == SF_SIP_HDR_WWW_AUTHENTICATE || h->id == SF_SIP_HDR_PROXY_AUTHENTICATE) {
        g_autofree char *name = sf_sip_str_dup (h->name);
        g_autofree char *value = sf_sip_str_dup (h->value);
        if (p->challenges == NULL) /* made by the first: most requests never meet one */
          p->challenges = g_ptr_array_new_with_free_func (g_free);
        g_ptr_array_add (p->challenges, g_strdup_printf ("%s: %s", name, value));
      }
    }
  if (p->best == NULL || rank_for (p, status) < rank_for (p, sf_sip_msg_status (p->best))) {
    if (p->best != NULL)
      sf_sip_msg_unref (p->best);
    p->best = sf_sip_msg_ref (e->msg);
  }
  emit_response (ctx, "proxy_branch_final", status, handle);
  if (status >= 600 && !p->no_new_branches) {
    p->no_new_branches = TRUE;
    cancel_pending (ctx, p, NULL);
  }
  fork_next (ctx, p); /* its share is free: a target of the group that did not fit may go (RFC 5393 5.3.3) */
  if (n_pending (p) > 0)
    return SF_OP_DONE;
  return send_best (ctx, p) ? SF_OP_OUTCOME (2) : SF_OP_ERROR;
}

/* child:end of a branch.  Transition (to Terminated) once every branch has
 * ended and a final response went upstream; a branch that ended without a
 * final response counts as 408 (16.7 step 6). */
static SfOpResult
sf_op_proxy_branch_end (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfChildEnd *ce = ev->payload;
  SfProxyCtx *p = pctx (ctx);
  if (strcmp (ev->name, "end") != 0 || ce == NULL || p == NULL)
    return SF_OP_SKIP;
  SfProxyBranchRec *b = find_branch (p, ce->handle);
  if (b == NULL)
    return SF_OP_SKIP;
  b->ended = TRUE;
  if (p->final_sent == 0)
    fork_next (ctx, p); /* a share freed (RFC 5393 5.3.3), or the next group */
  if (n_pending (p) > 0)
    return SF_OP_DONE;
  if (p->final_sent == 0)
    send_best (ctx, p);
  for (guint i = 0; i < p->branches->len; i++)
    if (!((SfProxyBranchRec *) p->branches->pdata[i])->ended)
      return SF_OP_DONE;
  return p->quiet ? SF_OP_DONE : SF_OP_TRANSITION; /* RFC 4320: timer "quiet" ends it */
}

/* 16.10: a CANCEL for the request (the stack has answered it 200): the pending
 * branches are cancelled and no new ones start.  Before any branch (the location service
 * has not answered), the request gets 487 at once (outcome answered). */
static SfOpResult
sf_op_proxy_cancel (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfProxyCtx *p = pctx (ctx);
  if (strcmp (ev->name, "CANCEL") != 0 || e == NULL || e->msg == NULL || p == NULL)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx); /* the stack answered the CANCEL 200 already (16.10) */
  sf_ctx_emit (ctx, "proxy_cancel", NULL);
  if (p->final_sent != 0)
    return SF_OP_DONE;
  p->no_new_branches = TRUE;
  if (p->branches->len == 0) {
    g_autofree char *tag = sf_sip_random_tag ();
    g_autoptr (SfSipMsg) r = sf_sip_create_response (p->req->msg, 487, NULL, tag, NULL);
    p->final_sent = 487;
    emit_response (ctx, "proxy_final", 487, NULL);
    return r != NULL && sf_stack_respond (s, p->req->txn, r) ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  }
  cancel_pending (ctx, p, NULL);
  return SF_OP_DONE;
}

/* The server transaction could not send upstream (txn:transport_error) or got
 * no ACK (txn:timeout, Timer H): whoever asked is gone, so the pending branches
 * are cancelled (as for a CANCEL, 16.10) and no new ones start. */
static SfOpResult
sf_op_proxy_server_failed (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfProxyCtx *p = pctx (ctx);
  if (strcmp (ev->name, "transport_error") != 0 && strcmp (ev->name, "timeout") != 0)
    return SF_OP_SKIP;
  if (p != NULL && p->final_sent < 200) {
    p->no_new_branches = TRUE;
    cancel_pending (ctx, p, NULL);
  }
  sf_ctx_emit (ctx, "proxy_upstream_failed", NULL);
  return SF_OP_DONE;
}

/* device:shutdown while the request is pending: a request not forwarded yet
 * gets 503 (outcome answered); a forwarded INVITE's branches are cancelled, so
 * the caller hears 487 through the response context before the proxy exits
 * (core.shutdown_timeout bounds the wait); a non-INVITE waits for its answers. */
static const char *const shutdown_outcomes[] = { "answered", NULL };

static SfOpResult
sf_op_proxy_shutdown (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfProxyCtx *p = pctx (ctx);
  if (strcmp (ev->name, "shutdown") != 0)
    return SF_OP_SKIP;
  if (p == NULL) {
    /* created while quitting: its request (queued next) gets 503 (OpProxyValidate) */
    sf_proxy_inst (ctx)->quitting = TRUE;
    return SF_OP_DONE;
  }
  p->no_new_branches = TRUE;
  if (p->final_sent != 0)
    return SF_OP_OUTCOME (0); /* answered already (RFC 4320's silence included): it ends */
  if (p->branches->len == 0) {
    g_autofree char *retry = shutdown_retry_after (ctx);
    const char *const lines[] = { retry, NULL };
    return answer (ctx, p->req, 503, "Shutting Down", lines) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  }
  cancel_pending (ctx, p, NULL);
  return SF_OP_DONE;
}

/* Timer "quiet" (RFC 4320, 64*T1 after the request was left unanswered): the
 * server transaction is ended; transitions. */
static SfOpResult
sf_op_proxy_quiet_end (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfProxyCtx *p = pctx (ctx);
  if (strcmp (ev->name, "quiet") != 0 || p == NULL)
    return SF_OP_SKIP;
  SfInstance *txn = p->req->txn != NULL ? sf_endpoint_lookup_handle (sf_ctx_endpoint (ctx), p->req->txn) : NULL;
  if (txn != NULL)
    sf_endpoint_end (sf_ctx_endpoint (ctx), txn, "no final response (RFC 4320)");
  return SF_OP_TRANSITION;
}

const SfOperatorDef sf_op_proxy_table[] = {
  { "OpProxyQuietEnd", sf_op_proxy_quiet_end, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "on timer:quiet, 64*T1 after a non-INVITE was left unanswered (RFC 4320): its server transaction is ended; "
    "then transitions", "timer:quiet", NULL, "RFC 4320 4.2" },
  { "OpProxyValidate", sf_op_proxy_validate, SF_Q_NORMAL, SF_EV_SIP, 0, answered_outcomes, SF_ARG_NONE, NULL, NULL,
    "checks that a request may be proxied: 416 (not a sip or sips URI), 483 (Max-Forwards 0), 400 (a bad Route or "
    "Proxy-Require), 482 (a loop), 420 (Proxy-Require), 503 while shutting down; outcome answered (a bad ACK is "
    "dropped), else the next operator goes on", "sip", NULL, "RFC 3261 16.3" },
  { "OpProxyClassify", sf_op_proxy_classify, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, classify_outcomes, SF_ARG_NONE,
    NULL, NULL,
    "keeps the request (its response context starts) and dispatches it again in the state that serves it: a "
    "REGISTER for a domain of ours (outcome register), an ACK for a 2xx (outcome ack), anything else routing "
    "(transition)", "sip", NULL, "RFC 3261 16.2" },
  { "OpProxyForwardAck", sf_op_proxy_forward_ack, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL,
    "takes the ACK for a 2xx: forwarded without a transaction by its Route or Request-URI, with a Via branch "
    "derived from its own; an ACK that is not in a dialog of this proxy is absorbed; then transitions", "sip:ACK",
    NULL, "RFC 3261 16.11" },
  { "OpProxyAuthorize", sf_op_proxy_authorize, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "decides who may have a request forwarded (no open relay): a flow token in our Route that is not ours gets 403 "
    "Invalid Flow Token, from anyone; a trusted source; in a dialog, our Record-Route token; a user of ours, by "
    "digest (407, or 403 for an unknown user or another user's From); a request for us (a good Path token counts); "
    "anything else gets 403 and it transitions", "sip", NULL, "RFC 3261 22.3, RFC 5626 5.2" },
  { "OpProxyForward", sf_op_proxy_forward, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS | SF_OPF_EXPR_ARG,
    forward_outcomes, SF_ARG_REQUIRED, fixup_forward, forward_arg_free,
    "forwards a request for a domain of ours (no Route left but ours) to the targets of its arg instead of the "
    "location service: the groups separated by spaces one after another, the URIs of a group (joined by ',') at "
    "once ('sip:desk@10.0.0.5 sip:a@10.0.0.6,sip:b@10.0.0.7': a hunt group); each target's host comes from the "
    "flow or the configuration, never from the request; then transitions (outcome answered: 480 when no target "
    "is a URI, 440 or 400 for Max-Breadth); another request is left to OpProxyRoute",
    "sip", "GROUP [GROUP]... (GROUP: URI[,URI]...)", "RFC 3261 16.5, 16.6" },
  { "OpProxyRoute", sf_op_proxy_route, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, route_outcomes, SF_ARG_NONE, NULL,
    NULL,
    "makes the target set: a request with a Route left, for another domain, or whose Route (ours) has a flow token "
    "goes on by its Request-URI (over the token's flow toward the party it names) (transition; a Max-Breadth no "
    "branch fits: 440 or 400, RFC 5393); a user of ours is looked up (outcome locate); a request for this proxy "
    "gets 200 (OPTIONS) or 404 (outcome answered)", "sip", NULL, "RFC 3261 16.5, RFC 5626 5.3" },
  { "OpProxyLocated", sf_op_proxy_located, SF_Q_NORMAL, SF_EV_TASK, SF_OPF_TRANSITIONS, answered_outcomes, SF_ARG_NONE,
    NULL, NULL,
    "takes task:location after OpProxyRoute: the bindings become the target set, best q first, each with its Path "
    "as Route (this node's own first hop stripped, its flow taken) (transition); none: "
    "480 or 404, Max-Breadth 0: 440, a bad one: 400 (outcome answered)", "task:location", NULL, "RFC 3261 16.5, RFC 3327" },
  { "OpProxyFork", sf_op_proxy_fork, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of the proceeding state: a branch is spawned for each target of the first group that fits its "
    "Max-Breadth share (RFC 5393 5.3.3; proxy.fork: by q, parallel or sequential)", "*", NULL, "RFC 3261 16.6" },
  { "OpProxyResponse", sf_op_proxy_response, SF_Q_NORMAL, SF_EV_SIP, 0, response_outcomes, SF_ARG_NONE, NULL, NULL,
    "takes a branch's response in the response context: a 1xx goes upstream (outcome provisional), a 2xx at once "
    "and the other branches are cancelled (success); other finals are kept, the best going upstream once no branch "
    "is pending (failure); a final frees a Max-Breadth share", "sip:response", NULL, "RFC 3261 16.7" },
  { "OpProxyBranchEnd", sf_op_proxy_branch_end, SF_Q_NORMAL, SF_EV_CHILD, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL,
    "takes the end of a branch (one without a final response counts as 408) and starts the next group; transitions "
    "once every branch has ended and a final response went upstream", "child:end", NULL, "RFC 3261 16.7 step 6" },
  { "OpProxyCancel", sf_op_proxy_cancel, SF_Q_NORMAL, SF_EV_SIP, 0, answered_outcomes, SF_ARG_NONE, NULL, NULL,
    "takes a CANCEL for the request (the stack answered it 200): the pending branches are cancelled and no new one "
    "starts; before any branch, the request gets 487 (outcome answered)", "sip:CANCEL", NULL, "RFC 3261 16.10" },
  { "OpProxyShutdown", sf_op_proxy_shutdown, SF_Q_NORMAL, SF_EV_DEVICE, 0, shutdown_outcomes, SF_ARG_NONE, NULL, NULL,
    "on device:shutdown: a request not forwarded yet gets 503 (outcome answered); a forwarded INVITE's branches are "
    "cancelled; in a new instance, its request will get 503", "device:shutdown", NULL, NULL },
  { "OpProxyServerFailed", sf_op_proxy_server_failed, SF_Q_NORMAL, SF_EV_TXN, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a failure of the server transaction (a transport error, or Timer H: no ACK): whoever asked is gone, so "
    "the pending branches are cancelled and no new one starts", "txn:transport_error|txn:timeout", NULL,
    "RFC 3261 16.10" },
};
const gsize sf_op_proxy_table_len = G_N_ELEMENTS (sf_op_proxy_table);
