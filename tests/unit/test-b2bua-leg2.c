/* test-b2bua-leg2.c: the B leg's behaviour toward the callee, and what A gets
 * of it (docs/b2bua.md, docs/ua.md "Leg mode"): xml/b2bua.xml between two UDP
 * peers on loopback, A (the caller) and B (the callee), on the fake clock.
 *  - leg2_redirect: B answers 302 with a Contact: the B leg follows no
 *    redirect (no INVITE reaches the Contact), the 302 is ACKed by the
 *    transaction layer (RFC 3261 17.1.1.3), A gets 480 (the status map's 3xx
 *    row); bridge_end says 302 and 480; zero instances
 *  - leg2_refused_at_once: B answers 486 with no 1xx first: bridge_end's
 *    b_call_id is the Call-ID B got (the leg's call_end note carries its INVITE)
 *  - leg2_fork: B's INVITE forks and a second 200 comes with another To tag
 *    (RFC 3261 13.2.2.4): it gets its own ACK and a BYE in its own dialog, A
 *    gets one 200 only and nothing else; the call goes on and ends cleanly
 *  - leg2_reliable_183_changed: A supports 100rel, B's 183 SDP goes to A
 *    reliably (A's answer for good, RFC 3261 13.2.1, RFC 3262 5); B's 200 has
 *    other media: A's 200 repeats the 183's SDP, and once A's ACK came A gets
 *    B's SDP as an offer (RFC 3264 8: o= version one more), by UPDATE when A's
 *    INVITE allows it, else by re-INVITE; B gets nothing of it; the next offer
 *    (A's re-INVITE) crosses to B as usual; B's 200 before A's PRACK: A's 200
 *    waits for the PRACK (RFC 3262 3), the offer for its ACK
 *  - leg2_183_no_reoffer: an unreliable 183 (A without 100rel): A's 200 carries
 *    B's 2xx SDP, no offer follows; a reliable 183 whose SDP B's 200 repeats
 *    (o= aside): no offer follows either
 *  - leg2_late_offer: A's INVITE without SDP (a delayed offer): B's INVITE has
 *    none; B's 183 SDP reaches A without it; B's 200 has the offer: A's 200
 *    carries it (B's c= and m=, our o=), B gets no ACK, not even for its 200
 *    again; A's ACK with the answer: B's ACK carries it (RFC 3261 13.2.1), and
 *    the same ACK answers B's 200 again; an offer-less re-INVITE of A's is
 *    answered by its leg with the SDP it sent last, nothing reaches B
 *  - leg2_late_offer_no_ack: A never ACKs, or ACKs without answer: B still gets
 *    its ACK (without body) and then a BYE, A a BYE; zero instances
 *  - leg2_late_offer_none: B's 200 has no offer either: ACK and BYE to B, 500
 *    to A */
#include "config.h"
#include "sf-test-b2b.h"
#include "operators/b2bua/sf-b2bua.h"
#include "operators/sf-modules.h"
#include <string.h>

static const char *
body_of (const char *msg)
{
  const char *p = msg != NULL ? strstr (msg, "\r\n\r\n") : NULL;
  return p != NULL ? p + 4 : "";
}

/* The URI inside a Contact value "<uri>" (transfer full). */
static char *
contact_uri (const char *msg)
{
  g_autofree char *c = sf_test_header (msg, "Contact");
  const char *lt = c != NULL ? strchr (c, '<') : NULL;
  return lt != NULL ? g_strndup (lt + 1, strcspn (lt + 1, ">")) : g_strdup ("sip:b2b@127.0.0.1");
}

/* The o= version of the SDP in @msg, 0 when none. */
static guint64
o_version (const char *msg)
{
  const char *o = strstr (body_of (msg), "o=");
  if (o == NULL)
    return 0;
  g_auto (GStrv) f = g_strsplit_set (o, " \r", 5);
  return g_strv_length (f) >= 3 ? g_ascii_strtoull (f[2], NULL, 10) : 0;
}

#define A_SDP "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
#define B_SDP "v=0\r\no=bob 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 42000 RTP/AVP 0\r\n"
/* B's 2xx answer with other media: another port and codec */
#define B_SDP2 "v=0\r\no=bob 7 8 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 43000 RTP/AVP 8\r\n"
/* B's 2xx answer with the 183's media, only its o= version moved */
#define B_SDP_SAME "v=0\r\no=bob 7 9 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 42000 RTP/AVP 0\r\n"

/* A's INVITE with @extra header lines. */
static void
a_invite (SfTestB2b *x, const char *extra)
{
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-l2a\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: <sip:b2b@127.0.0.1>\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:%u>\r\n%sContent-Type: application/sdp\r\n"
    "Content-Length: %zu\r\n\r\n%s",
    x->t->port, x->t->port, extra != NULL ? extra : "", strlen (A_SDP), A_SDP);
  sf_test_send (x->t->peer, x->t->to, inv);
}

/* A's request @method (CSeq @n) in its dialog with the response @resp (its
 * To tag and Contact), with @extra lines and an optional SDP. */
static void
a_request (SfTestB2b *x, const char *resp, const char *method, guint n, const char *extra, const char *sdp)
{
  g_autofree char *to = sf_test_header (resp, "To");
  g_autofree char *ruri = contact_uri (resp);
  g_autofree char *m = g_strdup_printf (
    "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-l2%s%u\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\nCSeq: %u %s\r\n"
    "Contact: <sip:alice@127.0.0.1:%u>\r\n%s%sContent-Length: %zu\r\n\r\n%s",
    method, ruri, x->t->port, method, n, to, n, method, x->t->port, extra != NULL ? extra : "",
    sdp != NULL ? "Content-Type: application/sdp\r\n" : "", sdp != NULL ? strlen (sdp) : 0, sdp != NULL ? sdp : "");
  sf_test_send (x->t->peer, x->t->to, m);
}

/* A's ACK for a final response @resp (>= 300) to its INVITE (the same branch). */
static void
a_ack_failure (SfTestB2b *x, const char *resp)
{
  g_autofree char *to = sf_test_header (resp, "To");
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-l2a\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", x->t->port, to != NULL ? to : "");
  sf_test_send (x->t->peer, x->t->to, ack);
}

/* A response @status to request @req on @sock (to @to), tagged @tag when the
 * request's To has none, with @contact (a URI, nullable), @extra lines and an
 * optional SDP. */
static void
respond_on (GSocket *sock, GInetSocketAddress *to_addr, const char *req, guint status, const char *tag,
            const char *contact, const char *extra, const char *sdp)
{
  g_autofree char *via = sf_test_header (req, "Via"), *from = sf_test_header (req, "From"), *to = sf_test_header (req, "To");
  g_autofree char *cid = sf_test_header (req, "Call-ID"), *cseq = sf_test_header (req, "CSeq");
  g_autofree char *ct = contact != NULL ? g_strdup_printf ("Contact: <%s>\r\n", contact) : g_strdup ("");
  g_autofree char *tg = tag != NULL && strstr (to, ";tag=") == NULL ? g_strdup_printf (";tag=%s", tag) : g_strdup ("");
  g_autofree char *r = g_strdup_printf (
    "SIP/2.0 %u Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n%s%s%s"
    "Content-Length: %zu\r\n\r\n%s",
    status, via, from, to, tg, cid, cseq, ct, extra != NULL ? extra : "",
    sdp != NULL ? "Content-Type: application/sdp\r\n" : "", sdp != NULL ? strlen (sdp) : 0, sdp != NULL ? sdp : "");
  sf_test_send (sock, to_addr, r);
}

static void
b_respond (SfTestB2b *x, const char *req, guint status, const char *tag, const char *sdp)
{
  g_autofree char *contact = g_strdup_printf ("sip:%s@127.0.0.1:%u", tag != NULL ? tag : "bob", x->bport);
  respond_on (x->b, x->bto, req, status, tag, contact, NULL, sdp);
}

static void
a_respond (SfTestB2b *x, const char *req, guint status, const char *sdp)
{
  g_autofree char *contact = g_strdup_printf ("sip:alice@127.0.0.1:%u", x->t->port);
  respond_on (x->t->peer, x->t->to, req, status, NULL, contact, NULL, sdp);
}

/* A BYE from A after the 200 @ok; B gets one in its own dialog, answered; then
 * the clock runs out: zero instances. */
static void
a_hangs_up (SfTestB2b *x, const char *ok, guint cseq)
{
  a_request (x, ok, "BYE", cseq, NULL, NULL);
  g_autofree char *bok = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE (bok != NULL && g_str_has_prefix (bok, "SIP/2.0 200"));
  g_autofree char *bye = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE (bye != NULL && g_str_has_prefix (bye, "BYE "));
  if (bye != NULL)
    b_respond (x, bye, 200, NULL, NULL);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
}

static void
leg2_redirect (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  GInetSocketAddress *cto = NULL;
  guint cport = 0;
  GSocket *c = sf_test_peer_new (x->t->env, &cto, &cport); /* where B's 302 points */
  a_invite (x, NULL);
  g_autofree char *inv = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  g_autofree char *elsewhere = g_strdup_printf ("sip:carol@127.0.0.1:%u", cport);
  respond_on (x->b, x->bto, inv, 302, "bobtag", elsewhere, NULL, NULL);
  /* the transaction layer's ACK for the 302 (17.1.1.3: same branch) */
  g_autofree char *ack = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK sip:bob@127.0.0.1"));
  g_autofree char *iv = sf_test_header (inv, "Via"), *av = sf_test_header (ack, "Via");
  CU_ASSERT_STRING_EQUAL (av != NULL ? av : "", iv);
  g_autofree char *resp = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (resp != NULL && g_str_has_prefix (resp, "SIP/2.0 480"));
  CU_ASSERT_PTR_NULL (strstr (resp, "carol")); /* B's Contact never crosses */
  a_ack_failure (x, resp);
  CU_ASSERT_TRUE (sf_test_peer_quiet (c)); /* no INVITE to the Contact */
  sf_test_b2b_settle (x);
  CU_ASSERT_TRUE (sf_test_peer_quiet (c));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"redirect\"", NULL), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"b_status\":302", "\"a_status\":480", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_b2b_state ()->live, 0);
  g_object_unref (c);
  g_object_unref (cto);
  sf_test_b2b_free (x);
}

static void
leg2_refused_at_once (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  a_invite (x, NULL);
  g_autofree char *inv = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  b_respond (x, inv, 486, "bobtag", NULL); /* no 1xx first */
  g_autofree char *resp = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (resp != NULL && g_str_has_prefix (resp, "SIP/2.0 486"));
  a_ack_failure (x, resp);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  g_autofree char *bcid = sf_test_header (inv, "Call-ID");
  g_autofree char *bfield = g_strdup_printf ("\"b_call_id\":\"%s\"", bcid);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", bfield, "\"b_status\":486", NULL), 1);
  sf_test_b2b_free (x);
}

static void
leg2_fork (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  a_invite (x, NULL);
  g_autofree char *inv = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  b_respond (x, inv, 200, "bobtag", B_SDP);
  g_autofree char *ack = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK sip:bobtag@") && strstr (ack, "tag=bobtag") != NULL);
  g_autofree char *ok = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  a_request (x, ok, "ACK", 1, NULL, NULL);
  /* another fork answers too (13.2.2.4): its own ACK, then a BYE in its dialog */
  b_respond (x, inv, 200, "forktag", B_SDP2);
  g_autofree char *fack = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (fack != NULL && g_str_has_prefix (fack, "ACK sip:forktag@"));
  g_autofree char *fto = sf_test_header (fack, "To");
  CU_ASSERT_TRUE (fto != NULL && strstr (fto, "tag=forktag") != NULL);
  g_autofree char *fbye = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (fbye != NULL && g_str_has_prefix (fbye, "BYE sip:forktag@"));
  g_autofree char *bto = sf_test_header (fbye, "To"), *bcid = sf_test_header (fbye, "Call-ID"), *icid = sf_test_header (inv, "Call-ID");
  CU_ASSERT_TRUE (bto != NULL && strstr (bto, "tag=forktag") != NULL);
  CU_ASSERT_STRING_EQUAL (bcid, icid);
  b_respond (x, fbye, 200, NULL, NULL);
  /* A got one 200, and nothing of the fork */
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer));
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"fork_ended\"", NULL), 1);
  /* the first dialog goes on: A's BYE reaches B's bobtag dialog */
  a_request (x, ok, "BYE", 2, NULL, NULL);
  g_autofree char *bok = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE (bok != NULL && g_str_has_prefix (bok, "SIP/2.0 200"));
  g_autofree char *bye = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE sip:bobtag@"));
  b_respond (x, bye, 200, NULL, NULL);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"answered\":true", "\"ended_by\":\"a\"",
                                  NULL), 1);
  sf_test_b2b_free (x);
}

/* A calls with @extra lines; B sends a 183 with B_SDP, then 200 with @b_2xx.
 * A PRACKs a reliable 183, before B's 200 or, @prack_late, after it (A's 200
 * waits for the PRACK, RFC 3262 3).  Returns A's 183 and 200 (transfer full). */
static void
early_then_answer_full (SfTestB2b *x, const char *extra, const char *b_2xx, gboolean prack_late, char **a183, char **a200,
                        char **b_inv)
{
  a_invite (x, extra);
  *b_inv = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (*b_inv != NULL && g_str_has_prefix (*b_inv, "INVITE "));
  b_respond (x, *b_inv, 183, "bobtag", B_SDP);
  *a183 = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (*a183 != NULL && g_str_has_prefix (*a183, "SIP/2.0 183"));
  CU_ASSERT_PTR_NOT_NULL (strstr (*a183, "m=audio 42000 RTP/AVP 0"));
  g_autofree char *rseq = sf_test_header (*a183, "RSeq");
  g_autofree char *rack = rseq != NULL ? g_strdup_printf ("RAck: %s 1 INVITE\r\n", rseq) : NULL;
  if (rack != NULL && !prack_late) {
    a_request (x, *a183, "PRACK", 2, rack, NULL);
    g_autofree char *pok = sf_test_recv (x->t->peer, TRUE);
    CU_ASSERT_TRUE (pok != NULL && g_str_has_prefix (pok, "SIP/2.0 200") && strstr (pok, "PRACK") != NULL);
  }
  b_respond (x, *b_inv, 200, "bobtag", b_2xx);
  g_autofree char *ack = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK "));
  if (rack != NULL && prack_late) {
    CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer)); /* no 200 before the PRACK */
    a_request (x, *a183, "PRACK", 2, rack, NULL);
    g_autofree char *pok = sf_test_recv (x->t->peer, TRUE);
    CU_ASSERT_TRUE (pok != NULL && g_str_has_prefix (pok, "SIP/2.0 200") && strstr (pok, "PRACK") != NULL);
    sf_endpoint_advance (x->t->env->ep, 0); /* the held answer goes on timer:answer, at once */
  }
  *a200 = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (*a200 != NULL && g_str_has_prefix (*a200, "SIP/2.0 200") && strstr (*a200, "INVITE") != NULL);
}

static void
early_then_answer (SfTestB2b *x, const char *extra, const char *b_2xx, char **a183, char **a200, char **b_inv)
{
  early_then_answer_full (x, extra, b_2xx, FALSE, a183, a200, b_inv);
}

static void
reliable_183_changed (gboolean allow_update, gboolean prack_late)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  const char *extra = allow_update ? "Supported: 100rel\r\nAllow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE\r\n"
                                   : "Supported: 100rel\r\nAllow: INVITE, ACK, CANCEL, BYE, PRACK\r\n";
  g_autofree char *a183 = NULL, *a200 = NULL, *binv = NULL;
  early_then_answer_full (x, extra, B_SDP2, prack_late, &a183, &a200, &binv);
  g_autofree char *req = sf_test_header (a183, "Require");
  CU_ASSERT_STRING_EQUAL (req != NULL ? req : "", "100rel");
  /* the 183's answer was A's for good: the 200 repeats it (RFC 3262 5, RFC 3264 4) */
  CU_ASSERT_STRING_EQUAL (body_of (a200), body_of (a183));
  /* nothing before A's ACK (RFC 3261 14.1) */
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer));
  a_request (x, a200, "ACK", 1, NULL, NULL);
  /* then B's answer as our offer: its o= version one more (RFC 3264 8) */
  g_autofree char *offer = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (offer != NULL && g_str_has_prefix (offer, allow_update ? "UPDATE sip:alice@" : "INVITE sip:alice@"));
  CU_ASSERT_PTR_NOT_NULL (strstr (offer, "m=audio 43000 RTP/AVP 8"));
  CU_ASSERT_EQUAL (o_version (offer), o_version (a200) + 1);
  g_autofree char *oto = sf_test_header (offer, "To"), *ocid = sf_test_header (offer, "Call-ID");
  CU_ASSERT_TRUE (oto != NULL && strstr (oto, "alicetag") != NULL);
  CU_ASSERT_STRING_EQUAL (ocid, "a-call@127.0.0.1");
  a_respond (x, offer, 200, A_SDP);
  if (!allow_update) {
    g_autofree char *ack = sf_test_recv (x->t->peer, TRUE); /* our re-INVITE's ACK */
    CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK "));
  }
  /* A's answer is the bridge's own: nothing goes to B */
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b));
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer));
  /* the next offer crosses as usual: A's re-INVITE reaches B */
  a_request (x, a200, "INVITE", 3, NULL, A_SDP);
  g_autofree char *reinv = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (reinv != NULL && g_str_has_prefix (reinv, "INVITE sip:bobtag@"));
  b_respond (x, reinv, 200, NULL, B_SDP2);
  g_autofree char *rack = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE (rack != NULL && g_str_has_prefix (rack, "ACK "));
  g_autofree char *rok = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (rok != NULL && g_str_has_prefix (rok, "SIP/2.0 200"));
  a_request (x, a200, "ACK", 3, NULL, NULL);
  a_hangs_up (x, a200, 4);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"answered\":true", NULL), 1);
  sf_test_b2b_free (x);
}

static void
leg2_reliable_183_changed (void)
{
  reliable_183_changed (TRUE, FALSE);
  reliable_183_changed (FALSE, FALSE);
  reliable_183_changed (TRUE, TRUE); /* B's 200 before A's PRACK: the offer waits for the held 200's ACK */
}

static void
leg2_183_no_reoffer (void)
{
  /* unreliable: the 200 carries B's 2xx answer */
  {
    SfTestB2b *x = sf_test_b2b_new (NULL, 0);
    g_autofree char *a183 = NULL, *a200 = NULL, *binv = NULL;
    early_then_answer (x, NULL, B_SDP2, &a183, &a200, &binv);
    g_autofree char *rseq = sf_test_header (a183, "RSeq");
    CU_ASSERT_PTR_NULL (rseq);
    CU_ASSERT_PTR_NOT_NULL (strstr (a200, "m=audio 43000 RTP/AVP 8"));
    a_request (x, a200, "ACK", 1, NULL, NULL);
    CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer));
    CU_ASSERT_TRUE (sf_test_peer_quiet (x->b));
    a_hangs_up (x, a200, 2);
    sf_test_b2b_free (x);
  }
  /* reliable, and B's 2xx has the 183's media (its o= moved): nothing more */
  {
    SfTestB2b *x = sf_test_b2b_new (NULL, 0);
    g_autofree char *a183 = NULL, *a200 = NULL, *binv = NULL;
    early_then_answer (x, "Supported: 100rel\r\n", B_SDP_SAME, &a183, &a200, &binv);
    g_autofree char *rseq = sf_test_header (a183, "RSeq");
    CU_ASSERT_PTR_NOT_NULL (rseq);
    CU_ASSERT_STRING_EQUAL (body_of (a200), body_of (a183));
    a_request (x, a200, "ACK", 1, NULL, NULL);
    CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer));
    CU_ASSERT_TRUE (sf_test_peer_quiet (x->b));
    a_hangs_up (x, a200, 3);
    sf_test_b2b_free (x);
  }
}

/* A's INVITE without SDP (a delayed offer, RFC 3261 13.2.1). */
static void
a_invite_nosdp (SfTestB2b *x)
{
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-l2a\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: <sip:b2b@127.0.0.1>\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    x->t->port, x->t->port);
  sf_test_send (x->t->peer, x->t->to, inv);
}

/* A calls without SDP: B's INVITE has none either; B's 183 with SDP reaches A
 * without it (no answer, and an offer only the 2xx may carry here); B's 200
 * carries the offer: A's 200 carries it (pass mode: B's c= and m=), and B gets
 * no ACK yet, not even for its 200 again.  Returns B's INVITE and A's 200. */
static void
late_offer_answered (SfTestB2b *x, char **b_inv, char **a200)
{
  a_invite_nosdp (x);
  *b_inv = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (*b_inv != NULL && g_str_has_prefix (*b_inv, "INVITE "));
  CU_ASSERT_STRING_EQUAL (body_of (*b_inv), "");
  g_autofree char *bct = sf_test_header (*b_inv, "Content-Type");
  CU_ASSERT_PTR_NULL (bct);
  b_respond (x, *b_inv, 183, "bobtag", B_SDP);
  g_autofree char *a183 = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (a183 != NULL && g_str_has_prefix (a183, "SIP/2.0 183"));
  CU_ASSERT_STRING_EQUAL (body_of (a183), "");
  b_respond (x, *b_inv, 200, "bobtag", B_SDP2);
  *a200 = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (*a200 != NULL && g_str_has_prefix (*a200, "SIP/2.0 200") && strstr (*a200, "INVITE") != NULL);
  CU_ASSERT_PTR_NOT_NULL (strstr (body_of (*a200), "c=IN IP4 127.0.0.1\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (body_of (*a200), "m=audio 43000 RTP/AVP 8"));
  CU_ASSERT_PTR_NULL (strstr (body_of (*a200), "o=bob")); /* the o= line is ours */
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b)); /* the ACK waits for A's answer */
  b_respond (x, *b_inv, 200, "bobtag", B_SDP2); /* B's 200 again: still no ACK (an empty one would end the O/A) */
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b));
}

static void
leg2_late_offer (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *binv = NULL, *a200 = NULL;
  late_offer_answered (x, &binv, &a200);
  a_request (x, a200, "ACK", 1, NULL, A_SDP);
  /* B's ACK carries A's answer (A's c= and m=, our o=), in B's dialog */
  g_autofree char *ack = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (ack != NULL && g_str_has_prefix (ack, "ACK sip:bobtag@"));
  CU_ASSERT_PTR_NOT_NULL (strstr (body_of (ack), "m=audio 40000 RTP/AVP 0"));
  CU_ASSERT_PTR_NOT_NULL (strstr (body_of (ack), "c=IN IP4 127.0.0.1\r\n"));
  CU_ASSERT_PTR_NULL (strstr (body_of (ack), "o=alice"));
  g_autofree char *act = sf_test_header (ack, "Content-Type"), *acseq = sf_test_header (ack, "CSeq"), *icseq = sf_test_header (binv, "CSeq");
  CU_ASSERT_STRING_EQUAL (act != NULL ? act : "", "application/sdp");
  CU_ASSERT_TRUE (acseq != NULL && icseq != NULL && strtoul (acseq, NULL, 10) == strtoul (icseq, NULL, 10) &&
                  strstr (acseq, "ACK") != NULL);
  /* B's 200 again (its ACK lost): the same ACK, with the answer */
  b_respond (x, binv, 200, "bobtag", B_SDP2);
  g_autofree char *ack2 = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE (ack2 != NULL && g_str_has_prefix (ack2, "ACK ") && strcmp (body_of (ack2), body_of (ack)) == 0);
  /* an offer-less re-INVITE from A: its leg answers with the SDP it sent last (B's), B hears nothing */
  a_request (x, a200, "INVITE", 2, NULL, NULL);
  g_autofree char *rok = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (rok != NULL && g_str_has_prefix (rok, "SIP/2.0 200"));
  CU_ASSERT_STRING_EQUAL (body_of (rok), body_of (a200));
  a_request (x, a200, "ACK", 2, NULL, A_SDP);
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b));
  a_hangs_up (x, a200, 3);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"answered\":true", "\"ended_by\":\"a\"",
                                  NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"reason\":\"sdp_failed\"", NULL), 0);
  sf_test_b2b_free (x);
}

/* Every datagram waiting on @sock (transfer full, each), none: an empty array. */
static GPtrArray *
drain_on (GSocket *sock)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  while (g_socket_condition_check (sock, G_IO_IN)) {
    char buf[8192];
    gssize n = g_socket_receive (sock, buf, sizeof buf - 1, NULL, NULL);
    if (n <= 0)
      break;
    g_ptr_array_add (out, g_strndup (buf, n));
  }
  return out;
}

/* After A's 200 carried B's offer: A sends @ack_sdp in its ACK (NULL: no ACK
 * at all, or @ack_empty: an ACK without body).  B must get an ACK without
 * body, then a BYE (RFC 3261 13.2.2.4, 15), A a BYE; both answered; zero
 * instances once the clock ran out. */
static void
late_offer_failed (gboolean ack_empty)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *binv = NULL, *a200 = NULL;
  late_offer_answered (x, &binv, &a200);
  if (ack_empty)
    a_request (x, a200, "ACK", 1, NULL, NULL);
  gboolean b_ack = FALSE, b_ack_empty = FALSE, b_bye = FALSE, bye_after_ack = FALSE, a_bye = FALSE;
  guint a_200s = 0;
  for (guint i = 0; i < 80 && !(b_bye && a_bye); i++) {
    sf_endpoint_advance (x->t->env->ep, 500);
    while (g_main_context_iteration (NULL, FALSE))
      ;
    sf_test_peer_quiet (x->b);
    g_autoptr (GPtrArray) bm = drain_on (x->b);
    for (guint j = 0; j < bm->len; j++) {
      const char *m = bm->pdata[j];
      if (g_str_has_prefix (m, "ACK ")) {
        b_ack = TRUE;
        b_ack_empty = *body_of (m) == '\0';
      } else if (g_str_has_prefix (m, "BYE ")) {
        bye_after_ack = b_ack;
        b_bye = TRUE;
        b_respond (x, m, 200, NULL, NULL);
      }
    }
    g_autoptr (GPtrArray) am = drain_on (x->t->peer);
    for (guint j = 0; j < am->len; j++) {
      const char *m = am->pdata[j];
      if (g_str_has_prefix (m, "SIP/2.0 200"))
        a_200s++;
      else if (g_str_has_prefix (m, "BYE ")) {
        a_bye = TRUE;
        a_respond (x, m, 200, NULL);
      }
    }
  }
  CU_ASSERT_TRUE (b_ack);
  CU_ASSERT_TRUE (b_ack_empty);
  CU_ASSERT_TRUE (b_bye);
  CU_ASSERT_TRUE (bye_after_ack);
  CU_ASSERT_TRUE (a_bye);
  if (!ack_empty)
    CU_ASSERT_TRUE (a_200s > 0); /* A's 200 retransmitted while no ACK came (13.3.1.4) */
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"answered\":true", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_b2b_state ()->live, 0);
  sf_test_b2b_free (x);
}

static void
leg2_late_offer_no_ack (void)
{
  late_offer_failed (FALSE); /* A never ACKs: its leg's no_ack or B's ack_hold, 64*T1 */
  late_offer_failed (TRUE);  /* A's ACK has no answer (RFC 3264 4): its leg ends A's call, B's ACK goes empty */
}

/* B's 200 to an INVITE without offer has no SDP either (RFC 3261 13.2.1 wants
 * the offer there): B gets its ACK and a BYE (sdp_failed), A gets 500, as for
 * any B whose 2xx has no usable SDP. */
static void
leg2_late_offer_none (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  a_invite_nosdp (x);
  g_autofree char *binv = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (binv != NULL && g_str_has_prefix (binv, "INVITE "));
  b_respond (x, binv, 200, "bobtag", NULL);
  g_autofree char *ack = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (ack != NULL && g_str_has_prefix (ack, "ACK "));
  g_autofree char *bye = sf_test_recv (x->b, TRUE);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  b_respond (x, bye, 200, NULL, NULL);
  g_autofree char *resp = sf_test_recv (x->t->peer, TRUE);
  CU_ASSERT_TRUE_FATAL (resp != NULL && g_str_has_prefix (resp, "SIP/2.0 "));
  CU_ASSERT_TRUE (g_str_has_prefix (resp, "SIP/2.0 500"));
  a_ack_failure (x, resp);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"reason\":\"sdp_failed\"", NULL), 1);
  sf_test_b2b_free (x);
}

void
sf_test_register_b2bua_leg2 (void)
{
  CU_pSuite s = CU_add_suite ("b2bua-leg2", NULL, NULL);
  SF_ADD_TEST (s, leg2_redirect);
  SF_ADD_TEST (s, leg2_refused_at_once);
  SF_ADD_TEST (s, leg2_fork);
  SF_ADD_TEST (s, leg2_reliable_183_changed);
  SF_ADD_TEST (s, leg2_183_no_reoffer);
  SF_ADD_TEST (s, leg2_late_offer);
  SF_ADD_TEST (s, leg2_late_offer_no_ack);
  SF_ADD_TEST (s, leg2_late_offer_none);
}
