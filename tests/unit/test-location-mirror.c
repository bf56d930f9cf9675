/* test-location-mirror.c: worker 0's location mirrored for the other workers'
 * lookups (operators/registrar/sf-location-mirror.h, docs/workers.md "The
 * location service"), two workers in one thread on a fake clock: a lookup on
 * worker 1 is answered from the mirror without a hand-off, never inside the
 * call that asked; what worker 0 changes is seen by worker 1 from the moment
 * the change's result goes out (a lookup made when a REGISTER's 200 would be
 * sent sees it): updates through worker 1 or on worker 0, refreshes (the
 * result already given keeps its binding unchanged), expiry (filtered by the
 * clock; dropped from the mirror when the core drops it), removals (the
 * control command, Contact: *), a refused update (out of order, past the
 * limit: nothing changes), the sqlite layer's rollback after a failed write
 * ("the core goes back to what the store holds") and its load at start.  The
 * mirror holds what the core holds, after every step.  Then threads: worker 0
 * updating while another thread looks up, each binding read whole (ASan;
 * TSan when built with it). */
#include "config.h"
#include "sf-test.h"
#include "framework/sf-workers.h"
#include "operators/registrar/sf-location.h"
#include "operators/registrar/sf-location-store.h"
#include "operators/registrar/sf-location-mirror.h"
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

static const guint64 key[2] = { 0x4d4952524f52ULL, 0x73697066666c6f77ULL };
#define T0 (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC)
#define AOR "sip:bob@sipflow.test"

typedef struct {
  SfClock *clock;
  SfWorkers *set;
  SfLocation *home, *w1;
  SfLocMirror *mirror; /* a ref, to compare its size with the core's */
} Mx;

static void
mx_init (Mx *m, SfLocation *home)
{
  m->clock = home == NULL ? sf_clock_new_fake (T0) : m->clock;
  m->set = sf_workers_new (2, key);
  m->home = home != NULL ? home : sf_location_new_memory (m->clock);
  m->w1 = sf_location_new_worker (m->clock, m->set, 1, m->home, 0);
  m->mirror = sf_location_mirror (m->home);
}

static void
mx_clear (Mx *m)
{
  sf_loc_mirror_unref (m->mirror);
  sf_location_free (m->w1);
  sf_location_free (m->home);
  sf_workers_free (m->set);
  sf_clock_free (m->clock);
}

/* The mirror holds what the core holds. */
static gboolean
same_size (Mx *m)
{
  return sf_loc_mirror_size (m->mirror) == sf_location_size (m->home);
}

typedef struct {
  SfLocationResult *r;
  Mx *m;
  guint seen;         /* the bindings worker 1's mirror held when the result came (the 200's moment) */
} Got;

static void
got (SfLocationResult *r, gpointer data)
{
  Got *g = data;
  g->r = r;
  if (g->m != NULL) {
    /* the moment the registrar would send its 200: worker 1 reads now */
    g_autoptr (GPtrArray) now = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
    sf_loc_mirror_read (g->m->mirror, AOR, sf_clock_wall_us (g->m->clock) / G_USEC_PER_SEC, now);
    g->seen = now->len;
  }
}

/* Runs worker 1's context and both inboxes until @g has its result. */
static void
pump (Mx *m, Got *g)
{
  for (guint i = 0; i < 100 && g->r == NULL; i++) {
    sf_workers_drain (m->set);
    g_main_context_iteration (NULL, FALSE);
  }
}

/* A lookup on worker 1: answered in a later turn, without a hand-off. */
static SfLocationResult *
lookup1 (Mx *m)
{
  SfWorkerStats before, after;
  sf_workers_stats (m->set, 1, &before);
  Got g = { 0 };
  sf_location_lookup (m->w1, AOR, got, &g, NULL);
  CU_ASSERT_PTR_NULL (g.r); /* never from inside the call that asked */
  for (guint i = 0; i < 10 && g.r == NULL; i++)
    g_main_context_iteration (NULL, FALSE); /* worker 1's turns only: no inbox runs */
  CU_ASSERT_PTR_NOT_NULL_FATAL (g.r);
  sf_workers_stats (m->set, 1, &after);
  CU_ASSERT_EQUAL (after.handed_out, before.handed_out);
  CU_ASSERT_EQUAL (sf_workers_n (m->set), 2);
  return g.r;
}

static SfLocationResult *
update_on (Mx *m, SfLocation *loc, const char *cid, guint32 cseq, gboolean remove_all, const char *contact,
           gint64 expires)
{
  SfLocChange c = { contact, 1.0, expires, NULL, 0 };
  Got g = { 0 };
  g.m = m;
  sf_location_update (loc, AOR, cid, cseq, NULL, remove_all, &c, contact != NULL ? 1 : 0, got, &g, NULL);
  pump (m, &g);
  CU_ASSERT_PTR_NOT_NULL_FATAL (g.r);
  if (g.r->error == NULL) {
    /* what the result says is what worker 1 read when it came */
    CU_ASSERT_EQUAL (g.seen, g.r->bindings->len);
  }
  return g.r;
}

static void
seen_after_update (void)
{
  Mx m;
  mx_init (&m, NULL);
  g_autoptr (SfLocationResult) none = lookup1 (&m);
  CU_ASSERT_EQUAL (none->bindings->len, 0);
  /* through worker 1 (crossing to worker 0 and back), then on worker 0 */
  g_autoptr (SfLocationResult) u1 = update_on (&m, m.w1, "cid", 1, FALSE, "sip:bob@192.0.2.1", 3600);
  CU_ASSERT_PTR_NULL (u1->error);
  g_autoptr (SfLocationResult) l1 = lookup1 (&m);
  CU_ASSERT_EQUAL_FATAL (l1->bindings->len, 1);
  SfLocBinding *b = l1->bindings->pdata[0];
  CU_ASSERT_STRING_EQUAL (b->contact, "sip:bob@192.0.2.1");
  CU_ASSERT_STRING_EQUAL (b->call_id, "cid");
  CU_ASSERT_EQUAL (b->expires_at, T0 / G_USEC_PER_SEC + 3600);
  g_autoptr (SfLocationResult) u2 = update_on (&m, m.home, "cid2", 1, FALSE, "sip:bob@192.0.2.2", 60);
  g_autoptr (SfLocationResult) l2 = lookup1 (&m);
  CU_ASSERT_EQUAL (l2->bindings->len, 2);
  CU_ASSERT_TRUE (same_size (&m));
  /* a refresh replaces the binding: the one worker 1 was given stays as it was */
  g_autoptr (SfLocationResult) u3 = update_on (&m, m.home, "cid", 2, FALSE, "sip:bob@192.0.2.1", 7200);
  CU_ASSERT_EQUAL (b->expires_at, T0 / G_USEC_PER_SEC + 3600);
  CU_ASSERT_EQUAL (b->cseq, 1);
  g_autoptr (SfLocationResult) l3 = lookup1 (&m);
  CU_ASSERT_EQUAL_FATAL (l3->bindings->len, 2);
  gboolean refreshed = FALSE;
  for (guint i = 0; i < l3->bindings->len; i++) {
    const SfLocBinding *x = l3->bindings->pdata[i];
    refreshed |= strcmp (x->contact, "sip:bob@192.0.2.1") == 0 && x->cseq == 2 &&
                 x->expires_at == T0 / G_USEC_PER_SEC + 7200;
  }
  CU_ASSERT_TRUE (refreshed);
  /* refused updates change nothing: out of order, past the limit */
  g_autoptr (SfLocationResult) old = update_on (&m, m.w1, "cid", 2, FALSE, "sip:bob@192.0.2.9", 60);
  CU_ASSERT_TRUE (old->error == NULL); /* another contact: not touched, so not out of order */
  g_autoptr (SfLocationResult) ooo = update_on (&m, m.w1, "cid", 1, FALSE, "sip:bob@192.0.2.9", 60);
  CU_ASSERT_TRUE (ooo->error != NULL && ooo->error->code == SF_LOCATION_ERROR_OUT_OF_ORDER);
  for (guint i = 0; i < SF_LOCATION_MAX_BINDINGS; i++) {
    g_autofree char *c = g_strdup_printf ("sip:bob@198.51.100.%u", i);
    g_autofree char *cid = g_strdup_printf ("many%u", i);
    g_autoptr (SfLocationResult) r = update_on (&m, m.home, cid, 1, FALSE, c, 60);
    CU_ASSERT_TRUE ((r->error != NULL) == (i + 3 >= SF_LOCATION_MAX_BINDINGS));
  }
  g_autoptr (SfLocationResult) full = lookup1 (&m);
  CU_ASSERT_EQUAL (full->bindings->len, SF_LOCATION_MAX_BINDINGS);
  CU_ASSERT_TRUE (same_size (&m));
  mx_clear (&m);
}

static void
expiry (void)
{
  Mx m;
  mx_init (&m, NULL);
  g_autoptr (SfLocationResult) u1 = update_on (&m, m.home, "cid", 1, FALSE, "sip:bob@192.0.2.1", 60);
  g_autoptr (SfLocationResult) u2 = update_on (&m, m.home, "cid", 2, FALSE, "sip:bob@192.0.2.2", 120);
  sf_clock_fake_set_us (m.clock, T0 + 60 * G_USEC_PER_SEC); /* the first expires now */
  g_autoptr (SfLocationResult) l1 = lookup1 (&m);
  CU_ASSERT_EQUAL_FATAL (l1->bindings->len, 1);
  CU_ASSERT_STRING_EQUAL (((SfLocBinding *) l1->bindings->pdata[0])->contact, "sip:bob@192.0.2.2");
  CU_ASSERT_EQUAL (sf_loc_mirror_size (m.mirror), 2); /* the core drops it lazily, and the mirror with it */
  CU_ASSERT_TRUE (same_size (&m));
  Got g = { 0 };
  sf_location_lookup (m.home, AOR, got, &g, NULL); /* worker 0 reads it: dropped from both */
  pump (&m, &g);
  sf_location_result_free (g.r);
  CU_ASSERT_EQUAL (sf_loc_mirror_size (m.mirror), 1);
  CU_ASSERT_TRUE (same_size (&m));
  sf_clock_fake_set_us (m.clock, T0 + 200 * G_USEC_PER_SEC);
  g_autoptr (SfLocationResult) l2 = lookup1 (&m);
  CU_ASSERT_EQUAL (l2->bindings->len, 0);
  /* worker 0's purge (a new address-of-record at max_aors) drops every expired one */
  sf_location_set_max_aors (m.home, 1);
  SfLocChange c = { "sip:alice@192.0.2.3", 1.0, 60, NULL, 0 };
  Got a = { 0 };
  sf_location_update (m.home, "sip:alice@sipflow.test", "a", 1, NULL, FALSE, &c, 1, got, &a, NULL);
  pump (&m, &a);
  CU_ASSERT_PTR_NULL (a.r->error);
  sf_location_result_free (a.r);
  CU_ASSERT_EQUAL (sf_loc_mirror_size (m.mirror), 1);
  CU_ASSERT_TRUE (same_size (&m));
  mx_clear (&m);
}

static void
removed (void)
{
  Mx m;
  mx_init (&m, NULL);
  for (guint i = 0; i < 3; i++) {
    g_autofree char *c = g_strdup_printf ("sip:bob@192.0.2.%u", i + 1);
    sf_location_result_free (update_on (&m, m.home, "cid", i + 1, FALSE, c, 60));
  }
  CU_ASSERT_EQUAL (sf_location_remove (m.home, AOR, "sip:bob@192.0.2.1"), 1);
  g_autoptr (SfLocationResult) l1 = lookup1 (&m);
  CU_ASSERT_EQUAL (l1->bindings->len, 2);
  CU_ASSERT_TRUE (same_size (&m));
  /* expires 0 through worker 1 */
  sf_location_result_free (update_on (&m, m.w1, "cid", 9, FALSE, "sip:bob@192.0.2.2", 0));
  g_autoptr (SfLocationResult) l2 = lookup1 (&m);
  CU_ASSERT_EQUAL (l2->bindings->len, 1);
  /* Contact: * */
  sf_location_result_free (update_on (&m, m.w1, "cid", 10, TRUE, NULL, 0));
  g_autoptr (SfLocationResult) l3 = lookup1 (&m);
  CU_ASSERT_EQUAL (l3->bindings->len, 0);
  CU_ASSERT_EQUAL (sf_loc_mirror_size (m.mirror), 0);
  sf_location_result_free (update_on (&m, m.home, "cid", 11, FALSE, "sip:bob@192.0.2.4", 60));
  CU_ASSERT_EQUAL (sf_location_remove (m.home, AOR, NULL), 1);
  g_autoptr (SfLocationResult) l4 = lookup1 (&m);
  CU_ASSERT_EQUAL (l4->bindings->len, 0);
  CU_ASSERT_TRUE (same_size (&m));
  mx_clear (&m);
}

static void
rollback_and_load (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sf-mirror-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "location.sqlite", NULL);
  Mx m;
  m.clock = sf_clock_new_fake (T0);
  g_autoptr (GError) e = NULL;
  SfLocation *home = sf_location_new_sqlite (m.clock, path, 50, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (home);
  mx_init (&m, home);
  sf_location_result_free (update_on (&m, m.w1, "cid", 1, FALSE, "sip:bob@192.0.2.1", 60));
  /* another process holds the file: the next write fails and the core goes
   * back to what the store holds; so does worker 1's view */
  sqlite3 *other = NULL;
  CU_ASSERT_EQUAL_FATAL (sqlite3_open (path, &other), SQLITE_OK);
  CU_ASSERT_EQUAL (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  SfLocChange c = { "sip:bob@192.0.2.2", 1.0, 60, NULL, 0 };
  Got g = { 0 };
  sf_location_update (m.w1, AOR, "cid", 2, NULL, FALSE, &c, 1, got, &g, NULL);
  pump (&m, &g);
  for (guint i = 0; i < 200 && g.r == NULL; i++) { /* the writer's thread waits out the busy timeout */
    g_main_context_iteration (NULL, TRUE);
    sf_workers_drain (m.set);
  }
  CU_ASSERT_TRUE_FATAL (g.r != NULL && g.r->error != NULL && g.r->error->code == SF_LOCATION_ERROR_STORE_FAILED);
  sf_location_result_free (g.r);
  sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (other);
  g_autoptr (SfLocationResult) l1 = lookup1 (&m);
  CU_ASSERT_EQUAL_FATAL (l1->bindings->len, 1);
  CU_ASSERT_STRING_EQUAL (((SfLocBinding *) l1->bindings->pdata[0])->contact, "sip:bob@192.0.2.1");
  CU_ASSERT_TRUE (same_size (&m));
  sf_loc_mirror_unref (m.mirror);
  sf_location_free (m.w1);
  sf_location_free (m.home);
  sf_workers_free (m.set);
  /* the next start: what was loaded is mirrored */
  home = sf_location_new_sqlite (m.clock, path, 50, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (home);
  mx_init (&m, home);
  g_autoptr (SfLocationResult) l2 = lookup1 (&m);
  CU_ASSERT_EQUAL (l2->bindings->len, 1);
  CU_ASSERT_TRUE (same_size (&m));
  mx_clear (&m);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  (void) !system (cmd);
}

static void
closed_home (void)
{
  /* an answer read before worker 0's location goes is delivered as read; a
   * lookup after it is answered unavailable (503 at the proxy), in a later
   * turn, not left waiting */
  Mx m;
  mx_init (&m, NULL);
  sf_location_result_free (update_on (&m, m.home, "cid", 1, FALSE, "sip:bob@192.0.2.1", 60));
  Got g = { 0 };
  sf_location_lookup (m.w1, AOR, got, &g, NULL);
  sf_location_free (m.home);
  m.home = NULL;
  CU_ASSERT_EQUAL (sf_loc_mirror_size (m.mirror), 0);
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  CU_ASSERT_TRUE_FATAL (g.r != NULL);
  CU_ASSERT_TRUE (g.r->error == NULL && g.r->bindings->len == 1);
  g_clear_pointer (&g.r, sf_location_result_free);
  sf_location_lookup (m.w1, AOR, got, &g, NULL);
  CU_ASSERT_PTR_NULL (g.r); /* never from inside the call that asked */
  for (guint i = 0; i < 10 && g.r == NULL; i++)
    g_main_context_iteration (NULL, FALSE);
  CU_ASSERT_TRUE_FATAL (g.r != NULL);
  CU_ASSERT_TRUE (g.r->error != NULL && g.r->error->code == SF_LOCATION_ERROR_UNAVAILABLE);
  g_clear_pointer (&g.r, sf_location_result_free);
  mx_clear (&m);
}

/* ---- threads ---- */

#define ROUNDS 3000

typedef struct {
  Mx *m;
  gint stop;      /* atomic */
  guint lookups, torn, seen;
} Reader;

static void
read_done (SfLocationResult *r, gpointer data)
{
  Reader *rd = data;
  rd->lookups++;
  for (guint i = 0; i < r->bindings->len; i++) {
    const SfLocBinding *b = r->bindings->pdata[i];
    /* each binding whole: its Call-ID, path and expiry were written with its CSeq */
    g_autofree char *cid = g_strdup_printf ("cid-%u", b->cseq);
    g_autofree char *path = g_strdup_printf ("<sip:edge%u.sipflow.test;lr>", b->cseq);
    if (strcmp (b->call_id, cid) != 0 || b->path == NULL || strcmp (b->path, path) != 0 ||
        b->expires_at != T0 / G_USEC_PER_SEC + 60 + b->cseq)
      rd->torn++;
    rd->seen++;
  }
  sf_location_result_free (r);
}

/* Worker 1's thread: lookups in its own context until told to stop. */
static gpointer
reader_main (gpointer p)
{
  Reader *rd = p;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  while (!g_atomic_int_get (&rd->stop)) {
    guint before = rd->lookups;
    sf_location_lookup (rd->m->w1, AOR, read_done, rd, NULL);
    while (rd->lookups == before)
      g_main_context_iteration (ctx, TRUE);
  }
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return NULL;
}

static void
threads (void)
{
  /* worker 0 (this thread) refreshes two bindings, adds and removes a third,
   * while worker 1's thread looks up: every binding it gets is whole */
  Mx m;
  mx_init (&m, NULL);
  Reader rd = { &m, 0, 0, 0, 0 };
  GThread *t = g_thread_new ("mirror-reader", reader_main, &rd);
  for (guint32 cseq = 1; cseq <= ROUNDS; cseq++) {
    g_autofree char *cid = g_strdup_printf ("cid-%u", cseq);
    g_autofree char *path = g_strdup_printf ("<sip:edge%u.sipflow.test;lr>", cseq);
    SfLocOrigin o = { NULL, NULL, NULL, NULL, path, NULL };
    SfLocChange c[] = { { "sip:bob@192.0.2.1", 1.0, 60 + cseq, NULL, 0 },
                        { "sip:bob@192.0.2.2", 0.5, 60 + cseq, NULL, 0 },
                        { "sip:bob@192.0.2.3", 0.1, cseq % 2 == 0 ? 60 + cseq : 0, NULL, 0 } };
    Got g = { 0 };
    sf_location_update (m.home, AOR, cid, cseq, &o, FALSE, c, G_N_ELEMENTS (c), got, &g, NULL);
    for (guint i = 0; i < 10 && g.r == NULL; i++)
      g_main_context_iteration (NULL, FALSE);
    CU_ASSERT_TRUE (g.r != NULL && g.r->error == NULL);
    sf_location_result_free (g.r);
    if (cseq % 500 == 0)
      CU_ASSERT_EQUAL (sf_location_remove (m.home, AOR, "sip:bob@192.0.2.1"), 1);
  }
  g_atomic_int_set (&rd.stop, 1);
  g_thread_join (t);
  CU_ASSERT_TRUE (rd.lookups > 0);
  CU_ASSERT_TRUE (rd.seen > 0);
  CU_ASSERT_EQUAL (rd.torn, 0);
  CU_ASSERT_TRUE (same_size (&m));
  mx_clear (&m);
}

void
sf_test_register_location_mirror (void)
{
  CU_pSuite s = CU_add_suite ("location_mirror", NULL, NULL);
  SF_ADD_TEST (s, seen_after_update);
  SF_ADD_TEST (s, expiry);
  SF_ADD_TEST (s, removed);
  SF_ADD_TEST (s, rollback_and_load);
  SF_ADD_TEST (s, closed_home);
  SF_ADD_TEST (s, threads);
}
