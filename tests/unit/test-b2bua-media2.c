/* test-b2bua-media2.c: what of a caller's SDP the B2BUA lets through to the
 * callee (docs/b2bua.md, docs/media.md "Relay"), xml/b2bua.xml between two
 * UDP peers on loopback, on the fake clock (suite b2bua-media).
 *  - bridge_sdes_insecure: A's INVITE comes over UDP, so SDES keys may not
 *    cross (RFC 4568 8): an offer whose only audio is RTP/SAVP keyed by
 *    a=crypto gets 488 and makes no B leg (bridge_end a_status 488); zero
 *    instances at the end
 *  - bridge_sdes_best_effort: an RTP/AVP offer that also carries a=crypto
 *    reaches B without the keys (in the clear), the rest as it was
 *  - bridge_sdes_allowed: media.srtp_insecure_signalling=true: the keys reach
 *    B as A sent them */
#include "config.h"
#include "sf-test-b2b.h"
#include "operators/b2bua/sf-b2bua.h"
#include "operators/sf-modules.h"
#include "media/sf-media.h"
#include <string.h>

/* A's INVITE (over UDP) with @sdp. */
static void
a_invite (SfTestB2b *x, const char *sdp)
{
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bK-m2\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: <sip:b2b@127.0.0.1>\r\nCall-ID: m2-call@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:%%PORT%%>\r\n"
    "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s", strlen (sdp), sdp);
  sf_test_stack_send (x->t, inv);
}

/* A's ACK for a failure @resp to its INVITE. */
static void
a_ack (SfTestB2b *x, const char *resp)
{
  g_autofree char *to = sf_test_header (resp, "To");
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bK-m2\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: m2-call@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", to != NULL ? to : "");
  sf_test_stack_send (x->t, ack);
}

/* B refuses @req with 486; the bridge gives A 486 too. */
static void
b_refuse (SfTestB2b *x, const char *req)
{
  g_autofree char *via = sf_test_header (req, "Via");
  g_autofree char *from = sf_test_header (req, "From");
  g_autofree char *to = sf_test_header (req, "To");
  g_autofree char *cid = sf_test_header (req, "Call-ID");
  g_autofree char *cseq = sf_test_header (req, "CSeq");
  g_autofree char *r = g_strdup_printf ("SIP/2.0 486 Busy Here\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=bobtag\r\n"
                                        "Call-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
                                        via, from, to, cid, cseq);
  g_socket_send_to (x->b, G_SOCKET_ADDRESS (x->bto), r, strlen (r), NULL, NULL);
  g_autofree char *resp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), 486);
  if (resp != NULL)
    a_ack (x, resp);
}

#define SDP_HEAD "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
#define KEY "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"

static void
bridge_sdes_insecure (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, SF_TEST_B2B_MEDIA);
  a_invite (x, SDP_HEAD "m=audio 40000 RTP/SAVP 0\r\n" KEY);
  g_autofree char *resp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), 488);
  if (resp != NULL)
    a_ack (x, resp);
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b)); /* no B leg: the keys went nowhere */
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"a_status\":488", NULL), 1);
  sf_test_b2b_free (x);
}

static void
bridge_sdes_best_effort (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, SF_TEST_B2B_MEDIA);
  a_invite (x, SDP_HEAD "m=audio 40000 RTP/AVP 0\r\n" KEY "a=sendrecv\r\n");
  g_autofree char *inv = sf_test_recv (x->b, FALSE);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inv);
  CU_ASSERT_TRUE (g_str_has_prefix (inv, "INVITE "));
  CU_ASSERT_PTR_NULL (strstr (inv, "a=crypto"));
  CU_ASSERT_PTR_NULL (strstr (inv, "inline:"));
  CU_ASSERT_PTR_NOT_NULL (strstr (inv, "m=audio 40000 RTP/AVP 0\r\na=sendrecv\r\n"));
  b_refuse (x, inv);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

static void
bridge_sdes_allowed (void)
{
  SfTestB2b *x = sf_test_b2b_new ("media.srtp_insecure_signalling=true", SF_TEST_B2B_MEDIA);
  a_invite (x, SDP_HEAD "m=audio 40000 RTP/SAVP 0\r\n" KEY);
  g_autofree char *inv = sf_test_recv (x->b, FALSE);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inv);
  CU_ASSERT_TRUE (g_str_has_prefix (inv, "INVITE "));
  CU_ASSERT_PTR_NOT_NULL (strstr (inv, "m=audio 40000 RTP/SAVP 0\r\n" KEY));
  b_refuse (x, inv);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

void
sf_test_register_b2bua_media (void)
{
  CU_pSuite s = CU_add_suite ("b2bua-media", NULL, NULL);
  SF_ADD_TEST (s, bridge_sdes_insecure);
  SF_ADD_TEST (s, bridge_sdes_best_effort);
  SF_ADD_TEST (s, bridge_sdes_allowed);
}
