/* sf-media.h: the media interface the audio operators call.  One SfMedia per
 * endpoint holds the [media] configuration, the RTP port pool, a backend and the
 * function that receives media events; one SfMediaStream per call runs the
 * stream negotiated by sf-sdp.h.  A backend is a vtable: the null backend here
 * accepts and counts and sends no RTP; the GStreamer backend (sf-media-gst.h)
 * carries RTP (RFC 3550) and telephone events (RFC 4733).  docs/media.md
 * describes both. */
#pragma once
#include <glib.h>
#include <gio/gio.h>
#include "sipflow/sf-config.h"
#include "media/sf-sdp.h"

G_BEGIN_DECLS

#define SF_MEDIA_ERROR (sf_media_error_quark ())
GQuark sf_media_error_quark (void);
typedef enum {
  SF_MEDIA_ERROR_BAD_DIGITS,  /* DTMF digits outside RFC 4733's 0-9 * # A-D */
  SF_MEDIA_ERROR_FAILED,      /* the backend could not do it */
} SfMediaError;

typedef struct {
  guint64 packets_sent, packets_received, bytes_sent, bytes_received, packets_lost;
  double jitter_ms;
} SfMediaStats;

typedef struct _SfMedia SfMedia;              /* one per endpoint */
typedef struct _SfMediaStream SfMediaStream;  /* one per call */

/* A B2BUA's anchored media (sf-media-relay.h): the two sides of a relay. */
typedef enum { SF_RELAY_A, SF_RELAY_B } SfRelaySide;
/* b2bua.latch: which source of RTP a side's destination follows
 * (docs/media.md "Relay (B2BUA anchored media)"). */
typedef enum {
  SF_RELAY_LATCH_ANY,       /* the first source heard, wherever it is */
  SF_RELAY_LATCH_SDP_HOST,  /* the first source whose address is the SDP's c= host */
  SF_RELAY_LATCH_OFF,       /* none: the SDP's address and port only */
} SfRelayLatch;

/* What a relay runs (sf-media-relay.c builds it; backends read it). */
typedef struct {
  guint port[2];          /* our RTP port facing side A, side B (RTCP on port + 1) */
  gboolean v6[2];         /* the side's family: IPv6 (the port bound on ::), else IPv4 (0.0.0.0) */
  char *peer_addr[2];     /* owned, nullable: the side's IP literal from its SDP;
                           * NULL: not known yet, or on hold (c=0.0.0.0) */
  guint peer_port[2];     /* the side's RTP port from its SDP; 0 with peer_addr NULL */
  SfRelayLatch latch;
  guint relatch_ms;       /* silence from the latched source before another may latch */
  guint rtp_timeout_ms;   /* no RTP from either side for this long: "rtp_timeout"; 0: never */
  int dtmf_pt[2];         /* the telephone-event payload type each side sends (RFC 4733); -1: none */
} SfMediaRelaySpec;

/* What a backend implements; the stream pointer is the one start() returned,
 * owned by the backend until stop(). */
typedef struct {
  const char *name;
  gpointer (*start) (SfMedia *m, const char *call, const SfSdpMedia *neg, GError **error);
  gboolean (*update) (gpointer stream, const SfSdpMedia *neg, GError **error);  /* hold/resume, new remote */
  gboolean (*dtmf) (gpointer stream, const char *digits, GError **error);
  void (*stats) (gpointer stream, SfMediaStats *out);
  void (*stop) (gpointer stream);
  /* (Re)starts what the stream sends from the start of the WAV file @path (a
   * prompt), once, then silence; NULL: the backend plays no file. */
  gboolean (*play) (gpointer stream, const char *path, GError **error);
  /* A relay of RTP and RTCP between two sides (sf-media-relay.h), the relay
   * pointer owned by the backend until relay_stop(); NULL entries: the
   * backend relays nothing (sf_media_relay_new() fails). */
  gpointer (*relay_start) (SfMedia *m, const char *call, const SfMediaRelaySpec *spec, GError **error);
  gboolean (*relay_update) (gpointer relay, const SfMediaRelaySpec *spec, GError **error);
  /* @out: packets and bytes received from @side (taken) and sent to it;
   * packets_lost: packets from @side dropped (a source not latched). */
  void (*relay_stats) (gpointer relay, SfRelaySide side, SfMediaStats *out);
  void (*relay_stop) (gpointer relay);
} SfMediaBackend;

/* Declares [media] in @cfg:
 *   backend   = gstreamer | null                     (gstreamer)
 *   source    = tone:HZ | file:PATH.wav | silence   (tone:1000; HZ 1..20000)
 *   sink      = file:PATH.wav | none | sound         (none)
 *   rtp_ports = LOW-HIGH                             (40000-40999; 1024..65535, LOW even, LOW < HIGH)
 *   codecs    = list of PCMU, PCMA, opus             (PCMU,PCMA,opus; case-insensitive)
 *   srtp      = off | offer | require                (off; sf-sdp.h SfSdpSrtpMode)
 *   srtp_insecure_signalling = false | true          (false: SDES keys only over TLS, RFC 4568 8)
 * The configuration checks only the types; sf_media_new() checks the forms. */
gboolean sf_media_declare_config (SfConfig *cfg, GError **error);

/* Reads and checks [media] (declared beforehand): SF_CONFIG_ERROR_BAD_VALUE
 * naming the source, the key and the expected form otherwise.  @backend: NULL
 * for the one media.backend names (GStreamer's by default); it must outlive the
 * SfMedia. */
SfMedia *sf_media_new (SfConfig *cfg, const SfMediaBackend *backend, GError **error);
/* Stops the streams still running, then frees @m. */
void sf_media_free (SfMedia *m);
const SfMediaBackend *sf_media_null_backend (void);
const SfMediaBackend *sf_media_backend (SfMedia *m);

/* media.codecs in our spelling ("PCMU", "PCMA", "opus"), for sf_sdp_session_new(). */
const char *const *sf_media_codecs (SfMedia *m);

/* media.srtp, and in @insecure_ok (may be NULL) media.srtp_insecure_signalling. */
SfSdpSrtpMode sf_media_srtp (SfMedia *m, gboolean *insecure_ok);

typedef enum { SF_MEDIA_SOURCE_TONE, SF_MEDIA_SOURCE_FILE, SF_MEDIA_SOURCE_SILENCE } SfMediaSourceKind;
typedef enum { SF_MEDIA_SINK_NONE, SF_MEDIA_SINK_FILE, SF_MEDIA_SINK_SOUND } SfMediaSinkKind;
/* media.source: @hz (tone) and @path (file, transfer none) may be NULL. */
SfMediaSourceKind sf_media_source (SfMedia *m, guint *hz, const char **path);
/* media.sink: @path (file, transfer none) may be NULL. */
SfMediaSinkKind sf_media_sink (SfMedia *m, const char **path);

/* An RTP port from media.rtp_ports: even, RTCP being port + 1 (RFC 3550 11),
 * not handed out twice until freed; 0 when all are taken.  Ports are handed out
 * round-robin, so a freed port is reused last.  With a backend other than the
 * null one the port and port + 1 are bound (UDP, IPv4 wildcard address) here
 * and held until sf_media_port_free(): the port is ours from the offer on, and
 * a port another socket holds (another process's call) is passed over. */
guint sf_media_port_alloc (SfMedia *m);
void sf_media_port_free (SfMedia *m, guint port);
/* For backends: the socket holding @port (@rtcp FALSE) or @port + 1 (@rtcp
 * TRUE) since sf_media_port_alloc(); NULL when none is held (the null backend,
 * a port not from the pool).  (transfer none): a backend takes a reference to
 * use it, or closes it to bind another (IPv6); sf_media_port_free() closes it. */
GSocket *sf_media_port_socket (SfMedia *m, guint port, gboolean rtcp);
/* How many ports the range holds, and how many are handed out. */
guint sf_media_port_capacity (SfMedia *m);
guint sf_media_ports_in_use (SfMedia *m);

/* Starts the stream of @call (a handle for logs) as negotiated; NULL with the
 * backend's error.  The stream belongs to @m's caller until sf_media_stop(). */
SfMediaStream *sf_media_start (SfMedia *m, const char *call, const SfSdpMedia *neg, GError **error);
gboolean sf_media_update (SfMediaStream *st, const SfSdpMedia *neg, GError **error);
/* @digits: RFC 4733 events 0-9 * # A-D (a-d too), 1 to 64 of them;
 * SF_MEDIA_ERROR_BAD_DIGITS otherwise, before the backend sees them. */
gboolean sf_media_dtmf (SfMediaStream *st, const char *digits, GError **error);
/* What @st sends becomes the WAV file @path (a prompt), played from its
 * start once, then silence; called again, it starts again from the start.
 * SF_MEDIA_ERROR_FAILED when @path is not a readable file:PATH.wav's PATH (at
 * most SF_MEDIA_MAX_PATH bytes, ending in .wav) or the backend plays no file. */
gboolean sf_media_play (SfMediaStream *st, const char *path, GError **error);
#define SF_MEDIA_MAX_PATH 4096
void sf_media_stats (SfMediaStream *st, SfMediaStats *out);
/* {"packets_sent":0,...,"jitter_ms":0.000} (transfer full). */
char *sf_media_stats_json (const SfMediaStats *st);
/* Stops and frees @st. */
void sf_media_stop (SfMediaStream *st);
guint sf_media_active_streams (SfMedia *m);
const char *sf_media_stream_call (SfMediaStream *st);

/* Media events, delivered in the main context (the thread-default context of
 * the thread that started the stream), never from a streaming thread:
 *   "dtmf"         @arg: one digit received (RFC 4733 event: 0-9 * # A-D)
 *   "rtp_timeout"  @arg NULL: RTP stopped arriving (none for about 3 s after
 *                  some had arrived while we receive); not fatal
 *   "media_error"  @arg: the backend's message (a GStreamer bus error...)
 *   "latched"      a relay's side follows a new source (sf-media-relay.h);
 *                  @arg: "a ADDR:PORT" or "b ADDR:PORT"
 *   "dtmf"         from a relay: @arg "a DIGIT" or "b DIGIT", the side that
 *                  sent the RFC 4733 event (relayed as it is)
 *   "rtp_timeout"  from a relay too: no RTP from either side for its
 *                  rtp_timeout_ms
 * @call is the handle given to sf_media_start(). */
typedef void (*SfMediaEventFunc) (const char *call, const char *event, const char *arg, gpointer data);
/* One function per SfMedia (NULL: events are dropped); @data is unowned. */
void sf_media_set_event_func (SfMedia *m, SfMediaEventFunc func, gpointer data);
/* For backends, in the main context only: hands an event to the function set
 * (nothing when none is). */
void sf_media_emit (SfMedia *m, const char *call, const char *event, const char *arg);

/* The null backend's counters, for tests (0 for a stream of another backend). */
guint sf_media_null_dtmf_sent (SfMediaStream *st);
guint sf_media_null_updates (SfMediaStream *st);
/* How many times the null backend was told to play a file, and the last one (transfer none, nullable). */
guint sf_media_null_plays (SfMediaStream *st);
const char *sf_media_null_played (SfMediaStream *st);
/* The direction the null backend was last told (start or update). */
SfSdpDir sf_media_null_dir (SfMediaStream *st);
/* The null backend's relays (sf-media-relay.h): how many relays run, and how
 * many updates all of them were given. */
guint sf_media_null_relays (SfMedia *m);
guint sf_media_null_relay_updates (SfMedia *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfMedia, sf_media_free)

G_END_DECLS
