/* sf-sdp.h: the SDP offer/answer model (RFC 3264) for one audio stream, on
 * GstSDPMessage (RFC 4566).  A session (SfSdpSession) is one call's side of the
 * exchange: our origin, address, RTP port and codecs.  It writes offers and
 * answers and checks the peer's, and reduces each exchange to the negotiated
 * stream (SfSdpMedia) the media layer (sf-media.h) runs.  docs/media.md lists
 * the choices made where the RFCs leave one. */
#pragma once
#include <glib.h>
#include "media/sf-srtp.h"

G_BEGIN_DECLS

/* Largest SDP body read (a SIP message is at most 64 KiB, sf-sip-msg.h). */
#define SF_SDP_MAX_BYTES (64 * 1024)
/* Most m= lines read in one SDP. */
#define SF_SDP_MAX_MEDIA 16
/* Most formats read on one m= line. */
#define SF_SDP_MAX_FORMATS 64

#define SF_SDP_ERROR (sf_sdp_error_quark ())
GQuark sf_sdp_error_quark (void);
/* Both mean 488 Not Acceptable Here to the caller. */
typedef enum {
  SF_SDP_ERROR_MALFORMED,       /* not SDP we can read (RFC 4566) */
  SF_SDP_ERROR_NOT_ACCEPTABLE,  /* readable, but nothing we can take (RFC 3264) */
} SfSdpError;

typedef enum {
  SF_SDP_SENDRECV,
  SF_SDP_SENDONLY,
  SF_SDP_RECVONLY,
  SF_SDP_INACTIVE,
} SfSdpDir;

/* "sendrecv", "sendonly", "recvonly", "inactive" (the RFC 4566 6 attributes). */
const char *sf_sdp_dir_name (SfSdpDir d);

typedef struct {
  guint pt;
  char *name;      /* owned: as in rtpmap, our spelling: "PCMU", "PCMA", "opus" */
  guint rate;
  guint channels;
} SfSdpCodec;

/* The negotiated audio stream, from our point of view. */
typedef struct {
  gboolean active;      /* FALSE: rejected stream (port 0 on either side) or inactive */
  char *remote_addr;    /* owned: from c= (media level over session level), no brackets */
  guint remote_port;
  guint local_port;     /* 0 when the stream is rejected */
  SfSdpDir dir;         /* OUR direction: SENDONLY means we send and do not receive */
  SfSdpCodec codec;     /* the codec to send (name NULL when rejected) */
  int dtmf_pt;          /* telephone-event payload type agreed (RFC 4733), -1 when none */
  guint ptime;          /* ms: the peer's a=ptime, else 20 */
  /* SRTP (RFC 3711) keyed by SDES (RFC 4568): NONE for RTP in the clear. */
  SfSrtpSuite srtp;
  guint8 srtp_send_key[SF_SRTP_KEY_LEN];  /* ours: what we encrypt with */
  guint8 srtp_recv_key[SF_SRTP_KEY_LEN];  /* the peer's: what we decrypt with */
} SfSdpMedia;

/* Frees the strings of @m and zeroes it (keys included) (dtmf_pt -1); @m itself is the caller's. */
void sf_sdp_media_clear (SfSdpMedia *m);
/* A deep copy of @src into @dst (which is overwritten, not cleared first). */
void sf_sdp_media_copy (SfSdpMedia *dst, const SfSdpMedia *src);
/* JSON fields without braces, for event lines (transfer full):
 * "codec":"PCMU","remote":"127.0.0.1:40000","dir":"sendrecv","dtmf_pt":101,"srtp":null
 * (an IPv6 remote is bracketed; codec and remote are null on a rejected stream;
 * srtp is the suite's name under SRTP, never a key). */
char *sf_sdp_media_json (const SfSdpMedia *m);

/* Our spelling of a codec we support ("PCMU", "PCMA", "opus"), matched
 * case-insensitively; NULL for any other name. */
const char *sf_sdp_codec_name (const char *name);

typedef struct _SfSdpSession SfSdpSession;

/* media.srtp (docs/media.md "SRTP"):
 *   OFF      RTP/AVP offered; an RTP/SAVP stream offered to us is refused
 *   OFFER    RTP/SAVP offered (both suites, _80 first); RTP/AVP and RTP/SAVP
 *            offers both taken; once a call runs in the clear (the peer
 *            offered RTP/AVP, or refused our RTP/SAVP offer and we offered
 *            again without: sf_sdp_session_srtp_fall_back) its later offers
 *            are RTP/AVP too, until the peer offers RTP/SAVP
 *   REQUIRE  RTP/SAVP only, offered and taken */
typedef enum {
  SF_SDP_SRTP_OFF,
  SF_SDP_SRTP_OFFER,
  SF_SDP_SRTP_REQUIRE,
} SfSdpSrtpMode;

/* @local_addr: an IPv4 or IPv6 literal without brackets; @local_port: our RTP
 * port; @codecs: NULL-terminated names (PCMU, PCMA, opus, case-insensitive), most
 * preferred first; telephone-event/8000 is always added (RFC 4733).
 * SF_SDP_ERROR_NOT_ACCEPTABLE on an unknown codec, an empty list, a bad address
 * or port 0. */
SfSdpSession *sf_sdp_session_new (const char *local_addr, guint local_port, const char *const *codecs,
                                  GError **error);
void sf_sdp_session_free (SfSdpSession *s);

/* The session's SRTP policy (OFF when never set).  Every offer and every
 * answer with SRTP carries new keys (RFC 4568 7.1.4 allows keeping them; new
 * ones make a re-INVITE a re-key). */
void sf_sdp_session_set_srtp (SfSdpSession *s, SfSdpSrtpMode mode);
/* OFFER mode only: our last RTP/SAVP offer was refused; the next offers are
 * RTP/AVP.  FALSE (nothing changed) when the mode is not OFFER or the last
 * offer was not RTP/SAVP. */
gboolean sf_sdp_session_srtp_fall_back (SfSdpSession *s);
/* Whether our last offer was RTP/SAVP. */
gboolean sf_sdp_session_offered_srtp (SfSdpSession *s);

/* A new offer (transfer full) with one audio m= line in the direction @dir
 * (SENDONLY to hold, SENDRECV to resume: RFC 3264 8.4).  Each SDP this session
 * sends (offer or answer) after the first has the o= version one higher
 * (RFC 3264 5 and 8). */
char *sf_sdp_session_offer (SfSdpSession *s, SfSdpDir dir);
/* The SDP of ours in force, as it went: our answer, or our offer once
 * answered, of the last exchange completed (an offer refused leaves it, RFC
 * 3264 8); before any, the last SDP this session made (transfer none; NULL
 * before any): a session refresh by re-INVITE repeats it, its version
 * unchanged (RFC 4028 10, RFC 6337 5.3), and it becomes our last offer (its
 * answer keeps it in force). */
const char *sf_sdp_session_last_sent (SfSdpSession *s);

/* The answer (transfer full) to the peer's @offer, we wanting @dir (SENDRECV
 * normally, SENDONLY when we hold).  RFC 3264 6: the direction is the offer's
 * reversed, intersected with @dir; the codecs are those of the offer we support,
 * in the offer's order and with its payload types; an m= line we cannot take is
 * answered with port 0 and the same format list.  NULL with
 * SF_SDP_ERROR_NOT_ACCEPTABLE when an active stream was offered and none could
 * be accepted; NULL with SF_SDP_ERROR_MALFORMED and a message naming the problem
 * when @offer is not valid SDP.  @out (may be NULL) gets the negotiated stream. */
char *sf_sdp_session_answer (SfSdpSession *s, const char *offer, gsize len, SfSdpDir dir, SfSdpMedia *out,
                             GError **error);

/* The peer's answer to our last offer, checked against it (same m= lines, only
 * payload types and codecs we offered: RFC 3264 6 and 7); @out (may be NULL)
 * filled, the codec to send being the first of the answer (RFC 3264 7).  FALSE
 * with an SF_SDP_ERROR otherwise. */
gboolean sf_sdp_session_take_answer (SfSdpSession *s, const char *answer, gsize len, SfSdpMedia *out,
                                     GError **error);

/* The direction the last SDP received from the peer declared for its audio
 * stream (sendonly or inactive from the peer: we are held); a connection
 * address 0.0.0.0 (RFC 2543 hold, RFC 3264 8.4) counts as not receiving; a
 * rejected stream is INACTIVE; SENDRECV before any SDP was received. */
SfSdpDir sf_sdp_session_remote_dir (SfSdpSession *s);

/* ---- a B2BUA's SDP (docs/media.md "Relay (B2BUA anchored media)") ----
 *
 * A back-to-back user agent relays each leg's SDP to the other leg.  What it
 * sends to one side is a description of its own session with that side (RFC
 * 3264 8), so it keeps one origin per side: the o= line of every SDP sent to
 * a side is ours (username sipflow, a session id fixed for the side, our
 * address), and its version goes up by one only when what the SDP says
 * changed (RFC 3264 8: an unchanged version means an identical SDP). */
typedef struct {
  /* Set by the caller before the first use: */
  char *addr;          /* owned: our IP literal (no brackets) for o= */
  /* Anchored media: the relay's address and port for this side (relay_port 0:
   * pass-through, only o= is rewritten). */
  char *relay_addr;    /* owned, nullable: IP literal, no brackets */
  guint relay_port;
  /* SDES keys (a=crypto, RFC 4568) may go to this side: its signalling hop
   * is TLS, or media.srtp_insecure_signalling says keys may travel in the
   * clear (RFC 4568 8).  FALSE after sf_sdp_bridge_side_init(). */
  gboolean crypto_ok;
  /* Kept by sf_sdp_bridge_rewrite() from one SDP to the next: */
  char *sess_id;       /* owned: decimal, made on first use */
  guint64 version;     /* o= version of the last SDP made (0: none yet) */
  char *last;          /* owned: the last SDP made, its o= version left out */
} SfSdpBridgeSide;

/* @side zeroed, with our @addr (and, anchored, the relay's @relay_addr and
 * @relay_port; relay_addr NULL for pass-through). */
void sf_sdp_bridge_side_init (SfSdpBridgeSide *side, const char *addr, const char *relay_addr, guint relay_port);
/* Frees the strings of @side and zeroes it; @side itself is the caller's. */
void sf_sdp_bridge_side_clear (SfSdpBridgeSide *side);

/* Where the SDP's author receives its audio: what the relay sends to. */
typedef struct {
  char *addr;          /* owned, nullable: the connection address of the first
                        * active audio m= (no brackets); NULL when none */
  guint port;          /* its port; 0 when there is no active audio stream */
  gboolean hold;       /* the connection address is 0.0.0.0 or :: (RFC 3264 8.4) */
  gboolean crypto;     /* an a=crypto line (SDES keys) is in the SDP */
  int dtmf_pt;         /* the relayed stream's telephone-event payload type
                        * (RFC 4733), -1 when none */
} SfSdpPeer;

void sf_sdp_peer_clear (SfSdpPeer *p);

/* The SDP @sdp (one side's offer or answer) rewritten to be sent to the side
 * @side describes (transfer full), and in @peer (may be NULL; overwritten, not
 * freed: clear it before reusing it) where its author
 * receives.  The text is checked as sf_sdp_session_answer() checks an offer
 * (at most SF_SDP_MAX_BYTES, SF_SDP_MAX_MEDIA m= lines, one o= line) and
 * written normalised (CRLF, no blank lines).
 *   pass (@side->relay_port 0): only o= changes;
 *   anchor: every c= line becomes the relay's address, except a hold address
 *   0.0.0.0 (or ::), which is kept; the first audio m= with a port other than
 *   0 gets the relay's port, every other m= port 0 (one audio stream is
 *   relayed); a=rtcp, a=rtcp-mux, a=candidate, a=remote-candidates,
 *   a=end-of-candidates and a=ice-* are dropped (ICE would route the media
 *   around the relay: RFC 8445).
 * Either way, toward a side without @side->crypto_ok every a=crypto line is
 * dropped, and an m= line whose profile is SAVP (RTP/SAVP, RTP/SAVPF) keyed by
 * a=crypto gets port 0 (it cannot run without its keys); when that leaves no
 * audio stream where there was one, NULL with SF_SDP_ERROR_NOT_ACCEPTABLE
 * (488 for an offer: the keys cannot cross, and a call without them would not
 * run either).
 * NULL with SF_SDP_ERROR_MALFORMED naming the problem otherwise (@side
 * unchanged). */
char *sf_sdp_bridge_rewrite (const char *sdp, gsize len, SfSdpBridgeSide *side, SfSdpPeer *peer, GError **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfSdpBridgeSide, sf_sdp_bridge_side_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfSdpPeer, sf_sdp_peer_clear)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfSdpSession, sf_sdp_session_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfSdpMedia, sf_sdp_media_clear)

G_END_DECLS
