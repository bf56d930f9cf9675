/* sf-op-register.c: registration (RFC 3261 10.2) as operators of the
 * registration machine (xml/register.xml): REGISTER with our Contact and
 * Expires to ua.registrar, a digest challenge answered once per nonce (22.2),
 * 423 answered with the Min-Expires asked (10.2.8), the binding refreshed
 * before it expires, removed with Expires: 0 when unregistering or shutting
 * down (10.2.2).  Every change is a "registration" event. */
#include "config.h"
#include "sf-ua-call.h"
#include "operators/sf-modules.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

struct _SfUaReg {
  char *call_id;          /* the same for every REGISTER of this binding (10.2.4) */
  char *from_tag;
  guint32 cseq;
  gint64 expires;         /* what we ask for */
  gint64 granted;         /* what the registrar gave */
  SfSipMsg *last;         /* the REGISTER waiting for its response */
  SfUaAuth auth;          /* the challenges answered in this round */
  gboolean removing;      /* the last REGISTER had Expires: 0 */
};
typedef SfUaReg Reg;

void
sf_ua_reg_free (SfUaReg *r)
{
  g_free (r->call_id);
  g_free (r->from_tag);
  g_clear_pointer (&r->last, sf_sip_msg_unref);
  sf_ua_auth_clear (&r->auth);
  g_free (r);
}

static Reg *
reg_of (SfCtx *ctx)
{
  SfUaInstance *ui = sf_ua_inst (ctx);
  if (ui->reg == NULL) {
    Reg *r = g_new0 (Reg, 1);
    r->from_tag = sf_sip_random_tag ();
    r->expires = sf_ua_cfg_int (ctx, "register_expires");
    ui->reg = r;
  }
  return ui->reg;
}

static void
emit_reg (SfCtx *ctx, const char *state, guint status, gint64 expires, const char *why)
{
  GString *f = g_string_new ("\"state\":");
  sf_json_append_string (f, state);
  g_string_append (f, ",\"registrar\":");
  sf_json_append_string (f, sf_ua_cfg (ctx, "registrar"));
  g_string_append (f, ",\"aor\":");
  sf_json_append_string (f, sf_ua_cfg (ctx, "uri"));
  if (status != 0)
    g_string_append_printf (f, ",\"status\":%u", status);
  if (expires >= 0)
    g_string_append_printf (f, ",\"expires\":%" G_GINT64_FORMAT, expires);
  if (why != NULL) {
    g_string_append (f, ",\"reason\":");
    sf_json_append_string (f, why);
  }
  sf_ctx_emit (ctx, "registration", f->str);
  g_string_free (f, TRUE);
}

/* Sends a REGISTER asking for @expires seconds (0: remove), with the credentials answered so far. */
static gboolean
send_register (SfCtx *ctx, Reg *r, gint64 expires)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  const char *registrar = sf_ua_cfg (ctx, "registrar");
  const char *aor = sf_ua_cfg (ctx, "uri");
  const char *proxy = sf_ua_cfg (ctx, "outbound_proxy");
  g_autofree char *route = NULL;
  if (proxy != NULL) {
    g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (proxy, strlen (proxy)), NULL, NULL);
    route = g_strdup_printf ("<%s%s>", proxy, u != NULL && sf_sip_uri_param (u, "lr") != NULL ? "" : ";lr");
  }
  /* the Via names the transport the REGISTER leaves on, the Contact ours on it (18.1.1, 20.10) */
  g_auto (SfUaHop) hop = { 0 };
  if (s == NULL || registrar == NULL || aor == NULL || !sf_ua_hop (ctx, route != NULL ? route : registrar, &hop)) {
    g_warning ("%s: REGISTER needs ua.registrar, ua.uri and a socket", sf_ctx_handle (ctx));
    return FALSE;
  }
  const char *local = hop.local;
  g_autofree char *from = sf_ua_from (ctx, local);
  g_autofree char *contact_uri = sf_ua_contact (ctx, local, hop.contact_proto, hop.sips);
  g_autofree char *contact = g_strdup_printf ("%s;expires=%" G_GINT64_FORMAT, contact_uri, expires);
  g_autofree char *exp = g_strdup_printf ("Expires: %" G_GINT64_FORMAT, expires);
  const char *routes[] = { route, NULL };
  const char *creds[3];
  sf_ua_auth_lines (&r->auth, creds);
  const char *extra[] = { exp, creds[0], creds[0] != NULL ? creds[1] : NULL, NULL };
  r->cseq++;
  SfSipRequestSpec spec = { .method = "REGISTER", .ruri = registrar, .from = from, .from_tag = r->from_tag,
                            .to = from, .call_id = r->call_id, .cseq = r->cseq, .via_sent_by = local,
                            .transport = sf_ua_hop_transport (&hop),
                            .contact = contact, .route = route != NULL ? routes : NULL, .extra = extra };
  g_autoptr (GError) error = NULL;
  SfSipMsg *req = sf_sip_create_request (&spec, &error);
  if (req == NULL) {
    g_warning ("%s: REGISTER: %s", sf_ctx_handle (ctx), error->message);
    return FALSE;
  }
  if (r->call_id == NULL)
    r->call_id = sf_sip_str_dup (sf_sip_msg_call_id (req));
  g_clear_pointer (&r->last, sf_sip_msg_unref);
  r->last = req;
  r->removing = expires == 0;
  sf_stack_request_located (s, sf_ctx_instance (ctx), req);
  return TRUE;
}

/* device:register, or timer:refresh / timer:retry: a REGISTER asking for
 * ua.register_expires (10.2.1, 10.2.4). */
static SfOpResult
sf_op_register (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  gboolean device = ev->kind == SF_EV_DEVICE && strcmp (ev->name, "register") == 0;
  gboolean timer = ev->kind == SF_EV_TIMER && (strcmp (ev->name, "refresh") == 0 || strcmp (ev->name, "retry") == 0);
  if (!device && !timer)
    return SF_OP_SKIP;
  Reg *r = reg_of (ctx);
  sf_ua_auth_clear (&r->auth);
  if (!send_register (ctx, r, r->expires))
    return SF_OP_ERROR;
  return SF_OP_TRANSITION;
}

/* Entry of Unregistering (device:unregister, shutdown): REGISTER with Expires: 0 (10.2.2). */
static SfOpResult
sf_op_unregister (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Reg *r = reg_of (ctx);
  sf_ctx_timer_cancel (ctx, "refresh");
  sf_ua_auth_clear (&r->auth);
  if (!send_register (ctx, r, 0))
    return SF_OP_ERROR;
  return SF_OP_CONTINUE;
}

/* The expiry the registrar granted our Contact (10.2.4): its expires
 * parameter in the 200's Contact list, else Expires, else what we asked. */
static gint64
granted_expires (SfSipMsg *resp, Reg *r)
{
  const SfSipValue *exp = sf_sip_msg_value (resp, SF_SIP_HDR_EXPIRES, NULL);
  gint64 g = exp != NULL ? (gint64) exp->number : r->expires;
  SfSipValues *contacts = sf_sip_msg_values (resp, SF_SIP_HDR_CONTACT, NULL);
  const SfSipValue *ours = r->last != NULL ? sf_sip_msg_value (r->last, SF_SIP_HDR_CONTACT, NULL) : NULL;
  for (guint i = 0; ours != NULL && contacts != NULL && i < contacts->len; i++) {
    const SfSipValue *c = contacts->pdata[i];
    if (c->uri == NULL || ours->uri == NULL || !sf_sip_uri_equal (c->uri, ours->uri))
      continue;
    const SfSipParam *p = sf_sip_value_param (c, "expires");
    g_autofree char *v = p != NULL ? sf_sip_str_dup (p->value) : NULL;
    if (v != NULL)
      g = g_ascii_strtoll (v, NULL, 10);
  }
  return g;
}

static const char *const reg_outcomes[] = { "registered", "unregistered", "failed", NULL };

/* The final response to our REGISTER: 401/407 answered with credentials once
 * per challenge (22.2), 423 retried with Min-Expires (10.2.8); 2xx registered
 * (the refresh timer set before the granted expiry) or unregistered; anything
 * else failed. */
static SfOpResult
sf_op_register_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaInstance *ui = sf_ctx_module_slot (ctx, &sf_ua_module);
  Reg *r = ui != NULL ? ui->reg : NULL;
  if (strcmp (ev->name, "response") != 0 || e == NULL || r == NULL || r->last == NULL ||
      !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "REGISTER") || sf_sip_msg_cseq (e->msg)->number != r->cseq)
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status < 200)
    return SF_OP_DONE;
  gint64 asked = r->removing ? 0 : r->expires;
  if (status == 401 || status == 407) {
    g_autoptr (GError) error = NULL;
    if (sf_ua_credentials (ctx, r->last, e->msg, &r->auth, &error)) {
      emit_reg (ctx, "challenged", status, -1, NULL);
      return send_register (ctx, r, asked) ? SF_OP_DONE : SF_OP_ERROR;
    }
    emit_reg (ctx, "failed", status, -1, error->message);
    return SF_OP_OUTCOME (2);
  }
  if (status == 423 && !r->removing) {
    const SfSipValue *mv = sf_sip_msg_value (e->msg, SF_SIP_HDR_MIN_EXPIRES, NULL);
    gint64 min = mv != NULL ? (gint64) mv->number : 0;
    if (min > r->expires && min <= 86400) {
      r->expires = min;
      emit_reg (ctx, "retrying", status, min, "423 Interval Too Brief");
      return send_register (ctx, r, min) ? SF_OP_DONE : SF_OP_ERROR;
    }
  }
  if (status >= 300) {
    g_autofree char *reason = sf_sip_str_dup (sf_sip_msg_reason (e->msg));
    emit_reg (ctx, "failed", status, -1, reason);
    return SF_OP_OUTCOME (2);
  }
  if (r->removing) {
    emit_reg (ctx, "unregistered", status, 0, NULL);
    return SF_OP_OUTCOME (1);
  }
  r->granted = granted_expires (e->msg, r);
  if (r->granted <= 0) {
    emit_reg (ctx, "failed", status, 0, "the registrar kept no binding for our Contact");
    return SF_OP_OUTCOME (2);
  }
  gint64 refresh = r->granted > 60 ? r->granted - 30 : (r->granted + 1) / 2;
  sf_ctx_timer_start (ctx, "refresh", (guint64) refresh * 1000);
  emit_reg (ctx, "registered", status, r->granted, NULL);
  return SF_OP_OUTCOME (0);
}

const SfOperatorDef sf_op_register_table[] = {
  { "OpRegister", sf_op_register, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE,
    NULL, NULL,
    "on the control command 'register', or timer:refresh or timer:retry: a REGISTER to ua.registrar asking for "
    "ua.register_expires, then transitions", "device:register|timer:refresh|timer:retry", NULL, "RFC 3261 10.2" },
  { "OpUnregister", sf_op_unregister, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of the unregistering state: the refresh timer cancelled, a REGISTER with Expires: 0 removes our binding",
    "*", NULL, "RFC 3261 10.2.2" },
  { "OpRegisterResponse", sf_op_register_response, SF_Q_NORMAL, SF_EV_SIP, 0, reg_outcomes, SF_ARG_NONE, NULL, NULL,
    "takes the responses to our REGISTER: a 401/407 is answered with credentials once per challenge (22.2), a 423 "
    "retried with Min-Expires (10.2.8); outcome registered (the refresh timer set before the granted expiry), "
    "unregistered or failed", "sip:response", NULL, "RFC 3261 10.2.4" },
};
const gsize sf_op_register_table_len = G_N_ELEMENTS (sf_op_register_table);
