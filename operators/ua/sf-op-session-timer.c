/* sf-op-session-timer.c: session timers (RFC 4028) in both roles of the user
 * agent.  A session has an interval (Session-Expires) and a refresher, agreed
 * in the 2xx of the INVITE and of each refresh (re-INVITE or UPDATE); the
 * refresher refreshes at half the interval (10), the other side sends BYE when
 * no refresh came by the interval less min (32, interval / 3) (10).  What a
 * call keeps is in SfUaCall's session-timer block (sf-ua-call.h); the parsers
 * and the arithmetic are sf-session-timer.h's.  docs/ua.md "Session timers
 * (RFC 4028)". */
#include "config.h"
#include "sf-session-timer.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include <string.h>
#include <stdlib.h>

/* ---- parsing (RFC 4028 4, 5) ---- */

/* delta-seconds (RFC 3261 25.1: 1*DIGIT) at the front of @v, up to ';' or
 * the end; LWS around it allowed.  The rest, from ';', in *@rest. */
static gboolean
parse_delta (const char *v, const char *header, guint *out, const char **rest, GError **error)
{
  const char *p = v;
  while (*p == ' ' || *p == '\t')
    p++;
  const char *start = p;
  while (g_ascii_isdigit (*p))
    p++;
  const char *end = p;
  while (*p == ' ' || *p == '\t')
    p++;
  if (end == start || (*p != '\0' && *p != ';')) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: expected delta-seconds, got '%s'", header, v);
    return FALSE;
  }
  guint64 n = 0;
  const char *sig = start; /* 1*DIGIT: leading zeros do not count against the length */
  while (sig + 1 < end && *sig == '0')
    sig++;
  if (end - sig > 9 || !sf_sip_str_to_u64 (sf_sip_str (sig, (gsize) (end - sig)), SF_UA_SE_MAX, &n)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %.*s out of range (at most %u)", header,
                 (int) (end - start), start, SF_UA_SE_MAX);
    return FALSE;
  }
  *out = (guint) n;
  *rest = p;
  return TRUE;
}

/* Generic parameters ";name[=value]" of @rest (RFC 3261 25.1), handed to
 * @each; FALSE when one is not a token (or quoted string) or @each refuses. */
static gboolean
parse_params (const char *rest, const char *header,
              gboolean (*each) (const char *name, const char *value, gpointer data), gpointer data, GError **error)
{
  if (*rest == '\0')
    return TRUE;
  if (rest[1] == '\0') {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: ';' without a parameter", header);
    return FALSE;
  }
  g_auto (GStrv) parts = g_strsplit (rest + 1, ";", -1); /* rest starts with ';' */
  for (guint i = 0; parts[i] != NULL; i++) {
    g_strstrip (parts[i]);
    char *eq = strchr (parts[i], '=');
    if (eq != NULL)
      *eq = '\0';
    char *name = g_strstrip (parts[i]);
    char *value = eq != NULL ? g_strstrip (eq + 1) : NULL;
    gboolean ok = *name != '\0' && (value == NULL || *value != '\0');
    for (const char *c = name; ok && *c != '\0'; c++)
      ok = g_ascii_isalnum (*c) || strchr ("-.!%*_+`'~", *c) != NULL;
    if (ok && each != NULL)
      ok = each (name, value, data);
    if (!ok) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: bad parameter '%s%s%s'", header, name,
                   value != NULL ? "=" : "", value != NULL ? value : "");
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
se_param (const char *name, const char *value, gpointer data)
{
  SfUaRefresher *r = data;
  if (g_ascii_strcasecmp (name, "refresher") != 0)
    return TRUE; /* generic-param: ignored */
  if (*r != SF_UA_REFRESHER_NONE || value == NULL)
    return FALSE; /* twice, or without its value */
  if (g_ascii_strcasecmp (value, "uac") == 0)
    *r = SF_UA_REFRESHER_UAC;
  else if (g_ascii_strcasecmp (value, "uas") == 0)
    *r = SF_UA_REFRESHER_UAS;
  else
    return FALSE;
  return TRUE;
}

gboolean
sf_ua_se_parse_session_expires (const char *value, guint *se, SfUaRefresher *refresher, GError **error)
{
  const char *rest;
  *refresher = SF_UA_REFRESHER_NONE;
  return parse_delta (value, "Session-Expires", se, &rest, error) &&
         parse_params (rest, "Session-Expires", se_param, refresher, error);
}

gboolean
sf_ua_se_parse_min_se (const char *value, guint *min_se, GError **error)
{
  const char *rest;
  return parse_delta (value, "Min-SE", min_se, &rest, error) && parse_params (rest, "Min-SE", NULL, NULL, error);
}

/* Does a list header of @msg name @token (option tags, methods)? */
static gboolean
lists (SfSipMsg *msg, SfSipHdrId id, const char *token)
{
  SfSipValues *vs = sf_sip_msg_values (msg, id, NULL);
  for (guint i = 0; vs != NULL && i < vs->len; i++)
    if (sf_sip_str_caseeq (((SfSipValue *) vs->pdata[i])->text, token))
      return TRUE;
  return FALSE;
}

gboolean
sf_ua_se_parse (SfSipMsg *msg, SfUaSeHeaders *out, GError **error)
{
  memset (out, 0, sizeof *out);
  gboolean seen_se = FALSE, seen_min = FALSE;
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    if (h->id != SF_SIP_HDR_OTHER)
      continue;
    gboolean se = sf_sip_str_caseeq (h->name, "Session-Expires") || sf_sip_str_caseeq (h->name, "x");
    gboolean min = sf_sip_str_caseeq (h->name, "Min-SE");
    if (!se && !min)
      continue;
    if ((se && seen_se) || (min && seen_min)) {
      /* RFC 4028 4, 5: a single value each (no list form) */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: more than one", se ? "Session-Expires" : "Min-SE");
      return FALSE;
    }
    g_autofree char *v = sf_sip_str_dup (h->value);
    if (se && !sf_ua_se_parse_session_expires (v, &out->se, &out->refresher, error))
      return FALSE;
    if (min && !sf_ua_se_parse_min_se (v, &out->min_se, error))
      return FALSE;
    seen_se |= se;
    seen_min |= min;
  }
  if (seen_se && out->se == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Session-Expires: 0 is no session interval");
    return FALSE;
  }
  out->required = lists (msg, SF_SIP_HDR_REQUIRE, "timer");
  out->supported = out->required || lists (msg, SF_SIP_HDR_SUPPORTED, "timer");
  out->allows_update = lists (msg, SF_SIP_HDR_ALLOW, "UPDATE");
  return TRUE;
}

/* ---- the negotiation and the arithmetic ---- */

void
sf_ua_se_answer (const SfUaSeHeaders *req, guint ours, guint min, SfUaSeAnswer *out)
{
  memset (out, 0, sizeof *out);
  /* Min-SE in the request raises our floor (RFC 4028 5, 9), never below 90 s. */
  guint floor = MAX (MAX (min, req->min_se), SF_UA_SE_FLOOR);
  if (req->se != 0) {
    if (req->se < floor) {
      if (req->supported) {
        /* 9: too small, and the UAC can retry: 422 with our floor. */
        out->reject_min_se = floor;
        return;
      }
      /* The UAC cannot understand a 422 (a proxy put the header in):
       * raised to the floor instead (erratum 1687, as 8.1 for proxies). */
      out->interval = floor;
    } else {
      /* 9: the same or lower, never below the floor, never higher. */
      out->interval = MAX (MIN (req->se, ours), floor);
    }
  } else {
    /* 9: the UAC did not ask; we may (a session timer bounds the call). */
    out->interval = MAX (ours, floor);
  }
  /* 9's table: a UAC without timer support cannot refresh for us: uas; a UAC
   * that named the refresher gets its choice; one that asked without naming
   * it refreshes (it wanted the timer); one that did not ask: we do. */
  if (!req->supported)
    out->refresher = SF_UA_REFRESHER_UAS;
  else if (req->refresher != SF_UA_REFRESHER_NONE)
    out->refresher = req->refresher;
  else
    out->refresher = req->se != 0 ? SF_UA_REFRESHER_UAC : SF_UA_REFRESHER_UAS;
  /* 9: Require: timer MUST go with refresher=uac, SHOULD with uas when the UAC supports timer. */
  out->require = req->supported;
}

guint64
sf_ua_se_refresh_ms (guint interval)
{
  return (guint64) interval * 1000 / 2;
}

guint64
sf_ua_se_expire_ms (guint interval)
{
  return ((guint64) interval - MIN (32, interval / 3)) * 1000;
}

/* ---- the call's timers ---- */

static gboolean
timers_on (SfCtx *ctx)
{
  return sf_ua_supports (ctx, "timer");
}

/* The interval @interval is in force with us (@we) or the peer refreshing:
 * the timers restart (0: none); event session_timer. */
static void
arm (SfCtx *ctx, SfUaCall *call, guint interval, gboolean we)
{
  sf_ctx_timer_cancel (ctx, "session_refresh");
  sf_ctx_timer_cancel (ctx, "session_expires");
  call->se_interval = interval;
  call->se_refresher = we && interval != 0;
  call->se_422 = 0;
  if (interval != 0) {
    if (we)
      sf_ctx_timer_start (ctx, "session_refresh", sf_ua_se_refresh_ms (interval));
    /* both roles watch: the refresher too, should its refreshes fail (10) */
    sf_ctx_timer_start (ctx, "session_expires", sf_ua_se_expire_ms (interval));
    call->se_want = interval;
  }
  g_autofree char *f = g_strdup_printf ("\"interval\":%u,\"refresher\":\"%s\"", interval,
                                        interval == 0 ? "none" : we ? "local" : "remote");
  sf_ctx_emit (ctx, "session_timer", f);
}

/* Our floor and request interval, from the configuration, on first use. */
static void
init_want (SfCtx *ctx, SfUaCall *call)
{
  if (call->se_min == 0)
    call->se_min = (guint) sf_ua_cfg_int (ctx, "min_se");
  if (call->se_want == 0)
    call->se_want = (guint) sf_ua_cfg_int (ctx, "session_expires");
  call->se_want = MAX (call->se_want, call->se_min);
}

char **
sf_ua_se_invite_lines (SfCtx *ctx, SfUaCall *call)
{
  if (!timers_on (ctx))
    return NULL;
  init_want (ctx, call);
  GPtrArray *l = g_ptr_array_new ();
  /* 7.1: Supported: timer on every request; Session-Expires and Min-SE are
   * ours to add; the refresher is left to the UAS (9). */
  g_ptr_array_add (l, g_strdup ("Supported: timer"));
  g_ptr_array_add (l, g_strdup_printf ("Session-Expires: %u", call->se_want));
  g_ptr_array_add (l, g_strdup_printf ("Min-SE: %u", call->se_min));
  const char *mode = sf_ua_cfg (ctx, "session_timer");
  if (mode != NULL && strcmp (mode, "required") == 0)
    g_ptr_array_add (l, g_strdup ("Require: timer"));
  g_ptr_array_add (l, NULL);
  return (char **) g_ptr_array_free (l, FALSE);
}

char **
sf_ua_se_request_lines (SfCtx *ctx, SfUaCall *call, gboolean refresh)
{
  if (!timers_on (ctx))
    return NULL;
  init_want (ctx, call);
  /* 7.4: Supported: timer, the interval in force (raised by a 422), the
   * highest Min-SE seen; refresher=uac when we refresh (it stays ours), uas
   * when the peer does (it stays the peer's); no parameter without a timer */
  gboolean ours = refresh || call->se_refresher;
  char **l = g_new0 (char *, 4);
  l[0] = g_strdup ("Supported: timer");
  guint se = MAX (call->se_want, call->se_min);
  if (call->se_interval == 0 && !refresh)
    l[1] = g_strdup_printf ("Session-Expires: %u", se);
  else
    l[1] = g_strdup_printf ("Session-Expires: %u;refresher=%s", se, ours ? "uac" : "uas");
  l[2] = g_strdup_printf ("Min-SE: %u", call->se_min);
  return l;
}

void
sf_ua_se_response_lines (SfCtx *ctx, SfSipMsg *req, guint status, SfSipBuilder *b)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (status / 100 != 2 || call == NULL || !timers_on (ctx) || !sf_sip_msg_is_request (req))
    return;
  gboolean invite = sf_sip_str_eq (sf_sip_msg_method (req), "INVITE");
  gboolean update = sf_sip_str_eq (sf_sip_msg_method (req), "UPDATE");
  /* an UPDATE in the early dialog refreshes nothing: the timers start with the INVITE's 2xx */
  if (!invite && !(update && call->dialog != NULL && !call->dialog->early && call->up_us != 0))
    return;
  SfUaSeHeaders h;
  if (!sf_ua_se_parse (req, &h, NULL))
    return; /* OpSessionCheck answered it 400; a flow without it: no timer */
  init_want (ctx, call);
  SfUaSeAnswer a;
  sf_ua_se_answer (&h, (guint) sf_ua_cfg_int (ctx, "session_expires"), call->se_min, &a);
  if (a.reject_min_se != 0)
    return; /* OpSessionCheck's 422; without it, no timer rather than a refused interval */
  call->se_peer_timer = h.supported;
  if (invite && !call->final_sent)
    call->se_peer_update = h.allows_update; /* the INVITE's Allow; later requests may omit it */
  else if (h.allows_update)
    call->se_peer_update = TRUE;
  call->se_min = MAX (call->se_min, h.min_se); /* 7.4: later requests carry the highest Min-SE seen */
  sf_sip_builder_add (b, "Session-Expires", "%u;refresher=%s", a.interval,
                      a.refresher == SF_UA_REFRESHER_UAC ? "uac" : "uas");
  if (a.require)
    sf_sip_builder_add (b, "Require", "timer");
  if (sf_sip_value_param (sf_sip_msg_to (req), "tag") != NULL) {
    GString *f = g_string_new ("\"direction\":\"in\",\"method\":");
    sf_json_append_string (f, update ? "UPDATE" : "INVITE");
    sf_ctx_emit (ctx, "session_refresh", f->str);
    g_string_free (f, TRUE);
  }
  /* The 2xx goes next (the caller sends what it built): the session is
   * refreshed from now (10), we are the UAS of this request. */
  arm (ctx, call, a.interval, a.refresher == SF_UA_REFRESHER_UAS);
}

void
sf_ua_se_take_2xx (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp)
{
  if (!timers_on (ctx))
    return;
  SfUaSeHeaders h;
  g_autoptr (GError) error = NULL;
  if (!sf_ua_se_parse (resp, &h, &error)) {
    /* The session is up: a 2xx is not refused; we keep it alive ourselves. */
    g_info ("%s: the 2xx's %s: we refresh at our interval", sf_ctx_handle (ctx), error->message);
    init_want (ctx, call);
    arm (ctx, call, call->se_want, TRUE);
    return;
  }
  if (h.allows_update)
    call->se_peer_update = TRUE;
  else if (sf_sip_msg_find (resp, SF_SIP_HDR_ALLOW) != NULL)
    call->se_peer_update = FALSE;
  call->se_peer_timer = h.supported;
  if (h.se == 0) {
    /* 7.4: no Session-Expires in the 2xx: no session timer. */
    arm (ctx, call, 0, FALSE);
    return;
  }
  /* 7.2: refresher=uac: we (the UAC of this request) refresh; a 2xx without
   * the parameter (against 9) is taken as ours to refresh, the safe side. */
  arm (ctx, call, MAX (h.se, SF_UA_SE_FLOOR), h.refresher != SF_UA_REFRESHER_UAS);
}

/* ---- operators ---- */

static const char *const check_outcomes[] = { "refused", NULL };

/* An INVITE (new or re-INVITE) or UPDATE: its Session-Expires and Min-SE read
 * strictly (400 naming the header), an interval below our floor refused with
 * 422 and Min-SE when the request supports timer (RFC 4028 9; without
 * support it is raised instead, in the 2xx).  A new INVITE refused: outcome
 * refused (the call ends); in a call: the call goes on.  Accepted: skipped,
 * for the next operators to answer (a flow that serves none, an UPDATE before
 * RFC 3311 is served, still gets 405 from the framework); their 2xx
 * (sf_ua_build_response) carries the interval, restarts the timers and, for a
 * refresh, writes session_refresh.  Under session_timer off: not its business. */
static SfOpResult
sf_op_session_check (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || e->txn == NULL || !sf_sip_msg_is_request (e->msg) || !timers_on (ctx) ||
      (strcmp (ev->name, "INVITE") != 0 && strcmp (ev->name, "UPDATE") != 0))
    return SF_OP_SKIP;
  SfUaCall *kept = sf_ua_call_peek (ctx);
  gboolean in_dialog = sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL;
  gboolean new_invite = strcmp (ev->name, "INVITE") == 0 && !in_dialog && (kept == NULL || kept->invite == NULL);
  if (!new_invite && !in_dialog)
    return SF_OP_SKIP;
  SfUaSeHeaders h;
  g_autoptr (GError) error = NULL;
  guint status = 0;
  g_autofree char *reason = NULL, *min_line = NULL;
  SfUaSeAnswer a = { 0 };
  if (!sf_ua_se_parse (e->msg, &h, &error)) {
    status = 400;
    /* the message quotes the peer's value: a reason phrase is part of the
     * start line of a message we build and reparse, so it stays short (a
     * 5000-byte value once made the 400 unbuildable: no answer, and the new
     * call's instance left in Idle for good) */
    reason = g_strdup_printf ("Bad Request (%.*s%s)", (int) MIN (strlen (error->message), 120), error->message,
                              strlen (error->message) > 120 ? "..." : "");
  } else {
    guint min = kept != NULL && kept->se_min != 0 ? kept->se_min : (guint) sf_ua_cfg_int (ctx, "min_se");
    sf_ua_se_answer (&h, (guint) sf_ua_cfg_int (ctx, "session_expires"), min, &a);
    if (a.reject_min_se != 0) {
      status = 422;
      min_line = g_strdup_printf ("Min-SE: %u", a.reject_min_se);
    }
  }
  if (status == 0)
    return SF_OP_SKIP; /* not answered: the next operators serve it (and a flow that serves none answers 405) */
  const char *tag = new_invite ? sf_ua_call_screened (ctx, e)->tag : NULL;
  const char *const lines[] = { min_line, NULL };
  g_info ("%s: %s: %u %s", sf_ctx_handle (ctx), ev->name, status, reason != NULL ? reason : min_line);
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, status, reason, tag, lines, NULL);
  if (r == NULL && reason != NULL) {
    /* still no message (a value cut inside a quoted string...): the header named alone */
    g_autofree char *named = g_strdup_printf ("Bad Request (%.*s)", (int) strcspn (error->message, ":"), error->message);
    r = sf_sip_create_response_with (e->msg, status, named, tag, lines, NULL);
  }
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r)) {
    if (!new_invite)
      return SF_OP_ERROR;
    g_warning ("%s: %s: no %u could go: the call ends (the transaction answers 500)", sf_ctx_handle (ctx),
               ev->name, status);
  }
  g_autofree char *f =
    g_strdup_printf ("\"status\":%u,\"method\":\"%s\",\"min_se\":%u", status, ev->name, a.reject_min_se);
  sf_ctx_emit (ctx, "session_refused", f);
  if (!new_invite)
    return SF_OP_DONE;
  sf_ua_call_set_reason (sf_ua_call_peek (ctx), status == 422 ? "session_interval_too_small" : "bad_request", status);
  return SF_OP_OUTCOME (0);
}

/* Our refresh (10): UPDATE without a body when ua.session_refresh is update
 * and the peer's Allow lists UPDATE (or we have no SDP to repeat), else a
 * re-INVITE with the SDP we sent last, its version unchanged (RFC 6337 5.3:
 * no change to the session).  Session-Expires with refresher=uac keeps us the
 * refresher (7.4).  FALSE when it cannot go. */
static gboolean
send_refresh (SfCtx *ctx, SfUaCall *call)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (s == NULL || call->dialog == NULL)
    return FALSE;
  const char *mode = sf_ua_cfg (ctx, "session_refresh");
  /* a B2BUA leg repeats the SDP it relayed last (docs/ua.md "Leg mode") */
  const char *sdp = call->leg != NULL ? call->leg->last_sdp
                    : call->sdp != NULL ? sf_sdp_session_last_sent (call->sdp)
                                        : NULL;
  gboolean update = (mode == NULL || strcmp (mode, "update") == 0) && call->se_peer_update;
  if (sdp == NULL)
    update = TRUE; /* nothing to repeat in a re-INVITE */
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    return FALSE;
  g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
  g_auto (GStrv) lines = sf_ua_se_request_lines (ctx, call, TRUE);
  const char *const *extra = (const char *const *) lines;
  SfSipDialogRequest r = { .method = update ? "UPDATE" : "INVITE", .via_sent_by = hop.local,
                           .transport = sf_ua_hop_transport (&hop), .contact = contact, .extra = extra };
  if (!update) {
    r.content_type = "application/sdp";
    r.body = sdp;
    r.body_len = strlen (sdp);
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *next_hop = NULL;
  SfSipMsg *req = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
  if (req == NULL) {
    g_warning ("%s: session refresh: %s", sf_ctx_handle (ctx), error->message);
    return FALSE;
  }
  g_clear_pointer (&call->refresh_out, sf_sip_msg_unref);
  call->refresh_out = req;
  if (!update) {
    /* a re-INVITE like any other: one at a time (OpHold waits, a re-INVITE from the peer gets 491, 14.2) */
    call->reinvite_out = sf_sip_msg_ref (req);
    call->offer_out = TRUE;
  }
  sf_stack_request_to (s, sf_ctx_instance (ctx), req, next_hop);
  GString *f = g_string_new ("\"direction\":\"out\",\"method\":");
  sf_json_append_string (f, r.method);
  g_string_append_printf (f, ",\"interval\":%u", MAX (call->se_want, call->se_min));
  sf_ctx_emit (ctx, "session_refresh", f->str);
  g_string_free (f, TRUE);
  return TRUE;
}

/* Not now (another request of ours in progress, our 2xx not ACKed yet, a 491):
 * the refresh again after @ms. */
static void
refresh_later (SfCtx *ctx, guint64 ms)
{
  sf_ctx_timer_start (ctx, "session_refresh", ms);
}

/* timer:session_refresh: we are the refresher, half the interval is gone
 * (RFC 4028 10): the refresh goes, unless a request of ours is in progress or
 * our 2xx waits for its ACK (RFC 3261 14.1, RFC 3264 4): then again in 2 s
 * (the session_expires timer bounds the waiting). */
static SfOpResult
sf_op_session_refresh (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "session_refresh") != 0 || call == NULL || !call->se_refresher || call->se_interval == 0)
    return SF_OP_SKIP;
  /* Our re-INVITE or UPDATE refused 491 waits for its retry (RFC 3261 14.1):
   * it goes first.  A refresh sent in that gap took the retry's place (the
   * hold's 200 read as the refresh's, or the refresh's as the hold's: our
   * refresh then pending for ever, the session expired on a healthy call). */
  gboolean glare = sf_ctx_timer_running (ctx, "reinvite_glare") || call->update_due;
  if (call->refresh_out != NULL || call->reinvite_out != NULL || call->ok != NULL || call->offer_in ||
      call->offer_out || glare || !send_refresh (ctx, call))
    refresh_later (ctx, 2000);
  return SF_OP_DONE;
}

static const char *const refreshed_outcomes[] = { "dialog_gone", NULL };

/* Is @ev a response to (or the failure of) our refresh? */
static gboolean
is_ours (SfUaCall *call, SfEvent *ev, SfSipMsg *m)
{
  if (call == NULL || call->refresh_out == NULL || m == NULL)
    return FALSE;
  const SfSipValue *cs = sf_sip_msg_cseq (m), *ours = sf_sip_msg_cseq (call->refresh_out);
  return cs->number == ours->number && cs->text.len == ours->text.len &&
         memcmp (cs->text.p, ours->text.p, cs->text.len) == 0;
}

/* The ACK of our refresh re-INVITE's 2xx (13.2.2.4), kept for its retransmissions (OpAckAgain). */
static gboolean
ack_refresh (SfCtx *ctx, SfUaCall *call, SfSipMsg *inv)
{
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    return FALSE;
  SfSipDialogRequest r = { .method = "ACK", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .cseq = (guint32) sf_sip_msg_cseq (inv)->number };
  g_autofree char *next_hop = NULL;
  g_autoptr (SfSipMsg) ack = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, NULL);
  if (ack == NULL)
    return FALSE;
  sf_stack_send_request_to (sf_stack_from_ctx (ctx), ack, next_hop);
  g_clear_pointer (&call->ack, sf_sip_msg_unref);
  call->ack = sf_sip_msg_ref (ack);
  return TRUE;
}

/* The responses to our refresh (RFC 4028 10): a 2xx restarts the timers with
 * its Session-Expires (none: no session timer, 7.4), a re-INVITE's gets its
 * ACK and its answer is taken; 422 raises the interval to its Min-SE and the
 * refresh goes again (bounded); 491 again 2.1-4 s later (0-2 s when the peer
 * owns the Call-ID, RFC 3261 14.1); 405 or 501 to an UPDATE: a re-INVITE
 * instead; 408, 481, a timeout or a transport error: outcome dialog_gone (the
 * flow sends BYE); others leave the session as it was, to expire.  Other
 * responses are not its business. */
static SfOpResult
sf_op_session_refreshed (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (ev->kind == SF_EV_TXN) {
    if (!is_ours (call, ev, sf_ua_failed_request (call, ev)))
      return SF_OP_SKIP;
    g_clear_pointer (&call->refresh_out, sf_sip_msg_unref);
    g_clear_pointer (&call->reinvite_out, sf_sip_msg_unref);
    call->offer_out = FALSE;
    gboolean timeout = strcmp (ev->name, "timeout") == 0;
    sf_ua_call_set_reason (call, "session_refresh_failed", timeout ? 408 : 503);
    sf_ctx_emit (ctx, "session_refresh_failed", timeout ? "\"status\":408" : "\"status\":503");
    return SF_OP_OUTCOME (0);
  }
  SfSipEvent *e = ev->payload;
  if (ev->kind != SF_EV_SIP || strcmp (ev->name, "response") != 0 || e == NULL || !is_ours (call, ev, e->msg))
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status < 200)
    return SF_OP_DONE;
  g_autoptr (SfSipMsg) req = g_steal_pointer (&call->refresh_out);
  gboolean invite = sf_sip_str_eq (sf_sip_msg_method (req), "INVITE");
  if (invite) {
    g_clear_pointer (&call->reinvite_out, sf_sip_msg_unref);
    call->offer_out = FALSE;
  }
  if (status / 100 == 2) {
    if (invite) {
      sf_sip_dialog_update_uac (call->dialog, e->msg, TRUE, NULL); /* a target refresh (12.2.1.2) */
      if (!ack_refresh (ctx, call, req))
        g_warning ("%s: no ACK for the refresh's %u", sf_ctx_handle (ctx), status);
      SfSipStr body = sf_sip_msg_body (e->msg);
      g_autoptr (GError) error = NULL;
      g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
      /* the same offer, the same answer expected: one we cannot take leaves the stream as it was */
      if (body.len > 0 && call->sdp != NULL && !sf_sdp_session_take_answer (call->sdp, body.p, body.len, &m, &error))
        g_info ("%s: the answer to our refresh: %s (the stream stays)", sf_ctx_handle (ctx), error->message);
    }
    sf_ua_se_take_2xx (ctx, call, e->msg);
    return SF_OP_DONE;
  }
  g_autofree char *f = g_strdup_printf ("\"status\":%u,\"method\":\"%s\"", status, invite ? "INVITE" : "UPDATE");
  if (status == 408 || status == 481) {
    /* 10: the session is gone: BYE */
    sf_ua_call_set_reason (call, "session_refresh_failed", status);
    sf_ctx_emit (ctx, "session_refresh_failed", f);
    return SF_OP_OUTCOME (0);
  }
  if (status == 422) {
    SfUaSeHeaders h;
    if (sf_ua_se_parse (e->msg, &h, NULL) && h.min_se > 0 && call->se_422 < SF_UA_SE_MAX_422) {
      call->se_422++;
      call->se_min = MAX (call->se_min, h.min_se);
      call->se_want = MAX (call->se_want, call->se_min);
      if (send_refresh (ctx, call))
        return SF_OP_DONE;
    }
  } else if (status == 491) {
    /* RFC 3261 14.1: the Call-ID's owner (the caller) waits 2.1-4 s, the other 0-2 s */
    refresh_later (ctx, call->incoming ? (guint64) g_random_int_range (0, 2001)
                                       : (guint64) g_random_int_range (2100, 4001));
    return SF_OP_DONE;
  } else if (!invite && (status == 405 || status == 501)) {
    call->se_peer_update = FALSE; /* the peer does not take UPDATE after all */
    if (send_refresh (ctx, call))
      return SF_OP_DONE;
  }
  /* refused: the session stays as it was, and expires unless a refresh comes (10) */
  g_info ("%s: our session refresh got %u", sf_ctx_handle (ctx), status);
  sf_ctx_emit (ctx, "session_refresh_failed", f);
  return SF_OP_DONE;
}

/* timer:session_expires: no refresh came in time (RFC 4028 10): the call
 * ends with our BYE (reason session_expired); transitions. */
static SfOpResult
sf_op_session_expired (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "session_expires") != 0 || call == NULL || call->se_interval == 0)
    return SF_OP_SKIP;
  sf_ctx_timer_cancel (ctx, "session_refresh");
  sf_ua_call_set_reason (call, "session_expired", 0);
  g_autofree char *f = g_strdup_printf ("\"interval\":%u,\"refresher\":\"%s\"", call->se_interval,
                                        call->se_refresher ? "local" : "remote");
  sf_ctx_emit (ctx, "session_expired", f);
  return SF_OP_TRANSITION;
}

/* Is @ev a response to the INVITE we sent last, not cancelled, with session timers on? */
static gboolean
to_our_invite (SfCtx *ctx, SfUaCall *call, SfEvent *ev)
{
  SfSipEvent *e = ev->payload;
  return strcmp (ev->name, "response") == 0 && e != NULL && call != NULL && call->invite_out != NULL &&
         !call->cancelling && timers_on (ctx) && sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "INVITE") &&
         sf_sip_msg_cseq (e->msg)->number == sf_sip_msg_cseq (call->invite_out)->number;
}

/* Entry of the state that ends the call: the session timers stop (the
 * session ends with our BYE, RFC 4028 10). */
static SfOpResult
sf_op_session_end (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  sf_ctx_timer_cancel (ctx, "session_refresh");
  sf_ctx_timer_cancel (ctx, "session_expires");
  return SF_OP_CONTINUE;
}

/* A 422 to our INVITE (RFC 4028 7.3): the INVITE again, its Session-Expires
 * raised to the 422's Min-SE (CSeq one more, the same Call-ID and From tag),
 * at most SF_UA_SE_MAX_422 times; then OpFarEndResponse takes it (failed). */
static SfOpResult
sf_op_session_too_small (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  SfSipEvent *e = ev->payload;
  if (!to_our_invite (ctx, call, ev) || sf_sip_msg_status (e->msg) != 422)
    return SF_OP_SKIP;
  SfUaSeHeaders h;
  g_autoptr (GError) error = NULL;
  if (!sf_ua_se_parse (e->msg, &h, &error) || h.min_se == 0 || call->se_422 >= SF_UA_SE_MAX_422) {
    g_info ("%s: 422 not retried: %s", sf_ctx_handle (ctx),
            error != NULL ? error->message : h.min_se == 0 ? "no Min-SE" : "too many");
    return SF_OP_SKIP;
  }
  init_want (ctx, call);
  call->se_422++;
  call->se_min = MAX (call->se_min, h.min_se);
  call->se_want = MAX (call->se_want, call->se_min);
  g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (call->invite_out)->raw);
  if (call->dialog != NULL) {
    g_clear_pointer (&call->dialog, sf_sip_dialog_free); /* 12.3: the final response ends an early dialog */
    sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"terminated\"");
  }
  if (!sf_ua_resend_invite (ctx, call, ruri, &error)) {
    g_warning ("%s: 422: %s", sf_ctx_handle (ctx), error->message);
    return SF_OP_SKIP;
  }
  g_autofree char *f = g_strdup_printf ("\"status\":422,\"min_se\":%u,\"session_expires\":%u", h.min_se, call->se_want);
  sf_ctx_emit (ctx, "session_retry", f);
  return SF_OP_DONE;
}

/* A 2xx to our INVITE: the session timer it sets (RFC 4028 7.2); the 2xx goes
 * on to OpFarEndResponse. */
static SfOpResult
sf_op_session_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  SfSipEvent *e = ev->payload;
  if (!to_our_invite (ctx, call, ev) || sf_sip_msg_status (e->msg) / 100 != 2)
    return SF_OP_SKIP;
  sf_ua_se_take_2xx (ctx, call, e->msg);
  return SF_OP_CONTINUE;
}

const SfOperatorDef sf_op_session_timer_table[] = {
  { "OpSessionCheck", sf_op_session_check, SF_Q_NORMAL, SF_EV_SIP, 0, check_outcomes, SF_ARG_NONE, NULL, NULL,
    "reads the Session-Expires and Min-SE of an INVITE or UPDATE (a new call's or a refresh): malformed, 400 naming "
    "the header; an interval below our Min-SE (raised by the request's) when the request supports timer, 422 with "
    "Min-SE; a new INVITE refused gives outcome refused, a request in the call is answered and the call goes on; "
    "accepted, it is skipped for the next operators to answer, and their 2xx carries the interval and restarts the "
    "timers (session_refresh event for a refresh); nothing under ua.session_timer = off",
    "sip:INVITE|sip:UPDATE", NULL, "RFC 4028 9" },
  { "OpSessionRefresh", sf_op_session_refresh, SF_Q_NORMAL, SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "on timer:session_refresh (we are the refresher, half the interval gone): the refresh, UPDATE without SDP "
    "(ua.session_refresh = update and the peer allows UPDATE) or re-INVITE with the same SDP; again 2 s later "
    "while another request of ours or our 2xx's ACK is pending", "timer:session_refresh", NULL, "RFC 4028 10" },
  { "OpSessionRefreshed", sf_op_session_refreshed, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0, refreshed_outcomes,
    SF_ARG_NONE, NULL, NULL,
    "takes the responses to our refresh: 2xx restarts the timers (ACK and answer for a re-INVITE); 422 raises the "
    "interval and sends again; 491 again later; 405/501 to UPDATE: re-INVITE; 408, 481, a timeout or transport "
    "error give outcome dialog_gone (the flow sends BYE); other responses are left to the next operators",
    "sip:response|txn:timeout|txn:transport_error", NULL, "RFC 4028 10" },
  { "OpSessionExpired", sf_op_session_expired, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE,
    NULL, NULL,
    "on timer:session_expires (no refresh by the interval less min (32, interval/3)): the call's reason becomes "
    "session_expired; transitions (to the state that sends BYE)", "timer:session_expires", NULL, "RFC 4028 10" },
  { "OpSessionEnd", sf_op_session_end, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of the state that ends the call: the session timers (session_refresh, session_expires) stop; the "
    "session ends with the BYE", "*", NULL, "RFC 4028 10" },
  { "OpSessionTooSmall", sf_op_session_too_small, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a 422 to our INVITE: the INVITE again with Session-Expires raised to the 422's Min-SE (CSeq one more, "
    "same Call-ID and From tag), bounded; past the bound OpFarEndResponse takes the 422", "sip:response 422", NULL,
    "RFC 4028 7.3" },
  { "OpSessionAnswered", sf_op_session_answered, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "reads the session timer of a 2xx to our INVITE (interval and refresher; none without Session-Expires) and "
    "starts its timers; the 2xx goes on to the next operator", "sip:response 2xx", NULL, "RFC 4028 7.2, 7.4" },
};
const gsize sf_op_session_timer_table_len = G_N_ELEMENTS (sf_op_session_timer_table);
