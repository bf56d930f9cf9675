/* sf-media-relay.h: a B2BUA's anchored media.  One relay per bridged call
 * holds two RTP port pairs from the pool, one facing each side (A: the
 * caller's leg, B: the callee's).  What side A sends to our A port goes out of
 * our B port to side B, and the reverse; RTCP likewise on port + 1.  Sending
 * from the port that receives is symmetric RTP (RFC 4961).  Each side's
 * destination is the address and port of its SDP until the relay latches onto
 * the source its packets actually come from (b2bua.latch), which a NAT between
 * us and the side makes different.  No decoding: SRTP and any codec pass as
 * they are.  docs/media.md "Relay (B2BUA anchored media)" draws it. */
#pragma once
#include "media/sf-media.h"

G_BEGIN_DECLS

typedef struct _SfMediaRelay SfMediaRelay;

/* Two port pairs from @m's pool for @call (a handle for logs and events),
 * and the backend's relay started on them (latch any, relatch 1000 ms, no
 * RTP timeout until sf_media_relay_set_latch says otherwise); NULL with
 * SF_MEDIA_ERROR_FAILED when the pool has no two pairs left or the backend
 * relays nothing or fails (no port kept). */
SfMediaRelay *sf_media_relay_new (SfMedia *m, const char *call, GError **error);
/* The same with each side's address family: @v6_a, @v6_b TRUE for a side
 * reached over IPv6, whose port pair the backend binds on :: instead of the
 * pool's IPv4 sockets (the pool's port numbers either way).  A side speaks
 * one family: the one of the address the SDP sent to it names. */
SfMediaRelay *sf_media_relay_new_full (SfMedia *m, const char *call, gboolean v6_a, gboolean v6_b, GError **error);
/* Whether @side's ports are IPv6. */
gboolean sf_media_relay_v6 (SfMediaRelay *r, SfRelaySide side);
/* Our RTP port facing @side: the port the SDP sent to @side names. */
guint sf_media_relay_port (SfMediaRelay *r, SfRelaySide side);
/* The latching policy: @latch, @relatch_ms (1..60000) of silence from the
 * latched source before another source may take its place, @rtp_timeout_ms
 * (0: never) without RTP from either side before "rtp_timeout". */
gboolean sf_media_relay_set_latch (SfMediaRelay *r, SfRelayLatch latch, guint relatch_ms, guint rtp_timeout_ms,
                                   GError **error);
/* Where @side receives, from its SDP (SfSdpPeer): @addr an IP literal of the
 * side's family and @port 1..65535; @addr NULL (or 0.0.0.0 or ::, RFC 3264 8.4
 * hold) or @port 0: no destination until the side is heard (latching).  An
 * address or port other than the last given lets the side latch again at
 * once.  SF_MEDIA_ERROR_FAILED for a name, an address of the other family (the
 * side's sockets cannot send there), an IPv4-mapped IPv6 address, or a bad
 * port. */
gboolean sf_media_relay_set_peer (SfMediaRelay *r, SfRelaySide side, const char *addr, guint port, GError **error);
/* @deny: sf_media_relay_set_peer refuses for @side an address of this host
 * (127.0.0.0/8, or an interface's): a party that does not signal from
 * this host names none of its services as where we send (by default allowed:
 * the caller knows where its sides are). */
void sf_media_relay_deny_local (SfMediaRelay *r, SfRelaySide side, gboolean deny);
/* The telephone-event payload type @side sends with (SfSdpPeer.dtmf_pt:
 * from its SDP; -1: none): its events, relayed as they are, are also told as
 * "dtmf" media events ("a 5").  SF_MEDIA_ERROR_FAILED outside -1..127. */
gboolean sf_media_relay_set_dtmf (SfMediaRelay *r, SfRelaySide side, int pt, GError **error);
/* Packets and bytes received from @side and sent to it (sf-media.h SfMediaStats;
 * packets_lost: dropped from a source not latched). */
void sf_media_relay_stats (SfMediaRelay *r, SfRelaySide side, SfMediaStats *out);
/* {"a":{stats},"b":{stats}} for event lines (transfer full). */
char *sf_media_relay_stats_json (SfMediaRelay *r);
/* Stops the relay and gives both port pairs back. */
void sf_media_relay_free (SfMediaRelay *r);

/* ---- latching, for backends (one state per side and per RTP or RTCP) ---- */

typedef enum {
  SF_RELAY_TAKE,     /* forward it; the destination stays */
  SF_RELAY_LATCH,    /* forward it; the side's destination becomes its source */
  SF_RELAY_DROP,     /* a source we do not follow: drop it */
} SfRelayVerdict;

typedef struct {
  SfRelayLatch mode;
  gint64 relatch_us;
  char sdp_host[48];   /* the SDP's address ("" when none) */
  guint sdp_port;      /* the SDP's port for this stream, 0 none: a source that is exactly the SDP's
                          address and port latches at once, whatever is latched (the peer the signalling
                          names wins over the packets of one it replaced: a transfer, a re-INVITE to a
                          new party; set after sf_media_relay_latch_reset), within relatch_us of the first
                          packet after the reset only */
  gboolean seen;       /* a packet came since the reset, the first at first_us */
  gint64 first_us;
  gboolean latched;
  char addr[48];       /* the latched source */
  guint port;
  gint64 last_us;      /* when the latched source was last heard */
} SfRelayLatchState;

/* What to do with a packet from @addr:@port at @now_us (monotonic): the
 * first accepted source latches; a later other source latches only after
 * relatch_us without a packet from the latched one (the guard against a
 * stranger taking the stream: RTP bleed), unless it is exactly the SDP's
 * address and port (sdp_port) within relatch_us of the first packet since
 * the reset. */
SfRelayVerdict sf_media_relay_latch_check (SfRelayLatchState *st, const char *addr, guint port, gint64 now_us);
/* A new SDP address for the side: not latched any more. */
void sf_media_relay_latch_reset (SfRelayLatchState *st, SfRelayLatch mode, guint relatch_ms, const char *sdp_host);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfMediaRelay, sf_media_relay_free)

G_END_DECLS
