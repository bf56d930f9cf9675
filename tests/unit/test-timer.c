/* test-timer.c: the timer heap and endpoint timers under the fake clock
 * (docs/architecture.md: timers are delayed events in one heap per endpoint, behind an
 * injectable clock; no test sleeps).
 *  - heap_order: 2000 random deadlines with random removals come out sorted
 *  - heap_ties_fifo: equal deadlines fire in the order they were added
 *  - heap_sized: timers with their data in their own block: in order, data intact
 *  - fire_in_order: timers of several instances fire in deadline order, each at its deadline
 *  - not_early: a timer does not fire one millisecond before its deadline
 *  - restart_and_cancel: restarting replaces the old deadline; a cancelled timer never fires
 *  - chain: a timer started by a fired timer fires within the same advance
 *  - ended_instance: an instance's timers die with it
 *  - cancelled_after_firing: a timer that fired while an earlier event was queued, and
 *    that this event cancels, is not delivered (regression)
 *  - deadline_grid: a timer of 5 s or more is due at the next 100 ms step, never
 *    before its time; a shorter one at its time exactly
 *  - coarse_together: long timers started 10 and 60 ms apart fire together at
 *    the step after the later one's time, in the order they were started, not
 *    before; a short timer beside them keeps its exact time */
#include "config.h"
#include "sf-test.h"
#include "framework/sf-timer.h"
#include <string.h>

static int
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
heap_order (void)
{
  g_autoptr (SfTimerHeap) h = sf_timer_heap_new ();
  GRand *rand = g_rand_new_with_seed (3261);
  g_autoptr (GArray) kept = g_array_new (FALSE, FALSE, sizeof (gint64));
  GPtrArray *timers = g_ptr_array_new ();
  GPtrArray *values = g_ptr_array_new ();
  for (int i = 0; i < 2000; i++) {
    gint64 *d = g_new (gint64, 1);
    *d = g_rand_int_range (rand, 0, 100000);
    g_ptr_array_add (timers, sf_timer_heap_add (h, *d, d, g_free));
    g_ptr_array_add (values, d);
  }
  /* Remove every third, from anywhere in the heap. */
  for (guint i = 0; i < timers->len; i++) {
    if (i % 3 == 0)
      sf_timer_heap_remove (h, timers->pdata[i]);
    else
      g_array_append_val (kept, *(gint64 *) values->pdata[i]);
  }
  g_array_sort (kept, cmp_i64);
  CU_ASSERT_EQUAL (sf_timer_heap_size (h), kept->len);
  gint64 deadline;
  guint n = 0;
  gboolean sorted = TRUE;
  gint64 *d;
  while ((d = sf_timer_heap_pop_due (h, G_MAXINT64 - 1, &deadline)) != NULL) {
    if (n >= kept->len || *d != g_array_index (kept, gint64, n) || deadline != *d)
      sorted = FALSE;
    n++;
    g_free (d);
  }
  CU_ASSERT_TRUE (sorted);
  CU_ASSERT_EQUAL (n, kept->len);
  CU_ASSERT_EQUAL (sf_timer_heap_next_deadline (h), G_MAXINT64);
  g_ptr_array_unref (timers);
  g_ptr_array_unref (values);
  g_rand_free (rand);
}

static void
heap_ties_fifo (void)
{
  g_autoptr (SfTimerHeap) h = sf_timer_heap_new ();
  for (int i = 0; i < 50; i++)
    sf_timer_heap_add (h, 1000, GINT_TO_POINTER (i + 1), NULL);
  CU_ASSERT_PTR_NULL (sf_timer_heap_pop_due (h, 999, NULL));
  gboolean fifo = TRUE;
  for (int i = 0; i < 50; i++)
    if (GPOINTER_TO_INT (sf_timer_heap_pop_due (h, 1000, NULL)) != i + 1)
      fifo = FALSE;
  CU_ASSERT_TRUE (fifo);
  CU_ASSERT_EQUAL (sf_timer_heap_size (h), 0);
}

/* Timers with their data in their own block: taken out in deadline order
 * (ties first in, first out), their data as written, one removed before it
 * is due never comes out, those left freed with the heap (ASan says if not). */
static void
heap_sized (void)
{
  g_autoptr (SfTimerHeap) h = sf_timer_heap_new ();
  static const gint64 deadlines[] = { 300, 100, 200, 100, 50, 400 };
  SfTimer *timers[G_N_ELEMENTS (deadlines)];
  for (guint i = 0; i < G_N_ELEMENTS (deadlines); i++) {
    timers[i] = sf_timer_heap_add_sized (h, deadlines[i], sizeof (guint64) + 8);
    guint64 *d = sf_timer_data (timers[i]);
    *d = i;
    g_strlcpy ((char *) (d + 1), "name", 8);
  }
  sf_timer_heap_remove (h, timers[2]); /* 200: never due */
  CU_ASSERT_PTR_NULL (sf_timer_heap_take_due (h, 49));
  static const guint64 order[] = { 4, 1, 3, 0 }; /* 50, 100 (first in), 100, 300 */
  for (guint i = 0; i < G_N_ELEMENTS (order); i++) {
    SfTimer *t = sf_timer_heap_take_due (h, 399);
    CU_ASSERT_PTR_NOT_NULL_FATAL (t);
    guint64 *d = sf_timer_data (t);
    CU_ASSERT_EQUAL (*d, order[i]);
    CU_ASSERT_STRING_EQUAL ((char *) (d + 1), "name");
    sf_timer_free (t);
  }
  CU_ASSERT_PTR_NULL (sf_timer_heap_take_due (h, 399));
  CU_ASSERT_EQUAL (sf_timer_heap_size (h), 1); /* 400, freed with the heap */
}

/* A flow whose entry starts the timers named in @entry and whose timers each
 * emit "fired" (by OpEmit on a self-transition) */
static SfMachine *
timer_flow (SfTestEnv *env, const char *name, const char *entry_ops)
{
  g_autofree char *xml = g_strdup_printf (
    "<flow version=\"1\" name=\"%s\" initial=\"A\">"
    "<state name=\"A\"><entry>%s</entry><normal>"
    "<op name=\"OpOnTimer\" arg=\"a\" next=\"Fa\"/><op name=\"OpOnTimer\" arg=\"b\" next=\"Fb\"/>"
    "<op name=\"OpOnTimer\" arg=\"c\" next=\"Fc\"/></normal></state>"
    "<state name=\"Fa\"><entry><op name=\"OpEmit\" arg=\"fired_a\"/></entry><normal><op name=\"TTrans\" next=\"A\"/></normal></state>"
    "<state name=\"Fb\"><entry><op name=\"OpEmit\" arg=\"fired_b\"/><op name=\"OpStartTimer\" arg=\"c=50ms\"/></entry>"
    "<normal><op name=\"OpOnTimer\" arg=\"c\" next=\"Fc\"/></normal></state>"
    "<state name=\"Fc\"><entry><op name=\"OpEmit\" arg=\"fired_c\"/></entry></state>"
    "</flow>", name, entry_ops);
  return sf_test_load (env, name, xml);
}

/* The clock's time (ms) at each emitted fired_* line, as "a@300 b@100". */
typedef struct {
  SfTestEnv *env;
  GString *log;
} Clocked;

static void
clocked_emit (const char *line, gpointer data)
{
  Clocked *c = data;
  const char *p = strstr (line, "\"event\":\"fired_");
  if (p != NULL)
    g_string_append_printf (c->log, "%s%c@%" G_GINT64_FORMAT, c->log->len ? " " : "", p[strlen ("\"event\":\"fired_")],
                            sf_clock_now_us (sf_endpoint_clock (c->env->ep)) / 1000);
}

/* Flows "one", "two" and "three" into @m, each starting the timer @timers[i]
 * ("a=300ms"), their fired_* lines logged with the clock's time into @c. */
static void
three_flows (SfTestEnv *env, Clocked *c, const char *const timers[3], SfMachine *m[3])
{
  static const char *const names[3] = { "one", "two", "three" };
  c->env = env;
  c->log = g_string_new (NULL);
  sf_endpoint_set_emit (env->ep, clocked_emit, c);
  for (guint i = 0; i < 3; i++) {
    g_autofree char *op = g_strdup_printf ("<op name=\"OpStartTimer\" arg=\"%s\"/>", timers[i]);
    m[i] = timer_flow (env, names[i], op);
    CU_ASSERT_PTR_NOT_NULL_FATAL (m[i]);
  }
}

static void
three_flows_free (SfTestEnv *env, Clocked *c, SfMachine *m[3])
{
  for (guint i = 0; i < 3; i++)
    sf_machine_unref (m[i]);
  g_string_free (c->log, TRUE);
  sf_test_env_free (env);
}

static void
fire_in_order (void)
{
  SfTestEnv *env = sf_test_env_new ();
  Clocked c;
  SfMachine *m[3];
  three_flows (env, &c, (const char *const[]) { "a=300ms", "c=200ms", "a=2s" }, m);
  SfMachine *m1 = m[0], *m2 = m[1], *m3 = m[2];
  sf_endpoint_create (env->ep, m3, NULL, NULL, NULL);
  sf_endpoint_create (env->ep, m1, NULL, NULL, NULL);
  sf_endpoint_create (env->ep, m2, NULL, NULL, NULL);
  sf_endpoint_drain (env->ep);
  sf_endpoint_advance (env->ep, 1000);
  CU_ASSERT_STRING_EQUAL (c.log->str, "c@200 a@300");
  sf_endpoint_advance (env->ep, 1000);
  CU_ASSERT_STRING_EQUAL (c.log->str, "c@200 a@300 a@2000");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_fired, 3);
  three_flows_free (env, &c, m);
}

static void
not_early (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = timer_flow (env, "t", "<op name=\"OpStartTimer\" arg=\"a=100ms\"/>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_advance (env->ep, 99);
  CU_ASSERT_EQUAL (sf_test_count (env, "fired_a", NULL), 0);
  sf_endpoint_advance (env->ep, 1);
  CU_ASSERT_EQUAL (sf_test_count (env, "fired_a", NULL), 1);
  sf_test_env_free (env);
}

static void
restart_and_cancel (void)
{
  SfTestEnv *env = sf_test_env_new ();
  /* a is started twice (the second replaces the first); b is started then cancelled. */
  g_autoptr (SfMachine) m = timer_flow (env, "t", "<op name=\"OpStartTimer\" arg=\"a=100ms\"/>"
                                                  "<op name=\"OpStartTimer\" arg=\"b=50ms\"/>"
                                                  "<op name=\"OpStartTimer\" arg=\"a=500ms\"/>"
                                                  "<op name=\"OpCancelTimer\" arg=\"b\"/>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_advance (env->ep, 499);
  CU_ASSERT_EQUAL (sf_test_count (env, "fired_", NULL), 0);
  sf_endpoint_advance (env->ep, 10000);
  CU_ASSERT_EQUAL (sf_test_count (env, "fired_a", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (env, "fired_b", NULL), 0);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_cancelled, 2); /* a replaced, b cancelled */
  sf_test_env_free (env);
}

static void
chain (void)
{
  SfTestEnv *env = sf_test_env_new ();
  Clocked c = { env, g_string_new (NULL) };
  sf_endpoint_set_emit (env->ep, clocked_emit, &c);
  /* b at 100 ms starts c=50ms on entering Fb: c fires at 150 ms in the same advance. */
  g_autoptr (SfMachine) m = timer_flow (env, "t", "<op name=\"OpStartTimer\" arg=\"b=100ms\"/>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_advance (env->ep, 200);
  CU_ASSERT_STRING_EQUAL (c.log->str, "b@100 c@150");
  CU_ASSERT_EQUAL (sf_clock_now_us (sf_endpoint_clock (env->ep)), 200000);
  g_string_free (c.log, TRUE);
  sf_test_env_free (env);
}

static void
ended_instance (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml",
    "<flow version=\"1\" name=\"t\" initial=\"A\"><state name=\"A\"><entry>"
    "<op name=\"OpStartTimer\" arg=\"x=1s\"/><op name=\"OpStartTimer\" arg=\"y=2s\"/></entry>"
    "<normal><op name=\"TOn\" arg=\"bye\" next=\"End\"/></normal></state><state name=\"End\" final=\"true\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_drain (env->ep);
  g_autofree char *stats1 = sf_endpoint_stats_json (env->ep);
  CU_ASSERT_PTR_NOT_NULL (strstr (stats1, "\"timers_pending\":2"));
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "bye", NULL));
  sf_endpoint_drain (env->ep);
  g_autofree char *stats2 = sf_endpoint_stats_json (env->ep);
  CU_ASSERT_PTR_NOT_NULL (strstr (stats2, "\"timers_pending\":0"));
  sf_endpoint_advance (env->ep, 5000);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_fired, 0);
  sf_test_env_free (env);
}

static void
cancelled_after_firing (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml",
    "<flow version=\"1\" name=\"t\" initial=\"Ringing\">"
    "<state name=\"Ringing\"><entry><op name=\"OpStartTimer\" arg=\"ring=100ms\"/></entry>"
    "<normal><op name=\"TOn\" arg=\"answer\" next=\"InCall\"/></normal>"
    "<exit><op name=\"OpCancelTimer\" arg=\"ring\"/></exit></state>"
    "<state name=\"InCall\"><normal><op name=\"OpOnTimer\" arg=\"ring\" next=\"Wrong\"/></normal></state>"
    "<state name=\"Wrong\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_drain (env->ep);
  /* The answer is queued; then the clock passes the timer's deadline, so the timer's
   * event is queued behind the answer, whose exit queue cancels it. */
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "answer", NULL));
  sf_clock_fake_set_us (sf_endpoint_clock (env->ep), 100000);
  sf_endpoint_drain (env->ep);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "InCall");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_fired, 1);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_cancelled, 1);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->events_dropped, 1);
  sf_test_env_free (env);
}

/* The teaching detail (docs/teaching.md): with core.messages on, each timer
 * set (with its delay), fired and cancelled is a "timer" line, and an event
 * taken without a transition a "step" line; off, none of them.  Every line
 * ends with "ts", the fake clock's time as UTC. */
static void
teaching_detail (void)
{
  for (int on = 0; on <= 1; on++) {
    SfTestEnv *env = sf_test_env_new ();
    if (on)
      sf_endpoint_set_messages (env->ep, SF_MESSAGES_ON);
    g_autoptr (SfMachine) m = timer_flow (env, "t", "<op name=\"OpStartTimer\" arg=\"b=50ms\"/>"
                                                    "<op name=\"OpStartTimer\" arg=\"a=1500ms\"/>"
                                                    "<op name=\"OpCancelTimer\" arg=\"b\"/>");
    CU_ASSERT_PTR_NOT_NULL_FATAL (m);
    sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
    sf_endpoint_advance (env->ep, 2000);
    guint n = on ? 1 : 0;
    CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"timer\",\"machine\":\"t\"", "\"name\":\"b\",\"action\":\"set\",\"ms\":50,", NULL), n);
    CU_ASSERT_EQUAL (sf_test_count (env, "\"name\":\"b\",\"action\":\"cancelled\"", NULL), n);
    CU_ASSERT_EQUAL (sf_test_count (env, "\"name\":\"a\",\"action\":\"fired\",\"ts\":\"1970-01-01T00:00:01.500000Z\"}", NULL), n);
    CU_ASSERT_EQUAL (sf_test_count (env, "\"name\":\"b\",\"action\":\"fired\"", NULL), 0);
    CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"fired_a\"", "\"ts\":\"1970-01-01T00:00:01.500000Z\"}", NULL), 1);
    /* a loop: OpEmit takes device:poke and the state stays */
    g_autoptr (SfMachine) l = sf_test_load (env, "l.xml",
      "<flow version=\"2\" name=\"l\" initial=\"A\"><state name=\"A\"><normal>"
      "<op name=\"OpEmit\" on=\"device:poke\" arg=\"poked\"/></normal></state></flow>");
    CU_ASSERT_PTR_NOT_NULL_FATAL (l);
    SfInstance *inst = sf_endpoint_create (env->ep, l, NULL, NULL, NULL);
    sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "poke", NULL));
    sf_endpoint_drain (env->ep);
    CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"poked\"", NULL), 1);
    CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"step\",\"machine\":\"l\"",
                                    "\"state\":\"A\",\"trigger\":\"device:poke\",\"ops\":[\"OpEmit\"]", NULL), n);
    sf_test_env_free (env);
  }
}

static void
deadline_grid (void)
{
  /* shorter than SF_TIMER_COARSE_MS: exact, whatever the start */
  CU_ASSERT_EQUAL (sf_timer_deadline (1234567, 500), 1734567);
  CU_ASSERT_EQUAL (sf_timer_deadline (1234567, 4999), 1234567 + 4999000);
  /* 5 s and more: rounded up to the next 100 ms, never down */
  CU_ASSERT_EQUAL (sf_timer_deadline (1234567, 5000), 6300000);
  CU_ASSERT_EQUAL (sf_timer_deadline (1200000, 5000), 6200000); /* on a step: kept */
  CU_ASSERT_EQUAL (sf_timer_deadline (1200001, 32000), 33300000);
  CU_ASSERT_EQUAL (sf_timer_deadline (-150000, 32000), 31900000); /* a fake clock before 0 */
  CU_ASSERT_EQUAL (sf_timer_deadline (-100000, 5000), 4900000);
  for (gint64 now = 0; now < 300000; now += 7919) {
    gint64 d = sf_timer_deadline (now, 64 * 500);
    CU_ASSERT_TRUE (d >= now + 32000000 && d < now + 32000000 + SF_TIMER_GRID_US && d % SF_TIMER_GRID_US == 0);
  }
}

static void
coarse_together (void)
{
  SfTestEnv *env = sf_test_env_new ();
  Clocked c;
  SfMachine *m[3];
  three_flows (env, &c, (const char *const[]) { "a=32s", "c=32s", "b=32s" }, m);
  SfMachine *m1 = m[0], *m2 = m[1], *m3 = m[2];
  sf_endpoint_advance (env->ep, 10);
  sf_endpoint_create (env->ep, m1, NULL, NULL, NULL); /* a due at 32.010 s: at 32.1 */
  sf_endpoint_advance (env->ep, 50);
  sf_endpoint_create (env->ep, m2, NULL, NULL, NULL); /* c due at 32.060 s: at 32.1 */
  sf_endpoint_create (env->ep, m3, NULL, NULL, NULL); /* b due at 32.060 s: at 32.1; Fb then starts a short c */
  sf_endpoint_drain (env->ep);
  CU_ASSERT_EQUAL (sf_endpoint_next_deadline (env->ep), 32100000);
  sf_endpoint_advance (env->ep, 32099 - 60);
  CU_ASSERT_STRING_EQUAL (c.log->str, ""); /* 1 ms before the step: none */
  sf_endpoint_advance (env->ep, 1);
  /* at 32.100 s: a then c (started in that order), b; b's own c=50ms (short) at 32.150 exactly */
  CU_ASSERT_STRING_EQUAL (c.log->str, "a@32100 c@32100 b@32100");
  sf_endpoint_advance (env->ep, 100);
  CU_ASSERT_STRING_EQUAL (c.log->str, "a@32100 c@32100 b@32100 c@32150");
  three_flows_free (env, &c, m);
}

void
sf_test_register_timer (void)
{
  CU_pSuite s = CU_add_suite ("timer", NULL, NULL);
  SF_ADD_TEST (s, heap_order);
  SF_ADD_TEST (s, heap_ties_fifo);
  SF_ADD_TEST (s, heap_sized);
  SF_ADD_TEST (s, fire_in_order);
  SF_ADD_TEST (s, not_early);
  SF_ADD_TEST (s, restart_and_cancel);
  SF_ADD_TEST (s, chain);
  SF_ADD_TEST (s, ended_instance);
  SF_ADD_TEST (s, cancelled_after_firing);
  SF_ADD_TEST (s, teaching_detail);
  SF_ADD_TEST (s, deadline_grid);
  SF_ADD_TEST (s, coarse_together);
}
