/* test-sip-digest.c: Digest authentication (RFC 2617, RFC 7616, RFC 8760).
 *  - vectors: every row of tests/data/digest/vectors.tsv: MD5, MD5-sess, SHA-256 and
 *    SHA-256-sess with qop auth, auth-int and none give the published response;
 *    SHA-512-256 is refused as an unsupported algorithm
 *  - pick_first_supported: the client answers the first challenge it can (RFC 7616 3.7)
 *  - server_round_trip: our challenge, our answer, our check: ok; a replayed nonce
 *    count, a wrong password, a forged nonce, an expired nonce (stale) each refused;
 *    credentials for another Request-URI or another algorithm refused
 *  - nonce_counts: each nc once (RFC 7616 3.4); nc=00000000 refused (and uses
 *    nothing up)
 *  - nc_window: a count never seen within 64 of the highest taken is taken in
 *    any order, one seen is a replay, one further below stale; a jump of 64
 *    or more forgets the counts below
 *  - no_qop_once: credentials without qop (RFC 2069 style) taken once per nonce, and
 *    not after a use with qop
 *  - slot_reuse: a table of 4 slots wrapped 250 times: no nonce used earlier is ever
 *    taken again, at its count or above (stale, or replay while it owns its slot); a
 *    nonce never used whose slot a newer one took is stale; slots in use stay <= 4
 *  - expired: a nonce past nonce_ttl_s is stale, and no longer counted as in use
 *  - stale_only_when_verified: an expired, reused-slot or other-boot nonce with a
 *    wrong response is BAD, not STALE (RFC 7616 3.3)
 *  - other_nodes: a server with the same secret but another boot id finds our nonce
 *    stale (never good); one with another secret finds it not ours (BAD)
 *  - unique_nonces: no two challenges share a nonce
 *  - creds_parse: the one-walk reading of credentials gives, for every name,
 *    what sf_digest_param gives (the first of a name, unquoted, escapes
 *    undone, names in any case, an absent one NULL) */
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
      CU_ASSERT_PTR_NULL (sf_digest_challenge_pick (&(SfSipValues) { .pdata = (chs)->pdata, .len = (chs)->len }, &error));
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
  g_autoptr (SfDigestChallenge) c = sf_digest_challenge_pick (&(SfSipValues) { .pdata = (chs)->pdata, .len = (chs)->len }, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (c);
  CU_ASSERT_EQUAL (c->alg, SF_DIGEST_SHA256);
  CU_ASSERT_STRING_EQUAL (c->nonce, "n2");
  /* No algorithm parameter means MD5 (RFC 2617 3.2.1). */
  g_autoptr (GPtrArray) plain = values (SF_SIP_HDR_PROXY_AUTHENTICATE, "Digest realm=\"r\", nonce=\"x\"");
  g_autoptr (SfDigestChallenge) p = sf_digest_challenge_pick (&(SfSipValues) { .pdata = (plain)->pdata, .len = (plain)->len }, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (p);
  CU_ASSERT_EQUAL (p->alg, SF_DIGEST_MD5);
  CU_ASSERT_FALSE (p->qop_auth);
}

static SfDigestVerdict
answer_and_check (SfDigestServer *srv, const char *challenge, const char *password, guint32 nc, gint64 now,
                  const char *server_password)
{
  g_autoptr (GPtrArray) chs = values (SF_SIP_HDR_WWW_AUTHENTICATE, challenge);
  g_autoptr (SfDigestChallenge) c = sf_digest_challenge_pick (&(SfSipValues) { .pdata = (chs)->pdata, .len = (chs)->len }, NULL);
  g_assert (c != NULL);
  g_autofree char *auth = sf_digest_authorization (c, "alice", password, "REGISTER", "sip:sipflow.test", "0a4f113b", nc);
  g_autoptr (GPtrArray) av = values (SF_SIP_HDR_AUTHORIZATION, auth);
  g_assert (av->len == 1);
  g_autofree char *ha1 = sf_digest_ha1 (c->alg, "alice", "sipflow.test", server_password);
  return sf_digest_server_check (srv, av->pdata[0], ha1, 1u << SF_DIGEST_MD5 | 1u << SF_DIGEST_SHA256, "REGISTER",
                                 "sip:sipflow.test", NULL, 0, now, NULL);
}

/* alice's MD5 credentials for @nonce with @password: qop=auth and @nc, or
 * without qop (@qop FALSE), checked by @srv at @now; *@why the reason. */
static SfDigestVerdict
use_nonce (SfDigestServer *srv, const char *nonce, const char *password, gboolean qop, guint32 nc, gint64 now,
           const char **why)
{
  g_autofree char *ch = g_strdup_printf ("Digest realm=\"sipflow.test\", nonce=\"%s\", algorithm=MD5, qop=\"auth\"", nonce);
  g_autoptr (GPtrArray) chs = values (SF_SIP_HDR_WWW_AUTHENTICATE, ch);
  g_autoptr (SfDigestChallenge) c = sf_digest_challenge_pick (&(SfSipValues) { .pdata = (chs)->pdata, .len = (chs)->len }, NULL);
  g_assert (c != NULL);
  c->qop_auth = qop;
  g_autofree char *auth = sf_digest_authorization (c, "alice", password, "REGISTER", "sip:sipflow.test", NULL, nc);
  g_autoptr (GPtrArray) av = values (SF_SIP_HDR_AUTHORIZATION, auth);
  g_assert (av->len == 1);
  g_autofree char *ha1 = sf_digest_ha1 (SF_DIGEST_MD5, "alice", "sipflow.test", "wonderland");
  return sf_digest_server_check (srv, av->pdata[0], ha1, 1u << SF_DIGEST_MD5, "REGISTER", "sip:sipflow.test", NULL, 0,
                                 now, why);
}

static const guint8 the_secret[] = "a secret shared by the nodes";

static void
server_round_trip (void)
{
  static const guint8 secret[] = "a secret shared by the nodes";
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (secret, sizeof secret, 300, 65536);
  for (SfDigestAlg alg = SF_DIGEST_MD5; alg <= SF_DIGEST_SHA256; alg += 2) {
    g_autofree char *ch = sf_digest_server_challenge (srv, "sipflow.test", alg, FALSE, 1000);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 1, 1001, "wonderland"), SF_DIGEST_OK);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 1, 1002, "wonderland"), SF_DIGEST_REPLAY);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 2, 1003, "wonderland"), SF_DIGEST_OK);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "guess", 3, 1004, "wonderland"), SF_DIGEST_BAD);
    CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 4, 1000 + 301, "wonderland"), SF_DIGEST_STALE);
    /* Another node with the same secret (another boot id) finds it stale; one without it, not ours. */
    g_autoptr (SfDigestServer) peer = sf_digest_server_new (secret, sizeof secret, 300, 65536);
    CU_ASSERT_EQUAL (answer_and_check (peer, ch, "wonderland", 5, 1005, "wonderland"), SF_DIGEST_STALE);
    static const guint8 other[] = "another secret";
    g_autoptr (SfDigestServer) stranger = sf_digest_server_new (other, sizeof other, 300, 65536);
    CU_ASSERT_EQUAL (answer_and_check (stranger, ch, "wonderland", 6, 1005, "wonderland"), SF_DIGEST_BAD);
  }
  /* A forged nonce (one hex digit changed) is refused. */
  g_autofree char *ch = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_MD5, FALSE, 2000);
  char *n = strstr (ch, "nonce=\"") + 7;
  n[3] = n[3] == '0' ? '1' : '0';
  CU_ASSERT_EQUAL (answer_and_check (srv, ch, "wonderland", 1, 2001, "wonderland"), SF_DIGEST_BAD);
  /* So is one whose MAC has a digit changed, in either of its halves (two
   * SipHash, each checked); the nonce as made is taken. */
  for (int at = 48; at < 80; at += 31) {
    g_autofree char *mac = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_MD5, FALSE, 2000);
    char *m = strstr (mac, "nonce=\"") + 7;
    CU_ASSERT_EQUAL (strchr (m, '"') - m, 80);
    char was = m[at];
    m[at] = was == '0' ? '1' : '0';
    CU_ASSERT_EQUAL (answer_and_check (srv, mac, "wonderland", 1, 2001, "wonderland"), SF_DIGEST_BAD);
    m[at] = was;
    CU_ASSERT_EQUAL (answer_and_check (srv, mac, "wonderland", 1, 2001, "wonderland"), SF_DIGEST_OK);
  }
  /* A nonce of an earlier build (HMAC-SHA-256 of the secret over the head,
   * cut to 128 bits) is still ours: stale with the right password (another
   * boot), a plain refusal with a wrong one or a digit changed. */
  {
    const char *head = "00000000000007d0" "0123456789abcdef" "0000000000000007";
    g_autoptr (GHmac) h = g_hmac_new (G_CHECKSUM_SHA256, secret, sizeof secret);
    g_hmac_update (h, (const guchar *) head, 48);
    g_autofree char *old_mac = g_strndup (g_hmac_get_string (h), 32);
    g_autofree char *old = g_strdup_printf ("Digest realm=\"sipflow.test\", nonce=\"%s%s\", algorithm=MD5, qop=\"auth\"",
                                            head, old_mac);
    CU_ASSERT_EQUAL (answer_and_check (srv, old, "wonderland", 1, 2001, "wonderland"), SF_DIGEST_STALE);
    CU_ASSERT_EQUAL (answer_and_check (srv, old, "guess", 1, 2001, "wonderland"), SF_DIGEST_BAD);
    g_autofree char *nonce = g_strconcat (head, old_mac, NULL);
    CU_ASSERT_TRUE (sf_digest_server_nonce_ours (srv, nonce, 2001, NULL));
    char *m = strstr (old, head) + 48 + 5;
    *m = *m == '0' ? '1' : '0';
    CU_ASSERT_EQUAL (answer_and_check (srv, old, "wonderland", 1, 2001, "wonderland"), SF_DIGEST_BAD);
  }
  /* For another URI, or with an algorithm not offered: refused. */
  g_autofree char *ch2 = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_MD5, FALSE, 3000);
  g_autoptr (GPtrArray) chs = values (SF_SIP_HDR_WWW_AUTHENTICATE, ch2);
  g_autoptr (SfDigestChallenge) c = sf_digest_challenge_pick (&(SfSipValues) { .pdata = (chs)->pdata, .len = (chs)->len }, NULL);
  g_autofree char *ha1 = sf_digest_ha1 (SF_DIGEST_MD5, "alice", "sipflow.test", "wonderland");
  g_autofree char *ok = sf_digest_authorization (c, "alice", "wonderland", "REGISTER", "sip:sipflow.test", NULL, 1);
  g_autoptr (GPtrArray) ov = values (SF_SIP_HDR_AUTHORIZATION, ok);
  CU_ASSERT_EQUAL (sf_digest_server_check (srv, ov->pdata[0], ha1, 1u << SF_DIGEST_MD5, "REGISTER", "sip:other.test",
                                           NULL, 0, 3001, NULL), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (sf_digest_server_check (srv, ov->pdata[0], ha1, 1u << SF_DIGEST_SHA256, "REGISTER", "sip:sipflow.test",
                                           NULL, 0, 3001, NULL), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (sf_digest_server_check (srv, ov->pdata[0], ha1, 1u << SF_DIGEST_MD5, "REGISTER", "sip:sipflow.test",
                                           NULL, 0, 3001, NULL), SF_DIGEST_OK);
  /* stale=true is written when asked. */
  g_autofree char *st = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_SHA256, TRUE, 2000);
  CU_ASSERT_PTR_NOT_NULL (strstr (st, "stale=true"));
  CU_ASSERT_PTR_NOT_NULL (strstr (st, "algorithm=SHA-256"));
}

static void
nonce_counts (void)
{
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, 16);
  g_autofree char *n = sf_digest_server_nonce (srv, 1000);
  CU_ASSERT_EQUAL (strlen (n), 80);
  const char *why = NULL;
  /* nc=00000000 is no count (RFC 7616 3.4: the first is 00000001), and uses nothing up. */
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 0, 1000, &why), SF_DIGEST_BAD);
  CU_ASSERT_STRING_EQUAL (why, "malformed credentials");
  CU_ASSERT_EQUAL (sf_digest_server_slots_used (srv, 1000), 0);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1000, &why), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1000, &why), SF_DIGEST_REPLAY);
  CU_ASSERT_STRING_EQUAL (why, "nonce count replayed");
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 3, 1001, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 2, 1001, NULL), SF_DIGEST_OK); /* late, never seen */
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 2, 1001, NULL), SF_DIGEST_REPLAY);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 3, 1001, NULL), SF_DIGEST_REPLAY);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 0, 1001, NULL), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "guess", TRUE, 4, 1001, &why), SF_DIGEST_BAD);
  CU_ASSERT_STRING_EQUAL (why, "wrong credentials");
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 4, 1002, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", FALSE, 0, 1002, NULL), SF_DIGEST_REPLAY); /* no qop: not after a use */
  CU_ASSERT_EQUAL (sf_digest_server_slots_used (srv, 1002), 1);
}

static void
nc_window (void)
{
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, 16);
  g_autofree char *n = sf_digest_server_nonce (srv, 1000);
  const char *why = NULL;
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 100, 1000, NULL), SF_DIGEST_OK);
  for (guint32 nc = 99; nc >= 37; nc -= 2) /* within the window, in reverse, every other one */
    CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, nc, 1000, NULL), SF_DIGEST_OK);
  for (guint32 nc = 37; nc <= 100; nc++) /* each seen or not, exactly as taken */
    CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, nc, 1000, NULL),
                     nc % 2 == 1 || nc == 100 ? SF_DIGEST_REPLAY : SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 36, 1000, &why), SF_DIGEST_STALE); /* 100 - 64 */
  CU_ASSERT_STRING_EQUAL (why, "nonce count below the window");
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_STALE);
  /* a jump by the window or more: what was below is gone, stale, never taken again */
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 164, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 100, 1000, NULL), SF_DIGEST_STALE);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 101, 1000, NULL), SF_DIGEST_OK); /* 63 below: inside */
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 101, 1000, NULL), SF_DIGEST_REPLAY);
  /* a shift inside the window keeps the counts seen */
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 170, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 164, 1000, NULL), SF_DIGEST_REPLAY);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 165, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 106, 1000, NULL), SF_DIGEST_STALE); /* 170 - 64 */
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 0xffffffff, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 0xffffffff, 1000, NULL), SF_DIGEST_REPLAY);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 0xfffffffe, 1000, NULL), SF_DIGEST_OK);
}

static void
no_qop_once (void)
{
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, 16);
  g_autofree char *n = sf_digest_server_nonce (srv, 1000);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "guess", FALSE, 0, 1000, NULL), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", FALSE, 0, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", FALSE, 0, 1000, NULL), SF_DIGEST_REPLAY);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 7, 1000, NULL), SF_DIGEST_REPLAY);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 0xffffffff, 1000, NULL), SF_DIGEST_REPLAY);
}

static void
slot_reuse (void)
{
  enum { SLOTS = 4, ROUNDS = 1000 };
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, SLOTS);
  g_autoptr (GPtrArray) used = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *unused = sf_digest_server_nonce (srv, 1000); /* issued, never used */
  const char *why = NULL;
  gboolean never_ok = TRUE, counts_ok = TRUE;
  for (int i = 0; i < ROUNDS; i++) {
    char *n = sf_digest_server_nonce (srv, 1000);
    CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_OK);
    g_ptr_array_add (used, n);
    /* The first nonce used, at its count and above, each round: never taken again. */
    for (guint32 nc = 1; nc <= 3; nc++) {
      SfDigestVerdict v = use_nonce (srv, used->pdata[0], "wonderland", TRUE, nc, 1000, NULL);
      if (i == 0 && nc > 1)
        continue; /* still owns its slot: a higher count is the same client's next request */
      never_ok &= v != SF_DIGEST_OK;
    }
    counts_ok &= sf_digest_server_slots_used (srv, 1000) <= SLOTS;
  }
  CU_ASSERT_TRUE (never_ok);
  CU_ASSERT_TRUE (counts_ok);
  CU_ASSERT_EQUAL (sf_digest_server_slots_used (srv, 1000), SLOTS);
  /* The table wrapped ROUNDS / SLOTS times: every nonce whose slot a newer one took is stale. */
  guint stale = 0, replay = 0;
  for (guint i = 0; i < used->len; i++) {
    SfDigestVerdict v1 = use_nonce (srv, used->pdata[i], "wonderland", TRUE, 1, 1000, NULL);
    SfDigestVerdict v9 = use_nonce (srv, used->pdata[i], "wonderland", TRUE, 9, 1000, NULL);
    if (i + SLOTS < used->len) {
      stale += v1 == SF_DIGEST_STALE && v9 == SF_DIGEST_STALE;
    } else { /* the last SLOTS still own their slots: the count is checked */
      replay += v1 == SF_DIGEST_REPLAY;
      CU_ASSERT_EQUAL (v9, SF_DIGEST_OK);
    }
  }
  CU_ASSERT_EQUAL (stale, ROUNDS - SLOTS);
  CU_ASSERT_EQUAL (replay, SLOTS);
  CU_ASSERT_EQUAL (use_nonce (srv, used->pdata[0], "wonderland", TRUE, 1, 1000, &why), SF_DIGEST_STALE);
  CU_ASSERT_STRING_EQUAL (why, "nonce slot reused");
  CU_ASSERT_EQUAL (use_nonce (srv, unused, "wonderland", TRUE, 1, 1000, &why), SF_DIGEST_STALE);
  CU_ASSERT_STRING_EQUAL (why, "nonce slot reused");
  /* A nonce issued but not used keeps its slot free: its first use is good. */
  g_autofree char *fresh = sf_digest_server_nonce (srv, 1000);
  g_autofree char *later = sf_digest_server_nonce (srv, 1000);
  CU_ASSERT_EQUAL (use_nonce (srv, later, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, fresh, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_OK);
}

static void
expired (void)
{
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, 16);
  g_autofree char *n = sf_digest_server_nonce (srv, 1000);
  g_autofree char *m = sf_digest_server_nonce (srv, 1000);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1300, NULL), SF_DIGEST_OK); /* the last good second */
  CU_ASSERT_EQUAL (sf_digest_server_slots_used (srv, 1300), 1);
  const char *why = NULL;
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 2, 1301, &why), SF_DIGEST_STALE);
  CU_ASSERT_STRING_EQUAL (why, "nonce expired");
  CU_ASSERT_EQUAL (use_nonce (srv, m, "wonderland", TRUE, 1, 1301, NULL), SF_DIGEST_STALE);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", FALSE, 0, 100000, NULL), SF_DIGEST_STALE);
  CU_ASSERT_EQUAL (sf_digest_server_slots_used (srv, 1301), 0);
  /* A nonce made in the future (more than a minute: clock skew between nodes) is not ours. */
  g_autofree char *f = sf_digest_server_nonce (srv, 2000);
  CU_ASSERT_EQUAL (use_nonce (srv, f, "wonderland", TRUE, 1, 1900, &why), SF_DIGEST_BAD);
  CU_ASSERT_STRING_EQUAL (why, "nonce not ours");
}

static void
stale_only_when_verified (void)
{
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, 1);
  g_autoptr (SfDigestServer) peer = sf_digest_server_new (the_secret, sizeof the_secret, 300, 1);
  g_autofree char *old = sf_digest_server_nonce (srv, 1000);
  g_autofree char *cur = sf_digest_server_nonce (srv, 1000);
  CU_ASSERT_EQUAL (use_nonce (srv, cur, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_OK);
  const char *why = NULL;
  /* expired, slot reused, another boot: wrong password first, then the right one */
  CU_ASSERT_EQUAL (use_nonce (srv, cur, "guess", TRUE, 2, 1400, &why), SF_DIGEST_BAD);
  CU_ASSERT_STRING_EQUAL (why, "wrong credentials");
  CU_ASSERT_EQUAL (use_nonce (srv, cur, "wonderland", TRUE, 2, 1400, NULL), SF_DIGEST_STALE);
  CU_ASSERT_EQUAL (use_nonce (srv, old, "guess", TRUE, 1, 1000, NULL), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (use_nonce (srv, old, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_STALE);
  CU_ASSERT_EQUAL (use_nonce (peer, cur, "guess", TRUE, 2, 1000, NULL), SF_DIGEST_BAD);
  CU_ASSERT_EQUAL (use_nonce (peer, cur, "wonderland", TRUE, 2, 1000, NULL), SF_DIGEST_STALE);
  /* and a challenge says stale=true only when asked */
  g_autofree char *plain = sf_digest_server_challenge (srv, "sipflow.test", SF_DIGEST_MD5, FALSE, 1000);
  CU_ASSERT_PTR_NULL (strstr (plain, "stale"));
}

static void
other_nodes (void)
{
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, 16);
  g_autoptr (SfDigestServer) rebooted = sf_digest_server_new (the_secret, sizeof the_secret, 300, 16);
  static const guint8 other[] = "another secret";
  g_autoptr (SfDigestServer) stranger = sf_digest_server_new (other, sizeof other, 300, 16);
  g_autofree char *n = sf_digest_server_nonce (srv, 1000);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_OK);
  const char *why = NULL;
  /* Same secret, another boot id (a restart, or another node): the nonce counts
   * are not here, so any count, even a new one, is stale. */
  for (guint32 nc = 1; nc <= 3; nc++) {
    CU_ASSERT_EQUAL (use_nonce (rebooted, n, "wonderland", TRUE, nc, 1000, &why), SF_DIGEST_STALE);
    CU_ASSERT_STRING_EQUAL (why, "nonce from another boot or node");
  }
  CU_ASSERT_EQUAL (use_nonce (rebooted, n, "wonderland", FALSE, 0, 1000, NULL), SF_DIGEST_STALE);
  /* Its own nonces are good to it, and stale to us. */
  g_autofree char *r = sf_digest_server_nonce (rebooted, 1000);
  CU_ASSERT_EQUAL (use_nonce (rebooted, r, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, r, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_STALE);
  /* Another secret: not ours at all. */
  CU_ASSERT_EQUAL (use_nonce (stranger, n, "wonderland", TRUE, 2, 1000, &why), SF_DIGEST_BAD);
  CU_ASSERT_STRING_EQUAL (why, "nonce not ours");
}

static void
unique_nonces (void)
{
  static const guint8 secret[] = "s";
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (secret, sizeof secret, 300, 65536);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int i = 0; i < 10000; i++)
    g_hash_table_add (seen, sf_digest_server_nonce (srv, 42));
  CU_ASSERT_EQUAL (g_hash_table_size (seen), 10000);
}

/* sf_digest_server_nonce_ours: ours whatever the boot, expired or not; a
 * forged, altered, foreign or future nonce is not; no state used. */
static void
nonce_ours (void)
{
  static const guint8 other[] = "another secret";
  g_autoptr (SfDigestServer) srv = sf_digest_server_new (the_secret, sizeof the_secret, 300, 4);
  g_autoptr (SfDigestServer) rebooted = sf_digest_server_new (the_secret, sizeof the_secret, 300, 4);
  g_autoptr (SfDigestServer) stranger = sf_digest_server_new (other, sizeof other, 300, 4);
  g_autofree char *n = sf_digest_server_nonce (srv, 1000);
  gboolean expired = TRUE;
  CU_ASSERT_TRUE (sf_digest_server_nonce_ours (srv, n, 1000, &expired));
  CU_ASSERT_FALSE (expired);
  CU_ASSERT_TRUE (sf_digest_server_nonce_ours (srv, n, 1300, &expired));
  CU_ASSERT_FALSE (expired);
  CU_ASSERT_TRUE (sf_digest_server_nonce_ours (srv, n, 1301, &expired));
  CU_ASSERT_TRUE (expired);
  CU_ASSERT_TRUE (sf_digest_server_nonce_ours (srv, n, 940, NULL));
  CU_ASSERT_FALSE (sf_digest_server_nonce_ours (srv, n, 939, NULL)); /* more than 60 s ahead */
  CU_ASSERT_TRUE (sf_digest_server_nonce_ours (rebooted, n, 1000, NULL)); /* same secret: genuine */
  CU_ASSERT_FALSE (sf_digest_server_nonce_ours (stranger, n, 1000, NULL));
  CU_ASSERT_FALSE (sf_digest_server_nonce_ours (srv, NULL, 1000, NULL));
  CU_ASSERT_FALSE (sf_digest_server_nonce_ours (srv, "0", 1000, NULL));
  CU_ASSERT_FALSE (sf_digest_server_nonce_ours (srv, "", 1000, NULL));
  g_autofree char *bent = g_strdup (n);
  bent[5] = bent[5] == '0' ? '1' : '0'; /* another time under the same MAC */
  CU_ASSERT_FALSE (sf_digest_server_nonce_ours (srv, bent, 1000, NULL));
  g_autofree char *longer = g_strconcat (n, "0", NULL);
  CU_ASSERT_FALSE (sf_digest_server_nonce_ours (srv, longer, 1000, NULL));
  /* Asking uses nothing up: the nonce is still taken once, then replayed. */
  for (int i = 0; i < 10; i++)
    CU_ASSERT_TRUE (sf_digest_server_nonce_ours (srv, n, 1000, NULL));
  CU_ASSERT_EQUAL (sf_digest_server_slots_used (srv, 1000), 0);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_OK);
  CU_ASSERT_EQUAL (use_nonce (srv, n, "wonderland", TRUE, 1, 1000, NULL), SF_DIGEST_REPLAY);
}

static void
creds_parse (void)
{
  static const char *const cases[] = {
    "Digest username=\"alice\", realm=\"wonder\\\"land\", nonce=\"abc\", uri=\"sip:a.example\", "
    "response=\"0123\", algorithm=MD5, qop=auth, cnonce=\"c\\\\n\", nc=00000001",
    "Digest REALM=\"first\", realm=\"second\", Username=bob, nonce=\"\", uri=\"\\\\\", NC=00000002, qop=\"auth\"",
    "Digest realm=\"r\", realm=\"s\", x=\"y\", response=\"a\\\\b\\\"\"",
    "Digest foo=bar",
    /* names that extend or cut a wanted one are other names */
    "Digest responsex=\"bad\", ncx=00000009, non=\"n\", realmy=q, cnonc=z, response=\"good\", nc=00000003",
    "Digest response=\"\", nc=\"\", realm=\"\"",
  };
  static const char *const names[] = { "username", "realm", "nonce", "uri", "response", "algorithm", "qop", "cnonce", "nc" };
  SfDigestCreds all[G_N_ELEMENTS (cases)] = { 0 }; /* each case's, for the checks after the loop */
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GPtrArray) v = values (SF_SIP_HDR_AUTHORIZATION, cases[i]);
    CU_ASSERT_EQUAL_FATAL (v->len, 1);
    SfDigestCreds c = { 0 };
    sf_digest_creds_parse (v->pdata[0], &c);
    all[i] = c;
    const char *got[] = { c.username, c.realm, c.nonce, c.uri, c.response, c.algorithm, c.qop, c.cnonce, c.nc };
    for (gsize k = 0; k < G_N_ELEMENTS (names); k++) {
      g_autofree char *want = sf_digest_param (v->pdata[0], names[k]);
      if (g_strcmp0 (want, got[k]) != 0)
        g_printerr ("creds_parse: case %zu, %s: '%s', want '%s'\n", i, names[k], got[k], want);
      CU_ASSERT_STRING_EQUAL (got[k] != NULL ? got[k] : "(none)", want != NULL ? want : "(none)");
    }
  }
  /* what the cases above must have met, lest they test nothing; (a
   * flag-form name, "nonce, nonce=x", never gets here: the parser refuses
   * credentials that are not all name=value) */
  CU_ASSERT_STRING_EQUAL (all[0].realm, "wonder\"land");
  CU_ASSERT_STRING_EQUAL (all[0].cnonce, "c\\n");
  CU_ASSERT_STRING_EQUAL (all[1].realm, "first");
  CU_ASSERT_STRING_EQUAL (all[1].username, "bob");
  CU_ASSERT_STRING_EQUAL (all[1].nonce, "");
  CU_ASSERT_STRING_EQUAL (all[1].uri, "\\");
  CU_ASSERT_PTR_NULL (all[1].cnonce);
  CU_ASSERT_STRING_EQUAL (all[4].response, "good");
  CU_ASSERT_STRING_EQUAL (all[4].nc, "00000003");
  CU_ASSERT_PTR_NULL (all[4].nonce);
  CU_ASSERT_PTR_NULL (all[4].realm);
  CU_ASSERT_STRING_EQUAL (all[5].response, "");
  CU_ASSERT_STRING_EQUAL (all[5].nc, "");
  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    sf_digest_creds_clear (&all[i]);
}

void
sf_test_register_sip_digest (void)
{
  CU_pSuite s = CU_add_suite ("sip-digest", NULL, NULL);
  SF_ADD_TEST (s, vectors);
  SF_ADD_TEST (s, pick_first_supported);
  SF_ADD_TEST (s, server_round_trip);
  SF_ADD_TEST (s, nonce_counts);
  SF_ADD_TEST (s, nc_window);
  SF_ADD_TEST (s, no_qop_once);
  SF_ADD_TEST (s, slot_reuse);
  SF_ADD_TEST (s, expired);
  SF_ADD_TEST (s, stale_only_when_verified);
  SF_ADD_TEST (s, other_nodes);
  SF_ADD_TEST (s, unique_nonces);
  SF_ADD_TEST (s, nonce_ours);
  SF_ADD_TEST (s, creds_parse);
}
