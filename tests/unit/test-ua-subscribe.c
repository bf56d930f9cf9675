/* test-ua-subscribe.c: the parsers of the subscription machine (RFC 6665,
 * RFC 3842; operators/ua/sf-subscribe.c).
 *  - Event: a package, templates after dots, the id parameter; empty, a
 *    leading, trailing or double dot, junk after it, an id without value: refused
 *  - Subscription-State: active, pending, terminated, an extension state;
 *    reason, expires, retry-after; numbers out of range, twice, junk: refused
 *  - message-summary: status, account, voice counts with urgent ones, other
 *    classes, extension headers after the empty line; a missing or misplaced
 *    status, an unknown class, a malformed or too long count, a NUL: refused
 *  - multipart: the message-summary part found in multipart/mixed; no such
 *    part, a body of another type, a broken boundary: refused */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-subscribe.h"
#include <string.h>

static gboolean
event (const char *text, char **pkg, char **id)
{
  return sf_sub_parse_event (sf_sip_str (text, strlen (text)), pkg, id, NULL);
}

static void
event_values (void)
{
  char *p = NULL, *id = NULL;
  CU_ASSERT_TRUE (event ("message-summary", &p, &id));
  CU_ASSERT_STRING_EQUAL (p, "message-summary");
  CU_ASSERT_PTR_NULL (id);
  g_free (p);
  CU_ASSERT_TRUE (event ("presence.winfo ; id=42;x=\"y z\"", &p, &id));
  CU_ASSERT_STRING_EQUAL (p, "presence.winfo");
  CU_ASSERT_STRING_EQUAL (id, "42");
  g_free (p);
  g_free (id);
  const char *bad[] = { "", " ", ".a", "a.", "a..b", "a b", "a;", "a;id", "a;id=1;id=2", "a/b", "a;=x" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    p = id = NULL;
    CU_ASSERT_FALSE (event (bad[i], &p, &id));
    CU_ASSERT_PTR_NULL (p);
    CU_ASSERT_PTR_NULL (id);
  }
}

static gboolean
state (const char *text, SfSubState *st)
{
  return sf_sub_parse_state (sf_sip_str (text, strlen (text)), st, NULL);
}

static void
state_values (void)
{
  g_auto (SfSubState) a = { 0 };
  CU_ASSERT_TRUE (state ("active;expires=600", &a));
  CU_ASSERT_EQUAL (a.kind, SF_SUB_ACTIVE);
  CU_ASSERT_EQUAL (a.expires, 600);
  CU_ASSERT_EQUAL (a.retry_after, -1);
  g_auto (SfSubState) t = { 0 };
  CU_ASSERT_TRUE (state ("terminated ; reason=Probation ; retry-after=4294967295", &t));
  CU_ASSERT_EQUAL (t.kind, SF_SUB_TERMINATED);
  CU_ASSERT_STRING_EQUAL (t.reason, "probation");
  CU_ASSERT_EQUAL (t.retry_after, 4294967295);
  g_auto (SfSubState) p = { 0 };
  CU_ASSERT_TRUE (state ("pending", &p));
  CU_ASSERT_EQUAL (p.kind, SF_SUB_PENDING);
  g_auto (SfSubState) x = { 0 };
  CU_ASSERT_TRUE (state ("waiting;foo=bar", &x));
  CU_ASSERT_EQUAL (x.kind, SF_SUB_OTHER);
  const char *bad[] = { "", ";expires=1", "active;expires=", "active;expires=-1", "active;expires=4294967296",
                        "active;expires=12345678901", "active;expires=1;expires=2", "active;expires=1x",
                        "active junk", "terminated;reason", "terminated;reason=a;reason=b", "active;retry-after=" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    SfSubState s = { 0 };
    CU_ASSERT_FALSE (state (bad[i], &s));
    CU_ASSERT_PTR_NULL (s.state);
  }
}

static gboolean
mwi (const char *text, SfSubMwi *m)
{
  return sf_sub_parse_mwi (text, strlen (text), m, NULL);
}

static void
mwi_values (void)
{
  g_auto (SfSubMwi) a = { 0 };
  CU_ASSERT_TRUE (mwi ("Messages-Waiting: yes\r\nMessage-Account: sip:alice@vm.example.com\r\n"
                       "Voice-Message: 4/8 (1/2)\r\nFax-Message: 0/1\r\n\r\nX-Other: free text\r\n", &a));
  CU_ASSERT_TRUE (a.waiting);
  CU_ASSERT_STRING_EQUAL (a.account, "sip:alice@vm.example.com");
  CU_ASSERT_EQUAL (a.voice_new, 4);
  CU_ASSERT_EQUAL (a.voice_old, 8);
  CU_ASSERT_EQUAL (a.voice_new_urgent, 1);
  CU_ASSERT_EQUAL (a.voice_old_urgent, 2);
  CU_ASSERT_EQUAL (a.lines, 2);
  g_auto (SfSubMwi) b = { 0 };
  CU_ASSERT_TRUE (mwi ("messages-waiting:no\n", &b)); /* LF alone, no space, any case */
  CU_ASSERT_FALSE (b.waiting);
  CU_ASSERT_FALSE (b.have_voice);
  const char *bad[] = { "", "Voice-Message: 1/2\r\n", "Messages-Waiting: maybe\r\n",
                        "Messages-Waiting: yes\r\nVoice-Message: 1\r\n",
                        "Messages-Waiting: yes\r\nVoice-Message: 1/2 (3)\r\n",
                        "Messages-Waiting: yes\r\nVoice-Message: 1234567890/2\r\n",
                        "Messages-Waiting: yes\r\nVoice-Message: 1/2 junk\r\n",
                        "Messages-Waiting: yes\r\nSmoke-Signal: 1/2\r\n",
                        "Messages-Waiting: yes\r\nVoice-Message: 1/2\r\nVoice-Message: 1/2\r\n",
                        "Messages-Waiting: yes\r\nVoice-Message: 1/2\r\nMessage-Account: sip:a@b\r\n",
                        "Messages-Waiting: yes\r\nno colon here\r\n", "\r\nMessages-Waiting: yes\r\n" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    SfSubMwi m = { 0 };
    CU_ASSERT_FALSE (mwi (bad[i], &m));
    CU_ASSERT_PTR_NULL (m.account);
  }
  SfSubMwi m = { 0 };
  CU_ASSERT_FALSE (sf_sub_parse_mwi ("Messages-Waiting: yes\0\r\n", 24, &m, NULL));
  char *big = g_strnfill (SF_SUB_MAX_BODY + 1, 'a');
  CU_ASSERT_FALSE (sf_sub_parse_mwi (big, strlen (big), &m, NULL));
  g_free (big);
}

static SfSipMsg *
notify_with (const char *ctype, const char *body)
{
  g_autofree char *text = g_strdup_printf (
    "NOTIFY sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
    "From: <sip:n@127.0.0.1>;tag=n\r\nTo: <sip:a@127.0.0.1>;tag=a\r\nCall-ID: c1\r\nCSeq: 1 NOTIFY\r\n"
    "Max-Forwards: 70\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s", ctype, strlen (body), body);
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return sf_sip_msg_parse (b, NULL);
}

static void
multipart (void)
{
  const char *ms = "application/simple-message-summary";
  g_autoptr (SfSipMsg) m = notify_with ("multipart/mixed;boundary=xyz",
                                        "--xyz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz\r\n"
                                        "Content-Type: application/simple-message-summary\r\n\r\n"
                                        "Messages-Waiting: yes\r\n\r\n--xyz--\r\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfSipStr out;
  CU_ASSERT_TRUE (sf_sub_body_of (m, ms, &out, NULL));
  CU_ASSERT_TRUE (out.len >= 21 && memcmp (out.p, "Messages-Waiting: yes", 21) == 0);
  g_autoptr (SfSipMsg) none = notify_with ("multipart/mixed;boundary=xyz",
                                           "--xyz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz--\r\n");
  CU_ASSERT_FALSE (sf_sub_body_of (none, ms, &out, NULL));
  g_autoptr (SfSipMsg) broken = notify_with ("multipart/mixed;boundary=abc", "--xyz\r\n\r\nx\r\n--xyz--\r\n");
  CU_ASSERT_FALSE (sf_sub_body_of (broken, ms, &out, NULL));
  g_autoptr (SfSipMsg) other = notify_with ("text/plain", "hello");
  CU_ASSERT_FALSE (sf_sub_body_of (other, ms, &out, NULL));
  g_autoptr (SfSipMsg) plain = notify_with (ms, "Messages-Waiting: no\r\n");
  CU_ASSERT_TRUE (sf_sub_body_of (plain, ms, &out, NULL));
  CU_ASSERT_EQUAL (out.len, 22);
}

void
sf_test_register_ua_subscribe (void)
{
  CU_pSuite s = CU_add_suite ("ua-subscribe", NULL, NULL);
  SF_ADD_TEST (s, event_values);
  SF_ADD_TEST (s, state_values);
  SF_ADD_TEST (s, mwi_values);
  SF_ADD_TEST (s, multipart);
}
