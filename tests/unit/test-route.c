/* test-route.c: the Call-ID scan that picks a message's worker before it is
 * parsed (sip/sf-sip-route.h) and the routing function (framework/sf-workers.h),
 * docs/workers.md "Who owns a message".
 *  - corpus_agrees: on every RFC 4475 and RFC 5118 torture message, every fuzz
 *    corpus entry make check replays (each part of a script too) and the odd
 *    forms below, the scan finds the Call-ID the full parser finds whenever the
 *    parser accepts the message (RFC 3261 7.3.1, 20.8, 25.1); each accepted
 *    message again with its Call-ID line in the compact form, in other cases,
 *    with white space before the colon, and folded
 *  - odd_forms: compact form i (20.8), names in any case, white space before the
 *    colon, LWS and folding around the value, LF line ends, keep-alives before
 *    the start line; a Call-ID in the body, in a folded line, or in another
 *    header's name is not one; none, two, an empty or malformed one: FALSE
 *    (the message stays where it was read: the parser refuses it there)
 *  - same_owner: an INVITE, its retransmission, its CANCEL (9.1), the ACK for
 *    a non-2xx (17.1.1.3) and for the 2xx (13.2.2.4), the BYE (12.2.1.1) and
 *    every response (8.2.6.2) route to one worker for N = 2, 3 and 8
 *  - spread: the keyed hash spreads Call-IDs over the workers, and another key
 *    spreads them otherwise (a peer cannot aim calls without the key) */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-msg.h"
#include "sip/sf-sip-route.h"
#include "framework/sf-workers.h"
#include <string.h>

typedef struct {
  guint inputs;    /* byte strings looked at */
  guint accepted;  /* of them, accepted by the parser (and so checked) */
  guint failed;
} Tally;

static gboolean
agrees_bytes (const char *data, gsize len, Tally *t)
{
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, NULL);
  SfSipStr id;
  gboolean found = sf_sip_route_call_id (data, len, &id);
  t->inputs++;
  if (m == NULL)
    return TRUE; /* refused by the parser: any answer of the scan is safe */
  t->accepted++;
  SfSipStr want = sf_sip_msg_call_id (m);
  if (found && id.len == want.len && memcmp (id.p, want.p, id.len) == 0)
    return TRUE;
  t->failed++;
  g_printerr ("\nroute: the scan %s '%.*s', the parser '%.*s' in:\n%.*s\n", found ? "found" : "found no Call-ID",
              found ? (int) MIN (id.len, 80) : 0, found ? id.p : "", (int) MIN (want.len, 80), want.p,
              (int) MIN (len, 400), data);
  return FALSE;
}

/* @m's bytes with its Call-ID line replaced by @name ":" @gap @value (transfer full). */
static GBytes *
with_line (const char *data, gsize len, SfSipStr line, const char *name, const char *gap, SfSipStr value)
{
  GString *s = g_string_new_len (data, (gssize) (line.p - data));
  g_string_append_printf (s, "%s:%s%.*s\r\n", name, gap, (int) value.len, value.p);
  const char *after = line.p + line.len;
  g_string_append_len (s, after, (gssize) (data + len - after));
  return g_string_free_to_bytes (s);
}

/* @data, then variants of its Call-ID line when the parser accepts it. */
static void
agrees (const char *data, gsize len, Tally *t)
{
  CU_ASSERT_TRUE (agrees_bytes (data, len, t));
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, NULL);
  if (m == NULL)
    return;
  const SfSipHdr *h = sf_sip_msg_find (m, SF_SIP_HDR_CALL_ID);
  if (h == NULL)
    return;
  const char *base = g_bytes_get_data (b, NULL);
  SfSipStr line = sf_sip_str (h->line.p, h->line.len);
  SfSipStr value = sf_sip_msg_call_id (m);
  static const struct { const char *name, *gap; } forms[] = {
    { "i", " " }, { "I", "" }, { "call-id", "\t" }, { "CALL-ID ", "  " }, { "Call-Id\t", " \r\n  " },
    { "Call-ID", "\r\n\t" }, { "cAlL-iD", " \r\n \r\n " },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (forms); i++) {
    g_autoptr (GBytes) v = with_line (base, g_bytes_get_size (b), line, forms[i].name, forms[i].gap, value);
    gsize vlen;
    const char *vd = g_bytes_get_data (v, &vlen);
    CU_ASSERT_TRUE (agrees_bytes (vd, vlen, t));
  }
}

/* Every file of @dir (recursively); the parts of a fuzz script ("--" lines) too. */
static void
agrees_dir (const char *dir, gboolean parts, Tally *t)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      agrees_dir (path, parts, t);
      continue;
    }
    if (g_str_has_suffix (name, ".tsv") || g_str_has_suffix (name, ".md"))
      continue;
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents (path, &data, &len, NULL))
      continue;
    agrees (data, len, t);
    for (const char *p = data, *end = data + len; parts && p < end;) {
      const char *sep = memmem (p, (gsize) (end - p), "\n--\n", 4);
      const char *pend = sep != NULL ? sep : end;
      agrees (p, (gsize) (pend - p), t);
      p = sep != NULL ? sep + 4 : end;
    }
  }
}

static void
corpus_agrees (void)
{
  Tally torture = { 0 }, corpus = { 0 };
  const char *env = g_getenv ("SF_TESTDATA");
  g_autofree char *data = g_strdup (env != NULL ? env : SF_SRCDIR "/tests/data");
  g_autofree char *r4475 = g_build_filename (data, "rfc4475", NULL);
  g_autofree char *r5118 = g_build_filename (data, "rfc5118", NULL);
  agrees_dir (r4475, FALSE, &torture);
  agrees_dir (r5118, FALSE, &torture);
  static const char *const dirs[] = { "sip", "proxy", "txn", "refer", "replaces" };
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++) {
    g_autofree char *dir = g_build_filename (SF_SRCDIR, "tests", "fuzz", "corpus", dirs[i], NULL);
    agrees_dir (dir, strcmp (dirs[i], "sip") != 0, &corpus);
  }
  g_print ("\n  torture: %u inputs, %u accepted; fuzz corpus: %u inputs, %u accepted ", torture.inputs,
           torture.accepted, corpus.inputs, corpus.accepted);
  CU_ASSERT_EQUAL (torture.failed, 0);
  CU_ASSERT_EQUAL (corpus.failed, 0);
  CU_ASSERT_TRUE (torture.accepted >= 8 * 20); /* the accepted torture messages and their 7 variants each */
  CU_ASSERT_TRUE (corpus.accepted >= 1000);
}

#define HEAD "INVITE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n" \
             "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.org>\r\nCSeq: 1 INVITE\r\n"

/* The scan's answer for @text: the Call-ID (transfer full), or NULL. */
static char *
scan (const char *text)
{
  SfSipStr id;
  if (!sf_sip_route_call_id (text, strlen (text), &id))
    return NULL;
  return g_strndup (id.p, id.len);
}

static void
odd_forms (void)
{
  static const struct {
    const char *text, *want; /* want NULL: no Call-ID */
  } cases[] = {
    { HEAD "Call-ID: a84b4c76e66710@pc33.example.com\r\n\r\n", "a84b4c76e66710@pc33.example.com" },
    { HEAD "i: compact@x\r\n\r\n", "compact@x" },
    { HEAD "I:UPPER\r\n\r\n", "UPPER" },
    { HEAD "call-id:lower\r\n\r\n", "lower" },
    { HEAD "CALL-ID \t : spaced \t \r\n\r\n", "spaced" },
    { HEAD "Call-ID:\r\n folded@x\r\n\r\n", "folded@x" },
    { HEAD "Call-ID: \r\n \r\n\tfolded-twice\r\n \r\n\r\n", "folded-twice" },
    { "INVITE sip:b@x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\ni: lf-only\n\n", "lf-only" },
    { "\r\n\r\n" HEAD "i: after-keepalive\r\n\r\n", "after-keepalive" },
    { HEAD "Subject: hi\r\n i: in-a-fold\r\nCall-ID: real\r\n\r\n", "real" },
    { HEAD "Call-IDx: no\r\nX-Call-ID: no\r\nCall-ID: yes\r\n\r\n", "yes" },
    { HEAD "Call-ID: \"(){}<>:[]?/\"@w\r\n\r\n", "\"(){}<>:[]?/\"@w" },
    { HEAD "Content-Length: 13\r\n\r\nCall-ID: body", NULL },
    { HEAD "\r\nCall-ID: body\r\n\r\n", NULL },
    { HEAD "Subject: hi\r\n i: only-in-a-fold\r\n\r\n", NULL },
    { HEAD "Call-ID: one\r\ni: two\r\n\r\n", NULL },
    { HEAD "Call-ID:\r\n\r\n", NULL },
    { HEAD "Call-ID: two words\r\n\r\n", NULL },
    { HEAD "Call-ID: no-end-of-headers\r\n", NULL },
    { HEAD "Call-ID no-colon\r\n\r\n", NULL },
    { "Call-ID: only-a-start-line", NULL },
    { "", NULL },
  };
  Tally t = { 0 };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = scan (cases[i].text);
    if (g_strcmp0 (got, cases[i].want) != 0)
      g_printerr ("\nroute case %" G_GSIZE_FORMAT ": got '%s', want '%s'\n", i, got ? got : "(none)",
                  cases[i].want ? cases[i].want : "(none)");
    CU_ASSERT_STRING_EQUAL (got ? got : "(none)", cases[i].want ? cases[i].want : "(none)");
    agrees (cases[i].text, strlen (cases[i].text), &t);
  }
  CU_ASSERT_EQUAL (t.failed, 0);
  SfSipStr id;
  CU_ASSERT_FALSE (sf_sip_route_call_id (NULL, 0, &id));
}

/* A message of one call: @first its start line, @via its top Via's branch,
 * @cid_line its Call-ID line, @to_tag the To tag (NULL: none). */
static char *
call_msg (const char *first, const char *branch, const char *cid_line, const char *to_tag, const char *cseq)
{
  return g_strdup_printf ("%s\r\nVia: SIP/2.0/UDP pc33.example.com;branch=%s\r\nMax-Forwards: 70\r\n"
                          "From: <sip:alice@example.com>;tag=9fxced76sl\r\nTo: <sip:bob@example.org>%s%s\r\n"
                          "%s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
                          first, branch, to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "", cid_line, cseq);
}

static void
same_owner (void)
{
  const char *cid = "3848276298220188511@atlanta.example.com";
  g_autofree char *plain = g_strdup_printf ("Call-ID: %s", cid);
  g_autofree char *compact = g_strdup_printf ("i:%s", cid);
  g_autofree char *folded = g_strdup_printf ("call-id :\r\n  %s ", cid);
  const char *ruri = "sip:bob@example.org SIP/2.0";
  g_autofree char *inv = g_strdup_printf ("INVITE %s", ruri);
  g_autofree char *cancel = g_strdup_printf ("CANCEL %s", ruri);
  g_autofree char *ack = g_strdup_printf ("ACK %s", ruri);
  g_autofree char *bye = g_strdup_printf ("BYE %s", ruri);
  char *msgs[] = {
    call_msg (inv, "z9hG4bK74bf9", plain, NULL, "1 INVITE"),            /* the INVITE */
    call_msg (inv, "z9hG4bK74bf9", compact, NULL, "1 INVITE"),          /* its retransmission, reformatted by a hop */
    call_msg (cancel, "z9hG4bK74bf9", folded, NULL, "1 CANCEL"),        /* its CANCEL (9.1) */
    call_msg ("SIP/2.0 100 Trying", "z9hG4bK74bf9", plain, NULL, "1 INVITE"),
    call_msg ("SIP/2.0 180 Ringing", "z9hG4bK74bf9", compact, "8321234356", "1 INVITE"),
    call_msg ("SIP/2.0 487 Request Terminated", "z9hG4bK74bf9", plain, "8321234356", "1 INVITE"),
    call_msg (ack, "z9hG4bK74bf9", plain, "8321234356", "1 ACK"),       /* ACK for the 487 (17.1.1.3) */
    call_msg ("SIP/2.0 200 OK", "z9hG4bK74bf9", folded, "8321234356", "1 INVITE"),
    call_msg (ack, "z9hG4bKnew1", compact, "8321234356", "1 ACK"),      /* ACK for the 2xx: a new branch (13.2.2.4) */
    call_msg (bye, "z9hG4bKnew2", plain, "8321234356", "2 BYE"),        /* in the dialog (12.2.1.1) */
    call_msg ("SIP/2.0 200 OK", "z9hG4bKnew2", plain, "8321234356", "2 BYE"),
  };
  static const guint64 key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
  static const guint ns[] = { 2, 3, 8 };
  for (gsize k = 0; k < G_N_ELEMENTS (ns); k++) {
    guint want = sf_workers_route_key (key, cid, strlen (cid), ns[k]);
    CU_ASSERT_TRUE (want < ns[k]);
    for (gsize i = 0; i < G_N_ELEMENTS (msgs); i++) {
      g_autoptr (GBytes) b = g_bytes_new (msgs[i], strlen (msgs[i]));
      g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, NULL);
      CU_ASSERT_PTR_NOT_NULL (m); /* each is a message the parser accepts */
      SfSipStr id;
      CU_ASSERT_TRUE_FATAL (sf_sip_route_call_id (msgs[i], strlen (msgs[i]), &id));
      CU_ASSERT_EQUAL (sf_workers_route_key (key, id.p, id.len, ns[k]), want);
    }
  }
  for (gsize i = 0; i < G_N_ELEMENTS (msgs); i++)
    g_free (msgs[i]);
  CU_ASSERT_EQUAL (sf_workers_route_key (key, cid, strlen (cid), 1), 0);
}

static void
spread (void)
{
  static const guint64 k1[2] = { 1, 2 }, k2[2] = { 3, 4 };
  guint count[8] = { 0 }, moved = 0;
  for (guint i = 0; i < 8000; i++) {
    g_autofree char *id = g_strdup_printf ("%u-call@host.example", i);
    guint w = sf_workers_route_key (k1, id, strlen (id), 8);
    count[w]++;
    moved += w != sf_workers_route_key (k2, id, strlen (id), 8);
  }
  for (guint w = 0; w < 8; w++)
    CU_ASSERT_TRUE (count[w] > 850 && count[w] < 1150); /* 1000 each, give or take 5 sigma */
  CU_ASSERT_TRUE (moved > 6500); /* 7 in 8 change worker under another key */
}

void
sf_test_register_route (void)
{
  CU_pSuite s = CU_add_suite ("route", NULL, NULL);
  CU_add_test (s, "corpus_agrees", corpus_agrees);
  CU_add_test (s, "odd_forms", odd_forms);
  CU_add_test (s, "same_owner", same_owner);
  CU_add_test (s, "spread", spread);
}
