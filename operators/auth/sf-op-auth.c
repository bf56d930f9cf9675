/* sf-op-auth.c: digest authentication of requests by a server (RFC 3261 22,
 * RFC 7616): OpAuthorize challenges what comes without good credentials
 * (401 for REGISTER, 407 otherwise), one challenge per algorithm of
 * auth.algorithms, against the users of registrar.users.  Each refused
 * credentials carrying a nonce of ours write one line (level message, marked
 * SF_LOG_FIELD_AUDIT so that the log writer shows it whatever core.log_level
 * while auth.log_failures is true) for tools like fail2ban:
 *   auth failed: user "alice" from 127.0.0.1:5062: wrong credentials
 * the user name escaped (g_strescape) and cut to 64 bytes, an IPv6 source in
 * brackets; never the password or the response.  A first request without
 * credentials and a stale nonce are normal and not logged; credentials whose
 * nonce is not ours (forged, made up, another secret) are refused but not
 * logged: whoever sends them from a spoofed address never got a nonce from us
 * at all, and must not get that address banned.  Each source address gets
 * SF_AUTH_LOG_PER_S lines a second, SF_AUTH_LOG_SOURCES sources are tracked a
 * second (the table is emptied each second); the rest are counted into one
 * line. */
#include "config.h"
#include "operators/registrar/sf-registrar.h"
#include "operators/transaction/sf-stack.h"
#include "framework/sf-clock.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-txn-key.h"
#include "states/sf-machine.h"
#include <string.h>

#define SF_AUTH_LOG_PER_S 20      /* "auth failed" lines a second, per source address */
#define SF_AUTH_LOG_SOURCES 1024  /* source addresses tracked a second */

static gint64
now_s (SfCtx *ctx)
{
  return sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx))) / G_USEC_PER_SEC;
}

/* Sends @status (401/407) with one challenge per algorithm (@stale: the last
 * nonce is no longer taken but the response in it was right). */
GPtrArray *
sf_registrar_challenge_lines (SfCtx *ctx, guint status, gboolean stale)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  gint64 now = now_s (ctx);
  for (guint i = 0; i < r->n_algs; i++) {
    /* each line made in one buffer, sized for it: the nonce is 80 bytes */
    GString *line = g_string_sized_new (160 + strlen (r->realm));
    g_string_append (line, status == 401 ? "WWW-Authenticate: " : "Proxy-Authenticate: ");
    sf_digest_server_challenge_append (r->digest, line, r->realm, r->algs[i], stale, now);
    g_ptr_array_add (lines, g_string_free (line, FALSE));
  }
  g_ptr_array_add (lines, NULL);
  return lines;
}

gboolean
sf_registrar_has_credentials (SfCtx *ctx, SfSipMsg *req)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  gboolean reg = sf_sip_str_eq (sf_sip_msg_method (req), "REGISTER");
  SfSipValues *creds = sf_sip_msg_values (req, reg ? SF_SIP_HDR_AUTHORIZATION : SF_SIP_HDR_PROXY_AUTHORIZATION, NULL);
  for (guint i = 0; r != NULL && creds != NULL && i < creds->len; i++) {
    g_autofree char *realm = sf_digest_param (creds->pdata[i], "realm");
    if (realm != NULL && strcmp (realm, r->realm) == 0 && sf_sip_str_caseeq (((SfSipValue *) creds->pdata[i])->text, "Digest"))
      return TRUE;
  }
  return FALSE;
}

static gboolean
challenge (SfCtx *ctx, SfSipEvent *e, guint status, gboolean stale, const char *reason)
{
  g_autoptr (GPtrArray) lines = sf_registrar_challenge_lines (ctx, status, stale);
  if (sf_registrar_answer (ctx, e, status, NULL, (const char *const *) lines->pdata) != SF_OP_TRANSITION)
    return FALSE;
  sf_registrar_from_ctx (ctx)->counts.auth_challenges++;
  GString *f = g_string_new (NULL);
  g_string_append_printf (f, "\"status\":%u,\"stale\":%s,\"reason\":\"%s\"", status, stale ? "true" : "false", reason);
  sf_ctx_emit (ctx, "challenge", f->str);
  g_string_free (f, TRUE);
  return TRUE;
}

/* Writes @line at level message; with auth.log_failures marked as an audit
 * line, which the log writer (ua/sf-ua-log.c) shows whatever core.log_level. */
static void
audit (SfRegistrar *r, const char *line)
{
  if (r->log_failures)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, SF_LOG_FIELD_AUDIT, "1", "MESSAGE", "%s", line);
  else
    g_message ("%s", line);
}

/* One "auth failed" line for request @e (see the top of this file), unless its
 * source used up its lines of this second. */
static void
log_failure (SfCtx *ctx, SfSipEvent *e, const char *username, const char *why)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  gint64 now = now_s (ctx);
  if (now != r->log_second) {
    if (r->log_dropped > 0) {
      g_autofree char *sum = g_strdup_printf ("auth failures not logged: %u (%u sources over %d a second, "
                                              "%u failures from sources past the %d tracked a second)",
                                              r->log_dropped, r->log_sources_over, SF_AUTH_LOG_PER_S,
                                              r->log_untracked, SF_AUTH_LOG_SOURCES);
      audit (r, sum);
    }
    r->log_second = now;
    r->log_dropped = 0;
    r->log_sources_over = 0;
    r->log_untracked = 0;
    if (r->log_sources != NULL)
      g_hash_table_remove_all (r->log_sources);
  }
  if (r->log_sources == NULL)
    r->log_sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *ip = NULL;
  g_autofree char *from = NULL;
  GInetSocketAddress *remote = e->peer.remote;
  if (remote != NULL) {
    GInetAddress *a = g_inet_socket_address_get_address (remote);
    ip = g_inet_address_to_string (a);
    gboolean v6 = g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6;
    from = g_strdup_printf ("%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", g_inet_socket_address_get_port (remote));
  } else {
    ip = g_strdup ("unknown");
  }
  gpointer seen = NULL;
  guint n = 0;
  if (g_hash_table_lookup_extended (r->log_sources, ip, NULL, &seen)) {
    n = GPOINTER_TO_UINT (seen);
  } else if (g_hash_table_size (r->log_sources) >= SF_AUTH_LOG_SOURCES) {
    r->log_dropped++; /* a bounded table: a source past it is only counted */
    r->log_untracked++;
    return;
  }
  if (n >= SF_AUTH_LOG_PER_S) {
    if (n == SF_AUTH_LOG_PER_S) {
      r->log_sources_over++;
      g_hash_table_insert (r->log_sources, g_strdup (ip), GUINT_TO_POINTER (n + 1)); /* counted once */
    }
    r->log_dropped++;
    return;
  }
  g_hash_table_insert (r->log_sources, g_steal_pointer (&ip), GUINT_TO_POINTER (n + 1));
  g_autofree char *cut = g_strndup (username, 64);
  g_autofree char *user = g_strescape (cut, NULL);
  g_autofree char *line = g_strdup_printf ("auth failed: user \"%s\" from %s: %s", user, from != NULL ? from : "unknown", why);
  audit (r, line);
}

/* Is @nonce (nullable) one of ours, expired or not?  Asked only when a refusal
 * is to be logged: accepted credentials need not pay for a second HMAC. */
static gboolean
nonce_ours (SfCtx *ctx, const char *nonce)
{
  return sf_digest_server_nonce_ours (sf_registrar_from_ctx (ctx)->digest, nonce, now_s (ctx), NULL);
}

/* Challenges @e again after refused credentials (logged when @nonce, the one
 * in them, is one of ours, and not @stale). */
static SfOpResult
refuse (SfCtx *ctx, SfSipEvent *e, guint status, gboolean stale, const char *nonce, const char *username,
        const char *why)
{
  if (!stale && nonce_ours (ctx, nonce))
    log_failure (ctx, e, username, why);
  if (!stale)
    sf_registrar_from_ctx (ctx)->counts.auth_bad_credentials++;
  return challenge (ctx, e, status, stale, why) ? SF_OP_TRANSITION : SF_OP_ERROR;
}

/* A request of method ARG: credentials for our realm checked (22.4, RFC 7616
 * 3.4): none, a wrong response or a replayed nonce count get a challenge
 * (transition); a right response for a nonce no longer taken (expired, its
 * slot reused, another boot: SF_DIGEST_STALE) a challenge with stale=true (RFC
 * 7616 3.3); an unknown user 403 (so a UA with the wrong user name stops at
 * once rather than retrying); a REGISTER authenticated as another user than
 * its To 403 (10.3 step 3).  Every refusal but the first challenge and a stale
 * nonce writes an "auth failed" line, when the credentials carry a nonce of
 * ours (sf_digest_server_nonce_ours: expired or not).  Good
 * credentials: CONTINUE, the next operator serves the request.  Without
 * registrar.users nothing is checked (SKIP). */
static SfOpResult
sf_op_authorize (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  if (e == NULL || strcmp (ev->name, arg) != 0 || !sf_sip_msg_is_request (e->msg) || r == NULL || r->users == NULL)
    return SF_OP_SKIP;
  return sf_registrar_authorize (ctx, e);
}

gboolean
sf_registrar_is_anonymous (const SfSipValue *from)
{
  const SfSipUri *u = from != NULL ? from->uri : NULL;
  return u != NULL && sf_sip_str_caseeq (u->user, "anonymous") && sf_sip_str_caseeq (u->host, "anonymous.invalid");
}

gboolean
sf_registrar_from_matches (SfCtx *ctx, SfSipMsg *req, const char *username)
{
  const SfSipValue *from = sf_sip_msg_from (req);
  if (from == NULL || from->uri == NULL || sf_registrar_is_anonymous (from))
    return TRUE;
  g_autofree char *host = sf_sip_str_dup (from->uri->host);
  if (!sf_registrar_is_ours (ctx, host))
    return TRUE; /* another domain's identity: not ours to vouch for */
  g_autofree char *user = sf_sip_unescape (from->uri->user, NULL);
  return user != NULL && strcmp (user, username) == 0;
}

const SfUser *
sf_registrar_user (SfRegistrar *r, const char *name)
{
  /* real time, not the endpoint's clock: this is about files changing */
  return r->users != NULL && name != NULL ? sf_users_lookup (r->users, name, g_get_monotonic_time ()) : NULL;
}

SfOpResult
sf_registrar_authorize (SfCtx *ctx, SfSipEvent *e)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  if (r == NULL || r->users == NULL)
    return SF_OP_CONTINUE;
  gboolean reg = sf_sip_str_eq (sf_sip_msg_method (e->msg), "REGISTER");
  guint status = reg ? 401 : 407;
  SfSipValues *creds =
      sf_sip_msg_values (e->msg, reg ? SF_SIP_HDR_AUTHORIZATION : SF_SIP_HDR_PROXY_AUTHORIZATION, NULL);
  /* The first Digest credentials for our realm, their parameters read in one
   * walk (sf_digest_creds_parse), not one walk a parameter. */
  g_auto (SfDigestCreds) c = { 0 };
  gboolean mine = FALSE;
  for (guint i = 0; creds != NULL && i < creds->len && !mine; i++) {
    const SfSipValue *v = creds->pdata[i];
    if (!sf_sip_str_caseeq (v->text, "Digest"))
      continue;
    sf_digest_creds_clear (&c);
    sf_digest_creds_parse (v, &c);
    mine = c.realm != NULL && strcmp (c.realm, r->realm) == 0;
  }
  if (!mine)
    return challenge (ctx, e, status, FALSE, "no credentials") ? SF_OP_TRANSITION : SF_OP_ERROR;
  const char *username = c.username;
  /* Logged only with a nonce of ours (an expired one too: with it a wrong
   * password gets a plain challenge, the right one stale=true, so it tests
   * passwords): credentials with a made-up nonce, which anyone can send from a
   * spoofed address, must not get that address banned. */
  const char *nonce = c.nonce;
  const SfUser *u = sf_registrar_user (r, username);
  if (u == NULL) {
    if (nonce_ours (ctx, nonce))
      log_failure (ctx, e, username != NULL ? username : "", "unknown user");
    r->counts.auth_unknown_user++;
    return sf_registrar_answer (ctx, e, 403, "Unknown user", NULL);
  }
  const char *alg_name = c.algorithm;
  SfDigestAlg alg = SF_DIGEST_MD5;
  guint offered = 0;
  for (guint i = 0; i < r->n_algs; i++)
    offered |= 1u << r->algs[i];
  if ((alg_name != NULL && !sf_digest_alg_parse (alg_name, &alg)) || !(offered & (1u << alg)))
    return refuse (ctx, e, status, FALSE, nonce, username, "algorithm not offered");
  const char *no_ha1 = NULL;
  g_autofree char *ha1 = sf_user_ha1 (u, username, r->realm, alg, &no_ha1);
  if (ha1 == NULL) /* an HA1 stored for another realm, or none for this algorithm */
    return refuse (ctx, e, status, FALSE, nonce, username, no_ha1);
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (e->msg));
  g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (e->msg)->raw);
  SfSipStr body = sf_sip_msg_body (e->msg);
  g_autofree char *body_s = sf_sip_str_dup (body);
  const char *why = NULL;
  switch (sf_digest_server_check_creds (r->digest, &c, ha1, offered, method, ruri, body_s, body.len, now_s (ctx), &why)) {
  case SF_DIGEST_OK:
    if (reg) {
      /* 10.3 step 4, once the credentials are good: may this user change this address-of-record? */
      const SfSipValue *to = sf_sip_msg_to (e->msg);
      g_autofree char *to_user = to != NULL && to->uri != NULL ? sf_sip_unescape (to->uri->user, NULL) : NULL;
      if (to_user == NULL || strcmp (to_user, username) != 0) {
        log_failure (ctx, e, username, "not your address-of-record");
        r->counts.auth_wrong_identity++;
        return sf_registrar_answer (ctx, e, 403, "Not your address-of-record", NULL);
      }
    } else if (!sf_registrar_from_matches (ctx, e->msg, username)) {
      /* the identity asserted in From must be the one authenticated (Kamailio: "Auth user mismatch") */
      log_failure (ctx, e, username, "From is another user");
      r->counts.auth_wrong_identity++;
      return sf_registrar_answer (ctx, e, 403, "Auth User Mismatch", NULL);
    }
    return SF_OP_CONTINUE;
  case SF_DIGEST_STALE:
    return refuse (ctx, e, status, TRUE, nonce, username, why);
  case SF_DIGEST_REPLAY:
  case SF_DIGEST_BAD:
  default:
    return refuse (ctx, e, status, FALSE, nonce, username, why);
  }
}

/* The registrar's gate (sf-registrar.h): the first REGISTER, without
 * credentials, challenged with no transaction or instance made for it. */
static gboolean
gate_admit (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *from, gpointer data)
{
  SfRegistrar *r = sf_registrar_from_ctx (ctx);
  if (r == NULL || r->users == NULL || !sf_sip_str_eq (sf_sip_msg_method (req), "REGISTER") ||
      sf_registrar_has_credentials (ctx, req))
    return FALSE;
  g_autofree char *unsupported = sf_registrar_unsupported (req, SF_SIP_HDR_REQUIRE);
  if (unsupported != NULL)
    return FALSE; /* 420 before authentication (10.3 step 2): the flow's OpCheckRequire */
  g_autofree char *key = sf_sip_txn_call_key_of (req);
  if (key == NULL || sf_endpoint_lookup (sf_ctx_endpoint (ctx), "call", key) != NULL)
    return FALSE; /* its call's instance decides (a REGISTER while the last one is saved: 500) */
  g_autoptr (GPtrArray) ch = sf_registrar_challenge_lines (ctx, 401, FALSE);
  if (sf_stack_answer_stateless (sf_stack_from_ctx (ctx), req, from, 401, NULL, (const char *const *) ch->pdata))
    r->counts.auth_challenges++;
  return TRUE;
}

const SfStackGate sf_registrar_gate = { .admit = gate_admit };

gboolean
sf_registrar_gate_fits (SfMachine *flow)
{
  if (flow == NULL || flow->initial == NULL || strcmp (flow->scope, "call") != 0)
    return FALSE;
  GPtrArray *entry = flow->initial->queues[SF_QUEUE_ENTRY];
  if (entry != NULL && entry->len > 0)
    return FALSE; /* what an instance does on being made would be skipped */
  GPtrArray *q = flow->initial->queues[SF_QUEUE_NORMAL];
  for (guint i = 0; q != NULL && i < q->len; i++) {
    SfBinding *b = q->pdata[i];
    if (b->guard == NULL && strcmp (b->op->name, "OpCheckRequire") == 0)
      continue;
    return b->guard == NULL && strcmp (b->op->name, "OpAuthorize") == 0 && g_strcmp0 (b->arg_text, "REGISTER") == 0;
  }
  return FALSE;
}

const SfOperatorDef sf_op_auth_table[] = {
  { "OpAuthorize", sf_op_authorize, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED, sf_op_fixup_name,
    g_free,
    "checks the digest credentials of a request of method ARG for our realm: good ones let the next operator serve "
    "it; none or wrong ones get a challenge (401 for REGISTER, 407 otherwise; stale=true for an expired nonce), an "
    "unknown user or another user's address 403, and it transitions; without registrar.users nothing is checked",
    "sip:$arg", "METHOD (REGISTER, INVITE)", "RFC 3261 22.4" },
};
const gsize sf_op_auth_table_len = G_N_ELEMENTS (sf_op_auth_table);
