/* sf-proxy.c: the [proxy] section and the proxy's addressing helpers (see sf-proxy.h). */
#include "config.h"
#include "sf-proxy.h"
#include "operators/registrar/sf-registrar.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

static const SfConfigKey proxy_keys[] = {
  { "trusted", SF_CFG_LIST, NULL, 0, 0, NULL,
    "sources not challenged (407): addresses or networks, ADDR or ADDR/BITS (REGISTER is challenged anyway)" },
  { "record_route", SF_CFG_BOOL, "true", 0, 0, NULL, "add Record-Route, so in-dialog requests come through the proxy (16.6 step 4)" },
  { "timer_c", SF_CFG_SECONDS, "181", 1, 86400, NULL,
    "Timer C (16.8): an INVITE branch quiet this long is cancelled; RFC 3261 asks more than 180 (off: none)" },
  { "fork", SF_CFG_ENUM, "q", 0, 0, "q|parallel|sequential",
    "targets in groups of equal q, best first (q); all at once (parallel); one at a time by q (sequential)" },
};

gboolean
sf_proxy_declare_config (SfConfig *cfg, GError **error)
{
  return sf_config_declare (cfg, "proxy", proxy_keys, G_N_ELEMENTS (proxy_keys), error);
}

static void
config_free (SfProxyConfig *c)
{
  if (c == NULL)
    return;
  g_ptr_array_unref (c->trusted);
  g_free (c);
}

gboolean
sf_proxy_setup (SfEndpoint *ep, SfConfig *cfg, GError **error)
{
  SfProxyConfig *c = g_new0 (SfProxyConfig, 1);
  c->trusted = g_ptr_array_new_with_free_func (g_object_unref);
  const char *const *nets = sf_config_get_list (cfg, "proxy", "trusted");
  for (guint i = 0; nets != NULL && nets[i] != NULL; i++) {
    g_autofree char *spec = g_strstrip (g_strdup (nets[i]));
    GInetAddressMask *m = g_inet_address_mask_new_from_string (spec, NULL);
    if (m == NULL) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                   "proxy.trusted (%s): '%s' is not an address or ADDR/BITS network", sf_config_get_source (cfg, "proxy", "trusted"),
                   spec);
      config_free (c);
      return FALSE;
    }
    g_ptr_array_add (c->trusted, m);
  }
  c->record_route = sf_config_get_bool (cfg, "proxy", "record_route");
  gint64 tc = sf_config_get_int (cfg, "proxy", "timer_c");
  c->timer_c_ms = tc < 0 ? 0 : (guint) tc * 1000; /* off: no Timer C */
  const char *fork = sf_config_get_string (cfg, "proxy", "fork");
  c->fork = strcmp (fork, "parallel") == 0 ? SF_FORK_PARALLEL : strcmp (fork, "sequential") == 0 ? SF_FORK_SEQUENTIAL : SF_FORK_Q;
  sf_endpoint_set_data (ep, "proxy", c);
  return TRUE;
}

void
sf_proxy_teardown (SfEndpoint *ep)
{
  config_free (sf_endpoint_get_data (ep, "proxy"));
  sf_endpoint_set_data (ep, "proxy", NULL);
}

SfProxyConfig *
sf_proxy_config (SfCtx *ctx)
{
  return sf_endpoint_get_data (sf_ctx_endpoint (ctx), "proxy");
}

void
sf_proxy_job_free (SfProxyJob *j)
{
  if (j == NULL)
    return;
  sf_sip_msg_unref (j->req);
  g_free (j->target);
  g_free (j);
}

gboolean
sf_proxy_uri_is_mine (const SfSipUri *uri, gpointer ctx)
{
  if (uri == NULL || (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS))
    return FALSE;
  SfStack *s = sf_stack_from_ctx (ctx);
  g_autofree char *host = sf_sip_str_dup (uri->host);
  guint port = uri->port != 0 ? uri->port : uri->kind == SF_URI_SIPS ? 5061 : 5060;
  if (sf_stack_is_local (s, host, port))
    return TRUE;
  /* By name: a URI without user in a domain of ours (Route: <sip:sipflow.test;lr>),
   * with no port or one we listen on. */
  if (sf_sip_str_is_set (uri->user) || !sf_registrar_serves (ctx, host))
    return FALSE;
  return uri->port == 0 || sf_sip_transport_has_port (sf_stack_transport (s), uri->port);
}

gboolean
sf_proxy_domain_is_ours (SfCtx *ctx, const SfSipUri *uri)
{
  if (uri == NULL || (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS))
    return FALSE;
  g_autofree char *host = sf_sip_str_dup (uri->host);
  if (sf_registrar_serves (ctx, host))
    return TRUE;
  /* An address: ours only with the port we listen on (127.0.0.1:5070 is another element). */
  return sf_proxy_uri_is_mine (uri, ctx);
}

/* 16 hex digits of SHA-256 over what identifies a request at this hop: the
 * Request-URI as received, From tag, To tag, Call-ID, CSeq number, and the
 * values of Proxy-Require, Proxy-Authorization and Route lines as written, in
 * order: "RURI|FROMTAG|TOTAG|CALLID|CSEQ|" then "|VALUE" for each such line
 * (16.6 step 8).  Without the top Via, so that it can be recomputed when the
 * request comes back (16.3 step 4); with Route, so that a request sent back
 * through this proxy by its Route set is a spiral, not a loop. */
static char *
loop_hash (SfSipMsg *req)
{
  GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
  SfSipStr ruri = sf_sip_msg_ruri (req)->raw;
  g_checksum_update (c, (const guchar *) ruri.p, (gssize) ruri.len);
  const SfSipParam *ft = sf_sip_value_param (sf_sip_msg_from (req), "tag");
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (req), "tag");
  g_checksum_update (c, (const guchar *) "|", 1);
  if (ft != NULL && sf_sip_str_is_set (ft->value))
    g_checksum_update (c, (const guchar *) ft->value.p, (gssize) ft->value.len);
  g_checksum_update (c, (const guchar *) "|", 1);
  if (tt != NULL && sf_sip_str_is_set (tt->value))
    g_checksum_update (c, (const guchar *) tt->value.p, (gssize) tt->value.len);
  SfSipStr cid = sf_sip_msg_call_id (req);
  g_checksum_update (c, (const guchar *) "|", 1);
  g_checksum_update (c, (const guchar *) cid.p, (gssize) cid.len);
  g_autofree char *n = g_strdup_printf ("|%" G_GUINT64_FORMAT "|", sf_sip_msg_cseq (req)->number);
  g_checksum_update (c, (const guchar *) n, -1);
  for (guint i = 0; i < sf_sip_msg_n_headers (req); i++) {
    const SfSipHdr *h = sf_sip_msg_header (req, i);
    if (h->id == SF_SIP_HDR_PROXY_REQUIRE || h->id == SF_SIP_HDR_PROXY_AUTHORIZATION || h->id == SF_SIP_HDR_ROUTE) {
      g_checksum_update (c, (const guchar *) "|", 1);
      g_checksum_update (c, (const guchar *) h->value.p, (gssize) h->value.len);
    }
  }
  char *out = g_strndup (g_checksum_get_string (c), 16);
  g_checksum_free (c);
  return out;
}

#define BRANCH_MARK SF_SIP_BRANCH_COOKIE "sfp"

char *
sf_proxy_branch (SfSipMsg *req)
{
  g_autofree char *h = loop_hash (req);
  return g_strdup_printf (BRANCH_MARK "%s.%08x", h, g_random_int ());
}

gboolean
sf_proxy_looped (SfStack *s, SfSipMsg *req)
{
  GPtrArray *vias = sf_sip_msg_values (req, SF_SIP_HDR_VIA, NULL);
  g_autofree char *h = NULL;
  for (guint i = 0; vias != NULL && i < vias->len; i++) {
    const SfSipValue *v = vias->pdata[i];
    const SfSipParam *b = sf_sip_value_param (v, "branch");
    if (b == NULL || !sf_sip_str_is_set (b->value) || b->value.len < strlen (BRANCH_MARK) + 16 ||
        strncmp (b->value.p, BRANCH_MARK, strlen (BRANCH_MARK)) != 0)
      continue;
    g_autofree char *host = sf_sip_str_dup (v->host);
    if (!sf_stack_is_local (s, host, v->port != 0 ? v->port : 5060))
      continue;
    if (h == NULL)
      h = loop_hash (req);
    if (strncmp (b->value.p + strlen (BRANCH_MARK), h, 16) == 0)
      return TRUE; /* the same request came back: a loop (a spiral changes the Request-URI) */
  }
  return FALSE;
}

SfSipProto
sf_proxy_uri_proto (const SfSipUri *uri)
{
  const SfSipParam *t = uri != NULL ? sf_sip_uri_param (uri, "transport") : NULL;
  return t != NULL && sf_sip_str_caseeq (t->value, "tcp") ? SF_SIP_TCP : SF_SIP_UDP;
}

SfSipProto
sf_proxy_next_proto (SfCtx *ctx, SfSipMsg *req, const SfSipUri *target)
{
  GPtrArray *routes = sf_sip_msg_values (req, SF_SIP_HDR_ROUTE, NULL);
  for (guint i = 0; routes != NULL && i < routes->len; i++) {
    const SfSipValue *r = routes->pdata[i];
    if (r->uri != NULL && !sf_proxy_uri_is_mine (r->uri, ctx))
      return sf_proxy_uri_proto (r->uri);
  }
  return sf_proxy_uri_proto (target != NULL ? target : sf_sip_msg_ruri (req));
}

/* 16.7 step 6: 6xx first, then the lowest class; within 4xx, 401, 407, 415,
 * 420 and 484 first; the first received among equals. */
guint
sf_proxy_rank (guint status)
{
  if (status >= 600)
    return 0;
  if (status < 400)
    return 1;
  if (status < 500)
    return status == 401 || status == 407 || status == 415 || status == 420 || status == 484 ? 2 : 3;
  return 4;
}

/* A copy of @resp with status @status and, when @challenges is not NULL, its
 * own challenges replaced by all of them (16.7 steps 6, 7). */
static SfSipMsg *
rebuild (SfSipMsg *resp, guint status, GPtrArray *challenges)
{
  g_autofree char *reason = status == sf_sip_msg_status (resp) ? sf_sip_str_dup (sf_sip_msg_reason (resp)) : NULL;
  SfSipBuilder *b = sf_sip_builder_response (status, reason);
  for (guint i = 0; i < sf_sip_msg_n_headers (resp); i++) {
    const SfSipHdr *h = sf_sip_msg_header (resp, i);
    if (h->id == SF_SIP_HDR_CONTENT_LENGTH || h->id == SF_SIP_HDR_CONTENT_TYPE ||
        (challenges != NULL && (h->id == SF_SIP_HDR_WWW_AUTHENTICATE || h->id == SF_SIP_HDR_PROXY_AUTHENTICATE)))
      continue;
    sf_sip_builder_add_line (b, h);
  }
  if (challenges != NULL) {
    g_ptr_array_add (challenges, NULL);
    sf_sip_builder_add_lines (b, (const char *const *) challenges->pdata, NULL);
    g_ptr_array_remove_index (challenges, challenges->len - 1);
  }
  const SfSipHdr *ct = sf_sip_msg_find (resp, SF_SIP_HDR_CONTENT_TYPE);
  SfSipStr body = sf_sip_msg_body (resp);
  if (ct != NULL && body.len > 0) {
    g_autofree char *type = sf_sip_str_dup (ct->value);
    sf_sip_builder_body (b, type, body.p, body.len);
  }
  return sf_sip_builder_finish (b, NULL);
}

SfSipMsg *
sf_proxy_final_response (SfSipMsg *best, GPtrArray *challenges)
{
  guint status = sf_sip_msg_status (best);
  if (status != 503 && challenges == NULL)
    return sf_sip_msg_ref (best);
  SfSipMsg *r = rebuild (best, status == 503 ? 500 : status, challenges);
  /* too big once aggregated (64 KiB, 256 lines): the best response as it came */
  return r != NULL ? r : sf_sip_msg_ref (best);
}


char *
sf_proxy_via (SfCtx *ctx, SfSipProto *proto, const char *branch, char **sent_by)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  char *local = sf_stack_local (s, *proto);
  if (local == NULL) {
    *proto = *proto == SF_SIP_UDP ? SF_SIP_TCP : SF_SIP_UDP; /* the transport we have */
    local = sf_stack_local (s, *proto);
  }
  if (local == NULL)
    return NULL;
  char *via = g_strdup_printf ("SIP/2.0/%s %s;branch=%s;rport", *proto == SF_SIP_TCP ? "TCP" : "UDP", local, branch);
  if (sent_by != NULL)
    *sent_by = local;
  else
    g_free (local);
  return via;
}
