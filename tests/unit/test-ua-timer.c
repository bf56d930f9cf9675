/* test-ua-timer.c: session timers (RFC 4028; operators/ua/sf-op-session-timer.c)
 *  - parse_session_expires: delta-seconds with refresher=uac|uas and generic
 *    parameters taken; junk, a missing number, a bad refresher, a refresher
 *    twice or without value, a number out of range refused, naming the header
 *  - parse_min_se: the same for Min-SE
 *  - parse_message: a message's Session-Expires (and its compact form x),
 *    Min-SE, Supported/Require timer and Allow UPDATE read; two Session-Expires,
 *    Session-Expires: 0 refused
 *  - answer: the UAS's choice (9): 422 with the floor when the interval is
 *    too small and the UAC supports timer; raised without support (erratum
 *    1687); never raised above the request's; the request's Min-SE raises the
 *    floor; the refresher asked is kept; uas when the UAC does not support
 *    timer; Require: timer when it does
 *  - arithmetic: refresh at half the interval, expiry at the interval less
 *    min (32, interval / 3)
 *  - On the fake clock, xml/ua.xml's session operators with the stack and a
 *    UDP peer (as test-txn.c):
 *    - expires: the caller refreshes (refresher=uac): the 200 says so with
 *      Require: timer; nothing for 60 s less 1 ms, then our BYE (10)
 *    - refresher: refresher=uas: our re-INVITE at 45 s (not 1 ms before), with
 *      Session-Expires: 90;refresher=uac and the SDP of our 200 unchanged; its
 *      200 gets the ACK and restarts the timers: the next one 45 s later
 *    - hold_refreshes: our hold re-INVITE carries Session-Expires: 90;refresher=uas
 *      (the peer stays the refresher, 7.4); its 200 restarts the timers: our
 *      BYE comes 60 s after it
 *    - update_refresh: the peer allows UPDATE: our refresh is an UPDATE
 *      without a body; 422 with Min-SE: 120 sends it again with 120 (a new
 *      CSeq); 481 ends the call with our BYE (session_refresh_failed)
 *    - too_small: Session-Expires: 60 with Supported: timer: 422, Min-SE: 90
 *  - Attacks (issue 22, second reading):
 *    - hold_glare_refresh: we refresh by re-INVITE; the peer answers our hold
 *      491 while the refresh is due: the hold's retry goes first (14.1), its
 *      200 restarts the timers, the next refresh goes 45 s later (the refresh
 *      once took the hold's place and stayed pending: BYE at the interval)
 *    - update_early_2xx: an UPDATE's offer answered in the early dialog after
 *      our reliable 180: the INVITE's 200 repeats the UPDATE's answer (it once
 *      repeated the 180's, its o= version going back)
 *    - refused_hold_refresh: our hold refused 488, the call goes on sendrecv:
 *      our refresh 45 s in repeats the SDP in force (the INVITE's), not the
 *      refused hold's sendonly one
 *    - rel1xx_flood: a callee sends 20 reliable 183s (RSeq 1 to 20) and never
 *      answers our PRACK: one PRACK (RSeq 1); after its 200 the next RSeq's
 *      retransmission gets one, after a PRACK's timeout too (each 1xx once
 *      got its own PRACK transaction)
 *    - early_target_refresh: PRACK (CSeq 2) and an UPDATE moving the Contact
 *      (CSeq 3) in the early dialog, then our 200: an OPTIONS with CSeq 2
 *      gets 500, our BYE goes to the UPDATE's Contact (the confirmed dialog
 *      was once made anew from the INVITE)
 *    - fork_update_hijack: our UPDATE (an offer) in fork A's early dialog,
 *      fork B's 200 confirms the call; A's 200 to the UPDATE (its SDP, a
 *      Contact elsewhere) moves neither our media nor our BYE (it once did)
 *    - prack_bad_offer_answer: auto-answer with 100rel: the 200 held for the
 *      PRACK, which carries an offer we refuse (488): the 200 goes all the
 *      same, with the 180's SDP (it once stayed held: Ringing for ever)
 *    - huge_session_expires: a Session-Expires, then a Min-SE, of 5000
 *      characters: 400 with a short reason naming the header, and no
 *      instance left once the transactions end (the 400 could not be built:
 *      no answer, the call's instance left in Idle for good)
 *    - refresh_peer_request_fails, dialog_message_peer_fails: the peer's own
 *      re-INVITE (MESSAGE) with the CSeq number of our pending one, whose
 *      answer cannot be sent, is not taken for the failure of ours (the
 *      refresh once failed, the call ended; a message_sent 503 came) */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-session-timer.h"
#include "operators/transaction/sf-stack.h"
#include <errno.h>
#include <string.h>

static void
parse_session_expires (void)
{
  guint se = 0;
  SfUaRefresher r;
  CU_ASSERT_TRUE (sf_ua_se_parse_session_expires ("1800", &se, &r, NULL));
  CU_ASSERT_EQUAL (se, 1800);
  CU_ASSERT_EQUAL (r, SF_UA_REFRESHER_NONE);
  CU_ASSERT_TRUE (sf_ua_se_parse_session_expires (" 90 ;refresher=uac", &se, &r, NULL));
  CU_ASSERT_EQUAL (se, 90);
  CU_ASSERT_EQUAL (r, SF_UA_REFRESHER_UAC);
  CU_ASSERT_TRUE (sf_ua_se_parse_session_expires ("120;foo=bar; REFRESHER=UAS;baz", &se, &r, NULL));
  CU_ASSERT_EQUAL (se, 120);
  CU_ASSERT_EQUAL (r, SF_UA_REFRESHER_UAS);
  static const char *const bad[] = { "", "abc", "90x", "-90", "9 0", ";refresher=uac", "90;refresher=foo",
                                     "90;refresher", "90;refresher=uac;refresher=uas", "90;", "90;a b",
                                     "99999999999", "2000001" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    CU_ASSERT_FALSE (sf_ua_se_parse_session_expires (bad[i], &se, &r, &error));
    CU_ASSERT_TRUE (error != NULL && g_str_has_prefix (error->message, "Session-Expires"));
  }
  CU_ASSERT_TRUE (sf_ua_se_parse_session_expires ("2000000", &se, &r, NULL)); /* SF_UA_SE_MAX */
  /* 1*DIGIT (RFC 3261 25.1): leading zeros are no reason for a 400 (they once were past 9 digits) */
  CU_ASSERT_TRUE (sf_ua_se_parse_session_expires ("00000000000000090;refresher=uac", &se, &r, NULL));
  CU_ASSERT_EQUAL (se, 90);
  CU_ASSERT_TRUE (sf_ua_se_parse_session_expires ("0000000000", &se, &r, NULL));
  CU_ASSERT_EQUAL (se, 0);
  CU_ASSERT_FALSE (sf_ua_se_parse_session_expires ("0000000002000001", &se, &r, NULL));
}

static void
parse_min_se (void)
{
  guint min = 0;
  CU_ASSERT_TRUE (sf_ua_se_parse_min_se ("90", &min, NULL));
  CU_ASSERT_EQUAL (min, 90);
  CU_ASSERT_TRUE (sf_ua_se_parse_min_se (" 120 ;x=y", &min, NULL));
  CU_ASSERT_EQUAL (min, 120);
  CU_ASSERT_TRUE (sf_ua_se_parse_min_se ("000000000000120", &min, NULL));
  CU_ASSERT_EQUAL (min, 120);
  static const char *const bad[] = { "", "x", "90,120", "12345678901", "90;=" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    CU_ASSERT_FALSE (sf_ua_se_parse_min_se (bad[i], &min, &error));
    CU_ASSERT_TRUE (error != NULL && g_str_has_prefix (error->message, "Min-SE"));
  }
}

static SfSipMsg *
msg (const char *extra)
{
  g_autofree char *text = g_strdup_printf (
    "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKst\r\nMax-Forwards: 70\r\n"
    "From: <sip:a@127.0.0.1>;tag=a\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: st@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
    "%sContent-Length: 0\r\n\r\n", extra);
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return sf_sip_msg_parse (b, NULL);
}

static void
parse_message (void)
{
  SfUaSeHeaders h;
  g_autoptr (SfSipMsg) none = msg ("");
  CU_ASSERT_TRUE (sf_ua_se_parse (none, &h, NULL));
  CU_ASSERT_EQUAL (h.se, 0);
  CU_ASSERT_EQUAL (h.min_se, 0);
  CU_ASSERT_FALSE (h.supported);
  g_autoptr (SfSipMsg) full =
    msg ("Supported: 100rel, timer\r\nSession-Expires: 90;refresher=uac\r\nMin-SE: 90\r\nAllow: INVITE, UPDATE\r\n");
  CU_ASSERT_TRUE (sf_ua_se_parse (full, &h, NULL));
  CU_ASSERT_EQUAL (h.se, 90);
  CU_ASSERT_EQUAL (h.refresher, SF_UA_REFRESHER_UAC);
  CU_ASSERT_EQUAL (h.min_se, 90);
  CU_ASSERT_TRUE (h.supported);
  CU_ASSERT_FALSE (h.required);
  CU_ASSERT_TRUE (h.allows_update);
  g_autoptr (SfSipMsg) compact = msg ("x: 300\r\nRequire: timer\r\n");
  CU_ASSERT_TRUE (sf_ua_se_parse (compact, &h, NULL));
  CU_ASSERT_EQUAL (h.se, 300);
  CU_ASSERT_TRUE (h.required && h.supported);
  CU_ASSERT_FALSE (h.allows_update);
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL;
  g_autoptr (SfSipMsg) twice = msg ("Session-Expires: 90\r\nx: 120\r\n");
  CU_ASSERT_FALSE (sf_ua_se_parse (twice, &h, &e1));
  CU_ASSERT_TRUE (e1 != NULL && strstr (e1->message, "Session-Expires") != NULL);
  g_autoptr (SfSipMsg) zero = msg ("Session-Expires: 0\r\n");
  CU_ASSERT_FALSE (sf_ua_se_parse (zero, &h, &e2));
  g_autoptr (SfSipMsg) badmin = msg ("Min-SE: ninety\r\n");
  CU_ASSERT_FALSE (sf_ua_se_parse (badmin, &h, &e3));
  CU_ASSERT_TRUE (e3 != NULL && g_str_has_prefix (e3->message, "Min-SE"));
}

static void
answer (void)
{
  SfUaSeAnswer a;
  /* too small, timer supported: 422 with our floor */
  SfUaSeHeaders r1 = { .se = 60, .supported = TRUE };
  sf_ua_se_answer (&r1, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.reject_min_se, 90);
  /* ... the request's Min-SE raises the floor above ours */
  SfUaSeHeaders r2 = { .se = 100, .min_se = 120, .supported = TRUE };
  sf_ua_se_answer (&r2, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.reject_min_se, 120);
  /* too small, no timer support: raised to the floor, we refresh, no Require */
  SfUaSeHeaders r3 = { .se = 60 };
  sf_ua_se_answer (&r3, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.reject_min_se, 0);
  CU_ASSERT_EQUAL (a.interval, 90);
  CU_ASSERT_EQUAL (a.refresher, SF_UA_REFRESHER_UAS);
  CU_ASSERT_FALSE (a.require);
  /* asked, no refresher named: the UAC refreshes; never above what it asked, lowered to ours */
  SfUaSeHeaders r4 = { .se = 90, .supported = TRUE };
  sf_ua_se_answer (&r4, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.interval, 90);
  CU_ASSERT_EQUAL (a.refresher, SF_UA_REFRESHER_UAC);
  CU_ASSERT_TRUE (a.require);
  SfUaSeHeaders r5 = { .se = 3600, .supported = TRUE, .refresher = SF_UA_REFRESHER_UAS };
  sf_ua_se_answer (&r5, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.interval, 1800);
  CU_ASSERT_EQUAL (a.refresher, SF_UA_REFRESHER_UAS);
  /* not asked: our interval, we refresh; Require only when the UAC supports timer */
  SfUaSeHeaders r6 = { .supported = TRUE };
  sf_ua_se_answer (&r6, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.interval, 1800);
  CU_ASSERT_EQUAL (a.refresher, SF_UA_REFRESHER_UAS);
  CU_ASSERT_TRUE (a.require);
  SfUaSeHeaders r7 = { .min_se = 2000 };
  sf_ua_se_answer (&r7, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.interval, 2000); /* the request's Min-SE above our interval wins */
  CU_ASSERT_FALSE (a.require);
  /* a refresher asked by a UAC without timer support is not its to ask: uas */
  SfUaSeHeaders r8 = { .se = 600, .refresher = SF_UA_REFRESHER_UAC };
  sf_ua_se_answer (&r8, 1800, 90, &a);
  CU_ASSERT_EQUAL (a.refresher, SF_UA_REFRESHER_UAS);
}

static void
arithmetic (void)
{
  CU_ASSERT_EQUAL (sf_ua_se_refresh_ms (90), 45000);
  CU_ASSERT_EQUAL (sf_ua_se_expire_ms (90), 60000);   /* 90 - 30 */
  CU_ASSERT_EQUAL (sf_ua_se_refresh_ms (1800), 900000);
  CU_ASSERT_EQUAL (sf_ua_se_expire_ms (1800), 1768000); /* 1800 - 32 */
  CU_ASSERT_EQUAL (sf_ua_se_expire_ms (95), 64000);   /* 95 - 31 */
  CU_ASSERT_EQUAL (sf_ua_se_refresh_ms (SF_UA_SE_MAX), (guint64) SF_UA_SE_MAX * 500);
}

/* ---- on the fake clock, with the stack ---- */

typedef SfTestStack St;

static St *
st_setup (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_assert (sf_config_set (env->cfg, "media.backend=null", NULL));
  sf_endpoint_attach (env->ep, NULL);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/ua.xml", NULL);
  g_assert (tu != NULL);
  return sf_test_stack_new (env, tu);
}

static void
st_free (St *t)
{
  sf_test_stack_free (t, NULL);
}

/* The ;tag= of @m's To (transfer full). */
static char *
to_tag (const char *m)
{
  g_autofree char *to = sf_test_header (m, "To");
  const char *tg = to != NULL ? strstr (to, ";tag=") : NULL;
  return tg != NULL ? g_strndup (tg + 5, strcspn (tg + 5, ";>")) : NULL;
}

#define ST_INVITE                                                                                              \
  "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKst1\r\nMax-Forwards: 70\r\n" \
  "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: st-test@127.0.0.1\r\n"            \
  "CSeq: 1 INVITE\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nSupported: timer\r\n"

#define ST_OFFER                                                                                       \
  "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n" \
  "a=rtpmap:0 PCMU/8000\r\n"

/* The peer's INVITE with @se and an offer, answered (auto-answer: 180, then
 * 200 with our answer), ACKed: the 200 (transfer full). */
static char *
call_up (St *t, const char *se)
{
  g_autofree char *inv = g_strdup_printf (ST_INVITE "Session-Expires: %s\r\nContent-Type: application/sdp\r\n"
                                                    "Content-Length: %zu\r\n\r\n%s", se, strlen (ST_OFFER), ST_OFFER);
  g_assert (sf_config_set (t->env->cfg, "ua.auto_answer=0", NULL));
  sf_test_stack_send (t, inv);
  g_autofree char *ringing = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (ringing != NULL && g_str_has_prefix (ringing, "SIP/2.0 180"));
  sf_endpoint_advance (t->env->ep, 0);
  char *ok = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  g_autofree char *tag = to_tag (ok);
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKstack\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: st-test@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, ack);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  return ok;
}

static void
expires (void)
{
  St *t = st_setup ();
  g_autofree char *ok = call_up (t, "90;refresher=uac");
  g_autofree char *se = sf_test_header (ok, "Session-Expires"), *req = sf_test_header (ok, "Require");
  CU_ASSERT_STRING_EQUAL (se, "90;refresher=uac");
  CU_ASSERT_STRING_EQUAL (req, "timer");
  CU_ASSERT_EQUAL (
    sf_test_count (t->env, "\"event\":\"session_timer\"", "\"interval\":90,\"refresher\":\"remote\"", NULL), 1);
  sf_endpoint_advance (t->env->ep, 60000 - 1);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  sf_endpoint_advance (t->env->ep, 1);
  g_autofree char *bye = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (bye != NULL && g_str_has_prefix (bye, "BYE "));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"session_expired\"", NULL), 1);
  st_free (t);
}

static void
refresher (void)
{
  St *t = st_setup ();
  g_autofree char *ok = call_up (t, "90;refresher=uas");
  g_autofree char *se = sf_test_header (ok, "Session-Expires");
  CU_ASSERT_STRING_EQUAL (se, "90;refresher=uas");
  for (int round = 0; round < 2; round++) {
    sf_endpoint_advance (t->env->ep, 45000 - 1);
    CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
    sf_endpoint_advance (t->env->ep, 1);
    g_autofree char *inv = sf_test_stack_recv (t);
    CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
    g_autofree char *rse = sf_test_header (inv, "Session-Expires");
    CU_ASSERT_STRING_EQUAL (rse, "90;refresher=uac");
    /* the SDP of our 200 again, its o= line (version) unchanged */
    const char *o1 = strstr (ok, "\r\no="), *o2 = strstr (inv, "\r\no=");
    CU_ASSERT_TRUE_FATAL (o1 != NULL && o2 != NULL);
    CU_ASSERT_EQUAL (strcspn (o1 + 2, "\r"), strcspn (o2 + 2, "\r"));
    CU_ASSERT_EQUAL (strncmp (o1, o2, strcspn (o1 + 2, "\r") + 2), 0);
    /* 200 to it: copied Via, From, To, Call-ID, CSeq */
    g_autofree char *via = sf_test_header (inv, "Via"), *from = sf_test_header (inv, "From"), *to = sf_test_header (inv, "To"),
                    *cseq = sf_test_header (inv, "CSeq"), *cid = sf_test_header (inv, "Call-ID");
    g_autofree char *resp = g_strdup_printf (
      "SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
      "Contact: <sip:peer@127.0.0.1:%%PORT%%>\r\nSession-Expires: 90;refresher=uac\r\nRequire: timer\r\n"
      "Content-Length: 0\r\n\r\n", via, from, to, cid, cseq);
    sf_test_stack_send (t, resp);
    g_autofree char *ack = sf_test_stack_recv (t);
    CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK "));
  }
  /* the initial 200 and each refresh's 200 (re)started the timers, we refreshing */
  CU_ASSERT_EQUAL (
    sf_test_count (t->env, "\"event\":\"session_timer\"", "\"interval\":90,\"refresher\":\"local\"", NULL), 3);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"session_expired\"", NULL), 0);
  st_free (t);
}

/* A @status response to @req (Via, From, To, Call-ID, CSeq copied) with @extra lines and @sdp (may be NULL). */
static void
st_reply (St *t, const char *req, guint status, const char *extra, const char *sdp)
{
  g_autofree char *via = sf_test_header (req, "Via"), *from = sf_test_header (req, "From"), *to = sf_test_header (req, "To"), *cseq = sf_test_header (req, "CSeq"),
                  *cid = sf_test_header (req, "Call-ID");
  g_autofree char *resp = g_strdup_printf (
    "SIP/2.0 %u Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
    "Contact: <sip:peer@127.0.0.1:%%PORT%%>\r\n%s%sContent-Length: %zu\r\n\r\n%s", status, via, from, to, cid, cseq,
    extra,
    sdp != NULL ? "Content-Type: application/sdp\r\n" : "", sdp != NULL ? strlen (sdp) : 0, sdp != NULL ? sdp : "");
  sf_test_stack_send (t, resp);
}

static void
hold_refreshes (void)
{
  St *t = st_setup ();
  g_autofree char *ok = call_up (t, "90;refresher=uac");
  g_autoptr (GPtrArray) all = sf_endpoint_instances (t->env->ep);
  SfInstance *call = NULL;
  for (guint i = 0; i < all->len; i++)
    if (strcmp (sf_instance_handle (all->pdata[i]), "c1") == 0)
      call = all->pdata[i];
  CU_ASSERT_PTR_NOT_NULL_FATAL (call);
  /* 30 s in, we hold: the re-INVITE says the peer stays the refresher (7.4) */
  sf_endpoint_advance (t->env->ep, 30000);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "hold", NULL));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *inv = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  g_autofree char *se = sf_test_header (inv, "Session-Expires"), *sup = sf_test_header (inv, "Supported");
  CU_ASSERT_STRING_EQUAL (se, "90;refresher=uas");
  CU_ASSERT_STRING_EQUAL (sup, "timer");
  /* its 200 (the peer, its UAS, still refreshing) restarts the timers: BYE 60 s after it, not after the call's 200 */
  st_reply (t, inv, 200, "Session-Expires: 90;refresher=uas\r\nRequire: timer\r\n",
            "v=0\r\no=peer 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=recvonly\r\n");
  g_autofree char *ack = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK "));
  sf_endpoint_advance (t->env->ep, 60000 - 1);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  sf_endpoint_advance (t->env->ep, 1);
  g_autofree char *bye = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (bye != NULL && g_str_has_prefix (bye, "BYE "));
  st_free (t);
}

static void
update_refresh (void)
{
  St *t = st_setup ();
  g_autofree char *ok = call_up (t, "90;refresher=uas\r\nAllow: INVITE, ACK, BYE, CANCEL, UPDATE");
  sf_endpoint_advance (t->env->ep, 45000);
  g_autofree char *up = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (up != NULL && g_str_has_prefix (up, "UPDATE "));
  g_autofree char *se = sf_test_header (up, "Session-Expires"), *len = sf_test_header (up, "Content-Length");
  CU_ASSERT_STRING_EQUAL (se, "90;refresher=uac");
  CU_ASSERT_STRING_EQUAL (len, "0");
  /* 422: the UPDATE again at once, the interval raised to its Min-SE */
  st_reply (t, up, 422, "Min-SE: 120\r\n", NULL);
  g_autofree char *again = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (again != NULL && g_str_has_prefix (again, "UPDATE "));
  g_autofree char *se2 = sf_test_header (again, "Session-Expires"), *min2 = sf_test_header (again, "Min-SE");
  g_autofree char *cs1 = sf_test_header (up, "CSeq"), *cs2 = sf_test_header (again, "CSeq");
  CU_ASSERT_STRING_EQUAL (se2, "120;refresher=uac");
  CU_ASSERT_STRING_EQUAL (min2, "120");
  CU_ASSERT_STRING_NOT_EQUAL (cs1, cs2);
  /* 481: the session is gone, BYE (RFC 4028 10) */
  st_reply (t, again, 481, "", NULL);
  g_autofree char *bye = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (bye != NULL && g_str_has_prefix (bye, "BYE "));
  /* call_end waits for the BYE's answer */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"reason\":\"session_refresh_failed\"", NULL), 0);
  st_reply (t, bye, 200, "", NULL);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer)); /* the loop turns: the 200 reaches the call */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"call_end\"", "\"reason\":\"session_refresh_failed\"", NULL), 1);
  st_free (t);
}

static void
too_small (void)
{
  St *t = st_setup ();
  g_autofree char *inv = g_strdup_printf (ST_INVITE "Session-Expires: %d\r\nContent-Length: 0\r\n\r\n", 60);
  sf_test_stack_send (t, inv);
  g_autofree char *r = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (r != NULL && g_str_has_prefix (r, "SIP/2.0 422"));
  g_autofree char *min = sf_test_header (r, "Min-SE");
  CU_ASSERT_STRING_EQUAL (min, "90");
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"reason\":\"session_interval_too_small\"", NULL), 1);
  st_free (t);
}

/* ---- attacks (issue 22, second reading) ---- */

/* A @status response to @req with our (the peer's) To tag "callee" when @req's To has none. */
static void
st_reply_tagged (St *t, const char *req, guint status, const char *extra, const char *sdp)
{
  g_autofree char *via = sf_test_header (req, "Via"), *from = sf_test_header (req, "From"), *to = sf_test_header (req, "To"), *cseq = sf_test_header (req, "CSeq"),
                  *cid = sf_test_header (req, "Call-ID");
  g_autofree char *resp = g_strdup_printf (
    "SIP/2.0 %u Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
    "Contact: <sip:peer@127.0.0.1:%%PORT%%>\r\n%s%sContent-Length: %zu\r\n\r\n%s", status, via, from, to,
    strstr (to, ";tag=") == NULL ? ";tag=callee" : "", cid, cseq, extra,
    sdp != NULL ? "Content-Type: application/sdp\r\n" : "", sdp != NULL ? strlen (sdp) : 0, sdp != NULL ? sdp : "");
  sf_test_stack_send (t, resp);
}

#define ST_ANSWER                                                                                      \
  "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n" \
  "a=rtpmap:0 PCMU/8000\r\n"

/* Our UA calls the peer, who answers 200 with @extra (its session timer): the call instance. */
static SfInstance *
st_call_out (St *t, const char *extra)
{
  SfInstance *call = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  g_autofree char *uri = g_strdup_printf ("sip:peer@127.0.0.1:%u", t->port);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "call", uri));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *inv = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  st_reply_tagged (t, inv, 200, extra, ST_ANSWER);
  g_autofree char *ack = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (ack != NULL && g_str_has_prefix (ack, "ACK "));
  return call;
}

/* The last INVITE among the datagrams that came (transfer full; NULL when
 * none): the others (ACKs, retransmissions) are read and dropped. */
static char *
st_last_invite (St *t)
{
  char *last = NULL;
  while (!sf_test_peer_quiet (t->peer)) {
    char buf[8192];
    gssize n = g_socket_receive (t->peer, buf, sizeof buf - 1, NULL, NULL);
    if (n <= 0)
      break;
    buf[n] = 0;
    if (g_str_has_prefix (buf, "INVITE ")) {
      g_free (last);
      last = g_strdup (buf);
    }
  }
  return last;
}

#define ST_TIMER_2XX "Session-Expires: 90;refresher=uac\r\nRequire: timer\r\n"
#define ST_RECVONLY                                                                                    \
  "v=0\r\no=peer 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n" \
  "a=rtpmap:0 PCMU/8000\r\na=recvonly\r\n"

/* Attack: we refresh (refresher=uac, 90 s, by re-INVITE); the peer answers
 * our hold re-INVITE 491 while the refresh is due.  The refresh must not take
 * the hold's place in the 14.1 interval (RFC 3261 14.1: the retry of our
 * re-INVITE goes first): it once went, its 200 was taken as the hold's (the
 * hold's retry was dropped) and our refresh stayed pending for ever: no more
 * refreshes, our BYE at the interval (session_expired) on a healthy call. */
static void
hold_glare_refresh (void)
{
  St *t = st_setup ();
  SfInstance *call = st_call_out (t, ST_TIMER_2XX);
  sf_endpoint_advance (t->env->ep, 44000);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "hold", NULL));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *hold = st_last_invite (t);
  CU_ASSERT_TRUE_FATAL (hold != NULL && strstr (hold, "a=sendonly") != NULL);
  sf_endpoint_advance (t->env->ep, 1000); /* 45 s: the refresh is due, our hold pending: it waits */
  g_free (st_last_invite (t));
  sf_endpoint_advance (t->env->ep, 500);
  st_reply_tagged (t, hold, 491, "", NULL);
  g_free (st_last_invite (t)); /* its ACK */
  /* 2.1 to 4 s later (we own the Call-ID) the hold again, and nothing before it */
  g_autofree char *retry = NULL;
  for (int i = 0; i < 9 && retry == NULL; i++) {
    sf_endpoint_advance (t->env->ep, 500);
    retry = st_last_invite (t);
  }
  CU_ASSERT_TRUE_FATAL (retry != NULL);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"session_refresh\"", "\"direction\":\"out\"", NULL), 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"glare\"", NULL), 1);
  g_autofree char *cs = sf_test_header (retry, "CSeq");
  CU_ASSERT_STRING_EQUAL (cs, "3 INVITE");
  st_reply_tagged (t, retry, 200, ST_TIMER_2XX, ST_RECVONLY);
  g_free (st_last_invite (t)); /* the ACK */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "Onhold");
  /* the hold's 200 restarted the timers: our refresh 45 s later, answered; the call stays up */
  sf_endpoint_advance (t->env->ep, 45000);
  g_autofree char *refresh = st_last_invite (t);
  CU_ASSERT_TRUE_FATAL (refresh != NULL);
  g_autofree char *cs2 = sf_test_header (refresh, "CSeq");
  CU_ASSERT_STRING_EQUAL (cs2, "4 INVITE");
  st_reply_tagged (t, refresh, 200, ST_TIMER_2XX, ST_RECVONLY);
  g_free (st_last_invite (t));
  sf_endpoint_advance (t->env->ep, 44000);
  g_free (st_last_invite (t));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"session_expired\"", NULL), 0);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "Onhold");
  st_free (t);
}

static SfInstance *
st_call (St *t)
{
  g_autoptr (GPtrArray) all = sf_endpoint_instances (t->env->ep);
  for (guint i = 0; i < all->len; i++)
    if (strcmp (sf_instance_handle (all->pdata[i]), "c1") == 0)
      return all->pdata[i];
  return NULL;
}

/* An in-dialog request of the peer's to our UA (bob), @tag our To tag. */
static void
st_request (St *t, const char *method, guint cseq, const char *tag, const char *extra, const char *sdp)
{
  g_autofree char *req = g_strdup_printf (
    "%s sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bK%s%u\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: st-test@127.0.0.1\r\n"
    "CSeq: %u %s\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\n%s%sContent-Length: %zu\r\n\r\n%s",
    method, method, cseq, tag, cseq, method, extra, sdp != NULL ? "Content-Type: application/sdp\r\n" : "",
    sdp != NULL ? strlen (sdp) : 0, sdp != NULL ? sdp : "");
  sf_test_stack_send (t, req);
}

/* The o= line's version of the SDP in @m (0 when none). */
static guint64
o_version (const char *m)
{
  const char *o = m != NULL ? strstr (m, "\r\no=") : NULL;
  if (o == NULL)
    return 0;
  g_autofree char *line = g_strndup (o + 2, strcspn (o + 2, "\r"));
  g_auto (GStrv) f = g_strsplit (line, " ", -1);
  return g_strv_length (f) > 2 ? g_ascii_strtoull (f[2], NULL, 10) : 0;
}

/* The body of @m (after the blank line; transfer none). */
static const char *
body_of (const char *m)
{
  const char *b = m != NULL ? strstr (m, "\r\n\r\n") : NULL;
  return b != NULL ? b + 4 : "";
}

/* Attack: the peer's INVITE requires 100rel; our reliable 180 carries the
 * answer; the peer's UPDATE in the early dialog makes a new offer, answered
 * in its 200 (o= version one higher); PRACK; we answer.  The INVITE's 200
 * must repeat the latest SDP we sent (RFC 3261 13.2.1, RFC 6337 3.1.1): it
 * once repeated the 180's, its o= version going back, the session as it was
 * before the UPDATE. */
static void
update_early_2xx (void)
{
  St *t = st_setup ();
  g_autofree char *inv = g_strdup_printf (ST_INVITE "Require: 100rel\r\nContent-Type: application/sdp\r\n"
                                                    "Content-Length: %zu\r\n\r\n%s", strlen (ST_OFFER), ST_OFFER);
  sf_test_stack_send (t, inv);
  g_autofree char *rel = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (rel != NULL && g_str_has_prefix (rel, "SIP/2.0 180"));
  g_autofree char *tag = to_tag (rel), *rseq = sf_test_header (rel, "RSeq");
  st_request (t, "UPDATE", 2, tag, "", "v=0\r\no=peer 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                                       "m=audio 6002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n");
  g_autofree char *up = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (up != NULL && g_str_has_prefix (up, "SIP/2.0 200"));
  CU_ASSERT_EQUAL (o_version (up), o_version (rel) + 1);
  CU_ASSERT_PTR_NOT_NULL (strstr (up, "a=recvonly"));
  g_autofree char *rack = g_strdup_printf ("RAck: %s 1 INVITE\r\n", rseq);
  st_request (t, "PRACK", 3, tag, rack, NULL);
  g_autofree char *pr = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (pr != NULL && g_str_has_prefix (pr, "SIP/2.0 200"));
  sf_endpoint_post (t->env->ep, st_call (t), sf_event_new (SF_EV_DEVICE, "answer", NULL));
  sf_endpoint_drain (t->env->ep);
  sf_endpoint_advance (t->env->ep, 0);
  g_autofree char *ok = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  CU_ASSERT_EQUAL (o_version (ok), o_version (up));
  CU_ASSERT_STRING_EQUAL (body_of (ok), body_of (up));
  st_free (t);
}

/* Attack: we refresh by re-INVITE; the peer refuses our hold with 488 (the
 * session as it was, RFC 3264 8: we stay in the call, sendrecv).  Our refresh
 * must repeat the SDP in force (RFC 4028 10, RFC 6337 5.3): it once repeated
 * the refused hold's, sendonly, and the peer that accepted it stopped
 * sending to us while we believed the call up. */
static void
refused_hold_refresh (void)
{
  St *t = st_setup ();
  SfInstance *call = st_call_out (t, ST_TIMER_2XX);
  sf_endpoint_advance (t->env->ep, 10000);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "hold", NULL));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *hold = st_last_invite (t);
  CU_ASSERT_TRUE_FATAL (hold != NULL && strstr (hold, "a=sendonly") != NULL);
  st_reply_tagged (t, hold, 488, "", NULL);
  g_free (st_last_invite (t)); /* the ACK */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  sf_endpoint_advance (t->env->ep, 35000); /* 45 s: our refresh */
  g_autofree char *refresh = st_last_invite (t);
  CU_ASSERT_TRUE_FATAL (refresh != NULL);
  g_autofree char *cs = sf_test_header (refresh, "CSeq");
  CU_ASSERT_STRING_EQUAL (cs, "3 INVITE");
  CU_ASSERT_PTR_NULL (strstr (refresh, "a=sendonly"));
  CU_ASSERT_PTR_NOT_NULL (strstr (refresh, "a=sendrecv"));
  CU_ASSERT_EQUAL (o_version (refresh) + 1, o_version (hold)); /* the INVITE's SDP, as it went */
  st_reply_tagged (t, refresh, 200, ST_TIMER_2XX, ST_ANSWER);
  g_free (st_last_invite (t));
  /* and the next one, after that refresh was answered */
  sf_endpoint_advance (t->env->ep, 45000);
  g_autofree char *again = st_last_invite (t);
  CU_ASSERT_TRUE_FATAL (again != NULL);
  CU_ASSERT_PTR_NOT_NULL (strstr (again, "a=sendrecv"));
  CU_ASSERT_EQUAL (o_version (again), o_version (refresh));
  st_reply_tagged (t, again, 200, ST_TIMER_2XX, ST_ANSWER);
  g_free (st_last_invite (t));
  st_free (t);
}

/* The datagrams that came starting with @method (the others read and
 * dropped); the last of them in *@last (transfer full) when @last. */
static guint
st_count (St *t, const char *method, char **last)
{
  guint n = 0;
  while (!sf_test_peer_quiet (t->peer)) {
    char buf[8192];
    gssize got = g_socket_receive (t->peer, buf, sizeof buf - 1, NULL, NULL);
    if (got <= 0)
      break;
    buf[got] = 0;
    if (!g_str_has_prefix (buf, method))
      continue;
    n++;
    if (last != NULL) {
      g_free (*last);
      *last = g_strdup (buf);
    }
  }
  return n;
}

/* Attack: a callee floods reliable 183s (RSeq 1, 2, 3... in one early
 * dialog) and never answers our PRACKs.  RFC 3262 3: the UAS sends no
 * reliable 1xx before the previous one is PRACKed; one whose PRACK has not
 * been answered is discarded (its UAS retransmits it).  Each once got its own
 * PRACK: a client transaction each, retransmitted for 32 s, toward the
 * Contact the callee chose (unbounded state, and a reflection). */
static void
rel1xx_flood (void)
{
  St *t = st_setup ();
  SfInstance *call = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  g_autofree char *uri = g_strdup_printf ("sip:peer@127.0.0.1:%u", t->port);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "call", uri));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *inv = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  for (guint rseq = 1; rseq <= 20; rseq++) {
    g_autofree char *extra = g_strdup_printf ("Require: 100rel\r\nRSeq: %u\r\n", rseq);
    st_reply_tagged (t, inv, 183, extra, ST_ANSWER);
  }
  g_autofree char *prack = NULL;
  CU_ASSERT_EQUAL (st_count (t, "PRACK ", &prack), 1);
  CU_ASSERT_TRUE_FATAL (prack != NULL);
  g_autofree char *rack = sf_test_header (prack, "RAck"), *cs = sf_test_header (inv, "CSeq");
  CU_ASSERT_TRUE (rack != NULL && g_str_has_prefix (rack, "1 1 INVITE"));
  /* its 200; the 183 of RSeq 2 again (the UAS retransmits it): PRACKed */
  st_reply_tagged (t, prack, 200, "", NULL);
  st_reply_tagged (t, inv, 183, "Require: 100rel\r\nRSeq: 2\r\n", ST_ANSWER);
  g_autofree char *prack2 = NULL;
  CU_ASSERT_EQUAL (st_count (t, "PRACK ", &prack2), 1);
  g_autofree char *rack2 = prack2 != NULL ? sf_test_header (prack2, "RAck") : NULL;
  CU_ASSERT_TRUE (rack2 != NULL && g_str_has_prefix (rack2, "2 1 INVITE"));
  /* no answer to that one: the PRACK times out (32 s), and the next 1xx gets its PRACK */
  sf_endpoint_advance (t->env->ep, 33000);
  st_count (t, "PRACK ", NULL);
  st_reply_tagged (t, inv, 183, "Require: 100rel\r\nRSeq: 3\r\n", ST_ANSWER);
  CU_ASSERT_EQUAL (st_count (t, "PRACK ", NULL), 1);
  st_free (t);
}

/* Attack: after our reliable 180, the peer's PRACK (CSeq 2) and an UPDATE
 * without SDP (CSeq 3) moving its Contact to another port, in the early
 * dialog; we answer.  The dialog confirmed by our 200 is the same dialog
 * (RFC 3261 12.1): the UPDATE refreshed its target (RFC 3311 5.2) and its
 * remote CSeq is 3.  The 200 once made it anew from the INVITE: our BYE went
 * to the INVITE's Contact, and a request with CSeq 2 was taken (12.2.2: 500). */
static void
early_target_refresh (void)
{
  St *t = st_setup ();
  g_autoptr (GInetSocketAddress) mto = NULL;
  guint mport = 0;
  GSocket *moved = sf_test_peer_new (t->env, &mto, &mport);
  g_autofree char *inv = g_strdup_printf (ST_INVITE "Require: 100rel\r\nContent-Type: application/sdp\r\n"
                                                    "Content-Length: %zu\r\n\r\n%s", strlen (ST_OFFER), ST_OFFER);
  sf_test_stack_send (t, inv);
  g_autofree char *rel = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (rel != NULL && g_str_has_prefix (rel, "SIP/2.0 180"));
  g_autofree char *tag = to_tag (rel), *rseq = sf_test_header (rel, "RSeq");
  g_autofree char *rack = g_strdup_printf ("RAck: %s 1 INVITE\r\n", rseq);
  st_request (t, "PRACK", 2, tag, rack, NULL);
  g_autofree char *pr = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (pr != NULL && g_str_has_prefix (pr, "SIP/2.0 200"));
  g_autofree char *update = g_strdup_printf (
    "UPDATE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKmove3\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\n"
    "Call-ID: st-test@127.0.0.1\r\nCSeq: 3 UPDATE\r\nContact: <sip:peer@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    tag, mport);
  sf_test_stack_send (t, update);
  g_autofree char *up = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (up != NULL && g_str_has_prefix (up, "SIP/2.0 200"));
  SfInstance *call = st_call (t);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "answer", NULL));
  sf_endpoint_drain (t->env->ep);
  sf_endpoint_advance (t->env->ep, 0);
  g_autofree char *ok = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKack1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: st-test@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, ack);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  /* an OPTIONS with CSeq 2: out of order after the UPDATE's 3 */
  st_request (t, "OPTIONS", 2, tag, "", NULL);
  g_autofree char *opt = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (opt != NULL && g_str_has_prefix (opt, "SIP/2.0 500"));
  /* our BYE goes to the UPDATE's Contact */
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "hangup", NULL));
  sf_endpoint_drain (t->env->ep);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  CU_ASSERT_TRUE_FATAL (sf_test_peer_wait (moved));
  char buf[4096];
  gssize n = g_socket_receive (moved, buf, sizeof buf - 1, NULL, NULL);
  CU_ASSERT_TRUE (n > 4 && strncmp (buf, "BYE ", 4) == 0);
  g_object_unref (moved);
  st_free (t);
}

/* A @status response to @req with To tag @tag, Contact port @cport and
 * @extra lines, @sdp (nullable). */
static void
st_reply_from (St *t, const char *req, guint status, const char *tag, guint cport, const char *extra, const char *sdp)
{
  g_autofree char *via = sf_test_header (req, "Via"), *from = sf_test_header (req, "From"), *to = sf_test_header (req, "To"), *cseq = sf_test_header (req, "CSeq"),
                  *cid = sf_test_header (req, "Call-ID");
  g_autofree char *bare = g_strndup (to, strstr (to, ";tag=") != NULL ? (gsize) (strstr (to, ";tag=") - to) : strlen (to));
  g_autofree char *resp = g_strdup_printf (
    "SIP/2.0 %u Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=%s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
    "Contact: <sip:peer@127.0.0.1:%u>\r\n%s%sContent-Length: %zu\r\n\r\n%s", status, via, from, bare, tag, cid,
    cseq, cport, extra, sdp != NULL ? "Content-Type: application/sdp\r\n" : "", sdp != NULL ? strlen (sdp) : 0,
    sdp != NULL ? sdp : "");
  sf_test_stack_send (t, resp);
}

/* Attack: two forks answer our INVITE; fork A sends a reliable 183 with the
 * answer (PRACKed), we send an UPDATE with a new offer in A's early dialog;
 * fork B's 200 confirms the call with B.  A then answers our UPDATE 200 with
 * its SDP and a Contact of its choosing.  That response belongs to A's early
 * dialog, not to the call's: it once refreshed the target of B's dialog (our
 * BYE went where A said) and moved our media to A's SDP. */
static void
fork_update_hijack (void)
{
  St *t = st_setup ();
  g_autoptr (GInetSocketAddress) vto = NULL;
  guint vport = 0;
  GSocket *victim = sf_test_peer_new (t->env, &vto, &vport);
  SfInstance *call = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  g_autofree char *uri = g_strdup_printf ("sip:peer@127.0.0.1:%u", t->port);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "call", uri));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *inv = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  st_reply_from (t, inv, 183, "forkA", t->port, "Require: 100rel\r\nRSeq: 1\r\n", ST_ANSWER);
  g_autofree char *prack = NULL;
  CU_ASSERT_EQUAL (st_count (t, "PRACK ", &prack), 1);
  CU_ASSERT_TRUE_FATAL (prack != NULL);
  st_reply_from (t, prack, 200, "forkA", t->port, "", NULL);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "update", NULL));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *update = NULL;
  CU_ASSERT_EQUAL (st_count (t, "UPDATE ", &update), 1);
  CU_ASSERT_TRUE_FATAL (update != NULL);
  /* fork B answers the INVITE */
  st_reply_from (t, inv, 200, "forkB", t->port, "", ST_ANSWER);
  g_autofree char *ack = NULL;
  CU_ASSERT_EQUAL (st_count (t, "ACK ", &ack), 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  guint media = sf_test_count (t->env, "\"event\":\"media\"", NULL);
  /* fork A answers our UPDATE, its Contact the victim's, its SDP elsewhere */
  st_reply_from (t, update, 200, "forkA", vport, "",
                 "v=0\r\no=peer 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                 "m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"media\"", NULL), media);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"remote\":\"127.0.0.1:7000\"", NULL), 0);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  /* our BYE goes to B, not to where A said */
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "hangup", NULL));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *bye = NULL;
  CU_ASSERT_EQUAL (st_count (t, "BYE ", &bye), 1);
  CU_ASSERT_TRUE (sf_test_peer_quiet (victim));
  if (bye != NULL)
    st_reply_from (t, bye, 200, "forkB", t->port, "", NULL);
  g_object_unref (victim);
  st_free (t);
}

/* Attack: a caller requires 100rel and we answer at once (ua.auto_answer = 0):
 * the 200 waits for the PRACK of our reliable 180.  The PRACK comes with an
 * offer we cannot take (488): the 180 is acknowledged all the same, so the
 * held answer must go.  It once stayed held: the call rang for ever (no timer
 * in Ringing), each such call holding a slot of ua.max_calls. */
static void
prack_bad_offer_answer (void)
{
  St *t = st_setup ();
  g_assert (sf_config_set (t->env->cfg, "ua.auto_answer=0", NULL));
  g_autofree char *inv = g_strdup_printf (ST_INVITE "Require: 100rel\r\nContent-Type: application/sdp\r\n"
                                                    "Content-Length: %zu\r\n\r\n%s", strlen (ST_OFFER), ST_OFFER);
  sf_test_stack_send (t, inv);
  g_autofree char *rel = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (rel != NULL && g_str_has_prefix (rel, "SIP/2.0 180"));
  sf_endpoint_advance (t->env->ep, 0); /* timer:answer: held until the PRACK */
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  g_autofree char *tag = to_tag (rel), *rseq = sf_test_header (rel, "RSeq");
  g_autofree char *rack = g_strdup_printf ("RAck: %s 1 INVITE\r\n", rseq);
  st_request (t, "PRACK", 2, tag, rack, "v=0\r\no=peer 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                                       "t=0 0\r\nm=audio 6000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n");
  g_autofree char *pr = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (pr != NULL && g_str_has_prefix (pr, "SIP/2.0 "));
  sf_endpoint_advance (t->env->ep, 0);
  g_autofree char *ok = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  g_autofree char *cs = sf_test_header (ok, "CSeq");
  CU_ASSERT_STRING_EQUAL (cs, "1 INVITE");
  CU_ASSERT_STRING_EQUAL (body_of (ok), body_of (rel)); /* the session as the 180 set it */
  st_free (t);
}

/* Attack: a Session-Expires (or Min-SE) of 5000 characters.  Our 400 named it
 * with its value in the reason phrase, and a start line that long is not a
 * message (the builder reparses it): OpSessionCheck failed, the INVITE got
 * no answer (the transaction's guard 500 after 480*T1) and the call instance
 * stayed in Idle for good, one per such INVITE.  It must get its 400 naming
 * the header, and the instance must end. */
static void
huge_session_expires (void)
{
  St *t = st_setup ();
  const char *const names[] = { "Session-Expires", "Min-SE" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *junk = g_strnfill (5000, 'a');
    g_autofree char *inv = g_strdup_printf (
      "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKhuge%u\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>\r\n"
      "Call-ID: huge%u@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\n"
      "Supported: timer\r\n%s: 1%s\r\nContent-Length: 0\r\n\r\n", i, i, names[i], junk);
    sf_test_stack_send (t, inv);
    g_autofree char *r = sf_test_stack_recv (t);
    CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, "SIP/2.0 400"));
    g_autofree char *line = g_strndup (r != NULL ? r : "", strcspn (r != NULL ? r : "", "\r"));
    CU_ASSERT_PTR_NOT_NULL (strstr (line, names[i]));
    CU_ASSERT_TRUE (strlen (line) < 300);
  }
  /* past the transactions' guard (480*T1) and Timer H (64*T1): the ACKs never came */
  for (int i = 0; i < 300; i++)
    sf_endpoint_advance (t->env->ep, 1000);
  g_autoptr (GPtrArray) left = sf_endpoint_instances (t->env->ep);
  for (guint i = 0; i < left->len; i++)
    g_printerr ("left: %s in %s\n", sf_instance_handle (left->pdata[i]), sf_instance_state (left->pdata[i]));
  CU_ASSERT_EQUAL (left->len, 0);
  st_free (t);
}

/* The peer's in-dialog request @method with CSeq @n, whose answer fails at
 * the turn's end (sends batched, the first one refused). */
static void
peer_request_fails (St *t, const char *method, guint n, const char *tag)
{
  SfSipTransport *tp = sf_stack_transport (t->stack);
  sf_sip_transport_set_udp_batch (tp, TRUE);
  sf_sip_transport_fail_sends (tp, EINVAL, 1);
  st_request (t, method, n, tag, "", NULL);
  for (int i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  sf_sip_transport_flush (tp);
  sf_endpoint_drain (t->env->ep);
  sf_sip_transport_set_udp_batch (tp, FALSE);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", NULL), 1);
}

/* Our refresh re-INVITE (CSeq n) is pending; the peer sends its own re-INVITE
 * with the same CSeq number n (its own CSeq space, 12.2.1.1), whose 491 cannot
 * be sent (the send fails at the turn's end).  The server transaction's
 * failure reaches the call with the peer's request: it is not the failure of
 * our refresh (taken by method and CSeq number, it ended the call with a BYE). */
static void
refresh_peer_request_fails (void)
{
  St *t = st_setup ();
  g_autofree char *ok = call_up (t, "90;refresher=uas");
  g_autofree char *tag = to_tag (ok);
  sf_endpoint_advance (t->env->ep, 45000);
  g_autofree char *inv = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  g_autofree char *cseq = sf_test_header (inv, "CSeq");
  guint n = (guint) g_ascii_strtoull (cseq, NULL, 10);
  peer_request_fails (t, "INVITE", n, tag);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"session_refresh_failed\"", NULL), 0);
  CU_ASSERT_PTR_NOT_NULL (st_call (t));
  g_autofree char *next = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (next == NULL || !g_str_has_prefix (next, "BYE "));
  st_free (t);
}

/* The same with a MESSAGE in the dialog (RFC 3428): ours (CSeq n) waits for
 * its answer when the peer's own MESSAGE with CSeq n comes, whose answer
 * cannot be sent.  That failure is not ours: no message_sent for it (taken by
 * method, it said ours failed with 503). */
static void
dialog_message_peer_fails (void)
{
  St *t = st_setup ();
  g_autofree char *ok = call_up (t, "90;refresher=uas");
  g_autofree char *tag = to_tag (ok);
  sf_endpoint_post (t->env->ep, st_call (t), sf_event_new (SF_EV_DEVICE, "message", "hello"));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *msg = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (msg != NULL && g_str_has_prefix (msg, "MESSAGE "));
  g_autofree char *cseq = sf_test_header (msg, "CSeq");
  guint n = (guint) g_ascii_strtoull (cseq, NULL, 10);
  peer_request_fails (t, "MESSAGE", n, tag);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"message_sent\"", NULL), 0);
  st_free (t);
}

void
sf_test_register_ua_timer (void)
{
  CU_pSuite s = CU_add_suite ("ua-timer", NULL, NULL);
  SF_ADD_TEST (s, parse_session_expires);
  SF_ADD_TEST (s, parse_min_se);
  SF_ADD_TEST (s, parse_message);
  SF_ADD_TEST (s, answer);
  SF_ADD_TEST (s, arithmetic);
  SF_ADD_TEST (s, expires);
  SF_ADD_TEST (s, refresher);
  SF_ADD_TEST (s, hold_refreshes);
  SF_ADD_TEST (s, update_refresh);
  SF_ADD_TEST (s, too_small);
  SF_ADD_TEST (s, hold_glare_refresh);
  SF_ADD_TEST (s, update_early_2xx);
  SF_ADD_TEST (s, refused_hold_refresh);
  SF_ADD_TEST (s, rel1xx_flood);
  SF_ADD_TEST (s, early_target_refresh);
  SF_ADD_TEST (s, fork_update_hijack);
  SF_ADD_TEST (s, prack_bad_offer_answer);
  SF_ADD_TEST (s, huge_session_expires);
  SF_ADD_TEST (s, refresh_peer_request_fails);
  SF_ADD_TEST (s, dialog_message_peer_fails);
}
