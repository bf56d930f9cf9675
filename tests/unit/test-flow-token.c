/* test-flow-token.c: flow tokens (sip/sf-sip-flow-token.h) and the proxy's
 * Path preloading (sf_sip_create_forward's preload).
 *  - roundtrip: IPv4 over UDP and IPv6 over TCP give back their flow (over
 *    TCP its connection id and boot value); the token's length and form;
 *    upper-case hex is the same token; a TCP flow without a connection id
 *    makes none;
 *  - refused: another kind, another key, every single character changed, one
 *    character more or less, empty, a port of 0, junk, a TCP token of the old
 *    form (no connection), a connection id of 0;
 *  - dialog: a Record-Route token checks only with its own Call-ID, a Path
 *    token with any;
 *  - hop and same_flow: the URI the transport sends to; the direction test
 *    (over TCP the connection and the boot value too);
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

static const SfSipStr cid = { "call-1@192.0.2.7", 16 };

static gboolean
check (const guint8 *k, SfFlowTokenKind kind, const char *t, SfFlowTokenFlow *f)
{
  return sf_flow_token_check (k, kind, sf_sip_str (t, strlen (t)), cid, f);
}

static char *
make (SfFlowTokenKind kind, SfSipProto proto, GInetSocketAddress *a, guint32 conn, guint32 boot)
{
  SfFlowTokenFlow f = { proto, a, conn, boot };
  return sf_flow_token_make (key, kind, &f, cid);
}

static void
roundtrip (void)
{
  g_autoptr (GInetSocketAddress) v4 = addr ("192.0.2.7", 40000);
  g_autofree char *t = make (SF_FLOW_TOKEN_RR, SF_SIP_UDP, v4, 0, 0);
  CU_ASSERT_EQUAL (strlen (t), 46);
  CU_ASSERT (g_str_has_prefix (t, "ruc00002079c40"));
  g_auto (SfFlowTokenFlow) back = { SF_SIP_TCP, NULL, 9, 9 };
  CU_ASSERT (check (key, SF_FLOW_TOKEN_RR, t, &back));
  CU_ASSERT_EQUAL (back.proto, SF_SIP_UDP);
  CU_ASSERT_EQUAL (back.conn, 0);
  CU_ASSERT_EQUAL (back.boot, 0);
  SfSipPeer from = { SF_SIP_UDP, NULL, v4, 0 };
  CU_ASSERT (sf_flow_token_same_flow (&from, 77, &back));
  g_autofree char *up = g_ascii_strup (t, -1);
  up[0] = 'r';
  up[1] = 'u';
  CU_ASSERT (check (key, SF_FLOW_TOKEN_RR, up, NULL));

  g_autoptr (GInetSocketAddress) v6 = addr ("2001:db8::1", 5061);
  g_autofree char *t6 = make (SF_FLOW_TOKEN_PATH, SF_SIP_TCP, v6, 0x2a, 0xdeadbeef);
  CU_ASSERT_EQUAL (strlen (t6), 86);
  CU_ASSERT (g_str_has_prefix (t6, "pt20010db8000000000000000000000001" "13c5" "0000002a" "deadbeef"));
  g_auto (SfFlowTokenFlow) back6 = { 0 };
  CU_ASSERT (check (key, SF_FLOW_TOKEN_PATH, t6, &back6));
  CU_ASSERT_EQUAL (back6.proto, SF_SIP_TCP);
  CU_ASSERT_EQUAL (back6.conn, 0x2a);
  CU_ASSERT_EQUAL (back6.boot, 0xdeadbeef);
  g_autofree char *hop = sf_flow_token_hop (&back6);
  CU_ASSERT_STRING_EQUAL (hop, "sip:[2001:db8::1]:5061;transport=tcp");
  g_autofree char *t4 = make (SF_FLOW_TOKEN_RR, SF_SIP_TCP, v4, 1, 2);
  CU_ASSERT_EQUAL (strlen (t4), 62);
  CU_ASSERT (check (key, SF_FLOW_TOKEN_RR, t4, NULL));
  /* no address, or a TCP flow without its connection: no token */
  CU_ASSERT_PTR_NULL (make (SF_FLOW_TOKEN_RR, SF_SIP_UDP, NULL, 0, 0));
  CU_ASSERT_PTR_NULL (make (SF_FLOW_TOKEN_RR, SF_SIP_TCP, v4, 0, 2));
  /* WebSocket flows (RFC 7118): a connection each, 'w' and 'x' */
  const SfSipProto ws[] = { SF_SIP_WS, SF_SIP_WSS };
  for (guint i = 0; i < G_N_ELEMENTS (ws); i++) {
    g_autofree char *tw = make (SF_FLOW_TOKEN_RR, ws[i], v4, 7, 8);
    CU_ASSERT_EQUAL (strlen (tw), 62);
    CU_ASSERT_EQUAL (tw[1], i == 0 ? 'w' : 'x');
    g_auto (SfFlowTokenFlow) bw = { 0 };
    CU_ASSERT (check (key, SF_FLOW_TOKEN_RR, tw, &bw));
    CU_ASSERT (bw.proto == ws[i] && bw.conn == 7 && bw.boot == 8);
    g_autofree char *hw = sf_flow_token_hop (&bw);
    CU_ASSERT_STRING_EQUAL (hw, i == 0 ? "sip:192.0.2.7:40000;transport=ws" : "sip:192.0.2.7:40000;transport=wss");
    tw[1] = i == 0 ? 't' : 's'; /* a WS token passed off as TCP's: its MAC is over the letter */
    CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, tw, NULL));
  }
  SfSipPeer tcp = { SF_SIP_TCP, NULL, v4, 5 };
  g_auto (SfFlowTokenFlow) of = { 0 };
  sf_flow_token_flow_of (&of, &tcp, 0x77);
  CU_ASSERT (of.proto == SF_SIP_TCP && of.conn == 5 && of.boot == 0x77 && of.addr == v4);
}

static void
refused (void)
{
  g_autoptr (GInetSocketAddress) v4 = addr ("192.0.2.7", 40000);
  const SfSipProto protos[] = { SF_SIP_UDP, SF_SIP_TCP };
  guint8 other[SF_FLOW_TOKEN_KEY_LEN];
  memcpy (other, key, sizeof other);
  other[31] ^= 1;
  for (guint p = 0; p < G_N_ELEMENTS (protos); p++) {
    g_autofree char *t = make (SF_FLOW_TOKEN_RR, protos[p], v4, 3, 4);
    CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_PATH, t, NULL));
    CU_ASSERT_FALSE (check (other, SF_FLOW_TOKEN_RR, t, NULL));
    /* every character changed, one at a time, to another hex digit or kind */
    gsize n = strlen (t);
    guint accepted = 0;
    for (gsize i = 0; i < n; i++) {
      g_autofree char *c = g_strdup (t);
      c[i] = c[i] == '0' ? '1' : '0';
      accepted += check (key, SF_FLOW_TOKEN_RR, c, NULL);
    }
    CU_ASSERT_EQUAL (accepted, 0);
    g_autofree char *longer = g_strconcat (t, "0", NULL);
    g_autofree char *shorter = g_strndup (t, n - 1);
    CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, longer, NULL));
    CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, shorter, NULL));
  }
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, "", NULL));
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, "r", NULL));
  CU_ASSERT_FALSE (sf_flow_token_check (key, SF_FLOW_TOKEN_RR, SF_SIP_STR_NULL, cid, NULL));
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, "ru7f00000100000000000000000000000000000000000000", NULL));
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, "ruzz000001138900000000000000000000000000000000", NULL));
  /* port 0 is no flow: made, never taken */
  g_autoptr (GInetSocketAddress) zero = addr ("192.0.2.7", 0);
  g_autofree char *tz = make (SF_FLOW_TOKEN_RR, SF_SIP_UDP, zero, 0, 0);
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_RR, tz, NULL));
  /* a TCP token of the old form (address and port only, its MAC good) names
   * no connection: refused, as one whose head says 'u' passed off as 't' */
  g_autofree char *u = make (SF_FLOW_TOKEN_PATH, SF_SIP_UDP, v4, 0, 0);
  u[1] = 't';
  CU_ASSERT_FALSE (check (key, SF_FLOW_TOKEN_PATH, u, NULL));
}

static void
dialog (void)
{
  g_autoptr (GInetSocketAddress) v4 = addr ("192.0.2.7", 40000);
  g_autofree char *rr = make (SF_FLOW_TOKEN_RR, SF_SIP_UDP, v4, 0, 0);
  g_autofree char *path = make (SF_FLOW_TOKEN_PATH, SF_SIP_TCP, v4, 8, 9);
  const SfSipStr another = { "call-2@192.0.2.7", 16 };
  SfSipStr rs = sf_sip_str (rr, strlen (rr)), ps = sf_sip_str (path, strlen (path));
  CU_ASSERT (sf_flow_token_check (key, SF_FLOW_TOKEN_RR, rs, cid, NULL));
  CU_ASSERT_FALSE (sf_flow_token_check (key, SF_FLOW_TOKEN_RR, rs, another, NULL));
  CU_ASSERT_FALSE (sf_flow_token_check (key, SF_FLOW_TOKEN_RR, rs, SF_SIP_STR_NULL, NULL));
  CU_ASSERT_FALSE (sf_flow_token_check (key, SF_FLOW_TOKEN_RR, rs, sf_sip_str ("call-1@192.0.2.", 15), NULL));
  /* a Path token serves every dialog: the Call-ID is not in its MAC */
  CU_ASSERT (sf_flow_token_check (key, SF_FLOW_TOKEN_PATH, ps, another, NULL));
  CU_ASSERT (sf_flow_token_check (key, SF_FLOW_TOKEN_PATH, ps, SF_SIP_STR_NULL, NULL));
}

static void
hop_same (void)
{
  g_autoptr (GInetSocketAddress) a = addr ("127.0.0.1", 5070);
  g_autoptr (GInetSocketAddress) b = addr ("127.0.0.1", 5071);
  SfFlowTokenFlow fu = { SF_SIP_UDP, a, 0, 0 }, ft = { SF_SIP_TCP, a, 4, 0x99 };
  g_autofree char *h = sf_flow_token_hop (&fu);
  CU_ASSERT_STRING_EQUAL (h, "sip:127.0.0.1:5070;transport=udp");
  SfSipPeer ua = { SF_SIP_UDP, NULL, a, 0 }, ub = { SF_SIP_UDP, NULL, b, 0 }, ta = { SF_SIP_TCP, NULL, a, 4 },
            ta5 = { SF_SIP_TCP, NULL, a, 5 }, un = { SF_SIP_UDP, NULL, NULL, 0 };
  CU_ASSERT (sf_flow_token_same_flow (&ua, 0x99, &fu));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (&ta, 0x99, &fu));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (&ub, 0x99, &fu));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (&un, 0x99, &fu));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (NULL, 0x99, &fu));
  /* over TCP: that connection of this process, not another from the same address */
  CU_ASSERT (sf_flow_token_same_flow (&ta, 0x99, &ft));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (&ta5, 0x99, &ft));
  CU_ASSERT_FALSE (sf_flow_token_same_flow (&ta, 0x98, &ft));
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
  SF_ADD_TEST (s, dialog);
  SF_ADD_TEST (s, hop_same);
  SF_ADD_TEST (s, preload);
}
