/* sf-proxy.c: the [proxy] section and the proxy's addressing helpers (see sf-proxy.h). */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-proxy.h"
#include "operators/registrar/sf-registrar.h"
#include "framework/sf-secret.h"
#include "operators/transaction/sf-stack.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include "sip/sf-sip-flow-token.h"
#include "sip/sf-sip-header.h"
#include <string.h>

static const SfConfigKey proxy_keys[] = {
  { "trusted", SF_CFG_LIST, NULL, 0, 0, NULL,
    "sources relayed without authentication, exempt from sip.rate_limit: ADDR or ADDR/BITS (REGISTER is challenged anyway)" },
  { "record_route", SF_CFG_BOOL, "true", 0, 0, NULL, "add Record-Route, so in-dialog requests come through the proxy (16.6 step 4)" },
  { "timer_c", SF_CFG_SECONDS, "181", 1, 86400, NULL,
    "Timer C (16.8): an INVITE branch quiet this long is cancelled; RFC 3261 asks more than 180 (off: none)" },
  { "fork", SF_CFG_ENUM, "q", 0, 0, "q|parallel|sequential",
    "targets in groups of equal q, best first (q); all at once (parallel); one at a time by q (sequential)" },
  { "max_breadth", SF_CFG_INT, "60", 1, 1000000, NULL,
    "Max-Breadth used for a request that carries none (RFC 5393 5.3.3: 60): the concurrent branches' shares sum to at most this" },
};

gboolean
sf_proxy_declare_config (SfConfig *cfg, GError **error)
{
  return sf_config_declare (cfg, "proxy", proxy_keys, G_N_ELEMENTS (proxy_keys), error);
}

void
sf_proxy_config_free (SfProxyConfig *c)
{
  if (c == NULL)
    return;
  g_ptr_array_unref (c->trusted);
  memset (c->rr_key, 0, sizeof c->rr_key);
  memset (c->rr_mac_keys, 0, sizeof c->rr_mac_keys);
  if (c->rr_hmac != NULL)
    g_hmac_unref (c->rr_hmac);
  memset (c->branch_key, 0, sizeof c->branch_key);
  memset (c->flow_key, 0, sizeof c->flow_key);
  g_free (c);
}

/* The proxy's configuration from @cfg (transfer full), NULL with @error set. */
static SfProxyConfig *
proxy_config_new (SfConfig *cfg, GError **error)
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
      sf_proxy_config_free (c);
      return NULL;
    }
    g_ptr_array_add (c->trusted, m);
  }
  c->record_route = sf_config_get_bool (cfg, "proxy", "record_route");
  gint64 tc = sf_config_get_int (cfg, "proxy", "timer_c");
  c->timer_c_ms = tc < 0 ? 0 : (guint) tc * 1000; /* off: no Timer C */
  const char *fork = sf_config_get_string (cfg, "proxy", "fork");
  c->max_breadth = (guint) sf_config_get_int (cfg, "proxy", "max_breadth");
  c->fork = strcmp (fork, "parallel") == 0 ? SF_FORK_PARALLEL : strcmp (fork, "sequential") == 0 ? SF_FORK_SEQUENTIAL : SF_FORK_Q;
  if (!sf_secret_derive (cfg, "sipflow record-route", c->rr_key, error)) {
    sf_proxy_config_free (c);
    return NULL;
  }
  c->rr_hmac = g_hmac_new (G_CHECKSUM_SHA256, c->rr_key, sizeof c->rr_key);
  if (!sf_secret_derive_siphash (cfg, "sipflow record-route mac", c->rr_mac_keys, error)) {
    sf_proxy_config_free (c);
    return NULL;
  }
  guint8 bkey[32];
  if (!sf_secret_derive (cfg, "sipflow branch", bkey, error)) {
    sf_proxy_config_free (c);
    return NULL;
  }
  memcpy (c->branch_key, bkey, sizeof c->branch_key); /* 128 bits of it */
  memset (bkey, 0, sizeof bkey);
  /* only this node checks the flow tokens it made (the registrar's Path hop
   * names this node, our Record-Route this proxy): a per-node key will do */
  if (!sf_secret_derive (cfg, "sipflow flow", c->flow_key, error)) {
    sf_proxy_config_free (c);
    return NULL;
  }
  return c;
}

gboolean
sf_proxy_setup (SfEndpoint *ep, SfConfig *cfg, GError **error)
{
  SfProxyConfig *c = proxy_config_new (cfg, error);
  if (c == NULL)
    return FALSE;
  c->ep = ep;
  sf_module_attach (ep, &sf_proxy_module, c);
  return TRUE;
}

gboolean
sf_proxy_reload_prepare (SfProxyConfig *c, SfConfig *cfg, SfProxyConfig **prepared, GError **error)
{
  *prepared = NULL;
  if (c == NULL)
    return TRUE;
  *prepared = proxy_config_new (cfg, error);
  return *prepared != NULL;
}

void
sf_proxy_reload_commit (SfProxyConfig *c, SfProxyConfig *n)
{
  if (c == NULL || n == NULL)
    return;
  /* In place: the stack's gate and the branches reach @c.  The keys stay
   * (core.secret_file is a restart key): Record-Route and branch tokens
   * made before still check. */
  GPtrArray *trusted = c->trusted;
  c->trusted = n->trusted;
  n->trusted = trusted;
  c->record_route = n->record_route;
  c->timer_c_ms = n->timer_c_ms;
  c->fork = n->fork;
  c->max_breadth = n->max_breadth;
  sf_proxy_config_free (n);
}


void
sf_proxy_teardown (SfEndpoint *ep)
{
  SfProxyConfig *c = sf_module_state (ep, &sf_proxy_module);
  sf_module_attach (ep, &sf_proxy_module, NULL);
  sf_proxy_config_free (c);
}

SfProxyConfig *
sf_proxy_config (SfCtx *ctx)
{
  return sf_module_state (sf_ctx_endpoint (ctx), &sf_proxy_module);
}

/* Copies @s (nullable) to *@at, moved on past it; the copy or NULL. */
static char *
put_str (char **at, const char *s, gsize len)
{
  if (s == NULL)
    return NULL;
  char *copy = memcpy (*at, s, len + 1);
  *at += len + 1;
  return copy;
}

SfProxyJob *
sf_proxy_job_new (const SfProxyTarget *t)
{
  /* one block: a branch is spawned for each request a call proxies */
  gsize ul = t->uri != NULL ? strlen (t->uri) : 0, hl = t->hop != NULL ? strlen (t->hop) : 0;
  gsize rl = t->route != NULL ? strlen (t->route) : 0;
  SfProxyJob *j = g_malloc (sizeof (SfProxyJob) + ul + hl + rl + 3); /* not calloc: sf_instance_new */
  *j = (SfProxyJob) { 0 };
  char *at = (char *) (j + 1);
  j->target = put_str (&at, t->uri, ul);
  j->hop = put_str (&at, t->hop, hl);
  j->route = put_str (&at, t->route, rl);
  j->binding = t->binding;
  return j;
}

void
sf_proxy_job_free (SfProxyJob *j)
{
  if (j == NULL)
    return;
  sf_sip_msg_unref (j->req);
  g_free (j->in_flow);
  g_free (j);
}

static gpointer
inst_new (void)
{
  /* not g_new0: calloc passes by malloc's cache (sf_instance_new) */
  SfProxyInstance *pi = g_new (SfProxyInstance, 1);
  return memset (pi, 0, sizeof *pi);
}

static void
inst_free (gpointer data)
{
  SfProxyInstance *pi = data;
  if (pi->ctx != NULL)
    sf_proxy_ctx_free (pi->ctx);
  g_free (pi->aor);
  g_free (pi->user);
  sf_proxy_job_free (pi->job);
  g_clear_pointer (&pi->fwd, sf_sip_msg_unref);
  g_free (pi->rr_token);
  g_free (pi->caller_token);
  g_free (pi->cancel_reason);
  g_free (pi);
}

SfProxyInstance *
sf_proxy_inst (SfCtx *ctx)
{
  return sf_ctx_module_slot_ensure (ctx, &sf_proxy_module, inst_new, inst_free);
}

SfProxyInstance *
sf_proxy_inst_peek (SfCtx *ctx)
{
  return sf_ctx_module_slot (ctx, &sf_proxy_module);
}

SfProxyInstance *
sf_proxy_inst_of (SfEndpoint *ep, SfInstance *inst)
{
  return sf_instance_module_slot_ensure (ep, inst, &sf_proxy_module, inst_new, inst_free);
}

gboolean
sf_proxy_uri_is_mine (const SfSipUri *uri, gpointer ctx)
{
  if (uri == NULL || (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS))
    return FALSE;
  SfStack *s = sf_stack_from_ctx (ctx);
  guint port = uri->port != 0 ? uri->port : uri->kind == SF_URI_SIPS ? 5061 : 5060;
  /* A port none of our sockets has, with no sip.advertise, is not ours
   * whatever the host (a proxied call asks some fifteen times, the next
   * hop's URIs among them). */
  gboolean maybe_local = sf_stack_advertised (s) != NULL || sf_sip_transport_has_port (sf_stack_transport (s), port);
  if (maybe_local && sf_stack_is_local_host (s, uri->host, port))
    return TRUE;
  /* By name: a URI without user in a domain of ours (Route: <sip:sipflow.test;lr>),
   * with no port or one we listen on. */
  if (sf_sip_str_is_set (uri->user))
    return FALSE;
  g_autofree char *host = sf_sip_str_dup (uri->host);
  if (!sf_registrar_serves (ctx, host))
    return FALSE;
  return uri->port == 0 || sf_sip_transport_has_port (sf_stack_transport (s), uri->port);
}

gboolean
sf_proxy_domain_is_ours (SfCtx *ctx, const SfSipUri *uri)
{
  /* a domain of ours, or an address ours only with the port we listen on
   * (127.0.0.1:5070 is another element): what the registrar refuses as a Contact */
  return sf_registrar_uri_is_self (ctx, uri);
}

/* The bytes a token or the loop hash is made of, gathered in one place: the
 * SipHash-2-4 that makes them takes its input whole.  Most fit the inline
 * buffer; a longer run (a long Route set, a user of 300 bytes) moves to the
 * heap, bounded by the message it was taken from. */
typedef struct {
  guchar *p;
  gsize n, cap;
  guchar inl[512];
} Feed;

static void
feed_init (Feed *f)
{
  f->p = f->inl;
  f->n = 0;
  f->cap = sizeof f->inl;
}

static void
feed_clear (Feed *f)
{
  if (f->p != f->inl)
    g_free (f->p);
  f->p = f->inl;
  f->n = 0;
}

static void
feed (Feed *f, const void *p, gsize len)
{
  if (len == 0)
    return; /* p may be NULL then (an empty slice) */
  if (f->cap - f->n < len) {
    gsize cap = MAX (f->cap * 2, f->n + len);
    if (f->p == f->inl) {
      f->p = g_malloc (cap);
      memcpy (f->p, f->inl, f->n);
    } else {
      f->p = g_realloc (f->p, cap);
    }
    f->cap = cap;
  }
  memcpy (f->p + f->n, p, len);
  f->n += len;
}

/* Feeds @f "user@host" of @uri (the user unescaped, the host lowercase): an
 * address-of-record as the dialog's From or To names it (12.2.1.1 keeps
 * them); with @port, ":port" too, the default when absent: a remote target as
 * a Contact gives it and a Request-URI inside the dialog copies it. */
static void
feed_uri (Feed *f, const SfSipUri *uri, gboolean port)
{
  if (uri == NULL)
    return;
  if (sf_sip_str_is_set (uri->user)) {
    if (memchr (uri->user.p, '%', uri->user.len) != NULL) {
      gsize len = 0;
      g_autofree char *user = sf_sip_unescape (uri->user, &len);
      if (user != NULL)
        feed (f, user, len);
    } else {
      feed (f, uri->user.p, uri->user.len);
    }
  }
  feed (f, "@", 1);
  guchar low[64];
  for (gsize i = 0; i < uri->host.len; i += sizeof low) {
    gsize n = MIN (sizeof low, uri->host.len - i);
    for (gsize k = 0; k < n; k++)
      low[k] = (guchar) g_ascii_tolower (uri->host.p[i + k]);
    feed (f, low, n);
  }
  if (port) {
    char digits[24];
    const char *d = sf_sip_uint_text (digits, uri->port != 0 ? uri->port : uri->kind == SF_URI_SIPS ? 5061 : 5060);
    feed (f, ":", 1);
    feed (f, d, strlen (d));
  }
}

/* What a Record-Route token is made of (sf-proxy.h). */
static void
feed_token (Feed *f, SfSipStr call_id, SfSipStr tag, const SfSipUri *aor, const SfSipUri *target)
{
  feed (f, call_id.p, call_id.len);
  feed (f, "\n", 1);
  feed (f, tag.p, tag.len);
  feed (f, "\n", 1);
  feed_uri (f, aor, FALSE);
  feed (f, "\n", 1);
  feed_uri (f, target, TRUE);
}

/* The token of the bytes in @f, 32 hex digits and a NUL at @out: two
 * SipHash-2-4, each under its own 128-bit key, a 128-bit tag (the digest
 * nonces' MAC, sip/sf-sip-digest.c, is made the same way) at a tenth of an
 * HMAC-SHA-256's cost, once or twice a proxied call. */
static void
token_mac (SfProxyConfig *c, const Feed *f, char out[33])
{
  for (int k = 0; k < 2; k++)
    sf_hex16 (sf_siphash24 (c->rr_mac_keys[k], f->p, f->n), out + 16 * k);
  out[32] = '\0';
}

/* The token an earlier build made of the same bytes: the first 16 bytes of
 * HMAC-SHA-256(rr_key, them) in hex.  Only checked, never made. */
static void
token_mac_legacy (SfProxyConfig *c, const Feed *f, char out[33])
{
  GHmac *h = g_hmac_copy (c->rr_hmac); /* keyed once (sf_proxy_setup) */
  g_hmac_update (h, f->p, (gssize) f->n);
  guint8 d[32];
  gsize len = sizeof d;
  g_hmac_get_digest (h, d, &len);
  g_hmac_unref (h);
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  out[32] = '\0';
}

char *
sf_proxy_token (SfProxyConfig *c, SfSipStr call_id, SfSipStr tag, const SfSipUri *aor, const SfSipUri *target)
{
  Feed f;
  feed_init (&f);
  feed_token (&f, call_id, tag, aor, target);
  char *out = g_malloc (33);
  token_mac (c, &f, out);
  feed_clear (&f);
  return out;
}

const SfSipUri *
sf_proxy_our_hop (SfCtx *ctx, SfSipMsg *req)
{
  const SfSipValue *route = sf_sip_msg_value (req, SF_SIP_HDR_ROUTE, NULL);
  if (route != NULL && route->uri != NULL && sf_proxy_uri_is_mine (route->uri, ctx))
    return route->uri;
  if (route != NULL && sf_proxy_uri_is_mine (sf_sip_msg_ruri (req), ctx))
    return sf_sip_msg_ruri (req);
  return NULL;
}

guint
sf_proxy_own_routes (SfCtx *ctx, const SfSipValues *routes)
{
  guint n = 0;
  while (routes != NULL && n < routes->len && n < 2) {
    const SfSipValue *r = routes->pdata[n];
    if (r->uri == NULL || !sf_proxy_uri_is_mine (r->uri, ctx))
      break;
    n++;
  }
  return n;
}

/* Is @token the 32 hex digits @want?  In constant time. */
static gboolean
token_is (SfSipStr token, const char *want)
{
  if (token.len != 32)
    return FALSE;
  guint8 diff = 0;
  for (gsize i = 0; i < 32; i++)
    diff |= (guint8) (g_ascii_tolower (token.p[i]) ^ want[i]);
  return diff == 0;
}

/* Feeds @f the token's bytes for @party (the From or the To of @req's
 * dialog); FALSE when it has no tag or no URI (no token can be its). */
static gboolean
party_feed (Feed *f, SfSipStr call_id, const SfSipValue *party, const SfSipUri *target)
{
  const SfSipParam *tag = party != NULL ? sf_sip_value_param (party, "tag") : NULL;
  if (tag == NULL || !sf_sip_str_is_set (tag->value) || party->uri == NULL)
    return FALSE;
  feed_token (f, call_id, tag->value, party->uri, target);
  return TRUE;
}

gboolean
sf_proxy_token_matches (SfProxyConfig *c, SfSipMsg *req, const SfSipUri *target, SfSipStr token)
{
  if (token.len != 32)
    return FALSE;
  SfSipStr cid = sf_sip_msg_call_id (req);
  const SfSipValue *party[2] = { sf_sip_msg_from (req), sf_sip_msg_to (req) };
  Feed f[2];
  gboolean fed[2];
  gboolean ok = FALSE;
  char want[33];
  for (int i = 0; i < 2; i++) {
    feed_init (&f[i]);
    fed[i] = party_feed (&f[i], cid, party[i], target);
    if (fed[i] && !ok) {
      token_mac (c, &f[i], want);
      ok = token_is (token, want);
    }
  }
  /* an earlier build's token (a dialog set up before the upgrade, or through
   * a node of the cluster not yet upgraded): what a forged token costs, the
   * two HMACs it cost before */
  for (int i = 0; i < 2 && !ok; i++)
    if (fed[i]) {
      token_mac_legacy (c, &f[i], want);
      ok = token_is (token, want);
    }
  feed_clear (&f[0]);
  feed_clear (&f[1]);
  return ok;
}

gboolean
sf_proxy_token_ok (SfCtx *ctx, SfSipMsg *req)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  const SfSipUri *hop = sf_proxy_our_hop (ctx, req);
  const SfSipParam *sft = hop != NULL ? sf_sip_uri_param (hop, "sft") : NULL;
  if (c == NULL || sft == NULL || !sf_sip_str_is_set (sft->value))
    return FALSE;
  /* the remote target: the Request-URI, or after a strict router (our hop in
   * the Request-URI) the last Route (16.4) */
  const SfSipUri *target = sf_sip_msg_ruri (req);
  if (hop == target) {
    SfSipValues *routes = sf_sip_msg_values (req, SF_SIP_HDR_ROUTE, NULL);
    target = routes != NULL && routes->len > 0 ? ((SfSipValue *) routes->pdata[routes->len - 1])->uri : NULL;
  }
  return target != NULL && sf_proxy_token_matches (c, req, target, sft->value);
}

typedef struct {
  SfCtx *ctx;
  char *token;        /* the caller's token (for the response's Contact) */
  const char *ours;   /* the token our Record-Route carried in the request: it marks our values */
} Rewrite;

static char *
rewrite_rr (const SfSipValue *v, gpointer data)
{
  Rewrite *w = data;
  const SfSipParam *sft = v->uri != NULL ? sf_sip_uri_param (v->uri, "sft") : NULL;
  if (sft == NULL || !sf_sip_str_is_set (sft->value) || w->ours == NULL || !sf_sip_str_eq (sft->value, w->ours))
    return NULL;
  /* the same value, the token's bytes replaced (it lies inside v->raw) */
  gsize before = (gsize) (sft->value.p - v->raw.p), after = before + sft->value.len;
  if (sft->value.p < v->raw.p || after > v->raw.len)
    return NULL;
  gsize tl = strlen (w->token);
  char *out = g_malloc (v->raw.len - sft->value.len + tl + 1);
  memcpy (out, v->raw.p, before);
  memcpy (out + before, w->token, tl);
  memcpy (out + before + tl, v->raw.p + after, v->raw.len - after);
  out[v->raw.len - sft->value.len + tl] = '\0';
  return out;
}

SfSipMsg *
sf_proxy_forward_response (SfCtx *ctx, SfSipMsg *resp, GError **error)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  guint status = sf_sip_msg_status (resp);
  const SfSipValue *contact = status > 100 && status < 300 ? sf_sip_msg_value (resp, SF_SIP_HDR_CONTACT, NULL) : NULL;
  const SfSipValue *from = sf_sip_msg_from (resp);
  const SfSipParam *ftag = from != NULL ? sf_sip_value_param (from, "tag") : NULL;
  SfProxyInstance *pi = sf_proxy_inst_peek (ctx);
  const char *ours = pi != NULL ? pi->rr_token : NULL;
  if (c == NULL || ours == NULL || contact == NULL || contact->uri == NULL || ftag == NULL || from->uri == NULL ||
      sf_sip_msg_find (resp, SF_SIP_HDR_RECORD_ROUTE) == NULL)
    return sf_sip_create_forward_response (resp, error);
  /* a branch's 180 and 200 name the same Contact: its token is made once
   * ("Contact raw\ntoken" kept in the branch) */
  g_autofree char *raw = sf_sip_str_dup (contact->uri->raw);
  const char *kept = pi->caller_token;
  gsize rl = strlen (raw);
  Rewrite w = { ctx, NULL, ours };
  if (kept != NULL && strncmp (kept, raw, rl) == 0 && kept[rl] == '\n') {
    w.token = g_strdup (kept + rl + 1);
  } else {
    w.token = sf_proxy_token (c, sf_sip_msg_call_id (resp), ftag->value, from->uri, contact->uri);
    g_free (pi->caller_token);
    pi->caller_token = g_strconcat (raw, "\n", w.token, NULL);
  }
  SfSipMsg *out = sf_sip_create_forward_response_edited (resp, SF_SIP_HDR_RECORD_ROUTE, rewrite_rr, &w, error);
  g_free (w.token);
  return out;
}

/* sf_hash_hex of what identifies a request at this hop (no secret: any
 * hash the same for the same bytes would do; an earlier build's SHA-256 makes
 * a request looping across an upgrade a spiral once more, then a loop):
 * "RURI|FROMTAG|TOTAG|CALLID|CSEQ|" (the Request-URI as received), then
 * "|VALUE" for each Proxy-Require line, each Proxy-Authorization value that
 * is not for our realm and each Route value but the first one (or two, RFC
 * 5658) that are this proxy, in that order (16.6 step 8).  What this proxy removes before it
 * forwards (its own Route, the credentials for its realm) is left out, so a
 * request that comes back unchanged hashes the same (16.3 step 4); without
 * the top Via, so that it can be recomputed; with the other Routes, so that a
 * request sent back through this proxy by its Route set is a spiral.  @ctx
 * NULL: nothing is left out. */
static char *
loop_hash (SfCtx *ctx, SfSipMsg *req)
{
  Feed f;
  feed_init (&f);
  SfSipStr ruri = sf_sip_msg_ruri (req)->raw;
  feed (&f, ruri.p, ruri.len);
  const SfSipParam *ft = sf_sip_value_param (sf_sip_msg_from (req), "tag");
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (req), "tag");
  feed (&f, "|", 1);
  if (ft != NULL && sf_sip_str_is_set (ft->value))
    feed (&f, ft->value.p, ft->value.len);
  feed (&f, "|", 1);
  if (tt != NULL && sf_sip_str_is_set (tt->value))
    feed (&f, tt->value.p, tt->value.len);
  SfSipStr cid = sf_sip_msg_call_id (req);
  feed (&f, "|", 1);
  feed (&f, cid.p, cid.len);
  char n[24];
  sf_sip_uint_text (n, sf_sip_msg_cseq (req)->number);
  feed (&f, "|", 1);
  feed (&f, n, strlen (n));
  feed (&f, "|", 1);
  for (guint i = 0; i < sf_sip_msg_n_headers (req); i++) {
    const SfSipHdr *h = sf_sip_msg_header (req, i);
    if (h->id == SF_SIP_HDR_PROXY_REQUIRE) {
      feed (&f, "|", 1);
      feed (&f, h->value.p, h->value.len);
    }
  }
  SfRegistrar *r = ctx != NULL ? sf_registrar_from_ctx (ctx) : NULL;
  SfSipValues *creds = sf_sip_msg_values (req, SF_SIP_HDR_PROXY_AUTHORIZATION, NULL);
  for (guint i = 0; creds != NULL && i < creds->len; i++) {
    const SfSipValue *v = creds->pdata[i];
    g_autofree char *realm = sf_digest_param (v, "realm");
    if (r != NULL && realm != NULL && strcmp (realm, r->realm) == 0)
      continue;
    feed (&f, "|", 1);
    feed (&f, v->raw.p, v->raw.len);
  }
  SfSipValues *routes = sf_sip_msg_values (req, SF_SIP_HDR_ROUTE, NULL);
  guint own = ctx != NULL ? sf_proxy_own_routes (ctx, routes) : 0;
  for (guint i = 0; routes != NULL && i < routes->len; i++) {
    const SfSipValue *v = routes->pdata[i];
    if (i < own)
      continue;
    feed (&f, "|", 1);
    feed (&f, v->raw.p, v->raw.len);
  }
  char *out = g_malloc (17);
  sf_hash_hex (f.p, f.n, out);
  feed_clear (&f);
  return out;
}

#define BRANCH_MARK SF_SIP_BRANCH_COOKIE "sfp"

/* "%08x" of @v into @out (9 bytes), without printf: twice a forwarded request. */
static void
hex8 (guint32 v, char out[9])
{
  static const char hex[] = "0123456789abcdef";
  for (int i = 7; i >= 0; i--, v >>= 4)
    out[i] = hex[v & 15];
  out[8] = '\0';
}

/* 8 hex digits of SipHash-2-4 (key, HASH "." RANDOM): proof that a
 * branch is ours, for the responses that come back without a transaction
 * (16.7: forwarded statelessly; a forged one would make us a reflector).
 * SipHash-2-4 under a key of its own: one per forwarded request, where an HMAC
 * would cost a tenth of the proxy's work per call. */
static void
branch_mac (SfProxyConfig *c, const char *head, gsize len, char out[9])
{
  guint64 mac = sf_siphash24 (c->branch_key, (const guint8 *) head, len);
  hex8 ((guint32) (mac >> 32), out);
}

char *
sf_proxy_branch (SfCtx *ctx, SfSipMsg *req)
{
  g_autofree char *h = loop_hash (ctx, req);
  char rnd[9];
  hex8 ((guint32) sf_sip_random_u64 (), rnd);
  /* BRANCH_MARK, the head (h "." rnd), the head's MAC: written in place, one allocation */
  gsize mlen = strlen (BRANCH_MARK), hlen = strlen (h);
  char *out = g_malloc (mlen + hlen + 1 + 8 + 8 + 1);
  char *head = out + mlen, *p = head + hlen;
  memcpy (out, BRANCH_MARK, mlen);
  memcpy (head, h, hlen);
  *p++ = '.';
  memcpy (p, rnd, 8);
  p += 8;
  char mac[9] = "00000000";
  SfProxyConfig *c = ctx != NULL ? sf_proxy_config (ctx) : NULL;
  if (c != NULL)
    branch_mac (c, head, (gsize) (p - head), mac);
  memcpy (p, mac, 9);
  return out;
}

gboolean
sf_proxy_branch_is_ours (SfProxyConfig *c, SfSipStr branch)
{
  gsize mark = strlen (BRANCH_MARK), head = 16 + 1 + 8;
  /* a request that failed over to another target (RFC 3263 4.3) has ".fN"
   * after it (sf-txn-send.c; N from 1 to the most targets, 16) */
  gsize len = branch.len;
  if (len > mark + head + 8 + 2 && len <= mark + head + 8 + 4 && branch.p[mark + head + 8] == '.'
      && branch.p[mark + head + 8 + 1] == 'f' && branch.p[mark + head + 8 + 2] != '0') {
    for (gsize i = mark + head + 8 + 2; i < len; i++)
      if (!g_ascii_isdigit (branch.p[i]))
        return FALSE;
    len = mark + head + 8;
  }
  if (c == NULL || len != mark + head + 8 || strncmp (branch.p, BRANCH_MARK, mark) != 0)
    return FALSE;
  char mac[9];
  branch_mac (c, branch.p + mark, head, mac);
  guint8 diff = 0;
  for (int i = 0; i < 8; i++)
    diff |= (guint8) (g_ascii_tolower (branch.p[mark + head + i]) ^ mac[i]);
  return diff == 0;
}

gboolean
sf_proxy_looped (SfCtx *ctx, SfSipMsg *req)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  SfSipValues *vias = sf_sip_msg_values (req, SF_SIP_HDR_VIA, NULL);
  g_autofree char *h = NULL;
  for (guint i = 0; vias != NULL && i < vias->len; i++) {
    const SfSipValue *v = vias->pdata[i];
    const SfSipParam *b = sf_sip_value_param (v, "branch");
    if (b == NULL || !sf_sip_str_is_set (b->value) || b->value.len < strlen (BRANCH_MARK) + 16 ||
        strncmp (b->value.p, BRANCH_MARK, strlen (BRANCH_MARK)) != 0)
      continue;
    if (!sf_stack_is_local_host (s, v->host, v->port != 0 ? v->port : 5060))
      continue;
    if (h == NULL)
      h = loop_hash (ctx, req);
    if (strncmp (b->value.p + strlen (BRANCH_MARK), h, 16) == 0)
      return TRUE; /* the same request came back: a loop (a spiral changes the Request-URI) */
  }
  return FALSE;
}

SfSipProto
sf_proxy_uri_proto (const SfSipUri *uri)
{
  const SfSipParam *t = uri != NULL ? sf_sip_uri_param (uri, "transport") : NULL;
  SfSipProto named;
  if (t != NULL && sf_sip_proto_from_name (t->value, &named) && sf_sip_proto_is_ws (named))
    return uri->kind == SF_URI_SIPS ? SF_SIP_WSS : named; /* RFC 7118 5: sips over ws is WSS */
  /* a sips URI only over TLS (RFC 5630 3.1.3, whatever its transport=) */
  if ((uri != NULL && uri->kind == SF_URI_SIPS) || (t != NULL && sf_sip_str_caseeq (t->value, "tls")))
    return SF_SIP_TLS;
  return t != NULL && sf_sip_str_caseeq (t->value, "tcp") ? SF_SIP_TCP : SF_SIP_UDP;
}

SfSipProto
sf_proxy_next_proto (SfCtx *ctx, SfSipMsg *req, const SfSipUri *target)
{
  SfSipValues *routes = sf_sip_msg_values (req, SF_SIP_HDR_ROUTE, NULL);
  for (guint i = 0; routes != NULL && i < routes->len; i++) {
    const SfSipValue *r = routes->pdata[i];
    if (r->uri != NULL && !sf_proxy_uri_is_mine (r->uri, ctx))
      return sf_proxy_uri_proto (r->uri);
  }
  return sf_proxy_uri_proto (target != NULL ? target : sf_sip_msg_ruri (req));
}

gboolean
sf_proxy_max_breadth (SfSipMsg *req, guint dflt, guint *out)
{
  const SfSipHdr *h = sf_sip_msg_find_name (req, "Max-Breadth");
  if (h == NULL) {
    *out = dflt; /* RFC 5393 5.3.3: absent, the proxy uses 60 (proxy.max_breadth) */
    return TRUE;
  }
  gsize i = 0, n = h->value.len;
  while (i < n && (h->value.p[i] == ' ' || h->value.p[i] == '\t'))
    i++;
  while (n > i && (h->value.p[n - 1] == ' ' || h->value.p[n - 1] == '\t'))
    n--;
  if (i == n)
    return FALSE;
  guint64 v = 0;
  for (; i < n; i++) {
    if (!g_ascii_isdigit (h->value.p[i]))
      return FALSE; /* Max-Breadth = "Max-Breadth" HCOLON 1*DIGIT (RFC 5393 5.3.1) */
    v = MIN (v * 10 + (guint64) (h->value.p[i] - '0'), (guint64) G_MAXUINT);
  }
  *out = (guint) v;
  return TRUE;
}

guint
sf_proxy_breadth_split (guint available, guint n, guint *shares)
{
  guint m = MIN (n, available); /* each branch needs at least 1 (RFC 5393 5.3.3) */
  for (guint i = 0; i < m; i++)
    shares[i] = available / m + (i < available % m ? 1 : 0);
  return m;
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
sf_proxy_via (SfCtx *ctx, SfSipProto *proto, const char *branch, gboolean own, char **sent_by)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  char *local = sf_stack_local (s, *proto);
  if (local == NULL && *proto == SF_SIP_TLS) {
    /* TLS is never swapped for another transport: without a TLS socket the
     * answers come back over the connection, the Via names another of ours */
    local = sf_stack_local (s, SF_SIP_TCP);
    if (local == NULL)
      local = sf_stack_local (s, SF_SIP_UDP);
  } else if (local == NULL) {
    *proto = *proto == SF_SIP_UDP ? SF_SIP_TCP : SF_SIP_UDP; /* the transport we have */
    local = sf_stack_local (s, *proto);
  }
  if (local == NULL)
    return NULL;
  const char *home = own && *proto == SF_SIP_UDP ? sf_stack_home_sent_by (s) : NULL;
  char *via = g_strconcat ("SIP/2.0/", sf_sip_proto_via (*proto), " ", home != NULL ? home : local, ";branch=", branch,
                           ";rport", NULL);
  if (sent_by != NULL)
    *sent_by = local;
  else
    g_free (local);
  return via;
}

/* The transport's boot value (0 without a stack: no TCP flow then exists) */
static guint32
boot_of (SfCtx *ctx)
{
  SfStack *stack = sf_stack_from_ctx (ctx);
  return stack != NULL ? sf_sip_transport_boot (sf_stack_transport (stack)) : 0;
}

/* Does @f still exist: any UDP flow (a NAT mapping cannot be asked), a TCP
 * flow while its connection is open on this very transport */
static gboolean
flow_alive (SfCtx *ctx, const SfFlowTokenFlow *f)
{
  if (!sf_sip_proto_is_stream (f->proto))
    return TRUE;
  SfStack *stack = sf_stack_from_ctx (ctx);
  return stack != NULL && sf_sip_transport_tcp_flow (sf_stack_transport (stack), f->boot, f->conn, f->addr);
}

SfProxyFlow
sf_proxy_flow_route (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *from, char **hop)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  const SfSipUri *ours = sf_proxy_our_hop (ctx, req);
  const SfSipParam *sff = ours != NULL ? sf_sip_uri_param (ours, SF_FLOW_TOKEN_PARAM) : NULL;
  *hop = NULL;
  if (c == NULL || sff == NULL)
    return SF_PROXY_FLOW_NONE;
  gboolean dialog = sf_sip_value_param (sf_sip_msg_to (req), "tag") != NULL;
  g_auto (SfFlowTokenFlow) f = { 0 };
  if (!sf_flow_token_check (c->flow_key, dialog ? SF_FLOW_TOKEN_RR : SF_FLOW_TOKEN_PATH, sff->value,
                            sf_sip_msg_call_id (req), &f))
    return SF_PROXY_FLOW_BAD;
  if (dialog && from != NULL && sf_flow_token_same_flow (from, boot_of (ctx), &f))
    return SF_PROXY_FLOW_NONE; /* from the flow's own party: toward the other one */
  *hop = sf_flow_token_hop (&f);
  if (*hop == NULL)
    return SF_PROXY_FLOW_BAD;
  /* RFC 5626 5.3: a flow that no longer exists gets 430, never a new
   * connection to the address it came from (which may be someone else's by
   * now); *@hop still says where it went, for a caller that may do better */
  return flow_alive (ctx, &f) ? SF_PROXY_FLOW_TO : SF_PROXY_FLOW_GONE;
}

char *
sf_proxy_in_flow (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *from)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  SfNatMode mode = r != NULL ? r->nat : SF_NAT_AUTO;
  const SfSipValue *via = sf_sip_msg_top_via (req);
  if (c == NULL || !c->record_route || from == NULL || from->remote == NULL || via == NULL || mode == SF_NAT_OFF ||
      sf_sip_value_param (sf_sip_msg_to (req), "tag") != NULL)
    return NULL;
  /* An element upstream Record-Routed (another node of a cluster): requests
   * toward the caller go by its Route after ours, never over a flow of ours,
   * so a token for the flow it came over would serve nothing; worse, requests
   * from that element would count as the flow's own party's and miss the
   * callee's flow, which then gets the token (sf_proxy_hop_token).  A node
   * whose connections leave from another address than its Via's looks NATed. */
  if (sf_sip_msg_find (req, SF_SIP_HDR_RECORD_ROUTE) != NULL)
    return NULL;
  /* Over TCP too only behind a NAT (the Via's address is not the source's):
   * a caller that is not reaches its Contact over a new connection, while its
   * own connection may be closed by then (idle, SF_SIP_TCP_IDLE_S).  Over
   * TLS always: a UA's certificate seldom names its address as a server's
   * (RFC 5922), so its own connection is the way back (RFC 5923's reuse).
   * Over WebSocket always: its connection is the only way (RFC 7118). */
  if (mode != SF_NAT_ALWAYS && from->proto != SF_SIP_TLS && !sf_sip_proto_is_ws (from->proto)) {
    g_autofree char *via_host = sf_sip_str_dup (via->host);
    g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (from->remote));
    if (!sf_nat_detect (sf_sip_proto_is_stream (from->proto), via_host, via->port, sf_sip_value_param (via, "rport") != NULL, ip,
                        g_inet_socket_address_get_port (from->remote)))
      return NULL;
  }
  g_auto (SfFlowTokenFlow) f = { 0 };
  sf_flow_token_flow_of (&f, from, boot_of (ctx));
  return sf_flow_token_make (c->flow_key, SF_FLOW_TOKEN_RR, &f, sf_sip_msg_call_id (req));
}

gboolean
sf_proxy_path_self (SfCtx *ctx, const char *path, char **hop, char **rest, gboolean *gone)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  *hop = *rest = NULL;
  if (gone != NULL)
    *gone = FALSE;
  if (c == NULL || path == NULL)
    return FALSE;
  g_autoptr (GPtrArray) vals = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_value_free);
  SfSipStr value = sf_sip_str (path, strlen (path));
  if (!sf_sip_hdr_parse (SF_SIP_HDR_ROUTE, SF_SIP_STR_LIT ("Route"), value, path, vals, NULL) || vals->len == 0)
    return FALSE;
  const SfSipValue *first = vals->pdata[0];
  if (first->uri == NULL || !sf_proxy_uri_is_mine (first->uri, ctx))
    return FALSE;
  const SfSipParam *sff = sf_sip_uri_param (first->uri, SF_FLOW_TOKEN_PARAM);
  g_auto (SfFlowTokenFlow) f = { 0 };
  if (sff != NULL && sf_flow_token_check (c->flow_key, SF_FLOW_TOKEN_PATH, sff->value, sf_sip_str (NULL, 0), &f))
    *hop = sf_flow_token_hop (&f);
  if (gone != NULL)
    *gone = *hop != NULL && !flow_alive (ctx, &f);
  if (vals->len > 1) {
    const SfSipValue *second = vals->pdata[1];
    *rest = g_strdup (second->raw.p); /* the values after ours, as written */
  }
  return TRUE;
}

gboolean
sf_proxy_flow_closed (SfCtx *ctx, const char *hop)
{
  SfStack *stack = sf_stack_from_ctx (ctx);
  g_autoptr (SfSipUri) uri = hop != NULL ? sf_sip_uri_parse (sf_sip_str (hop, strlen (hop)), NULL, NULL) : NULL;
  if (stack == NULL || uri == NULL || uri->port == 0 || !sf_sip_proto_is_stream (sf_proxy_uri_proto (uri)))
    return FALSE;
  SfSipIp ip;
  if (!sf_sip_ip_parse (uri->host, &ip))
    return FALSE;
  g_autoptr (GInetSocketAddress) addr = sf_sip_socket_address (&ip, uri->port);
  return !sf_sip_transport_tcp_open (sf_stack_transport (stack), addr);
}

char *
sf_proxy_hop_token (SfCtx *ctx, const SfSipUri *hop, SfSipStr call_id)
{
  SfProxyConfig *c = sf_proxy_config (ctx);
  SfStack *stack = sf_stack_from_ctx (ctx);
  if (c == NULL || stack == NULL || hop == NULL || hop->port == 0)
    return NULL;
  SfSipIp ip;
  if (!sf_sip_ip_parse (hop->host, &ip))
    return NULL;
  SfSipTransport *tp = sf_stack_transport (stack);
  g_auto (SfFlowTokenFlow) f = { sf_proxy_uri_proto (hop), sf_sip_socket_address (&ip, hop->port), 0, 0 };
  if (sf_sip_proto_is_stream (f.proto)) {
    /* the connection the request goes over; none open: no flow to name (a
     * new connection to the address is no flow of the callee's) */
    f.conn = sf_sip_transport_tcp_conn_to (tp, f.addr);
    f.boot = sf_sip_transport_boot (tp);
    if (f.conn == 0)
      return NULL;
  }
  return sf_flow_token_make (c->flow_key, SF_FLOW_TOKEN_RR, &f, call_id);
}
