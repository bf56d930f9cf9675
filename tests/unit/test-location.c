/* test-location.c: the in-memory location service (operators/registrar/sf-location.h)
 * on a fake clock: results come in a later main-loop iteration; bindings added,
 * refreshed, removed (expires 0 and Contact: *), ordered by q, expired on time;
 * a CSeq not above the last one for the same Call-ID refused (10.3 step 7); the
 * per-address limit (a REGISTER past it changes nothing); the limit on
 * addresses-of-record; the users file parser's verdicts with line numbers;
 * auth.algorithms: MD5 alone by default, SHA-256 ones offered first whatever
 * the order written (RFC 8760 2.4, RFC 7616 3.7: most preferred first). */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-test.h"
#include "operators/registrar/sf-location.h"
#include "operators/registrar/sf-registrar.h"
#include <string.h>

static void
keep (SfLocationResult *r, gpointer data)
{
  SfLocationResult **out = data;
  *out = r;
}

/* Runs the main context until the result comes (bounded). */
static SfLocationResult *
wait_result (SfLocationResult **slot)
{
  for (int i = 0; i < 100 && *slot == NULL; i++)
    g_main_context_iteration (NULL, FALSE);
  return *slot;
}

static SfLocationResult *
update (SfLocation *loc, const char *aor, const char *cid, guint32 cseq, gboolean star, const SfLocChange *c, guint n)
{
  SfLocationResult *r = NULL;
  sf_location_update (loc, aor, cid, cseq, star, c, n, keep, &r, NULL);
  g_assert (r == NULL); /* never from inside the call */
  return wait_result (&r);
}

static SfLocationResult *
lookup (SfLocation *loc, const char *aor)
{
  SfLocationResult *r = NULL;
  sf_location_lookup (loc, aor, keep, &r, NULL);
  return wait_result (&r);
}

static void
test_bindings (void)
{
  SfClock *clock = sf_clock_new_fake (1000 * G_USEC_PER_SEC);
  SfLocation *loc = sf_location_new_memory (clock);
  const SfLocChange two[] = { { "sip:a@192.0.2.1", 0.5, 60 }, { "sip:a@192.0.2.2", 0.9, 120 } };
  g_autoptr (SfLocationResult) r1 = update (loc, "sip:alice@example.com", "c1", 1, FALSE, two, 2);
  CU_ASSERT_PTR_NULL (r1->error);
  CU_ASSERT_EQUAL_FATAL (r1->bindings->len, 2);
  CU_ASSERT_STRING_EQUAL (((SfLocBinding *) r1->bindings->pdata[0])->contact, "sip:a@192.0.2.2"); /* best q first */
  CU_ASSERT_EQUAL (((SfLocBinding *) r1->bindings->pdata[0])->expires_at - r1->now, 120);
  CU_ASSERT_EQUAL (sf_location_size (loc), 2);
  /* the same Call-ID with a CSeq not above: refused whole (10.3 step 7) */
  const SfLocChange again[] = { { "sip:a@192.0.2.1", 1.0, 600 } };
  g_autoptr (SfLocationResult) r2 = update (loc, "sip:alice@example.com", "c1", 1, FALSE, again, 1);
  CU_ASSERT_PTR_NOT_NULL (r2->error);
  CU_ASSERT_TRUE (r2->error != NULL && r2->error->code == SF_LOCATION_ERROR_OUT_OF_ORDER);
  /* a refresh with a higher CSeq; another Call-ID may update too */
  g_autoptr (SfLocationResult) r3 = update (loc, "sip:alice@example.com", "c2", 1, FALSE, again, 1);
  CU_ASSERT_PTR_NULL (r3->error);
  CU_ASSERT_EQUAL (((SfLocBinding *) r3->bindings->pdata[0])->expires_at - r3->now, 600);
  /* expiry on the clock: after 121 s only the refreshed one is left */
  sf_clock_fake_set_us (clock, (1000 + 121) * G_USEC_PER_SEC);
  g_autoptr (SfLocationResult) r4 = lookup (loc, "sip:alice@example.com");
  CU_ASSERT_EQUAL_FATAL (r4->bindings->len, 1);
  CU_ASSERT_STRING_EQUAL (((SfLocBinding *) r4->bindings->pdata[0])->contact, "sip:a@192.0.2.1");
  /* expires 0 removes; Contact: * clears */
  const SfLocChange gone[] = { { "sip:a@192.0.2.1", 1.0, 0 } };
  g_autoptr (SfLocationResult) r5 = update (loc, "sip:alice@example.com", "c2", 2, FALSE, gone, 1);
  CU_ASSERT_EQUAL (r5->bindings->len, 0);
  CU_ASSERT_EQUAL (sf_location_size (loc), 0);
  g_autoptr (SfLocationResult) r6 = update (loc, "sip:bob@example.com", "c3", 1, FALSE, two, 2);
  g_autoptr (SfLocationResult) r7 = update (loc, "sip:bob@example.com", "c4", 1, TRUE, NULL, 0);
  CU_ASSERT_EQUAL (r7->bindings->len, 0);
  g_autoptr (SfLocationResult) r8 = lookup (loc, "sip:nobody@example.com");
  CU_ASSERT_EQUAL (r8->bindings->len, 0);
  /* the limit per address-of-record */
  SfLocationResult *last = NULL;
  for (int i = 0; i <= SF_LOCATION_MAX_BINDINGS; i++) {
    g_autofree char *c = g_strdup_printf ("sip:x@192.0.2.%d", i + 1);
    SfLocChange one = { c, 1.0, 60 };
    g_clear_pointer (&last, sf_location_result_free);
    last = update (loc, "sip:many@example.com", "c5", (guint32) i + 1, FALSE, &one, 1);
  }
  CU_ASSERT_TRUE (last->error != NULL && last->error->code == SF_LOCATION_ERROR_FULL);
  sf_location_result_free (last);
  /* a REGISTER past the limit is refused whole: removing one and adding two
   * (one too many) changes nothing; removing one and adding one is fine */
  const SfLocChange swap_two[] = { { "sip:x@192.0.2.1", 1.0, 0 }, { "sip:y@192.0.2.1", 1.0, 60 }, { "sip:y@192.0.2.2", 1.0, 60 } };
  g_autoptr (SfLocationResult) r9 = update (loc, "sip:many@example.com", "c5", 100, FALSE, swap_two, 3);
  CU_ASSERT_TRUE (r9->error != NULL && r9->error->code == SF_LOCATION_ERROR_FULL);
  g_autoptr (SfLocationResult) now = lookup (loc, "sip:many@example.com");
  CU_ASSERT_EQUAL (now->bindings->len, SF_LOCATION_MAX_BINDINGS);
  gboolean still = FALSE;
  for (guint i = 0; i < now->bindings->len; i++)
    still |= strcmp (((SfLocBinding *) now->bindings->pdata[i])->contact, "sip:x@192.0.2.1") == 0;
  CU_ASSERT_TRUE (still); /* not half applied */
  g_autoptr (SfLocationResult) r10 = update (loc, "sip:many@example.com", "c5", 101, FALSE, swap_two, 2);
  CU_ASSERT_PTR_NULL (r10->error);
  CU_ASSERT_EQUAL (r10->bindings->len, SF_LOCATION_MAX_BINDINGS);
  /* a contact given twice counts as its last occurrence: removed then added
   * again is one binding more, so at the limit it is refused */
  const SfLocChange twice[] = { { "sip:z@192.0.2.9", 1.0, 0 }, { "sip:z@192.0.2.9", 1.0, 60 } };
  g_autoptr (SfLocationResult) r11 = update (loc, "sip:many@example.com", "c5", 102, FALSE, twice, 2);
  CU_ASSERT_TRUE (r11->error != NULL && r11->error->code == SF_LOCATION_ERROR_FULL);
  /* added then removed in the same REGISTER: nothing more, accepted */
  const SfLocChange undone[] = { { "sip:z@192.0.2.9", 1.0, 60 }, { "sip:z@192.0.2.9", 1.0, 0 } };
  g_autoptr (SfLocationResult) r12 = update (loc, "sip:many@example.com", "c5", 103, FALSE, undone, 2);
  CU_ASSERT_PTR_NULL (r12->error);
  CU_ASSERT_EQUAL (r12->bindings->len, SF_LOCATION_MAX_BINDINGS);
  /* a result still pending when the store goes is dropped, its data freed */
  sf_location_lookup (loc, "sip:many@example.com", keep, g_new0 (SfLocationResult *, 1), g_free);
  sf_location_free (loc);
  sf_clock_free (clock);
}

/* registrar.max_aors: the store holds at most that many addresses-of-record;
 * expired ones are purged before one more is refused. */
static void
test_max_aors (void)
{
  SfClock *clock = sf_clock_new_fake (1000 * G_USEC_PER_SEC);
  SfLocation *loc = sf_location_new_memory (clock);
  sf_location_set_max_aors (loc, 2);
  const SfLocChange short_one[] = { { "sip:a@192.0.2.1", 1.0, 10 } };
  const SfLocChange long_one[] = { { "sip:b@192.0.2.1", 1.0, 600 } };
  g_autoptr (SfLocationResult) r1 = update (loc, "sip:a@example.com", "c1", 1, FALSE, short_one, 1);
  g_autoptr (SfLocationResult) r2 = update (loc, "sip:b@example.com", "c2", 1, FALSE, long_one, 1);
  CU_ASSERT_TRUE (r1->error == NULL && r2->error == NULL);
  g_autoptr (SfLocationResult) r3 = update (loc, "sip:c@example.com", "c3", 1, FALSE, long_one, 1);
  CU_ASSERT_TRUE (r3->error != NULL && r3->error->code == SF_LOCATION_ERROR_STORE_FULL);
  CU_ASSERT_EQUAL (r3->bindings->len, 0);
  /* a known address-of-record may still refresh */
  g_autoptr (SfLocationResult) r4 = update (loc, "sip:b@example.com", "c2", 2, FALSE, long_one, 1);
  CU_ASSERT_PTR_NULL (r4->error);
  /* once a's binding has expired, c fits */
  sf_clock_fake_set_us (clock, (1000 + 11) * G_USEC_PER_SEC);
  g_autoptr (SfLocationResult) r5 = update (loc, "sip:c@example.com", "c3", 2, FALSE, long_one, 1);
  CU_ASSERT_PTR_NULL (r5->error);
  CU_ASSERT_EQUAL (sf_location_size (loc), 2);
  sf_location_free (loc);
  sf_clock_free (clock);
}

static void
test_users_file (void)
{
  g_autoptr (GError) e = NULL;
  g_autoptr (GHashTable) ok = sf_registrar_parse_users (
    "# users\nalice:secret\n\nbob:sipflow.test:0123456789abcdef0123456789ABCDEF\n", "users", "sipflow.test", &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ok);
  CU_ASSERT_EQUAL (g_hash_table_size (ok), 2);
  SfUser *bob = g_hash_table_lookup (ok, "bob");
  CU_ASSERT_TRUE (bob != NULL && bob->password == NULL && strcmp (bob->ha1_md5, "0123456789abcdef0123456789abcdef") == 0);
  static const struct { const char *text, *message; } bad[] = {
    { "alice:secret\nnocolon\n", "users:2: expected user:password or user:realm:HA1 (32 hex digits)" },
    { "alice:\n", "users:1: expected user:password or user:realm:HA1 (32 hex digits)" },
    { "bob:other.realm:0123456789abcdef0123456789abcdef\n", "users:1: realm 'other.realm' is not registrar.realm 'sipflow.test'" },
    { "bob:sipflow.test:xyz\n", "users:1: expected user:password or user:realm:HA1 (32 hex digits)" },
    { "alice:a\nalice:b\n", "users:2: user 'alice' given twice" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) err = NULL;
    GHashTable *t = sf_registrar_parse_users (bad[i].text, "users", "sipflow.test", &err);
    CU_ASSERT_PTR_NULL (t);
    CU_ASSERT_TRUE (err != NULL && strcmp (err->message, bad[i].message) == 0);
    if (err != NULL && strcmp (err->message, bad[i].message) != 0)
      g_printerr ("users file case %zu: '%s'\n", i, err->message);
    if (t != NULL)
      g_hash_table_unref (t);
  }
}

/* The challenges sf_registrar_setup() keeps for auth.algorithms=@value (NULL: the default). */
static char *
algorithms (const char *value)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autofree char *set = value != NULL ? g_strdup_printf ("auth.algorithms=%s", value) : NULL;
  if (set != NULL)
    CU_ASSERT_TRUE_FATAL (sf_config_set (env->cfg, set, NULL));
  GString *out = g_string_new (NULL);
  if (sf_registrar_setup (env->ep, env->cfg, NULL)) {
    SfRegistrar *r = sf_module_state (env->ep, &sf_registrar_module);
    for (guint i = 0; i < r->n_algs; i++)
      g_string_append_printf (out, "%s%s", i > 0 ? "," : "", sf_digest_alg_name (r->algs[i]));
    sf_registrar_teardown (env->ep);
  } else
    g_string_append (out, "error");
  sf_test_env_free (env);
  return g_string_free (out, FALSE);
}

static void
test_algorithm_order (void)
{
  static const struct { const char *value, *offered; } cases[] = {
    { NULL, "MD5" }, /* baresip 1.0 (libre 1.1) fails on a non-MD5 challenge, sipp reads only the first */
    { "MD5,SHA-256", "SHA-256,MD5" },
    { "SHA-256,MD5", "SHA-256,MD5" },
    { "MD5-sess,MD5,SHA-256-sess,SHA-256", "SHA-256-sess,SHA-256,MD5-sess,MD5" },
    { "SHA-256", "SHA-256" },
    { "MD5,SHA-1", "error" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = algorithms (cases[i].value);
    CU_ASSERT_STRING_EQUAL (got, cases[i].offered);
  }
}

static void
test_qvalues (void)
{
  static const struct { const char *text; gboolean ok; guint v; } cases[] = {
    { "1", TRUE, 1000 }, { "0", TRUE, 0 }, { "0.5", TRUE, 500 }, { "0.123", TRUE, 123 }, { "1.000", TRUE, 1000 },
    { "0.", TRUE, 0 }, { "1.001", FALSE, 0 }, { "0.1234", FALSE, 0 }, { "nan", FALSE, 0 }, { "inf", FALSE, 0 },
    { "2", FALSE, 0 }, { "-0.5", FALSE, 0 }, { "0x1", FALSE, 0 }, { "", FALSE, 0 }, { ".5", FALSE, 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint v = 9999;
    CU_ASSERT_EQUAL (sf_registrar_parse_q (cases[i].text, &v), cases[i].ok);
    if (cases[i].ok)
      CU_ASSERT_EQUAL (v, cases[i].v);
  }
  g_autofree char *a = sf_registrar_format_q (500);
  g_autofree char *b = sf_registrar_format_q (1000);
  g_autofree char *c = sf_registrar_format_q (5);
  CU_ASSERT_STRING_EQUAL (a, "0.500");
  CU_ASSERT_STRING_EQUAL (b, "1.000");
  CU_ASSERT_STRING_EQUAL (c, "0.005");
}

void
sf_test_register_location (void)
{
  CU_pSuite s = CU_add_suite ("location", NULL, NULL);
  SF_ADD_TEST (s, test_bindings);
  SF_ADD_TEST (s, test_max_aors);
  SF_ADD_TEST (s, test_users_file);
  SF_ADD_TEST (s, test_algorithm_order);
  SF_ADD_TEST (s, test_qvalues);
}
