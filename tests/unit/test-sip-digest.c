/* test-sip-digest.c: Digest authentication (RFC 2617, RFC 7616, RFC 8760).
 *  - vectors: every row of tests/data/digest/vectors.tsv: MD5, MD5-sess, SHA-256 and
 *    SHA-256-sess with qop auth, auth-int and none give the published response;
 *    SHA-512-256 is refused as an unsupported algorithm
 *  - pick_first_supported: the client answers the first challenge it can (RFC 7616 3.7)
 *  - server_round_trip: our challenge, our answer, our check: ok; a replayed nonce
 *    count, a wrong password, a forged nonce, an expired nonce (stale) each refused;
 *    credentials without qop, for another Request-URI or another algorithm refused
 *  - unique_nonces: no two challenges share a nonce */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-digest.h"
#include <string.h>

static char *
data_dir (void)
{
  const char *env = g_getenv ("SF_TESTDATA");
  return g_build_filename (env != NULL ? env : SF_SRCDIR "/tests/data", "digest", NULL);
}

/* Parses @value as one @id header value (transfer full). */
static GPtrArray *
values (SfSipHdrId id, const char *value)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_value_free);
  const char *name = sf_sip_hdr_info (id)->name;
  g_autoptr (GError) error = NULL;
  if (!sf_sip_hdr_parse (id, sf_sip_str (name, strlen (name)), sf_sip_str (value, strlen (value)), value, out, &error))
    g_printerr ("values: %s\n", error->message);
  return out;
}

static void
vectors (void)
{
  g_autofree char *dir = data_dir ();
  g_autofree char *path = g_build_filename (dir, "vectors.tsv", NULL);
  g_autofree char *text = NULL;
  CU_ASSERT_TRUE_FATAL (g_file_get_contents (path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint checked = 0, refused = 0;
  for (char **l = lines + 1; *l != NULL; l++) {
    if (**l == '\0')
      continue;
    g_auto (GStrv) c = g_strsplit (*l, "\t", -1);
    CU_ASSERT_FATAL (g_strv_length (c) >= 13);
    SfDigestAlg alg;
    if (!sf_digest_alg_parse (c[0], &alg)) {
      CU_ASSERT_STRING_EQUAL (c[0], "SHA-512-256");
      g_autofree char *ch = g_strdup_printf ("Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"auth\"", c[2], c[6], c[0]);
      g_autoptr (GPtrArray) chs = values (SF_SIP_HDR_WWW_AUTHENTICATE, ch);
      g_autoptr (GError) error = NULL;
      CU_ASSERT_PTR_NULL (sf_digest_challenge_pick (chs, &error));
      CU_ASSERT (g_error_matches (error, SF_DIGEST_ERROR, SF_DIGEST_ERROR_UNSUPPORTED));
      CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "unsupported algorithm: SHA-512-256") : NULL);
      refused++;
      continue;
    }
    g_autofree char *body = NULL;
    gsize body_len = 0;
    if (*c[12] != '\0') {
      g_autofree char *bp = g_build_filename (dir, c[12], NULL);
      CU_ASSERT_TRUE_FATAL (g_file_get_contents (bp, &body, &body_len, NULL));
    }
    g_autofree char *ha1 = sf_digest_ha1 (alg, c[1], c[2], c[3]);
    SfDigestInput in = { alg, ha1, c[4], c[5], c[6], *c[8] ? c[8] : NULL, *c[7] ? c[7] : NULL, *c[9] ? c[9] : NULL,
                         body, body_len };
    g_autofree char *resp = sf_digest_response (&in);
    if (strcmp (resp, c[10]) != 0)
      g_printerr ("digest vector %s %s qop=%s: got %s, want %s\n", c[0], c[1], c[9], resp, c[10]);
    CU_ASSERT_STRING_EQUAL (resp, c[10]);
    checked++;
  }
  CU_ASSERT (checked >= 12);
  CU_ASSERT (refused >= 1);
}

static void
pick_first_supported (void)
{
  g_autoptr (GPtrArray) chs = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_value_free);
  const char *lines[] = {
    "Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-512-256, qop=\"auth\"",
    "Digest realm=\"r\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\"",
    "Digest realm=\"r\", nonce=\"n3\", algorithm=MD5, qop=\"auth\"",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++) {
    g_autoptr (GPtrArray) one = values (SF_SIP_HDR_WWW_AUTHENTICATE, lines[i]);
    g_ptr_array_extend_and_steal (chs, g_steal_pointer (&one));
  }
  g_autoptr (SfDigestChallenge) c = sf_digest_challenge_pick (chs, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (c);
  CU_ASSERT_EQUAL (c->alg, SF_DIGEST_SHA256);
  CU_ASSERT_STRING_EQUAL (c->nonce, "n2");
  /* No algorithm parameter means MD5 (RFC 2617 3.2.1). */
  g_autoptr (GPtrArray) plain = values (SF_SIP_HDR_PROXY_AUTHENTICATE, "Digest realm=\"r\", nonce=\"x\"");
  g_autoptr (SfDigestChallenge) p = sf_digest_challenge_pick (plain, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (p);
  CU_ASSERT_EQUAL (p->alg, SF_DIGEST_MD5);
  CU_ASSERT_FALSE (p->qop_auth);
}

static SfDigestVerdict
answer_and_check (SfDigestServer *srv, const char *challenge, const char *password, guint32 nc, gint64 now,
                  const char *server_password)
{
  g_autoptr (GPtrArray) chs = values (SF_SIP_HDR_WWW_AUTHENTICATE, challenge);
  g_autoptr (SfDigestChallenge) c = sf_digest_challenge_pick (chs, NULL);
  g_assert (c != NULL);
  g_autofree char *auth = sf_digest_authorization (c, "alice", password, "REGISTER", "sip:sipflow.test", "0a4f113b", nc);
  g_autoptr (GPtrArray) av = values (SF_SIP_HDR_AUTHORIZATION, auth);
  g_assert (av->len == 1);
  g_autofree char *ha1 = sf_digest_ha1 (c->alg, "alice", "sipflow.test", server_password);
  return sf_digest_server_check (srv, av->pdata[0], ha1, 1u << SF_DIGEST_MD5 | 1u << SF_DIGEST_SHA256, "REGISTER",
                                 "sip:sipflow.test", NULL, 0, now);
}

static void
server_round_trip (void)
{
  static const guint8 secret[] = "a secret shared by the nodes";
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (secret, sizeof secret, 300);
  for (SfDigestAlg alg = SF_DIGEST_MD5; alg <= SF_DIGEST_SHA256; alg += 2) {
    g_autofree char *ch = sf_digest_server_challenge (srv, "sipflow.test", alg, FALSE, 1000);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 1, 1001, "wonderland"), SF_DIGEST_OK);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 1, 1002, "wonderland"), SF_DIGEST_REPLAY);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 2, 1003, "wonderland"), SF_DIGEST_OK);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "guess", 3, 1004, "wonderland"), SF_DIGEST_BAD);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 4, 1000 + 301, "wonderland"), SF_DIGEST_STALE);
    /* Another node with the same secret accepts the nonce; one without it does not. */
    g_autoptr (SfDigestServer) peer = sf_digest_server_new (secret, sizeof secret, 300);
    CU_ASSERT_EQUAL (answer_and_check (peer, ch, "wonderland", 5, 1005, "wonderland"), SF_DIGEST_OK);
    static const guint8 other[] = "another secret";
    g_autoptr (SfDigestServer) stranger = sf_digest_server_new (other, sizeof other, 300);
    CU_ASSERT_EQUAL (answer_and_check (stranger, ch, "wonderland", 6, 1005, "wonderland"), SF_DIGEST_BAD);
  }
  /* A forged nonce (one hex digit changed) is refused. */
  g_autofree char *ch = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_MD5, FALSE, 2000);
  char *n = strstr (ch, "nonce=\"") + 7;
  n[3] = n[3] == '0' ? '1' : '0';
  CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 1, 2001, "wonderland"), SF_DIGEST_BAD);
  /* Without qop (no nonce count), for another URI, or with an algorithm not offered: refused. */
  g_autofree char *ch2 = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_MD5, FALSE, 3000);
  g_autoptr (GPtrArray) chs = values (SF_SIP_HDR_WWW_AUTHENTICATE, ch2);
  g_autoptr (SfDigestChallenge) c = sf_digest_challenge_pick (chs, NULL);
  c->qop_auth = FALSE;
  g_autofree char *noqop = sf_digest_authorization (c, "alice", "wonderland", "REGISTER", "sip:sipflow.test", NULL, 1);
  g_autoptr (GPtrArray) nv = values (SF_SIP_HDR_AUTHORIZATION, noqop);
  g_autofree char *ha1 = sf_digest_ha1 (SF_DIGEST_MD5, "alice", "sipflow.test", "wonderland");
  CU_ASSERT_EQUAL (sf_digest_server_check (srv, nv->pdata[0], ha1, 1u << SF_DIGEST_MD5, "REGISTER", "sip:sipflow.test",
                                           NULL, 0, 3001), SF_DIGEST_BAD);
  c->qop_auth = TRUE;
  g_autofree char *ok = sf_digest_authorization (c, "alice", "wonderland", "REGISTER", "sip:sipflow.test", NULL, 1);
  g_autoptr (GPtrArray) ov = values (SF_SIP_HDR_AUTHORIZATION, ok);
  CU_ASSERT_EQUAL (sf_digest_server_check (srv, ov->pdata[0], ha1, 1u << SF_DIGEST_MD5, "REGISTER", "sip:other.test",
                                           NULL, 0, 3001), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (sf_digest_server_check (srv, ov->pdata[0], ha1, 1u << SF_DIGEST_SHA256, "REGISTER", "sip:sipflow.test",
                                           NULL, 0, 3001), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (sf_digest_server_check (srv, ov->pdata[0], ha1, 1u << SF_DIGEST_MD5, "REGISTER", "sip:sipflow.test",
                                           NULL, 0, 3001), SF_DIGEST_OK);
  /* stale=true is written when asked. */
  g_autofree char *st = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_SHA256, TRUE, 2000);
  CU_ASSERT_PTR_NOT_NULL (strstr (st, "stale=true"));
  CU_ASSERT_PTR_NOT_NULL (strstr (st, "algorithm=SHA-256"));
}

static void
unique_nonces (void)
{
  static const guint8 secret[] = "s";
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (secret, sizeof secret, 300);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int i = 0; i < 10000; i++)
    g_hash_table_add (seen, sf_digest_server_nonce (srv, 42));
  CU_ASSERT_EQUAL (g_hash_table_size (seen), 10000);
}

void
sf_test_register_sip_digest (void)
{
  CU_pSuite s = CU_add_suite ("sip-digest", NULL, NULL);
  SF_ADD_TEST (s, vectors);
  SF_ADD_TEST (s, pick_first_supported);
  SF_ADD_TEST (s, server_round_trip);
  SF_ADD_TEST (s, unique_nonces);
}
