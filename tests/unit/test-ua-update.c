/* test-ua-update.c: what of UPDATE (operators/ua/sf-op-update.c) is unit-testable
 * without a peer:
 *  - glare_interval: the RFC 3261 14.1 wait, 2.1 to 4 s in 10 ms steps for the
 *    owner of the Call-ID (we sent the INVITE), 0 to 2 s for the other, over
 *    many draws (both ends of each range reached);
 *  - offer_file: ua.offer_file checked at start: unset is fine; a missing file,
 *    a directory, an empty file, one over SF_UA_OFFER_FILE_MAX bytes, one with a
 *    NUL, and text that is not SDP are refused naming the key and the file (and
 *    the config source); SDP with no codec of ours is taken (the user's test);
 *    a good file then goes as it is as our offer;
 *  - untaken: an UPDATE no call takes is answered 481 by the stack, with or
 *    without To tag (RFC 3311 5.1: an UPDATE lives in a dialog), and Allow,
 *    which the UA's responses and the stack's 405s share, lists UPDATE. */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-ua-call.h"
#include "operators/transaction/sf-txn-answers.h"
#include <glib/gstdio.h>
#include <string.h>

static void
test_glare_interval (void)
{
  SfUaCall owner = { .incoming = FALSE }, other = { .incoming = TRUE };
  guint lo_o = G_MAXUINT, hi_o = 0, lo_x = G_MAXUINT, hi_x = 0;
  for (int i = 0; i < 20000; i++) {
    guint a = sf_ua_glare_ms (&owner), b = sf_ua_glare_ms (&other);
    CU_ASSERT_EQUAL (a % 10, 0);
    CU_ASSERT_EQUAL (b % 10, 0);
    lo_o = MIN (lo_o, a), hi_o = MAX (hi_o, a), lo_x = MIN (lo_x, b), hi_x = MAX (hi_x, b);
  }
  CU_ASSERT_EQUAL (lo_o, 2100);
  CU_ASSERT_EQUAL (hi_o, 4000);
  CU_ASSERT_EQUAL (lo_x, 0);
  CU_ASSERT_EQUAL (hi_x, 2000);
}

/* The ua module's state for a [ua] configuration with offer_file = @path
 * (NULL: unset), checked; the last one made is kept in ua_state. */
static SfUaState *ua_state;

static gboolean
check_offer_file (const char *path, GError **error)
{
  g_autoptr (SfConfig) cfg = sf_config_new ();
  if (!sf_ua_declare_config (cfg, error))
    return FALSE;
  g_autofree char *ini = path != NULL ? g_strdup_printf ("[ua]\noffer_file = %s\n", path) : g_strdup ("[ua]\n");
  if (!sf_config_load_data (cfg, ini, "alice.ini", error))
    return FALSE;
  SfUaState *st = sf_ua_state_new (cfg, error);
  if (st == NULL)
    return FALSE;
  sf_ua_state_free (ua_state);
  ua_state = st;
  return TRUE;
}

static void
refused (const char *path, const char *needle)
{
  g_autoptr (GError) e = NULL;
  CU_ASSERT_FALSE (check_offer_file (path, &e));
  CU_ASSERT_PTR_NOT_NULL_FATAL (e);
  CU_ASSERT_PTR_NOT_NULL (strstr (e->message, "ua.offer_file"));
  CU_ASSERT_PTR_NOT_NULL (strstr (e->message, "alice.ini"));
  CU_ASSERT_PTR_NOT_NULL (strstr (e->message, needle));
}

static void
test_offer_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sf-update-XXXXXX", NULL);
  g_autofree char *good = g_build_filename (dir, "good.sdp", NULL);
  g_autofree char *g722 = g_build_filename (dir, "g722.sdp", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.sdp", NULL);
  g_autofree char *big = g_build_filename (dir, "big.sdp", NULL);
  g_autofree char *nul = g_build_filename (dir, "nul.sdp", NULL);
  g_autofree char *junk = g_build_filename (dir, "junk.sdp", NULL);
  g_autofree char *none = g_build_filename (dir, "none.sdp", NULL);
  static const char sdp[] = "v=0\r\no=f 1 1 IN IP4 127.0.0.1\r\ns=file\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                            "m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
  CU_ASSERT_TRUE (g_file_set_contents (good, sdp, -1, NULL));
  CU_ASSERT_TRUE (g_file_set_contents (g722, "v=0\r\no=f 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                                             "t=0 0\r\nm=audio 7000 RTP/AVP 9\r\n", -1, NULL));
  CU_ASSERT_TRUE (g_file_set_contents (empty, "", 0, NULL));
  g_autofree char *large = g_strnfill (SF_UA_OFFER_FILE_MAX + 1, 'a');
  CU_ASSERT_TRUE (g_file_set_contents (big, large, -1, NULL));
  CU_ASSERT_TRUE (g_file_set_contents (nul, "v=0\r\n\0o=", 7, NULL));
  CU_ASSERT_TRUE (g_file_set_contents (junk, "hello\n", -1, NULL));

  CU_ASSERT_TRUE (check_offer_file (NULL, NULL));
  refused (none, "is not a file");
  refused (dir, "is not a file");
  refused (empty, "is not SDP");
  refused (big, "more than the 8192");
  refused (nul, "is not SDP");
  refused (junk, "is not SDP");
  CU_ASSERT_TRUE (check_offer_file (g722, NULL)); /* readable: no codec in common is the user's test */
  CU_ASSERT_TRUE (check_offer_file (good, NULL));

  /* The file's text goes as it is, the session's own offer made all the same. */
  static const char *const codecs[] = { "PCMU", NULL };
  SfUaCall call = { .sdp = sf_sdp_session_new ("127.0.0.1", 4000, codecs, NULL) };
  CU_ASSERT_PTR_NOT_NULL_FATAL (call.sdp);
  g_autofree char *offer = sf_ua_state_offer (ua_state, NULL, &call, SF_SDP_SENDRECV);
  CU_ASSERT_STRING_EQUAL (offer, sdp);
  CU_ASSERT_TRUE (check_offer_file (NULL, NULL)); /* unset again: the session's offer */
  g_autofree char *own = sf_ua_state_offer (ua_state, NULL, &call, SF_SDP_SENDONLY);
  CU_ASSERT_PTR_NOT_NULL (strstr (own, "a=sendonly"));
  CU_ASSERT_PTR_NULL (strstr (own, "s=file"));
  sf_sdp_session_free (call.sdp);
  g_clear_pointer (&ua_state, sf_ua_state_free);

  const char *const files[] = { good, g722, empty, big, nul, junk };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    g_unlink (files[i]);
  g_rmdir (dir);
}

static SfSipMsg *
request (const char *method, const char *to_tag)
{
  g_autofree char *to = to_tag != NULL ? g_strdup_printf (";tag=%s", to_tag) : g_strdup ("");
  g_autofree char *text = g_strdup_printf ("%s sip:bob@127.0.0.1 SIP/2.0\r\n"
                                           "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKupd\r\n"
                                           "From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>%s\r\n"
                                           "Call-ID: update@test\r\nCSeq: 2 %s\r\nMax-Forwards: 70\r\n"
                                           "Content-Length: 0\r\n\r\n",
                                           method, to, method);
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return sf_sip_msg_parse (b, NULL);
}

static void
test_untaken (void)
{
  const SfTxnAnswers *p = sf_txn_answers_default ();
  g_autoptr (SfSipMsg) bare = request ("UPDATE", NULL);
  g_autoptr (SfSipMsg) other = request ("UPDATE", "other");
  g_autoptr (SfSipMsg) mine = request ("UPDATE", "mine");
  g_autoptr (SfSipMsg) invite = request ("INVITE", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (bare);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, bare, NULL), 481);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, bare, "mine"), 481);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, other, "mine"), 481);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, mine, "mine"), 405); /* a state that takes none */
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, invite, NULL), 405);
  CU_ASSERT_PTR_NOT_NULL (strstr (SF_STACK_ALLOW, "UPDATE"));
}

void
sf_test_register_ua_update (void)
{
  CU_pSuite s = CU_add_suite ("ua_update", NULL, NULL);
  SF_ADD_TEST (s, test_glare_interval);
  SF_ADD_TEST (s, test_offer_file);
  SF_ADD_TEST (s, test_untaken);
}
