/* sf-op-redirect.c: the redirect server (RFC 3261 8.3, 21.3): a request out of
 * dialog to a registered user gets 302 Moved Temporarily with every binding as
 * a Contact; OpLookupTarget asks the location service, OpRedirectReply answers. */
#include "config.h"
#include "operators/registrar/sf-registrar.h"
#include "operators/sf-modules.h"
#include "operators/transaction/sf-stack.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

/* What an instance redirecting a request keeps between OpLookupTarget and
 * OpRedirectReply, in the redirect module's slot. */
typedef struct {
  SfSipEvent *request;  /* owned, nullable: the request being redirected */
  char *aor;            /* owned, nullable: its address-of-record */
  char *user;           /* owned, nullable: the Request-URI's user, unescaped */
} Redirecting;

static gpointer
redirecting_new (void)
{
  return g_new0 (Redirecting, 1);
}

static void
redirecting_free (gpointer p)
{
  Redirecting *r = p;
  g_clear_pointer (&r->request, sf_sip_event_free);
  g_free (r->aor);
  g_free (r->user);
  g_free (r);
}

/* A request outside a dialog (not REGISTER, ACK or CANCEL) to a user of ours:
 * its address-of-record (10.3 canonical form) is looked up (transition: the
 * answer comes with task:location); a domain we do not serve or a URI without
 * user gets 404 at once (outcome answered). */
static const char *const lookup_outcomes[] = { "answered", NULL };

static SfOpResult
sf_op_lookup_target (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || !sf_sip_msg_is_request (e->msg) || strcmp (ev->name, "REGISTER") == 0 ||
      strcmp (ev->name, "ACK") == 0 || strcmp (ev->name, "CANCEL") == 0 ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL || sf_registrar_from_ctx (ctx) == NULL)
    return SF_OP_SKIP;
  const SfSipUri *ruri = sf_sip_msg_ruri (e->msg);
  g_autofree char *host = ruri != NULL ? sf_sip_str_dup (ruri->host) : NULL;
  g_autofree char *aor = host != NULL && sf_registrar_is_ours (ctx, host) ? sf_registrar_aor (ctx, ruri) : NULL;
  if (aor == NULL)
    return sf_registrar_answer (ctx, e, 404, NULL, NULL) == SF_OP_TRANSITION ? SF_OP_OUTCOME (0) : SF_OP_ERROR;
  Redirecting *rd = sf_ctx_module_slot_ensure (ctx, &sf_redirect_module, redirecting_new, redirecting_free);
  g_clear_pointer (&rd->request, sf_sip_event_free);
  rd->request = sf_sip_event_new (e->msg, &e->peer, e->txn);
  g_free (rd->aor);
  rd->aor = g_strdup (aor);
  g_free (rd->user);
  rd->user = sf_sip_unescape (ruri->user, NULL);
  sf_registrar_lookup (ctx, aor);
  return SF_OP_TRANSITION;
}

/* task:location after OpLookupTarget: 302 Moved Temporarily with every binding
 * as a Contact (q and expires kept, 21.3.3); no binding: 480 Temporarily
 * Unavailable for a user of registrar.users, 404 for anyone else. */
static SfOpResult
sf_op_redirect_reply (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfLocationResult *res = ev->payload;
  Redirecting *rd = sf_ctx_module_slot (ctx, &sf_redirect_module);
  SfSipEvent *e = rd != NULL ? rd->request : NULL;
  const char *aor = rd != NULL ? rd->aor : NULL;
  if (strcmp (ev->name, "location") != 0 || res == NULL || e == NULL || aor == NULL)
    return SF_OP_SKIP;
  if (res->error != NULL && res->error->code == SF_LOCATION_ERROR_UNAVAILABLE) {
    /* the shared store did not answer: not "nobody there", try again shortly (docs/servers.md) */
    const char *const lines[] = { "Retry-After: 5", NULL };
    return sf_registrar_answer (ctx, e, 503, "Location Service Unavailable", lines);
  }
  if (res->error != NULL || res->bindings->len == 0) {
    SfRegistrar *r = sf_registrar_from_ctx (ctx);
    const char *user = rd->user;
    gboolean known = r != NULL && r->users != NULL && user != NULL && sf_registrar_user (r, user) != NULL;
    GString *f = g_string_new ("\"aor\":");
    sf_json_append_string (f, aor);
    g_string_append_printf (f, ",\"status\":%u", known ? 480 : 404);
    sf_ctx_emit (ctx, "redirect", f->str);
    g_string_free (f, TRUE);
    return sf_registrar_answer (ctx, e, known ? 480 : 404, NULL, NULL);
  }
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  const SfSipUri *ruri = sf_sip_msg_ruri (e->msg);
  for (guint i = 0; i < res->bindings->len; i++) {
    const SfLocBinding *b = res->bindings->pdata[i];
    /* 8.3: never redirect to the Request-URI itself (a loop) */
    g_autoptr (SfSipUri) cu = sf_sip_uri_parse (sf_sip_str (b->contact, strlen (b->contact)), NULL, NULL);
    if (cu != NULL && ruri != NULL && sf_sip_uri_equal (cu, ruri))
      continue;
    g_ptr_array_add (lines, sf_registrar_contact_line (b->contact, b->expires_at - res->now, b->q, TRUE));
  }
  if (lines->len == 0)
    return sf_registrar_answer (ctx, e, 480, NULL, NULL); /* only the Request-URI itself was bound */
  g_ptr_array_add (lines, NULL);
  GString *f = g_string_new ("\"aor\":");
  sf_json_append_string (f, aor);
  g_string_append_printf (f, ",\"status\":302,\"contacts\":%u", res->bindings->len);
  sf_ctx_emit (ctx, "redirect", f->str);
  g_string_free (f, TRUE);
  return sf_registrar_answer (ctx, e, 302, NULL, (const char *const *) lines->pdata);
}

const SfOperatorDef sf_op_redirect_table[] = {
  { "OpLookupTarget", sf_op_lookup_target, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, lookup_outcomes, SF_ARG_NONE,
    NULL, NULL,
    "takes a request outside a dialog (not REGISTER, ACK or CANCEL): its address-of-record is looked up in the "
    "location service and it transitions (the answer comes as task:location); a domain we do not serve or a URI "
    "without user gets 404 at once (outcome answered)", "sip", NULL, "RFC 3261 8.3" },
  { "OpRedirectReply", sf_op_redirect_reply, SF_Q_NORMAL, SF_EV_TASK, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes task:location after OpLookupTarget: 302 Moved Temporarily with every binding as a Contact (q and "
    "expires kept), else 480 for a user of registrar.users or 404; then transitions", "task:location", NULL,
    "RFC 3261 21.3.3" },
};
const gsize sf_op_redirect_table_len = G_N_ELEMENTS (sf_op_redirect_table);
