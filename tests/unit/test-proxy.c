/* test-proxy.c: the stateful proxy (xml/proxy.xml, operators/proxy/), on the
 * fake clock: every timer fires by advancing time, never by sleeping.  A plain
 * UDP socket on loopback plays both the caller and the called party (the
 * Request-URI names the socket, a domain the proxy does not serve).
 *  - rank and final_response: 16.7 step 6 (6xx, then 3xx, then the preferred 4xx,
 *    other 4xx, 5xx; 503 sent as 500) and step 7 (challenges aggregated)
 *  - branch_hash: the Via branch carries a hash that is the same for the same
 *    request and differs when the Request-URI or the Route set differ (16.6 step 8)
 *  - token_mac: a Record-Route token is the MAC its header describes; an
 *    earlier build's (HMAC-SHA-256) still checks, a token changed in either half not
 *  - branch_ours_failover: our forwarded branch is ours, and so is it with the
 *    ".fN" of a failover (RFC 3263 4.3); other suffixes and a broken MAC are not
 *  - timer_c: an INVITE forwarded, 180 back upstream; Timer C (181 s) after the
 *    last provisional response cancels the branch (16.8), the 487 is ACKed
 *    downstream and goes upstream; every instance ends by Timers
 *  - timer_c_silent: proxy.timer_c = 10 s and no response at all: 408 upstream at
 *    10 s (16.8), the client transaction runs to Timer B
 *  - quitting: a request that comes while the proxy quits gets 503, Retry-After,
 *    statelessly; its ACK is absorbed; a BYE inside a dialog is still proxied
 *  - nat_detect, nat_next_hop: which REGISTERs crossed a NAT (the Via's
 *    sent-by against the source) and where a request for the binding goes
 *    (registrar.nat auto, off, always; docs/servers.md "Behind NAT")
 *  - in_flow_upstream_rr: a NATed caller's flow token in our Record-Route,
 *    none when an element upstream Record-Routed (another node)
 *  - accepted_compact: after a 2xx the INVITE's client transaction keeps its
 *    request as a compact copy (64*T1 in Accepted); a 2xx retransmission
 *    still goes upstream through the branch that let its requests go, and
 *    every instance ends */
#include "config.h"
#include "sf-test.h"
#include "operators/transaction/sf-stack.h"
#include "operators/transaction/sf-stack-private.h"
#include "operators/proxy/sf-proxy.h"
#include "operators/registrar/sf-nat.h"
#include "operators/sf-modules.h"
#include "framework/sf-module.h"
#include "framework/sf-secret.h"
#include "sip/sf-sip-build.h"
#include <string.h>

typedef SfTestStack Px;

static Px *
px_setup (const char *const *sets)
{
  SfTestEnv *env = sf_test_env_new ();
  /* the test peer stands for a trusted caller: what it sends is relayed to it (docs/security.md) */
  CU_ASSERT_TRUE (sf_config_set (env->cfg, "proxy.trusted=127.0.0.0/8", NULL));
  for (const char *const *s = sets; s != NULL && *s != NULL; s++)
    CU_ASSERT_TRUE (sf_config_set (env->cfg, *s, NULL));
  CU_ASSERT_TRUE (sf_proxy_setup (env->ep, env->cfg, NULL));
  sf_endpoint_attach (env->ep, NULL);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/proxy.xml", NULL);
  g_assert (tu != NULL);
  Px *t = sf_test_stack_new (env, tu);
  sf_stack_set_gate (t->stack, &sf_proxy_gate);
  return t;
}

static void
px_free (Px *t)
{
  sf_test_stack_free (t, sf_proxy_teardown);
}

static void
send_text (Px *t, const char *text)
{
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), text, strlen (text), NULL, NULL);
}

/* The next datagram from the proxy (transfer full), or NULL within 5 s of real
 * time while the main loop turns. */
static char *
recv_text (Px *t)
{
  sf_test_peer_wait (t->peer);
  char buf[8192];
  gssize n = g_socket_receive (t->peer, buf, sizeof buf - 1, NULL, NULL);
  if (n <= 12)
    return NULL;
  return g_strndup (buf, (gsize) n);
}

/* Nothing more was sent: the main loop is run dry first (bounded). */
static gboolean
nothing_sent (Px *t)
{
  return sf_test_peer_quiet (t->peer);
}

/* The next datagram that starts with @start ("SIP/2.0 180", "CANCEL "), others
 * skipped (at most 8); transfer full, NULL when none came. */
static char *
expect (Px *t, const char *start)
{
  for (int i = 0; i < 8; i++) {
    g_autofree char *m = recv_text (t);
    if (m == NULL)
      return NULL;
    if (g_str_has_prefix (m, start))
      return g_steal_pointer (&m);
  }
  return NULL;
}

/* A response @status to the request @req as the called party: its Via lines,
 * From, To (with a tag), Call-ID and CSeq (8.2.6). */
static char *
respond (const char *req, guint status, const char *reason)
{
  GString *r = g_string_new (NULL);
  g_string_append_printf (r, "SIP/2.0 %u %s\r\n", status, reason);
  g_auto (GStrv) lines = g_strsplit (req, "\r\n", -1);
  for (char **l = lines; *l != NULL && **l != '\0'; l++) {
    if (g_str_has_prefix (*l, "Via:") || g_str_has_prefix (*l, "From:") || g_str_has_prefix (*l, "Call-ID:") ||
        g_str_has_prefix (*l, "CSeq:"))
      g_string_append_printf (r, "%s\r\n", *l);
    else if (g_str_has_prefix (*l, "To:"))
      g_string_append_printf (r, "%s%s\r\n", *l, strstr (*l, "tag=") == NULL ? ";tag=callee1" : "");
  }
  g_string_append (r, "Content-Length: 0\r\n\r\n");
  return g_string_free (r, FALSE);
}

static void
send_invite (Px *t, const char *branch)
{
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:caller@example.net>;tag=c1\r\nTo: <sip:callee@example.org>\r\nCall-ID: px-%s@test\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    t->port, t->port, branch, branch, t->port);
  send_text (t, inv);
}

static SfSipMsg *
msg (const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return sf_sip_msg_parse (b, NULL);
}

static void
rank_and_final_response (void)
{
  CU_ASSERT_TRUE (sf_proxy_rank (603) < sf_proxy_rank (302));
  CU_ASSERT_TRUE (sf_proxy_rank (302) < sf_proxy_rank (407));
  CU_ASSERT_TRUE (sf_proxy_rank (401) < sf_proxy_rank (486));
  CU_ASSERT_TRUE (sf_proxy_rank (484) < sf_proxy_rank (404));
  CU_ASSERT_TRUE (sf_proxy_rank (486) < sf_proxy_rank (500));
  CU_ASSERT_EQUAL (sf_proxy_rank (486), sf_proxy_rank (480)); /* equals: the first received */
#define BASE "SIP/2.0 %u %s\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\n" \
             "To: <sip:b@y>;tag=2\r\nCall-ID: c@x\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"
  g_autofree char *t503 = g_strdup_printf (BASE, 503, "Service Unavailable", "Retry-After: 5\r\n");
  g_autoptr (SfSipMsg) m503 = msg (t503);
  g_autoptr (SfSipMsg) f503 = sf_proxy_final_response (m503, NULL);
  CU_ASSERT_EQUAL (sf_sip_msg_status (f503), 500);
  CU_ASSERT_PTR_NOT_NULL (sf_sip_msg_find (f503, SF_SIP_HDR_RETRY_AFTER));
  g_autofree char *t486 = g_strdup_printf (BASE, 486, "Busy Here", "");
  g_autoptr (SfSipMsg) m486 = msg (t486);
  g_autoptr (SfSipMsg) f486 = sf_proxy_final_response (m486, NULL);
  CU_ASSERT_PTR_EQUAL (f486, m486); /* as it came */
  g_autofree char *t407 = g_strdup_printf (BASE, 407, "Proxy Authentication Required",
                                           "Proxy-Authenticate: Digest realm=\"a.test\", nonce=\"1\"\r\n");
  g_autoptr (SfSipMsg) m407 = msg (t407);
  g_autoptr (GPtrArray) ch = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (ch, g_strdup ("Proxy-Authenticate: Digest realm=\"a.test\", nonce=\"1\""));
  g_ptr_array_add (ch, g_strdup ("WWW-Authenticate: Digest realm=\"b.test\", nonce=\"2\""));
  g_autoptr (SfSipMsg) f407 = sf_proxy_final_response (m407, ch);
  CU_ASSERT_EQUAL (sf_sip_msg_status (f407), 407);
  SfSipValues *pa = sf_sip_msg_values (f407, SF_SIP_HDR_PROXY_AUTHENTICATE, NULL);
  SfSipValues *wa = sf_sip_msg_values (f407, SF_SIP_HDR_WWW_AUTHENTICATE, NULL);
  CU_ASSERT_TRUE (pa != NULL && pa->len == 1); /* its own, not twice */
  CU_ASSERT_TRUE (wa != NULL && wa->len == 1);
  CU_ASSERT_EQUAL (ch->len, 2);
}

/* sf_proxy_in_flow: a caller that looks NATed (its Via names another address
 * than the one it sends from) gets a flow token in our Record-Route; the same
 * request Record-Routed upstream (another node of a cluster, whose
 * connections may leave from another address) gets none: requests toward the
 * caller go to that element, and the token would take the callee's place. */
static void
in_flow_upstream_rr (void)
{
  Px *t = px_setup (NULL);
  for (int upstream = 0; upstream <= 1; upstream++) {
    g_autofree char *inv = g_strdup_printf (
      "INVITE sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKinflow%d;rport\r\n"
      "%sMax-Forwards: 70\r\nFrom: <sip:caller@example.net>;tag=c1\r\nTo: <sip:callee@example.org>\r\n"
      "Call-ID: inflow-%d@test\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.9:5060>\r\nContent-Length: 0\r\n\r\n",
      t->port, upstream, upstream ? "Record-Route: <sip:127.0.0.9;lr>\r\n" : "", upstream);
    send_text (t, inv);
    g_autofree char *out = expect (t, "INVITE ");
    CU_ASSERT_PTR_NOT_NULL_FATAL (out);
    const char *rr = strstr (out, "\r\nRecord-Route: ");
    CU_ASSERT_PTR_NOT_NULL_FATAL (rr);
    g_autofree char *ours = g_strndup (rr + 2, strcspn (rr + 2, "\r"));
    CU_ASSERT_TRUE (strstr (ours, "127.0.0.9") == NULL); /* ours comes first */
    CU_ASSERT_EQUAL (strstr (ours, ";sff=r") != NULL, !upstream);
  }
  px_free (t);
}

static void
branch_hash (void)
{
#define REQ "OPTIONS sip:x@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n" \
            "Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:x@example.org>\r\nCall-ID: c@x\r\n" \
            "CSeq: 1 OPTIONS\r\n%sContent-Length: 0\r\n\r\n"
  g_autofree char *t1 = g_strdup_printf (REQ, "");
  g_autofree char *t2 = g_strdup_printf (REQ, "Route: <sip:192.0.2.9;lr>\r\n");
  g_autoptr (SfSipMsg) m1 = msg (t1);
  g_autoptr (SfSipMsg) m2 = msg (t2);
  g_autofree char *b1 = sf_proxy_branch (NULL, m1);
  g_autofree char *b1again = sf_proxy_branch (NULL, m1);
  g_autofree char *b2 = sf_proxy_branch (NULL, m2);
  CU_ASSERT_TRUE (g_str_has_prefix (b1, "z9hG4bKsfp"));
  CU_ASSERT_EQUAL (strlen (b1), strlen ("z9hG4bKsfp") + 16 + 1 + 8 + 8);
  CU_ASSERT_EQUAL (strncmp (b1, b1again, strlen ("z9hG4bKsfp") + 16), 0); /* the hash part repeats */
  CU_ASSERT_STRING_NOT_EQUAL (b1, b1again);                               /* the rest does not */
  CU_ASSERT_NOT_EQUAL (strncmp (b1, b2, strlen ("z9hG4bKsfp") + 16), 0);  /* another Route set: a spiral */
  /* the documented hash: SipHash-2-4 under the key "sipflow-hash-key" of
   * "RURI|FROMTAG|TOTAG|CALLID|CSEQ|", written out by key words here */
  static const guint64 key[2] = { 0x2d776f6c66706973ULL, 0x79656b2d68736168ULL };
  const char *in1 = "sip:x@example.org|1||c@x|1|";
  g_autofree char *sum = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", sf_siphash24 (key, (const guint8 *) in1, strlen (in1)));
  CU_ASSERT_EQUAL (strncmp (b1 + strlen ("z9hG4bKsfp"), sum, 16), 0);
  /* a reference vector of SipHash-2-4 itself (key 00..0f, message 00..0e) */
  guint64 k[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
  guint8 m[15];
  for (guint i = 0; i < sizeof m; i++)
    m[i] = (guint8) i;
  CU_ASSERT_EQUAL (sf_siphash24 (k, m, sizeof m), G_GUINT64_CONSTANT (0xa129ca6149be45e5));
  /* "|ROUTE" for each Route (none is ours without a context), also one
   * longer than the inline buffer the bytes are gathered in (sf-proxy.c Feed) */
  const char *in2 = "sip:x@example.org|1||c@x|1||<sip:192.0.2.9;lr>";
  g_autofree char *sum2 = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", sf_siphash24 (key, (const guint8 *) in2, strlen (in2)));
  CU_ASSERT_EQUAL (strncmp (b2 + strlen ("z9hG4bKsfp"), sum2, 16), 0);
  g_autofree char *longuser = g_strnfill (600, 'u');
  g_autofree char *route = g_strdup_printf ("Route: <sip:%s@192.0.2.9;lr>\r\n", longuser);
  g_autofree char *t3 = g_strdup_printf (REQ, route);
  g_autoptr (SfSipMsg) m3 = msg (t3);
  g_autofree char *b3 = sf_proxy_branch (NULL, m3);
  g_autofree char *in3 = g_strdup_printf ("sip:x@example.org|1||c@x|1||<sip:%s@192.0.2.9;lr>", longuser);
  g_autofree char *sum3 = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", sf_siphash24 (key, (const guint8 *) in3, strlen (in3)));
  CU_ASSERT_EQUAL (strncmp (b3 + strlen ("z9hG4bKsfp"), sum3, 16), 0);
}

/* A Record-Route token is two SipHash-2-4, each under its own key, of
 * "CALLID\nTAG\nuser@host\nuser@host:port" (sf-proxy.h), the user unescaped,
 * the host lowercase, the port the default when absent; written out here,
 * also with a user part longer than the buffer the token's bytes are gathered
 * in.  An earlier build's token of the same bytes (the first 32 hex digits of
 * HMAC-SHA-256 under rr_key, made here with GLib's own HMAC) still checks, for
 * the From's side and for the To's; a digit changed in either half of a
 * token, or either kind made for another dialog, does not. */
static void
token_mac (void)
{
  SfProxyConfig c = { 0 };
  for (guint i = 0; i < sizeof c.rr_key; i++)
    c.rr_key[i] = (guint8) (i * 7 + 1);
  c.rr_hmac = g_hmac_new (G_CHECKSUM_SHA256, c.rr_key, sizeof c.rr_key);
  c.rr_mac_keys[0][0] = 0x0123456789abcdefULL;
  c.rr_mac_keys[0][1] = 0xfedcba9876543210ULL;
  c.rr_mac_keys[1][0] = 0x1111222233334444ULL;
  c.rr_mac_keys[1][1] = 0x5555666677778888ULL;
  g_autofree char *longuser = g_strnfill (600, 'u');
  g_autofree char *longuri = g_strdup_printf ("sip:%s@Host.example", longuser);
  struct { const char *aor, *target, *want; } cases[] = {
    { "sip:alice@Example.COM", "sip:b%6Fb@192.0.2.7:5070;transport=udp", "alice@example.com\nbob@192.0.2.7:5070" },
    { "sips:alice@example.com", "sips:carol@Host.example", "alice@example.com\ncarol@host.example:5061" },
    { "sip:example.com", "sip:192.0.2.8", "@example.com\n@192.0.2.8:5060" },
    { "sip:alice@example.com", longuri, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (SfSipUri) aor = sf_sip_uri_parse (sf_sip_str (cases[i].aor, strlen (cases[i].aor)), NULL, NULL);
    g_autoptr (SfSipUri) target = sf_sip_uri_parse (sf_sip_str (cases[i].target, strlen (cases[i].target)), NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL (aor);
    CU_ASSERT_PTR_NOT_NULL_FATAL (target);
    g_autofree char *longwant = g_strdup_printf ("alice@example.com\n%s@host.example:5060", longuser);
    g_autofree char *data = g_strconcat ("call-1@x\ntag-9\n", cases[i].want != NULL ? cases[i].want : longwant, NULL);
    g_autofree char *mac = g_strdup_printf ("%016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x",
                                            sf_siphash24 (c.rr_mac_keys[0], (const guint8 *) data, strlen (data)),
                                            sf_siphash24 (c.rr_mac_keys[1], (const guint8 *) data, strlen (data)));
    g_autofree char *token = sf_proxy_token (&c, sf_sip_str ("call-1@x", 8), sf_sip_str ("tag-9", 5), aor, target);
    CU_ASSERT_STRING_EQUAL (token, mac);
  }
  /* checking, as a request in the dialog brings it: from the caller (its
   * From) and from the callee (the caller in its To) */
  const char *callee = "sip:b%6Fb@192.0.2.7:5070;transport=udp";
  g_autoptr (SfSipUri) target = sf_sip_uri_parse (sf_sip_str (callee, strlen (callee)), NULL, NULL);
  const char *data = "call-1@x\ntag-9\nalice@example.com\nbob@192.0.2.7:5070";
  g_autofree char *legacy = g_compute_hmac_for_string (G_CHECKSUM_SHA256, c.rr_key, sizeof c.rr_key, data, -1);
  legacy[32] = '\0';
  g_autoptr (SfSipUri) aor = sf_sip_uri_parse (sf_sip_str ("sip:alice@Example.COM", 21), NULL, NULL);
  g_autofree char *fresh = sf_proxy_token (&c, sf_sip_str ("call-1@x", 8), sf_sip_str ("tag-9", 5), aor, target);
  g_autoptr (SfSipMsg) bycaller = msg ("BYE sip:bob@192.0.2.7:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt1\r\n"
                                       "Max-Forwards: 70\r\nFrom: <sip:alice@Example.COM>;tag=tag-9\r\n"
                                       "To: <sip:bob@example.org>;tag=b1\r\nCall-ID: call-1@x\r\nCSeq: 2 BYE\r\n"
                                       "Content-Length: 0\r\n\r\n");
  g_autoptr (SfSipMsg) bycallee = msg ("BYE sip:bob@192.0.2.7:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt2\r\n"
                                       "Max-Forwards: 70\r\nFrom: <sip:bob@example.org>;tag=b1\r\n"
                                       "To: <sip:alice@Example.COM>;tag=tag-9\r\nCall-ID: call-1@x\r\nCSeq: 1 BYE\r\n"
                                       "Content-Length: 0\r\n\r\n");
  g_autoptr (SfSipMsg) other = msg ("BYE sip:bob@192.0.2.7:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt3\r\n"
                                    "Max-Forwards: 70\r\nFrom: <sip:alice@Example.COM>;tag=tag-9\r\n"
                                    "To: <sip:bob@example.org>;tag=b1\r\nCall-ID: call-2@x\r\nCSeq: 2 BYE\r\n"
                                    "Content-Length: 0\r\n\r\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL (bycaller);
  CU_ASSERT_PTR_NOT_NULL_FATAL (bycallee);
  CU_ASSERT_PTR_NOT_NULL_FATAL (other);
  const char *tokens[] = { fresh, legacy };
  for (guint k = 0; k < G_N_ELEMENTS (tokens); k++) {
    SfSipStr tok = sf_sip_str (tokens[k], 32);
    CU_ASSERT_TRUE (sf_proxy_token_matches (&c, bycaller, target, tok));
    CU_ASSERT_TRUE (sf_proxy_token_matches (&c, bycallee, target, tok));
    CU_ASSERT_FALSE (sf_proxy_token_matches (&c, other, target, tok)); /* another Call-ID */
    CU_ASSERT_FALSE (sf_proxy_token_matches (&c, bycaller, aor, tok)); /* another remote target */
    for (guint at = 0; at < 32; at += 31) { /* a digit of the first half, of the second */
      g_autofree char *bad = g_strdup (tokens[k]);
      bad[at] = bad[at] == '0' ? '1' : '0';
      CU_ASSERT_FALSE (sf_proxy_token_matches (&c, bycaller, target, sf_sip_str (bad, 32)));
      CU_ASSERT_FALSE (sf_proxy_token_matches (&c, bycallee, target, sf_sip_str (bad, 32)));
    }
    CU_ASSERT_FALSE (sf_proxy_token_matches (&c, bycaller, target, sf_sip_str (tokens[k], 31)));
  }
  g_hmac_unref (c.rr_hmac);
}

/* A response that finds no transaction is forwarded only with a branch of
 * ours (its MAC checks), also the branch of a request that failed over to
 * another target (RFC 3263 4.3: ours with ".fN" appended, sf-txn-send.c). */
static void
branch_ours_failover (void)
{
  Px *t = px_setup (NULL);
  SfProxyConfig *c = sf_module_state (t->env->ep, &sf_proxy_module);
  CU_ASSERT_PTR_NOT_NULL_FATAL (c);
  send_invite (t, "z9hG4bKbo1");
  g_autofree char *fwd = expect (t, "INVITE ");
  CU_ASSERT_PTR_NOT_NULL_FATAL (fwd);
  const char *b = strstr (fwd, ";branch=z9hG4bKsfp");
  CU_ASSERT_PTR_NOT_NULL_FATAL (b);
  b += strlen (";branch=");
  g_autofree char *branch = g_strndup (b, strcspn (b, ";\r"));
  CU_ASSERT_TRUE (sf_proxy_branch_is_ours (c, sf_sip_str (branch, strlen (branch))));
  static const char *const good[] = { ".f1", ".f2", ".f16", NULL };
  static const char *const bad[] = { ".f", ".f1x", ".g1", ".f1.f1", "x", ".f123", ".f01", NULL };
  for (const char *const *g = good; *g != NULL; g++) {
    g_autofree char *x = g_strconcat (branch, *g, NULL);
    CU_ASSERT_TRUE (sf_proxy_branch_is_ours (c, sf_sip_str (x, strlen (x))));
  }
  for (const char *const *g = bad; *g != NULL; g++) {
    g_autofree char *x = g_strconcat (branch, *g, NULL);
    CU_ASSERT_FALSE (sf_proxy_branch_is_ours (c, sf_sip_str (x, strlen (x))));
  }
  branch[strlen (branch) - 1] = branch[strlen (branch) - 1] == '0' ? '1' : '0'; /* the MAC broken */
  g_autofree char *forged = g_strconcat (branch, ".f1", NULL);
  CU_ASSERT_FALSE (sf_proxy_branch_is_ours (c, sf_sip_str (forged, strlen (forged))));
  px_free (t);
}

static void
timer_c (void)
{
  Px *t = px_setup (NULL);
  send_invite (t, "z9hG4bKtc1");
  g_autofree char *fwd = expect (t, "INVITE ");
  CU_ASSERT_PTR_NOT_NULL_FATAL (fwd);
  CU_ASSERT_PTR_NOT_NULL (strstr (fwd, "Record-Route: <sip:127.0.0.1:"));
  CU_ASSERT_PTR_NOT_NULL (strstr (fwd, "Max-Forwards: 69"));
  CU_ASSERT_PTR_NOT_NULL (strstr (fwd, ";branch=z9hG4bKsfp"));
  g_autofree char *ringing = respond (fwd, 180, "Ringing");
  send_text (t, ringing);
  g_autofree char *up180 = expect (t, "SIP/2.0 180");
  CU_ASSERT_PTR_NOT_NULL_FATAL (up180);
  CU_ASSERT_PTR_NULL (strstr (up180, "z9hG4bKsfp")); /* our Via popped (16.7 step 9) */
  CU_ASSERT_PTR_NOT_NULL (strstr (up180, "branch=z9hG4bKtc1"));
  /* Timer C: 181 s after the 180, not before */
  sf_endpoint_advance (t->env->ep, 181000 - 1);
  CU_ASSERT_TRUE (nothing_sent (t));
  sf_endpoint_advance (t->env->ep, 1);
  g_autofree char *cancel = expect (t, "CANCEL ");
  CU_ASSERT_PTR_NOT_NULL_FATAL (cancel);
  g_autofree char *ok = respond (cancel, 200, "OK");
  g_autofree char *terminated = respond (fwd, 487, "Request Terminated");
  send_text (t, ok);
  send_text (t, terminated);
  g_autofree char *ack = expect (t, "ACK ");
  CU_ASSERT_PTR_NOT_NULL (ack); /* downstream, by the client transaction (17.1.1.3) */
  nothing_sent (t);
  /* upstream: the 487 (it may have come before the ACK) */
  gboolean up487 = FALSE;
  GPtrArray *lines = t->env->lines;
  for (guint i = 0; i < lines->len; i++)
    up487 |= strstr (lines->pdata[i], "\"event\":\"proxy_final\"") != NULL && strstr (lines->pdata[i], "\"status\":487") != NULL;
  CU_ASSERT_TRUE (up487);
  /* the caller ACKs the 487; after 64*T1 every instance has ended */
  g_autofree char *uack = g_strdup_printf ("ACK sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKtc1\r\n"
                                           "Max-Forwards: 70\r\nFrom: <sip:caller@example.net>;tag=c1\r\n"
                                           "To: <sip:callee@example.org>;tag=callee1\r\nCall-ID: px-z9hG4bKtc1@test\r\n"
                                           "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", t->port, t->port);
  send_text (t, uack);
  nothing_sent (t);
  sf_endpoint_advance (t->env->ep, 64 * 500);
  nothing_sent (t);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  px_free (t);
}

static void
accepted_compact (void)
{
  Px *t = px_setup (NULL);
  send_invite (t, "z9hG4bKac1");
  g_autofree char *fwd = expect (t, "INVITE ");
  g_autoptr (SfSipMsg) fm = fwd != NULL ? msg (fwd) : NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL (fm);
  SfInstance *ict = sf_stack_client_txn (t->stack, NULL, fm);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ict);
  SfTxnInstance *ti = sf_txn_inst_peek_of (t->env->ep, ict);
  CU_ASSERT_FATAL (ti != NULL && ti->client != NULL);
  /* before the 2xx: the message the branch built, in its full block (a
   * compact copy of it is another message) */
  g_autoptr (SfSipMsg) c0 = sf_sip_msg_compact (ti->client->req);
  CU_ASSERT_PTR_NOT_EQUAL (c0, ti->client->req);
  g_autofree char *ok = respond (fwd, 200, "OK");
  send_text (t, ok);
  g_autofree char *up = expect (t, "SIP/2.0 200");
  CU_ASSERT_PTR_NOT_NULL_FATAL (up);
  CU_ASSERT_PTR_NOT_NULL (strstr (up, "branch=z9hG4bKac1"));
  /* Accepted: the request kept is a compact copy (compacting it again gives it back) */
  ti = sf_txn_inst_peek_of (t->env->ep, ict);
  CU_ASSERT_FATAL (ti != NULL && ti->client != NULL);
  g_autoptr (SfSipMsg) c1 = sf_sip_msg_compact (ti->client->req);
  CU_ASSERT_PTR_EQUAL (c1, ti->client->req);
  g_autoptr (GBytes) b0 = sf_sip_msg_serialize (fm);
  g_autoptr (GBytes) b1 = sf_sip_msg_serialize (ti->client->req);
  CU_ASSERT_TRUE (g_bytes_equal (b0, b1));
  /* the callee's 2xx again (RFC 6026): upstream again */
  send_text (t, ok);
  g_autofree char *again = expect (t, "SIP/2.0 200");
  CU_ASSERT_PTR_NOT_NULL (again);
  nothing_sent (t);
  sf_endpoint_advance (t->env->ep, 64 * 500);
  nothing_sent (t);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  px_free (t);
}

static void
timer_c_silent (void)
{
  const char *const sets[] = { "proxy.timer_c=10", NULL };
  Px *t = px_setup (sets);
  send_invite (t, "z9hG4bKtc2");
  g_autofree char *fwd = expect (t, "INVITE ");
  CU_ASSERT_PTR_NOT_NULL_FATAL (fwd);
  /* no answer at all: Timer A retransmits; at 10 s Timer C makes the 408 (16.8) */
  for (int ms = 0; ms < 9500; ms += 500) {
    sf_endpoint_advance (t->env->ep, 500);
    nothing_sent (t);
    while (g_socket_condition_check (t->peer, G_IO_IN))
      g_free (recv_text (t)); /* the INVITE again */
  }
  gboolean before = FALSE;
  for (guint i = 0; i < t->env->lines->len; i++)
    before |= strstr (t->env->lines->pdata[i], "\"event\":\"proxy_final\"") != NULL;
  CU_ASSERT_FALSE (before);
  sf_endpoint_advance (t->env->ep, 500);
  g_autofree char *r408 = expect (t, "SIP/2.0 408");
  CU_ASSERT_PTR_NOT_NULL (r408);
  /* Timer B (64*T1) ends the client transaction; Timer H the server one; all end */
  for (int i = 0; i < 80; i++) {
    sf_endpoint_advance (t->env->ep, 1000);
    nothing_sent (t);
    while (g_socket_condition_check (t->peer, G_IO_IN))
      g_free (recv_text (t));
  }
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  px_free (t);
}

/* The To tag of a response (transfer full), "" when none. */
static char *
to_tag (const char *resp)
{
  const char *to = resp != NULL ? strstr (resp, "\r\nTo:") : NULL;
  const char *tag = to != NULL ? strstr (to, ";tag=") : NULL;
  if (tag == NULL)
    return g_strdup ("");
  tag += strlen (";tag=");
  return g_strndup (tag, strcspn (tag, "\r\n;"));
}

/* A request that comes while the proxy quits gets 503 with Retry-After
 * (sip.shutdown_retry_after) from the stack, without a transaction or an
 * instance, the same To tag for a retransmission (8.2.7); the ACK for it is
 * absorbed, not forwarded; a request inside a dialog (a BYE) is still proxied;
 * the 503s are counted (shutdown_refused). */
static void
quitting (void)
{
  Px *t = px_setup (NULL);
  sf_endpoint_shutdown (t->env->ep);
  send_invite (t, "z9hG4bKq1");
  g_autofree char *r = expect (t, "SIP/2.0 503");
  CU_ASSERT_PTR_NOT_NULL (r);
  CU_ASSERT_TRUE (r != NULL && strstr (r, "Retry-After: 10\r\n") != NULL);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  g_autofree char *tag = to_tag (r);
  CU_ASSERT_TRUE (g_str_has_prefix (tag, "sfs"));
  send_invite (t, "z9hG4bKq1"); /* a retransmission: the same answer */
  g_autofree char *r2 = expect (t, "SIP/2.0 503");
  g_autofree char *tag2 = to_tag (r2);
  CU_ASSERT_STRING_EQUAL (tag, tag2);
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKq1\r\nMax-Forwards: 70\r\n"
    "From: <sip:caller@example.net>;tag=c1\r\nTo: <sip:callee@example.org>;tag=%s\r\nCall-ID: px-z9hG4bKq1@test\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
    t->port, t->port, tag);
  send_text (t, ack);
  CU_ASSERT_TRUE (nothing_sent (t)); /* the peer is the callee too: a forwarded ACK would come here */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  g_autofree char *bye = g_strdup_printf (
    "BYE sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKq2\r\nMax-Forwards: 70\r\n"
    "From: <sip:caller@example.net>;tag=c1\r\nTo: <sip:callee@example.org>;tag=callee1\r\nCall-ID: px-q2@test\r\n"
    "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    t->port, t->port);
  send_text (t, bye);
  g_autofree char *fwd = expect (t, "BYE ");
  CU_ASSERT_PTR_NOT_NULL (fwd);
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->shutdown_refused, 2);
  px_free (t);
}

/* RFC 5393 5.3.3: shares at least 1 each, summing to what is left; no more
 * branches than that; the header read as 1*DIGIT, 60 (the default) when absent. */
static void
max_breadth (void)
{
  guint sh[8] = { 0 };
  CU_ASSERT_EQUAL (sf_proxy_breadth_split (60, 7, sh), 7);
  guint sum = 0;
  for (int i = 0; i < 7; i++) {
    CU_ASSERT_TRUE (sh[i] == 8 || sh[i] == 9);
    sum += sh[i];
  }
  CU_ASSERT_EQUAL (sum, 60);
  memset (sh, 0, sizeof sh);
  CU_ASSERT_EQUAL (sf_proxy_breadth_split (3, 7, sh), 3); /* the other 4 wait for a share */
  CU_ASSERT_TRUE (sh[0] == 1 && sh[1] == 1 && sh[2] == 1 && sh[3] == 0);
  CU_ASSERT_EQUAL (sf_proxy_breadth_split (1, 1, sh), 1);
  CU_ASSERT_EQUAL (sh[0], 1);
  CU_ASSERT_EQUAL (sf_proxy_breadth_split (5, 1, sh), 1); /* one target: the whole breadth goes on */
  CU_ASSERT_EQUAL (sh[0], 5);
  CU_ASSERT_EQUAL (sf_proxy_breadth_split (0, 3, sh), 0); /* none fits: 440 when none is pending */
  CU_ASSERT_EQUAL (sf_proxy_breadth_split (G_MAXUINT, 2, sh), 2);
  CU_ASSERT_EQUAL ((guint64) sh[0] + sh[1], (guint64) G_MAXUINT);
#define BREADTH_REQ "OPTIONS sip:a@x SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\n" \
            "To: <sip:b@y>\r\nCall-ID: c@x\r\nCSeq: 1 OPTIONS\r\n%sContent-Length: 0\r\n\r\n"
  struct { const char *line; gboolean ok; guint value; } cases[] = {
    { "", TRUE, 60 }, { "Max-Breadth: 3\r\n", TRUE, 3 }, { "max-breadth:  7 \r\n", TRUE, 7 },
    { "Max-Breadth: 0\r\n", TRUE, 0 }, { "Max-Breadth: 99999999999999999999\r\n", TRUE, G_MAXUINT },
    { "Max-Breadth: three\r\n", FALSE, 0 }, { "Max-Breadth: -1\r\n", FALSE, 0 }, { "Max-Breadth: 3 4\r\n", FALSE, 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = g_strdup_printf (BREADTH_REQ, cases[i].line);
    g_autoptr (SfSipMsg) m = msg (text);
    CU_ASSERT_PTR_NOT_NULL_FATAL (m);
    guint v = 12345;
    CU_ASSERT_EQUAL (sf_proxy_max_breadth (m, 60, &v), cases[i].ok);
    if (cases[i].ok)
      CU_ASSERT_EQUAL (v, cases[i].value);
  }
#undef BREADTH_REQ
}

static void
nat_detect (void)
{
  /* the Via names the source: no NAT (a third party's Contact elsewhere is its business) */
  CU_ASSERT_FALSE (sf_nat_detect (FALSE, "192.0.2.1", 5060, TRUE, "192.0.2.1", 5060));
  CU_ASSERT_FALSE (sf_nat_detect (FALSE, "192.0.2.1", 0, TRUE, "192.0.2.1", 5060)); /* no port: 5060 */
  /* a private sent-by, a public source: the address was rewritten */
  CU_ASSERT_TRUE (sf_nat_detect (FALSE, "10.0.0.7", 5060, FALSE, "198.51.100.9", 40000));
  CU_ASSERT_TRUE (sf_nat_detect (TRUE, "10.0.0.7", 5060, FALSE, "198.51.100.9", 40000));
  /* the port alone moved: a NAT when rport says the UA listens where it sends from */
  CU_ASSERT_TRUE (sf_nat_detect (FALSE, "127.0.0.1", 5062, TRUE, "127.0.0.1", 31000));
  CU_ASSERT_FALSE (sf_nat_detect (FALSE, "127.0.0.1", 5062, FALSE, "127.0.0.1", 31000));
  /* over TCP the source port is the connection's */
  CU_ASSERT_FALSE (sf_nat_detect (TRUE, "127.0.0.1", 5062, TRUE, "127.0.0.1", 31000));
  /* a name cannot be compared: not taken for a NAT */
  CU_ASSERT_FALSE (sf_nat_detect (FALSE, "phone.example.com", 5060, TRUE, "192.0.2.1", 5060));
  /* IPv6, bracketed or not, compared as addresses */
  CU_ASSERT_FALSE (sf_nat_detect (FALSE, "[2001:db8::1]", 5060, TRUE, "2001:db8:0::1", 5060));
  CU_ASSERT_TRUE (sf_nat_detect (FALSE, "[fd00::1]", 5060, TRUE, "2001:db8::1", 5060));
  CU_ASSERT_FALSE (sf_nat_detect (FALSE, "10.0.0.7", 5060, TRUE, NULL, 0));
  g_autofree char *flow = sf_nat_flow ("udp", "198.51.100.9:40000");
  CU_ASSERT_STRING_EQUAL (flow, "udp:198.51.100.9:40000");
  SfNatMode m = SF_NAT_OFF;
  CU_ASSERT_TRUE (sf_nat_mode_parse ("always", &m) && m == SF_NAT_ALWAYS);
  CU_ASSERT_TRUE (sf_nat_mode_parse ("auto", &m) && m == SF_NAT_AUTO);
  CU_ASSERT_FALSE (sf_nat_mode_parse ("sometimes", &m));
}

static void
nat_next_hop (void)
{
  const char *contact = "sip:alice@10.0.0.7:5060", *src = "198.51.100.9:40000", *flow = "udp:198.51.100.9:40000";
  struct {
    SfNatMode mode;
    const char *contact, *source, *transport, *flow, *path, *want;
  } cases[] = {
    { SF_NAT_AUTO, contact, src, "udp", flow, NULL, "sip:198.51.100.9:40000;transport=udp" },
    { SF_NAT_AUTO, contact, src, "udp", NULL, NULL, NULL },   /* not behind NAT: its Contact */
    { SF_NAT_OFF, contact, src, "udp", flow, NULL, NULL },
    { SF_NAT_ALWAYS, contact, src, "udp", NULL, NULL, "sip:198.51.100.9:40000;transport=udp" },
    { SF_NAT_ALWAYS, contact, src, "tcp", NULL, NULL, "sip:198.51.100.9:40000;transport=tcp" },
    { SF_NAT_ALWAYS, contact, NULL, "udp", NULL, NULL, NULL }, /* no source recorded (an old binding) */
    { SF_NAT_AUTO, contact, src, "udp", flow, "<sip:edge.example.com;lr>", NULL }, /* Path takes it */
    /* the Contact already is the source */
    { SF_NAT_ALWAYS, "sip:alice@198.51.100.9:40000", src, "udp", NULL, NULL, NULL },
    { SF_NAT_ALWAYS, "sip:alice@198.51.100.9:40000;transport=tcp", src, "udp", NULL, NULL,
      "sip:198.51.100.9:40000;transport=udp" },
    { SF_NAT_ALWAYS, "sip:alice@192.0.2.5", "192.0.2.5:5060", "udp", NULL, NULL, NULL },
    { SF_NAT_AUTO, "sip:alice@[fd00::7]:5060", "[2001:db8::9]:41000", "udp", "udp:[2001:db8::9]:41000", NULL,
      "sip:[2001:db8::9]:41000;transport=udp" },
    { SF_NAT_ALWAYS, contact, "not an address", "udp", NULL, NULL, NULL },
    { SF_NAT_ALWAYS, contact, src, "sctp", NULL, NULL, NULL },
    /* a WebSocket binding goes over its connection whatever the mode (its Contact is .invalid) */
    { SF_NAT_OFF, "sip:k3@df7jal23.invalid;transport=ws", src, "wss", NULL, NULL, "sip:198.51.100.9:40000;transport=wss" },
    { SF_NAT_AUTO, "sip:k3@df7jal23.invalid;transport=ws", src, "ws", NULL, NULL, "sip:198.51.100.9:40000;transport=ws" },
    { SF_NAT_AUTO, "sip:k3@df7jal23.invalid;transport=ws", src, "ws", NULL, "<sip:edge.example.com;lr>", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *hop = sf_nat_next_hop (cases[i].mode, cases[i].contact, cases[i].source, cases[i].transport,
                                            cases[i].flow, cases[i].path);
    if (g_strcmp0 (hop, cases[i].want) != 0)
      g_printerr ("\n  case %u: got %s, wanted %s\n", i, hop != NULL ? hop : "(null)", cases[i].want != NULL ? cases[i].want : "(null)");
    CU_ASSERT_STRING_EQUAL (hop != NULL ? hop : "(null)", cases[i].want != NULL ? cases[i].want : "(null)");
  }
}

void
sf_test_register_proxy (void)
{
  CU_pSuite s = CU_add_suite ("proxy", NULL, NULL);
  SF_ADD_TEST (s, rank_and_final_response);
  SF_ADD_TEST (s, branch_hash);
  SF_ADD_TEST (s, token_mac);
  SF_ADD_TEST (s, branch_ours_failover);
  SF_ADD_TEST (s, timer_c);
  SF_ADD_TEST (s, timer_c_silent);
  SF_ADD_TEST (s, accepted_compact);
  SF_ADD_TEST (s, quitting);
  SF_ADD_TEST (s, max_breadth);
  SF_ADD_TEST (s, nat_detect);
  SF_ADD_TEST (s, nat_next_hop);
  SF_ADD_TEST (s, in_flow_upstream_rr);
}
