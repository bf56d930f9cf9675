/* sf-op-registrar.c: the registrar (RFC 3261 10.3) as operators: OpSaveBindings
 * checks a REGISTER and asks the location service for the update;
 * OpRegisterReply answers with the bindings the service returns. */
#include "config.h"
#include "sf-registrar.h"
#include "sip/sf-sip-flow-token.h"
#include "operators/sf-modules.h"
#include "operators/transaction/sf-stack.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include <string.h>
#include <time.h>

/* What an instance serving a REGISTER keeps between OpSaveBindings and
 * OpRegisterReply, in the registrar module's slot. */
typedef struct {
  SfSipEvent *request;  /* owned, nullable: the request being served */
  char *aor;            /* owned, nullable */
  guint flow;           /* 1 + the longest expiry the REGISTER asked for; 0: a query */
} Serving;

static gpointer
serving_new (void)
{
  return g_new0 (Serving, 1);
}

static void
serving_free (gpointer p)
{
  Serving *s = p;
  g_clear_pointer (&s->request, sf_sip_event_free);
  g_free (s->aor);
  g_free (s);
}

static Serving *
serving (SfCtx *ctx)
{
  return sf_ctx_module_slot_ensure (ctx, &sf_registrar_module, serving_new, serving_free);
}

static const char *const save_outcomes[] = { "answered", NULL };

/* Every Path value of @msg, comma-separated as the lines were written
 * (transfer full; NULL without one): recorded, not used yet (RFC 3327). */
static char *
path_values (SfSipMsg *msg)
{
  GString *p = NULL;
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    if (!sf_sip_caseeq (h->name, "Path")) /* inline: most names differ in length */
      continue;
    g_autofree char *v = sf_sip_str_dup (h->value);
    if (p == NULL)
      p = g_string_new (v);
    else
      g_string_append_printf (p, ", %s", v);
  }
  return p != NULL ? g_string_free (p, FALSE) : NULL;
}

/* Does a Path value of @msg name the Redis server of a store
 * (sf_registrar_uri_is_store)?  Requests for the binding would be sent there. */
static gboolean
path_is_store (SfCtx *ctx, SfSipMsg *msg)
{
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    if (!sf_sip_caseeq (h->name, "Path")) /* inline: most names differ in length */
      continue;
    g_autoptr (GPtrArray) vals = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_value_free);
    if (!sf_sip_hdr_parse (SF_SIP_HDR_ROUTE, h->name, h->value, h->value.p, vals, NULL))
      continue;
    for (guint k = 0; k < vals->len; k++)
      if (sf_registrar_uri_is_store (ctx, ((const SfSipValue *) vals->pdata[k])->uri))
        return TRUE;
  }
  return FALSE;
}

/* A REGISTER (10.3 steps 1-7): for a domain we serve (else 404), an
 * address-of-record with a user (else 404; with registrar.users, one of them);
 * Contact: * only alone and with Expires: 0 (else 400); no contact that is
 * this server itself (a domain of ours, or our address and port: 403, RFC
 * 5393 3, a fork loop), nor one or a Path hop naming a store's Redis (403:
 * Redis would read a request relayed there as commands); each contact's expiry
 * from its expires parameter, else Expires, else registrar.max_expires, cut to
 * max_expires; one below min_expires gets 423 with Min-Expires.  Outcome
 * answered when it answered itself; otherwise the update goes to the location
 * service (transition: OpRegisterReply answers with its result). */
static SfOpResult
sf_op_save_bindings (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  if (strcmp (ev->name, "REGISTER") != 0 || e == NULL || r == NULL)
    return SF_OP_SKIP;
  const SfSipUri *ruri = sf_sip_msg_ruri (e->msg);
  g_autofree char *host = ruri != NULL ? sf_sip_str_dup (ruri->host) : NULL;
  if (host == NULL || !sf_registrar_is_ours (ctx, host))
    return sf_registrar_answer (ctx, e, 404, "Domain Not Served", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  const SfSipValue *to = sf_sip_msg_to (e->msg);
  g_autofree char *to_host = to != NULL && to->uri != NULL ? sf_sip_str_dup (to->uri->host) : NULL;
  /* 10.3 step 5: an AOR of a domain we serve (most often the Request-URI's host, just judged) */
  if (to_host == NULL || (g_ascii_strcasecmp (to_host, host) != 0 && !sf_registrar_is_ours (ctx, to_host)))
    return sf_registrar_answer (ctx, e, 404, "Domain Not Served", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  g_autofree char *aor = to != NULL ? sf_registrar_aor (ctx, to->uri) : NULL;
  g_autofree char *user = to != NULL && to->uri != NULL ? sf_sip_unescape (to->uri->user, NULL) : NULL;
  if (aor == NULL || (r->users != NULL && sf_registrar_user (r, user) == NULL))
    return sf_registrar_answer (ctx, e, 404, NULL, NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  const SfSipValue *expv = sf_sip_msg_value (e->msg, SF_SIP_HDR_EXPIRES, NULL);
  gint64 default_exp = expv != NULL ? (gint64) MIN (expv->number, (guint64) G_MAXINT32) : r->max_expires;
  g_autoptr (GError) bad = NULL;
  SfSipValues *contacts = sf_sip_msg_values (e->msg, SF_SIP_HDR_CONTACT, &bad);
  if (contacts == NULL && sf_sip_msg_find (e->msg, SF_SIP_HDR_CONTACT) != NULL) {
    /* A Contact we cannot read must not turn the REGISTER into a query (10.3 step 6). */
    g_autofree char *why = g_strdup_printf ("Bad Contact: %s", bad != NULL ? bad->message : "unreadable");
    for (char *p = why; *p != '\0'; p++)
      if (*p == '\r' || *p == '\n')
        *p = ' ';
    return sf_registrar_answer (ctx, e, 400, why, NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  }
  gboolean star = FALSE;
  g_autoptr (GArray) changes = g_array_new (FALSE, TRUE, sizeof (SfLocChange));
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; contacts != NULL && i < contacts->len; i++) {
    const SfSipValue *c = contacts->pdata[i];
    if (c->star) {
      star = TRUE;
      continue;
    }
    if (c->uri == NULL)
      continue;
    if (sf_registrar_uri_is_self (ctx, c->uri)) {
      /* A binding to this server itself: every request for the address-of-record
       * would come back here, once per such binding, a fork loop (RFC 5393 3);
       * refused whole, nothing applied (10.3 leaves the policy to the registrar). */
      SfStack *st = sf_stack_from_ctx (ctx);
      if (st != NULL)
        sf_stack_count (st, SF_STACK_STAT_REFUSED);
      return sf_registrar_answer (ctx, e, 403, "Contact Is This Server", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
    }
    if (sf_registrar_uri_is_store (ctx, c->uri)) {
      /* the location store's (or the users') Redis: a request relayed there
       * is read line by line as commands (docs/security.md) */
      SfStack *st = sf_stack_from_ctx (ctx);
      if (st != NULL)
        sf_stack_count (st, SF_STACK_STAT_REFUSED);
      return sf_registrar_answer (ctx, e, 403, "Contact Is Our Redis Store", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0)
                                                                                                         : SF_OP_ERROR;
    }
    const SfSipParam *ep = sf_sip_value_param (c, "expires");
    g_autofree char *eps = ep != NULL ? sf_sip_str_dup (ep->value) : NULL;
    gint64 exp = eps != NULL ? g_ascii_strtoll (eps, NULL, 10) : default_exp;
    if (exp < 0)
      exp = 0;
    if (exp > 0 && exp < r->min_expires) {
      g_autofree char *min = g_strdup_printf ("Min-Expires: %" G_GINT64_FORMAT, r->min_expires);
      const char *const lines[] = { min, NULL };
      return sf_registrar_answer (ctx, e, 423, NULL, lines) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
    }
    const SfSipParam *qp = sf_sip_value_param (c, "q");
    g_autofree char *qs = qp != NULL ? sf_sip_str_dup (qp->value) : NULL;
    guint q = 1000;
    if (qs != NULL && !sf_registrar_parse_q (qs, &q))
      return sf_registrar_answer (ctx, e, 400, "Bad q Value", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
    char *uri = sf_sip_str_dup (c->uri->raw);
    g_ptr_array_add (strings, uri);
    SfLocChange ch = { uri, q / 1000.0, MIN (exp, r->max_expires), NULL, 0 };
    /* RFC 5626 4.2: +sip.instance and reg-id, recorded for the outbound routing to come */
    const SfSipParam *ip = sf_sip_value_param (c, "+sip.instance");
    if (ip != NULL) {
      ch.instance = sf_sip_str_dup (ip->value);
      g_ptr_array_add (strings, (char *) ch.instance);
    }
    const SfSipParam *rp = sf_sip_value_param (c, "reg-id");
    guint64 reg_id = 0;
    if (rp != NULL && sf_sip_str_to_u64 (rp->value, G_MAXUINT32, &reg_id))
      ch.reg_id = (guint32) reg_id;
    g_array_append_val (changes, ch);
  }
  if (changes->len > 0 && path_is_store (ctx, e->msg)) {
    SfStack *st = sf_stack_from_ctx (ctx);
    if (st != NULL)
      sf_stack_count (st, SF_STACK_STAT_REFUSED);
    return sf_registrar_answer (ctx, e, 403, "Path Is Our Redis Store", NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0)
                                                                                                   : SF_OP_ERROR;
  }
  if (star && (changes->len > 0 || contacts->len != 1 || expv == NULL || expv->number != 0))
    return sf_registrar_answer (ctx, e, 400, "Contact * needs Expires: 0 and no other Contact", NULL) == SF_OP_TRANSITION
             ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  Serving *sv = serving (ctx);
  g_clear_pointer (&sv->request, sf_sip_event_free);
  sv->request = sf_sip_event_new (e->msg, &e->peer, e->txn);
  g_free (sv->aor);
  sv->aor = g_strdup (aor);
  if (star || changes->len > 0) {
    gint64 longest = 0;
    for (guint i = 0; i < changes->len; i++)
      longest = MAX (longest, g_array_index (changes, SfLocChange, i).expires_s);
    sv->flow = (guint) MIN (longest, G_MAXINT32) + 1;
  }
  g_autofree char *call_id = sf_sip_str_dup (sf_sip_msg_call_id (e->msg));
  g_autofree char *source = sf_sip_addr_to_string (e->peer.remote);
  g_autofree char *local = sf_sip_addr_to_string (e->peer.local);
  g_autofree char *path = path_values (e->msg);
  const char *transport = sf_sip_proto_name (e->peer.proto);
  /* A REGISTER that crossed a NAT: its binding's flow is the source it came
   * from, which the proxy sends requests to (sf-nat.h; registrar.nat).  The
   * node is this element as others reach it (sip.advertise's host when set):
   * a cluster sharing one store will route through the node that holds a
   * binding's connection. */
  g_autofree char *flow = NULL;
  const SfSipValue *via = sf_sip_msg_top_via (e->msg);
  if (via != NULL && e->peer.remote != NULL) {
    g_autofree char *via_host = sf_sip_str_dup (via->host);
    /* over TLS the flow is the way back whatever the addresses (a UA's
     * certificate seldom names its address as a server's: RFC 5922); over
     * WebSocket the only way (its Contact's host is .invalid: RFC 7118) */
    if (e->peer.proto == SF_SIP_TLS || sf_sip_proto_is_ws (e->peer.proto) || sf_nat_detect_from (sf_sip_proto_is_stream (e->peer.proto), via_host, via->port, sf_sip_value_param (via, "rport") != NULL,
                            e->peer.remote))
      flow = sf_nat_flow (transport, source);
  }
  SfStack *stack = sf_stack_from_ctx (ctx);
  g_autofree char *node = stack != NULL ? sf_stack_local (stack, e->peer.proto) : NULL;
  /* registrar.cluster: a binding only this node can reach (its connection is
   * here, or its NAT mapping answers only this node's address) gets this node
   * as its first Path hop, with a token naming the flow, so that a node that
   * looks it up routes through us (RFC 3327) and we send over the flow (RFC
   * 5626 5.2); we strip the hop when we look it up ourselves. */
  if (r->cluster && node != NULL && (sf_sip_proto_is_stream (e->peer.proto) || flow != NULL)) {
    g_auto (SfFlowTokenFlow) f = { 0 };
    sf_flow_token_flow_of (&f, &e->peer, sf_sip_transport_boot (sf_stack_transport (stack)));
    g_autofree char *token = sf_flow_token_make (r->flow_key, SF_FLOW_TOKEN_PATH, &f, sf_sip_str (NULL, 0));
    if (token != NULL) {
      char *hop = g_strdup_printf ("<sip:%s;lr%s%s;" SF_FLOW_TOKEN_PARAM "=%s>%s%s", node,
                                   e->peer.proto != SF_SIP_UDP ? ";transport=" : "",
                                   e->peer.proto != SF_SIP_UDP ? sf_sip_proto_name (e->peer.proto) : "", token, path != NULL ? ", " : "",
                                   path != NULL ? path : "");
      g_free (path);
      path = hop;
    }
  }
  SfLocOrigin origin = { source, transport, local, flow, path, node };
  sf_registrar_update (ctx, aor, call_id, (guint32) sf_sip_msg_cseq (e->msg)->number, &origin, star,
                       (const SfLocChange *) (void *) changes->data, changes->len);
  return SF_OP_TRANSITION;
}

/* "Date: Mon, 07 Dec 2026 11:37:41 GMT" (RFC 3261 20.17: RFC 1123's form,
 * English names whatever the locale; transfer full), made once a second per
 * thread: a busy registrar answers many REGISTERs in one. */
static char *
date_line (void)
{
  static const char days[] = "SunMonTueWedThuFriSat";
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  static _Thread_local gint64 made_s = -1;
  static _Thread_local char line[48];
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  if (now != made_s) {
    time_t t = (time_t) now;
    struct tm tm;
    if (gmtime_r (&t, &tm) == NULL)
      return g_strdup ("Date: Thu, 01 Jan 1970 00:00:00 GMT");
    g_snprintf (line, sizeof line, "Date: %.3s, %02d %.3s %04d %02d:%02d:%02d GMT", days + 3 * tm.tm_wday, tm.tm_mday,
                months + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    made_s = now;
  }
  return g_strdup (line);
}

/* task:location after OpSaveBindings: 200 with every binding of the
 * address-of-record, each with its expires and q (10.3 step 8); an update out
 * of order 500; one the store could not write 500 with Retry-After. */
static SfOpResult
sf_op_register_reply (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfLocationResult *res = ev->payload;
  Serving *sv = sf_ctx_module_slot (ctx, &sf_registrar_module);
  SfSipEvent *e = sv != NULL ? sv->request : NULL;
  if (strcmp (ev->name, "location") != 0 || res == NULL || e == NULL)
    return SF_OP_SKIP;
  if (res->error != NULL && res->error->code == SF_LOCATION_ERROR_STORE_FULL) {
    const char *const lines[] = { "Retry-After: 60", NULL };
    return sf_registrar_answer (ctx, e, 503, "Location Service Full", lines);
  }
  if (res->error != NULL && res->error->code == SF_LOCATION_ERROR_STORE_FAILED) {
    /* not written through: no 200 for bindings a crash would lose; the client tries again */
    const char *const lines[] = { "Retry-After: 5", NULL };
    return sf_registrar_answer (ctx, e, 500, "Location Store Failed", lines);
  }
  if (res->error != NULL)
    return sf_registrar_answer (ctx, e, 500, res->error->code == SF_LOCATION_ERROR_OUT_OF_ORDER ? "Out Of Order" : "Too Many Bindings", NULL);
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < res->bindings->len; i++) {
    const SfLocBinding *b = res->bindings->pdata[i];
    g_ptr_array_add (lines, sf_registrar_contact_line (b->contact, b->expires_at - res->now, b->q, FALSE));
  }
  /* 10.3 step 8: the 200 SHOULD carry a Date */
  g_ptr_array_add (lines, date_line ());
  g_ptr_array_add (lines, NULL);
  SfOpResult r = sf_registrar_answer (ctx, e, 200, NULL, (const char *const *) lines->pdata);
  /* The connection the REGISTER came over now carries a registered flow for
   * as long as the bindings it saved last (none: no more), so its CRLF
   * keep-alives hold it open (RFC 5626 4.4.1, docs/sip.md). */
  guint flow = sv->flow;
  SfStack *stack = sf_stack_from_ctx (ctx);
  if (flow > 0 && stack != NULL && sf_sip_proto_is_stream (e->peer.proto))
    sf_sip_transport_mark_flow (sf_stack_transport (stack), &e->peer, flow - 1);
  GString *f = g_string_sized_new (64);
  g_string_append_len (f, "\"aor\":", 6);
  sf_json_append_string (f, sv->aor);
  char n[24]; /* the count without printf, which cost more than the rest of the line */
  g_string_append_len (f, ",\"bindings\":", 12);
  g_string_append (f, sf_json_uint_text (n, res->bindings->len));
  sf_ctx_emit (ctx, "bindings", f->str);
  g_string_free (f, TRUE);
  return r;
}

/* Any request but ACK and CANCEL with a Require (8.2.2.3; 10.3 step 2, before
 * authentication): 420 Bad Extension, Unsupported naming the extensions. */
static SfOpResult
sf_op_check_require (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || !sf_sip_msg_is_request (e->msg) || strcmp (ev->name, "ACK") == 0 || strcmp (ev->name, "CANCEL") == 0)
    return SF_OP_SKIP;
  SfOpResult refused;
  if (!sf_registrar_refuse_extensions (ctx, e, &refused))
    return SF_OP_SKIP;
  return refused;
}

const SfOperatorDef sf_op_registrar_table[] = {
  { "OpCheckRequire", sf_op_check_require, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "refuses a request (not ACK or CANCEL) whose Require names an extension (this server supports none) with 420 "
    "Bad Extension and Unsupported, before authentication; then transitions", "sip", NULL, "RFC 3261 10.3 step 2" },
  { "OpSaveBindings", sf_op_save_bindings, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, save_outcomes, SF_ARG_NONE, NULL,
    NULL,
    "takes a REGISTER: checked (a domain we serve, a user, Contact: * alone with Expires: 0, no contact that is "
    "this server itself, RFC 5393; an expiry under registrar.min_expires gets 423, one over max_expires is cut), "
    "its bindings sent to the location service (transition); outcome answered when it refused it itself",
    "sip:REGISTER", NULL, "RFC 3261 10.3" },
  { "OpRegisterReply", sf_op_register_reply, SF_Q_NORMAL, SF_EV_TASK, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes task:location after OpSaveBindings: 200 with every current binding, its expires and q, or 500 (out of "
    "order, too many; the location store could not write it: with Retry-After) or 503 (the location service is "
    "full); then transitions", "task:location", NULL,
    "RFC 3261 10.3 step 8" },
};
const gsize sf_op_registrar_table_len = G_N_ELEMENTS (sf_op_registrar_table);
