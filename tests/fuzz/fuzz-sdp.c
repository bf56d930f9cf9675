/* fuzz-sdp.c: fuzz target for SDP offer/answer (media/sf-sdp.c): the input as
 * a peer's offer, answered sendrecv and sendonly by a PCMU,PCMA,opus session
 * with media.srtp off, and sendrecv by one with media.srtp offer (a=crypto,
 * media/sf-srtp.c) (an answer we write must itself be an offer a second
 * session, srtp offer, can answer), and as the peer's answer to our offer
 * (RTP/AVP, then RTP/SAVP); the negotiated stream is written as JSON and the
 * peer's direction read each time.  Then the input as SDP a B2BUA relays
 * (sf_sdp_bridge_rewrite), pass-through and anchored, with SDES keys allowed
 * to the side and not, twice each (the second
 * compares with the first); what is written must itself be rewritable.  GstSDPMessage needs no
 * gst_init, so nothing else is set up. */
#include "config.h"
#include "media/sf-sdp.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char *const codecs[] = { "PCMU", "PCMA", "opus", NULL };

static SfSdpSession *
session (SfSdpSrtpMode srtp)
{
  SfSdpSession *s = sf_sdp_session_new ("127.0.0.1", 40000, codecs, NULL);
  if (s == NULL)
    __builtin_trap ();
  sf_sdp_session_set_srtp (s, srtp);
  return s;
}

static void
json (const SfSdpMedia *m)
{
  char *j = sf_sdp_media_json (m);
  if (j == NULL)
    __builtin_trap ();
  g_free (j);
}

static void
remote_dir (SfSdpSession *s)
{
  if ((guint) sf_sdp_session_remote_dir (s) > SF_SDP_INACTIVE)
    __builtin_trap ();
}

/* The input as an offer, answered wanting @dir. */
static void
answer (const char *text, size_t size, SfSdpDir dir, SfSdpSrtpMode srtp)
{
  SfSdpSession *s = session (srtp);
  SfSdpMedia m;
  GError *error = NULL;
  char *ans = sf_sdp_session_answer (s, text, size, dir, &m, &error);
  if (ans == NULL && (error == NULL || error->domain != SF_SDP_ERROR))
    __builtin_trap ();
  g_clear_error (&error);
  json (&m);
  remote_dir (s);
  if (ans != NULL) {
    /* What we write must read back: our answer, taken as an offer. */
    SfSdpSession *peer = session (SF_SDP_SRTP_OFFER);
    SfSdpMedia pm;
    char *again = sf_sdp_session_answer (peer, ans, strlen (ans), SF_SDP_SENDRECV, &pm, NULL);
    if (again == NULL)
      __builtin_trap ();
    json (&pm);
    remote_dir (peer);
    sf_sdp_media_clear (&pm);
    g_free (again);
    sf_sdp_session_free (peer);
  }
  sf_sdp_media_clear (&m);
  g_free (ans);
  sf_sdp_session_free (s);
}

/* The input relayed to one side, pass-through or anchored, SDES keys allowed
 * to it or not (crypto_ok). */
static void
bridge (const char *text, size_t size, gboolean anchor, gboolean crypto_ok)
{
  SfSdpBridgeSide side;
  sf_sdp_bridge_side_init (&side, "127.0.0.1", anchor ? "127.0.0.1" : NULL, 40002);
  side.crypto_ok = crypto_ok;
  for (int round = 0; round < 2; round++) {
    SfSdpPeer peer;
    GError *error = NULL;
    char *out = sf_sdp_bridge_rewrite (text, size, &side, &peer, &error);
    if ((out == NULL) != (error != NULL) || (error != NULL && error->domain != SF_SDP_ERROR))
      __builtin_trap ();
    if (out == NULL && (peer.addr != NULL || peer.port != 0))
      __builtin_trap ();
    g_clear_error (&error);
    if (out != NULL) {
      char *again = sf_sdp_bridge_rewrite (out, strlen (out), &side, NULL, NULL);
      if (again == NULL)
        __builtin_trap ();
      g_free (again);
    }
    sf_sdp_peer_clear (&peer);
    g_free (out);
  }
  sf_sdp_bridge_side_clear (&side);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  bridge ((const char *) data, size, FALSE, FALSE);
  bridge ((const char *) data, size, TRUE, FALSE);
  bridge ((const char *) data, size, FALSE, TRUE);
  bridge ((const char *) data, size, TRUE, TRUE);
  const char *text = (const char *) data;
  answer (text, size, SF_SDP_SENDRECV, SF_SDP_SRTP_OFF);
  answer (text, size, SF_SDP_SENDONLY, SF_SDP_SRTP_OFF);
  answer (text, size, SF_SDP_SENDRECV, SF_SDP_SRTP_OFFER);
  /* The input as the answer to our offer, RTP/AVP and RTP/SAVP. */
  for (int savp = 0; savp < 2; savp++) {
    SfSdpSession *s = session (savp ? SF_SDP_SRTP_REQUIRE : SF_SDP_SRTP_OFF);
    char *offer = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
    SfSdpMedia m;
    GError *error = NULL;
    if (!sf_sdp_session_take_answer (s, text, size, &m, &error) && (error == NULL || error->domain != SF_SDP_ERROR))
      __builtin_trap ();
    g_clear_error (&error);
    json (&m);
    remote_dir (s);
    sf_sdp_media_clear (&m);
    g_free (offer);
    sf_sdp_session_free (s);
  }
  return 0;
}
