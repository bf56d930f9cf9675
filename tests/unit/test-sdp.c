/* test-sdp.c: SDP offer/answer (media/sf-sdp.c, RFC 3264 on RFC 4566).
 *  - offer_content: our offer parsed back: v=0, o= (63-bit id, version 1, IN IP4),
 *    s=, c=, t=0 0, m=audio with every codec's rtpmap, fmtp, a=ptime:20, direction
 *  - session_new_errors: unknown codec, empty list, bad address, port 0; names are
 *    case-insensitive and duplicates dropped
 *  - codec_order: the answer keeps the offerer's order (RFC 3264 6.1) and drops what
 *    we do not support; the codec to send is the first common one
 *  - opus_dynamic: opus keeps the offer's dynamic type (96); opus must be /48000/2
 *    (RFC 7587); names are case-insensitive, rates must match; static 0 and 8
 *    need no rtpmap (RFC 3551 6)
 *  - telephone_event: agreed with the offer's type (RFC 4733), or not at all
 *  - directions: offer sendrecv/sendonly/recvonly/inactive/none/session level x our
 *    sendrecv/sendonly (RFC 3264 6.1, 8.4), and c=0.0.0.0 as RFC 2543 hold
 *  - port_zero: a stream offered with port 0 is answered with port 0 (RFC 3264 6,
 *    8.2); streams we cannot take (video, RTP/SAVP, a second audio) get port 0 and
 *    the same formats while the audio stream is taken
 *  - not_acceptable: no common codec, no audio, only RTP/SAVP (media.srtp off:
 *    test-srtp.c has the rest) -> NOT_ACCEPTABLE,
 *    and the o= version does not move
 *  - ipv6: IN IP6 in o= and c= (RFC 4566 5.2, 5.7), bracketed remote in JSON
 *  - versions: each SDP sent after the first has version + 1, same session id
 *    (RFC 3264 5, 8); hold re-offer with sendonly (8.4)
 *  - take_answer_good: offer, answer, take_answer between two sessions; hold; the
 *    answer's first codec is the one to send (RFC 3264 7); a refused stream
 *  - take_answer_extra: formats we did not offer (or our type mapped to another
 *    codec) in an answer are passed over, the offered ones used (RFC 3264 6.1)
 *  - take_answer_refused: no codec we offered left, a changed m= line count,
 *    no offer made, malformed
 *  - malformed: each kind of broken SDP gives MALFORMED and a message naming it
 *  - noise: random bytes and mutated offers never crash and give an answer or an
 *    SF_SDP_ERROR
 *  - json: sf_sdp_media_json's fields
 *  - bridge_pass: a B2BUA's pass-through rewrite changes o= only (ours: sipflow,
 *    one session id per side, our address); the version goes up only when the
 *    rest changed (RFC 3264 8), not when the author bumped its own version
 *  - bridge_anchor: c= to the relay, the first active audio m= to the relay's
 *    port, other m= port 0, ICE, a=rtcp and a=rtcp-mux dropped (RFC 8839),
 *    a=rtcp-fb and the rest kept; the author's address and port returned (and
 *    its telephone-event payload type, RFC 4733)
 *  - bridge_hold: c=0.0.0.0 kept (RFC 3264 8.4) and reported as hold; a refused
 *    audio stream (port 0) is not the one relayed
 *  - bridge_crypto: toward a side without crypto_ok (RFC 4568 8) a=crypto lines
 *    are dropped: an RTP/SAVP-only offer is NOT_ACCEPTABLE (pass and anchor,
 *    the side untouched), an RTP/AVP line with keys goes in the clear, an SRTP
 *    line beside an RTP one gets port 0 and the relay takes the RTP one, a
 *    keyed SRTP video alone goes refused, DTLS-SRTP is untouched; a side with
 *    crypto_ok gets the keys
 *  - bridge_ipv6: IN IP6 relay and origin; a bracketed peer address unwrapped
 *  - bridge_malformed: two o= lines, no o=, broken SDP, too big: MALFORMED, the
 *    side and the peer left as they were
 *  - bridge_noise: random bytes and mutated SDP never crash; what comes out
 *    reads back as SDP */
#include "config.h"
#include "sf-test.h"
#include "media/sf-sdp.h"
#include <gst/sdp/sdp.h>
#include <string.h>

static const char *const all_codecs[] = { "PCMU", "PCMA", "opus", NULL };

static SfSdpSession *
session (const char *addr, guint port, const char *csv)
{
  g_auto (GStrv) codecs = g_strsplit (csv, ",", -1);
  g_autoptr (GError) error = NULL;
  SfSdpSession *s = sf_sdp_session_new (addr, port, (const char *const *) codecs, &error);
  if (s == NULL)
    g_printerr ("session: %s\n", error->message);
  return s;
}

/* A peer's SDP: the usual session part (c= at session level) and @media. */
static char *
peer_sdp (const char *media)
{
  return g_strconcat ("v=0\r\n"
                      "o=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\n"
                      "s=-\r\n"
                      "c=IN IP4 192.0.2.10\r\n"
                      "t=0 0\r\n",
                      media, NULL);
}

static GstSDPMessage *
parse (const char *text)
{
  GstSDPMessage *msg = NULL;
  gst_sdp_message_new (&msg);
  gst_sdp_message_parse_buffer ((const guint8 *) text, strlen (text), msg);
  return msg;
}

static gboolean
has (const char *text, const char *needle)
{
  if (text != NULL && strstr (text, needle) != NULL)
    return TRUE;
  g_printerr ("missing '%s' in:\n%s\n", needle, text != NULL ? text : "(null)");
  return FALSE;
}

static gboolean
lacks (const char *text, const char *needle)
{
  if (text != NULL && strstr (text, needle) == NULL)
    return TRUE;
  g_printerr ("unexpected '%s' in:\n%s\n", needle, text != NULL ? text : "(null)");
  return FALSE;
}

static gboolean
error_has (const GError *e, int code, const char *needle)
{
  if (e != NULL && e->domain == SF_SDP_ERROR && e->code == code && strstr (e->message, needle) != NULL)
    return TRUE;
  g_printerr ("expected SDP error %d with '%s', got %s\n", code, needle, e != NULL ? e->message : "no error");
  return FALSE;
}

/* The answer of a fresh PCMU,PCMA,opus session on 127.0.0.1:40000 to @media. */
static char *
answer_to (const char *media, SfSdpDir dir, SfSdpMedia *out, GError **error)
{
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU,PCMA,opus");
  g_autofree char *offer = peer_sdp (media);
  return sf_sdp_session_answer (s, offer, strlen (offer), dir, out, error);
}

/* The o= version of @text. */
static guint64
version_of (const char *text)
{
  g_autoptr (GstSDPMessage) msg = parse (text);
  const GstSDPOrigin *o = gst_sdp_message_get_origin (msg);
  return o->sess_version != NULL ? g_ascii_strtoull (o->sess_version, NULL, 10) : 0;
}

static char *
sess_id_of (const char *text)
{
  g_autoptr (GstSDPMessage) msg = parse (text);
  return g_strdup (gst_sdp_message_get_origin (msg)->sess_id);
}

static void
offer_content (void)
{
  g_autoptr (SfSdpSession) s = sf_sdp_session_new ("127.0.0.1", 40000, all_codecs, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (s);
  g_autofree char *text = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT_TRUE_FATAL (text != NULL && g_str_has_prefix (text, "v=0\r\n"));
  g_autoptr (GstSDPMessage) msg = parse (text);
  CU_ASSERT_STRING_EQUAL (gst_sdp_message_get_version (msg), "0");
  const GstSDPOrigin *o = gst_sdp_message_get_origin (msg);
  CU_ASSERT_STRING_EQUAL (o->username, "sipflow");
  CU_ASSERT_STRING_EQUAL (o->sess_version, "1");
  CU_ASSERT_STRING_EQUAL (o->nettype, "IN");
  CU_ASSERT_STRING_EQUAL (o->addrtype, "IP4");
  CU_ASSERT_STRING_EQUAL (o->addr, "127.0.0.1");
  /* A decimal of at most 63 bits. */
  CU_ASSERT_TRUE (strspn (o->sess_id, "0123456789") == strlen (o->sess_id) && strlen (o->sess_id) <= 19);
  CU_ASSERT_TRUE (g_ascii_strtoull (o->sess_id, NULL, 10) <= G_MAXINT64);
  CU_ASSERT_STRING_EQUAL (gst_sdp_message_get_session_name (msg), "sipflow");
  const GstSDPConnection *c = gst_sdp_message_get_connection (msg);
  CU_ASSERT_STRING_EQUAL (c->nettype, "IN");
  CU_ASSERT_STRING_EQUAL (c->addrtype, "IP4");
  CU_ASSERT_STRING_EQUAL (c->address, "127.0.0.1");
  CU_ASSERT_TRUE (has (text, "\r\nt=0 0\r\n"));
  CU_ASSERT_EQUAL_FATAL (gst_sdp_message_medias_len (msg), 1);
  const GstSDPMedia *m = gst_sdp_message_get_media (msg, 0);
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_media (m), "audio");
  CU_ASSERT_EQUAL (gst_sdp_media_get_port (m), 40000);
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_proto (m), "RTP/AVP");
  CU_ASSERT_TRUE (has (text, "m=audio 40000 RTP/AVP 0 8 111 101\r\n"));
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_attribute_val_n (m, "rtpmap", 0), "0 PCMU/8000");
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_attribute_val_n (m, "rtpmap", 1), "8 PCMA/8000");
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_attribute_val_n (m, "rtpmap", 2), "111 opus/48000/2");
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_attribute_val_n (m, "rtpmap", 3), "101 telephone-event/8000");
  CU_ASSERT_PTR_NULL (gst_sdp_media_get_attribute_val_n (m, "rtpmap", 4));
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_attribute_val_n (m, "fmtp", 0), "111 useinbandfec=1");
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_attribute_val_n (m, "fmtp", 1), "101 0-16");
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_attribute_val (m, "ptime"), "20");
  CU_ASSERT_PTR_NOT_NULL (gst_sdp_media_get_attribute_val (m, "sendrecv"));
  CU_ASSERT_PTR_NULL (gst_sdp_media_get_attribute_val (m, "sendonly"));
  /* Only PCMU: one codec plus telephone-event, always. */
  g_autoptr (SfSdpSession) u = session ("10.0.0.1", 40002, "pcmu");
  g_autofree char *t2 = sf_sdp_session_offer (u, SF_SDP_SENDRECV);
  CU_ASSERT_TRUE (has (t2, "m=audio 40002 RTP/AVP 0 101\r\n"));
  CU_ASSERT_TRUE (has (t2, "a=rtpmap:0 PCMU/8000\r\n"));
  /* Two sessions: two session ids (63 random bits). */
  g_autofree char *id1 = sess_id_of (text), *id2 = sess_id_of (t2);
  CU_ASSERT_STRING_NOT_EQUAL (id1, id2);
}

static void
session_new_errors (void)
{
  static const char *const unknown[] = { "PCMU", "G729", NULL };
  static const char *const empty[] = { NULL };
  static const char *const twice[] = { "pcma", "PCMA", "Opus", NULL };
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL, e6 = NULL;
  CU_ASSERT_PTR_NULL (sf_sdp_session_new ("127.0.0.1", 40000, unknown, &e1));
  CU_ASSERT_TRUE (error_has (e1, SF_SDP_ERROR_NOT_ACCEPTABLE, "unknown codec 'G729'"));
  CU_ASSERT_PTR_NULL (sf_sdp_session_new ("127.0.0.1", 40000, empty, &e2));
  CU_ASSERT_TRUE (error_has (e2, SF_SDP_ERROR_NOT_ACCEPTABLE, "no codec"));
  CU_ASSERT_PTR_NULL (sf_sdp_session_new ("127.0.0.1", 40000, NULL, &e3));
  CU_ASSERT_TRUE (error_has (e3, SF_SDP_ERROR_NOT_ACCEPTABLE, "no codec"));
  CU_ASSERT_PTR_NULL (sf_sdp_session_new ("[::1]", 40000, all_codecs, &e4));
  CU_ASSERT_TRUE (error_has (e4, SF_SDP_ERROR_NOT_ACCEPTABLE, "'[::1]' is not"));
  CU_ASSERT_PTR_NULL (sf_sdp_session_new ("host.example.com", 40000, all_codecs, &e5));
  CU_ASSERT_TRUE (error_has (e5, SF_SDP_ERROR_NOT_ACCEPTABLE, "not an IPv4 or IPv6 literal"));
  CU_ASSERT_PTR_NULL (sf_sdp_session_new ("127.0.0.1", 0, all_codecs, &e6));
  CU_ASSERT_TRUE (error_has (e6, SF_SDP_ERROR_NOT_ACCEPTABLE, "port 0"));
  g_autoptr (SfSdpSession) s = sf_sdp_session_new ("127.0.0.1", 40000, twice, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (s);
  g_autofree char *text = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT_TRUE (has (text, "m=audio 40000 RTP/AVP 8 111 101\r\n"));
  CU_ASSERT_STRING_EQUAL (sf_sdp_codec_name ("OPUS"), "opus");
  CU_ASSERT_STRING_EQUAL (sf_sdp_codec_name ("pcmu"), "PCMU");
  CU_ASSERT_PTR_NULL (sf_sdp_codec_name ("G722"));
  CU_ASSERT_PTR_NULL (sf_sdp_codec_name ("telephone-event"));
}

static void
codec_order (void)
{
  g_auto (SfSdpMedia) m = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *a = answer_to ("m=audio 49170 RTP/AVP 8 0 101\r\n"
                                  "a=rtpmap:101 telephone-event/8000\r\n",
                                  SF_SDP_SENDRECV, &m, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  CU_ASSERT_TRUE (has (a, "m=audio 40000 RTP/AVP 8 0 101\r\n"));
  CU_ASSERT_TRUE (has (a, "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"));
  CU_ASSERT_TRUE (m.active);
  CU_ASSERT_STRING_EQUAL (m.codec.name, "PCMA");
  CU_ASSERT_EQUAL (m.codec.pt, 8);
  CU_ASSERT_EQUAL (m.codec.rate, 8000);
  CU_ASSERT_EQUAL (m.codec.channels, 1);
  CU_ASSERT_STRING_EQUAL (m.remote_addr, "192.0.2.10");
  CU_ASSERT_EQUAL (m.remote_port, 49170);
  CU_ASSERT_EQUAL (m.local_port, 40000);
  CU_ASSERT_EQUAL (m.ptime, 20);
  /* We support only PCMU: only PCMU (and telephone-event) in the answer. */
  g_autoptr (SfSdpSession) u = session ("127.0.0.1", 40000, "PCMU");
  g_autofree char *offer = peer_sdp ("m=audio 49170 RTP/AVP 8 0 3 101\r\n"
                                     "a=rtpmap:101 telephone-event/8000\r\n"
                                     "a=ptime:30\r\n");
  g_auto (SfSdpMedia) m2 = { 0 };
  g_autofree char *a2 = sf_sdp_session_answer (u, offer, strlen (offer), SF_SDP_SENDRECV, &m2, NULL);
  CU_ASSERT_TRUE (has (a2, "m=audio 40000 RTP/AVP 0 101\r\n"));
  CU_ASSERT_TRUE (lacks (a2, "PCMA"));
  CU_ASSERT_STRING_EQUAL (m2.codec.name, "PCMU");
  CU_ASSERT_EQUAL (m2.ptime, 30);
  /* Opus first in the offer: first in the answer and the one to send. */
  g_auto (SfSdpMedia) m3 = { 0 };
  g_autofree char *a3 = answer_to ("m=audio 49170 RTP/AVP 111 0\r\na=rtpmap:111 opus/48000/2\r\n", SF_SDP_SENDRECV,
                                   &m3, NULL);
  CU_ASSERT_TRUE (has (a3, "m=audio 40000 RTP/AVP 111 0\r\n"));
  CU_ASSERT_STRING_EQUAL (m3.codec.name, "opus");
}

static void
opus_dynamic (void)
{
  g_auto (SfSdpMedia) m = { 0 };
  g_autofree char *a = answer_to ("m=audio 49170 RTP/AVP 96 0\r\n"
                                  "a=rtpmap:96 opus/48000/2\r\n"
                                  "a=fmtp:96 maxplaybackrate=16000\r\n",
                                  SF_SDP_SENDRECV, &m, NULL);
  CU_ASSERT_TRUE (has (a, "m=audio 40000 RTP/AVP 96 0\r\n"));
  CU_ASSERT_TRUE (has (a, "a=rtpmap:96 opus/48000/2\r\n"));
  CU_ASSERT_TRUE (has (a, "a=fmtp:96 useinbandfec=1\r\n"));
  /* our own payload type for opus (111) appears nowhere: not in an rtpmap or
   * fmtp (the m= line is checked whole above; the o= line's random session id
   * may hold the digits) */
  CU_ASSERT_TRUE (lacks (a, "a=rtpmap:111 "));
  CU_ASSERT_TRUE (lacks (a, "a=fmtp:111 "));
  CU_ASSERT_STRING_EQUAL (m.codec.name, "opus");
  CU_ASSERT_EQUAL (m.codec.pt, 96);
  CU_ASSERT_EQUAL (m.codec.rate, 48000);
  CU_ASSERT_EQUAL (m.codec.channels, 2);
  /* Case-insensitive names (RFC 4855 3); static types without rtpmap (RFC 3551 6). */
  g_auto (SfSdpMedia) m2 = { 0 };
  g_autofree char *a2 = answer_to ("m=audio 49170 RTP/AVP 97 8\r\na=rtpmap:97 OPUS/48000/2\r\n", SF_SDP_SENDRECV, &m2,
                                   NULL);
  CU_ASSERT_TRUE (has (a2, "m=audio 40000 RTP/AVP 97 8\r\n"));
  CU_ASSERT_TRUE (has (a2, "a=rtpmap:8 PCMA/8000\r\n"));
  /* Rates and channels must match: opus/48000 (one channel) and PCMU/16000 are not ours. */
  g_autoptr (GError) e1 = NULL;
  g_autofree char *a3 = answer_to ("m=audio 49170 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000\r\n"
                                   "a=rtpmap:97 PCMU/16000\r\n",
                                   SF_SDP_SENDRECV, NULL, &e1);
  CU_ASSERT_PTR_NULL (a3);
  CU_ASSERT_TRUE (error_has (e1, SF_SDP_ERROR_NOT_ACCEPTABLE, "no common codec"));
  /* An rtpmap that redefines a static type wins over RFC 3551. */
  g_autoptr (GError) e2 = NULL;
  g_autofree char *a4 = answer_to ("m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 G722/8000\r\n", SF_SDP_SENDRECV, NULL, &e2);
  CU_ASSERT_PTR_NULL (a4);
  CU_ASSERT_TRUE (error_has (e2, SF_SDP_ERROR_NOT_ACCEPTABLE, "no common codec"));
}

static void
telephone_event (void)
{
  g_auto (SfSdpMedia) m = { 0 };
  g_autofree char *a = answer_to ("m=audio 49170 RTP/AVP 0 98\r\na=rtpmap:98 telephone-event/8000\r\n"
                                  "a=fmtp:98 0-15\r\n",
                                  SF_SDP_SENDRECV, &m, NULL);
  CU_ASSERT_TRUE (has (a, "m=audio 40000 RTP/AVP 0 98\r\n"));
  CU_ASSERT_TRUE (has (a, "a=rtpmap:98 telephone-event/8000\r\n"));
  CU_ASSERT_TRUE (has (a, "a=fmtp:98 0-16\r\n"));
  CU_ASSERT_EQUAL (m.dtmf_pt, 98);
  /* Not offered: not answered. */
  g_auto (SfSdpMedia) m2 = { 0 };
  g_autofree char *a2 = answer_to ("m=audio 49170 RTP/AVP 0\r\n", SF_SDP_SENDRECV, &m2, NULL);
  CU_ASSERT_TRUE (has (a2, "m=audio 40000 RTP/AVP 0\r\n"));
  CU_ASSERT_TRUE (lacks (a2, "telephone-event"));
  CU_ASSERT_EQUAL (m2.dtmf_pt, -1);
  /* At another rate (with opus, RFC 4733 7.1.1): not ours. */
  g_auto (SfSdpMedia) m3 = { 0 };
  g_autofree char *a3 = answer_to ("m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/48000\r\n",
                                   SF_SDP_SENDRECV, &m3, NULL);
  CU_ASSERT_TRUE (has (a3, "m=audio 40000 RTP/AVP 0\r\n"));
  CU_ASSERT_EQUAL (m3.dtmf_pt, -1);
  /* telephone-event alone is no codec. */
  g_autoptr (GError) e = NULL;
  g_autofree char *a4 = answer_to ("m=audio 49170 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
                                   SF_SDP_SENDRECV, NULL, &e);
  CU_ASSERT_PTR_NULL (a4);
  CU_ASSERT_TRUE (error_has (e, SF_SDP_ERROR_NOT_ACCEPTABLE, "no common codec"));
}

static void
directions (void)
{
  static const struct {
    const char *session_attr;  /* before m= */
    const char *media_attr;    /* after m= */
    const char *conn;
    SfSdpDir want, answer, remote;
  } cases[] = {
    { "", "a=sendrecv\r\n", "192.0.2.10", SF_SDP_SENDRECV, SF_SDP_SENDRECV, SF_SDP_SENDRECV },
    { "", "a=sendrecv\r\n", "192.0.2.10", SF_SDP_SENDONLY, SF_SDP_SENDONLY, SF_SDP_SENDRECV },
    { "", "a=sendonly\r\n", "192.0.2.10", SF_SDP_SENDRECV, SF_SDP_RECVONLY, SF_SDP_SENDONLY },
    { "", "a=sendonly\r\n", "192.0.2.10", SF_SDP_SENDONLY, SF_SDP_INACTIVE, SF_SDP_SENDONLY },
    { "", "a=recvonly\r\n", "192.0.2.10", SF_SDP_SENDRECV, SF_SDP_SENDONLY, SF_SDP_RECVONLY },
    { "", "a=recvonly\r\n", "192.0.2.10", SF_SDP_SENDONLY, SF_SDP_SENDONLY, SF_SDP_RECVONLY },
    { "", "a=inactive\r\n", "192.0.2.10", SF_SDP_SENDRECV, SF_SDP_INACTIVE, SF_SDP_INACTIVE },
    { "", "a=inactive\r\n", "192.0.2.10", SF_SDP_SENDONLY, SF_SDP_INACTIVE, SF_SDP_INACTIVE },
    /* No attribute: sendrecv (RFC 4566 6). */
    { "", "", "192.0.2.10", SF_SDP_SENDRECV, SF_SDP_SENDRECV, SF_SDP_SENDRECV },
    { "", "", "192.0.2.10", SF_SDP_SENDONLY, SF_SDP_SENDONLY, SF_SDP_SENDRECV },
    /* Session level applies to the stream; media level overrides it. */
    { "a=sendonly\r\n", "", "192.0.2.10", SF_SDP_SENDRECV, SF_SDP_RECVONLY, SF_SDP_SENDONLY },
    { "a=sendonly\r\n", "a=sendrecv\r\n", "192.0.2.10", SF_SDP_SENDRECV, SF_SDP_SENDRECV, SF_SDP_SENDRECV },
    /* RFC 2543 hold (RFC 3264 8.4): the peer receives nothing. */
    { "", "a=sendrecv\r\n", "0.0.0.0", SF_SDP_SENDRECV, SF_SDP_RECVONLY, SF_SDP_SENDONLY },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU");
    g_autofree char *offer = g_strdup_printf ("v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 %s\r\n"
                                              "t=0 0\r\n%sm=audio 49170 RTP/AVP 0\r\n%s",
                                              cases[i].conn, cases[i].session_attr, cases[i].media_attr);
    g_auto (SfSdpMedia) m = { 0 };
    g_autoptr (GError) error = NULL;
    g_autofree char *a = sf_sdp_session_answer (s, offer, strlen (offer), cases[i].want, &m, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL (a);
    g_autofree char *attr = g_strdup_printf ("\r\na=%s\r\n", sf_sdp_dir_name (cases[i].answer));
    if (!has (a, attr) || m.dir != cases[i].answer || sf_sdp_session_remote_dir (s) != cases[i].remote)
      g_printerr ("direction case %" G_GSIZE_FORMAT " failed\n", i);
    CU_ASSERT_TRUE (has (a, attr));
    CU_ASSERT_EQUAL (m.dir, cases[i].answer);
    CU_ASSERT_EQUAL (m.active, cases[i].answer != SF_SDP_INACTIVE);
    CU_ASSERT_EQUAL (sf_sdp_session_remote_dir (s), cases[i].remote);
    CU_ASSERT_EQUAL (m.remote_port, 49170);
  }
  CU_ASSERT_STRING_EQUAL (sf_sdp_dir_name (SF_SDP_SENDRECV), "sendrecv");
  CU_ASSERT_STRING_EQUAL (sf_sdp_dir_name (SF_SDP_SENDONLY), "sendonly");
  CU_ASSERT_STRING_EQUAL (sf_sdp_dir_name (SF_SDP_RECVONLY), "recvonly");
  CU_ASSERT_STRING_EQUAL (sf_sdp_dir_name (SF_SDP_INACTIVE), "inactive");
}

static void
port_zero (void)
{
  /* The one stream disabled by the offerer: port 0 back, no media, no error. */
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU,PCMA");
  g_autofree char *offer = peer_sdp ("m=audio 0 RTP/AVP 0 8\r\n");
  g_auto (SfSdpMedia) m = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *a = sf_sdp_session_answer (s, offer, strlen (offer), SF_SDP_SENDRECV, &m, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  CU_ASSERT_TRUE (has (a, "m=audio 0 RTP/AVP 0 8\r\n"));
  CU_ASSERT_FALSE (m.active);
  CU_ASSERT_EQUAL (m.local_port, 0);
  CU_ASSERT_EQUAL (m.dtmf_pt, -1);
  CU_ASSERT_PTR_NULL (m.codec.name);
  CU_ASSERT_EQUAL (sf_sdp_session_remote_dir (s), SF_SDP_INACTIVE);
  /* Port 0 needs no connection address. */
  g_autofree char *noc = g_strdup ("v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n");
  g_autofree char *a0 = sf_sdp_session_answer (s, noc, strlen (noc), SF_SDP_SENDRECV, NULL, NULL);
  CU_ASSERT_TRUE (has (a0, "m=audio 0 RTP/AVP 0\r\n"));
  /* Video, a disabled audio, a secure audio, the audio we take, a second audio:
   * one answer line each, in order (RFC 3264 6), only ours with a port. */
  g_autofree char *multi = peer_sdp ("m=video 51372 RTP/AVP 31\r\n"
                                     "m=audio 0 RTP/AVP 8\r\n"
                                     "m=audio 49168 RTP/SAVP 0\r\n"
                                     "m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
                                     "m=audio 49172 RTP/AVP 0\r\n"
                                     "m=application 9 UDP/BFCP *\r\n");
  g_auto (SfSdpMedia) m2 = { 0 };
  g_autofree char *a2 = sf_sdp_session_answer (s, multi, strlen (multi), SF_SDP_SENDRECV, &m2, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a2);
  g_autoptr (GstSDPMessage) msg = parse (a2);
  CU_ASSERT_EQUAL_FATAL (gst_sdp_message_medias_len (msg), 6);
  CU_ASSERT_TRUE (has (a2, "m=video 0 RTP/AVP 31\r\n"));
  CU_ASSERT_TRUE (has (a2, "m=audio 0 RTP/AVP 8\r\n"));
  CU_ASSERT_TRUE (has (a2, "m=audio 0 RTP/SAVP 0\r\n"));
  CU_ASSERT_TRUE (has (a2, "m=audio 40000 RTP/AVP 0 101\r\n"));
  CU_ASSERT_TRUE (has (a2, "m=audio 0 RTP/AVP 0\r\n"));
  CU_ASSERT_TRUE (has (a2, "m=application 0 UDP/BFCP *\r\n"));
  CU_ASSERT_STRING_EQUAL (gst_sdp_media_get_media (gst_sdp_message_get_media (msg, 3)), "audio");
  CU_ASSERT_EQUAL (gst_sdp_media_get_port (gst_sdp_message_get_media (msg, 3)), 40000);
  CU_ASSERT_TRUE (m2.active);
  CU_ASSERT_EQUAL (m2.remote_port, 49170);
  CU_ASSERT_EQUAL (m2.dtmf_pt, 101);
  /* The media-level c= wins over the session's. */
  g_autofree char *mc = peer_sdp ("m=audio 49170 RTP/AVP 0\r\nc=IN IP4 198.51.100.7\r\n");
  g_auto (SfSdpMedia) m3 = { 0 };
  g_autofree char *a3 = sf_sdp_session_answer (s, mc, strlen (mc), SF_SDP_SENDRECV, &m3, NULL);
  CU_ASSERT_PTR_NOT_NULL (a3);
  CU_ASSERT_STRING_EQUAL (m3.remote_addr, "198.51.100.7");
}

static void
not_acceptable (void)
{
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU,PCMA,opus");
  static const struct { const char *media; const char *needle; } cases[] = {
    { "m=audio 49170 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
      "no common codec on m=audio (we take PCMU,PCMA,opus)" },
    { "m=video 51372 RTP/AVP 31\r\n", "m=video is not audio" },
    { "m=audio 49170 RTP/SAVP 0\r\n", "RTP/SAVP offered, media.srtp = off" },
    { "m=audio 49170 RTP/AVPF 0\r\n", "proto RTP/AVPF" },
    { "m=audio 49170 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n", "proto UDP/TLS/RTP/SAVPF" },
    { "m=image 49170 udptl t38\r\n", "m=image is not audio" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *offer = peer_sdp (cases[i].media);
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpMedia) m = { 0 };
    g_autofree char *a = sf_sdp_session_answer (s, offer, strlen (offer), SF_SDP_SENDRECV, &m, &error);
    CU_ASSERT_PTR_NULL (a);
    CU_ASSERT_TRUE (error_has (error, SF_SDP_ERROR_NOT_ACCEPTABLE, cases[i].needle));
    CU_ASSERT_FALSE (m.active);
  }
  /* Nothing was sent: the next SDP is still version 1. */
  g_autofree char *o = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT_EQUAL (version_of (o), 1);
}

static void
ipv6 (void)
{
  g_autoptr (SfSdpSession) s = session ("::1", 40000, "PCMU");
  g_autofree char *offer = g_strdup ("v=0\r\no=bob 7 7 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\n"
                                     "t=0 0\r\nm=audio 49170 RTP/AVP 0\r\n");
  g_auto (SfSdpMedia) m = { 0 };
  g_autofree char *a = sf_sdp_session_answer (s, offer, strlen (offer), SF_SDP_SENDRECV, &m, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  CU_ASSERT_TRUE (has (a, " 1 IN IP6 ::1\r\n"));
  CU_ASSERT_TRUE (has (a, "\r\no=sipflow "));
  CU_ASSERT_TRUE (has (a, "\r\nc=IN IP6 ::1\r\n"));
  CU_ASSERT_STRING_EQUAL (m.remote_addr, "2001:db8::1");
  g_autofree char *json = sf_sdp_media_json (&m);
  CU_ASSERT_TRUE (has (json, "\"remote\":\"[2001:db8::1]:49170\""));
  /* Our offer over IPv6. */
  g_autofree char *o = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT_TRUE (has (o, " IN IP6 ::1\r\n"));
  CU_ASSERT_TRUE (has (o, "\r\nc=IN IP6 ::1\r\n"));
  /* An IPv4 session answering an IPv6 offer writes its own family; brackets are dropped. */
  g_autoptr (SfSdpSession) v4 = session ("127.0.0.1", 40002, "PCMU");
  g_autofree char *br = g_strdup ("v=0\r\no=bob 7 7 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 [2001:db8::2]\r\n"
                                  "t=0 0\r\nm=audio 49170 RTP/AVP 0\r\n");
  g_auto (SfSdpMedia) m2 = { 0 };
  g_autofree char *a2 = sf_sdp_session_answer (v4, br, strlen (br), SF_SDP_SENDRECV, &m2, NULL);
  CU_ASSERT_TRUE (has (a2, "\r\nc=IN IP4 127.0.0.1\r\n"));
  CU_ASSERT_STRING_EQUAL (m2.remote_addr, "2001:db8::2");
}

static void
versions (void)
{
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU");
  g_autofree char *o1 = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  g_autofree char *o2 = sf_sdp_session_offer (s, SF_SDP_SENDONLY);
  g_autofree char *o3 = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT_EQUAL (version_of (o1), 1);
  CU_ASSERT_EQUAL (version_of (o2), 2);
  CU_ASSERT_EQUAL (version_of (o3), 3);
  CU_ASSERT_TRUE (has (o2, "\r\na=sendonly\r\n"));
  CU_ASSERT_TRUE (has (o3, "\r\na=sendrecv\r\n"));
  g_autofree char *id1 = sess_id_of (o1), *id3 = sess_id_of (o3);
  CU_ASSERT_STRING_EQUAL (id1, id3);
  /* An answer is an SDP sent too. */
  g_autofree char *offer = peer_sdp ("m=audio 49170 RTP/AVP 0\r\n");
  g_autofree char *a = sf_sdp_session_answer (s, offer, strlen (offer), SF_SDP_SENDRECV, NULL, NULL);
  CU_ASSERT_EQUAL (version_of (a), 4);
  g_autofree char *id4 = sess_id_of (a);
  CU_ASSERT_STRING_EQUAL (id1, id4);
  /* A refused offer sends nothing. */
  CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, "v=0\r\n", 5, SF_SDP_SENDRECV, NULL, NULL));
  g_autofree char *o5 = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT_EQUAL (version_of (o5), 5);
}

static void
take_answer_good (void)
{
  g_autoptr (SfSdpSession) alice = session ("127.0.0.1", 40000, "PCMU,PCMA,opus");
  g_autoptr (SfSdpSession) bob = session ("127.0.0.2", 40100, "PCMA,PCMU");
  g_autofree char *offer = sf_sdp_session_offer (alice, SF_SDP_SENDRECV);
  g_auto (SfSdpMedia) bm = { 0 };
  g_autofree char *answer = sf_sdp_session_answer (bob, offer, strlen (offer), SF_SDP_SENDRECV, &bm, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (answer);
  CU_ASSERT_TRUE (has (answer, "m=audio 40100 RTP/AVP 0 8 101\r\n"));
  CU_ASSERT_STRING_EQUAL (bm.codec.name, "PCMU");
  CU_ASSERT_STRING_EQUAL (bm.remote_addr, "127.0.0.1");
  CU_ASSERT_EQUAL (bm.remote_port, 40000);
  CU_ASSERT_EQUAL (bm.dtmf_pt, 101);
  g_auto (SfSdpMedia) am = { 0 };
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE_FATAL (sf_sdp_session_take_answer (alice, answer, strlen (answer), &am, &error));
  CU_ASSERT_TRUE (am.active);
  CU_ASSERT_STRING_EQUAL (am.codec.name, "PCMU");
  CU_ASSERT_EQUAL (am.codec.pt, 0);
  CU_ASSERT_STRING_EQUAL (am.remote_addr, "127.0.0.2");
  CU_ASSERT_EQUAL (am.remote_port, 40100);
  CU_ASSERT_EQUAL (am.local_port, 40000);
  CU_ASSERT_EQUAL (am.dir, SF_SDP_SENDRECV);
  CU_ASSERT_EQUAL (am.dtmf_pt, 101);
  CU_ASSERT_EQUAL (sf_sdp_session_remote_dir (alice), SF_SDP_SENDRECV);
  /* Alice holds (RFC 3264 8.4): sendonly offer, recvonly answer. */
  g_autofree char *hold = sf_sdp_session_offer (alice, SF_SDP_SENDONLY);
  g_auto (SfSdpMedia) bm2 = { 0 };
  g_autofree char *ha = sf_sdp_session_answer (bob, hold, strlen (hold), SF_SDP_SENDRECV, &bm2, NULL);
  CU_ASSERT_TRUE (has (ha, "\r\na=recvonly\r\n"));
  CU_ASSERT_EQUAL (bm2.dir, SF_SDP_RECVONLY);
  CU_ASSERT_EQUAL (sf_sdp_session_remote_dir (bob), SF_SDP_SENDONLY); /* bob is held */
  g_auto (SfSdpMedia) am2 = { 0 };
  CU_ASSERT_TRUE (sf_sdp_session_take_answer (alice, ha, strlen (ha), &am2, NULL));
  CU_ASSERT_EQUAL (am2.dir, SF_SDP_SENDONLY);
  CU_ASSERT_EQUAL (sf_sdp_session_remote_dir (alice), SF_SDP_RECVONLY);
  /* Resume. */
  g_autofree char *resume = sf_sdp_session_offer (alice, SF_SDP_SENDRECV);
  g_autofree char *ra = sf_sdp_session_answer (bob, resume, strlen (resume), SF_SDP_SENDRECV, NULL, NULL);
  g_auto (SfSdpMedia) am3 = { 0 };
  CU_ASSERT_TRUE (sf_sdp_session_take_answer (alice, ra, strlen (ra), &am3, NULL));
  CU_ASSERT_EQUAL (am3.dir, SF_SDP_SENDRECV);
  /* An answer in another order: send with its first codec (RFC 3264 7). */
  g_autofree char *order = peer_sdp ("m=audio 5004 RTP/AVP 8 0\r\na=ptime:40\r\n");
  g_auto (SfSdpMedia) am4 = { 0 };
  CU_ASSERT_TRUE (sf_sdp_session_take_answer (alice, order, strlen (order), &am4, NULL));
  CU_ASSERT_STRING_EQUAL (am4.codec.name, "PCMA");
  CU_ASSERT_EQUAL (am4.dtmf_pt, -1);
  CU_ASSERT_EQUAL (am4.ptime, 40);
  CU_ASSERT_EQUAL (am4.remote_port, 5004);
  /* The peer refuses the stream: a valid answer without media. */
  g_autofree char *refused = peer_sdp ("m=audio 0 RTP/AVP 0\r\n");
  g_auto (SfSdpMedia) am5 = { 0 };
  CU_ASSERT_TRUE (sf_sdp_session_take_answer (alice, refused, strlen (refused), &am5, NULL));
  CU_ASSERT_FALSE (am5.active);
  CU_ASSERT_EQUAL (sf_sdp_session_remote_dir (alice), SF_SDP_INACTIVE);
  /* opus by its offered type, rtpmap checked. */
  g_autofree char *op = peer_sdp ("m=audio 5004 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n"
                                  "a=rtpmap:101 telephone-event/8000\r\n");
  g_auto (SfSdpMedia) am6 = { 0 };
  CU_ASSERT_TRUE (sf_sdp_session_take_answer (alice, op, strlen (op), &am6, NULL));
  CU_ASSERT_STRING_EQUAL (am6.codec.name, "opus");
  CU_ASSERT_EQUAL (am6.dtmf_pt, 101);
}

static void
take_answer_refused (void)
{
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU,PCMA");
  g_autoptr (GError) e0 = NULL;
  g_autofree char *early = peer_sdp ("m=audio 5004 RTP/AVP 0\r\n");
  CU_ASSERT_FALSE (sf_sdp_session_take_answer (s, early, strlen (early), NULL, &e0));
  CU_ASSERT_TRUE (error_has (e0, SF_SDP_ERROR_NOT_ACCEPTABLE, "we made no offer"));
  g_autofree char *offer = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  static const struct { const char *media; const char *needle; } cases[] = {
    /* Only codecs we never offered (RFC 3264 6.1: at least one offered format). */
    { "m=audio 5004 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n", "no audio codec we offered (it lists 9 G722)" },
    { "m=audio 5004 RTP/AVP 3\r\n", "no audio codec we offered (it lists 3)" },
    { "m=audio 5004 RTP/AVP 111 9 3 4 18 13\r\na=rtpmap:111 opus/48000/2\r\n",
      "no audio codec we offered (it lists 111 opus, 9, 3, 4, ...)" },
    /* Our type mapped to another codec is not what we offered. */
    { "m=audio 5004 RTP/AVP 8\r\na=rtpmap:8 PCMU/8000\r\n", "no audio codec we offered (it lists 8 PCMU)" },
    { "m=audio 5004 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", "no audio codec we offered" },
    { "m=audio 5004 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n", "2 m= lines, our offer had 1" },
    { "m=video 5004 RTP/AVP 31\r\n", "m=video for our m=audio" },
    { "m=audio 5004 RTP/SAVP 0\r\n", "proto RTP/SAVP" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *answer = peer_sdp (cases[i].media);
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpMedia) m = { 0 };
    CU_ASSERT_FALSE (sf_sdp_session_take_answer (s, answer, strlen (answer), &m, &error));
    CU_ASSERT_TRUE (error_has (error, SF_SDP_ERROR_NOT_ACCEPTABLE, cases[i].needle));
    CU_ASSERT_FALSE (m.active);
    CU_ASSERT_PTR_NULL (m.codec.name);
  }
  g_autoptr (GError) e1 = NULL;
  g_autofree char *bad = peer_sdp ("m=audio 5004 RTP/AVP\r\n");
  CU_ASSERT_FALSE (sf_sdp_session_take_answer (s, bad, strlen (bad), NULL, &e1));
  CU_ASSERT_TRUE (error_has (e1, SF_SDP_ERROR_MALFORMED, "m=audio without formats"));
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_FALSE (sf_sdp_session_take_answer (s, "", 0, NULL, &e2));
  CU_ASSERT_TRUE (error_has (e2, SF_SDP_ERROR_MALFORMED, "empty SDP"));
  CU_ASSERT_FALSE (sf_sdp_session_take_answer (s, NULL, 0, NULL, NULL));
}

/* RFC 3264 6.1: an answer MAY list formats not in the offer; they are passed
 * over and the offered ones used, in the answer's order. */
static void
take_answer_extra (void)
{
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU,PCMA");
  g_autofree char *offer = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  static const struct { const char *media; const char *codec; guint pt; int dtmf_pt; } cases[] = {
    /* an extra codec before PCMU: PCMU is sent */
    { "m=audio 5004 RTP/AVP 9 0\r\na=rtpmap:9 G722/8000\r\n", "PCMU", 0, -1 },
    /* after it, and an unknown static type */
    { "m=audio 5004 RTP/AVP 0 18 3\r\n", "PCMU", 0, -1 },
    /* a dynamic type we never offered (opus on 96) and our telephone-event */
    { "m=audio 5004 RTP/AVP 96 8 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n", "PCMA", 8,
      101 },
    /* our 8 mapped to PCMU is passed over, our 0 taken */
    { "m=audio 5004 RTP/AVP 8 0\r\na=rtpmap:8 PCMU/8000\r\n", "PCMU", 0, -1 },
    /* telephone-event on a type we did not offer: no DTMF */
    { "m=audio 5004 RTP/AVP 0 100\r\na=rtpmap:100 telephone-event/8000\r\n", "PCMU", 0, -1 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *answer = peer_sdp (cases[i].media);
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpMedia) m = { 0 };
    CU_ASSERT_TRUE_FATAL (sf_sdp_session_take_answer (s, answer, strlen (answer), &m, &error));
    CU_ASSERT_TRUE (m.active);
    CU_ASSERT_STRING_EQUAL (m.codec.name, cases[i].codec);
    CU_ASSERT_EQUAL (m.codec.pt, cases[i].pt);
    CU_ASSERT_EQUAL (m.dtmf_pt, cases[i].dtmf_pt);
    CU_ASSERT_EQUAL (m.remote_port, 5004);
    CU_ASSERT_EQUAL (m.dir, SF_SDP_SENDRECV);
  }
}

static const char session_part[] = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n";

static void
malformed (void)
{
  static const struct { const char *text; const char *needle; } cases[] = {
    { "garbage", "line 1 is not TYPE=VALUE: 'garbage'" },
    { "hello world\r\n\r\n", "line 1 is not TYPE=VALUE" },
    { "\r\n\r\n  \r\n", "empty SDP" },
    { "o=alice 1 1 IN IP4 192.0.2.10\r\nv=0\r\n", "SDP does not start with v=0" },
    { "v=1\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\n", "unsupported SDP version 'v=1'" },
    { "v= 0\r\n", "unsupported SDP version" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nv=0\r\nm=audio 1 RTP/AVP 0\r\n", "v= again" },
    { "v=0\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nm=audio 49170 RTP/AVP 0\r\n", "no o= line" },
    { "v=0\r\no=alice 1 IN IP4\r\ns=-\r\n", "o= needs 6 fields" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\nc=IN IP4 192.0.2.10\r\nm=audio 49170 RTP/AVP 0\r\n", "no s= line" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n", "no m= line" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n",
      "c= missing for m=audio" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4\r\nm=audio 49170 RTP/AVP 0\r\n",
      "bad c= line 'c=IN IP4'" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=XX IP4 1.2.3.4\r\nm=audio 49170 RTP/AVP 0\r\n", "bad c= line" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 a;b\r\nm=audio 49170 RTP/AVP 0\r\n", "bad c= line" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 /127\r\nm=audio 49170 RTP/AVP 0\r\n", "bad c= line" },
    { "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nm=audio 49170 RTP/AVP 0\rs=x\r\n",
      "stray CR in line 5" },
    { "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nA=b\r\n", "line 4 is not TYPE=VALUE: 'A=b'" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU");
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpMedia) m = { 0 };
    CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, cases[i].text, strlen (cases[i].text), SF_SDP_SENDRECV, &m, &error));
    CU_ASSERT_TRUE (error_has (error, SF_SDP_ERROR_MALFORMED, cases[i].needle));
    CU_ASSERT_FALSE (m.active);
  }
  /* Media descriptions after a good session part. */
  static const struct { const char *media; const char *needle; } mcases[] = {
    { "m=audio 99999 RTP/AVP 0\r\n", "bad port '99999' on m=audio" },
    { "m=audio 65536 RTP/AVP 0\r\n", "bad port '65536'" },
    { "m=audio 123456789012345678901234567890 RTP/AVP 0\r\n", "bad port '123456789012345678901234567890'" },
    { "m=audio -1 RTP/AVP 0\r\n", "bad port '-1'" },
    { "m=audio abc RTP/AVP 0\r\n", "bad port 'abc'" },
    { "m=audio 49170/0 RTP/AVP 0\r\n", "bad port '49170/0'" },
    { "m=audio 49170/x RTP/AVP 0\r\n", "bad port '49170/x'" },
    { "m=audio 49170 RTP/AVP\r\n", "m=audio without formats" },
    { "m=audio 49170 RTP/AVP    \r\n", "m=audio without formats" },
    { "m=audio\r\n", "has no port or no proto" },
    { "m=audio 49170 RTP/AVP 0 300\r\n", "bad payload type '300' on m=audio" },
    { "m=audio 49170 RTP/AVP 0 x\r\n", "bad payload type 'x'" },
    { "m=audio 49170 RTP/AVP -0\r\n", "bad payload type '-0'" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:xyz\r\n", "bad a=rtpmap 'a=rtpmap:xyz'" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/abc\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/0\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/1 x\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:200 PCMU/8000\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PC;MU/8000\r\n", "bad a=rtpmap" },
    { "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 /8000\r\n", "bad a=rtpmap" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (mcases); i++) {
    g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU");
    g_autofree char *text = g_strconcat (session_part, mcases[i].media, NULL);
    g_autoptr (GError) error = NULL;
    CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, text, strlen (text), SF_SDP_SENDRECV, NULL, &error));
    CU_ASSERT_TRUE (error_has (error, SF_SDP_ERROR_MALFORMED, mcases[i].needle));
  }
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU");
  /* Zero length, NULL, a NUL byte, not UTF-8. */
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL, e6 = NULL;
  CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, "v=0\r\n", 0, SF_SDP_SENDRECV, NULL, &e1));
  CU_ASSERT_TRUE (error_has (e1, SF_SDP_ERROR_MALFORMED, "empty SDP"));
  CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, NULL, 0, SF_SDP_SENDRECV, NULL, &e2));
  CU_ASSERT_TRUE (error_has (e2, SF_SDP_ERROR_MALFORMED, "empty SDP"));
  g_autofree char *good = g_strconcat (session_part, "m=audio 49170 RTP/AVP 0\r\n", NULL);
  gsize glen = strlen (good);
  g_autofree char *nul = g_strdup (good);
  nul[glen - 5] = '\0';
  CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, nul, glen, SF_SDP_SENDRECV, NULL, &e3));
  CU_ASSERT_TRUE (error_has (e3, SF_SDP_ERROR_MALFORMED, "NUL byte"));
  g_autofree char *latin = g_strconcat ("v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=caf\xe9\r\n",
                                        "c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n", NULL);
  CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, latin, strlen (latin), SF_SDP_SENDRECV, NULL, &e4));
  CU_ASSERT_TRUE (error_has (e4, SF_SDP_ERROR_MALFORMED, "not UTF-8"));
  /* Limits: size and m= lines. */
  GString *big = g_string_new (good);
  while (big->len <= SF_SDP_MAX_BYTES)
    g_string_append (big, "a=x-padding:0123456789012345678901234567890123456789\r\n");
  CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, big->str, big->len, SF_SDP_SENDRECV, NULL, &e5));
  CU_ASSERT_TRUE (error_has (e5, SF_SDP_ERROR_MALFORMED, "more than 65536"));
  g_string_free (big, TRUE);
  GString *many = g_string_new (session_part);
  for (int i = 0; i <= SF_SDP_MAX_MEDIA; i++)
    g_string_append (many, "m=audio 0 RTP/AVP 0\r\n");
  CU_ASSERT_PTR_NULL (sf_sdp_session_answer (s, many->str, many->len, SF_SDP_SENDRECV, NULL, &e6));
  CU_ASSERT_TRUE (error_has (e6, SF_SDP_ERROR_MALFORMED, "more than 16 m= lines"));
  g_string_free (many, TRUE);
  /* The good one still passes, with bare LF lines and trailing blanks tolerated. */
  g_autofree char *lf = g_strdup ("v=0\no=alice 1 1 IN IP4 192.0.2.10 \ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
                                  "m=audio 49170 RTP/AVP 0 \n");
  g_autofree char *a = sf_sdp_session_answer (s, lf, strlen (lf), SF_SDP_SENDRECV, NULL, NULL);
  CU_ASSERT_TRUE (has (a, "m=audio 40000 RTP/AVP 0\r\n"));
  /* Only the given length is read. */
  g_autofree char *tail = g_strconcat (good, "garbage", NULL);
  g_autofree char *a2 = sf_sdp_session_answer (s, tail, glen, SF_SDP_SENDRECV, NULL, NULL);
  CU_ASSERT_TRUE (has (a2, "m=audio 40000 RTP/AVP 0\r\n"));
}

static void
check_outcome (SfSdpSession *s, const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_auto (SfSdpMedia) m = { 0 };
  g_autofree char *a = sf_sdp_session_answer (s, text, len, SF_SDP_SENDRECV, &m, &error);
  if (a == NULL) {
    CU_ASSERT_TRUE (error != NULL && error->domain == SF_SDP_ERROR);
  } else {
    /* Whatever we answer, we can read back. */
    g_autoptr (SfSdpSession) peer = session ("127.0.0.2", 40100, "PCMU");
    g_autofree char *again = sf_sdp_session_answer (peer, a, strlen (a), SF_SDP_SENDRECV, NULL, NULL);
    (void) again;
    CU_ASSERT_TRUE (error == NULL);
  }
}

static void
noise (void)
{
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU,PCMA,opus");
  GRand *rand = g_rand_new_with_seed (3264);
  /* Random bytes. */
  for (int i = 0; i < 300; i++) {
    gsize len = g_rand_int_range (rand, 0, 200);
    g_autofree char *buf = g_malloc (len + 1);
    for (gsize k = 0; k < len; k++)
      buf[k] = (char) g_rand_int_range (rand, 0, 256);
    check_outcome (s, buf, len);
  }
  /* A rich valid offer with bytes changed, dropped or cut. */
  g_autofree char *rich = peer_sdp ("m=audio 49170 RTP/AVP 96 0 8 101\r\n"
                                    "c=IN IP4 198.51.100.7/127\r\n"
                                    "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n"
                                    "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendonly\r\n"
                                    "m=video 51372 RTP/AVP 31\r\n");
  gsize rlen = strlen (rich);
  check_outcome (s, rich, rlen);
  static const char alphabet[] = "0123456789 /=:\r\nmacovst-x\xff";
  for (int i = 0; i < 2000; i++) {
    g_autofree char *buf = g_strdup (rich);
    gsize len = rlen;
    int edits = g_rand_int_range (rand, 1, 4);
    for (int e = 0; e < edits; e++) {
      gsize at = g_rand_int_range (rand, 0, (gint32) len);
      switch (g_rand_int_range (rand, 0, 3)) {
      case 0: buf[at] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)]; break;
      case 1: memmove (buf + at, buf + at + 1, len - at); len--; break;
      default: len = at; break;
      }
      if (len == 0)
        break;
    }
    check_outcome (s, buf, len);
  }
  g_rand_free (rand);
}

static void
json (void)
{
  SfSdpMedia m = { 0 };
  m.active = TRUE;
  m.remote_addr = g_strdup ("127.0.0.1");
  m.remote_port = 40000;
  m.dir = SF_SDP_SENDRECV;
  m.codec.name = g_strdup ("PCMU");
  m.dtmf_pt = 101;
  g_autofree char *j = sf_sdp_media_json (&m);
  CU_ASSERT_STRING_EQUAL (j, "\"codec\":\"PCMU\",\"remote\":\"127.0.0.1:40000\",\"dir\":\"sendrecv\",\"dtmf_pt\":101,\"srtp\":null");
  SfSdpMedia c = { 0 };
  sf_sdp_media_copy (&c, &m);
  CU_ASSERT_PTR_NOT_EQUAL (c.remote_addr, m.remote_addr);
  CU_ASSERT_STRING_EQUAL (c.codec.name, "PCMU");
  sf_sdp_media_clear (&m);
  CU_ASSERT_PTR_NULL (m.codec.name);
  CU_ASSERT_EQUAL (m.dtmf_pt, -1);
  g_autofree char *j2 = sf_sdp_media_json (&m);
  CU_ASSERT_STRING_EQUAL (j2, "\"codec\":null,\"remote\":null,\"dir\":\"inactive\",\"dtmf_pt\":-1,\"srtp\":null");
  sf_sdp_media_clear (&c);
}

/* ---- a B2BUA's rewrite ---- */

static const char bridge_offer[] = "v=0\r\n"
                                   "o=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\n"
                                   "s=-\r\n"
                                   "c=IN IP4 192.0.2.10\r\n"
                                   "t=0 0\r\n"
                                   "a=ice-ufrag:F7gI\r\n"
                                   "a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
                                   "m=audio 49170 RTP/AVP 0 101\r\n"
                                   "c=IN IP4 198.51.100.7\r\n"
                                   "a=rtpmap:101 telephone-event/8000\r\n"
                                   "a=rtcp:49171\r\n"
                                   "a=rtcp-mux\r\n"
                                   "a=rtcp-fb:* nack\r\n"
                                   "a=candidate:1 1 UDP 2130706431 198.51.100.7 49170 typ host\r\n"
                                   "a=end-of-candidates\r\n"
                                   "a=sendrecv\r\n"
                                   "m=video 51372 RTP/AVP 31\r\n"
                                   "m=audio 49180 RTP/AVP 8\r\n";

/* The o= line of @sdp split in its six fields (transfer full). */
static GStrv
origin_of (const char *sdp)
{
  const char *o = strstr (sdp, "\r\no=");
  if (o == NULL)
    return NULL;
  o += 4;
  g_autofree char *line = g_strndup (o, strcspn (o, "\r\n"));
  return g_strsplit (line, " ", -1);
}

/* @sdp without its o= line (transfer full): our random session id could hold any digits. */
static char *
without_origin (const char *sdp)
{
  char *copy = g_strdup (sdp);
  char *o = strstr (copy, "\r\no=");
  if (o != NULL) {
    char *end = strstr (o + 2, "\r\n");
    memmove (o, end, strlen (end) + 1);
  }
  return copy;
}

static char *
replace (const char *s, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (s, from, -1);
  return g_strjoinv (to, parts);
}

static void
bridge_pass (void)
{
  g_auto (SfSdpBridgeSide) b = { 0 };
  g_auto (SfSdpBridgeSide) a = { 0 };
  sf_sdp_bridge_side_init (&b, "203.0.113.5", NULL, 0);
  sf_sdp_bridge_side_init (&a, "203.0.113.5", NULL, 40000); /* no relay address: pass-through */
  CU_ASSERT_EQUAL (a.relay_port, 0);
  g_auto (SfSdpPeer) peer = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = sf_sdp_bridge_rewrite (bridge_offer, strlen (bridge_offer), &b, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  g_auto (GStrv) o = origin_of (out);
  CU_ASSERT_FATAL (o != NULL && g_strv_length (o) == 6);
  CU_ASSERT_STRING_EQUAL (o[0], "sipflow");
  CU_ASSERT_STRING_EQUAL (o[2], "1");
  CU_ASSERT_STRING_EQUAL (o[3], "IN");
  CU_ASSERT_STRING_EQUAL (o[4], "IP4");
  CU_ASSERT_STRING_EQUAL (o[5], "203.0.113.5");
  CU_ASSERT_PTR_NULL (strstr (out, "alice"));
  CU_ASSERT_PTR_NULL (strstr (out, "2890844526"));
  /* Everything but o= as it came, in order. */
  g_autofree char *theirs = g_strdup (bridge_offer);
  char *their_o = strstr (theirs, "o=alice");
  memmove (their_o, strstr (their_o, "\r\n") + 2, strlen (strstr (their_o, "\r\n") + 2) + 1);
  g_autofree char *ours = g_strdup (out);
  char *our_o = strstr (ours, "o=sipflow");
  memmove (our_o, strstr (our_o, "\r\n") + 2, strlen (strstr (our_o, "\r\n") + 2) + 1);
  CU_ASSERT_STRING_EQUAL (ours, theirs);
  /* The author's stream. */
  CU_ASSERT_STRING_EQUAL (peer.addr, "198.51.100.7");
  CU_ASSERT_EQUAL (peer.port, 49170);
  CU_ASSERT_FALSE (peer.hold);
  CU_ASSERT_FALSE (peer.crypto);
  CU_ASSERT_EQUAL (peer.dtmf_pt, 101);
  sf_sdp_peer_clear (&peer);
  CU_ASSERT_PTR_NULL (peer.addr);

  /* The same SDP again, even with the author's version bumped and other line
   * ends: the same version (RFC 3264 8). */
  g_autofree char *bumped = replace (bridge_offer, "2890844527", "2890844528");
  g_autofree char *lf = replace (bumped, "\r\n", "\n");
  g_autofree char *out2 = sf_sdp_bridge_rewrite (lf, strlen (lf), &b, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out2);
  CU_ASSERT_STRING_EQUAL (out2, out);
  /* Changed (hold): version 2, same session id. */
  g_autofree char *held = replace (bridge_offer, "a=sendrecv", "a=sendonly");
  g_autofree char *out3 = sf_sdp_bridge_rewrite (held, strlen (held), &b, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out3);
  g_auto (GStrv) o3 = origin_of (out3);
  CU_ASSERT_STRING_EQUAL (o3[1], o[1]);
  CU_ASSERT_STRING_EQUAL (o3[2], "2");
  CU_ASSERT_PTR_NOT_NULL (strstr (out3, "a=sendonly\r\n"));
  /* Back to sendrecv: a change again, version 3. */
  g_autofree char *out4 = sf_sdp_bridge_rewrite (bridge_offer, strlen (bridge_offer), &b, NULL, &error);
  g_auto (GStrv) o4 = origin_of (out4);
  CU_ASSERT_STRING_EQUAL (o4[2], "3");
  /* Another side: its own session id, its own versions. */
  g_autofree char *outa = sf_sdp_bridge_rewrite (held, strlen (held), &a, NULL, &error);
  g_auto (GStrv) oa = origin_of (outa);
  CU_ASSERT_STRING_NOT_EQUAL (oa[1], o[1]);
  CU_ASSERT_STRING_EQUAL (oa[2], "1");
  /* SDES keys are reported, and cross to a side that may have them. */
  g_autofree char *srtp = replace (bridge_offer, "a=sendrecv",
                                   "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
  a.crypto_ok = TRUE;
  g_autofree char *outs = sf_sdp_bridge_rewrite (srtp, strlen (srtp), &a, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL (outs);
  CU_ASSERT_TRUE (peer.crypto);
  CU_ASSERT_PTR_NOT_NULL (strstr (outs, "a=crypto:1 "));
}

#define KEY1 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
#define KEY2 "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"

/* RFC 4568 8: SDES keys go only to a side whose signalling keeps them
 * secret (crypto_ok); an SRTP stream keyed in the SDP cannot go without
 * them, an RTP/AVP one that also carries keys goes in the clear. */
static void
bridge_crypto (void)
{
  g_auto (SfSdpBridgeSide) pass = { 0 };
  g_auto (SfSdpBridgeSide) anchor = { 0 };
  g_auto (SfSdpBridgeSide) ok = { 0 };
  sf_sdp_bridge_side_init (&pass, "203.0.113.5", NULL, 0);
  sf_sdp_bridge_side_init (&anchor, "203.0.113.5", "203.0.113.5", 40002);
  sf_sdp_bridge_side_init (&ok, "203.0.113.5", NULL, 0);
  CU_ASSERT_FALSE (pass.crypto_ok); /* the safe default */
  ok.crypto_ok = TRUE;
  SfSdpBridgeSide *insecure[] = { &pass, &anchor };

  /* RTP/SAVP only: refused toward an insecure side, pass or anchor, side
   * unchanged; as it is toward a secure one. */
  g_autofree char *savp = peer_sdp ("m=audio 49170 RTP/SAVP 0\r\n" KEY1 KEY2);
  for (guint k = 0; k < G_N_ELEMENTS (insecure); k++) {
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpPeer) peer = { 0 };
    g_autofree char *out = sf_sdp_bridge_rewrite (savp, strlen (savp), insecure[k], &peer, &error);
    CU_ASSERT_PTR_NULL (out);
    CU_ASSERT_TRUE (g_error_matches (error, SF_SDP_ERROR, SF_SDP_ERROR_NOT_ACCEPTABLE));
    CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "not TLS") : NULL);
    CU_ASSERT_EQUAL (insecure[k]->version, 0);
    CU_ASSERT_PTR_NULL (insecure[k]->last);
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *kept = sf_sdp_bridge_rewrite (savp, strlen (savp), &ok, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (kept);
  CU_ASSERT_PTR_NOT_NULL (strstr (kept, "m=audio 49170 RTP/SAVP 0\r\n" KEY1 KEY2));

  /* Best-effort SRTP (RTP/AVP with keys): in the clear, keys dropped. */
  g_autofree char *avp = peer_sdp ("m=audio 49170 RTP/AVP 0\r\n" KEY1 "a=sendrecv\r\n");
  g_auto (SfSdpPeer) peer = { 0 };
  g_autofree char *clear = sf_sdp_bridge_rewrite (avp, strlen (avp), &pass, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (clear);
  CU_ASSERT_TRUE (peer.crypto); /* what came in */
  CU_ASSERT_PTR_NULL (strstr (clear, "crypto"));
  CU_ASSERT_PTR_NULL (strstr (clear, "inline:"));
  CU_ASSERT_PTR_NOT_NULL (strstr (clear, "m=audio 49170 RTP/AVP 0\r\na=sendrecv\r\n"));

  /* SRTP with an RTP alternative (two audio m= lines): the SRTP one refused
   * (port 0, no keys), the RTP one relayed; anchored, the relay's port goes
   * on the RTP one and the relay sends to its address. */
  g_autofree char *both = peer_sdp ("m=audio 49170 RTP/SAVP 0\r\n" KEY1 "m=audio 49172 RTP/AVP 0\r\n"
                                    "c=IN IP4 198.51.100.7\r\n");
  g_autofree char *p1 = sf_sdp_bridge_rewrite (both, strlen (both), &pass, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (p1);
  CU_ASSERT_PTR_NOT_NULL (strstr (p1, "m=audio 0 RTP/SAVP 0\r\nm=audio 49172 RTP/AVP 0\r\n"));
  CU_ASSERT_PTR_NULL (strstr (p1, "inline:"));
  sf_sdp_peer_clear (&peer);
  g_autofree char *a1 = sf_sdp_bridge_rewrite (both, strlen (both), &anchor, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a1);
  CU_ASSERT_PTR_NOT_NULL (strstr (a1, "m=audio 0 RTP/SAVP 0\r\nm=audio 40002 RTP/AVP 0\r\n"));
  CU_ASSERT_PTR_NULL (strstr (a1, "inline:"));
  CU_ASSERT_STRING_EQUAL (peer.addr, "198.51.100.7");
  CU_ASSERT_EQUAL (peer.port, 49172);

  /* No audio to lose (a keyed SRTP video beside no audio at all): the video
   * is refused, the SDP goes. */
  g_autofree char *video = peer_sdp ("m=video 51372 RTP/SAVP 31\r\n" KEY1);
  g_autofree char *v1 = sf_sdp_bridge_rewrite (video, strlen (video), &pass, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (v1);
  CU_ASSERT_PTR_NOT_NULL (strstr (v1, "m=video 0 RTP/SAVP 31\r\n"));
  CU_ASSERT_PTR_NULL (strstr (v1, "inline:"));
  /* DTLS-SRTP (no a=crypto: keys on the media path, RFC 5764) is not SDES. */
  g_autofree char *dtls = peer_sdp ("m=audio 49170 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:sha-256 AB:CD\r\n");
  g_autofree char *d1 = sf_sdp_bridge_rewrite (dtls, strlen (dtls), &pass, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (d1);
  CU_ASSERT_PTR_NOT_NULL (strstr (d1, "m=audio 49170 UDP/TLS/RTP/SAVP 0\r\n"));
}

static void
bridge_anchor (void)
{
  g_auto (SfSdpBridgeSide) b = { 0 };
  sf_sdp_bridge_side_init (&b, "203.0.113.5", "203.0.113.5", 40002);
  g_auto (SfSdpPeer) peer = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = sf_sdp_bridge_rewrite (bridge_offer, strlen (bridge_offer), &b, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  CU_ASSERT_STRING_EQUAL (peer.addr, "198.51.100.7");
  CU_ASSERT_EQUAL (peer.port, 49170);
  /* Nothing of the author's addresses or ports is left. */
  g_autofree char *body = without_origin (out);
  CU_ASSERT_PTR_NULL (strstr (out, "192.0.2.10"));
  CU_ASSERT_PTR_NULL (strstr (out, "198.51.100.7"));
  CU_ASSERT_PTR_NULL (strstr (body, "4917"));
  CU_ASSERT_PTR_NULL (strstr (body, "51372"));
  CU_ASSERT_PTR_NULL (strstr (out, "a=ice-"));
  CU_ASSERT_PTR_NULL (strstr (out, "a=candidate"));
  CU_ASSERT_PTR_NULL (strstr (out, "a=end-of-candidates"));
  CU_ASSERT_PTR_NULL (strstr (out, "a=rtcp:"));
  CU_ASSERT_PTR_NULL (strstr (out, "a=rtcp-mux"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "a=rtcp-fb:* nack\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "a=rtpmap:101 telephone-event/8000\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "m=audio 40002 RTP/AVP 0 101\r\nc=IN IP4 203.0.113.5\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "m=video 0 RTP/AVP 31\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "m=audio 0 RTP/AVP 8\r\n"));
  /* It reads back, and a UA answering it sends to the relay. */
  g_autoptr (SfSdpSession) s = session ("127.0.0.1", 40000, "PCMU");
  g_auto (SfSdpMedia) m = { 0 };
  g_autofree char *ans = sf_sdp_session_answer (s, out, strlen (out), SF_SDP_SENDRECV, &m, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ans);
  CU_ASSERT_STRING_EQUAL (m.remote_addr, "203.0.113.5");
  CU_ASSERT_EQUAL (m.remote_port, 40002);
  CU_ASSERT_EQUAL (m.dtmf_pt, 101);
}

static void
bridge_hold (void)
{
  g_auto (SfSdpBridgeSide) b = { 0 };
  sf_sdp_bridge_side_init (&b, "203.0.113.5", "203.0.113.5", 40002);
  g_autofree char *held = peer_sdp ("m=audio 0 RTP/AVP 0\r\n"
                                    "m=audio 49180 RTP/AVP 8\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n");
  g_auto (SfSdpPeer) peer = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = sf_sdp_bridge_rewrite (held, strlen (held), &b, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  CU_ASSERT_TRUE (peer.hold);
  CU_ASSERT_EQUAL (peer.dtmf_pt, -1);
  CU_ASSERT_STRING_EQUAL (peer.addr, "0.0.0.0");
  CU_ASSERT_EQUAL (peer.port, 49180);
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "m=audio 0 RTP/AVP 0\r\nm=audio 40002 RTP/AVP 8\r\nc=IN IP4 0.0.0.0\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "\r\nc=IN IP4 203.0.113.5\r\n"));
  /* No active audio: every port 0, nothing to relay to. */
  g_autofree char *none = peer_sdp ("m=video 51372 RTP/AVP 31\r\nm=audio 0 RTP/AVP 0\r\n");
  sf_sdp_peer_clear (&peer); /* an out parameter: overwritten, not freed */
  g_autofree char *out2 = sf_sdp_bridge_rewrite (none, strlen (none), &b, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out2);
  CU_ASSERT_PTR_NULL (peer.addr);
  CU_ASSERT_EQUAL (peer.port, 0);
  CU_ASSERT_PTR_NOT_NULL (strstr (out2, "m=video 0 RTP/AVP 31\r\nm=audio 0 RTP/AVP 0\r\n"));
}

static void
bridge_ipv6 (void)
{
  g_auto (SfSdpBridgeSide) b = { 0 };
  sf_sdp_bridge_side_init (&b, "2001:db8::5", "2001:db8::5", 40002);
  const char *sdp = "v=0\r\no=bob 1 1 IN IP6 2001:db8::7\r\ns=-\r\nt=0 0\r\n"
                    "m=audio 5004 RTP/AVP 0\r\nc=IN IP6 [2001:db8::7]\r\n";
  g_auto (SfSdpPeer) peer = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = sf_sdp_bridge_rewrite (sdp, strlen (sdp), &b, &peer, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  CU_ASSERT_STRING_EQUAL (peer.addr, "2001:db8::7");
  CU_ASSERT_EQUAL (peer.port, 5004);
  CU_ASSERT_PTR_NOT_NULL (strstr (out, " IN IP6 2001:db8::5\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (out, "m=audio 40002 RTP/AVP 0\r\nc=IN IP6 2001:db8::5\r\n"));
  CU_ASSERT_PTR_NULL (strstr (out, "db8::7"));
}

static void
bridge_malformed (void)
{
  g_auto (SfSdpBridgeSide) b = { 0 };
  sf_sdp_bridge_side_init (&b, "203.0.113.5", "203.0.113.5", 40002);
  g_autofree char *good = peer_sdp ("m=audio 49170 RTP/AVP 0\r\n");
  g_autofree char *out = sf_sdp_bridge_rewrite (good, strlen (good), &b, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  g_autofree char *last = g_strdup (b.last);
  g_autofree char *two_o = peer_sdp ("o=mallory 1 1 IN IP4 192.0.2.66\r\nm=audio 49170 RTP/AVP 0\r\n");
  static const char nul[] = "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\0x\r\n";
  g_autofree char *big = g_malloc (SF_SDP_MAX_BYTES + 2);
  memset (big, 'a', SF_SDP_MAX_BYTES + 1);
  big[SF_SDP_MAX_BYTES + 1] = '\0';
  struct {
    const char *sdp;
    gssize len;
    const char *msg;
  } cases[] = {
    { two_o, -1, "more than one o= line" },
    { "v=0\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n", -1, "no o= line" },
    { "v=1\r\n", -1, "unsupported SDP version" },
    { "", 0, "empty SDP" },
    { NULL, 0, "empty SDP" },
    { "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n", -1, "c= missing for m=audio" },
    { nul, sizeof nul - 1, "NUL byte" },
    { big, SF_SDP_MAX_BYTES + 1, "more than" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    SfSdpPeer peer = { 0 };
    gsize len = cases[i].len >= 0 ? (gsize) cases[i].len : strlen (cases[i].sdp);
    g_autofree char *bad = sf_sdp_bridge_rewrite (cases[i].sdp, len, &b, &peer, &error);
    CU_ASSERT_PTR_NULL (bad);
    CU_ASSERT_PTR_NULL (peer.addr);
    CU_ASSERT_TRUE (g_error_matches (error, SF_SDP_ERROR, SF_SDP_ERROR_MALFORMED));
    if (error != NULL && strstr (error->message, cases[i].msg) == NULL)
      g_printerr ("case %" G_GSIZE_FORMAT ": '%s'\n", i, error->message);
    CU_ASSERT (error != NULL && strstr (error->message, cases[i].msg) != NULL);
    CU_ASSERT_EQUAL (b.version, 1);
    CU_ASSERT_STRING_EQUAL (b.last, last);
  }
}

static void
bridge_noise (void)
{
  GRand *rand = g_rand_new_with_seed (3725);
  g_auto (SfSdpBridgeSide) pass = { 0 };
  g_auto (SfSdpBridgeSide) anchor = { 0 };
  sf_sdp_bridge_side_init (&pass, "127.0.0.1", NULL, 0);
  sf_sdp_bridge_side_init (&anchor, "127.0.0.1", "127.0.0.1", 40002);
  gsize rlen = strlen (bridge_offer);
  static const char alphabet[] = "0123456789 /=:\r\nmacovst-x\xff";
  for (int i = 0; i < 2000; i++) {
    g_autofree char *buf = g_strdup (bridge_offer);
    gsize len = rlen;
    int edits = g_rand_int_range (rand, 1, 4);
    for (int e = 0; e < edits && len > 0; e++) {
      gsize at = g_rand_int_range (rand, 0, (gint32) len);
      switch (g_rand_int_range (rand, 0, 3)) {
      case 0: buf[at] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)]; break;
      case 1: memmove (buf + at, buf + at + 1, len - at); len--; break;
      default: len = at; break;
      }
    }
    SfSdpBridgeSide *sides[] = { &pass, &anchor };
    for (int k = 0; k < 2; k++) {
      g_autoptr (GError) error = NULL;
      g_auto (SfSdpPeer) peer = { 0 };
      g_autofree char *out = sf_sdp_bridge_rewrite (buf, len, sides[k], &peer, &error);
      CU_ASSERT ((out != NULL) == (error == NULL));
      if (out == NULL)
        continue;
      /* What we send reads back as SDP, the same way. */
      g_autoptr (GError) again = NULL;
      g_autofree char *out2 = sf_sdp_bridge_rewrite (out, strlen (out), sides[k], NULL, &again);
      CU_ASSERT_PTR_NOT_NULL (out2);
    }
  }
  g_rand_free (rand);
}

void
sf_test_register_sdp (void)
{
  CU_pSuite s = CU_add_suite ("sdp", NULL, NULL);
  SF_ADD_TEST (s, offer_content);
  SF_ADD_TEST (s, session_new_errors);
  SF_ADD_TEST (s, codec_order);
  SF_ADD_TEST (s, opus_dynamic);
  SF_ADD_TEST (s, telephone_event);
  SF_ADD_TEST (s, directions);
  SF_ADD_TEST (s, port_zero);
  SF_ADD_TEST (s, not_acceptable);
  SF_ADD_TEST (s, ipv6);
  SF_ADD_TEST (s, versions);
  SF_ADD_TEST (s, take_answer_good);
  SF_ADD_TEST (s, take_answer_extra);
  SF_ADD_TEST (s, take_answer_refused);
  SF_ADD_TEST (s, malformed);
  SF_ADD_TEST (s, noise);
  SF_ADD_TEST (s, json);
  SF_ADD_TEST (s, bridge_pass);
  SF_ADD_TEST (s, bridge_anchor);
  SF_ADD_TEST (s, bridge_hold);
  SF_ADD_TEST (s, bridge_crypto);
  SF_ADD_TEST (s, bridge_ipv6);
  SF_ADD_TEST (s, bridge_malformed);
  SF_ADD_TEST (s, bridge_noise);
}
