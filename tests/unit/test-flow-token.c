/* test-flow-token.c: flow tokens (sip/sf-sip-flow-token.h) and the proxy's
 * Path preloading (sf_sip_create_forward's preload).
 *  - roundtrip: IPv4 over UDP and IPv6 over TCP give back their flow; the
 *    token's length and form; upper-case hex is the same token;
 *  - refused: another kind, another key, every single character changed, one
 *    character more or less, empty, a port of 0, junk;
 *  - hop and same_flow: the URI the transport sends to; the direction test;
 *  - preload: a binding's Path goes before the route set left, the Request-URI
 *    the target; a value that does not parse is left out. */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-flow-token.h"
#include "sip/sf-sip-build.h"
#include <string.h>

static const guint8 key[SF_FLOW_TOKEN_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

static GInetSocketAddress *
addr (const char *ip, guint16 port)
{
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (ip, port));
}

static gboolean
check (const guint8 *k, SfFlowTokenKind kind, const char *t, SfSipProto *proto, GInetSocketAddress **a)
{
  return sf_flow_token_check (k, kind, sf_sip_str (t, strlen (t)), proto, a);
}

static void
roundtrip (void)
{
  g_autoptr (GInetSocketAddress) v4 = addr ("192.0.2.7", 40000);
  g_autofree char *t = sf_flow_token_make (key, SF_FLOW_TOKEN_RR, SF_SIP_UDP, v4);
  CU_ASSERT_EQUAL (strlen (t), 46);
  CU_ASSERT (g_str_has_prefix (t, "ruc00002079c40"));
  SfSipProto proto = SF_SIP_TCP;
  g_autoptr (GInetSocketAddress) back = NULL;
  CU_ASSERT (check (key, SF_FLOW_TOKEN_RR, t, &proto, &back));
  CU_ASSERT_EQUAL (proto, SF_SIP_UDP);
  CU_ASSERT (sf_flow_token_same_flow (SF_SIP_UDP, back, SF_SIP_UDP, v4));
  g_autofree char *up = g_ascii_strup (t, -1);
  up[0] = 'r';
  up[1] = 'u';
  CU_ASSERT (check (key, SF_FLOW_TOKEN_RR, up, NULL, NULL));

  g_autoptr (GInetSocketAddress) v6 = addr ("2001:db8::1", 5061);
  g_autofree char *t6 = sf_flow_token_make (key, SF_FLOW_TOKEN_PATH, SF_SIP_TCP, v6);
  CU_ASSERT_EQUAL (strlen (t6), 70);
  g_autoptr (GInetSocketAddress) back6 = NULL;
  CU_ASSERT (check (key, SF_FLOW_TOKEN_PATH, t6, &proto, &back6));
  CU_ASSERT_EQUAL (proto, SF_SIP_TCP);
  g_autofree char *hop = sf_flow_token_hop (proto, back6);
  CU_ASSERT_STRING_EQUAL (hop, "sip:[2001:db8::1]:5061;transport=tcp");
  CU_ASSERT_PTR_NULL (sf_flow_token_make (key, SF_FLOW_TOKEN_RR, SF_SIP_UDP, NULL));
}

static void
refused (void)
{
  g_autoptr (GInetSocketAddress) v4 = addr ("192.0.2.7", 40000);
  g_autofree char *t = sf_flow_token_make (key, SF_FLOW_TOKEN_RR, SF_SIP_UDP, v4);
  guint8 other[SF_FLOW_TOKEN_KEY_LEN];
  memcpy (other, key, sizeof other);
  other[31] ^= 1;
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_PATH, t, NULL, NULL));
  CU_ASSERT_FALSE (check (other, SF_FLOW_TOKEN_RR, t, NULL, NULL));
  /* every character changed, one at a time, to another hex digit or kind */
  gsize n = strlen (t);
  guint accepted = 0;
  for (gsize i = 0; i < n; i++) {
    g_autofree char *c = g_strdup (t);
    c[i] = c[i] == '0' ? '1' : '0';
    accepted += check (key, SF_FLOW_TOKEN_RR, c, NULL, NULL);
  }
  CU_ASSERT_EQUAL (accepted, 0);
  g_autofree char *longer = g_strconcat (t, "0", NULL);
  g_autofree char *shorter = g_strndup (t, n - 1);
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, longer, NULL, NULL));
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, shorter, NULL, NULL));
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, "", NULL, NULL));
  CU_ASSERT_FALSE (sf_flow_token_check (key, SF_FLOW_TOKEN_RR, SF_SIP_STR_NULL, NULL, NULL));
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, "ru7f00000100000000000000000000000000000000000000", NULL, NULL));
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, "ruzz000001138900000000000000000000000000000000", NULL, NULL));
  /* port 0 is no flow: made, never taken */
  g_autoptr (GInetSocketAddress) zero = addr ("192.0.2.7", 0);
  g_autofree char *tz = sf_flow_token_make (key, SF_FLOW_TOKEN_RR, SF_SIP_UDP, zero);
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, tz, NULL, NULL));
}

static void
hop_same (void)
{
  g_autoptr (GInetSocketAddress) a = addr ("127.0.0.1", 5070);
  g_autoptr (GInetSocketAddress) b = addr ("127.0.0.1", 5071);
  g_autofree char *h = sf_flow_token_hop (SF_SIP_UDP, a);
  CU_ASSERT_STRING_EQUAL (h, "sip:127.0.0.1:5070;transport=udp");
  CU_ASSERT (sf_flow_token_same_flow (SF_SIP_UDP, a, SF_SIP_UDP, a));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (SF_SIP_TCP, a, SF_SIP_UDP, a));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (SF_SIP_UDP, b, SF_SIP_UDP, a));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (SF_SIP_UDP, NULL, SF_SIP_UDP, a));
}

static void
preload (void)
{
  const char *text = "INVITE sip:bob@example.com SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
                     "Max-Forwards: 70\r\nFrom: <sip:a@example.org>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
                     "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = g_bytes_new_static (text, strlen (text));
  g_autoptr (SfSipMsg) inv = sf_sip_msg_parse (bytes, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inv);
  SfSipForward f = { .via = "SIP/2.0/UDP p:5060;branch=z9hG4bK2", .target = "sip:bob@192.0.2.9",
                     .preload = "<sip:edge1.example.com;lr>, <sip:edge2.example.com;lr;sff=x>" };
  g_autoptr (SfSipMsg) out = sf_sip_create_forward (inv, &f, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (out)->raw);
  CU_ASSERT_STRING_EQUAL (ruri, "sip:bob@192.0.2.9");
  const SfSipHdr *r = sf_sip_msg_find (out, SF_SIP_HDR_ROUTE);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  g_autofree char *rv = sf_sip_str_dup (r->value);
  CU_ASSERT_STRING_EQUAL (rv, "<sip:edge1.example.com;lr>, <sip:edge2.example.com;lr;sff=x>");
  SfSipForward bad = { .via = "SIP/2.0/UDP p:5060;branch=z9hG4bK3", .preload = "<not a uri" };
  g_autoptr (SfSipMsg) out2 = sf_sip_create_forward (inv, &bad, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out2);
  CU_ASSERT_PTR_NULL (sf_sip_msg_find (out2, SF_SIP_HDR_ROUTE));
}

void
sf_test_register_flow_token (void)
{
  CU_pSuite s = CU_add_suite ("flow-token", NULL, NULL);
  SF_ADD_TEST (s, roundtrip);
  SF_ADD_TEST (s, refused);
  SF_ADD_TEST (s, hop_same);
  SF_ADD_TEST (s, preload);
}
