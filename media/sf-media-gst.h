/* sf-media-gst.h: the GStreamer media backend.  One pipeline per call built on
 * rtpbin: RTP and RTCP (RFC 3550) to and from the negotiated peer, symmetric
 * (we send from the ports we receive on), PCMU/PCMA (RFC 3551) or Opus
 * (RFC 7587), telephone events (RFC 4733) sent and received.  The source and
 * sink come from [media]; events (DTMF received, RTP stopped arriving, errors)
 * reach the SfMedia's event function in the main context.  docs/media.md draws
 * the pipeline and lists the choices. */
#pragma once
#include "media/sf-media.h"

G_BEGIN_DECLS

/* The backend's vtable (name "gstreamer").  GStreamer is initialised on the
 * first start(); a missing element fails that start with SF_MEDIA_ERROR_FAILED
 * naming it and the Debian package that has it. */
const SfMediaBackend *sf_media_gst_backend (void);

/* What a post from a streaming thread into the main context holds: never
 * the stream or relay itself, which may be gone when the post runs; @media is
 * set to NULL (main context) when it stops, and its posts are then dropped. */
typedef struct {
  gatomicrefcount ref;
  SfMedia *media;  /* unowned; NULL once the stream or relay stopped */
  char *call;      /* owned */
} SfGstLink;
SfGstLink *sf_gst_link_new (SfMedia *m, const char *call);
SfGstLink *sf_gst_link_ref (SfGstLink *l);
void sf_gst_link_unref (SfGstLink *l);
/* Any thread: @event reaches the SfMedia's event function from @ctx. */
void sf_gst_link_post (GMainContext *ctx, SfGstLink *link, const char *event, const char *arg);

/* Its relay entries (sf-media-gst-relay.c, sf-media-relay.h). */
gpointer sf_media_gst_relay_start (SfMedia *m, const char *call, const SfMediaRelaySpec *spec, GError **error);
gboolean sf_media_gst_relay_update (gpointer relay, const SfMediaRelaySpec *spec, GError **error);
void sf_media_gst_relay_stats (gpointer relay, SfRelaySide side, SfMediaStats *out);
void sf_media_gst_relay_stop (gpointer relay);

/* How long without RTP, after some arrived while we receive, before
 * "rtp_timeout" (ms). */
#define SF_MEDIA_GST_RTP_TIMEOUT_MS 3000
/* How long stop() waits for a WAV sink to take end-of-stream (ms). */
#define SF_MEDIA_GST_EOS_WAIT_MS 2000
/* rtpbin's jitter buffer (ms). */
#define SF_MEDIA_GST_JITTER_MS 100
/* Most SSRCs srtpdec is given a key for, per key (a re-key starts again): it
 * keeps a libsrtp stream (about 5 KiB) for each, found by a walk of a list at
 * every packet, and anyone who can reach the RTP port can send packets with a
 * new SSRC each (their tag is checked only after the key is given).  A peer
 * sends one or two (RTP and RTCP, a restart). */
#define SF_MEDIA_GST_SRTP_MAX_SSRC 8

G_END_DECLS
