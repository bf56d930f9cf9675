/* sf-media-gst-relay.c: the GStreamer backend's relay for a B2BUA's anchored
 * media (sf-media-relay.h).  One pipeline per call, no rtpbin, no jitter
 * buffer, no decoding: four branches
 *
 *   udpsrc(socket = A's RTP)  ! probe ! multiudpsink(socket = B's RTP,  clients = B)
 *   udpsrc(socket = B's RTP)  ! probe ! multiudpsink(socket = A's RTP,  clients = A)
 *   udpsrc(socket = A's RTCP) ! probe ! multiudpsink(socket = B's RTCP, clients = B)
 *   udpsrc(socket = B's RTCP) ! probe ! multiudpsink(socket = A's RTCP, clients = A)
 *
 * Each sink sends from the socket its side's packets arrive on (symmetric
 * RTP, RFC 4961).  The probe reads the packet's source (GstNetAddressMeta)
 * and applies the latching rule (sf_media_relay_latch_check): a side's
 * destination is its SDP's address until the side is heard, then the source
 * it is heard from; it also tells the telephone events it sees (RFC 4733,
 * relayed untouched) as "dtmf" media events.  No queue: udpsrc's thread
 * sends the packet itself (four streaming threads per call).
 *
 * Threads: the probes run in the streaming threads; they touch the relay's
 * lock-protected latch states and atomics, call multiudpsink's clear/add
 * (which take the sink's own lock) and post events into the main context as
 * idle sources holding an SfGstLink (never the relay, which may be stopped before
 * the post runs). */
#include "config.h"
#include "media/sf-media-gst.h"
#include "media/sf-media-relay.h"
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <netinet/in.h>
#include <gst/net/gstnetaddressmeta.h> /* the struct only: the API type is looked up by name (no libgstnet link) */
#include <string.h>

#define WATCH_MS 250 /* how often the RTP timeout is checked */

typedef struct _Relay Relay;

/* One branch: what arrives from side @from on RTP or RTCP. */
typedef struct {
  Relay *relay;      /* unowned: the owner */
  int from;          /* SF_RELAY_A or SF_RELAY_B */
  gboolean rtcp;
} Branch;

typedef struct {
  gint64 packets_in, bytes_in, packets_out, bytes_out, dropped;
} Counters;

struct _Relay {
  SfMedia *media;        /* unowned */
  SfGstLink *link;            /* owned */
  GMainContext *ctx;     /* owned: where events are delivered */
  GstElement *pipeline;  /* owned */
  GstElement *sink[2][2]; /* unowned: [side][rtcp], the sink sending TO side */
  GSocket *own[2][2];    /* owned, nullable: [side][rtcp], an IPv6 side's sockets (the pool's are IPv4) */
  Branch branch[2][2];   /* [from][rtcp] */
  GType meta_api;
  GSource *watch;        /* owned, nullable: the RTP timeout check */
  gint64 t0;

  GMutex lock;           /* guards what follows */
  SfMediaRelaySpec spec; /* the last spec given (its strings owned) */
  SfRelayLatchState latch[2][2];
  gboolean has_dest[2][2];
  Counters count[2];     /* per side */
  gint64 last_rtp_us;    /* the last RTP packet from either side (0: none yet) */
  gboolean timed_out;
  /* RFC 4733 2.3: one event per RTP timestamp, repeated while it lasts: told
   * once, when first seen (per side). */
  gboolean have_event[2];
  guint32 event_ts[2], event_ssrc[2];
  gint64 event_tat[2];   /* when the side's told events are paid for (the rate below) */
};

/* Events told per side: a burst of DTMF_BURST, then one per DTMF_EVERY_US
 * (a digit lasts 40 ms at least, ITU-T Q.24).  Each is a post into the main
 * context: a peer sending a new event in every packet (a new timestamp each)
 * would otherwise queue them faster than the main loop runs them.  An event
 * not told yet is told from its next packet (RFC 4733 2.5.1.4 repeats it). */
#define DTMF_BURST 8
#define DTMF_EVERY_US (40 * G_TIME_SPAN_MILLISECOND)

static const char dtmf_events[] = "0123456789*#ABCD"; /* RFC 4733 3.2: events 0 to 15 */

/* A telephone event from @from in @buf: told once per event.  Lock held. */
static void
dtmf_check (Relay *r, int from, GstBuffer *buf, gint64 now)
{
  int pt = r->spec.dtmf_pt[from];
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (pt < 0 || !gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return;
  if (gst_rtp_buffer_get_payload_type (&rtp) == (guint) pt && gst_rtp_buffer_get_payload_len (&rtp) >= 4) {
    const guint8 *payload = gst_rtp_buffer_get_payload (&rtp);
    guint32 ts = gst_rtp_buffer_get_timestamp (&rtp), ssrc = gst_rtp_buffer_get_ssrc (&rtp);
    gint64 tat = MAX (r->event_tat[from], now);
    if ((!r->have_event[from] || ts != r->event_ts[from] || ssrc != r->event_ssrc[from])
        && tat - now <= (DTMF_BURST - 1) * DTMF_EVERY_US) {
      r->event_tat[from] = tat + DTMF_EVERY_US;
      r->have_event[from] = TRUE;
      r->event_ts[from] = ts;
      r->event_ssrc[from] = ssrc;
      if (payload[0] < 16) {
        char arg[4] = { from == SF_RELAY_A ? 'a' : 'b', ' ', dtmf_events[payload[0]], '\0' };
        sf_gst_link_post (r->ctx, r->link, "dtmf", arg);
      }
    }
  }
  gst_rtp_buffer_unmap (&rtp);
}

/* Points the sink sending to @side's RTP (or RTCP) at @addr:@port; none
 * when @addr is NULL.  Lock held. */
static void
dest_set (Relay *r, int side, gboolean rtcp, const char *addr, guint port)
{
  GstElement *sink = r->sink[side][rtcp];
  g_signal_emit_by_name (sink, "clear");
  r->has_dest[side][rtcp] = addr != NULL && port != 0;
  if (r->has_dest[side][rtcp])
    g_signal_emit_by_name (sink, "add", addr, (gint) port);
}

/* Every packet from a side: latching, counting, dropping. */
static GstPadProbeReturn
on_packet (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Branch *b = data;
  Relay *r = b->relay;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (buf == NULL)
    return GST_PAD_PROBE_OK;
  GstNetAddressMeta *meta = (GstNetAddressMeta *) gst_buffer_get_meta (buf, r->meta_api);
  if (meta == NULL || !G_IS_INET_SOCKET_ADDRESS (meta->addr))
    return GST_PAD_PROBE_DROP;
  GInetSocketAddress *sa = G_INET_SOCKET_ADDRESS (meta->addr);
  g_autofree char *addr = g_inet_address_to_string (g_inet_socket_address_get_address (sa));
  guint port = g_inet_socket_address_get_port (sa);
  gsize size = gst_buffer_get_size (buf);
  gint64 now = g_get_monotonic_time ();
  int to = 1 - b->from;
  g_mutex_lock (&r->lock);
  /* RTCP follows the side's RTP: once RTP latched, RTCP from another host is
   * a stranger's (RTCP comes seconds after RTP, RFC 3550 6.2: the port would
   * be its for the asking, and with it the other side's reports, CNAME and
   * all). */
  const SfRelayLatchState *rtp = &r->latch[b->from][0];
  SfRelayVerdict v = b->rtcp && rtp->mode != SF_RELAY_LATCH_OFF && rtp->latched && strcmp (addr, rtp->addr) != 0
                       ? SF_RELAY_DROP
                       : sf_media_relay_latch_check (&r->latch[b->from][b->rtcp], addr, port, now);
  if (v == SF_RELAY_DROP) {
    r->count[b->from].dropped++;
    g_mutex_unlock (&r->lock);
    return GST_PAD_PROBE_DROP;
  }
  if (v == SF_RELAY_LATCH) {
    /* RFC 4961: the side receives where it sends from. */
    dest_set (r, b->from, b->rtcp, addr, port);
    if (!b->rtcp) {
      g_autofree char *arg = g_strdup_printf ("%c %s:%u", b->from == SF_RELAY_A ? 'a' : 'b', addr, port);
      sf_gst_link_post (r->ctx, r->link, "latched", arg);
      /* RTCP latched onto another host before: forgotten, the side's RTCP
       * goes to this host's RTP port + 1 until heard. */
      SfRelayLatchState *rtcp = &r->latch[b->from][1];
      if (rtcp->latched && strcmp (rtcp->addr, addr) != 0) {
        char host[sizeof rtcp->sdp_host];
        g_strlcpy (host, rtcp->sdp_host, sizeof host); /* the reset zeroes it first */
        sf_media_relay_latch_reset (rtcp, r->spec.latch, r->spec.relatch_ms, host);
        dest_set (r, b->from, TRUE, addr, port < 65535 ? port + 1 : 0);
      }
    }
  }
  r->count[b->from].packets_in++;
  r->count[b->from].bytes_in += (gint64) size;
  if (!b->rtcp) {
    r->last_rtp_us = now;
    dtmf_check (r, b->from, buf, now);
  }
  gboolean out = r->has_dest[to][b->rtcp];
  if (out) {
    r->count[to].packets_out++;
    r->count[to].bytes_out += (gint64) size;
  }
  g_mutex_unlock (&r->lock);
  return out ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

/* Applies @spec: latch policy, and each side's SDP destination unless the
 * side latched onto a source already and neither its SDP nor the policy
 * changed (@all: everything, at start).  Lock held. */
static void
apply (Relay *r, const SfMediaRelaySpec *spec, gboolean all)
{
  for (int side = 0; side < 2; side++) {
    gboolean changed = all || g_strcmp0 (spec->peer_addr[side], r->spec.peer_addr[side]) != 0
                       || spec->peer_port[side] != r->spec.peer_port[side] || spec->latch != r->spec.latch
                       || spec->relatch_ms != r->spec.relatch_ms;
    for (int rtcp = 0; rtcp < 2; rtcp++) {
      if (!changed && r->latch[side][rtcp].latched)
        continue;
      sf_media_relay_latch_reset (&r->latch[side][rtcp], spec->latch, spec->relatch_ms, spec->peer_addr[side]);
      /* RTCP on the RTP port + 1 (RFC 3550 11; a=rtcp is not relayed); an
       * SDP port of 65535 has none (multiudpsink would wrap 65536 to 0). */
      guint port = spec->peer_port[side] != 0 ? spec->peer_port[side] + rtcp : 0;
      r->latch[side][rtcp].sdp_port = port <= 65535 ? port : 0;
      dest_set (r, side, rtcp, spec->peer_addr[side], port <= 65535 ? port : 0);
    }
    g_free (r->spec.peer_addr[side]);
    r->spec.peer_addr[side] = g_strdup (spec->peer_addr[side]);
    r->spec.peer_port[side] = spec->peer_port[side];
  }
  r->spec.latch = spec->latch;
  r->spec.relatch_ms = spec->relatch_ms;
  r->spec.rtp_timeout_ms = spec->rtp_timeout_ms;
  r->spec.dtmf_pt[0] = spec->dtmf_pt[0];
  r->spec.dtmf_pt[1] = spec->dtmf_pt[1];
}

static gboolean
on_watch (gpointer data)
{
  Relay *r = data;
  g_mutex_lock (&r->lock);
  gboolean fire = FALSE;
  if (r->spec.rtp_timeout_ms > 0 && r->last_rtp_us != 0) {
    gboolean silent = g_get_monotonic_time () - r->last_rtp_us >= (gint64) r->spec.rtp_timeout_ms * G_TIME_SPAN_MILLISECOND;
    fire = silent && !r->timed_out;
    r->timed_out = silent;
  }
  g_mutex_unlock (&r->lock);
  if (fire)
    sf_media_emit (r->media, r->link->call, "rtp_timeout", NULL); /* may stop @r: the last use */
  return G_SOURCE_CONTINUE;
}

static GstBusSyncReply
on_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  Relay *r = data;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_autofree char *text = g_strdup_printf ("%s: %s", GST_MESSAGE_SRC_NAME (msg), err->message);
    sf_gst_link_post (r->ctx, r->link, "media_error", text);
  }
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

static GstElement *
make (Relay *r, const char *factory, const char *name, GSocket *sock, GError **error)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (e == NULL) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED,
                 "GStreamer element %s is missing (Debian package gstreamer1.0-plugins-good)", factory);
    return NULL;
  }
  /* multiudpsink sends to IPv6 clients through its socket-v6 only */
  gboolean v6 = g_socket_get_family (sock) == G_SOCKET_FAMILY_IPV6 && strcmp (factory, "multiudpsink") == 0;
  g_object_set (e, v6 ? "socket-v6" : "socket", sock, "close-socket", FALSE, NULL);
  if (strcmp (factory, "multiudpsink") == 0)
    g_object_set (e, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (r->pipeline), e);
  return e;
}

void sf_media_gst_relay_stop (gpointer relay);

/* A UDP socket bound on :: and @port, IPv6 only: IPv4 packets would come
 * from IPv4-mapped addresses, which the side's SDP never names (its
 * destination is refused one, sf_media_relay_set_peer). */
static GSocket *
bind_v6 (guint port, GError **error)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (s == NULL || !g_socket_set_option (s, IPPROTO_IPV6, IPV6_V6ONLY, 1, error))
    return NULL;
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (any, (guint16) port);
  if (!g_socket_bind (s, addr, FALSE, error))
    return NULL;
  return g_steal_pointer (&s);
}

gpointer
sf_media_gst_relay_start (SfMedia *m, const char *call, const SfMediaRelaySpec *spec, GError **error)
{
  g_autoptr (GError) init_error = NULL;
  if (!gst_is_initialized () && !gst_init_check (NULL, NULL, &init_error)) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "GStreamer does not start: %s", init_error->message);
    return NULL;
  }
  GSocket *sock[2][2];
  for (int side = 0; side < 2; side++)
    for (int rtcp = 0; rtcp < 2; rtcp++)
      if ((sock[side][rtcp] = sf_media_port_socket (m, spec->port[side], rtcp)) == NULL
          || g_socket_is_closed (sock[side][rtcp])) {
        g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: port %u is not held by the pool", call,
                     spec->port[side] + rtcp);
        return NULL;
      }
  /* An IPv6 side: the pool's IPv4 sockets give the port up (a dual-stack
   * bind on :: would collide with them), and the same port is bound on ::,
   * as the UA's stream does (sf-media-gst.c).  The pool frees the closed
   * ones with the port. */
  GSocket *own[2][2] = { { NULL } };
  for (int side = 0; side < 2; side++)
    for (int rtcp = 0; spec->v6[side] && rtcp < 2; rtcp++) {
      g_socket_close (sock[side][rtcp], NULL);
      if ((own[side][rtcp] = bind_v6 (spec->port[side] + rtcp, error)) == NULL) {
        for (int k = 0; k < 4; k++)
          g_clear_object (&own[k / 2][k % 2]);
        g_prefix_error (error, "%s: relay: ", call);
        return NULL;
      }
      sock[side][rtcp] = own[side][rtcp];
    }
  Relay *r = g_new0 (Relay, 1);
  memcpy (r->own, own, sizeof own);
  r->media = m;
  r->link = sf_gst_link_new (m, call);
  r->ctx = g_main_context_ref_thread_default ();
  r->t0 = g_get_monotonic_time ();
  g_mutex_init (&r->lock);
  r->pipeline = gst_pipeline_new (NULL);
  g_autoptr (GstBus) bus = gst_element_get_bus (r->pipeline);
  gst_bus_set_sync_handler (bus, on_bus, r, NULL);
  GstElement *src[2][2];
  for (int side = 0; side < 2; side++)
    for (int rtcp = 0; rtcp < 2; rtcp++) {
      src[side][rtcp] = make (r, "udpsrc", NULL, sock[side][rtcp], error);
      r->sink[side][rtcp] = src[side][rtcp] != NULL ? make (r, "multiudpsink", NULL, sock[side][rtcp], error) : NULL;
      if (r->sink[side][rtcp] == NULL) {
        sf_media_gst_relay_stop (r);
        return NULL;
      }
    }
  r->meta_api = g_type_from_name ("GstNetAddressMetaAPI"); /* udpsrc registered it */
  for (int from = 0; from < 2; from++)
    for (int rtcp = 0; rtcp < 2; rtcp++) {
      if (!gst_element_link (src[from][rtcp], r->sink[1 - from][rtcp])) {
        g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: udpsrc does not link to multiudpsink",
                     call);
        sf_media_gst_relay_stop (r);
        return NULL;
      }
      Branch *b = &r->branch[from][rtcp];
      b->relay = r;
      b->from = from;
      b->rtcp = rtcp;
      g_autoptr (GstPad) pad = gst_element_get_static_pad (src[from][rtcp], "src");
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_packet, b, NULL);
    }
  if (r->meta_api == 0) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: udpsrc gives no sender address", call);
    sf_media_gst_relay_stop (r);
    return NULL;
  }
  g_mutex_lock (&r->lock);
  r->spec.port[0] = spec->port[0];
  r->spec.port[1] = spec->port[1];
  r->spec.v6[0] = spec->v6[0];
  r->spec.v6[1] = spec->v6[1];
  apply (r, spec, TRUE);
  g_mutex_unlock (&r->lock);
  if (gst_element_set_state (r->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: the pipeline does not start", call);
    sf_media_gst_relay_stop (r);
    return NULL;
  }
  r->watch = g_timeout_source_new (WATCH_MS);
  g_source_set_callback (r->watch, on_watch, r, NULL);
  g_source_set_static_name (r->watch, "sf-media-gst-relay rtp timeout");
  g_source_attach (r->watch, r->ctx);
  g_debug ("%s: relay: running on %u and %u", call, spec->port[0], spec->port[1]);
  return r;
}

gboolean
sf_media_gst_relay_update (gpointer relay, const SfMediaRelaySpec *spec, GError **error)
{
  Relay *r = relay;
  g_mutex_lock (&r->lock);
  apply (r, spec, FALSE);
  r->timed_out = FALSE;
  g_mutex_unlock (&r->lock);
  return TRUE;
}

void
sf_media_gst_relay_stats (gpointer relay, SfRelaySide side, SfMediaStats *out)
{
  Relay *r = relay;
  g_mutex_lock (&r->lock);
  const Counters *c = &r->count[side];
  out->packets_received = (guint64) c->packets_in;
  out->bytes_received = (guint64) c->bytes_in;
  out->packets_sent = (guint64) c->packets_out;
  out->bytes_sent = (guint64) c->bytes_out;
  out->packets_lost = (guint64) c->dropped;
  g_mutex_unlock (&r->lock);
}

void
sf_media_gst_relay_stop (gpointer relay)
{
  Relay *r = relay;
  if (r->watch != NULL) {
    g_source_destroy (r->watch);
    g_source_unref (r->watch);
  }
  if (r->pipeline != NULL) {
    gst_element_set_state (r->pipeline, GST_STATE_NULL); /* joins the streaming threads */
    g_autoptr (GstBus) bus = gst_element_get_bus (r->pipeline);
    gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
    gst_object_unref (r->pipeline);
  }
  r->link->media = NULL; /* posts still queued are dropped */
  sf_gst_link_unref (r->link);
  g_main_context_unref (r->ctx);
  for (int side = 0; side < 2; side++) {
    g_free (r->spec.peer_addr[side]);
    for (int rtcp = 0; rtcp < 2; rtcp++)
      if (r->own[side][rtcp] != NULL) {
        g_socket_close (r->own[side][rtcp], NULL);
        g_object_unref (r->own[side][rtcp]);
      }
  }
  g_mutex_clear (&r->lock);
  g_free (r);
}
