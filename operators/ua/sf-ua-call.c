/* sf-ua-call.c: the user agent's call container and its [ua] section (see sf-ua-call.h). */
#include "config.h"
#include "sf-ua-call.h"
#include "operators/sf-modules.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-json.h"
#include "framework/sf-clock.h"
#include "sip/sf-sip-uri.h"
#include "sip/sf-sip-digest.h"
#include "states/sf-ctx.h"
#include "states/sf-instance.h"
#include "states/sf-machine.h"
#include <string.h>

static const SfConfigKey ua_keys[] = {
  { "uri", SF_CFG_STRING, NULL, 0, 0, NULL, "our address-of-record (From, registration); unset: sip:sipflow@ the listening address" },
  { "display_name", SF_CFG_STRING, NULL, 0, 0, NULL, "display name in From" },
  { "auth_user", SF_CFG_STRING, NULL, 0, 0, NULL, "digest user name (unset: the user of ua.uri)" },
  { "password", SF_CFG_STRING, NULL, 0, 0, NULL, "digest password for 401/407 challenges" },
  { "registrar", SF_CFG_STRING, NULL, 0, 0, NULL, "registrar URI: REGISTER at start, refreshed, removed at quit (unset: no registration)" },
  { "outbound_proxy", SF_CFG_STRING, NULL, 0, 0, NULL, "URI of a proxy every out-of-dialog request goes through (a loose Route, 8.1.2)" },
  { "register_expires", SF_CFG_SECONDS, "600", 10, 86400, NULL, "Expires asked for in REGISTER" },
  { "auto_answer", SF_CFG_SECONDS, "off", 0, 3600, NULL, "answer incoming calls after this many seconds (0: at once; off: wait for 'answer')" },
  { "no_answer_timeout", SF_CFG_SECONDS, "60", 1, 3600, NULL, "an outgoing call not answered in this time is cancelled (off: never; a REFER's call still after 120 s)" },
  { "ring_timeout", SF_CFG_INT, "180", 1, 3600, NULL,
    "an incoming call not answered in this time gets 480 (a caller that never cancels must not hold a call slot)" },
  { "max_calls", SF_CFG_INT, "4", 1, 10000, NULL, "calls at once; one more incoming gets 486 Busy Here, a REFER for one more 503" },
  /* session timers (RFC 4028; docs/ua.md "Session timers") */
  { "session_timer", SF_CFG_ENUM, "supported", 0, 0, "off|supported|required",
    "session timers: off, supported (offered and honoured), required (our INVITEs say Require: timer)" },
  { "session_expires", SF_CFG_INT, "1800", 90, 86400, NULL, "the session interval we ask for and accept at most, in seconds" },
  { "min_se", SF_CFG_INT, "90", 90, 86400, NULL, "the shortest session interval we accept (Min-SE), never below 90 s" },
  { "session_refresh", SF_CFG_ENUM, "update", 0, 0, "update|invite",
    "how we refresh when we are the refresher: UPDATE without SDP when the peer's Allow lists it, else re-INVITE" },
  { "100rel", SF_CFG_ENUM, "supported", 0, 0, "off|supported|required",
    "reliable provisional responses (RFC 3262): supported (our INVITEs say Supported: 100rel; a 183 with SDP goes "
    "reliably to an INVITE that supports it), required (Require: 100rel; every 18x reliable; an INVITE without it "
    "gets 421), off" },
  { "late_offer", SF_CFG_BOOL, "false", 0, 0, NULL,
    "our INVITEs carry no SDP: the callee's reliable 1xx (answered in our PRACK, RFC 3262 5) or its 2xx (answered in "
    "the ACK, RFC 3261 13.2.1) brings the offer" },
  /* subscriptions (RFC 6665; docs/ua.md "Subscriptions") */
  { "subscribe_expires", SF_CFG_SECONDS, "3600", 1, 86400, NULL,
    "Expires asked for in our SUBSCRIBEs (refreshed before the granted expiry)" },
  { "max_subscriptions", SF_CFG_INT, "16", 1, 10000, NULL,
    "subscriptions at once, both roles; one more incoming SUBSCRIBE gets 503 with Retry-After, a subscribe command "
    "fails" },
  { "max_subscriptions_per_peer", SF_CFG_INT, "4", 1, 10000, NULL,
    "subscriptions at once with one peer address; one more incoming SUBSCRIBE from it gets 403" },
  /* REFER (RFC 3515; docs/ua.md "REFER and transfer") */
  { "refer", SF_CFG_ENUM, "same_domain", 0, 0, "off|same_domain|any",
    "REFERs followed: off (403), same_domain (the Refer-To host must be ua.uri's, else 403: a REFER cannot make the "
    "UA call anywhere), any" },
  /* Replaces (RFC 3891; docs/ua.md "Replaces") */
  { "replaces", SF_CFG_BOOL, "on", 0, 0, NULL,
    "an INVITE with Replaces takes the place of the call it names, answered at once (Supported: replaces); off: "
    "the header is ignored. The replacing INVITE is not authenticated (docs/ua.md)" },
  { "offer_file", SF_CFG_STRING, NULL, 0, 0, NULL, "an SDP file sent as it is as the offer of our INVITEs, re-INVITEs and UPDATEs (read at start; tests, power users)" },
};

gboolean
sf_ua_declare_config (SfConfig *cfg, GError **error)
{
  return sf_config_declare (cfg, "ua", ua_keys, G_N_ELEMENTS (ua_keys), error);
}

gboolean
sf_ua_check_config (SfConfig *cfg, GError **error)
{
  static const char *const uris[] = { "uri", "registrar", "outbound_proxy" };
  for (gsize i = 0; i < G_N_ELEMENTS (uris); i++) {
    const char *v = sf_config_get_string (cfg, "ua", uris[i]);
    if (v == NULL)
      continue;
    g_autoptr (GError) e = NULL;
    g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (v, strlen (v)), NULL, &e);
    if (u == NULL || (u->kind != SF_URI_SIP && u->kind != SF_URI_SIPS)) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: ua.%s: expected a sip: URI, got '%s'%s%s",
                   sf_config_get_source (cfg, "ua", uris[i]), uris[i], v, e != NULL ? ": " : "",
                   e != NULL ? e->message : "");
      return FALSE;
    }
    if (strcmp (uris[i], "uri") == 0 && !sf_sip_str_is_set (u->user)) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                   "%s: ua.uri: an address-of-record needs a user (sip:alice@example.com), got '%s'",
                   sf_config_get_source (cfg, "ua", "uri"), v);
      return FALSE;
    }
  }
  if (sf_config_get_string (cfg, "ua", "registrar") != NULL && sf_config_get_string (cfg, "ua", "uri") == NULL) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "ua.registrar is set but ua.uri is not: registration needs the address-of-record");
    return FALSE;
  }
  if (sf_config_get_int (cfg, "ua", "min_se") > sf_config_get_int (cfg, "ua", "session_expires")) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "%s: ua.min_se (%" G_GINT64_FORMAT ") is above ua.session_expires (%" G_GINT64_FORMAT
                 "): we would refuse the interval we ask for (RFC 4028 4, 5)",
                 sf_config_get_source (cfg, "ua", "min_se"), sf_config_get_int (cfg, "ua", "min_se"),
                 sf_config_get_int (cfg, "ua", "session_expires"));
    return FALSE;
  }
  if (sf_config_get_string (cfg, "ua", "password") != NULL && sf_config_get_string (cfg, "ua", "uri") == NULL &&
      sf_config_get_string (cfg, "ua", "auth_user") == NULL) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "ua.password is set but neither ua.auth_user nor ua.uri names the user");
    return FALSE;
  }
  return TRUE;
}

const char *
sf_ua_cfg (SfCtx *ctx, const char *key)
{
  SfConfig *cfg = sf_endpoint_config (sf_ctx_endpoint (ctx));
  return cfg != NULL ? sf_config_get_string (cfg, "ua", key) : NULL;
}

gint64
sf_ua_cfg_int (SfCtx *ctx, const char *key)
{
  SfConfig *cfg = sf_endpoint_config (sf_ctx_endpoint (ctx));
  if (cfg == NULL) {
    for (gsize i = 0; i < G_N_ELEMENTS (ua_keys); i++)
      if (strcmp (ua_keys[i].key, key) == 0)
        return strcmp (ua_keys[i].default_value, "off") == 0 ? -1 : g_ascii_strtoll (ua_keys[i].default_value, NULL, 10);
    return -1;
  }
  return sf_config_get_int (cfg, "ua", key);
}

static void
call_free (gpointer p)
{
  SfUaCall *c = p;
  if (c->stream != NULL)
    sf_media_stop (c->stream);
  /* The port only after its stream stopped: freeing it closes the sockets the pipeline uses. */
  if (c->port_held && c->media_owner != NULL)
    sf_media_port_free (c->media_owner, c->rtp_port);
  g_clear_pointer (&c->invite, sf_sip_event_free);
  g_free (c->tag);
  g_clear_pointer (&c->ok, sf_sip_msg_unref);
  g_free (c->ok_txn);
  sf_sip_peer_clear (&c->ok_peer);
  g_clear_pointer (&c->invite_out, sf_sip_msg_unref);
  g_clear_pointer (&c->ack, sf_sip_msg_unref);
  g_clear_pointer (&c->targets, g_ptr_array_unref);
  g_clear_pointer (&c->tried, g_hash_table_unref);
  sf_ua_auth_clear (&c->auth);
  g_clear_pointer (&c->reinvite_out, sf_sip_msg_unref);
  g_clear_pointer (&c->refresh_out, sf_sip_msg_unref);
  g_clear_pointer (&c->dialog, sf_sip_dialog_free);
  g_clear_pointer (&c->sdp, sf_sdp_session_free);
  sf_sdp_media_clear (&c->media);
  g_free (c->pending_answer);
  g_free (c->reason);
  g_free (c->detail);
  g_free (c->early_sdp);
  if (c->invite_extra != NULL)
    g_ptr_array_unref (c->invite_extra);
  g_free (c->refer_child);
  g_free (c->refer_notifier);
  g_free (c->referred_by);
  sf_ua_prack_clear (c);
  g_clear_pointer (&c->update_out, sf_sip_msg_unref);
  g_free (c->replaces);
  g_free (c->replaced_by);
  sf_ua_leg_free (c->leg);
  g_free (c);
}

gpointer
sf_ua_inst_new (void)
{
  return g_new0 (SfUaInstance, 1);
}

void
sf_ua_inst_free (gpointer p)
{
  SfUaInstance *ui = p;
  if (ui->call != NULL)
    call_free (ui->call);
  if (ui->reg != NULL)
    sf_ua_reg_free (ui->reg);
  if (ui->msg != NULL)
    sf_ua_msg_free (ui->msg);
  if (ui->sub != NULL)
    sf_ua_sub_free (ui->sub);
  g_free (ui);
}

SfUaInstance *
sf_ua_inst (SfCtx *ctx)
{
  return sf_ctx_module_slot_ensure (ctx, &sf_ua_module, sf_ua_inst_new, sf_ua_inst_free);
}

SfUaCall *
sf_ua_call_peek (SfCtx *ctx)
{
  SfUaInstance *ui = sf_ctx_module_slot (ctx, &sf_ua_module);
  return ui != NULL ? ui->call : NULL;
}

SfUaCall *
sf_ua_call_of (SfEndpoint *ep, SfInstance *inst)
{
  SfUaInstance *ui = sf_instance_module_slot (ep, inst, &sf_ua_module);
  return ui != NULL ? ui->call : NULL;
}

gboolean
sf_ua_message_alone (SfEndpoint *ep, SfInstance *inst)
{
  SfUaInstance *ui = sf_instance_module_slot (ep, inst, &sf_ua_module);
  return ui != NULL && ui->call == NULL && ui->msg != NULL;
}

SfUaCall *
sf_ua_call (SfCtx *ctx)
{
  return sf_ua_call_ensure (sf_ua_inst (ctx));
}

SfUaCall *
sf_ua_call_ensure (SfUaInstance *ui)
{
  if (ui->call == NULL) {
    SfUaCall *c = g_new0 (SfUaCall, 1);
    c->want_dir = SF_SDP_SENDRECV;
    c->media.dtmf_pt = -1;
    ui->call = c;
  }
  return ui->call;
}

void
sf_ua_call_set_call_id (SfCtx *ctx, SfSipStr call_id)
{
  g_autofree char *id = sf_sip_str_dup (call_id);
  GString *f = g_string_new ("\"call_id\":");
  sf_json_append_string (f, id);
  sf_endpoint_set_event_fields (sf_ctx_instance (ctx), g_string_free (f, FALSE));
}

void
sf_ua_call_set_reason (SfUaCall *call, const char *reason, guint status)
{
  if (call->reason == NULL)
    call->reason = g_strdup (reason);
  if (status != 0 && call->status == 0)
    call->status = status;
}

SfSipStr
sf_ua_from_tag (SfSipMsg *m)
{
  const SfSipValue *from = m != NULL ? sf_sip_msg_from (m) : NULL;
  const SfSipParam *tag = from != NULL ? sf_sip_value_param (from, "tag") : NULL;
  return tag != NULL ? tag->value : SF_SIP_STR_NULL;
}

SfSipMsg *
sf_ua_failed_from (SfEvent *ev, SfSipStr ours)
{
  SfSipMsg *req = ev->payload;
  if (ev->kind != SF_EV_TXN || req == NULL || ours.len == 0 ||
      (strcmp (ev->name, "timeout") != 0 && strcmp (ev->name, "transport_error") != 0))
    return NULL;
  SfSipStr tag = sf_ua_from_tag (req);
  return tag.len == ours.len && memcmp (tag.p, ours.p, ours.len) == 0 ? req : NULL;
}

SfSipMsg *
sf_ua_failed_request (SfUaCall *call, SfEvent *ev)
{
  if (call == NULL)
    return NULL;
  const char *local = call->dialog != NULL ? call->dialog->local_tag : call->incoming ? call->tag : NULL;
  SfSipStr ours = local != NULL ? (SfSipStr) { local, strlen (local) }
                  : call->incoming ? SF_SIP_STR_NULL
                                   : sf_ua_from_tag (call->invite_out);
  return sf_ua_failed_from (ev, ours);
}

void
sf_ua_call_sdp_failed (SfCtx *ctx, SfUaCall *call, const char *detail)
{
  g_warning ("%s: offer/answer failed, ending the call: %s", sf_ctx_handle (ctx), detail);
  if (call->reason == NULL)
    call->detail = g_strdup (detail);
  sf_ua_call_set_reason (call, "sdp_failed", 0);
}

void
sf_ua_call_take_media (SfUaCall *call, SfSdpMedia *m)
{
  sf_sdp_media_clear (&call->media);
  call->media = *m;
  memset (m, 0, sizeof *m);
  m->dtmf_pt = -1;
  call->have_media = TRUE;
  call->media_new = TRUE;
}

SfMedia *
sf_ua_media (SfCtx *ctx)
{
  return sf_module_state (sf_ctx_endpoint (ctx), &sf_media_module);
}

gboolean
sf_ua_call_signalling_secure (SfUaCall *call)
{
  /* The hop the SDP crosses is TLS: the INVITE came over TLS, or ours leaves
   * over it (RFC 4568 8 asks for the signalling to be protected; hops past the
   * first are the proxies' business, which a sips: URI makes TLS too). */
  if (call->incoming)
    return call->invite != NULL && sf_stack_event_over_tls (call->invite);
  return call->signalling_tls;
}

/* media.srtp for @call: as configured when its signalling is secure or
 * media.srtp_insecure_signalling allows keys in the clear; otherwise offer
 * falls back to off (this call runs RTP in the clear) and require fails the
 * call (RFC 4568 8: keys only over a secure channel). */
static gboolean
call_srtp (SfCtx *ctx, SfUaCall *call, SfMedia *m, SfSdpSrtpMode *mode, GError **error)
{
  gboolean insecure_ok = FALSE;
  *mode = m != NULL ? sf_media_srtp (m, &insecure_ok) : SF_SDP_SRTP_OFF;
  if (*mode == SF_SDP_SRTP_OFF || insecure_ok || sf_ua_call_signalling_secure (call))
    return TRUE;
  if (*mode == SF_SDP_SRTP_OFFER) {
    g_info ("%s: media.srtp = offer, but SRTP keys go only over TLS signalling (media.srtp_insecure_signalling = "
            "false): RTP in the clear for this call",
            sf_ctx_handle (ctx));
    *mode = SF_SDP_SRTP_OFF;
    return TRUE;
  }
  g_set_error (error, SF_SDP_ERROR, SF_SDP_ERROR_NOT_ACCEPTABLE,
               "media.srtp = require, but SRTP keys go only over TLS signalling and this call's is not "
               "(media.srtp_insecure_signalling = true sends them anyway)");
  return FALSE;
}

SfSdpSession *
sf_ua_call_sdp (SfCtx *ctx, SfUaCall *call, const char *addr, GError **error)
{
  if (call->sdp != NULL)
    return call->sdp;
  SfMedia *m = sf_ua_media (ctx);
  static const char *const pcmu_only[] = { "PCMU", NULL };
  guint port = 40000;
  SfSdpSrtpMode srtp;
  if (!call_srtp (ctx, call, m, &srtp, error))
    return NULL;
  if (m != NULL) {
    port = sf_media_port_alloc (m);
    if (port == 0) {
      g_set_error (error, SF_SDP_ERROR, SF_SDP_ERROR_NOT_ACCEPTABLE, "no free RTP port left in media.rtp_ports");
      return NULL;
    }
    call->media_owner = m; /* the media outlives calls: the port goes back when the call goes */
    call->port_held = TRUE;
  }
  call->sdp = sf_sdp_session_new (addr, port, m != NULL ? sf_media_codecs (m) : pcmu_only, error);
  call->rtp_port = port;
  if (call->sdp != NULL)
    sf_sdp_session_set_srtp (call->sdp, srtp);
  return call->sdp;
}

char *
sf_ua_host_of (const char *hostport)
{
  if (hostport[0] == '[') {
    const char *end = strchr (hostport, ']');
    return g_strndup (hostport + 1, end != NULL ? (gsize) (end - hostport - 1) : strlen (hostport + 1));
  }
  const char *colon = strrchr (hostport, ':');
  return g_strndup (hostport, colon != NULL ? (gsize) (colon - hostport) : strlen (hostport));
}

char *
sf_ua_user (SfCtx *ctx)
{
  const char *uri = sf_ua_cfg (ctx, "uri");
  if (uri == NULL)
    return NULL;
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (uri, strlen (uri)), NULL, NULL);
  return u != NULL && sf_sip_str_is_set (u->user) ? sf_sip_str_dup (u->user) : NULL;
}

char *
sf_ua_from (SfCtx *ctx, const char *local)
{
  const char *uri = sf_ua_cfg (ctx, "uri");
  const char *name = sf_ua_cfg (ctx, "display_name");
  g_autofree char *aor = uri != NULL ? g_strdup (uri) : g_strdup_printf ("sip:sipflow@%s", local);
  if (name == NULL)
    return g_strdup_printf ("<%s>", aor);
  GString *q = g_string_new ("\"");
  for (const char *p = name; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_c (q, '\\');
    if ((guchar) *p >= 0x20)
      g_string_append_c (q, *p);
  }
  g_string_append_c (q, '"');
  g_autofree char *quoted = g_string_free (q, FALSE);
  return g_strdup_printf ("%s <%s>", quoted, aor);
}

gboolean
sf_ua_hop (SfCtx *ctx, const char *hop, SfUaHop *out)
{
  memset (out, 0, sizeof *out);
  SfStack *s = sf_stack_from_ctx (ctx);
  if (s == NULL || hop == NULL)
    return FALSE;
  const char *lt = strchr (hop, '<');
  const char *gt = lt != NULL ? strchr (lt, '>') : NULL;
  SfSipStr text = lt != NULL && gt != NULL ? sf_sip_str (lt + 1, (gsize) (gt - lt - 1)) : sf_sip_str (hop, strlen (hop));
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (text, NULL, NULL);
  out->proto = sf_stack_proto_for (s, u);
  out->local = sf_stack_local (s, out->proto);
  out->contact_proto = out->local != NULL ? out->proto : SF_SIP_UDP;
  out->sips = u != NULL && u->kind == SF_URI_SIPS;
  /* TLS is never swapped for another transport (RFC 5630): no TLS socket, the
   * Contact then names our TCP or UDP one for requests back */
  if (out->local == NULL)
    out->local = sf_stack_local (s, out->proto == SF_SIP_TCP ? SF_SIP_UDP : SF_SIP_TCP);
  if (out->local == NULL && out->proto == SF_SIP_TLS)
    out->local = sf_stack_local (s, SF_SIP_UDP);
  return out->local != NULL;
}

void
sf_ua_hop_clear (SfUaHop *h)
{
  g_clear_pointer (&h->local, g_free);
}

const char *
sf_ua_hop_transport (const SfUaHop *h)
{
  return sf_sip_proto_via (h->proto);
}

const char *
sf_ua_dialog_hop (const SfSipDialog *d)
{
  return d->route_set->len > 0 ? d->route_set->pdata[0] : d->remote_target;
}

char *
sf_ua_contact (SfCtx *ctx, const char *local, SfSipProto proto, gboolean sips)
{
  g_autofree char *user = sf_ua_user (ctx);
  if (proto == SF_SIP_TLS && sips)
    return g_strdup_printf ("<sips:%s@%s>", user != NULL ? user : "sipflow", local);
  return g_strdup_printf ("<sip:%s@%s%s%s>", user != NULL ? user : "sipflow", local, proto != SF_SIP_UDP ? ";transport=" : "",
                          proto != SF_SIP_UDP ? sf_sip_proto_name (proto) : "");
}

void
sf_ua_call_emit_end (SfCtx *ctx, SfUaCall *call)
{
  if (call->ended_emitted)
    return;
  call->ended_emitted = TRUE;
  /* a referred call that ends without a final response of its own (a
   * timeout, a cancel): its notifier hears of a failure all the same */
  sf_ua_refer_progress (ctx, call, call->status >= 300 ? call->status : call->up_us > 0 ? 200 : 500,
                        call->status >= 300 ? "Call Failed" : call->up_us > 0 ? "OK" : "Call Failed");
  SfStack *stack = sf_stack_from_ctx (ctx);
  if (stack != NULL) /* 487: an INVITE cancelled, by us (outgoing) or the caller */
    sf_stack_count_call (stack, call->incoming, call->up_us > 0,
                         g_strcmp0 (call->reason, "cancelled") == 0 || call->status == 487, call->status);
  if (call->stream != NULL) {
    sf_media_stats (call->stream, &call->last_stats);
    call->have_stats = TRUE;
    g_clear_pointer (&call->stream, sf_media_stop);
  }
  GString *f = g_string_new (NULL);
  g_string_append (f, "\"direction\":");
  sf_json_append_string (f, call->incoming ? "incoming" : "outgoing");
  g_string_append (f, ",\"reason\":");
  sf_json_append_string (f, call->reason != NULL ? call->reason : "ended");
  if (call->detail != NULL) {
    g_string_append (f, ",\"detail\":");
    sf_json_append_string (f, call->detail);
  }
  g_string_append_printf (f, ",\"status\":%u", call->status);
  if (call->referred_by != NULL) { /* a call a REFER made (RFC 3515) */
    g_string_append (f, ",\"referred_by\":");
    sf_json_append_string (f, call->referred_by);
  }
  gint64 now = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
  g_string_append_printf (f, ",\"duration_s\":%.3f", call->up_us > 0 ? (double) (now - call->up_us) / 1e6 : 0.0);
  if (call->have_stats) {
    g_autofree char *st = sf_media_stats_json (&call->last_stats);
    g_string_append_printf (f, ",\"media\":%s", st);
  } else {
    g_string_append (f, ",\"media\":null");
  }
  sf_ctx_emit (ctx, "call_end", f->str);
  if (call->leg != NULL) {
    /* a B2BUA leg: the bridge ends or fails over the other leg (docs/b2bua.md) */
    SfUaLegNote *n = sf_ua_leg_note_new (call->status, NULL, NULL);
    n->reason = g_strdup (call->reason != NULL ? call->reason : "ended");
    /* the leg's INVITE (B's, or the one A took): the bridge reads B's
     * Call-ID from it when B refused before any 1xx, and the leg is gone by
     * the time the bridge reads the note */
    SfSipMsg *inv = call->invite_out != NULL ? call->invite_out : call->invite != NULL ? call->invite->msg : NULL;
    n->msg = inv != NULL ? sf_sip_msg_ref (inv) : NULL;
    sf_ua_leg_notify (ctx, SF_UA_LEG_UP_CALL_END, n);
  }
  g_string_free (f, TRUE);
}

void
sf_ua_auth_clear (SfUaAuth *a)
{
  g_clear_pointer (&a->www, g_free);
  g_clear_pointer (&a->proxy, g_free);
  g_clear_pointer (&a->nonces, g_ptr_array_unref);
  a->tries = 0;
}

const char *const *
sf_ua_auth_lines (const SfUaAuth *a, const char *out[3])
{
  guint n = 0;
  if (a->www != NULL)
    out[n++] = a->www;
  if (a->proxy != NULL)
    out[n++] = a->proxy;
  out[n] = NULL;
  return out;
}

gboolean
sf_ua_credentials (SfCtx *ctx, SfSipMsg *req, SfSipMsg *resp, SfUaAuth *a, GError **error)
{
  guint status = sf_sip_msg_status (resp);
  const char *password = sf_ua_cfg (ctx, "password");
  if (password == NULL) {
    g_set_error (error, SF_DIGEST_ERROR, SF_DIGEST_ERROR_UNSUPPORTED, "challenged (%u), and ua.password is not set",
                 status);
    return FALSE;
  }
  if (a->tries >= SF_UA_MAX_CHALLENGES) {
    g_set_error (error, SF_DIGEST_ERROR, SF_DIGEST_ERROR_INVALID, "challenged %u times for one request: giving up",
                 a->tries + 1);
    return FALSE;
  }
  SfSipValues *ch =
      sf_sip_msg_values (resp, status == 401 ? SF_SIP_HDR_WWW_AUTHENTICATE : SF_SIP_HDR_PROXY_AUTHENTICATE, error);
  g_autoptr (SfDigestChallenge) c = ch != NULL ? sf_digest_challenge_pick (ch, error) : NULL;
  if (c == NULL)
    return FALSE;
  for (guint i = 0; a->nonces != NULL && i < a->nonces->len && !c->stale; i++)
    if (strcmp (a->nonces->pdata[i], c->nonce) == 0) {
      g_set_error (error, SF_DIGEST_ERROR, SF_DIGEST_ERROR_INVALID,
                   "%u again for a nonce we answered: the credentials were refused", status);
      return FALSE;
    }
  const char *user = sf_ua_cfg (ctx, "auth_user");
  g_autofree char *aor_user = user == NULL ? sf_ua_user (ctx) : NULL;
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (req));
  g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (req)->raw);
  g_autofree char *cred = sf_digest_authorization (c, user != NULL ? user : aor_user, password, method, ruri, NULL, 1);
  char **slot = status == 401 ? &a->www : &a->proxy;
  g_free (*slot);
  *slot = g_strdup_printf ("%s: %s", status == 401 ? "Authorization" : "Proxy-Authorization", cred);
  if (a->nonces == NULL)
    a->nonces = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (a->nonces, g_strdup (c->nonce));
  a->tries++;
  return TRUE;
}

gboolean
sf_ua_flow_binds (SfCtx *ctx, const char *op_name)
{
  SfInstance *inst = ctx != NULL ? sf_ctx_instance (ctx) : NULL;
  return inst == NULL || sf_machine_binds (sf_instance_machine (inst), op_name);
}

gboolean
sf_ua_supports (SfCtx *ctx, const char *tag)
{
  if (strcmp (tag, "timer") == 0) {
    const char *st = sf_ua_cfg (ctx, "session_timer");
    /* RFC 4028; a flow without the refresh cannot keep a promise to refresh */
    return (st == NULL || strcmp (st, "off") != 0) && sf_ua_flow_binds (ctx, "OpSessionRefresh");
  }
  if (g_ascii_strcasecmp (tag, "100rel") == 0)
    return sf_ua_prack_on (ctx);
  if (g_ascii_strcasecmp (tag, "replaces") == 0)
    return sf_ua_replaces_on (ctx); /* RFC 3891 6.2; a flow without OpReplaces does not claim it */
  return FALSE; /* each extension adds its option tag here */
}

char *
sf_ua_supported_line (SfCtx *ctx)
{
  static const char *const tags[] = { "100rel", "timer", "replaces", NULL }; /* every option tag sf_ua_supports knows */
  GString *line = g_string_new ("Supported: ");
  gboolean first = TRUE;
  for (guint i = 0; tags[i] != NULL; i++)
    if (sf_ua_supports (ctx, tags[i])) {
      g_string_append_printf (line, "%s%s", first ? "" : ", ", tags[i]);
      first = FALSE;
    }
  return g_string_free (line, FALSE);
}

char *
sf_ua_unsupported (SfCtx *ctx, SfSipMsg *msg)
{
  SfSipValues *req = sf_sip_msg_values (msg, SF_SIP_HDR_REQUIRE, NULL);
  if (req == NULL || req->len == 0)
    return NULL;
  GString *tags = NULL;
  for (guint i = 0; i < req->len; i++) {
    g_autofree char *t = sf_sip_str_dup (((SfSipValue *) req->pdata[i])->text);
    if (sf_ua_supports (ctx, t))
      continue;
    if (tags == NULL)
      tags = g_string_new ("Unsupported: ");
    else
      g_string_append (tags, ", ");
    g_string_append (tags, t);
  }
  return tags == NULL ? NULL : g_string_free (tags, FALSE);
}
