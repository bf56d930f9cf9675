/* test-ua-refer.c: the parsers of REFER (RFC 3515, RFC 4488;
 * operators/ua/sf-refer.c).
 *  - Refer-To: name-addr with a display name and params, addr-spec, a
 *    method parameter, a maddr parameter (kept for the policy), another scheme, an embedded Replaces unescaped; empty,
 *    no '>', junk after it, '?' outside brackets, a bad URI, two Replaces,
 *    a Replaces with CR LF or NUL or too long: refused
 *  - Refer-Sub: true, false, any case, with params; other words, junk: refused
 *  - sipfrag: a Status-Line with or without its CRLF, header lines after it;
 *    empty, another version, a status out of range, a bare LF, a control
 *    character, a NUL, an over-long reason: refused
 *  - the attended Refer-To: Replaces escaped, read back by the parser
 *  - transferor_notify (the UA on the fake clock, a peer socket plays the
 *    transferee): a NOTIFY without id for our first REFER in the dialog is
 *    taken (RFC 3515 2.4.6); its active;expires=4294967295 does not stretch
 *    the subscription past our own bound (SF_REFER_EXPIRES); a second REFER's
 *    NOTIFY without id (a forged 200 sipfrag) gets 481 and the call stays
 *  - transferor_call_ends_first: a 200 sipfrag in an active NOTIFY BYEs the
 *    call (a higher CSeq than the REFER's); the subscription outlives the
 *    call (RFC 5057), takes the terminating NOTIFY; then 481
 *  - transferor_call2_gone: device:refer naming a CALL2 that ended since the
 *    command: no REFER (no Refer-To made of a handle), transfer failed
 *  - transferor_refer_fails: our REFER lost (408 after Timer F) or refused
 *    (491): transfer failed, the instance ends, the call stays
 *  - transferee_reason: the referred call's 486 with a 600-byte Latin-1
 *    reason phrase reaches the transferor as a sipfrag its parser takes; a
 *    folded Referred-By goes in the referred INVITE unfolded, a control
 *    byte (a quoted-pair's) a space
 *  - transferee_never_answered: the target rings for ever (no_answer_timeout
 *    off): each NOTIFY's expires= what is left (120, then 90 for the 180
 *    30 s later); at SF_REFER_EXPIRES the final NOTIFY (timeout, 180) and a
 *    CANCEL
 *  - transferee_call_ends_first: the transferor's BYE before the final
 *    NOTIFY: it goes in the dialog all the same (RFC 5057), a 481 ends it
 *  - transferee_early: a REFER in an early dialog (our 180 out): 481
 *  - transferee_policy_tricks: same_domain against a trailing dot, another
 *    address, our host as user, display name, parameter or header parameter,
 *    a foreign maddr (403); two @, an escaped host, params after headers (400)
 *  - transferee_max_calls: a REFER when ua.max_calls calls are alive: 503
 *    (referred calls could chain without end); with room: followed
 *  - transferee_redirect: the referred call's 302 is followed to our domain
 *    only (same_domain): a foreign Contact, or ours with a foreign maddr, is
 *    passed over */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-refer.h"
#include "states/sf-instance.h"
#include "states/sf-machine.h"
#include <string.h>

static gboolean
refer_to (const char *text, SfReferTo *out)
{
  return sf_refer_parse_refer_to (sf_sip_str (text, strlen (text)), out, NULL);
}

static void
refer_to_values (void)
{
  g_auto (SfReferTo) r = { 0 };
  CU_ASSERT_TRUE (refer_to ("\"Carol C\" <sip:carol@Example.COM:5070;transport=udp>;foo=bar", &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@Example.COM:5070;transport=udp");
  CU_ASSERT_STRING_EQUAL (r.host, "Example.COM");
  CU_ASSERT_TRUE (r.sip);
  CU_ASSERT_PTR_NULL (r.method);
  CU_ASSERT_PTR_NULL (r.replaces);
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("sip:carol@example.com", &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@example.com");
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@[::1]:5060;method=BYE>", &r));
  CU_ASSERT_STRING_EQUAL (r.method, "BYE");
  CU_ASSERT_STRING_EQUAL (r.host, "::1");
  sf_refer_to_clear (&r);
  /* maddr (where the INVITE would go instead of the host): kept for the policy */
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com;lr;maddr=[2001:db8::1]>", &r));
  CU_ASSERT_STRING_EQUAL (r.host, "example.com");
  CU_ASSERT_STRING_EQUAL (r.maddr, "2001:db8::1");
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com;maddr>", &r));
  CU_ASSERT_STRING_EQUAL (r.maddr, "");
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com>", &r));
  CU_ASSERT_PTR_NULL (r.maddr);
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<mailto:carol@example.com>", &r));
  CU_ASSERT_FALSE (r.sip);
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2&Subject=x>", &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@example.com");
  CU_ASSERT_STRING_EQUAL (r.replaces, "abc@h;to-tag=1;from-tag=2");
  sf_refer_to_clear (&r);
  g_autofree char *big = g_strdup_printf ("<sip:c@h?Replaces=%0*d>", SF_REFER_MAX_REPLACES + 1, 0);
  const char *bad[] = { "", "  ", "<sip:carol@example.com", "<sip:carol@example.com> junk",
                        "sip:carol@example.com?Replaces=x", "<sip:>", "\"open <sip:a@b>",
                        "<sip:c@h?Replaces=a&Replaces=b>", "<sip:c@h?Replaces=a%0D%0AVia:x>", "<sip:c@h?Replaces=a%00b>",
                        "<sip:c@h?Replaces=>", big };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    SfReferTo b = { 0 };
    CU_ASSERT_FALSE (refer_to (bad[i], &b));
    CU_ASSERT_PTR_NULL (b.uri);
    CU_ASSERT_PTR_NULL (b.replaces);
  }
  /* a NUL inside the value (it came from the network with its length) */
  SfReferTo b = { 0 };
  CU_ASSERT_FALSE (sf_refer_parse_refer_to (sf_sip_str ("<sip:a@b>\0x", 11), &b, NULL));
}

static gboolean
refer_sub (const char *text, gboolean *v)
{
  return sf_refer_parse_refer_sub (sf_sip_str (text, strlen (text)), v, NULL);
}

static void
refer_sub_values (void)
{
  gboolean v = TRUE;
  CU_ASSERT_TRUE (refer_sub ("false", &v));
  CU_ASSERT_FALSE (v);
  CU_ASSERT_TRUE (refer_sub (" TRUE ;x=1", &v));
  CU_ASSERT_TRUE (v);
  CU_ASSERT_TRUE (refer_sub ("False", &v));
  CU_ASSERT_FALSE (v);
  const char *bad[] = { "", "maybe", "truex", "false x", "1", "t rue" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    CU_ASSERT_FALSE (refer_sub (bad[i], &v));
}

static gboolean
frag (const char *text, gsize len, guint *status, char **reason)
{
  return sf_refer_parse_sipfrag (text, len, status, reason, NULL);
}

static void
sipfrag_values (void)
{
  guint st = 0;
  char *r = NULL;
  CU_ASSERT_TRUE (frag ("SIP/2.0 100 Trying\r\n", 20, &st, &r));
  CU_ASSERT_EQUAL (st, 100);
  CU_ASSERT_STRING_EQUAL (r, "Trying");
  g_free (r);
  const char *h = "SIP/2.0 200 OK\r\nContact: <sip:c@h>\r\n";
  CU_ASSERT_TRUE (frag (h, strlen (h), &st, &r));
  CU_ASSERT_EQUAL (st, 200);
  CU_ASSERT_STRING_EQUAL (r, "OK");
  g_free (r);
  CU_ASSERT_TRUE (frag ("SIP/2.0 486 Busy Here", 21, &st, &r)); /* the body's end ends the line */
  CU_ASSERT_EQUAL (st, 486);
  CU_ASSERT_STRING_EQUAL (r, "Busy Here");
  g_free (r);
  CU_ASSERT_TRUE (frag ("SIP/2.0 603 ", 12, &st, &r)); /* an empty reason phrase */
  CU_ASSERT_STRING_EQUAL (r, "");
  g_free (r);
  g_autofree char *longr = g_strdup_printf ("SIP/2.0 200 %0*d\r\n", SF_REFER_MAX_REASON + 1, 0);
  const char *bad[] = { "", "SIP/2.1 200 OK\r\n", "SIP/2.0 099 X\r\n", "SIP/2.0 700 X\r\n", "SIP/2.0 20 OK\r\n",
                        "SIP/2.0 200OK\r\n", "SIP/2.0 200 OK\n", "SIP/2.0 200 OK\r", "SIP/2.0 200 O\001K\r\n",
                        "INVITE sip:a@b SIP/2.0\r\n", longr };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    r = NULL;
    CU_ASSERT_FALSE (frag (bad[i], strlen (bad[i]), &st, &r));
    CU_ASSERT_PTR_NULL (r);
  }
  r = NULL;
  CU_ASSERT_FALSE (frag ("SIP/2.0 200 OK\r\n\0", 17, &st, &r));
  CU_ASSERT_FALSE (frag (NULL, 0, &st, &r));
  CU_ASSERT_PTR_NULL (r);
}

static void
attended_refer_to (void)
{
  g_autofree char *v = sf_refer_to_with_replaces ("sip:carol@127.0.0.1:5070", "a84b4c76e66710@pc33", "c2", "a 1");
  CU_ASSERT_STRING_EQUAL (v, "<sip:carol@127.0.0.1:5070?Replaces=a84b4c76e66710%40pc33%3Bto-tag%3Dc2%3Bfrom-tag%3Da%201>");
  g_auto (SfReferTo) r = { 0 };
  CU_ASSERT_TRUE (refer_to (v, &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@127.0.0.1:5070");
  CU_ASSERT_STRING_EQUAL (r.replaces, "a84b4c76e66710@pc33;to-tag=c2;from-tag=a 1");
}

/* ---- the transferor on the fake clock, a peer socket the transferee ---- */

typedef SfTestStack St;

/* A response @status_line to the request @req (its Via, From, To, Call-ID, CSeq). */
static void
st_reply_tag (St *t, const char *req, const char *status_line, const char *to_tag)
{
  g_autofree char *via = sf_test_header (req, "Via"), *from = sf_test_header (req, "From"), *to0 = sf_test_header (req, "To");
  g_autofree char *to = to_tag != NULL ? g_strdup_printf ("%s;tag=%s", to0, to_tag) : g_strdup (to0);
  g_autofree char *cid = sf_test_header (req, "Call-ID"), *cseq = sf_test_header (req, "CSeq");
  g_autofree char *r = g_strdup_printf ("SIP/2.0 %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
                                        "Contact: <sip:peer@127.0.0.1:%%PORT%%>\r\nContent-Length: 0\r\n\r\n",
                                        status_line, via, from, to, cid, cseq);
  sf_test_stack_send (t, r);
}

static void
st_reply (St *t, const char *req, const char *status_line)
{
  st_reply_tag (t, req, status_line, NULL);
}

#define RT_OFFER                                                                                       \
  "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n" \
  "a=rtpmap:0 PCMU/8000\r\n"

/* The peer's NOTIFY number @cseq in the call's dialog (our tag @tag), with
 * @event, @state and the sipfrag @frag; the UA's answer (transfer full). */
static char *
st_notify (St *t, const char *tag, guint cseq, const char *event, const char *state, const char *frag)
{
  g_autofree char *n = g_strdup_printf (
    "NOTIFY sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrn%u\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: %u NOTIFY\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nEvent: %s\r\nSubscription-State: %s\r\n"
    "Content-Type: message/sipfrag\r\nContent-Length: %zu\r\n\r\n%s", cseq, tag, cseq, event, state, strlen (frag), frag);
  sf_test_stack_send (t, n);
  return sf_test_stack_recv (t);
}

/* 'transfer CALL sip:carol@127.0.0.1' as the control makes it: a new
 * instance of the subscription machine, device:refer; the REFER the peer
 * gets (transfer full). */
static char *
st_transfer (St *t, SfInstance *call)
{
  SfMachine *subm = sf_machine_lookup_import (t->tu, "subscription");
  CU_ASSERT_PTR_NOT_NULL_FATAL (subm);
  SfInstance *sub = sf_endpoint_create (t->env->ep, subm, NULL, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (sub);
  g_autofree char *arg = g_strdup_printf ("%s sip:carol@127.0.0.1", sf_instance_handle (call));
  sf_endpoint_post (t->env->ep, sub, sf_event_new (SF_EV_DEVICE, "refer", arg));
  sf_endpoint_advance (t->env->ep, 0);
  return sf_test_stack_recv (t);
}

/* The UA (ua.uri sip:bob@127.0.0.1) on the fake clock, called by the peer
 * and answering: *@call the call's instance, *@tag our tag (transfer full). */
static St *
st_call (SfInstance **call_out, char **tag_out)
{
  SfTestEnv *env = sf_test_env_new ();
  g_assert (sf_config_set (env->cfg, "media.backend=null", NULL));
  g_assert (sf_config_set (env->cfg, "ua.uri=sip:bob@127.0.0.1", NULL));
  g_assert (sf_config_set (env->cfg, "ua.auto_answer=0", NULL));
  sf_endpoint_attach (env->ep, NULL);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/ua.xml", NULL);
  g_assert (tu != NULL);
  St *t = sf_test_stack_new (env, tu);
  /* the peer calls us; we answer */
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrt1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nContent-Type: application/sdp\r\n"
    "Content-Length: %zu\r\n\r\n%s", strlen (RT_OFFER), RT_OFFER);
  sf_test_stack_send (t, inv);
  g_autofree char *ringing = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (ringing != NULL && g_str_has_prefix (ringing, "SIP/2.0 180"));
  sf_endpoint_advance (env->ep, 0);
  g_autofree char *ok = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  g_autofree char *to = sf_test_header (ok, "To");
  const char *tg = strstr (to, ";tag=");
  CU_ASSERT_PTR_NOT_NULL_FATAL (tg);
  g_autofree char *tag = g_strndup (tg + 5, strcspn (tg + 5, ";>"));
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrtack\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, ack);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  SfInstance *call = NULL;
  g_autoptr (GPtrArray) all = sf_endpoint_instances (env->ep);
  for (guint i = 0; i < all->len; i++)
    if (sf_instance_machine (all->pdata[i]) == tu && !sf_instance_ended (all->pdata[i]))
      call = all->pdata[i];
  CU_ASSERT_PTR_NOT_NULL_FATAL (call);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  *call_out = call;
  *tag_out = g_strdup (tag);
  return t;
}

static void
transferor_notify (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  SfTestEnv *env = t->env;

  /* a NOTIFY in the call's dialog before any REFER: answered, nothing else */
  g_autofree char *a0 = st_notify (t, tag, 2, "refer", "active;expires=60", "SIP/2.0 200 OK\r\n");
  CU_ASSERT_TRUE (a0 != NULL && g_str_has_prefix (a0, "SIP/2.0 4"));
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  /* our first REFER in the dialog: 202; its NOTIFYs may omit the id (RFC
   * 3515 2.4.6) */
  g_autofree char *refer = st_transfer (t, call);
  CU_ASSERT_TRUE_FATAL (refer != NULL && g_str_has_prefix (refer, "REFER "));
  st_reply (t, refer, "202 Accepted");
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  g_autofree char *a1 = st_notify (t, tag, 3, "refer", "active;expires=4294967295", "SIP/2.0 100 Trying\r\n");
  CU_ASSERT_TRUE (a1 != NULL && g_str_has_prefix (a1, "SIP/2.0 200"));
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"transfer\"", "\"state\":\"trying\"", NULL), 1);
  /* the notifier's expires does not keep us past our own bound */
  sf_endpoint_advance (env->ep, (guint64) SF_REFER_EXPIRES * 1000 - 1);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"subscription\"", "\"state\":\"terminated\"", NULL), 0);
  sf_endpoint_advance (env->ep, 1);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"subscription\"", "\"state\":\"terminated\"", NULL), 1);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer)); /* no BYE */

  /* a second REFER in the dialog: a NOTIFY without id is not its (481), so a
   * 200 sipfrag without id does not end the call */
  g_autofree char *refer2 = st_transfer (t, call);
  CU_ASSERT_TRUE_FATAL (refer2 != NULL && g_str_has_prefix (refer2, "REFER "));
  st_reply (t, refer2, "202 Accepted");
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  g_autofree char *a2 = st_notify (t, tag, 4, "refer", "terminated;reason=noresource", "SIP/2.0 200 OK\r\n");
  CU_ASSERT_TRUE (a2 != NULL && g_str_has_prefix (a2, "SIP/2.0 481"));
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer)); /* no BYE */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  /* with its id it is taken: the transfer succeeded, the call ends with BYE */
  g_autofree char *cs2 = sf_test_header (refer2, "CSeq");
  g_autofree char *ev2 = g_strdup_printf ("refer;id=%u", (guint) g_ascii_strtoull (cs2, NULL, 10));
  g_autofree char *a3 = st_notify (t, tag, 5, ev2, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n");
  CU_ASSERT_TRUE (a3 != NULL && g_str_has_prefix (a3, "SIP/2.0 200"));
  sf_endpoint_advance (env->ep, 0);
  g_autofree char *bye = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (bye != NULL && g_str_has_prefix (bye, "BYE "));
  sf_test_stack_free (t, NULL);
}

/* The next datagrams until one begins with each of @prefixes (NULL-ended;
 * at most 8 datagrams): the first of each (transfer full, in that order). */
static GPtrArray *
st_recv_set (St *t, const char *const *prefixes)
{
  GPtrArray *got = g_ptr_array_new_with_free_func (g_free);
  guint n = g_strv_length ((char **) prefixes), have = 0;
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (got, NULL);
  for (guint k = 0; k < 8 && have < n; k++) {
    char *m = sf_test_stack_recv (t);
    if (m == NULL)
      break;
    gboolean kept = FALSE;
    for (guint i = 0; i < n && !kept; i++)
      if (got->pdata[i] == NULL && g_str_has_prefix (m, prefixes[i])) {
        got->pdata[i] = m;
        have++;
        kept = TRUE;
      }
    if (!kept)
      g_free (m);
  }
  return got;
}

/* The transferee's notifier passes the referred call's reason phrase on as
 * our own transferor's parser takes it: a target's 486 with a 600-byte
 * Latin-1 reason makes a sipfrag of at most SF_REFER_MAX_REASON bytes of
 * UTF-8, not a NOTIFY the transferor must refuse (400). */
static void
transferee_reason (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_autofree char *refer = g_strdup_printf (
    "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrr1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 2 REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: <sip:carol@127.0.0.1:%%PORT%%>\r\n"
    "Referred-By: \"p\\\001\" <sip:peer@127.0.0.1>\r\n Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKevil\r\n"
    "Content-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, refer);
  sf_endpoint_advance (t->env->ep, 0);
  const char *const first[] = { "SIP/2.0 202", "NOTIFY ", "INVITE ", NULL };
  g_autoptr (GPtrArray) got = st_recv_set (t, first);
  CU_ASSERT_TRUE_FATAL (got->pdata[0] != NULL && got->pdata[1] != NULL && got->pdata[2] != NULL);
  st_reply (t, got->pdata[1], "200 OK");
  /* the REFER's folded Referred-By reaches the INVITE unfolded: one line */
  g_autofree char *rb = sf_test_header (got->pdata[2], "Referred-By");
  CU_ASSERT_STRING_EQUAL (rb, "\"p\\ \" <sip:peer@127.0.0.1> Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKevil");
  CU_ASSERT_PTR_NULL (strstr (got->pdata[2], "\r\n Via"));
  /* the target refuses, its reason phrase long and Latin-1 ("Occup\xe9" ...) */
  GString *why = g_string_new ("486 ");
  while (why->len < 600)
    g_string_append (why, "Occup\xe9 ");
  st_reply_tag (t, got->pdata[2], why->str, "c1");
  g_string_free (why, TRUE);
  sf_endpoint_advance (t->env->ep, 0);
  const char *const last[] = { "NOTIFY ", NULL };
  g_autoptr (GPtrArray) fin = st_recv_set (t, last);
  CU_ASSERT_PTR_NOT_NULL_FATAL (fin->pdata[0]);
  const char *body = strstr (fin->pdata[0], "\r\n\r\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL (body);
  body += 4;
  guint status = 0;
  g_autofree char *reason = NULL;
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE (sf_refer_parse_sipfrag (body, strlen (body), &status, &reason, &error));
  if (error != NULL)
    g_printerr ("sipfrag: %s\n", error->message);
  CU_ASSERT_EQUAL (status, 486);
  CU_ASSERT_TRUE (reason != NULL && g_str_has_prefix (reason, "Occup\xef\xbf\xbd "));
  g_autofree char *ss = sf_test_header (fin->pdata[0], "Subscription-State");
  CU_ASSERT_STRING_EQUAL (ss, "terminated;reason=noresource");
  sf_test_stack_free (t, NULL);
}

/* ua.max_calls bounds referred calls: a REFER in the only call allowed gets
 * 503 (each referred call's peer could REFER it again: a chain of calls). */
static void
transferee_max_calls (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_assert (sf_config_set (t->env->cfg, "ua.max_calls=1", NULL));
  g_autofree char *refer = g_strdup_printf (
    "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrm1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 2 REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: <sip:carol@127.0.0.1:%%PORT%%>\r\n"
    "Content-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, refer);
  g_autofree char *r = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, "SIP/2.0 503 Too Many Calls"));
  sf_endpoint_advance (t->env->ep, 0);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer)); /* no NOTIFY, no INVITE */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"transfer\"", "\"state\":\"refused\"", "\"status\":503", NULL), 1);
  /* with room for one more call it is followed */
  g_assert (sf_config_set (t->env->cfg, "ua.max_calls=2", NULL));
  g_autofree char *refer2 = g_strdup_printf (
    "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrm2\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 3 REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: <sip:carol@127.0.0.1:%%PORT%%>\r\n"
    "Refer-Sub: false\r\nContent-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, refer2);
  sf_endpoint_advance (t->env->ep, 0);
  const char *const want[] = { "SIP/2.0 202", "INVITE ", NULL };
  g_autoptr (GPtrArray) got = st_recv_set (t, want);
  CU_ASSERT_TRUE (got->pdata[0] != NULL && got->pdata[1] != NULL);
  sf_test_stack_free (t, NULL);
}

/* RFC 5057: the call ends first (a 200 sipfrag in an active NOTIFY: our BYE),
 * the implicit subscription keeps the dialog (its reference) and takes the
 * NOTIFY that terminates it after the BYE; then the dialog is gone: 481. */
static void
transferor_call_ends_first (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_autofree char *handle = g_strdup (sf_instance_handle (call)); /* the instance goes when it ends */
  g_autofree char *refer = st_transfer (t, call);
  CU_ASSERT_TRUE_FATAL (refer != NULL && g_str_has_prefix (refer, "REFER "));
  st_reply (t, refer, "202 Accepted");
  g_autofree char *cs = sf_test_header (refer, "CSeq");
  guint rcseq = (guint) g_ascii_strtoull (cs, NULL, 10);
  g_autofree char *ev = g_strdup_printf ("refer;id=%u", rcseq);
  g_autofree char *a1 = st_notify (t, tag, 2, ev, "active;expires=60", "SIP/2.0 200 OK\r\n");
  CU_ASSERT_TRUE (a1 != NULL && g_str_has_prefix (a1, "SIP/2.0 200"));
  sf_endpoint_advance (t->env->ep, 0);
  g_autofree char *bye = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  g_autofree char *bcs = sf_test_header (bye, "CSeq");
  CU_ASSERT_TRUE (g_ascii_strtoull (bcs, NULL, 10) > rcseq); /* one CSeq space for the dialog's usages */
  st_reply (t, bye, "200 OK");
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  sf_endpoint_advance (t->env->ep, 0);
  SfInstance *left = sf_endpoint_lookup_handle (t->env->ep, handle);
  CU_ASSERT_TRUE (left == NULL || sf_instance_ended (left));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"call_end\"", "\"reason\":\"transferred\"", NULL), 1);
  /* the subscription outlives the BYE (RFC 5057 5.2) */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"subscription\"", "\"state\":\"terminated\"", NULL), 0);
  g_autofree char *a2 = st_notify (t, tag, 3, ev, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n");
  CU_ASSERT_TRUE (a2 != NULL && g_str_has_prefix (a2, "SIP/2.0 200"));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"subscription\"", "\"state\":\"terminated\"", NULL), 1);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer)); /* no second BYE */
  g_autofree char *a3 = st_notify (t, tag, 4, ev, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n");
  CU_ASSERT_TRUE (a3 != NULL && g_str_has_prefix (a3, "SIP/2.0 481"));
  sf_test_stack_free (t, NULL);
}

/* A referred call's 3xx is followed only where ua.refer lets a REFER send us
 * (same_domain): a foreign Contact (the better q) is passed over, ours taken. */
static void
transferee_redirect (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_autofree char *refer = g_strdup_printf (
    "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrd1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 2 REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: <sip:carol@127.0.0.1:%%PORT%%>\r\n"
    "Refer-Sub: false\r\nContent-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, refer);
  sf_endpoint_advance (t->env->ep, 0);
  const char *const want[] = { "SIP/2.0 202", "INVITE ", NULL };
  g_autoptr (GPtrArray) got = st_recv_set (t, want);
  CU_ASSERT_TRUE_FATAL (got->pdata[0] != NULL && got->pdata[1] != NULL);
  /* 302: a foreign target first (q=1), one of ours after it (q=0.5) */
  g_autofree char *via = sf_test_header (got->pdata[1], "Via"), *from = sf_test_header (got->pdata[1], "From"), *to = sf_test_header (got->pdata[1], "To");
  g_autofree char *cid = sf_test_header (got->pdata[1], "Call-ID"), *cseq = sf_test_header (got->pdata[1], "CSeq");
  g_autofree char *r302 = g_strdup_printf (
    "SIP/2.0 302 Moved Temporarily\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=c1\r\nCall-ID: %s\r\nCSeq: %s\r\n"
    "Contact: <sip:900@192.0.2.1>;q=1.0, <sip:dave@127.0.0.1:%%PORT%%;maddr=192.0.2.1>;q=0.9, "
    "<sip:dave@127.0.0.1:%%PORT%%>;q=0.5\r\nContent-Length: 0\r\n\r\n", via, from, to, cid, cseq);
  sf_test_stack_send (t, r302);
  CU_ASSERT_TRUE (sf_test_peer_wait (t->peer));
  sf_endpoint_advance (t->env->ep, 0);
  const char *const next[] = { "INVITE ", NULL };
  g_autoptr (GPtrArray) again = st_recv_set (t, next);
  CU_ASSERT_TRUE (again->pdata[0] != NULL && g_str_has_prefix (again->pdata[0], "INVITE sip:dave@127.0.0.1:"));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"redirect\"", "192.0.2.1", NULL), 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"redirect\"", "sip:dave@127.0.0.1", NULL), 1);
  sf_test_stack_free (t, NULL);
}

/* 'transfer CALL CALL2' whose CALL2 ended between the command and its event:
 * no REFER (its Refer-To would be the handle), a failed transfer event. */
static void
transferor_call2_gone (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  SfMachine *subm = sf_machine_lookup_import (t->tu, "subscription");
  SfInstance *sub = sf_endpoint_create (t->env->ep, subm, NULL, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (sub);
  g_autofree char *arg = g_strdup_printf ("%s c99", sf_instance_handle (call));
  sf_endpoint_post (t->env->ep, sub, sf_event_new (SF_EV_DEVICE, "refer", arg));
  sf_endpoint_advance (t->env->ep, 0);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"transfer\"", "\"state\":\"failed\"", "the second call has ended", NULL), 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  sf_test_stack_free (t, NULL);
}

/* A REFER in an early dialog (our 180 sent, not answered yet): 481, never a
 * 2xx (RFC 3515 2.4.2 follows REFERs in a confirmed dialog only here). */
static void
transferee_early (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_assert (sf_config_set (env->cfg, "media.backend=null", NULL));
  g_assert (sf_config_set (env->cfg, "ua.uri=sip:bob@127.0.0.1", NULL));
  sf_endpoint_attach (env->ep, NULL);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/ua.xml", NULL);
  g_assert (tu != NULL);
  St *t = sf_test_stack_new (env, tu);
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKre1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: re-test@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nContent-Type: application/sdp\r\n"
    "Content-Length: %zu\r\n\r\n%s", strlen (RT_OFFER), RT_OFFER);
  sf_test_stack_send (t, inv);
  g_autofree char *ringing = sf_test_stack_recv (t);
  CU_ASSERT_TRUE_FATAL (ringing != NULL && g_str_has_prefix (ringing, "SIP/2.0 180"));
  g_autofree char *to = sf_test_header (ringing, "To");
  const char *tg = strstr (to, ";tag=");
  CU_ASSERT_PTR_NOT_NULL_FATAL (tg);
  g_autofree char *refer = g_strdup_printf (
    "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKre2\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%.*s\r\nCall-ID: re-test@127.0.0.1\r\n"
    "CSeq: 2 REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: <sip:carol@127.0.0.1:%%PORT%%>\r\n"
    "Content-Length: 0\r\n\r\n", (int) strcspn (tg + 5, ";>"), tg + 5);
  sf_test_stack_send (t, refer);
  g_autofree char *r = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, "SIP/2.0 481"));
  if (r != NULL && !g_str_has_prefix (r, "SIP/2.0 481"))
    g_printerr ("early REFER: %.40s\n", r);
  sf_endpoint_advance (env->ep, 0);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer)); /* no NOTIFY, no INVITE */
  sf_test_stack_free (t, NULL);
}

/* Our REFER lost (Timer F) or refused (491): a failed transfer, the
 * subscription instance ends, the call stays and a new transfer can go. */
static void
transferor_refer_fails (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_autofree char *refer = st_transfer (t, call);
  CU_ASSERT_TRUE_FATAL (refer != NULL && g_str_has_prefix (refer, "REFER "));
  for (guint i = 0; i < 80; i++) { /* the retransmissions, then Timer F (64*T1) */
    sf_endpoint_advance (t->env->ep, 500);
    (void) sf_test_peer_quiet (t->peer); /* the main context run: what was sent is out */
    char buf[8192];
    while (g_socket_condition_check (t->peer, G_IO_IN) & G_IO_IN)
      (void) g_socket_receive (t->peer, buf, sizeof buf, NULL, NULL);
  }
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"transfer\"", "\"state\":\"failed\"", "\"status\":408", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"subscription\"", "\"state\":\"terminated\"", NULL), 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  g_autofree char *refer2 = st_transfer (t, call);
  CU_ASSERT_TRUE_FATAL (refer2 != NULL && g_str_has_prefix (refer2, "REFER "));
  st_reply (t, refer2, "491 Request Pending");
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"transfer\"", "\"state\":\"failed\"", "\"status\":491", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"subscription\"", "\"state\":\"terminated\"", NULL), 2);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  sf_test_stack_free (t, NULL);
}

/* A referred call that rings for ever (the target answers 180, never more;
 * ua.no_answer_timeout off): the notifier ends at its own bound with
 * terminated;reason=timeout and the last status, and the referred call is
 * cancelled then too (state a REFER made ends by a timer). */
static void
transferee_never_answered (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_assert (sf_config_set (t->env->cfg, "ua.no_answer_timeout=off", NULL));
  g_autofree char *refer = g_strdup_printf (
    "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrv1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 2 REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: <sip:carol@127.0.0.1:%%PORT%%>\r\n"
    "Content-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, refer);
  sf_endpoint_advance (t->env->ep, 0);
  const char *const first[] = { "SIP/2.0 202", "NOTIFY ", "INVITE ", NULL };
  g_autoptr (GPtrArray) got = st_recv_set (t, first);
  CU_ASSERT_TRUE_FATAL (got->pdata[0] != NULL && got->pdata[1] != NULL && got->pdata[2] != NULL);
  st_reply (t, got->pdata[1], "200 OK");
  g_autofree char *ss100 = sf_test_header (got->pdata[1], "Subscription-State");
  CU_ASSERT_STRING_EQUAL (ss100, "active;expires=120");
  /* the 180 comes 30 s later (the INVITE's retransmissions meanwhile) */
  for (guint i = 0; i < 60; i++) {
    sf_endpoint_advance (t->env->ep, 500);
    (void) sf_test_peer_quiet (t->peer);
    char buf[8192];
    while (g_socket_condition_check (t->peer, G_IO_IN) & G_IO_IN)
      (void) g_socket_receive (t->peer, buf, sizeof buf, NULL, NULL);
  }
  st_reply_tag (t, got->pdata[2], "180 Ringing", "c1");
  CU_ASSERT_TRUE (sf_test_peer_wait (t->peer));
  sf_endpoint_advance (t->env->ep, 0);
  const char *const ring[] = { "NOTIFY ", NULL };
  g_autoptr (GPtrArray) n180 = st_recv_set (t, ring);
  CU_ASSERT_TRUE_FATAL (n180->pdata[0] != NULL && strstr (n180->pdata[0], "SIP/2.0 180 Ringing") != NULL);
  g_autofree char *ss180 = sf_test_header (n180->pdata[0], "Subscription-State");
  CU_ASSERT_STRING_EQUAL (ss180, "active;expires=90"); /* what is left (RFC 6665 4.2.2) */
  st_reply (t, n180->pdata[0], "200 OK");
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer));
  sf_endpoint_advance (t->env->ep, (guint64) (SF_REFER_EXPIRES - 30) * 1000);
  const char *const end[] = { "NOTIFY ", "CANCEL ", NULL };
  g_autoptr (GPtrArray) fin = st_recv_set (t, end);
  CU_ASSERT_TRUE_FATAL (fin->pdata[0] != NULL);
  g_autofree char *ss = sf_test_header (fin->pdata[0], "Subscription-State");
  CU_ASSERT_STRING_EQUAL (ss, "terminated;reason=timeout");
  CU_ASSERT_PTR_NOT_NULL (strstr (fin->pdata[0], "SIP/2.0 180 Ringing"));
  st_reply (t, fin->pdata[0], "200 OK");
  CU_ASSERT_PTR_NOT_NULL (fin->pdata[1]); /* the referred call gave up too */
  sf_test_stack_free (t, NULL);
}

/* RFC 5057 on the transferee: the transferor BYEs the call before the final
 * NOTIFY; the notifier keeps the dialog (its reference), sends the final
 * NOTIFY in it (our CSeq above the 100's), and ends on the 481 it gets. */
static void
transferee_call_ends_first (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_autofree char *refer = g_strdup_printf (
    "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrb1\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 2 REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: <sip:carol@127.0.0.1:%%PORT%%>\r\n"
    "Content-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, refer);
  sf_endpoint_advance (t->env->ep, 0);
  const char *const first[] = { "SIP/2.0 202", "NOTIFY ", "INVITE ", NULL };
  g_autoptr (GPtrArray) got = st_recv_set (t, first);
  CU_ASSERT_TRUE_FATAL (got->pdata[0] != NULL && got->pdata[1] != NULL && got->pdata[2] != NULL);
  st_reply (t, got->pdata[1], "200 OK");
  g_autofree char *ncs = sf_test_header (got->pdata[1], "CSeq");
  /* the transferor's BYE ends the call */
  g_autofree char *bye = g_strdup_printf (
    "BYE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrb2\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, bye);
  const char *const ok[] = { "SIP/2.0 200", NULL };
  g_autoptr (GPtrArray) byeok = st_recv_set (t, ok);
  CU_ASSERT_PTR_NOT_NULL (byeok->pdata[0]);
  sf_endpoint_advance (t->env->ep, 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"call_end\"", "\"reason\":\"remote_bye\"", NULL), 1);
  /* the target answers: the final NOTIFY goes in the dialog all the same */
  st_reply_tag (t, got->pdata[2], "486 Busy Here", "c1");
  sf_endpoint_advance (t->env->ep, 0);
  const char *const last[] = { "NOTIFY ", NULL };
  g_autoptr (GPtrArray) fin = st_recv_set (t, last);
  CU_ASSERT_TRUE_FATAL (fin->pdata[0] != NULL);
  CU_ASSERT_PTR_NOT_NULL (strstr (fin->pdata[0], "SIP/2.0 486"));
  g_autofree char *fcs = sf_test_header (fin->pdata[0], "CSeq");
  CU_ASSERT_TRUE (g_ascii_strtoull (fcs, NULL, 10) > g_ascii_strtoull (ncs, NULL, 10));
  st_reply (t, fin->pdata[0], "481 Call/Transaction Does Not Exist");
  (void) sf_test_peer_quiet (t->peer); /* the 481 taken (the ACK of the 486 may come meanwhile) */
  sf_endpoint_advance (t->env->ep, 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"subscription\"", "\"state\":\"terminated\"", NULL), 1);
  sf_test_stack_free (t, NULL);
}

/* In a call's dialog with no subscription of it: a NOTIFY 481, a SUBSCRIBE
 * for refer 481, one for another package 489 with Allow-Events, one without
 * Event 400 (RFC 6665 4.1.3, 8.3.2; the framework's 405 before); the call
 * goes on (a BYE still gets 200). */
static void
in_dialog_no_subscription (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  g_autofree char *n = st_notify (t, tag, 2, "refer", "active;expires=60", "SIP/2.0 100 Trying\r\n");
  CU_ASSERT_TRUE (n != NULL && g_str_has_prefix (n, "SIP/2.0 481"));
  static const struct { const char *event; const char *status; } subs[] = {
    { "Event: refer\r\n", "SIP/2.0 481" }, { "Event: presence\r\n", "SIP/2.0 489" }, { "", "SIP/2.0 400" } };
  for (guint i = 0; i < G_N_ELEMENTS (subs); i++) {
    g_autofree char *sub = g_strdup_printf (
      "SUBSCRIBE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKns%u\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\n"
      "Call-ID: rt-test@127.0.0.1\r\nCSeq: %u SUBSCRIBE\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\n%s"
      "Expires: 60\r\nContent-Length: 0\r\n\r\n", i, tag, 3 + i, subs[i].event);
    sf_test_stack_send (t, sub);
    g_autofree char *r = sf_test_stack_recv (t);
    CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, subs[i].status));
    if (i == 1)
      CU_ASSERT_PTR_NOT_NULL (r != NULL ? strstr (r, "\r\nAllow-Events: refer\r\n") : NULL);
  }
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "InCall");
  g_autofree char *bye = g_strdup_printf (
    "BYE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKnsb\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
    "CSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n", tag);
  sf_test_stack_send (t, bye);
  g_autofree char *ok = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  sf_test_stack_free (t, NULL);
}

/* ua.refer same_domain (ua.uri sip:bob@127.0.0.1) against Refer-To tricks:
 * each answered as listed, none makes a call. */
static void
transferee_policy_tricks (void)
{
  SfInstance *call = NULL;
  g_autofree char *tag = NULL;
  St *t = st_call (&call, &tag);
  static const struct {
    const char *refer_to, *status;
  } cases[] = {
    { "<sip:carol@127.0.0.1.>", "SIP/2.0 403" },                   /* a trailing dot: another name */
    { "<sip:carol@[::1]>", "SIP/2.0 403" },                        /* another address of the host */
    { "<sip:127.0.0.1@evil.example>", "SIP/2.0 403" },             /* our host as the user */
    { "\"sip:carol@127.0.0.1\" <sip:carol@evil.example>", "SIP/2.0 403" }, /* as the display name */
    { "<sip:carol@evil.example;x=127.0.0.1>", "SIP/2.0 403" },     /* as a parameter */
    { "<sip:carol@evil.example>;h=127.0.0.1", "SIP/2.0 403" },     /* as a header parameter */
    { "<sip:carol@127.0.0.1;maddr=evil.example>", "SIP/2.0 403" }, /* maddr elsewhere */
    { "<sip:carol@127.0.0.1@evil.example>", "SIP/2.0 400" },       /* two @ */
    { "<sip:carol@127.0.0.1%2eevil.example>", "SIP/2.0 400" },     /* an escape in the host */
    { "<tel:+19005550100>", "SIP/2.0 403" },                       /* another scheme */
    { "<sip:carol@127.0.0.1?Route=%3Csip:evil.example%3Blr%3E;method=INVITE>", "SIP/2.0 400" }, /* params after headers */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *refer = g_strdup_printf (
      "REFER sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKrp%u\r\nMax-Forwards: 70\r\n"
      "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: rt-test@127.0.0.1\r\n"
      "CSeq: %u REFER\r\nContact: <sip:peer@127.0.0.1:%%PORT%%>\r\nRefer-To: %s\r\n"
      "Content-Length: 0\r\n\r\n", i, tag, 2 + i, cases[i].refer_to);
    sf_test_stack_send (t, refer);
    g_autofree char *r = sf_test_stack_recv (t);
    CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, cases[i].status));
    if (r == NULL || !g_str_has_prefix (r, cases[i].status))
      g_printerr ("Refer-To %s: %.60s\n", cases[i].refer_to, r != NULL ? r : "(nothing)");
  }
  sf_endpoint_advance (t->env->ep, 0);
  CU_ASSERT_TRUE (sf_test_peer_quiet (t->peer)); /* no INVITE, no NOTIFY */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"transfer\"", "\"state\":\"accepted\"", NULL), 0);
  sf_test_stack_free (t, NULL);
}

void
sf_test_register_ua_refer (void)
{
  CU_pSuite s = CU_add_suite ("ua-refer", NULL, NULL);
  CU_add_test (s, "Refer-To", refer_to_values);
  CU_add_test (s, "Refer-Sub", refer_sub_values);
  CU_add_test (s, "message/sipfrag", sipfrag_values);
  CU_add_test (s, "in a call's dialog without a subscription: 481, 489", in_dialog_no_subscription);
  CU_add_test (s, "attended Refer-To with Replaces", attended_refer_to);
  CU_add_test (s, "transferor: NOTIFY id and expires", transferor_notify);
  CU_add_test (s, "transferor: the call ends first", transferor_call_ends_first);
  CU_add_test (s, "transferor: CALL2 gone before the REFER", transferor_call2_gone);
  CU_add_test (s, "transferor: our REFER lost or refused", transferor_refer_fails);
  CU_add_test (s, "transferee: the target's reason phrase", transferee_reason);
  CU_add_test (s, "transferee: ua.max_calls", transferee_max_calls);
  CU_add_test (s, "transferee: same_domain against Refer-To tricks", transferee_policy_tricks);
  CU_add_test (s, "transferee: a REFER in an early dialog", transferee_early);
  CU_add_test (s, "transferee: the referred call never answered", transferee_never_answered);
  CU_add_test (s, "transferee: the call ends first", transferee_call_ends_first);
  CU_add_test (s, "transferee: the referred call's redirect", transferee_redirect);
}
