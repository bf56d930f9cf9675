/* sf-media-gst.c: the GStreamer media backend (see sf-media-gst.h): one
 * pipeline per call on rtpbin (RFC 3550, symmetric RTP from the ports we
 * receive on), PCMU/PCMA (RFC 3551) and Opus (RFC 7587), telephone events
 * (RFC 4733) sent with rtpdtmfsrc through rtpdtmfmux and read from the received
 * packets; SRTP and SRTCP (RFC 3711) with srtpenc and srtpdec between rtpbin and
 * the sockets when the negotiation keyed them (RFC 4568).  docs/media.md draws
 * the pipeline.
 *
 * Threads: GStreamer calls us from its streaming threads (pad-added, the
 * payload type map, probes, the bus sync handler).  Those touch only the
 * stream's atomics and lock-protected fields, and post events into the main
 * context as idle sources holding an SfGstLink (never the stream itself, which may be
 * stopped before the post runs).  Everything else runs in the main context. */
#include "config.h"
#include "media/sf-media-gst.h"
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <stdio.h>
#include <string.h>

#define WATCH_MS 250           /* how often the RTP timeout is checked */
#define DTMF_VOLUME 10         /* -10 dBm0 (RFC 4733 2.3.4) */
#define TONE_VOLUME 0.5        /* of full scale */
#define OPUS_BITRATE 32000     /* bit/s: wideband voice */

static const char dtmf_events[] = "0123456789*#ABCD"; /* RFC 4733 3.2: events 0 to 15 */

/* ---- links: what a post into the main context holds ---- */

SfGstLink *
sf_gst_link_new (SfMedia *m, const char *call)
{
  SfGstLink *l = g_new0 (SfGstLink, 1);
  g_atomic_ref_count_init (&l->ref);
  l->media = m;
  l->call = g_strdup (call);
  return l;
}

SfGstLink *
sf_gst_link_ref (SfGstLink *l)
{
  g_atomic_ref_count_inc (&l->ref);
  return l;
}

void
sf_gst_link_unref (SfGstLink *l)
{
  if (l != NULL && g_atomic_ref_count_dec (&l->ref)) {
    g_free (l->call);
    g_free (l);
  }
}

typedef struct {
  SfGstLink *link;  /* owned ref */
  char *event;      /* owned */
  char *arg;        /* owned, nullable */
} Post;

static void
post_free (gpointer data)
{
  Post *p = data;
  sf_gst_link_unref (p->link);
  g_free (p->event);
  g_free (p->arg);
  g_free (p);
}

static gboolean
post_dispatch (gpointer data)
{
  Post *p = data;
  if (p->link->media != NULL)
    sf_media_emit (p->link->media, p->link->call, p->event, p->arg);
  return G_SOURCE_REMOVE;
}

void
sf_gst_link_post (GMainContext *ctx, SfGstLink *link, const char *event, const char *arg)
{
  Post *p = g_new0 (Post, 1);
  p->link = sf_gst_link_ref (link);
  p->event = g_strdup (event);
  p->arg = g_strdup (arg);
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, post_dispatch, p, post_free);
  g_source_set_static_name (src, "sf-media-gst event");
  g_source_attach (src, ctx);
  g_source_unref (src);
}

/* ---- the stream ---- */

typedef struct {
  const char *name;      /* our spelling (sf-sdp.h) */
  const char *encoding;  /* RTP caps encoding-name */
  const char *enc, *pay, *depay, *dec;
} Codec;

static const Codec codecs[] = {
  { "PCMU", "PCMU", "mulawenc", "rtppcmupay", "rtppcmudepay", "mulawdec" },
  { "PCMA", "PCMA", "alawenc", "rtppcmapay", "rtppcmadepay", "alawdec" },
  { "opus", "OPUS", "opusenc", "rtpopuspay", "rtpopusdepay", "opusdec" },
};

typedef struct {
  SfMedia *media;                /* unowned */
  SfGstLink *link;                    /* owned */
  GMainContext *ctx;             /* owned: where events are delivered */
  SfSdpMedia neg;                /* owned: the negotiation in force */
  SfMediaSourceKind source;
  guint tone_hz;
  char *source_path;             /* owned, nullable */
  char *play_path;               /* owned, nullable: a file play() asked for, sent instead of the source */
  SfMediaSinkKind sink;
  char *sink_path;               /* owned, nullable */
  GSource *watch;                /* owned: the RTP timeout check */
  gboolean timed_out;            /* "rtp_timeout" told, not re-armed yet */
  gint64 t0;                     /* monotonic µs: the base of last_rtp_ms */

  /* One pipeline: NULL while the negotiation carries no stream. */
  GstElement *pipeline;          /* owned */
  /* unowned (the pipeline's): */
  GstElement *rtpbin, *send_valve, *recv_valve, *funnel, *dtmfsrc, *rtp_sink, *rtcp_sink;
  GstElement *srtpenc, *srtpdec;  /* NULL in the clear */
  GSocket *rtp_sock, *rtcp_sock; /* owned refs */
  gboolean own_sockets;          /* we bound them (else the port pool holds them and closes them) */
  char *dest_addr;               /* owned, nullable: where the sinks send */
  guint dest_port;
  /* Fixed while the pipeline lives; streaming threads read them (never neg). */
  const Codec *codec;
  guint audio_pt;
  int dtmf_pt;
  guint clock_rate;
  SfSrtpSuite srtp;

  /* Shared with streaming threads. */
  GMutex lock;
  guint8 recv_key[SF_SRTP_KEY_LEN]; /* lock: the peer's SRTP key, for srtpdec's request-key */
  guint n_keyed;                 /* lock: SSRCs given recv_key since it was set (SF_MEDIA_GST_SRTP_MAX_SSRC) */
  guint64 n_refused;             /* lock: key requests refused past the bound */
  GCond cond;
  gboolean recorder_eos;         /* lock: the WAV writer's sink took end-of-stream */
  char *start_error;             /* lock, owned: the first bus error before start() returned */
  gboolean started;              /* lock: bus errors become "media_error" events */
  gint receiving;                /* atomic: our direction receives */
  gint recorder_fed;             /* atomic: audio reached the WAV file */
  gint last_rtp_ms;              /* atomic: ms after t0 of the last RTP packet, plus 1; 0: none since reset */
  /* The RTP udpsrc's streaming thread only: the telephone event last seen. */
  gboolean have_event;
  guint32 event_ssrc, event_ts;
} Stream;

static const Codec *
codec_of (const SfSdpMedia *neg)
{
  for (gsize i = 0; neg->codec.name != NULL && i < G_N_ELEMENTS (codecs); i++)
    if (g_ascii_strcasecmp (neg->codec.name, codecs[i].name) == 0)
      return &codecs[i];
  return NULL;
}

/* Whether @neg's remote is one we can send to (a port, and not 0.0.0.0 or ::,
 * RFC 3264 8.4). */
static gboolean
remote_ok (const SfSdpMedia *neg)
{
  if (neg->remote_addr == NULL || neg->remote_port == 0 || neg->remote_port >= 65535)
    return FALSE;
  g_autoptr (GInetAddress) a = g_inet_address_new_from_string (neg->remote_addr);
  return a != NULL && !g_inet_address_get_is_any (a);
}

static gboolean
sends (const SfSdpMedia *neg)
{
  return (neg->dir == SF_SDP_SENDRECV || neg->dir == SF_SDP_SENDONLY) && remote_ok (neg);
}

static gboolean
receives (const SfSdpMedia *neg)
{
  return neg->dir == SF_SDP_SENDRECV || neg->dir == SF_SDP_RECVONLY;
}

static gint
ms_since_t0 (Stream *st)
{
  return (gint) ((g_get_monotonic_time () - st->t0) / 1000);
}

/* ---- building ---- */

/* The Debian package that holds @factory, for the error message. */
static const char *
package_of (const char *factory)
{
  static const char *const core[] = { "valve", "funnel", "fakesink", "filesrc", "filesink", "capsfilter", NULL };
  if (strcmp (factory, "srtpenc") == 0 || strcmp (factory, "srtpdec") == 0)
    return "gstreamer1.0-plugins-bad";
  static const char *const base[] = { "audiotestsrc", "audioconvert", "audioresample", "audiomixer",
                                      "opusenc", "opusdec", NULL };
  if (g_strv_contains (core, factory))
    return "libgstreamer1.0-0";
  if (g_strv_contains (base, factory))
    return "gstreamer1.0-plugins-base";
  return "gstreamer1.0-plugins-good";
}

/* A new element of @factory in @bin; NULL with an error naming what to install. */
static GstElement *
make (GstElement *bin, const char *factory, const char *name, GError **error)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (e == NULL) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED,
                 "GStreamer element '%s' is missing (Debian package %s)", factory, package_of (factory));
    return NULL;
  }
  gst_bin_add (GST_BIN (bin), e);
  return e;
}

static gboolean
link_or_fail (GstElement *a, GstElement *b, GError **error)
{
  if (gst_element_link (a, b))
    return TRUE;
  g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "cannot link %s to %s", GST_ELEMENT_NAME (a),
               GST_ELEMENT_NAME (b));
  return FALSE;
}

/* Links a pad @from of @a to a pad requested from @b with @tmpl (or its static
 * pad when @tmpl has no '%'). */
static gboolean
link_pads (GstElement *a, const char *from, GstElement *b, const char *tmpl, GError **error)
{
  g_autoptr (GstPad) src = gst_element_get_static_pad (a, from);
  if (src == NULL)
    src = gst_element_request_pad_simple (a, from);
  g_autoptr (GstPad) sink = strchr (tmpl, '%') != NULL ? gst_element_request_pad_simple (b, tmpl)
                                                        : gst_element_get_static_pad (b, tmpl);
  if (sink == NULL)
    sink = gst_element_request_pad_simple (b, tmpl);
  if (src != NULL && sink != NULL && gst_pad_link (src, sink) == GST_PAD_LINK_OK)
    return TRUE;
  g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "cannot link %s:%s to %s:%s", GST_ELEMENT_NAME (a),
               from, GST_ELEMENT_NAME (b), tmpl);
  return FALSE;
}

/* A capsfilter for mono 16-bit audio at @rate. */
static GstElement *
make_raw_caps (GstElement *bin, const char *name, guint rate, GError **error)
{
  GstElement *f = make (bin, "capsfilter", name, error);
  if (f == NULL)
    return NULL;
  g_autoptr (GstCaps) caps = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "layout",
                                                  G_TYPE_STRING, "interleaved", "rate", G_TYPE_INT, (gint) rate,
                                                  "channels", G_TYPE_INT, 1, NULL);
  g_object_set (f, "caps", caps, NULL);
  return f;
}

/* audiotestsrc, live, one packet's worth of samples per buffer. */
static GstElement *
make_test_src (Stream *st, const char *name, const char *wave, guint hz, GError **error)
{
  GstElement *src = make (st->pipeline, "audiotestsrc", name, error);
  if (src == NULL)
    return NULL;
  guint ptime = st->neg.ptime > 0 ? st->neg.ptime : 20;
  g_object_set (src, "is-live", TRUE, "samplesperbuffer", (gint) (st->clock_rate * ptime / 1000), "volume",
                TONE_VOLUME, NULL);
  gst_util_set_object_arg (G_OBJECT (src), "wave", wave);
  if (hz > 0)
    g_object_set (src, "freq", (gdouble) hz, NULL);
  return src;
}

/* What we send, ending in raw mono audio at the codec's rate: a tone, silence,
 * or a WAV file played once and then silence (the file mixed over a live
 * silent source, which also paces it). */
/* The file a stream sends: what play() asked for, else media.source's file. */
static const char *
file_of (Stream *st)
{
  if (st->play_path != NULL)
    return st->play_path;
  return st->source == SF_MEDIA_SOURCE_FILE ? st->source_path : NULL;
}

/* The file branch's first buffer, just before the mixer takes it: the
 * branch's timestamps are moved so that the file starts at the pipeline's
 * running time now.  The mixer's output follows the live silent source from
 * the pipeline's start; the file's branch (its own thread reading and parsing
 * the file) may come later, by how much depends on the load, and what it
 * sends for times the mixer has passed is dropped as late: the beginning of
 * the prompt would be lost.  The mixer cannot be past now (the silent source
 * has no data beyond it).  Before the pipeline plays (no clock yet) the
 * mixer has not started: the file starts at zero, with the output. */
static GstPadProbeReturn
on_file_first (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstElement *p = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstClock) clock = gst_element_get_clock (p);
  g_autoptr (GstEvent) ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (clock == NULL || ev == NULL || buf == NULL || !GST_BUFFER_PTS_IS_VALID (buf))
    return GST_PAD_PROBE_REMOVE;
  const GstSegment *seg;
  gst_event_parse_segment (ev, &seg);
  GstClockTime at = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  GstClockTime now = gst_clock_get_time (clock), base = gst_element_get_base_time (p);
  if (GST_CLOCK_TIME_IS_VALID (at) && now > base && now - base > at)
    gst_pad_set_offset (pad, (gint64) (now - base - at));
  return GST_PAD_PROBE_REMOVE;
}

/* The elements that read a WAV file (file_* in the pipeline), ending in raw
 * mono audio at the codec's rate; their last one in @last (unowned). */
static gboolean
build_file (Stream *st, const char *path, GstElement **last, GError **error)
{
  GstElement *p = st->pipeline;
  GstElement *file, *parse, *conv, *res, *file_caps;
  if ((file = make (p, "filesrc", "file", error)) == NULL || (parse = make (p, "wavparse", "file_parse", error)) == NULL
      || (conv = make (p, "audioconvert", "file_conv", error)) == NULL
      || (res = make (p, "audioresample", "file_res", error)) == NULL
      || (file_caps = make_raw_caps (p, "file_caps", st->clock_rate, error)) == NULL)
    return FALSE;
  g_object_set (file, "location", path, NULL);
  if (!link_or_fail (file, parse, error) || !link_or_fail (parse, conv, error) || !link_or_fail (conv, res, error)
      || !link_or_fail (res, file_caps, error))
    return FALSE;
  g_autoptr (GstPad) out = gst_element_get_static_pad (file_caps, "src");
  gst_pad_add_probe (out, GST_PAD_PROBE_TYPE_BUFFER, on_file_first, p, NULL);
  *last = file_caps;
  return TRUE;
}

static const char *const file_elements[] = { "file", "file_parse", "file_conv", "file_res", "file_caps" };

/* What we send, ending in raw mono audio at the codec's rate: a tone, silence,
 * or a WAV file (media.source's, or the one play() asked for) played once and
 * then silence (the file mixed over a live silent source, which also paces it). */
static GstElement *
build_source (Stream *st, GError **error)
{
  GstElement *p = st->pipeline;
  const char *path = file_of (st);
  if (path == NULL && st->source == SF_MEDIA_SOURCE_TONE)
    return make_test_src (st, "tone", "sine", st->tone_hz, error);
  if (path == NULL)
    return make_test_src (st, "silence", "silence", 0, error);
  GstElement *silence, *silence_caps, *file_caps, *mix;
  if ((silence = make_test_src (st, "silence", "silence", 0, error)) == NULL
      || (silence_caps = make_raw_caps (p, "silence_caps", st->clock_rate, error)) == NULL
      || !build_file (st, path, &file_caps, error) || (mix = make (p, "audiomixer", "mix", error)) == NULL)
    return NULL;
  guint ptime = st->neg.ptime > 0 ? st->neg.ptime : 20;
  g_object_set (mix, "output-buffer-duration", (guint64) ptime * GST_MSECOND, NULL);
  if (!link_or_fail (silence, silence_caps, error) || !link_or_fail (silence_caps, mix, error)
      || !link_or_fail (file_caps, mix, error))
    return NULL;
  return mix;
}

/* source -> convert -> encode -> payload -> send_valve -> rtpdtmfmux -> rtpbin;
 * rtpdtmfsrc -> rtpdtmfmux (priority: audio is dropped while an event plays). */
static gboolean
build_send (Stream *st, const Codec *c, GError **error)
{
  GstElement *p = st->pipeline;
  GstElement *src, *conv, *res, *caps, *enc, *pay, *mux;
  if ((src = build_source (st, error)) == NULL || (conv = make (p, "audioconvert", "send_conv", error)) == NULL
      || (res = make (p, "audioresample", "send_res", error)) == NULL
      || (caps = make_raw_caps (p, "send_caps", st->clock_rate, error)) == NULL
      || (enc = make (p, c->enc, "enc", error)) == NULL || (pay = make (p, c->pay, "pay", error)) == NULL
      || (st->send_valve = make (p, "valve", "send_valve", error)) == NULL
      || (mux = make (p, "rtpdtmfmux", "mux", error)) == NULL)
    return FALSE;
  guint ptime = st->neg.ptime > 0 ? st->neg.ptime : 20;
  g_object_set (pay, "pt", st->audio_pt, NULL);
  if (strcmp (c->name, "opus") == 0) {
    static const guint sizes[] = { 10, 20, 40, 60 };
    guint frame = 20;
    for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
      if (sizes[i] == ptime)
        frame = ptime;
    g_autofree char *fs = g_strdup_printf ("%u", frame);
    gst_util_set_object_arg (G_OBJECT (enc), "frame-size", fs);
    gst_util_set_object_arg (G_OBJECT (enc), "audio-type", "voice");
    g_object_set (enc, "bitrate", OPUS_BITRATE, NULL);
  } else {
    g_object_set (pay, "min-ptime", (gint64) ptime * GST_MSECOND, "max-ptime", (gint64) ptime * GST_MSECOND, NULL);
  }
  gst_util_set_object_arg (G_OBJECT (st->send_valve), "drop-mode", "forward-sticky-events");
  if (!link_or_fail (src, conv, error) || !link_or_fail (conv, res, error) || !link_or_fail (res, caps, error)
      || !link_or_fail (caps, enc, error) || !link_or_fail (enc, pay, error)
      || !link_or_fail (pay, st->send_valve, error) || !link_pads (st->send_valve, "src", mux, "sink_%u", error))
    return FALSE;
  if (st->dtmf_pt >= 0) {
    if ((st->dtmfsrc = make (p, "rtpdtmfsrc", "dtmfsrc", error)) == NULL)
      return FALSE;
    g_object_set (st->dtmfsrc, "pt", (guint) st->dtmf_pt, "packet-redundancy", 3u, NULL);
    if (!link_pads (st->dtmfsrc, "src", mux, "priority_sink_%u", error))
      return FALSE;
  }
  return link_pads (mux, "src", st->rtpbin, "send_rtp_sink_0", error);
}

/* funnel (one input per RTP source of our codec) -> recv_valve -> decode -> sink:
 * a WAV file, the sound card, or (sink none) a fakesink without decoding. */
static gboolean
build_receive (Stream *st, const Codec *c, GError **error)
{
  GstElement *p = st->pipeline;
  if ((st->funnel = make (p, "funnel", "funnel", error)) == NULL
      || (st->recv_valve = make (p, "valve", "recv_valve", error)) == NULL)
    return FALSE;
  gst_util_set_object_arg (G_OBJECT (st->recv_valve), "drop-mode", "forward-sticky-events");
  if (!link_or_fail (st->funnel, st->recv_valve, error))
    return FALSE;
  if (st->sink == SF_MEDIA_SINK_NONE || (st->sink == SF_MEDIA_SINK_FILE && st->sink_path == NULL)) {
    GstElement *fake = make (p, "fakesink", "recv_sink", error);
    if (fake == NULL)
      return FALSE;
    g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
    return link_or_fail (st->recv_valve, fake, error);
  }
  GstElement *depay, *dec, *conv, *res;
  if ((depay = make (p, c->depay, "depay", error)) == NULL || (dec = make (p, c->dec, "dec", error)) == NULL
      || (conv = make (p, "audioconvert", "recv_conv", error)) == NULL
      || (res = make (p, "audioresample", "recv_res", error)) == NULL)
    return FALSE;
  if (!link_or_fail (st->recv_valve, depay, error) || !link_or_fail (depay, dec, error)
      || !link_or_fail (dec, conv, error) || !link_or_fail (conv, res, error))
    return FALSE;
  if (st->sink == SF_MEDIA_SINK_SOUND) {
    GstElement *out = make (p, "autoaudiosink", "recv_sink", error);
    return out != NULL && link_or_fail (res, out, error);
  }
  GstElement *caps, *wav, *file;
  if ((caps = make_raw_caps (p, "recv_caps", st->clock_rate, error)) == NULL
      || (wav = make (p, "wavenc", "wavenc", error)) == NULL
      || (file = make (p, "filesink", "recv_sink", error)) == NULL)
    return FALSE;
  g_object_set (file, "location", st->sink_path, "async", FALSE, NULL);
  return link_or_fail (res, caps, error) && link_or_fail (caps, wav, error) && link_or_fail (wav, file, error);
}

/* ---- streaming-thread callbacks ---- */

/* rtpbin: the caps of a payload type it receives. */
static GstCaps *
on_request_pt_map (GstElement *rtpbin, guint session, guint pt, gpointer data)
{
  Stream *st = data;
  if (pt == st->audio_pt)
    return gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "audio", "clock-rate", G_TYPE_INT,
                                (gint) st->clock_rate, "encoding-name", G_TYPE_STRING, st->codec->encoding,
                                "payload", G_TYPE_INT, (gint) pt, NULL);
  /* Telephone events share the audio's SSRC; at the audio's clock the jitter
   * buffer keeps one timeline (rtpdtmfmux sends them at that clock too). */
  if ((int) pt == st->dtmf_pt)
    return gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "audio", "clock-rate", G_TYPE_INT,
                                (gint) st->clock_rate, "encoding-name", G_TYPE_STRING, "TELEPHONE-EVENT", "payload",
                                G_TYPE_INT, (gint) pt, NULL);
  return NULL;
}

/* rtpbin: a new RTP source (SSRC) and payload type out of the jitter buffer.
 * Our codec goes to the funnel; anything else (telephone events, which the
 * probe on the socket already read, or a payload type we do not decode) to a
 * fakesink. */
static void
on_pad_added (GstElement *rtpbin, GstPad *pad, gpointer data)
{
  Stream *st = data;
  guint session, ssrc, pt;
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC
      || sscanf (GST_PAD_NAME (pad), "recv_rtp_src_%u_%u_%u", &session, &ssrc, &pt) != 3)
    return;
  g_autoptr (GstPad) sinkpad = NULL;
  if (pt == st->audio_pt) {
    sinkpad = gst_element_request_pad_simple (st->funnel, "sink_%u");
  } else {
    GstElement *fake = gst_element_factory_make ("fakesink", NULL);
    g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
    gst_bin_add (GST_BIN (st->pipeline), fake);
    gst_element_sync_state_with_parent (fake);
    sinkpad = gst_element_get_static_pad (fake, "sink");
  }
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    g_debug ("%s: media: cannot link %s", st->link->call, GST_PAD_NAME (pad));
  else
    g_debug ("%s: media: receiving SSRC %08x payload type %u", st->link->call, ssrc, pt);
}

/* Every packet on the RTP socket: arrival time for the RTP timeout, and
 * telephone events (RFC 4733 2.3: one event per RTP timestamp, repeated while
 * it lasts and three times at its end; told once, when first seen). */
static GstPadProbeReturn
on_rtp_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Stream *st = data;
  g_atomic_int_set (&st->last_rtp_ms, ms_since_t0 (st) + 1);
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (st->dtmf_pt < 0 || buf == NULL || !gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return GST_PAD_PROBE_OK;
  if (gst_rtp_buffer_get_payload_type (&rtp) == st->dtmf_pt && gst_rtp_buffer_get_payload_len (&rtp) >= 4) {
    const guint8 *payload = gst_rtp_buffer_get_payload (&rtp);
    guint32 ts = gst_rtp_buffer_get_timestamp (&rtp), ssrc = gst_rtp_buffer_get_ssrc (&rtp);
    if (!st->have_event || ts != st->event_ts || ssrc != st->event_ssrc) {
      st->have_event = TRUE;
      st->event_ts = ts;
      st->event_ssrc = ssrc;
      if (payload[0] < 16 && g_atomic_int_get (&st->receiving)) {
        char digit[2] = { dtmf_events[payload[0]], '\0' };
        sf_gst_link_post (st->ctx, st->link, "dtmf", digit);
      }
    }
  }
  gst_rtp_buffer_unmap (&rtp);
  return GST_PAD_PROBE_OK;
}

/* The caps srtpdec keys a stream with (its "request-key" signal, and again
 * after "clear-keys"): the peer's key, AES-CM-128, the suite's RTP tag, and
 * an 80-bit tag on SRTCP for both suites (RFC 4568 6.2.2).  srtpdec asks at
 * the first packet of every SSRC, before any tag is checked, and keeps what
 * it is given: past SF_MEDIA_GST_SRTP_MAX_SSRC it gets nothing, so it drops
 * the packet and keeps no stream (a flood of made-up SSRCs costs no memory;
 * it is told once). */
static GstCaps *
on_request_key (GstElement *srtpdec, guint ssrc, gpointer data)
{
  Stream *st = data;
  g_mutex_lock (&st->lock);
  if (st->n_keyed >= SF_MEDIA_GST_SRTP_MAX_SSRC) {
    gboolean first = st->n_refused++ == 0;
    g_mutex_unlock (&st->lock);
    if (first)
      g_message ("%s: media: SRTP: more than %d SSRCs on the RTP port: packets of further ones dropped",
                 st->link->call, SF_MEDIA_GST_SRTP_MAX_SSRC);
    return NULL;
  }
  st->n_keyed++;
  GstBuffer *key = gst_buffer_new_memdup (st->recv_key, SF_SRTP_KEY_LEN);
  g_mutex_unlock (&st->lock);
  GstCaps *caps = gst_caps_new_simple (
    "application/x-srtp", "srtp-key", GST_TYPE_BUFFER, key, "srtp-cipher", G_TYPE_STRING, "aes-128-icm", "srtp-auth",
    G_TYPE_STRING, st->srtp == SF_SRTP_AES_CM_128_HMAC_SHA1_32 ? "hmac-sha1-32" : "hmac-sha1-80", "srtcp-cipher",
    G_TYPE_STRING, "aes-128-icm", "srtcp-auth", G_TYPE_STRING, "hmac-sha1-80", NULL);
  gst_buffer_unref (key);
  return caps;
}

/* The WAV file's sink: audio written, end-of-stream taken. */
static GstPadProbeReturn
on_recorder (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Stream *st = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    g_atomic_int_set (&st->recorder_fed, TRUE);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    g_mutex_lock (&st->lock);
    st->recorder_eos = TRUE;
    g_cond_broadcast (&st->cond);
    g_mutex_unlock (&st->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* Bus messages, from whichever thread posts them: errors become "media_error"
 * (or start()'s error before it returns); nothing is queued on the bus. */
static GstBusSyncReply
on_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  Stream *st = data;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    g_autoptr (GError) err = NULL;
    g_autofree char *debug = NULL;
    gboolean is_error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
    if (is_error)
      gst_message_parse_error (msg, &err, &debug);
    else
      gst_message_parse_warning (msg, &err, &debug);
    g_autofree char *text = g_strdup_printf ("%s: %s", GST_MESSAGE_SRC_NAME (msg), err->message);
    g_debug ("%s: media: %s %s (%s)", st->link->call, is_error ? "error" : "warning", text,
             debug != NULL ? debug : "");
    g_mutex_lock (&st->lock);
    if (is_error && st->started)
      sf_gst_link_post (st->ctx, st->link, "media_error", text);
    else if (is_error && st->start_error == NULL)
      st->start_error = g_steal_pointer (&text);
    g_mutex_unlock (&st->lock);
  }
  gst_message_unref (msg); /* GST_BUS_DROP: the handler's to unref */
  return GST_BUS_DROP;
}

/* ---- main context ---- */

/* Points the sinks at the negotiated remote (RTCP on the next port, RFC 3550
 * 11) and opens or closes the valves for our direction. */
static void
apply (Stream *st)
{
  const SfSdpMedia *neg = &st->neg;
  gboolean ok = remote_ok (neg);
  if (!ok || g_strcmp0 (st->dest_addr, neg->remote_addr) != 0 || st->dest_port != neg->remote_port) {
    g_signal_emit_by_name (st->rtp_sink, "clear");
    g_signal_emit_by_name (st->rtcp_sink, "clear");
    g_clear_pointer (&st->dest_addr, g_free);
    st->dest_port = 0;
    if (ok) {
      g_signal_emit_by_name (st->rtp_sink, "add", neg->remote_addr, (gint) neg->remote_port);
      g_signal_emit_by_name (st->rtcp_sink, "add", neg->remote_addr, (gint) neg->remote_port + 1);
      st->dest_addr = g_strdup (neg->remote_addr);
      st->dest_port = neg->remote_port;
    }
  }
  g_object_set (st->send_valve, "drop", !sends (neg), NULL);
  g_object_set (st->recv_valve, "drop", !receives (neg), NULL);
  gboolean rx = receives (neg);
  if (rx && !g_atomic_int_get (&st->receiving)) {
    /* Receiving again: the timeout counts from the next packet. */
    g_atomic_int_set (&st->last_rtp_ms, 0);
    st->timed_out = FALSE;
  }
  g_atomic_int_set (&st->receiving, rx);
}

static GSocket *
bind_udp (GSocketFamily family, guint port, GError **error)
{
  g_autoptr (GError) e = NULL;
  g_autoptr (GSocket) s = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &e);
  if (s != NULL) {
    g_autoptr (GInetAddress) any = g_inet_address_new_any (family);
    g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (any, (guint16) port);
    if (g_socket_bind (s, addr, FALSE, &e))
      return g_steal_pointer (&s);
  }
  g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "UDP port %u: %s", port, e->message);
  return NULL;
}

static GstElement *
make_udp (Stream *st, const char *factory, const char *name, GSocket *sock, GError **error)
{
  GstElement *e = make (st->pipeline, factory, name, error);
  if (e == NULL)
    return NULL;
  gboolean v6 = g_socket_get_family (sock) == G_SOCKET_FAMILY_IPV6;
  g_object_set (e, v6 && strcmp (factory, "multiudpsink") == 0 ? "socket-v6" : "socket", sock, "close-socket",
                FALSE, NULL);
  if (strcmp (factory, "multiudpsink") == 0)
    g_object_set (e, "sync", FALSE, "async", FALSE, NULL);
  return e;
}

static void teardown (Stream *st);

/* srtpenc's key: ours, from the negotiation in force. */
static void
set_send_key (Stream *st)
{
  GstBuffer *key = gst_buffer_new_memdup (st->neg.srtp_send_key, SF_SRTP_KEY_LEN);
  g_object_set (st->srtpenc, "key", key, NULL);
  gst_buffer_unref (key);
}

/* udpsrc -> srtpdec -> rtpbin and rtpbin -> srtpenc -> multiudpsink, for RTP
 * and RTCP; the probe that reads arrivals and telephone events goes after
 * srtpdec (only packets that authenticate count, and their payload is clear). */
static gboolean
build_srtp (Stream *st, GstElement *rtp_src, GstElement *rtcp_src, GstPad **probe_pad, GError **error)
{
  GstElement *p = st->pipeline;
  if ((st->srtpenc = make (p, "srtpenc", "srtpenc", error)) == NULL
      || (st->srtpdec = make (p, "srtpdec", "srtpdec", error)) == NULL)
    return FALSE;
  gst_util_set_object_arg (G_OBJECT (st->srtpenc), "rtp-cipher", "aes-128-icm");
  gst_util_set_object_arg (G_OBJECT (st->srtpenc), "rtp-auth",
                           st->srtp == SF_SRTP_AES_CM_128_HMAC_SHA1_32 ? "hmac-sha1-32" : "hmac-sha1-80");
  gst_util_set_object_arg (G_OBJECT (st->srtpenc), "rtcp-cipher", "aes-128-icm");
  gst_util_set_object_arg (G_OBJECT (st->srtpenc), "rtcp-auth", "hmac-sha1-80");
  set_send_key (st);
  g_signal_connect (st->srtpdec, "request-key", G_CALLBACK (on_request_key), st);
  g_autoptr (GstCaps) rtp_caps = gst_caps_new_empty_simple ("application/x-srtp");
  g_autoptr (GstCaps) rtcp_caps = gst_caps_new_empty_simple ("application/x-srtcp");
  g_object_set (rtp_src, "caps", rtp_caps, NULL);
  g_object_set (rtcp_src, "caps", rtcp_caps, NULL);
  if (!link_pads (rtp_src, "src", st->srtpdec, "rtp_sink", error)
      || !link_pads (rtcp_src, "src", st->srtpdec, "rtcp_sink", error)
      || !link_pads (st->srtpdec, "rtp_src", st->rtpbin, "recv_rtp_sink_0", error)
      || !link_pads (st->srtpdec, "rtcp_src", st->rtpbin, "recv_rtcp_sink_0", error))
    return FALSE;
  *probe_pad = gst_element_get_static_pad (st->srtpdec, "rtp_src");
  return TRUE;
}

/* After build_send: rtpbin's output through srtpenc when keyed. */
static gboolean
link_send (Stream *st, GError **error)
{
  if (st->srtpenc == NULL)
    return link_pads (st->rtpbin, "send_rtp_src_0", st->rtp_sink, "sink", error)
           && link_pads (st->rtpbin, "send_rtcp_src_0", st->rtcp_sink, "sink", error);
  return link_pads (st->rtpbin, "send_rtp_src_0", st->srtpenc, "rtp_sink_0", error)
         && link_pads (st->srtpenc, "rtp_src_0", st->rtp_sink, "sink", error)
         && link_pads (st->rtpbin, "send_rtcp_src_0", st->srtpenc, "rtcp_sink_0", error)
         && link_pads (st->srtpenc, "rtcp_src_0", st->rtcp_sink, "sink", error);
}

/* Builds and starts the pipeline for st->neg. */
static gboolean
build (Stream *st, GError **error)
{
  const Codec *c = codec_of (&st->neg);
  g_return_val_if_fail (c != NULL && st->pipeline == NULL, FALSE);
  st->codec = c;
  st->audio_pt = st->neg.codec.pt;
  st->dtmf_pt = st->neg.dtmf_pt;
  st->clock_rate = st->neg.codec.rate > 0 ? st->neg.codec.rate : 8000;
  st->srtp = st->neg.srtp;
  g_mutex_lock (&st->lock);
  memcpy (st->recv_key, st->neg.srtp_recv_key, SF_SRTP_KEY_LEN);
  st->n_keyed = 0; /* a new srtpdec */
  g_mutex_unlock (&st->lock);
  /* have_event stays: after a rebuild (a codec change, a prompt played over a
   * tone) the packets of an event told before are not a new event. */
  st->started = FALSE;
  g_atomic_int_set (&st->recorder_fed, FALSE);
  g_atomic_int_set (&st->receiving, FALSE);
  st->recorder_eos = FALSE;

  if (file_of (st) != NULL && !g_file_test (file_of (st), G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s file:%s: no such file",
                 st->play_path != NULL ? "play" : "media.source", file_of (st));
    return FALSE;
  }
  GSocketFamily family = G_SOCKET_FAMILY_IPV4;
  g_autoptr (GInetAddress) remote = st->neg.remote_addr != NULL ? g_inet_address_new_from_string (st->neg.remote_addr)
                                                                 : NULL;
  if (remote != NULL)
    family = g_inet_address_get_family (remote);
  /* The pool's sockets when it holds the port (IPv4); our own otherwise. */
  GSocket *held_rtp = sf_media_port_socket (st->media, st->neg.local_port, FALSE);
  GSocket *held_rtcp = sf_media_port_socket (st->media, st->neg.local_port, TRUE);
  if (family == G_SOCKET_FAMILY_IPV4 && held_rtp != NULL && held_rtcp != NULL && !g_socket_is_closed (held_rtp)
      && !g_socket_is_closed (held_rtcp)) {
    st->rtp_sock = g_object_ref (held_rtp);
    st->rtcp_sock = g_object_ref (held_rtcp);
    st->own_sockets = FALSE;
  } else {
    if (held_rtp != NULL) /* the pool's IPv4 sockets would keep an IPv6 bind from the port */
      g_socket_close (held_rtp, NULL);
    if (held_rtcp != NULL)
      g_socket_close (held_rtcp, NULL);
    st->own_sockets = TRUE;
    if ((st->rtp_sock = bind_udp (family, st->neg.local_port, error)) == NULL
        || (st->rtcp_sock = bind_udp (family, st->neg.local_port + 1, error)) == NULL) {
      teardown (st);
      return FALSE;
    }
  }

  g_autofree char *name = g_strdup_printf ("sf-media-%s", st->link->call);
  st->pipeline = gst_pipeline_new (name);
  GstElement *p = st->pipeline;
  GstElement *rtp_src, *rtcp_src;
  if ((st->rtpbin = make (p, "rtpbin", "rtpbin", error)) == NULL
      || (rtp_src = make_udp (st, "udpsrc", "rtp_src", st->rtp_sock, error)) == NULL
      || (rtcp_src = make_udp (st, "udpsrc", "rtcp_src", st->rtcp_sock, error)) == NULL
      || (st->rtp_sink = make_udp (st, "multiudpsink", "rtp_sink", st->rtp_sock, error)) == NULL
      || (st->rtcp_sink = make_udp (st, "multiudpsink", "rtcp_sink", st->rtcp_sock, error)) == NULL) {
    teardown (st);
    return FALSE;
  }
  g_object_set (st->rtpbin, "latency", (guint) SF_MEDIA_GST_JITTER_MS, NULL);
  g_signal_connect (st->rtpbin, "request-pt-map", G_CALLBACK (on_request_pt_map), st);
  g_signal_connect (st->rtpbin, "pad-added", G_CALLBACK (on_pad_added), st);
  g_autoptr (GstPad) rtp_in = NULL;
  gboolean linked;
  if (st->srtp != SF_SRTP_NONE) {
    linked = build_srtp (st, rtp_src, rtcp_src, &rtp_in, error);
  } else {
    g_autoptr (GstCaps) rtp_caps = gst_caps_new_empty_simple ("application/x-rtp");
    g_autoptr (GstCaps) rtcp_caps = gst_caps_new_empty_simple ("application/x-rtcp");
    g_object_set (rtp_src, "caps", rtp_caps, NULL);
    g_object_set (rtcp_src, "caps", rtcp_caps, NULL);
    rtp_in = gst_element_get_static_pad (rtp_src, "src");
    linked = link_pads (rtp_src, "src", st->rtpbin, "recv_rtp_sink_0", error)
             && link_pads (rtcp_src, "src", st->rtpbin, "recv_rtcp_sink_0", error);
  }
  if (rtp_in != NULL)
    gst_pad_add_probe (rtp_in, GST_PAD_PROBE_TYPE_BUFFER, on_rtp_in, st, NULL);
  if (!linked || !build_send (st, c, error) || !link_send (st, error) || !build_receive (st, c, error)) {
    teardown (st);
    return FALSE;
  }
  GstElement *recorder = gst_bin_get_by_name (GST_BIN (p), "recv_sink");
  if (recorder != NULL && st->sink == SF_MEDIA_SINK_FILE) {
    g_autoptr (GstPad) in = gst_element_get_static_pad (recorder, "sink");
    gst_pad_add_probe (in, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_recorder, st, NULL);
  }
  g_clear_object (&recorder);

  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  gst_bus_set_sync_handler (bus, on_bus, st, NULL);
  apply (st);
  gboolean playing = gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
  /* An error posted before this point fails the start; after it, it is an event. */
  g_mutex_lock (&st->lock);
  gboolean started = st->started = playing && st->start_error == NULL;
  if (!started)
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "the pipeline does not start: %s",
                 st->start_error != NULL ? st->start_error : "no reason given");
  g_mutex_unlock (&st->lock);
  if (!started) {
    teardown (st);
    return FALSE;
  }
  g_debug ("%s: media: %s/%u pt %u, dtmf pt %d, ptime %u, port %u -> %s:%u, %s, %s", st->link->call, c->name,
           st->clock_rate, st->audio_pt, st->dtmf_pt, st->neg.ptime, st->neg.local_port,
           st->neg.remote_addr != NULL ? st->neg.remote_addr : "-", st->neg.remote_port,
           sf_sdp_dir_name (st->neg.dir), st->srtp != SF_SRTP_NONE ? sf_srtp_suite_name (st->srtp) : "RTP in the clear");
  return TRUE;
}

/* Ends the pipeline: end-of-stream into the WAV writer first (so the file is
 * complete), bounded; then NULL state, which joins the streaming threads, and
 * the sockets closed. */
static void
teardown (Stream *st)
{
  if (st->pipeline != NULL) {
    g_mutex_lock (&st->lock);
    st->started = FALSE; /* errors while stopping are not told */
    g_mutex_unlock (&st->lock);
    if (st->sink == SF_MEDIA_SINK_FILE && st->recv_valve != NULL && g_atomic_int_get (&st->recorder_fed)) {
      /* Synchronous through the decoder to the file (no queue between), so
       * the wait below normally finds it done. */
      g_autoptr (GstPad) in = gst_element_get_static_pad (st->recv_valve, "sink");
      gst_pad_send_event (in, gst_event_new_eos ());
      gint64 end = g_get_monotonic_time () + SF_MEDIA_GST_EOS_WAIT_MS * G_TIME_SPAN_MILLISECOND;
      g_mutex_lock (&st->lock);
      while (!st->recorder_eos)
        if (!g_cond_wait_until (&st->cond, &st->lock, end))
          break;
      gboolean done = st->recorder_eos;
      g_mutex_unlock (&st->lock);
      if (!done)
        g_warning ("%s: media: %s may be incomplete: no end-of-stream within %d ms", st->link->call, st->sink_path,
                   SF_MEDIA_GST_EOS_WAIT_MS);
    }
    gst_element_set_state (st->pipeline, GST_STATE_NULL);
    g_autoptr (GstBus) bus = gst_element_get_bus (st->pipeline);
    gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
    g_clear_pointer (&st->pipeline, gst_object_unref);
  }
  st->rtpbin = st->send_valve = st->recv_valve = st->funnel = st->dtmfsrc = st->rtp_sink = st->rtcp_sink = NULL;
  st->srtpenc = st->srtpdec = NULL;
  if (st->own_sockets && st->rtp_sock != NULL)
    g_socket_close (st->rtp_sock, NULL);
  if (st->own_sockets && st->rtcp_sock != NULL)
    g_socket_close (st->rtcp_sock, NULL);
  g_clear_object (&st->rtp_sock);
  g_clear_object (&st->rtcp_sock);
  g_clear_pointer (&st->dest_addr, g_free);
  st->dest_port = 0;
  g_atomic_int_set (&st->receiving, FALSE);
  g_atomic_int_set (&st->last_rtp_ms, 0);
  g_mutex_lock (&st->lock);
  g_clear_pointer (&st->start_error, g_free);
  memset (st->recv_key, 0, sizeof st->recv_key);
  g_mutex_unlock (&st->lock);
}

/* Every WATCH_MS: "rtp_timeout" once when RTP stopped arriving while we
 * receive; re-armed when it arrives again. */
static gboolean
on_watch (gpointer data)
{
  Stream *st = data;
  gint last = g_atomic_int_get (&st->last_rtp_ms);
  if (st->pipeline == NULL || !g_atomic_int_get (&st->receiving) || last == 0)
    return G_SOURCE_CONTINUE;
  if (ms_since_t0 (st) - (last - 1) < SF_MEDIA_GST_RTP_TIMEOUT_MS) {
    st->timed_out = FALSE;
    return G_SOURCE_CONTINUE;
  }
  if (!st->timed_out) {
    st->timed_out = TRUE;
    g_debug ("%s: media: no RTP for %d ms", st->link->call, SF_MEDIA_GST_RTP_TIMEOUT_MS);
    sf_media_emit (st->media, st->link->call, "rtp_timeout", NULL); /* may stop @st: the last use */
  }
  return G_SOURCE_CONTINUE;
}

/* ---- the vtable ---- */

static void stream_stop (gpointer stream);

static gpointer
stream_start (SfMedia *m, const char *call, const SfSdpMedia *neg, GError **error)
{
  g_autoptr (GError) init_error = NULL;
  if (!gst_is_initialized () && !gst_init_check (NULL, NULL, &init_error)) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "GStreamer does not start: %s", init_error->message);
    return NULL;
  }
  if (neg->codec.name != NULL && codec_of (neg) == NULL) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "codec %s is not one we carry", neg->codec.name);
    return NULL;
  }
  Stream *st = g_new0 (Stream, 1);
  st->media = m;
  st->link = sf_gst_link_new (m, call);
  st->ctx = g_main_context_ref_thread_default ();
  st->t0 = g_get_monotonic_time ();
  g_mutex_init (&st->lock);
  g_cond_init (&st->cond);
  const char *path = NULL;
  st->source = sf_media_source (m, &st->tone_hz, &path);
  st->source_path = g_strdup (path);
  st->sink = sf_media_sink (m, &path);
  /* "{call}" in media.sink's path: one recording per call (a transfer's calls
   * overlap: one file for both would be written twice at once) */
  if (path != NULL && strstr (path, "{call}") != NULL && call != NULL) {
    g_auto (GStrv) parts = g_strsplit (path, "{call}", -1);
    st->sink_path = g_strjoinv (call, parts);
  } else {
    st->sink_path = g_strdup (path);
  }
  sf_sdp_media_copy (&st->neg, neg);
  /* A rejected stream (no codec, no port) runs no pipeline until an update
   * brings one. */
  if (codec_of (neg) != NULL && neg->local_port != 0 && !build (st, error)) {
    stream_stop (st);
    return NULL;
  }
  st->watch = g_timeout_source_new (WATCH_MS);
  g_source_set_callback (st->watch, on_watch, st, NULL);
  g_source_set_static_name (st->watch, "sf-media-gst rtp timeout");
  g_source_attach (st->watch, st->ctx);
  return st;
}

/* What cannot change in place: the codec, its payload types, our port, the
 * address family, the packet time. */
static gboolean
needs_rebuild (Stream *st, const SfSdpMedia *neg)
{
  const SfSdpMedia *old = &st->neg;
  if (st->pipeline == NULL)
    return codec_of (neg) != NULL && neg->local_port != 0;
  if (codec_of (neg) == NULL || neg->local_port == 0)
    return TRUE;
  if (codec_of (neg) != codec_of (old) || neg->codec.pt != old->codec.pt || neg->codec.rate != old->codec.rate
      || neg->dtmf_pt != old->dtmf_pt || neg->local_port != old->local_port || neg->ptime != old->ptime
      || neg->srtp != old->srtp)
    return TRUE;
  g_autoptr (GInetAddress) a = neg->remote_addr != NULL ? g_inet_address_new_from_string (neg->remote_addr) : NULL;
  GSocketFamily family = a != NULL ? g_inet_address_get_family (a) : G_SOCKET_FAMILY_IPV4;
  return family != g_socket_get_family (st->rtp_sock);
}

static gboolean
stream_update (gpointer stream, const SfSdpMedia *neg, GError **error)
{
  Stream *st = stream;
  if (neg->codec.name != NULL && codec_of (neg) == NULL) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "codec %s is not one we carry", neg->codec.name);
    return FALSE;
  }
  gboolean rebuild = needs_rebuild (st, neg);
  gboolean rekey = !rebuild && st->pipeline != NULL && neg->srtp != SF_SRTP_NONE
                   && (memcmp (neg->srtp_send_key, st->neg.srtp_send_key, SF_SRTP_KEY_LEN) != 0
                       || memcmp (neg->srtp_recv_key, st->neg.srtp_recv_key, SF_SRTP_KEY_LEN) != 0);
  sf_sdp_media_clear (&st->neg);
  sf_sdp_media_copy (&st->neg, neg);
  if (rekey) {
    /* New keys (a re-INVITE, RFC 4568 7.1.4) in place: srtpenc starts a new
     * session at its next packet; srtpdec forgets its keys and asks again
     * (request-key) at the next packet of each source. */
    g_debug ("%s: media: SRTP re-keyed", st->link->call);
    g_mutex_lock (&st->lock);
    memcpy (st->recv_key, neg->srtp_recv_key, SF_SRTP_KEY_LEN);
    st->n_keyed = 0; /* the streams go with clear-keys: the count starts again */
    g_mutex_unlock (&st->lock);
    set_send_key (st);
    g_signal_emit_by_name (st->srtpdec, "clear-keys");
  }
  if (!rebuild) {
    if (st->pipeline != NULL)
      apply (st);
    return TRUE;
  }
  g_debug ("%s: media: the stream changed beyond direction and remote: new pipeline", st->link->call);
  teardown (st);
  return codec_of (neg) == NULL || neg->local_port == 0 || build (st, error);
}

static gboolean
stream_dtmf (gpointer stream, const char *digits, GError **error)
{
  Stream *st = stream;
  if (st->pipeline == NULL || st->dtmfsrc == NULL) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s",
                 st->pipeline == NULL ? "no audio stream" : "no telephone-event payload type agreed (RFC 4733)");
    return FALSE;
  }
  if (!sends (&st->neg)) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "the stream does not send (%s)",
                 sf_sdp_dir_name (st->neg.dir));
    return FALSE;
  }
  /* rtpdtmfsrc queues the events and plays each at least 250 ms, 100 ms
   * apart; they are sent upstream into its pad as if from the pipeline. */
  g_autoptr (GstPad) pad = gst_element_get_static_pad (st->dtmfsrc, "src");
  for (const char *d = digits; *d != '\0'; d++) {
    const char *at = strchr (dtmf_events, g_ascii_toupper (*d));
    g_return_val_if_fail (at != NULL, FALSE); /* sf_media_dtmf checked them */
    GstStructure *start = gst_structure_new ("dtmf-event", "type", G_TYPE_INT, 1, "number", G_TYPE_INT,
                                             (gint) (at - dtmf_events), "volume", G_TYPE_INT, DTMF_VOLUME, "start",
                                             G_TYPE_BOOLEAN, TRUE, NULL);
    GstStructure *stop = gst_structure_new ("dtmf-event", "type", G_TYPE_INT, 1, "start", G_TYPE_BOOLEAN, FALSE, NULL);
    if (!gst_pad_send_event (pad, gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, start))
        || !gst_pad_send_event (pad, gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, stop))) {
      g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "rtpdtmfsrc refused '%c'", *d);
      return FALSE;
    }
  }
  return TRUE;
}

/* A pipeline that mixes a file over silence: the file's elements are
 * replaced by new ones reading @st->play_path from its start, in place (the
 * same SSRC, sequence numbers and timestamps go on).  The old branch is
 * flushed first, which frees its streaming thread if the mixer holds it, so
 * that stopping it neither blocks nor reports an error; the new branch's
 * timestamps are moved to the pipeline's running time at its first buffer
 * (on_file_first), or the mixer, already past their zero, would drop them as
 * late. */
static gboolean
replace_file (Stream *st, GError **error)
{
  GstElement *p = st->pipeline;
  g_autoptr (GstElement) mix = gst_bin_get_by_name (GST_BIN (p), "mix");
  g_autoptr (GstElement) old_last = gst_bin_get_by_name (GST_BIN (p), "file_caps");
  g_return_val_if_fail (mix != NULL && old_last != NULL, FALSE);
  g_autoptr (GstPad) old_src = gst_element_get_static_pad (old_last, "src");
  g_autoptr (GstPad) old_sink = gst_pad_get_peer (old_src);
  if (old_sink != NULL)
    gst_pad_send_event (old_sink, gst_event_new_flush_start ());
  for (gsize i = 0; i < G_N_ELEMENTS (file_elements); i++) {
    g_autoptr (GstElement) e = gst_bin_get_by_name (GST_BIN (p), file_elements[i]);
    if (e != NULL) {
      gst_element_set_state (e, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (p), e);
    }
  }
  if (old_sink != NULL)
    gst_element_release_request_pad (mix, old_sink);
  GstElement *last;
  if (!build_file (st, st->play_path, &last, error))
    return FALSE;
  g_autoptr (GstPad) src = gst_element_get_static_pad (last, "src");
  g_autoptr (GstPad) sink = gst_element_request_pad_simple (mix, "sink_%u");
  if (sink == NULL || gst_pad_link (src, sink) != GST_PAD_LINK_OK) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "play: cannot link the file to the mixer");
    return FALSE;
  }
  for (gsize i = G_N_ELEMENTS (file_elements); i-- > 0;) {
    g_autoptr (GstElement) e = gst_bin_get_by_name (GST_BIN (p), file_elements[i]);
    if (e != NULL && !gst_element_sync_state_with_parent (e)) {
      g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "play: %s does not start", file_elements[i]);
      return FALSE;
    }
  }
  return TRUE;
}

/* The prompt @path: in place when the pipeline already mixes a file, else
 * by a new pipeline on the same ports (a tone or silence source has no mixer
 * to add the file to); with no pipeline (no stream agreed), kept for the
 * next one. */
static gboolean
stream_play (gpointer stream, const char *path, GError **error)
{
  Stream *st = stream;
  g_free (st->play_path);
  st->play_path = g_strdup (path);
  if (st->pipeline == NULL)
    return TRUE;
  g_autoptr (GstElement) mix = gst_bin_get_by_name (GST_BIN (st->pipeline), "mix");
  if (mix != NULL)
    return replace_file (st, error);
  g_debug ("%s: media: playing %s: new pipeline", st->link->call, path);
  teardown (st);
  return build (st, error);
}

/* RTPSource stats (RFC 3550 6.4): ours for what was sent, the peer's for what
 * arrived, its loss and interarrival jitter (timestamp units -> ms). */
static void
stream_stats (gpointer stream, SfMediaStats *out)
{
  Stream *st = stream;
  if (st->pipeline == NULL)
    return;
  GObject *session = NULL;
  g_signal_emit_by_name (st->rtpbin, "get-internal-session", 0u, &session);
  if (session == NULL)
    return;
  GstStructure *s = NULL;
  g_object_get (session, "stats", &s, NULL);
  g_object_unref (session);
  if (s == NULL)
    return;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  const GValue *v = gst_structure_get_value (s, "source-stats");
  GValueArray *sources = v != NULL && G_VALUE_HOLDS (v, g_value_array_get_type ()) ? g_value_get_boxed (v) : NULL;
  for (guint i = 0; sources != NULL && i < sources->n_values; i++) {
    const GstStructure *src = gst_value_get_structure (&sources->values[i]);
    gboolean internal = FALSE;
    guint64 packets = 0, octets = 0;
    gst_structure_get_boolean (src, "internal", &internal);
    if (internal) {
      gst_structure_get_uint64 (src, "packets-sent", &packets);
      gst_structure_get_uint64 (src, "octets-sent", &octets);
      out->packets_sent += packets;
      out->bytes_sent += octets;
      continue;
    }
    gint lost = 0, rate = 0;
    guint jitter = 0;
    gst_structure_get_uint64 (src, "packets-received", &packets);
    gst_structure_get_uint64 (src, "octets-received", &octets);
    gst_structure_get_int (src, "packets-lost", &lost);
    gst_structure_get_uint (src, "jitter", &jitter);
    gst_structure_get_int (src, "clock-rate", &rate);
    out->packets_received += packets;
    out->bytes_received += octets;
    out->packets_lost += lost > 0 ? (guint64) lost : 0;
    if (rate > 0 && packets > 0)
      out->jitter_ms = MAX (out->jitter_ms, jitter * 1000.0 / rate);
  }
  G_GNUC_END_IGNORE_DEPRECATIONS
  gst_structure_free (s);
}

static void
stream_stop (gpointer stream)
{
  Stream *st = stream;
  teardown (st);
  if (st->watch != NULL) {
    g_source_destroy (st->watch);
    g_source_unref (st->watch);
  }
  st->link->media = NULL; /* posts still queued are dropped */
  sf_gst_link_unref (st->link);
  g_main_context_unref (st->ctx);
  sf_sdp_media_clear (&st->neg);
  g_free (st->source_path);
  g_free (st->play_path);
  g_free (st->sink_path);
  g_mutex_clear (&st->lock);
  g_cond_clear (&st->cond);
  g_free (st);
}

static const SfMediaBackend backend = {
  "gstreamer", stream_start, stream_update, stream_dtmf, stream_stats, stream_stop, stream_play,
  sf_media_gst_relay_start, sf_media_gst_relay_update, sf_media_gst_relay_stats, sf_media_gst_relay_stop,
};

const SfMediaBackend *
sf_media_gst_backend (void)
{
  return &backend;
}
