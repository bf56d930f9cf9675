/* test-location.c: the location service (operators/registrar/sf-location.h),
 * each store test on both backends (memory; sqlite on a file under a temp
 * dir), on a fake clock: results come in a later main-loop iteration; bindings added,
 * refreshed, removed (expires 0 and Contact: *), ordered by q, expired on time;
 * a CSeq not above the last one for the same Call-ID refused (10.3 step 7); the
 * per-address limit (a REGISTER past it changes nothing); the limit on
 * addresses-of-record; the users file parser's verdicts with line numbers;
 * auth.algorithms: MD5 alone by default, SHA-256 ones offered first whatever
 * the order written (RFC 8760 2.4, RFC 7616 3.7: most preferred first);
 * sqlite write failures in a row warned once, not once each, those left out
 * told when their window ends (the store idle) or it closes;
 * looking inside: the walk, a removal written through, the offline walk and
 * purge of the file; a closed flow's bindings found through an index (only
 * the AORs holding one looked at; the index exact over random operations);
 * the redis layer where no Redis is needed: its URI, a
 * hostile stored binding, a Redis that refuses or never answers (every
 * request fails within the timeout, none from inside the call; freed with
 * requests pending), and one whose SCAN cursor never comes back to 0 (the
 * offline walk cut after a bounded number of SCANs); answers run in an
 * endpoint's batch (sf_location_answer_in): never inside the call that asked,
 * one asked from an answer's callback not inside that callback, those pending
 * dropped (their data freed, no callback) when the location is freed. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-test.h"
#include "operators/registrar/sf-location.h"
#include "operators/registrar/sf-registrar.h"
#include "operators/registrar/sf-location-store.h"
#include "operators/registrar/sf-nat.h"
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

/* The backend the store tests run on, and the sqlite one's file. */
static gboolean on_sqlite;
static char *db_dir, *db_path;

static SfLocation *
new_store (SfClock *clock)
{
  if (!on_sqlite)
    return sf_location_new_memory (clock);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 2000, &e);
  if (loc == NULL)
    g_error ("%s", e->message);
  return loc;
}

/* A fresh file (and directory) for each sqlite test. */
static void
fresh_db (void)
{
  if (db_dir != NULL) {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", db_dir);
    (void) !system (cmd);
  }
  g_free (db_dir);
  g_free (db_path);
  db_dir = g_dir_make_tmp ("sf-location-XXXXXX", NULL);
  g_assert (db_dir != NULL);
  db_path = g_build_filename (db_dir, "state", "location.sqlite", NULL); /* the directory is made */
}

static int
suite_clean (void)
{
  if (db_dir != NULL) {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", db_dir);
    (void) !system (cmd);
  }
  g_clear_pointer (&db_dir, g_free);
  g_clear_pointer (&db_path, g_free);
  return 0;
}

#define CH(contact, q, exp) { contact, q, exp, NULL, 0 }

static void
keep (SfLocationResult *r, gpointer data)
{
  SfLocationResult **out = data;
  *out = r;
}

static gboolean
set_flag (gpointer p)
{
  *(gboolean *) p = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context until the result comes (bounded: 10 s; the sqlite
 * one may come from the writer thread). */
static SfLocationResult *
wait_result (SfLocationResult **slot)
{
  gboolean late = FALSE;
  guint id = g_timeout_add (10000, set_flag, &late);
  while (*slot == NULL && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (id);
  g_assert (*slot != NULL);
  return *slot;
}

static SfLocationResult *
update (SfLocation *loc, const char *aor, const char *cid, guint32 cseq, gboolean star, const SfLocChange *c, guint n)
{
  SfLocationResult *r = NULL;
  sf_location_update (loc, aor, cid, cseq, NULL, star, c, n, keep, &r, NULL);
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
  SfLocation *loc = new_store (clock);
  const SfLocChange two[] = { CH ("sip:a@192.0.2.1", 0.5, 60), CH ("sip:a@192.0.2.2", 0.9, 120) };
  g_autoptr (SfLocationResult) r1 = update (loc, "sip:alice@example.com", "c1", 1, FALSE, two, 2);
  CU_ASSERT_PTR_NULL (r1->error);
  CU_ASSERT_EQUAL_FATAL (r1->bindings->len, 2);
  CU_ASSERT_STRING_EQUAL (((SfLocBinding *) r1->bindings->pdata[0])->contact, "sip:a@192.0.2.2"); /* best q first */
  CU_ASSERT_EQUAL (((SfLocBinding *) r1->bindings->pdata[0])->expires_at - r1->now, 120);
  CU_ASSERT_EQUAL (sf_location_size (loc), 2);
  /* the same Call-ID with a CSeq not above: refused whole (10.3 step 7) */
  const SfLocChange again[] = { CH ("sip:a@192.0.2.1", 1.0, 600) };
  g_autoptr (SfLocationResult) r2 = update (loc, "sip:alice@example.com", "c1", 1, FALSE, again, 1);
  CU_ASSERT_PTR_NOT_NULL (r2->error);
  CU_ASSERT_TRUE (r2->error != NULL && r2->error->code == SF_LOCATION_ERROR_OUT_OF_ORDER);
  /* a refresh with a higher CSeq; another Call-ID may update too */
  g_autoptr (SfLocationResult) r3 = update (loc, "sip:alice@example.com", "c2", 1, FALSE, again, 1);
  CU_ASSERT_PTR_NULL (r3->error);
  CU_ASSERT_EQUAL (((SfLocBinding *) r3->bindings->pdata[0])->expires_at - r3->now, 600);
  /* r1 still holds the refreshed binding (the results share the core's by
   * reference): it was replaced, so r1 reads what it read, not the refresh */
  const SfLocBinding *before = r1->bindings->pdata[1];
  CU_ASSERT_PTR_NOT_EQUAL (before, r3->bindings->pdata[0]);
  CU_ASSERT_STRING_EQUAL (before->contact, "sip:a@192.0.2.1");
  CU_ASSERT_EQUAL (before->expires_at - r1->now, 60);
  CU_ASSERT_EQUAL (before->q, 0.5);
  CU_ASSERT_STRING_EQUAL (before->call_id, "c1");
  CU_ASSERT_EQUAL (before->cseq, 1);
  /* expiry on the clock: after 121 s only the refreshed one is left */
  sf_clock_fake_set_us (clock, (1000 + 121) * G_USEC_PER_SEC);
  g_autoptr (SfLocationResult) r4 = lookup (loc, "sip:alice@example.com");
  CU_ASSERT_EQUAL_FATAL (r4->bindings->len, 1);
  CU_ASSERT_STRING_EQUAL (((SfLocBinding *) r4->bindings->pdata[0])->contact, "sip:a@192.0.2.1");
  /* expires 0 removes; Contact: * clears */
  const SfLocChange gone[] = { CH ("sip:a@192.0.2.1", 1.0, 0) };
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
    SfLocChange one = CH (c, 1.0, 60);
    g_clear_pointer (&last, sf_location_result_free);
    last = update (loc, "sip:many@example.com", "c5", (guint32) i + 1, FALSE, &one, 1);
  }
  CU_ASSERT_TRUE (last->error != NULL && last->error->code == SF_LOCATION_ERROR_FULL);
  sf_location_result_free (last);
  /* a REGISTER past the limit is refused whole: removing one and adding two
   * (one too many) changes nothing; removing one and adding one is fine */
  const SfLocChange swap_two[] = { CH ("sip:x@192.0.2.1", 1.0, 0), CH ("sip:y@192.0.2.1", 1.0, 60), CH ("sip:y@192.0.2.2", 1.0, 60) };
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
  const SfLocChange twice[] = { CH ("sip:z@192.0.2.9", 1.0, 0), CH ("sip:z@192.0.2.9", 1.0, 60) };
  g_autoptr (SfLocationResult) r11 = update (loc, "sip:many@example.com", "c5", 102, FALSE, twice, 2);
  CU_ASSERT_TRUE (r11->error != NULL && r11->error->code == SF_LOCATION_ERROR_FULL);
  /* added then removed in the same REGISTER: nothing more, accepted */
  const SfLocChange undone[] = { CH ("sip:z@192.0.2.9", 1.0, 60), CH ("sip:z@192.0.2.9", 1.0, 0) };
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
  SfLocation *loc = new_store (clock);
  sf_location_set_max_aors (loc, 2);
  const SfLocChange short_one[] = { CH ("sip:a@192.0.2.1", 1.0, 10) };
  const SfLocChange long_one[] = { CH ("sip:b@192.0.2.1", 1.0, 600) };
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

/* Each binding copies its REGISTER's Call-ID (and Path): one REGISTER of 32
 * contacts and a long Call-ID would hold 32 times its size.  An
 * address-of-record's strings are bounded (SF_LOCATION_MAX_AOR_BYTES): past
 * it the update is refused whole, a refresh of what is there still fits. */
static void
test_aor_bytes (void)
{
  SfClock *clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  SfLocation *loc = new_store (clock);
  char *cid = g_strnfill (3000, 'c');
  SfLocChange many[22];
  char *contacts[22];
  for (guint i = 0; i < G_N_ELEMENTS (many); i++) {
    contacts[i] = g_strdup_printf ("sip:u%02u@192.0.2.1", i);
    many[i] = (SfLocChange) CH (contacts[i], 1.0, 600);
  }
  g_autoptr (SfLocationResult) r1 = update (loc, "sip:big@example.com", cid, 1, FALSE, many, 20);
  CU_ASSERT_PTR_NULL (r1->error);
  CU_ASSERT_EQUAL (r1->bindings->len, 20);
  g_autoptr (SfLocationResult) r2 = update (loc, "sip:big@example.com", cid, 2, FALSE, many, 22);
  CU_ASSERT_TRUE (r2->error != NULL && r2->error->code == SF_LOCATION_ERROR_FULL);
  CU_ASSERT_EQUAL (sf_location_size (loc), 20);
  g_autoptr (SfLocationResult) r3 = update (loc, "sip:big@example.com", cid, 3, FALSE, many, 20);
  CU_ASSERT_PTR_NULL (r3->error);
  /* one more binding with a short Call-ID fits */
  g_autoptr (SfLocationResult) r4 = update (loc, "sip:big@example.com", "short", 1, FALSE, many + 20, 1);
  CU_ASSERT_PTR_NULL (r4->error);
  CU_ASSERT_EQUAL (sf_location_size (loc), 21);
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    g_free (contacts[i]);
  g_free (cid);
  sf_location_free (loc);
  sf_clock_free (clock);
}

static void
test_aor_bytes_memory (void)
{
  on_sqlite = FALSE;
  test_aor_bytes ();
}

static void
test_aor_bytes_sqlite (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  test_aor_bytes ();
}

static void
test_bindings_memory (void)
{
  on_sqlite = FALSE;
  test_bindings ();
}

static void
test_bindings_sqlite (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  test_bindings ();
}

static void
test_max_aors_memory (void)
{
  on_sqlite = FALSE;
  test_max_aors ();
}

static void
test_max_aors_sqlite (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  test_max_aors ();
}

static const SfLocBinding *
binding (SfLocationResult *r, const char *contact)
{
  for (guint i = 0; r != NULL && i < r->bindings->len; i++)
    if (strcmp (((SfLocBinding *) r->bindings->pdata[i])->contact, contact) == 0)
      return r->bindings->pdata[i];
  return NULL;
}

/* sqlite: what was answered is there after the store is closed and opened
 * again, every field of it, expiries in wall-clock seconds; expired ones are
 * not loaded; a removal is written through too. */
static void
test_sqlite_reopen (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  SfClock *clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  SfLocation *loc = new_store (clock);
  const SfLocOrigin from = { "192.0.2.7:5062", "tcp", "127.0.0.1:5060", NULL, "<sip:edge.example.com;lr>", NULL };
  const SfLocChange two[] = { { "sip:a@192.0.2.7:5062", 0.5, 600, "\"<urn:uuid:00000000-0000-0000-0000-000000000001>\"", 1 },
                              CH ("sip:b@192.0.2.8", 1.0, 60) };
  SfLocationResult *r = NULL;
  sf_location_update (loc, "sip:alice@example.com", "c1", 7, &from, FALSE, two, 2, keep, &r, NULL);
  sf_location_result_free (wait_result (&r));
  const SfLocChange gone[] = { CH ("sip:x@192.0.2.9", 1.0, 60) };
  g_autoptr (SfLocationResult) r2 = update (loc, "sip:bob@example.com", "c2", 1, FALSE, gone, 1);
  const SfLocChange off[] = { CH ("sip:x@192.0.2.9", 1.0, 0) };
  g_autoptr (SfLocationResult) r3 = update (loc, "sip:bob@example.com", "c2", 2, FALSE, off, 1);
  sf_location_free (loc);
  /* 61 s later: b has expired */
  sf_clock_fake_set_us (clock, (G_GINT64_CONSTANT (1700000000) + 61) * G_USEC_PER_SEC);
  loc = new_store (clock);
  CU_ASSERT_EQUAL (sf_location_size (loc), 1);
  g_autoptr (SfLocationResult) got = lookup (loc, "sip:alice@example.com");
  const SfLocBinding *a = binding (got, "sip:a@192.0.2.7:5062");
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  CU_ASSERT_EQUAL (a->expires_at, 1700000000 + 600);
  CU_ASSERT_DOUBLE_EQUAL (a->q, 0.5, 1e-9);
  CU_ASSERT_STRING_EQUAL (a->call_id, "c1");
  CU_ASSERT_EQUAL (a->cseq, 7);
  CU_ASSERT_STRING_EQUAL (a->source, "192.0.2.7:5062");
  CU_ASSERT_STRING_EQUAL (a->transport, "tcp");
  CU_ASSERT_STRING_EQUAL (a->local, "127.0.0.1:5060");
  CU_ASSERT_STRING_EQUAL (a->path, "<sip:edge.example.com;lr>");
  CU_ASSERT_STRING_EQUAL (a->instance, "\"<urn:uuid:00000000-0000-0000-0000-000000000001>\"");
  CU_ASSERT_EQUAL (a->reg_id, 1);
  CU_ASSERT_PTR_NULL (a->flow);
  CU_ASSERT_PTR_NULL (a->node);
  /* the CSeq order holds across the restart (10.3 step 7) */
  const SfLocChange again[] = { CH ("sip:a@192.0.2.7:5062", 1.0, 600) };
  g_autoptr (SfLocationResult) r4 = update (loc, "sip:alice@example.com", "c1", 7, FALSE, again, 1);
  CU_ASSERT_TRUE (r4->error != NULL && r4->error->code == SF_LOCATION_ERROR_OUT_OF_ORDER);
  g_autoptr (SfLocationResult) nobody = lookup (loc, "sip:bob@example.com");
  CU_ASSERT_EQUAL (nobody->bindings->len, 0);
  sf_location_free (loc);
  sf_clock_free (clock);
}

static gboolean
collect (const char *aor, const SfLocBinding *b, gpointer data)
{
  g_string_append_printf (data, "%s %s %" G_GINT64_FORMAT ";", aor, b->contact, b->expires_at);
  return TRUE;
}

/* An update of @aor from @flow (NULL: none), answered. */
static SfLocationResult *
update_from (SfLocation *loc, const char *aor, const char *flow, guint32 cseq, gboolean star, const SfLocChange *c,
             guint n)
{
  SfLocOrigin o = { 0 };
  o.flow = flow;
  SfLocationResult *r = NULL;
  sf_location_update (loc, aor, "cid", cseq, &o, star, c, n, keep, &r, NULL);
  return wait_result (&r);
}

/* A closed flow's bindings are found through the location's flow index: among
 * 20,000 addresses-of-record, the removal looks at the two with a binding on
 * the flow, removes exactly those bindings (not the same AOR's other one), and
 * an unknown flow looks at none (a walk of every AOR per closed WebSocket let
 * anyone with an account stall the registrar). */
static void
test_flow_index (void)
{
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  SfLocation *loc = sf_location_new_memory (clock);
  for (guint i = 0; i < 20000; i++) {
    g_autofree char *aor = g_strdup_printf ("sip:u%u@example.com", i);
    const SfLocChange c[] = { CH ("sip:u@192.0.2.1", 1.0, 600) };
    sf_location_result_free (update_from (loc, aor, NULL, 1, FALSE, c, 1));
  }
  const SfLocChange a[] = { CH ("sip:a@192.0.2.2;transport=ws", 1.0, 600) };
  const SfLocChange b[] = { CH ("sip:b@192.0.2.3;transport=ws", 1.0, 600) };
  const SfLocChange b2[] = { CH ("sip:b2@192.0.2.4;transport=ws", 1.0, 600) };
  sf_location_result_free (update_from (loc, "sip:u7@example.com", "ws:192.0.2.2:1000", 2, FALSE, a, 1));
  sf_location_result_free (update_from (loc, "sip:u9@example.com", "ws:192.0.2.2:1000", 2, FALSE, b, 1));
  sf_location_result_free (update_from (loc, "sip:u9@example.com", "ws:192.0.2.4:2000", 3, FALSE, b2, 1));
  CU_ASSERT_EQUAL (sf_location_size (loc), 20003);
  CU_ASSERT_TRUE (sf_location_flows_exact (loc));
  CU_ASSERT_EQUAL (sf_location_remove_flow (loc, "ws:192.0.2.9:9"), 0);
  CU_ASSERT_EQUAL (sf_location_flow_visits (loc), 0);
  CU_ASSERT_EQUAL (sf_location_remove_flow (loc, "ws:192.0.2.2:1000"), 2);
  CU_ASSERT_EQUAL (sf_location_flow_visits (loc), 2);
  CU_ASSERT_EQUAL (sf_location_size (loc), 20001);
  g_autoptr (SfLocationResult) u9 = lookup (loc, "sip:u9@example.com");
  CU_ASSERT_EQUAL_FATAL (u9->bindings->len, 2);
  CU_ASSERT_TRUE (sf_location_flows_exact (loc));
  CU_ASSERT_EQUAL (sf_location_remove_flow (loc, "ws:192.0.2.2:1000"), 0); /* gone from the index too */
  CU_ASSERT_EQUAL (sf_location_flow_visits (loc), 2);
  sf_location_free (loc);
  /* bindings loaded from a sqlite file are in the index */
  on_sqlite = TRUE;
  fresh_db ();
  loc = new_store (clock);
  sf_location_result_free (update_from (loc, "sip:u7@example.com", "ws:192.0.2.2:1000", 2, FALSE, a, 1));
  sf_location_free (loc);
  loc = new_store (clock);
  CU_ASSERT_TRUE (sf_location_flows_exact (loc));
  CU_ASSERT_EQUAL (sf_location_remove_flow (loc, "ws:192.0.2.2:1000"), 1);
  CU_ASSERT_EQUAL (sf_location_size (loc), 0);
  sf_location_free (loc);
}

/* One (AOR, contact) the flow-index model holds. */
typedef struct {
  int flow;        /* -1: none */
  gint64 expires;  /* clock seconds */
} Held;

/* The flow index against a model over random operations (adds, refreshes that
 * move a binding to another flow, removals by expires 0 and Contact: *, time
 * going by so bindings expire, flows closed): after each, the index matches
 * the core, and a closed flow removes the live bindings the model has on it,
 * looking at exactly the AORs that hold one (expired or not). */
static void
test_flow_index_model (void)
{
  enum { AORS = 12, CONTACTS = 3, FLOWS = 4, OPS = 3000 };
  gint64 t = G_GINT64_CONSTANT (1700000000);
  g_autoptr (SfClock) clock = sf_clock_new_fake (t * G_USEC_PER_SEC);
  SfLocation *loc = sf_location_new_memory (clock);
  Held held[AORS][CONTACTS];
  gboolean there[AORS][CONTACTS] = { { FALSE } };
  GRand *rand = g_rand_new_with_seed (25);
  guint32 cseq = 1;
  guint64 visits = 0;
  for (guint op = 0; op < OPS; op++) {
    guint kind = g_rand_int_range (rand, 0, 10);
    guint ai = g_rand_int_range (rand, 0, AORS), ci = g_rand_int_range (rand, 0, CONTACTS);
    int fi = g_rand_int_range (rand, -1, FLOWS);
    g_autofree char *aor = g_strdup_printf ("sip:a%u@example.com", ai);
    g_autofree char *contact = g_strdup_printf ("sip:c%u@192.0.2.1", ci);
    g_autofree char *flow = fi >= 0 ? g_strdup_printf ("ws:192.0.2.1:%d", 1000 + fi) : NULL;
    if (kind < 6 || kind == 7) { /* add, refresh or (7) remove one binding */
      gint expires = kind == 7 ? 0 : g_rand_int_range (rand, 10, 120);
      const SfLocChange c[] = { CH (contact, 1.0, expires) };
      sf_location_result_free (update_from (loc, aor, flow, cseq++, FALSE, c, 1));
      for (guint k = 0; k < CONTACTS; k++) /* the core drops the AOR's expired first */
        there[ai][k] = there[ai][k] && held[ai][k].expires > t;
      there[ai][ci] = expires > 0;
      held[ai][ci] = (Held) { fi, t + expires };
    } else if (kind == 6) { /* Contact: * */
      sf_location_result_free (update_from (loc, aor, NULL, cseq++, TRUE, NULL, 0));
      for (guint k = 0; k < CONTACTS; k++)
        there[ai][k] = FALSE;
    } else if (kind == 8) {
      t += g_rand_int_range (rand, 0, 40);
      sf_clock_fake_set_us (clock, t * G_USEC_PER_SEC);
    } else {
      fi = g_rand_int_range (rand, 0, FLOWS);
      g_autofree char *closed = g_strdup_printf ("ws:192.0.2.1:%d", 1000 + fi);
      guint live = 0, holding = 0;
      for (guint a = 0; a < AORS; a++) {
        gboolean holds = FALSE;
        for (guint k = 0; k < CONTACTS; k++)
          if (there[a][k] && held[a][k].flow == fi) {
            holds = TRUE;
            if (held[a][k].expires > t) {
              live++;
              there[a][k] = FALSE;
            }
          }
        holding += holds;
      }
      CU_ASSERT_EQUAL (sf_location_remove_flow (loc, closed), live);
      visits += holding;
      CU_ASSERT_EQUAL (sf_location_flow_visits (loc), visits);
    }
    CU_ASSERT_TRUE (sf_location_flows_exact (loc));
  }
  guint n = 0;
  for (guint a = 0; a < AORS; a++)
    for (guint k = 0; k < CONTACTS; k++)
      n += there[a][k];
  CU_ASSERT_EQUAL (sf_location_size (loc), n);
  g_rand_free (rand);
  sf_location_free (loc);
}

/* Looking inside: sf_location_each walks the live bindings in AOR order;
 * sf_location_remove removes one contact or a whole AOR whatever the CSeq and
 * writes it through; the offline sf_location_file_each sees the file (the
 * expired rows too), sf_location_file_purge removes the expired or an AOR's;
 * a missing file is an error and is not made. */
static void
test_each_remove (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  SfClock *clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  SfLocation *loc = new_store (clock);
  const SfLocChange bob[] = { CH ("sip:b1@192.0.2.1", 1.0, 600), CH ("sip:b2@192.0.2.2", 1.0, 60) };
  const SfLocChange al[] = { CH ("sip:a1@192.0.2.3", 1.0, 600) };
  const SfLocChange cy[] = { CH ("sip:c1@192.0.2.4", 1.0, 60) };
  sf_location_result_free (update (loc, "sip:bob@example.com", "c1", 1, FALSE, bob, 2));
  sf_location_result_free (update (loc, "sip:alice@example.com", "c2", 1, FALSE, al, 1));
  sf_location_result_free (update (loc, "sip:carol@example.com", "c3", 1, FALSE, cy, 1));
  g_autoptr (GString) all = g_string_new (NULL);
  sf_location_each (loc, NULL, collect, all);
  CU_ASSERT_STRING_EQUAL (all->str, "sip:alice@example.com sip:a1@192.0.2.3 1700000600;"
                                    "sip:bob@example.com sip:b1@192.0.2.1 1700000600;"
                                    "sip:bob@example.com sip:b2@192.0.2.2 1700000060;"
                                    "sip:carol@example.com sip:c1@192.0.2.4 1700000060;");
  CU_ASSERT_EQUAL (sf_location_remove (loc, "sip:bob@example.com", "sip:b2@192.0.2.2"), 1);
  CU_ASSERT_EQUAL (sf_location_remove (loc, "sip:bob@example.com", "sip:none@192.0.2.2"), 0);
  CU_ASSERT_EQUAL (sf_location_remove (loc, "sip:alice@example.com", NULL), 1);
  CU_ASSERT_EQUAL (sf_location_remove (loc, "sip:nobody@example.com", NULL), 0);
  /* 61 s later carol's binding has expired: not walked, still in the file */
  sf_clock_fake_set_us (clock, (G_GINT64_CONSTANT (1700000000) + 61) * G_USEC_PER_SEC);
  g_string_truncate (all, 0);
  sf_location_each (loc, NULL, collect, all);
  CU_ASSERT_STRING_EQUAL (all->str, "sip:bob@example.com sip:b1@192.0.2.1 1700000600;");
  sf_location_free (loc); /* the removals are committed */
  g_autoptr (GError) e = NULL;
  g_string_truncate (all, 0);
  CU_ASSERT_TRUE (sf_location_file_each (db_path, 2000, NULL, collect, all, &e));
  CU_ASSERT_STRING_EQUAL (all->str, "sip:bob@example.com sip:b1@192.0.2.1 1700000600;"
                                    "sip:carol@example.com sip:c1@192.0.2.4 1700000060;");
  guint64 removed = 0;
  CU_ASSERT_TRUE (sf_location_file_purge (db_path, 2000, NULL, 1700000061, &removed, &e));
  CU_ASSERT_EQUAL (removed, 1);
  CU_ASSERT_TRUE (sf_location_file_purge (db_path, 2000, "sip:bob@example.com", 0, &removed, &e));
  CU_ASSERT_EQUAL (removed, 1);
  g_string_truncate (all, 0);
  CU_ASSERT_TRUE (sf_location_file_each (db_path, 2000, NULL, collect, all, &e));
  CU_ASSERT_STRING_EQUAL (all->str, "");
  g_autofree char *missing = g_build_filename (db_dir, "none.sqlite", NULL);
  CU_ASSERT_FALSE (sf_location_file_each (missing, 2000, NULL, collect, all, &e));
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, missing) != NULL);
  CU_ASSERT_FALSE (g_file_test (missing, G_FILE_TEST_EXISTS));
  sf_clock_free (clock);
}

static int
user_version (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int v = -1;
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step (st) == SQLITE_ROW)
    v = sqlite3_column_int (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
  return v;
}

static void
exec_on (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  g_assert (sqlite3_open (path, &db) == SQLITE_OK);
  g_assert (sqlite3_exec (db, sql, NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close (db);
}

/* sqlite: a version-0 database (no tables) is migrated to the current
 * schema; a newer version, a file that is no database and a path that cannot
 * be made are errors naming the file. */
static void
test_sqlite_migration (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  g_autofree char *dir = g_path_get_dirname (db_path);
  g_mkdir_with_parents (dir, 0700);
  exec_on (db_path, "CREATE TABLE unrelated (x); PRAGMA user_version = 0");
  CU_ASSERT_EQUAL (user_version (db_path), 0);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 100, &e);
  CU_ASSERT_PTR_NOT_NULL (loc);
  sf_location_free (loc);
  CU_ASSERT_EQUAL (user_version (db_path), SF_LOC_SQLITE_SCHEMA);
  exec_on (db_path, "PRAGMA user_version = 99");
  loc = sf_location_new_sqlite (clock, db_path, 100, &e);
  CU_ASSERT_PTR_NULL (loc);
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, db_path) != NULL && strstr (e->message, "schema version 99") != NULL);
  g_clear_error (&e);
  g_autofree char *junk = g_build_filename (dir, "junk.sqlite", NULL);
  CU_ASSERT_TRUE (g_file_set_contents (junk, "this is not a database, not even close to one; long enough to be read", -1, NULL));
  loc = sf_location_new_sqlite (clock, junk, 100, &e);
  CU_ASSERT_PTR_NULL (loc);
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, junk) != NULL && strstr (e->message, "not a database") != NULL);
  if (e != NULL && strstr (e->message, "not a database") == NULL)
    g_printerr ("junk: %s\n", e->message);
  g_clear_error (&e);
  g_autofree char *under_file = g_build_filename (junk, "location.sqlite", NULL);
  loc = sf_location_new_sqlite (clock, under_file, 100, &e);
  CU_ASSERT_PTR_NULL (loc);
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, under_file) != NULL);
}

/* sqlite: a file written by hand (or by a broken program) is read within
 * the bounds a REGISTER has: q between 0 and 1, a NULL contact or Call-ID an
 * empty string, at most 32 bindings per address-of-record. */
static void
test_sqlite_hostile_rows (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 100, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  sf_location_free (loc);
  exec_on (db_path, "INSERT INTO binding (aor, contact, q, expires, call_id, cseq) VALUES"
                    " ('sip:h@example.com', 'sip:big@192.0.2.1', 1e300, 4000000000, 'c', -1),"
                    " ('sip:h@example.com', 'sip:neg@192.0.2.1', -5, 4000000000, 'c', 1);"
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
                    " INSERT INTO binding (aor, contact, q, expires, call_id, cseq)"
                    " SELECT 'sip:many@example.com', 'sip:' || i || '@192.0.2.1', 0.5, 4000000000, 'c', 1 FROM n");
  loc = sf_location_new_sqlite (clock, db_path, 100, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  g_autoptr (SfLocationResult) h = lookup (loc, "sip:h@example.com");
  CU_ASSERT_EQUAL (h->bindings->len, 2);
  const SfLocBinding *big = binding (h, "sip:big@192.0.2.1"), *neg = binding (h, "sip:neg@192.0.2.1");
  CU_ASSERT_TRUE (big != NULL && big->q == 1.0);
  CU_ASSERT_TRUE (neg != NULL && neg->q == 0.0);
  g_autoptr (SfLocationResult) many = lookup (loc, "sip:many@example.com");
  CU_ASSERT_EQUAL (many->bindings->len, SF_LOCATION_MAX_BINDINGS);
  sf_location_free (loc);
}

/* sqlite: a write that cannot get the lock within the busy timeout gives the
 * update STORE_FAILED, and the core goes back to what the file holds; once the
 * lock is gone, writes go through again. */
static void
test_sqlite_write_fails (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 50, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  const SfLocChange one[] = { CH ("sip:a@192.0.2.1", 1.0, 60) };
  g_autoptr (SfLocationResult) r1 = update (loc, "sip:alice@example.com", "c1", 1, FALSE, one, 1);
  CU_ASSERT_PTR_NULL (r1->error);
  sqlite3 *other = NULL;
  CU_ASSERT_EQUAL_FATAL (sqlite3_open (db_path, &other), SQLITE_OK);
  CU_ASSERT_EQUAL (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  const SfLocChange two[] = { CH ("sip:b@192.0.2.2", 1.0, 60) };
  g_autoptr (SfLocationResult) r2 = update (loc, "sip:alice@example.com", "c1", 2, FALSE, two, 1);
  CU_ASSERT_TRUE (r2->error != NULL && r2->error->code == SF_LOCATION_ERROR_STORE_FAILED);
  g_autoptr (SfLocationResult) now = lookup (loc, "sip:alice@example.com");
  CU_ASSERT_EQUAL (now->bindings->len, 1);
  CU_ASSERT_PTR_NOT_NULL (binding (now, "sip:a@192.0.2.1"));
  sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (other);
  g_autoptr (SfLocationResult) r3 = update (loc, "sip:alice@example.com", "c1", 3, FALSE, two, 1);
  CU_ASSERT_PTR_NULL (r3->error);
  CU_ASSERT_EQUAL (r3->bindings->len, 2);
  sf_location_free (loc);
}

/* Warnings naming a failed location write, counted by a log writer that
 * passes every line on to GLib's (set once a process: GLib allows no more). */
static gint write_warnings; /* atomic: logged by the writer thread */
static gint held_back;      /* atomic: the failures those lines said were left out */

static GMutex warned_lock;   /* with warned: a line counted (from the writer thread) */
static GCond warned;

/* The N of "N more write failures" in @text (0: none). */
static gint
more_in (const char *text)
{
  const char *more = strstr (text, " more write failures ");
  const char *digits = more;
  while (digits != NULL && digits > text && g_ascii_isdigit (digits[-1]))
    digits--;
  return digits != NULL && digits < more ? atoi (digits) : 0;
}

static GLogWriterOutput
counting_writer (GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
  for (gsize i = 0; (level & G_LOG_LEVEL_WARNING) != 0 && i < n; i++) {
    if (strcmp (fields[i].key, "MESSAGE") != 0 || fields[i].length >= 0)
      continue;
    if (strstr (fields[i].value, "address(es)-of-record failed") != NULL)
      g_atomic_int_inc (&write_warnings);
    g_atomic_int_add (&held_back, more_in (fields[i].value));
    g_mutex_lock (&warned_lock);
    g_cond_broadcast (&warned);
    g_mutex_unlock (&warned_lock);
  }
  return g_log_writer_default (level, fields, n, data);
}

static void
count_warnings (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    g_log_set_writer_func (counting_writer, NULL, NULL);
    g_once_init_leave (&once, 1);
  }
  g_atomic_int_set (&write_warnings, 0);
  g_atomic_int_set (&held_back, 0);
}

/* sqlite: a store whose every write fails (a full disk; a trigger on the file
 * stands for it) warns once for many failures in a row, not once each; the
 * ones left out are counted in a line when the store closes (within the
 * window: none is said after it). */
static void
test_sqlite_write_warnings (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 2000, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  exec_on (db_path, "CREATE TRIGGER refuse BEFORE INSERT ON binding BEGIN SELECT RAISE (ABORT, 'disk full, says the test'); END");
  count_warnings ();
  const SfLocChange c[] = { CH ("sip:a@192.0.2.1", 1.0, 60) };
  for (guint i = 0; i < 5; i++) {
    g_autoptr (SfLocationResult) r = update (loc, "sip:alice@example.com", "c1", i + 1, FALSE, c, 1);
    CU_ASSERT_TRUE (r->error != NULL && r->error->code == SF_LOCATION_ERROR_STORE_FAILED);
  }
  CU_ASSERT_EQUAL (g_atomic_int_get (&write_warnings), 1);
  sf_location_free (loc);
  CU_ASSERT_EQUAL (g_atomic_int_get (&write_warnings), 1);
  CU_ASSERT_EQUAL (g_atomic_int_get (&held_back), 4);
}

/* sqlite: failures held back are said when their window ends, the store open
 * and idle (the writer thread waits for them, not for its next purge, a
 * minute on): with a 1 s window, the five are all told within 10 s. */
static void
test_sqlite_write_warnings_idle (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 2000, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  sf_location_sqlite_warn_every (loc, 1000);
  exec_on (db_path, "CREATE TRIGGER refuse BEFORE INSERT ON binding BEGIN SELECT RAISE (ABORT, 'disk full, says the test'); END");
  count_warnings ();
  const SfLocChange c[] = { CH ("sip:a@192.0.2.1", 1.0, 60) };
  for (guint i = 0; i < 5; i++)
    sf_location_result_free (update (loc, "sip:alice@example.com", "c1", i + 1, FALSE, c, 1));
  gint64 until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_mutex_lock (&warned_lock);
  while (g_atomic_int_get (&write_warnings) + g_atomic_int_get (&held_back) < 5 &&
         g_cond_wait_until (&warned, &warned_lock, until))
    ;
  g_mutex_unlock (&warned_lock);
  CU_ASSERT_EQUAL (g_atomic_int_get (&write_warnings) + g_atomic_int_get (&held_back), 5);
  sf_location_free (loc);
}

/* Outcomes in the order the updates were made (sqlite_order's callback). */
static void
record (SfLocationResult *r, gpointer data)
{
  g_ptr_array_add (data, r);
}

/* Runs the main context until @got holds @n outcomes (bounded: 10 s). */
static void
wait_outcomes (GPtrArray *got, guint n)
{
  gboolean late = FALSE;
  guint id = g_timeout_add (10000, set_flag, &late);
  while (got->len < n && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (id);
}

/* sqlite: one write that SQLite refuses (a trigger on the file stands for a
 * constraint or a value it will not take) among good ones of the same turn,
 * one group commit: it alone gets STORE_FAILED and the core goes back to
 * what the file holds for its address-of-record; the writes before and
 * after it are committed (in the file when it is opened again). */
static void
test_sqlite_one_write_fails (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 2000, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  const SfLocChange old[] = { CH ("sip:b@192.0.2.2", 1.0, 60) };
  g_autoptr (SfLocationResult) r0 = update (loc, "sip:bob@example.com", "c1", 1, FALSE, old, 1);
  CU_ASSERT_PTR_NULL (r0->error);
  exec_on (db_path, "CREATE TRIGGER refuse BEFORE INSERT ON binding WHEN NEW.contact = 'sip:bad@192.0.2.9'"
                    " BEGIN SELECT RAISE (ABORT, 'refused by the test'); END");
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_location_result_free);
  const SfLocChange a[] = { CH ("sip:a@192.0.2.1", 1.0, 60) };
  const SfLocChange bad[] = { CH ("sip:bad@192.0.2.9", 1.0, 60) };
  const SfLocChange c[] = { CH ("sip:c@192.0.2.3", 1.0, 60) };
  /* one turn: one group */
  sf_location_update (loc, "sip:alice@example.com", "c1", 1, NULL, FALSE, a, 1, record, got, NULL);
  sf_location_update (loc, "sip:bob@example.com", "c1", 2, NULL, FALSE, bad, 1, record, got, NULL);
  sf_location_update (loc, "sip:carol@example.com", "c1", 1, NULL, FALSE, c, 1, record, got, NULL);
  CU_ASSERT_EQUAL (got->len, 0);
  wait_outcomes (got, 3);
  CU_ASSERT_EQUAL_FATAL (got->len, 3);
  SfLocationResult *ra = got->pdata[0], *rb = got->pdata[1], *rc = got->pdata[2];
  CU_ASSERT_TRUE (ra->error == NULL && ra->bindings->len == 1);
  CU_ASSERT_TRUE (rb->error != NULL && rb->error->code == SF_LOCATION_ERROR_STORE_FAILED);
  if (rb->error != NULL)
    CU_ASSERT_PTR_NOT_NULL (strstr (rb->error->message, "refused by the test"));
  CU_ASSERT_TRUE (rc->error == NULL && rc->bindings->len == 1);
  /* bob: what the file holds, the binding before the refused write */
  g_autoptr (SfLocationResult) b = lookup (loc, "sip:bob@example.com");
  CU_ASSERT_EQUAL (b->bindings->len, 1);
  CU_ASSERT_PTR_NOT_NULL (binding (b, "sip:b@192.0.2.2"));
  sf_location_free (loc);
  loc = sf_location_new_sqlite (clock, db_path, 2000, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  g_autoptr (SfLocationResult) fa = lookup (loc, "sip:alice@example.com");
  g_autoptr (SfLocationResult) fb = lookup (loc, "sip:bob@example.com");
  g_autoptr (SfLocationResult) fc = lookup (loc, "sip:carol@example.com");
  CU_ASSERT_TRUE (fa->bindings->len == 1 && binding (fa, "sip:a@192.0.2.1") != NULL);
  CU_ASSERT_TRUE (fb->bindings->len == 1 && binding (fb, "sip:b@192.0.2.2") != NULL);
  CU_ASSERT_TRUE (fc->bindings->len == 1 && binding (fc, "sip:c@192.0.2.3") != NULL);
  sf_location_free (loc);
}

/* sqlite: while a write waits with the writer thread for the lock, a later
 * one goes behind it, not past it on the main connection (which would commit
 * it at once when the lock is gone, its outcome first). */
static void
test_sqlite_order_behind_writer (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_sqlite (clock, db_path, 10000, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  sqlite3 *other = NULL;
  CU_ASSERT_EQUAL_FATAL (sqlite3_open (db_path, &other), SQLITE_OK);
  CU_ASSERT_EQUAL (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_location_result_free);
  const SfLocChange a[] = { CH ("sip:a@192.0.2.1", 1.0, 60) };
  sf_location_update (loc, "sip:alice@example.com", "c1", 1, NULL, FALSE, a, 1, record, got, NULL);
  for (int i = 0; i < 3; i++) /* the main connection finds the file locked: the write goes to the thread */
    g_main_context_iteration (NULL, FALSE);
  CU_ASSERT_EQUAL (got->len, 0);
  sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (other);
  const SfLocChange b[] = { CH ("sip:b@192.0.2.2", 1.0, 60) };
  sf_location_update (loc, "sip:alice@example.com", "c1", 2, NULL, FALSE, b, 1, record, got, NULL);
  wait_outcomes (got, 2);
  CU_ASSERT_EQUAL_FATAL (got->len, 2);
  SfLocationResult *first = got->pdata[0], *second = got->pdata[1];
  CU_ASSERT_TRUE (first->error == NULL && first->bindings->len == 1);
  CU_ASSERT_TRUE (second->error == NULL && second->bindings->len == 2);
  /* both back: the next write is the main connection's again, committed at
   * the end of the iteration that made it (the thread would take longer) */
  const SfLocChange c[] = { CH ("sip:c@192.0.2.3", 1.0, 60) };
  sf_location_update (loc, "sip:alice@example.com", "c1", 3, NULL, FALSE, c, 1, record, got, NULL);
  for (int i = 0; i < 2 && got->len < 3; i++)
    g_main_context_iteration (NULL, FALSE);
  CU_ASSERT_EQUAL_FATAL (got->len, 3);
  CU_ASSERT_EQUAL (((SfLocationResult *) got->pdata[2])->bindings->len, 3);
  sf_location_free (loc);
}

/* sqlite: the main connection never checkpoints; the writer thread does when
 * it asks, so the WAL does not keep every commit (each REGISTER's pages) until
 * the program ends. */
static void
test_sqlite_checkpoints (void)
{
  on_sqlite = TRUE;
  fresh_db ();
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  SfLocation *loc = new_store (clock);
  const guint n = 1500; /* two WAL pages a commit at least: past the threshold (1000) more than twice */
  for (guint i = 0; i < n; i++) {
    g_autofree char *contact = g_strdup_printf ("sip:a@192.0.2.1:%u", 1024 + i % 8);
    const SfLocChange c[] = { CH (contact, 1.0, 60) };
    g_autoptr (SfLocationResult) r = update (loc, "sip:alice@example.com", "c1", i + 1, FALSE, c, 1);
    CU_ASSERT_PTR_NULL (r->error);
  }
  /* the WAL is overwritten from its start after a checkpoint: its length is
   * the most it held, every commit's pages when nothing checkpoints */
  g_autofree char *wal = g_strconcat (db_path, "-wal", NULL);
  GStatBuf st;
  CU_ASSERT_EQUAL_FATAL (g_stat (wal, &st), 0);
  const gint64 all = (gint64) 2 * n * (4096 + 24); /* two frames a commit, a frame a page and its header */
  CU_ASSERT_TRUE (st.st_size > 0 && st.st_size < all / 2);
  if (!(st.st_size > 0 && st.st_size < all / 2))
    g_printerr ("checkpoints: a WAL of %" G_GINT64_FORMAT " bytes after %u commits\n", (gint64) st.st_size, n);
  sf_location_free (loc);
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
    { "alice:secret\nnocolon\n", "users:2: expected user:password or user:realm:HA1 (32 hex digits: MD5, 64: SHA-256)" },
    { "alice:\n", "users:1: expected user:password or user:realm:HA1 (32 hex digits: MD5, 64: SHA-256)" },
    { "bob:other.realm:0123456789abcdef0123456789abcdef\n", "users:1: realm 'other.realm' is not registrar.realm 'sipflow.test'" },
    { "bob:sipflow.test:xyz\n", "users:1: expected user:password or user:realm:HA1 (32 hex digits: MD5, 64: SHA-256)" },
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

typedef struct {
  SfLocation *loc;
  SfLocationResult *first, *second;
  gboolean second_inside;  /* the second came while the first's callback ran */
  gboolean in_first;
} Again;

static void
got_second (SfLocationResult *r, gpointer data)
{
  Again *a = data;
  a->second = r;
  a->second_inside = a->in_first;
}

static void
got_first (SfLocationResult *r, gpointer data)
{
  Again *a = data;
  a->first = r;
  a->in_first = TRUE;
  sf_location_lookup (a->loc, "sip:alice@example.com", got_second, a, NULL);
  a->in_first = FALSE;
}

static void
count_dropped (gpointer p)
{
  (*(guint *) p)++;
}

static void
never (SfLocationResult *r, gpointer data)
{
  (void) data;
  sf_location_result_free (r);
  CU_FAIL ("an answer dropped with its location was delivered");
}

static void
test_answer_in (void)
{
  SfTestEnv *env = sf_test_env_new (); /* unattached: its drain runs the batch */
  SfLocation *loc = sf_location_new_memory (sf_endpoint_clock (env->ep));
  sf_location_answer_in (loc, env->ep);
  SfLocChange c[] = { CH ("sip:alice@192.0.2.1", 1000, 3600) };
  SfLocationResult *r = NULL;
  sf_location_update (loc, "sip:alice@example.com", "cid", 1, NULL, FALSE, c, 1, keep, &r, NULL);
  CU_ASSERT_PTR_NULL (r); /* never from inside the call */
  sf_endpoint_drain (env->ep);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_PTR_NULL (r->error);
  CU_ASSERT_EQUAL (r->bindings->len, 1);
  sf_location_result_free (r);
  /* A lookup asked from an answer's callback is answered after it, in the same drain. */
  Again a = { loc, NULL, NULL, FALSE, FALSE };
  sf_location_lookup (loc, "sip:alice@example.com", got_first, &a, NULL);
  CU_ASSERT_PTR_NULL (a.first);
  sf_endpoint_drain (env->ep);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a.first);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a.second);
  CU_ASSERT_FALSE (a.second_inside);
  CU_ASSERT_EQUAL (a.second->bindings->len, 1);
  sf_location_result_free (a.first);
  sf_location_result_free (a.second);
  /* Freed with answers pending: each caller's data freed, no callback; the
   * endpoint's calls for them cancelled (a drain after: ASan would see the
   * freed answers used). */
  guint freed = 0;
  sf_location_lookup (loc, "sip:alice@example.com", never, &freed, count_dropped);
  sf_location_lookup (loc, "sip:bob@example.com", never, &freed, count_dropped);
  sf_location_free (loc);
  CU_ASSERT_EQUAL (freed, 2);
  sf_endpoint_drain (env->ep);
  sf_test_env_free (env);
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
  /* The Contact lines of a 200 (expires first) and of a 302 (q first); a q
   * out of 0..1 (a hostile stored row) written as the nearest qvalue. */
  g_autofree char *l200 = sf_registrar_contact_line ("sip:a@192.0.2.1:5060", 3600, 0.5, FALSE);
  g_autofree char *l302 = sf_registrar_contact_line ("sip:a@192.0.2.1", 0, 1.0, TRUE);
  g_autofree char *high = sf_registrar_contact_line ("sip:a@h", 1234567890123, 7.0, FALSE);
  g_autofree char *low = sf_registrar_contact_line ("sip:a@h", -5, -1.0, TRUE);
  CU_ASSERT_STRING_EQUAL (l200, "Contact: <sip:a@192.0.2.1:5060>;expires=3600;q=0.500");
  CU_ASSERT_STRING_EQUAL (l302, "Contact: <sip:a@192.0.2.1>;q=1.000;expires=0");
  CU_ASSERT_STRING_EQUAL (high, "Contact: <sip:a@h>;expires=1234567890123;q=1.000");
  CU_ASSERT_STRING_EQUAL (low, "Contact: <sip:a@h>;q=0.000;expires=0");
}

static void
test_redis_uri (void)
{
  static const struct { const char *uri; gboolean ok; const char *host; guint port, db; const char *password; } cases[] = {
    { "redis://127.0.0.1:6380/2", TRUE, "127.0.0.1", 6380, 2, NULL },
    { "redis://localhost", TRUE, "localhost", 6379, 0, NULL },
    { "redis://redis.example.net/", TRUE, "redis.example.net", 6379, 0, NULL },
    { "redis://:s%40cret@10.0.0.1:7000/15", TRUE, "10.0.0.1", 7000, 15, "s@cret" },
    { "redis://[::1]:6379/1", TRUE, "::1", 6379, 1, NULL },
    { "http://127.0.0.1/", FALSE, NULL, 0, 0, NULL },
    { "redis://user:pw@127.0.0.1/", FALSE, NULL, 0, 0, NULL },
    { "redis://127.0.0.1/x", FALSE, NULL, 0, 0, NULL },
    { "redis://127.0.0.1/-1", FALSE, NULL, 0, 0, NULL },
    { "redis://127.0.0.1/1?x=y", FALSE, NULL, 0, 0, NULL },
    { "redis://", FALSE, NULL, 0, 0, NULL },
    { "/var/lib/sipflow/location.sqlite", FALSE, NULL, 0, 0, NULL },
    { "", FALSE, NULL, 0, 0, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    SfLocRedisUri u;
    g_autoptr (GError) e = NULL;
    gboolean ok = sf_loc_redis_parse_uri (cases[i].uri, &u, &e);
    CU_ASSERT_EQUAL (ok, cases[i].ok);
    if (!ok) {
      CU_ASSERT_TRUE (e != NULL && strstr (e->message, "redis://") != NULL);
      continue;
    }
    CU_ASSERT_STRING_EQUAL (u.host, cases[i].host);
    CU_ASSERT_EQUAL (u.port, cases[i].port);
    CU_ASSERT_EQUAL (u.db, cases[i].db);
    CU_ASSERT_STRING_EQUAL (u.password != NULL ? u.password : "-", cases[i].password != NULL ? cases[i].password : "-");
    sf_loc_redis_uri_clear (&u);
  }
}

/* What a script reply's 13 fields may hold: a good binding, and each kind of
 * hostile value (dropped) or out-of-range q (clamped). */
static void
test_redis_decode (void)
{
  const char *good[SF_LOC_REDIS_FIELDS] = { "sip:a@192.0.2.1", "0.5", "1700000600", "cid", "7", "192.0.2.1:5060", "udp",
                                            "127.0.0.1:5060", NULL, NULL, "<urn:uuid:1>", "1", "127.0.0.1:5060" };
  gsize lens[SF_LOC_REDIS_FIELDS];
  const char *f[SF_LOC_REDIS_FIELDS];
  const char *why = NULL;
#define LENS()                                                                                                        \
  for (guint k = 0; k < SF_LOC_REDIS_FIELDS; k++)                                                                      \
    lens[k] = f[k] != NULL ? strlen (f[k]) : 0
  memcpy (f, good, sizeof f);
  LENS ();
  SfLocBinding *b = sf_loc_redis_decode (f, lens, &why);
  CU_ASSERT_PTR_NOT_NULL_FATAL (b);
  CU_ASSERT_STRING_EQUAL (b->contact, "sip:a@192.0.2.1");
  CU_ASSERT_DOUBLE_EQUAL (b->q, 0.5, 1e-9);
  CU_ASSERT_EQUAL (b->expires_at, 1700000600);
  CU_ASSERT_EQUAL (b->cseq, 7);
  CU_ASSERT_EQUAL (b->reg_id, 1);
  CU_ASSERT_PTR_NULL (b->flow);
  CU_ASSERT_STRING_EQUAL (b->instance, "<urn:uuid:1>");
  sf_loc_binding_free (b);
  /* q out of range is clamped, not refused */
  static const struct { const char *q; double want; } qs[] = { { "1e300", 1.0 }, { "-5", 0.0 }, { "nan", 0.0 },
                                                               { "inf", 1.0 } };
  for (gsize i = 0; i < G_N_ELEMENTS (qs); i++) {
    memcpy (f, good, sizeof f);
    f[1] = qs[i].q;
    LENS ();
    b = sf_loc_redis_decode (f, lens, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL (b);
    CU_ASSERT_DOUBLE_EQUAL (b->q, qs[i].want, 1e-9);
    sf_loc_binding_free (b);
  }
  /* field index, hostile value: each binding dropped with a reason */
  g_autofree char *huge = g_strnfill (SF_LOCATION_MAX_AOR_BYTES + 1, 'x');
  static const struct { guint field; const char *value; } bad[] = {
    { 0, NULL },  { 0, "" },    { 1, "half" }, { 1, "0.5x" },      { 1, "" },          { 2, "-1" },
    { 2, "1e9" }, { 2, " 12" }, { 2, NULL },   { 3, NULL },        { 4, "4294967296" }, { 4, "1.5" },
    { 4, "0x10" }, { 11, "nil" }, { 11, NULL }, { 2, "99999999999999999999999" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    memcpy (f, good, sizeof f);
    f[bad[i].field] = bad[i].value;
    LENS ();
    why = NULL;
    CU_ASSERT_PTR_NULL (sf_loc_redis_decode (f, lens, &why));
    CU_ASSERT_PTR_NOT_NULL (why);
  }
  memcpy (f, good, sizeof f);
  f[9] = huge;
  LENS ();
  CU_ASSERT_PTR_NULL (sf_loc_redis_decode (f, lens, &why));
  /* a NUL inside a field (Redis strings are binary) */
  memcpy (f, good, sizeof f);
  LENS ();
  lens[3] = 5; /* "cid\0" and one byte more */
  f[3] = "cid\0x";
  CU_ASSERT_PTR_NULL (sf_loc_redis_decode (f, lens, &why));
#undef LENS
}

static void
count_free (gpointer p)
{
  (*(int *) p)++;
}

static void
ignore (SfLocationResult *r, gpointer data)
{
  sf_location_result_free (r);
}

/* A TCP socket on loopback bound to a free port (*@port) and, when @listen,
 * listening and never read: a Redis that accepts and never answers. */
static GSocket *
loopback_socket (gboolean listen, guint *port)
{
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  CU_ASSERT_TRUE (g_socket_bind (sock, any, TRUE, NULL) && (!listen || g_socket_listen (sock, NULL)));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sock, NULL);
  *port = bound != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : 0;
  return sock;
}

/* A Redis that refuses the connection, and one that accepts it and never
 * answers (a socket that listens and is never read): an update gets
 * STORE_FAILED (REGISTER 500) and a lookup UNAVAILABLE (503), within the
 * timeout, never from inside the call; the service freed with requests
 * pending drops them, their data freed (ASan: no leak). */
static void
test_redis_down (void)
{
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  guint port, closed_port;
  g_autoptr (GSocket) silent = loopback_socket (TRUE, &port);
  /* a port nothing listens on: a bound socket's, once it is closed */
  g_autoptr (GSocket) gone = loopback_socket (FALSE, &closed_port);
  g_socket_close (gone, NULL);
  CU_ASSERT_FATAL (port != 0 && closed_port != 0);
  guint ports[] = { closed_port, port };
  for (guint i = 0; i < G_N_ELEMENTS (ports); i++) {
    g_autofree char *uri = g_strdup_printf ("redis://127.0.0.1:%u/1", ports[i]);
    g_autoptr (GError) e = NULL;
    SfLocation *loc = sf_location_new_redis (clock, uri, "pw", 200, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
    CU_ASSERT_TRUE (sf_location_shared (loc));
    SfLocChange c[] = { CH ("sip:a@192.0.2.1", 1.0, 600) };
    gint64 t0 = g_get_monotonic_time ();
    SfLocationResult *r = update (loc, "sip:a@example.com", "cid", 1, FALSE, c, 1);
    CU_ASSERT_TRUE (r->error != NULL && r->error->code == SF_LOCATION_ERROR_STORE_FAILED);
    CU_ASSERT_TRUE (r->error != NULL && strstr (r->error->message, "redis://127.0.0.1:") != NULL);
    CU_ASSERT_EQUAL (r->bindings->len, 0);
    sf_location_result_free (r);
    r = lookup (loc, "sip:a@example.com");
    CU_ASSERT_TRUE (r->error != NULL && r->error->code == SF_LOCATION_ERROR_UNAVAILABLE);
    sf_location_result_free (r);
    CU_ASSERT_TRUE (g_get_monotonic_time () - t0 < 3 * G_USEC_PER_SEC);
    CU_ASSERT_EQUAL (sf_location_size (loc), 0);
    /* pending when freed: dropped, data freed */
    int freed = 0;
    sf_location_lookup (loc, "sip:a@example.com", ignore, &freed, count_free);
    sf_location_update (loc, "sip:a@example.com", "cid", 2, NULL, FALSE, c, 1, ignore, &freed, count_free);
    sf_location_free (loc);
    CU_ASSERT_EQUAL (freed, 2);
  }
}

typedef struct {
  guint results, bytes;
} FlightCount;

static void
count_flight (SfLocationResult *r, gpointer data)
{
  FlightCount *n = data;
  n->results++;
  if (r->error != NULL && strstr (r->error->message, "too many bytes of commands waiting") != NULL)
    n->bytes++;
  sf_location_result_free (r);
}

/* While Redis is stalled (a socket that listens and is never read) commands
 * queue: past 16 MiB of their arguments a new one fails at once, whatever
 * the count bound (10,000), so updates of 60 KiB each stop at about 280. */
static void
test_redis_flight_bytes (void)
{
  g_autoptr (SfClock) clock = sf_clock_new_fake (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC);
  guint port;
  g_autoptr (GSocket) silent = loopback_socket (TRUE, &port);
  CU_ASSERT_FATAL (port != 0);
  g_autofree char *uri = g_strdup_printf ("redis://127.0.0.1:%u/1", port);
  g_autoptr (GError) e = NULL;
  SfLocation *loc = sf_location_new_redis (clock, uri, "pw", 5000, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (loc);
  g_autofree char *contact = g_strnfill (60 * 1024, 'a');
  memcpy (contact, "sip:", 4);
  SfLocChange c[] = { CH (contact, 1.0, 600) };
  FlightCount n = { 0, 0 };
  const guint sent = 400, fit = 16 * 1024 * 1024 / (60 * 1024);
  for (guint i = 0; i < sent; i++) {
    g_autofree char *aor = g_strdup_printf ("sip:u%u@example.com", i);
    sf_location_update (loc, aor, "cid", 1, NULL, FALSE, c, 1, count_flight, &n, NULL);
  }
  gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC; /* before the 5 s timeout fails the rest */
  while (n.results < sent - fit - 2 && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  CU_ASSERT_TRUE (n.bytes >= sent - fit - 2 && n.bytes <= sent - fit + 2);
  CU_ASSERT_EQUAL (n.results, n.bytes); /* the ones queued wait for Redis */
  sf_location_free (loc);
}

/* A hostile Redis for the offline walk: AUTH ok, DBSIZE 0, and every SCAN
 * answered with cursor 1 and no key, so the walk would never see cursor 0;
 * it gives up (closes) after HOSTILE_SCANS of them. */
#define HOSTILE_SCANS 100000

typedef struct {
  GSocket *listener;
  guint scans;
} Hostile;

/* One whole command at the head of @buf (a RESP array of bulk strings):
 * its length, its first argument's into *@name; 0 when not all there. */
static gsize
resp_command (const GString *buf, char name[16])
{
  const char *p = buf->str, *end = buf->str + buf->len;
  char *e;
  if (p == end || *p != '*')
    return 0;
  long n = strtol (p + 1, &e, 10);
  if (e + 2 > end || e[0] != '\r')
    return 0;
  p = e + 2;
  for (long i = 0; i < n; i++) {
    if (p >= end || *p != '$')
      return 0;
    long len = strtol (p + 1, &e, 10);
    if (e + 2 > end || e[0] != '\r' || e + 2 + len + 2 > end)
      return 0;
    if (i == 0)
      g_strlcpy (name, e + 2, MIN ((gsize) len + 1, 16));
    p = e + 2 + len + 2;
  }
  return (gsize) (p - buf->str);
}

static gpointer
hostile_redis (gpointer data)
{
  Hostile *h = data;
  g_autoptr (GSocket) s = g_socket_accept (h->listener, NULL, NULL);
  if (s == NULL)
    return NULL;
  g_autoptr (GString) buf = g_string_new (NULL);
  char in[4096];
  while (h->scans < HOSTILE_SCANS) {
    char name[16] = "";
    gsize used = resp_command (buf, name);
    if (used == 0) {
      gssize got = g_socket_receive (s, in, sizeof in, NULL, NULL);
      if (got <= 0)
        break;
      g_string_append_len (buf, in, got);
      continue;
    }
    g_string_erase (buf, 0, (gssize) used);
    const char *reply = "-ERR unknown\r\n";
    if (g_ascii_strcasecmp (name, "AUTH") == 0)
      reply = "+OK\r\n";
    else if (g_ascii_strcasecmp (name, "DBSIZE") == 0)
      reply = ":0\r\n";
    else if (g_ascii_strcasecmp (name, "SCAN") == 0) {
      reply = "*2\r\n$1\r\n1\r\n*0\r\n";
      h->scans++;
    }
    if (g_socket_send (s, reply, strlen (reply), NULL, NULL) < 0)
      break;
  }
  g_socket_close (s, NULL);
  return NULL;
}

static gboolean
walk_one (const char *aor, const SfLocBinding *b, gpointer data)
{
  return TRUE;
}

/* sipflow location on a Redis whose SCAN cursor never comes back to 0: the
 * walk ends with an error after a bounded number of SCANs (here DBSIZE says
 * 0 keys), rather than looping as long as the server goes on. */
static void
test_redis_walk_hostile (void)
{
  guint port;
  Hostile h = { loopback_socket (TRUE, &port), 0 };
  CU_ASSERT_FATAL (port != 0);
  GThread *th = g_thread_new ("hostile-redis", hostile_redis, &h);
  g_autofree char *uri = g_strdup_printf ("redis://127.0.0.1:%u/0", port);
  g_autoptr (GError) e = NULL;
  gboolean ok = sf_location_redis_each (uri, "pw", 2000, NULL, walk_one, NULL, &e);
  CU_ASSERT_FALSE (ok);
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, "SCAN") != NULL);
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, "pw") == NULL);
  g_thread_join (th);
  CU_ASSERT_TRUE (h.scans < 10000);
  g_object_unref (h.listener);
}

/* sf_nat_detect_from (the source as a socket address) agrees with
 * sf_nat_detect (the source written out), IPv4 and IPv6. */
static void
test_nat_detect_from (void)
{
  static const struct {
    gboolean tcp, rport, nat;
    const char *via;
    guint via_port;
    const char *ip;
    guint port;
  } cases[] = {
    { FALSE, TRUE, FALSE, "192.0.2.1", 5060, "192.0.2.1", 5060 },
    { FALSE, TRUE, FALSE, "192.0.2.1", 0, "192.0.2.1", 5060 }, /* no port: 5060 */
    { FALSE, FALSE, TRUE, "10.0.0.7", 5060, "198.51.100.9", 40000 },
    { TRUE, FALSE, TRUE, "10.0.0.7", 5060, "198.51.100.9", 40000 },
    { FALSE, TRUE, TRUE, "127.0.0.1", 5062, "127.0.0.1", 31000 },
    { TRUE, TRUE, FALSE, "127.0.0.1", 5062, "127.0.0.1", 31000 },
    { FALSE, TRUE, FALSE, "phone.example.com", 5060, "192.0.2.1", 5060 },
    { FALSE, TRUE, FALSE, "[2001:db8::1]", 5060, "2001:db8:0::1", 5060 },
    { FALSE, TRUE, TRUE, "[fd00::1]", 5060, "2001:db8::1", 5060 },
    { FALSE, FALSE, FALSE, "[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa]", 5060, "192.0.2.1", 5060 }, /* longer than any address */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GSocketAddress) a = g_inet_socket_address_new_from_string (cases[i].ip, cases[i].port);
    gboolean from = sf_nat_detect_from (cases[i].tcp, cases[i].via, cases[i].via_port, cases[i].rport,
                                        G_INET_SOCKET_ADDRESS (a));
    CU_ASSERT_EQUAL (from, cases[i].nat);
    CU_ASSERT_EQUAL (from, sf_nat_detect (cases[i].tcp, cases[i].via, cases[i].via_port, cases[i].rport, cases[i].ip,
                                          cases[i].port));
  }
}

void
sf_test_register_location (void)
{
  CU_pSuite s = CU_add_suite ("location", NULL, suite_clean);
  SF_ADD_TEST (s, test_bindings_memory);
  SF_ADD_TEST (s, test_bindings_sqlite);
  SF_ADD_TEST (s, test_max_aors_memory);
  SF_ADD_TEST (s, test_max_aors_sqlite);
  SF_ADD_TEST (s, test_aor_bytes_memory);
  SF_ADD_TEST (s, test_aor_bytes_sqlite);
  SF_ADD_TEST (s, test_sqlite_reopen);
  SF_ADD_TEST (s, test_each_remove);
  SF_ADD_TEST (s, test_flow_index);
  SF_ADD_TEST (s, test_flow_index_model);
  SF_ADD_TEST (s, test_sqlite_migration);
  SF_ADD_TEST (s, test_sqlite_write_fails);
  SF_ADD_TEST (s, test_sqlite_order_behind_writer);
  SF_ADD_TEST (s, test_sqlite_one_write_fails);
  SF_ADD_TEST (s, test_sqlite_write_warnings);
  SF_ADD_TEST (s, test_sqlite_write_warnings_idle);
  SF_ADD_TEST (s, test_sqlite_checkpoints);
  SF_ADD_TEST (s, test_sqlite_hostile_rows);
  SF_ADD_TEST (s, test_users_file);
  SF_ADD_TEST (s, test_algorithm_order);
  SF_ADD_TEST (s, test_qvalues);
  SF_ADD_TEST (s, test_answer_in);
  SF_ADD_TEST (s, test_redis_uri);
  SF_ADD_TEST (s, test_redis_decode);
  SF_ADD_TEST (s, test_redis_down);
  SF_ADD_TEST (s, test_redis_flight_bytes);
  SF_ADD_TEST (s, test_redis_walk_hostile);
  SF_ADD_TEST (s, test_nat_detect_from);
}
