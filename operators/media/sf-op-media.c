/* sf-op-media.c: the user agent's audio operators, named after VOCAL's
 * (OpStartAudio, OpStopAudio): they drive the media interface (media/sf-media.h)
 * with what offer/answer negotiated for the call (operators/ua/sf-ua-call.h).
 * The backend decides what "audio" is: the null backend counts, the GStreamer
 * one (the media issue) carries RTP. */
#include "config.h"
#include "operators/ua/sf-ua-call.h"
#include "framework/sf-json.h"
#include <string.h>

/* Entry of InCall and Onhold: the call's stream starts, or follows the last
 * negotiation (hold, resume, the 2xx after early media); a "media" event says
 * what was agreed and whether the stream was started or updated.  Entry of
 * RingBack (RFC 3960 early media, the answer of a provisional response): the
 * same, only when a new answer came ("state":"early"). */
static SfOpResult
sf_op_start_audio (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  SfMedia *m = sf_ua_media (ctx);
  if (call == NULL || !call->have_media || m == NULL)
    return SF_OP_SKIP;
  /* Before a final response: an answer in a 1xx we received, or the one our
   * 183 carried (OpEarlyMedia). */
  gboolean early = call->status < 200;
  if (early && call->stream != NULL && !call->media_new)
    return SF_OP_SKIP; /* another 1xx without a new answer */
  g_autoptr (GError) error = NULL;
  gboolean started = call->stream == NULL;
  call->media_new = FALSE;
  if (call->stream == NULL) {
    call->stream = sf_media_start (m, sf_ctx_handle (ctx), &call->media, &error);
    if (call->stream == NULL) {
      g_warning ("%s: audio: %s", sf_ctx_handle (ctx), error->message);
      return SF_OP_ERROR;
    }
  } else if (!sf_media_update (call->stream, &call->media, &error)) {
    g_warning ("%s: audio: %s", sf_ctx_handle (ctx), error->message);
    return SF_OP_ERROR;
  }
  g_autofree char *fields = sf_sdp_media_json (&call->media);
  g_autofree char *line = g_strdup_printf ("\"why\":\"%s\",\"state\":\"%s\",\"stream\":\"%s\",%s", sf_ctx_state (ctx),
                                           early ? "early" : "confirmed", started ? "started" : "updated", fields);
  sf_ctx_emit (ctx, "media", line);
  return SF_OP_CONTINUE;
}

/* Entry of a final state (or exit of the call): the stream stops; its last
 * stats go into call_end. */
static SfOpResult
sf_op_stop_audio (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->stream == NULL)
    return SF_OP_SKIP;
  sf_media_stats (call->stream, &call->last_stats);
  call->have_stats = TRUE;
  g_clear_pointer (&call->stream, sf_media_stop);
  return SF_OP_CONTINUE;
}

/* device:dtmf DIGITS: RFC 4733 events on the call's stream; a "dtmf" event. */
static SfOpResult
sf_op_send_dtmf (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "dtmf") != 0 || ev->arg == NULL || call == NULL)
    return SF_OP_SKIP;
  g_autoptr (GError) error = NULL;
  if (call->stream == NULL || !sf_media_dtmf (call->stream, ev->arg, &error)) {
    g_warning ("%s: dtmf: %s", sf_ctx_handle (ctx), error != NULL ? error->message : "no audio stream");
    return SF_OP_ERROR;
  }
  GString *f = g_string_new ("\"direction\":\"sent\",\"digits\":");
  sf_json_append_string (f, ev->arg);
  sf_ctx_emit (ctx, "dtmf", f->str);
  g_string_free (f, TRUE);
  return SF_OP_DONE;
}

/* "file:PATH" (PATH may be an expression, read when it plays). */
static gboolean
fixup_play (const char *text, gpointer *out, GError **error)
{
  if (!g_str_has_prefix (text, "file:") || text[5] == '\0') {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected file:PATH.wav (PATH may read ${...}), got '%s'", text);
    return FALSE;
  }
  *out = g_strdup (text + 5);
  return TRUE;
}

/* What the call's stream sends becomes the WAV file of the arg, from its
 * start (a prompt; again from its start each time it runs), then silence; a
 * "play" event names the file.  No stream (no audio agreed): skipped. */
static SfOpResult
sf_op_play (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->stream == NULL)
    return SF_OP_SKIP;
  g_autofree char *path = sf_ctx_expand (ctx, ev, arg);
  g_autoptr (GError) error = NULL;
  if (!sf_media_play (call->stream, path, &error)) {
    g_warning ("%s: %s", sf_ctx_handle (ctx), error->message);
    return SF_OP_ERROR;
  }
  GString *f = g_string_new ("\"file\":");
  sf_json_append_string (f, path);
  sf_ctx_emit (ctx, "play", f->str);
  g_string_free (f, TRUE);
  return SF_OP_CONTINUE;
}

/* A media event for the call (the backend posts them into the main context):
 * dtmf (a digit received, RFC 4733), rtp_timeout (RTP stopped arriving, not
 * fatal), media_error: each becomes an event line; the flow may also react to
 * them itself (OpOnMedia-style operators ahead of this one). */
static SfOpResult
sf_op_media_event (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  GString *f = g_string_new (NULL);
  const char *name = ev->name;
  if (strcmp (name, "dtmf") == 0) {
    g_string_append (f, "\"direction\":\"received\",\"digits\":");
    sf_json_append_string (f, ev->arg != NULL ? ev->arg : "");
  } else {
    g_string_append (f, "\"what\":");
    sf_json_append_string (f, name);
    if (ev->arg != NULL) {
      g_string_append (f, ",\"message\":");
      sf_json_append_string (f, ev->arg);
    }
    name = "media_event";
  }
  sf_ctx_emit (ctx, name, f->str);
  g_string_free (f, TRUE);
  return SF_OP_DONE;
}

const SfOperatorDef sf_op_media_table[] = {
  { "OpMediaEvent", sf_op_media_event, SF_Q_NORMAL, SF_EV_MEDIA, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a media event of the call (dtmf: a digit received, RFC 4733; rtp_timeout: RTP stopped arriving, not "
    "fatal; media_error) and writes it as an event line; operators ahead of it may react to the event themselves",
    "media", NULL, NULL },
  { "OpStartAudio", sf_op_start_audio, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of a talking state: the call's audio stream starts, or follows the last offer/answer (hold, resume, the "
    "2xx after early media); in RingBack, early media from a provisional response's answer (RFC 3960); a media "
    "event says what was agreed", "*", NULL, "RFC 3264 6" },
  { "OpPlay", sf_op_play, SF_Q_ALL, SF_EV_ANY, SF_OPF_EXPR_ARG, NULL, SF_ARG_REQUIRED, fixup_play, g_free,
    "what the call's audio stream sends becomes the WAV file of the arg, played from its start (again from its "
    "start each time it runs: a prompt replayed), then silence; a play event names the file.  Without a stream "
    "(no audio agreed yet) it does nothing; a file that is not there is an error", "*",
    "file:PATH.wav (PATH may read ${...}: file:${cfg.flow.prompt})", NULL },
  { "OpStopAudio", sf_op_stop_audio, SF_Q_ENTRY | SF_Q_EXIT, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "the call's audio stream stops; its last stats are kept for call_end", "*", NULL, NULL },
  { "OpSendDtmf", sf_op_send_dtmf, SF_Q_NORMAL, SF_EV_DEVICE, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "on the control command 'dtmf DIGITS': the digits as RFC 4733 telephone events on the call's stream, and a "
    "dtmf event line", "device:dtmf", NULL, "RFC 4733 2" },
};
const gsize sf_op_media_table_len = G_N_ELEMENTS (sf_op_media_table);
