/* test-srtp.c: SDES keying for SRTP (media/sf-srtp.c, RFC 4568) and RTP/SAVP in
 * the offer/answer (media/sf-sdp.c).
 *  - crypto_parse: a=crypto values from the network: the good forms (both
 *    suites, lifetime 2^31 and up, WSH, '-' parameters), the malformed ones (tag
 *    range and digits, suite characters, key method syntax, key length and
 *    base64, padding, '|' parts, control characters, length), the unsupported
 *    ones (another suite, another method, MKI, short lifetime, several keys,
 *    KDR and UNENCRYPTED_* parameters)
 *  - crypto_format: what we write reads back, keys from getrandom differ
 *  - offer_savp: require and offer put RTP/SAVP with two a=crypto lines (tags 1
 *    and 2, _80 first, different keys); off writes RTP/AVP and no a=crypto
 *  - answer_savp: the first usable line is taken (unknown suites, malformed
 *    lines, MKIs passed over), the answer echoes its tag and suite with our own
 *    key; the negotiated keys cross; no key in the JSON
 *  - modes: off/offer/require against RTP/AVP and RTP/SAVP offers: taken or
 *    NOT_ACCEPTABLE with the reason; RTP/SAVP without a usable a=crypto refused
 *  - take_answer_savp: the answer's tag and suite must be one we offered, with a
 *    good key; RTP/AVP to our RTP/SAVP refused; a refused stream (port 0) taken
 *  - rekey: every new offer and answer carries new keys
 *  - fall_back: offer mode falls back to RTP/AVP after sf_sdp_session_srtp_fall_back
 *    and after answering an RTP/AVP offer (back to RTP/SAVP after answering an
 *    RTP/SAVP one); require and off never do */
#include "config.h"
#include "sf-test.h"
#include "media/sf-sdp.h"
#include "media/sf-srtp.h"
#include <string.h>

/* A good 30-byte key in base64 (bytes 0..29). */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"

static SfSdpSession *
session (guint port, SfSdpSrtpMode mode)
{
  static const char *const codecs[] = { "PCMU", NULL };
  SfSdpSession *s = sf_sdp_session_new ("127.0.0.1", port, codecs, NULL);
  g_assert_nonnull (s);
  sf_sdp_session_set_srtp (s, mode);
  return s;
}

static char *
peer_offer (const char *proto, const char *attrs)
{
  return g_strdup_printf ("v=0\r\no=bob 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
                          "m=audio 5004 %s 0\r\n%s",
                          proto, attrs);
}

static gboolean
has (const char *text, const char *needle)
{
  return text != NULL && strstr (text, needle) != NULL;
}

static guint
count_lines (const char *text, const char *prefix)
{
  guint n = 0;
  g_auto (GStrv) lines = g_strsplit (text, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    n += g_str_has_prefix (lines[i], prefix);
  return n;
}

static void
crypto_parse (void)
{
  static const struct {
    const char *value;
    SfSrtpCryptoResult want;
  } cases[] = {
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64, SF_SRTP_CRYPTO_OK },
    { "999999999 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64, SF_SRTP_CRYPTO_OK },
    { "0 AES_CM_128_HMAC_SHA1_80  inline:" KEY_B64 "  ", SF_SRTP_CRYPTO_OK },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31", SF_SRTP_CRYPTO_OK },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^48", SF_SRTP_CRYPTO_OK },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2147483648", SF_SRTP_CRYPTO_OK },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " WSH=128", SF_SRTP_CRYPTO_OK },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " -FOO=1 -BAR", SF_SRTP_CRYPTO_OK },
    /* malformed */
    { "", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80", SF_SRTP_CRYPTO_MALFORMED },
    { "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64, SF_SRTP_CRYPTO_MALFORMED },
    { "-1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64, SF_SRTP_CRYPTO_MALFORMED },
    { "x AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64, SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES-CM AES_CM inline:" KEY_B64, SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 " KEY_B64, SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 :" KEY_B64, SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "AAAA", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx==", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx.d", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcI=QoLDA0ODxAREhMUFRYXGBkaGxwd", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^x", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^99", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|0", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31|1:4|x", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1:", SF_SRTP_CRYPTO_MALFORMED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "\x01", SF_SRTP_CRYPTO_MALFORMED },
    /* unsupported */
    { "1 AES_256_CM_HMAC_SHA1_80 inline:" KEY_B64, SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 aes_cm_128_hmac_sha1_80 inline:" KEY_B64, SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 F8_128_HMAC_SHA1_80 inline:" KEY_B64, SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 mikey:" KEY_B64, SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1:4", SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^20|1:4", SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^20", SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1048576", SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^20|1:4;inline:" KEY_B64 "|2^20|2:4",
      SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " KDR=1", SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " UNENCRYPTED_SRTP", SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " UNAUTHENTICATED_SRTP", SF_SRTP_CRYPTO_UNSUPPORTED },
    { "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " WSH=10", SF_SRTP_CRYPTO_UNSUPPORTED },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    SfSrtpCrypto c;
    g_autofree char *why = NULL;
    SfSrtpCryptoResult r = sf_srtp_crypto_parse (cases[i].value, &c, &why);
    if (r != cases[i].want)
      g_printerr ("\ncase %" G_GSIZE_FORMAT " '%s': %d (%s), want %d\n", i, cases[i].value, r, why, cases[i].want);
    CU_ASSERT_EQUAL (r, cases[i].want);
    CU_ASSERT_EQUAL (why == NULL, r == SF_SRTP_CRYPTO_OK);
    if (r == SF_SRTP_CRYPTO_OK) {
      for (guint k = 0; k < SF_SRTP_KEY_LEN; k++)
        CU_ASSERT_EQUAL (c.key[k], k);
    } else {
      CU_ASSERT_EQUAL (c.suite, SF_SRTP_NONE); /* nothing half-filled */
    }
  }
  SfSrtpCrypto c;
  CU_ASSERT_EQUAL (sf_srtp_crypto_parse ("999999999 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64, &c, NULL),
                   SF_SRTP_CRYPTO_OK);
  CU_ASSERT_EQUAL (c.tag, 999999999);
  CU_ASSERT_EQUAL (c.suite, SF_SRTP_AES_CM_128_HMAC_SHA1_32);
  /* Longer than SF_SRTP_MAX_CRYPTO_LEN: refused before any other reading. */
  g_autofree char *pad = g_strnfill (SF_SRTP_MAX_CRYPTO_LEN, 'A');
  g_autofree char *lng = g_strdup_printf ("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " -%s", pad);
  CU_ASSERT_EQUAL (sf_srtp_crypto_parse (lng, &c, NULL), SF_SRTP_CRYPTO_MALFORMED);
  CU_ASSERT_EQUAL (sf_srtp_crypto_parse (NULL, &c, NULL), SF_SRTP_CRYPTO_MALFORMED);
}

static void
crypto_format (void)
{
  guint8 k1[SF_SRTP_KEY_LEN], k2[SF_SRTP_KEY_LEN];
  sf_srtp_random_key (k1);
  sf_srtp_random_key (k2);
  CU_ASSERT (memcmp (k1, k2, SF_SRTP_KEY_LEN) != 0);
  g_autofree char *v = sf_srtp_crypto_format (7, SF_SRTP_AES_CM_128_HMAC_SHA1_32, k1);
  CU_ASSERT (g_str_has_prefix (v, "7 AES_CM_128_HMAC_SHA1_32 inline:"));
  CU_ASSERT_EQUAL (strlen (v), strlen ("7 AES_CM_128_HMAC_SHA1_32 inline:") + SF_SRTP_KEY_B64_LEN);
  SfSrtpCrypto c;
  CU_ASSERT_EQUAL (sf_srtp_crypto_parse (v, &c, NULL), SF_SRTP_CRYPTO_OK);
  CU_ASSERT_EQUAL (c.tag, 7);
  CU_ASSERT_EQUAL (c.suite, SF_SRTP_AES_CM_128_HMAC_SHA1_32);
  CU_ASSERT (memcmp (c.key, k1, SF_SRTP_KEY_LEN) == 0);
  CU_ASSERT_STRING_EQUAL (sf_srtp_suite_name (SF_SRTP_AES_CM_128_HMAC_SHA1_80), "AES_CM_128_HMAC_SHA1_80");
  CU_ASSERT_PTR_NULL (sf_srtp_suite_name (SF_SRTP_NONE));
}

/* The a=crypto values of @sdp's m= line. */
static GPtrArray *
crypto_values (const char *sdp)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) lines = g_strsplit (sdp, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "a=crypto:"))
      g_ptr_array_add (out, g_strdup (lines[i] + 9));
  return out;
}

static void
offer_savp (void)
{
  SfSdpSrtpMode modes[] = { SF_SDP_SRTP_REQUIRE, SF_SDP_SRTP_OFFER };
  for (gsize i = 0; i < G_N_ELEMENTS (modes); i++) {
    g_autoptr (SfSdpSession) s = session (40000, modes[i]);
    g_autofree char *o = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
    CU_ASSERT (has (o, "m=audio 40000 RTP/SAVP 0 101\r\n"));
    CU_ASSERT (sf_sdp_session_offered_srtp (s));
    g_autoptr (GPtrArray) cv = crypto_values (o);
    CU_ASSERT_EQUAL_FATAL (cv->len, 2);
    SfSrtpCrypto a, b;
    CU_ASSERT_EQUAL (sf_srtp_crypto_parse (cv->pdata[0], &a, NULL), SF_SRTP_CRYPTO_OK);
    CU_ASSERT_EQUAL (sf_srtp_crypto_parse (cv->pdata[1], &b, NULL), SF_SRTP_CRYPTO_OK);
    CU_ASSERT (a.tag == 1 && a.suite == SF_SRTP_AES_CM_128_HMAC_SHA1_80);
    CU_ASSERT (b.tag == 2 && b.suite == SF_SRTP_AES_CM_128_HMAC_SHA1_32);
    CU_ASSERT (memcmp (a.key, b.key, SF_SRTP_KEY_LEN) != 0);
  }
  g_autoptr (SfSdpSession) s = session (40000, SF_SDP_SRTP_OFF);
  g_autofree char *o = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT (has (o, "m=audio 40000 RTP/AVP 0 101\r\n"));
  CU_ASSERT_EQUAL (count_lines (o, "a=crypto"), 0);
  CU_ASSERT_FALSE (sf_sdp_session_offered_srtp (s));
}

static void
answer_savp (void)
{
  g_autoptr (SfSdpSession) s = session (40000, SF_SDP_SRTP_REQUIRE);
  g_autofree char *offer = peer_offer ("RTP/SAVP", "a=crypto:9 AES_256_CM_HMAC_SHA1_80 inline:" KEY_B64 "\r\n"
                                                   "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:short\r\n"
                                                   "a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1:4\r\n"
                                                   "a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64 "\r\n"
                                                   "a=crypto:6 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "\r\n");
  g_auto (SfSdpMedia) m = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *a = sf_sdp_session_answer (s, offer, strlen (offer), SF_SDP_SENDRECV, &m, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  CU_ASSERT (has (a, "m=audio 40000 RTP/SAVP 0\r\n"));
  g_autoptr (GPtrArray) cv = crypto_values (a);
  CU_ASSERT_EQUAL_FATAL (cv->len, 1);
  SfSrtpCrypto ours;
  CU_ASSERT_EQUAL (sf_srtp_crypto_parse (cv->pdata[0], &ours, NULL), SF_SRTP_CRYPTO_OK);
  CU_ASSERT_EQUAL (ours.tag, 5);
  CU_ASSERT_EQUAL (ours.suite, SF_SRTP_AES_CM_128_HMAC_SHA1_32);
  CU_ASSERT_EQUAL (m.srtp, SF_SRTP_AES_CM_128_HMAC_SHA1_32);
  CU_ASSERT (memcmp (m.srtp_send_key, ours.key, SF_SRTP_KEY_LEN) == 0);
  for (guint k = 0; k < SF_SRTP_KEY_LEN; k++)
    CU_ASSERT_EQUAL (m.srtp_recv_key[k], k);
  g_autofree char *j = sf_sdp_media_json (&m);
  CU_ASSERT (has (j, "\"srtp\":\"AES_CM_128_HMAC_SHA1_32\""));
  CU_ASSERT_FALSE (has (j, "inline") || has (j, KEY_B64));

  /* Between two sessions: the keys cross. */
  g_autoptr (SfSdpSession) x = session (40002, SF_SDP_SRTP_OFFER);
  g_autoptr (SfSdpSession) y = session (40004, SF_SDP_SRTP_REQUIRE);
  g_autofree char *o2 = sf_sdp_session_offer (x, SF_SDP_SENDRECV);
  g_auto (SfSdpMedia) my = { 0 };
  g_auto (SfSdpMedia) mx = { 0 };
  g_autofree char *a2 = sf_sdp_session_answer (y, o2, strlen (o2), SF_SDP_SENDRECV, &my, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a2);
  CU_ASSERT_TRUE (sf_sdp_session_take_answer (x, a2, strlen (a2), &mx, NULL));
  CU_ASSERT (mx.srtp == SF_SRTP_AES_CM_128_HMAC_SHA1_80 && my.srtp == SF_SRTP_AES_CM_128_HMAC_SHA1_80);
  CU_ASSERT (memcmp (mx.srtp_send_key, my.srtp_recv_key, SF_SRTP_KEY_LEN) == 0);
  CU_ASSERT (memcmp (my.srtp_send_key, mx.srtp_recv_key, SF_SRTP_KEY_LEN) == 0);
  CU_ASSERT (memcmp (mx.srtp_send_key, my.srtp_send_key, SF_SRTP_KEY_LEN) != 0);
  SfSdpMedia copy;
  sf_sdp_media_copy (&copy, &mx);
  CU_ASSERT (memcmp (copy.srtp_send_key, mx.srtp_send_key, SF_SRTP_KEY_LEN) == 0);
  sf_sdp_media_clear (&copy);
  CU_ASSERT_EQUAL (copy.srtp, SF_SRTP_NONE);
  guint8 zero[SF_SRTP_KEY_LEN] = { 0 };
  CU_ASSERT (memcmp (copy.srtp_send_key, zero, SF_SRTP_KEY_LEN) == 0);
}

static void
modes (void)
{
  static const char good[] = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "\r\n";
  static const struct {
    SfSdpSrtpMode mode;
    const char *proto;
    const char *attrs;
    SfSrtpSuite want;   /* NONE with @reason NULL: taken in the clear */
    const char *reason; /* NOT_ACCEPTABLE naming it */
  } cases[] = {
    { SF_SDP_SRTP_OFF, "RTP/AVP", "", SF_SRTP_NONE, NULL },
    { SF_SDP_SRTP_OFF, "RTP/SAVP", good, SF_SRTP_NONE, "RTP/SAVP offered, media.srtp = off" },
    { SF_SDP_SRTP_OFFER, "RTP/AVP", "", SF_SRTP_NONE, NULL },
    { SF_SDP_SRTP_OFFER, "RTP/AVP", good, SF_SRTP_NONE, NULL }, /* a=crypto on RTP/AVP means nothing */
    { SF_SDP_SRTP_OFFER, "RTP/SAVP", good, SF_SRTP_AES_CM_128_HMAC_SHA1_80, NULL },
    { SF_SDP_SRTP_OFFER, "RTP/SAVP", "", SF_SRTP_NONE, "RTP/SAVP with no a=crypto" },
    { SF_SDP_SRTP_REQUIRE, "RTP/AVP", good, SF_SRTP_NONE, "RTP/AVP offered, media.srtp = require" },
    { SF_SDP_SRTP_REQUIRE, "RTP/SAVP", good, SF_SRTP_AES_CM_128_HMAC_SHA1_80, NULL },
    { SF_SDP_SRTP_REQUIRE, "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1:4\r\n",
      SF_SRTP_NONE, "no usable a=crypto (an MKI" },
    { SF_SDP_SRTP_REQUIRE, "RTP/SAVP", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:" KEY_B64 "\r\n", SF_SRTP_NONE,
      "no usable a=crypto (suite F8_128_HMAC_SHA1_80" },
    { SF_SDP_SRTP_REQUIRE, "RTP/SAVPF", good, SF_SRTP_NONE, "(we take RTP/SAVP)" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (SfSdpSession) s = session (40000, cases[i].mode);
    g_autofree char *offer = peer_offer (cases[i].proto, cases[i].attrs);
    g_auto (SfSdpMedia) m = { 0 };
    g_autoptr (GError) error = NULL;
    g_autofree char *a = sf_sdp_session_answer (s, offer, strlen (offer), SF_SDP_SENDRECV, &m, &error);
    if (cases[i].reason != NULL) {
      CU_ASSERT_PTR_NULL (a);
      gboolean ok = g_error_matches (error, SF_SDP_ERROR, SF_SDP_ERROR_NOT_ACCEPTABLE)
                    && has (error->message, cases[i].reason);
      if (!ok)
        g_printerr ("\ncase %" G_GSIZE_FORMAT ": %s\n", i, error != NULL ? error->message : "no error");
      CU_ASSERT (ok);
      continue;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL (a);
    CU_ASSERT_EQUAL (m.srtp, cases[i].want);
    CU_ASSERT (has (a, cases[i].want != SF_SRTP_NONE ? " RTP/SAVP " : " RTP/AVP "));
    CU_ASSERT_EQUAL (count_lines (a, "a=crypto:"), cases[i].want != SF_SRTP_NONE ? 1 : 0);
  }
}

static void
take_answer_savp (void)
{
  static const struct {
    const char *proto;
    const char *attrs;
    const char *reason; /* NULL: taken */
  } cases[] = {
    { "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "\r\n", NULL },
    { "RTP/SAVP", "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64 "\r\n", NULL },
    { "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64 "\r\n", "tag 1 AES_CM_128_HMAC_SHA1_32 was not offered" },
    { "RTP/SAVP", "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "\r\n", "was not offered" },
    { "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "=\r\n", "41 characters" },
    { "RTP/SAVP", "", "no a=crypto" },
    { "RTP/AVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "\r\n", "proto RTP/AVP, our offer RTP/SAVP" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (SfSdpSession) s = session (40000, SF_SDP_SRTP_REQUIRE);
    g_autofree char *o = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
    g_autofree char *answer = peer_offer (cases[i].proto, cases[i].attrs);
    g_auto (SfSdpMedia) m = { 0 };
    g_autoptr (GError) error = NULL;
    gboolean ok = sf_sdp_session_take_answer (s, answer, strlen (answer), &m, &error);
    if (cases[i].reason == NULL) {
      CU_ASSERT_TRUE (ok);
      CU_ASSERT (m.srtp != SF_SRTP_NONE);
      for (guint k = 0; k < SF_SRTP_KEY_LEN; k++)
        CU_ASSERT_EQUAL (m.srtp_recv_key[k], k);
      /* Our key for the tag taken, from the offer. */
      g_autoptr (GPtrArray) cv = crypto_values (o);
      SfSrtpCrypto mine;
      CU_ASSERT_EQUAL (sf_srtp_crypto_parse (cv->pdata[m.srtp == SF_SRTP_AES_CM_128_HMAC_SHA1_80 ? 0 : 1], &mine, NULL),
                       SF_SRTP_CRYPTO_OK);
      CU_ASSERT (memcmp (mine.key, m.srtp_send_key, SF_SRTP_KEY_LEN) == 0);
    } else {
      CU_ASSERT_FALSE (ok);
      gboolean named = g_error_matches (error, SF_SDP_ERROR, SF_SDP_ERROR_NOT_ACCEPTABLE)
                       && has (error->message, cases[i].reason);
      if (!named)
        g_printerr ("\ncase %" G_GSIZE_FORMAT ": %s\n", i, error != NULL ? error->message : "no error");
      CU_ASSERT (named);
    }
  }
  /* A refused stream (port 0) is a valid answer without media. */
  g_autoptr (SfSdpSession) s = session (40000, SF_SDP_SRTP_REQUIRE);
  g_autofree char *o = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  g_autofree char *answer = g_strdup ("v=0\r\no=bob 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
                                      "m=audio 0 RTP/SAVP 0\r\n");
  g_auto (SfSdpMedia) m = { 0 };
  CU_ASSERT_TRUE (sf_sdp_session_take_answer (s, answer, strlen (answer), &m, NULL));
  CU_ASSERT_FALSE (m.active);
  CU_ASSERT_EQUAL (m.srtp, SF_SRTP_NONE);
}

static void
rekey (void)
{
  g_autoptr (SfSdpSession) x = session (40000, SF_SDP_SRTP_REQUIRE);
  g_autoptr (SfSdpSession) y = session (40002, SF_SDP_SRTP_REQUIRE);
  guint8 sent[2][SF_SRTP_KEY_LEN], recv[2][SF_SRTP_KEY_LEN];
  for (int round = 0; round < 2; round++) {
    g_autofree char *o = sf_sdp_session_offer (x, round == 0 ? SF_SDP_SENDRECV : SF_SDP_SENDONLY);
    g_auto (SfSdpMedia) my = { 0 };
    g_auto (SfSdpMedia) mx = { 0 };
    g_autofree char *a = sf_sdp_session_answer (y, o, strlen (o), SF_SDP_SENDRECV, &my, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL (a);
    CU_ASSERT_TRUE_FATAL (sf_sdp_session_take_answer (x, a, strlen (a), &mx, NULL));
    memcpy (sent[round], mx.srtp_send_key, SF_SRTP_KEY_LEN);
    memcpy (recv[round], mx.srtp_recv_key, SF_SRTP_KEY_LEN);
  }
  CU_ASSERT (memcmp (sent[0], sent[1], SF_SRTP_KEY_LEN) != 0);
  CU_ASSERT (memcmp (recv[0], recv[1], SF_SRTP_KEY_LEN) != 0);
}

static void
fall_back (void)
{
  g_autoptr (SfSdpSession) s = session (40000, SF_SDP_SRTP_OFFER);
  CU_ASSERT_FALSE (sf_sdp_session_srtp_fall_back (s)); /* no offer yet */
  g_autofree char *o1 = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT (has (o1, "RTP/SAVP"));
  CU_ASSERT_TRUE (sf_sdp_session_srtp_fall_back (s));
  g_autofree char *o2 = sf_sdp_session_offer (s, SF_SDP_SENDRECV);
  CU_ASSERT (has (o2, " RTP/AVP ") && !has (o2, "a=crypto"));
  CU_ASSERT_FALSE (sf_sdp_session_srtp_fall_back (s)); /* the last offer was RTP/AVP */

  /* Answering an RTP/AVP offer: our later offers are RTP/AVP too. */
  g_autoptr (SfSdpSession) t = session (40000, SF_SDP_SRTP_OFFER);
  g_autofree char *peer = peer_offer ("RTP/AVP", "");
  g_autofree char *a = sf_sdp_session_answer (t, peer, strlen (peer), SF_SDP_SENDRECV, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL (a);
  g_autofree char *o3 = sf_sdp_session_offer (t, SF_SDP_SENDONLY);
  CU_ASSERT (has (o3, " RTP/AVP "));
  /* ... until the peer offers RTP/SAVP: then ours are RTP/SAVP again. */
  g_autofree char *peer2 = peer_offer ("RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "\r\n");
  g_autofree char *a2 = sf_sdp_session_answer (t, peer2, strlen (peer2), SF_SDP_SENDRECV, NULL, NULL);
  CU_ASSERT (has (a2, " RTP/SAVP "));
  g_autofree char *o4 = sf_sdp_session_offer (t, SF_SDP_SENDONLY);
  CU_ASSERT (has (o4, " RTP/SAVP "));

  SfSdpSrtpMode never[] = { SF_SDP_SRTP_REQUIRE, SF_SDP_SRTP_OFF };
  for (gsize i = 0; i < G_N_ELEMENTS (never); i++) {
    g_autoptr (SfSdpSession) u = session (40000, never[i]);
    g_autofree char *o = sf_sdp_session_offer (u, SF_SDP_SENDRECV);
    CU_ASSERT_FALSE (sf_sdp_session_srtp_fall_back (u));
    g_autofree char *again = sf_sdp_session_offer (u, SF_SDP_SENDRECV);
    CU_ASSERT_EQUAL (has (again, "RTP/SAVP"), never[i] == SF_SDP_SRTP_REQUIRE);
  }
}

void
sf_test_register_srtp (void)
{
  CU_pSuite s = CU_add_suite ("srtp", NULL, NULL);
  SF_ADD_TEST (s, crypto_parse);
  SF_ADD_TEST (s, crypto_format);
  SF_ADD_TEST (s, offer_savp);
  SF_ADD_TEST (s, answer_savp);
  SF_ADD_TEST (s, modes);
  SF_ADD_TEST (s, take_answer_savp);
  SF_ADD_TEST (s, rekey);
  SF_ADD_TEST (s, fall_back);
}
