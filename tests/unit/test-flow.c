/* test-flow.c: flow language 2 (docs/engine.md): triggers, conditions,
 * variables, expressions and the generic actions, on the fake clock.
 *  - triggers: an op runs only for the events its on="" names; a response
 *    status class filters; the loader refuses what the operator does not accept
 *  - variables: OpSet with ${...}; values cut at SF_VAR_MAX_LEN
 *  - conditions: equals, in (inline list and a file read again when it
 *    changes), in-net, matches (with a match limit against catastrophic
 *    backtracking), less/greater, all/any/not, time of day and weekday in a time zone
 *  - OpEmit fields; absent values read as empty, never an error
 *  - <setting>: a configuration key flow.NAME, read by a timer's duration
 *  - load errors: unknown pseudo-variable and variable (with did-you-mean),
 *    a message field on a timer trigger, a bad regex, an unknown list, a
 *    version-1 flow with conditions */
#include "config.h"
#include "sf-test.h"
#include "states/sf-trigger.h"
#include "states/sf-dot.h"
#include <glib/gstdio.h>
#include <string.h>

#define V2 "<flow version=\"2\" name=\"t\" initial=\"A\">"

static SfInstance *
start (SfTestEnv *env, SfMachine *m)
{
  SfInstance *inst = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inst);
  sf_endpoint_drain (env->ep);
  return inst;
}

static void
post (SfTestEnv *env, SfInstance *inst, SfEventKind kind, const char *name, const char *arg)
{
  sf_endpoint_post (env->ep, inst, sf_event_new (kind, name, arg));
  sf_endpoint_drain (env->ep);
}

/* How many instances reached final state @state (its entry emits "reached"). */
static guint
reached (SfTestEnv *env, const char *state)
{
  g_autofree char *needle = g_strdup_printf ("\"state\":\"%s\"", state);
  return sf_test_count (env, "\"event\":\"reached\"", needle, NULL);
}

static void
trigger_syntax (void)
{
  g_autoptr (GError) e = NULL;
  g_autoptr (SfTriggerSet) s = sf_trigger_set_parse ("sip:response 4xx-6xx| timer:B |device:*", NULL, FALSE, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (s);
  CU_ASSERT_STRING_EQUAL (s->text, "sip:response 4xx-6xx|timer:B|device");
  g_autoptr (SfEvent) r486 = sf_event_new (SF_EV_SIP, "response", "486");
  g_autoptr (SfEvent) r180 = sf_event_new (SF_EV_SIP, "response", "180");
  g_autoptr (SfEvent) b486 = sf_event_new (SF_EV_SIP, "response", "b1 486");
  g_autoptr (SfEvent) tb = sf_event_new (SF_EV_TIMER, "B", NULL);
  g_autoptr (SfEvent) ta = sf_event_new (SF_EV_TIMER, "A", NULL);
  CU_ASSERT_TRUE (sf_trigger_set_matches (s, r486));
  CU_ASSERT_FALSE (sf_trigger_set_matches (s, r180));
  CU_ASSERT_TRUE (sf_trigger_set_matches (s, b486));
  CU_ASSERT_TRUE (sf_trigger_set_matches (s, tb));
  CU_ASSERT_FALSE (sf_trigger_set_matches (s, ta));
  g_autoptr (SfTriggerSet) acc = sf_trigger_set_parse ("sip:response|timer:$arg", "B", TRUE, NULL);
  g_autoptr (SfTriggerSet) on = sf_trigger_set_parse ("sip:response 3xx|timer:B", NULL, FALSE, NULL);
  g_autoptr (SfTriggerSet) bad = sf_trigger_set_parse ("timer:C", NULL, FALSE, NULL);
  CU_ASSERT_TRUE (sf_trigger_set_covers (acc, on, NULL));
  g_autofree char *why = NULL;
  CU_ASSERT_FALSE (sf_trigger_set_covers (acc, bad, &why));
  CU_ASSERT_STRING_EQUAL (why, "timer:C");
  const char *wrong[] = { "", "sipp:INVITE", "timer:B 3xx", "sip:response 7xx", "sip:response 5xx-3xx", "timer:$arg",
                          "sip:IN VITE", NULL };
  for (guint i = 0; wrong[i] != NULL; i++) {
    g_clear_error (&e);
    SfTriggerSet *w = sf_trigger_set_parse (wrong[i], NULL, FALSE, &e);
    CU_ASSERT_PTR_NULL (w);
    CU_ASSERT_PTR_NOT_NULL (e);
    sf_trigger_set_free (w);
  }
  /* an event as a state event's line writes its trigger (sipflow coverage) */
  CU_ASSERT_TRUE (sf_trigger_set_matches_text (s, "sip:response 486"));
  CU_ASSERT_FALSE (sf_trigger_set_matches_text (s, "sip:response 180"));
  CU_ASSERT_TRUE (sf_trigger_set_matches_text (s, "sip:response"));  /* no status: any */
  CU_ASSERT_TRUE (sf_trigger_set_matches_text (s, "timer:B"));
  CU_ASSERT_FALSE (sf_trigger_set_matches_text (s, "timer:A"));
  CU_ASSERT_TRUE (sf_trigger_set_matches_text (s, "device:answer"));
  CU_ASSERT_FALSE (sf_trigger_set_matches_text (s, "sip:INVITE"));
  const char *junk[] = { "", ":", "sip:", "bogus", "nokind:B", "sip: response", NULL };
  for (guint i = 0; junk[i] != NULL; i++)
    CU_ASSERT_FALSE (sf_trigger_set_matches_text (s, junk[i]));
  g_autoptr (SfTriggerSet) any = sf_trigger_set_parse ("sip", NULL, FALSE, NULL);
  CU_ASSERT_TRUE (sf_trigger_set_matches_text (any, "sip:response"));
  CU_ASSERT_TRUE (sf_trigger_set_matches_text (any, "sip:BYE"));
  g_autoptr (SfTriggerSet) respond = sf_trigger_set_parse ("txn:respond", NULL, FALSE, NULL);
  CU_ASSERT_TRUE (sf_trigger_set_matches_text (respond, "txn:respond 200"));
}

/* Variables, OpSet, equals, any/not, OpEmit's fields. */
static void
vars_and_conditions (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", V2
    "<var name=\"digits\" value=\"\"/><var name=\"n\" value=\"5\"/>"
    "<list name=\"vip\"><item>alice</item><item> bob </item></list>"
    "<state name=\"A\"><normal>"
    "<op name=\"OpSet\" on=\"media:dtmf\" arg=\"digits=${var.digits}${dtmf}\"/>"
    "<op name=\"OpGo\" on=\"device:check\" next=\"Twelve\"><if value=\"${var.digits}\" equals=\"12\"/></op>"
    "<op name=\"OpGo\" on=\"device:check\" next=\"Vip\"><if value=\"${event.arg}\" in=\"vip\"/></op>"
    "<op name=\"OpGo\" on=\"device:check\" next=\"Small\"><all><if value=\"${var.n}\" less=\"6\"/>"
    "<not><any><if value=\"${event.arg}\" equals=\"x\"/><if value=\"${event.arg}\" equals=\"y\"/></any></not>"
    "</all></op>"
    "<op name=\"OpIgnore\" on=\"device:check\"/>"
    "</normal></state>"
    "<state name=\"Twelve\"><entry><op name=\"OpEmit\" arg=\"twelve got=${var.digits} absent=${var.n}${hdr.X}\"/></entry>"
    "<normal><op name=\"OpIgnore\" on=\"*\"/></normal></state>"
    "<state name=\"Vip\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state><state name=\"Small\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state></flow>");
  CU_ASSERT_PTR_NULL (m); /* ${hdr.X} in an entry op with no on="": it may run on any event */
  CU_ASSERT_TRUE (sf_test_has_diag (env->loader, 0, FALSE, "'${hdr.X}' is read from a sip event"));
  sf_test_env_free (env);
  g_clear_pointer (&m, sf_machine_unref);

  env = sf_test_env_new ();
  m = sf_test_load (env, "t.xml", V2
    "<var name=\"digits\" value=\"\"/><var name=\"n\" value=\"5\"/>"
    "<list name=\"vip\"><item>alice</item><item> bob </item></list>"
    "<state name=\"A\"><normal>"
    "<op name=\"OpSet\" on=\"media:dtmf\" arg=\"digits=${var.digits}${dtmf}\"/>"
    "<op name=\"OpGo\" on=\"device:check\" next=\"Twelve\"><if value=\"${var.digits}\" equals=\"12\"/></op>"
    "<op name=\"OpGo\" on=\"device:check\" next=\"Vip\"><if value=\"${event.arg}\" in=\"vip\"/></op>"
    "<op name=\"OpGo\" on=\"device:check\" next=\"Small\"><all><if value=\"${var.n}\" less=\"6\"/>"
    "<not><any><if value=\"${event.arg}\" equals=\"x\"/><if value=\"${event.arg}\" equals=\"y\"/></any></not>"
    "</all></op>"
    "<op name=\"OpIgnore\" on=\"device:check\"/>"
    "</normal></state>"
    "<state name=\"Twelve\"><entry><op name=\"OpEmit\" arg=\"twelve got=${var.digits} n=${var.n}${event.arg}\"/></entry>"
    "<normal><op name=\"OpIgnore\" on=\"*\"/></normal></state>"
    "<state name=\"Vip\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state><state name=\"Small\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  post (env, inst, SF_EV_DEVICE, "check", "x");     /* digits "", not vip, n < 6 but arg is x: ignored */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  post (env, inst, SF_EV_MEDIA, "dtmf", "1");
  post (env, inst, SF_EV_DEVICE, "dtmf", "9");      /* a device event: not OpSet's trigger */
  post (env, inst, SF_EV_MEDIA, "dtmf", "2");
  CU_ASSERT_STRING_EQUAL (sf_instance_var (inst, 0), "12");
  post (env, inst, SF_EV_DEVICE, "check", "y");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "Twelve");
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"twelve\"", "\"got\":\"12\"", "\"n\":\"5y\"", NULL), 1);
  SfInstance *i2 = start (env, m);
  post (env, i2, SF_EV_DEVICE, "check", "bob");
  CU_ASSERT_EQUAL (reached (env, "Vip"), 1);
  SfInstance *i3 = start (env, m);
  post (env, i3, SF_EV_DEVICE, "check", "zed");
  CU_ASSERT_EQUAL (reached (env, "Small"), 1);
  sf_test_env_free (env);
}

/* A variable is bounded: a peer sending digits for ever cannot grow it past 1024 bytes. */
static void
var_bounded (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", V2 "<var name=\"d\"/>"
    "<state name=\"A\"><normal><op name=\"OpSet\" on=\"media:dtmf\" arg=\"d=${var.d}${dtmf}${dtmf}\"/></normal></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  for (int i = 0; i < 700; i++)
    post (env, inst, SF_EV_MEDIA, "dtmf", "7");
  CU_ASSERT_EQUAL (strlen (sf_instance_var (inst, 0)), SF_VAR_MAX_LEN);
  sf_test_env_free (env);
}

static void
regex_net_numbers (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", V2
    "<state name=\"A\"><normal>"
    "<op name=\"OpGo\" on=\"device:re\" next=\"Re\"><if value=\"${event.arg}\" matches=\"^(a+)+$\"/></op>"
    "<op name=\"OpGo\" on=\"device:net\" next=\"Net\"><if value=\"${event.arg}\" in-net=\"10.0.0.0/8, ::1\"/></op>"
    "<op name=\"OpGo\" on=\"device:num\" next=\"Big\"><if value=\"${event.arg}\" greater=\"3\"/></op>"
    "<op name=\"OpIgnore\" on=\"device\"/>"
    "</normal></state>"
    "<state name=\"Re\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state><state name=\"Net\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state><state name=\"Big\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *a = start (env, m);
  /* Catastrophic backtracking: the match limit makes it false, quickly. */
  g_autofree char *as = g_strnfill (40, 'a');
  g_autofree char *evil = g_strconcat (as, "!", NULL);
  gint64 t0 = g_get_monotonic_time ();
  post (env, a, SF_EV_DEVICE, "re", evil);
  CU_ASSERT_TRUE (g_get_monotonic_time () - t0 < 2 * G_USEC_PER_SEC);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (a), "A");
  post (env, a, SF_EV_DEVICE, "net", "192.168.1.1");
  post (env, a, SF_EV_DEVICE, "net", "not an address");
  post (env, a, SF_EV_DEVICE, "num", "3");
  post (env, a, SF_EV_DEVICE, "num", "three");
  post (env, a, SF_EV_DEVICE, "re", NULL);   /* absent: empty, false */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (a), "A");
  CU_ASSERT_EQUAL (reached (env, "Net") + reached (env, "Re") + reached (env, "Big"), 0);
  post (env, a, SF_EV_DEVICE, "net", "[::1]");
  CU_ASSERT_EQUAL (reached (env, "Net"), 1);
  SfInstance *b = start (env, m);
  post (env, b, SF_EV_DEVICE, "re", "aaaa");
  CU_ASSERT_EQUAL (reached (env, "Re"), 1);
  SfInstance *c = start (env, m);
  post (env, c, SF_EV_DEVICE, "num", "3.5");
  CU_ASSERT_EQUAL (reached (env, "Big"), 1);
  sf_test_env_free (env);
}

/* 2026-12-07 (a Monday) at 08:59:30 UTC, on the fake clock. */
#define MONDAY_0859 G_GINT64_CONSTANT (1796633970000000)

static void
time_of_day (void)
{
  SfTestEnv *env = sf_test_env_new ();
  /* The env's fake clock starts at 0 (1970, a Thursday); move it to Monday morning. */
  sf_clock_fake_set_us (sf_endpoint_clock (env->ep), MONDAY_0859);
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", V2
    "<state name=\"A\"><normal>"
    "<op name=\"OpGo\" on=\"device:route\" next=\"Office\"><if time=\"09:00-17:00\" days=\"mon-fri\" tz=\"UTC\"/></op>"
    "<op name=\"OpGo\" on=\"device:route\" next=\"Night\"><if time=\"22:00-06:00\" tz=\"+01:00\"/></op>"
    "<op name=\"OpGo\" on=\"device:cfgtz\" next=\"Cfg\"><if time=\"09:30-10:30\"/></op>"
    "<op name=\"OpIgnore\" on=\"device\"/>"
    "</normal></state>"
    "<state name=\"Office\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state>"
    "<state name=\"Night\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state>"
    "<state name=\"Cfg\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  /* Without tz=: core.timezone, read when the condition runs (09:30-10:30 holds at
   * 08:59:30 UTC only at +01:00). */
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE (sf_config_set (env->cfg, "core.timezone=UTC", &error));
  SfInstance *z = start (env, m);
  post (env, z, SF_EV_DEVICE, "cfgtz", NULL);
  CU_ASSERT_EQUAL (reached (env, "Cfg"), 0);
  CU_ASSERT_TRUE (sf_config_set (env->cfg, "core.timezone=+01:00", &error));
  post (env, z, SF_EV_DEVICE, "cfgtz", NULL);
  CU_ASSERT_EQUAL (reached (env, "Cfg"), 1);
  SfInstance *a = start (env, m);
  post (env, a, SF_EV_DEVICE, "route", NULL);   /* 08:59 UTC, 09:59 at +01:00: neither */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (a), "A");
  sf_endpoint_advance (env->ep, 60 * 1000);     /* 09:00:30 */
  post (env, a, SF_EV_DEVICE, "route", NULL);
  CU_ASSERT_EQUAL (reached (env, "Office"), 1);
  SfInstance *b = start (env, m);
  sf_endpoint_advance (env->ep, (guint64) 14 * 3600 * 1000);  /* 23:00:30 UTC: 00:00:30 Tuesday at +01:00 */
  post (env, b, SF_EV_DEVICE, "route", NULL);
  CU_ASSERT_EQUAL (reached (env, "Night"), 1);
  CU_ASSERT_EQUAL (reached (env, "Office"), 1);
  sf_test_env_free (env);
}

/* A list file is read again when it changes (looked at once a second at most). */
static void
list_file_reload (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sf-flow-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "blocked.txt", NULL);
  g_autofree char *flow = g_build_filename (dir, "t.xml", NULL);
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (path, "# blocked callers\nmallory\n\n  eve  # comment\n", -1, NULL));
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (flow, V2 "<list name=\"blocked\" file=\"blocked.txt\"/>"
    "<state name=\"A\"><normal><op name=\"OpGo\" on=\"device:call\" next=\"Blocked\"><if value=\"${event.arg}\" "
    "in=\"blocked\"/></op><op name=\"OpIgnore\" on=\"device:call\"/></normal></state>"
    "<state name=\"Blocked\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state></flow>", -1, NULL));
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMachine) m = sf_loader_load (env->loader, flow, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *a = start (env, m);
  post (env, a, SF_EV_DEVICE, "call", "trent");
  CU_ASSERT_EQUAL (reached (env, "Blocked"), 0);
  post (env, a, SF_EV_DEVICE, "call", "eve");
  CU_ASSERT_EQUAL (reached (env, "Blocked"), 1);
  /* Rewritten with another mtime: trent is blocked now (after the once-a-second look). */
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (path, "trent\n", -1, NULL));
  GStatBuf st;
  g_stat (path, &st);
  g_autoptr (GFile) f = g_file_new_for_path (path);
  g_file_set_attribute_uint64 (f, G_FILE_ATTRIBUTE_TIME_MODIFIED, (guint64) st.st_mtime + 5, G_FILE_QUERY_INFO_NONE,
                               NULL, NULL);
  SfInstance *b = start (env, m);
  post (env, b, SF_EV_DEVICE, "call", "trent");  /* looked at less than a second ago: not yet */
  CU_ASSERT_EQUAL (reached (env, "Blocked"), 1);
  sf_endpoint_advance (env->ep, 1000);
  post (env, b, SF_EV_DEVICE, "call", "trent");
  CU_ASSERT_EQUAL (reached (env, "Blocked"), 2);
  SfInstance *c = start (env, m);
  post (env, c, SF_EV_DEVICE, "call", "eve");
  CU_ASSERT_EQUAL (reached (env, "Blocked"), 2);
  sf_test_env_free (env);
  g_unlink (path);
  g_unlink (flow);
  g_rmdir (dir);
}

/* A transition under a condition: <on outcome="busy" next="X"><if .../></on> is tried
 * before the outcome's plain mapping; the picture says which is which. */
static void
guarded_outcome (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", V2 "<var name=\"vip\" value=\"no\"/>"
    "<state name=\"A\"><normal>"
    "<op name=\"OpSet\" on=\"device:promote\" arg=\"vip=yes\"/>"
    "<op name=\"TOutcome\" on=\"device:dial\">"
    "<on outcome=\"busy\" next=\"Queue\"><if value=\"${var.vip}\" equals=\"yes\"/></on>"
    "<on outcome=\"busy\" next=\"Busy\"/>"
    "</op></normal></state>"
    "<state name=\"Queue\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state>"
    "<state name=\"Busy\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *a = start (env, m);
  post (env, a, SF_EV_DEVICE, "dial", "busy");
  CU_ASSERT_EQUAL (reached (env, "Busy"), 1);
  SfInstance *b = start (env, m);
  post (env, b, SF_EV_DEVICE, "promote", NULL);
  post (env, b, SF_EV_DEVICE, "dial", "busy");
  CU_ASSERT_EQUAL (reached (env, "Queue"), 1);
  g_autofree char *dot = sf_machine_to_dot (m);
  CU_ASSERT_PTR_NOT_NULL (strstr (dot, "[busy if ${var.vip} equals yes]"));
  sf_test_env_free (env);
  /* In a version-1 flow: refused. */
  env = sf_test_env_new ();
  SfMachine *v1 = sf_test_load (env, "t.xml", "<flow version=\"1\" name=\"t\" initial=\"A\"><state name=\"A\"><normal>"
    "<op name=\"TOutcome\"><on outcome=\"busy\" next=\"A\"><if value=\"a\" equals=\"a\"/></on></op>"
    "</normal></state></flow>");
  CU_ASSERT_PTR_NULL (v1);
  CU_ASSERT_TRUE (sf_test_has_diag (env->loader, 0, FALSE, "conditions need a version-2 flow"));
  sf_test_env_free (env);
}

/* A <setting> is a configuration key flow.NAME; a timer's duration may read it. */
static void
setting_and_timer (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", V2 "<setting name=\"wait\" value=\"2s\" doc=\"how long\"/>"
    "<state name=\"A\"><entry><op name=\"OpStartTimer\" arg=\"x=${cfg.flow.wait}\"/></entry>"
    "<normal><op name=\"OpGo\" on=\"timer:x\" next=\"B\"/></normal></state>"
    "<state name=\"B\" final=\"true\"><entry><op name=\"OpEmit\" arg=\"reached\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_STRING_EQUAL (sf_config_get_string (env->cfg, "flow", "wait"), "2s");
  CU_ASSERT_TRUE (sf_config_set (env->cfg, "flow.wait=300ms", &error));
  start (env, m);
  sf_endpoint_advance (env->ep, 299);
  CU_ASSERT_EQUAL (reached (env, "B"), 0);
  sf_endpoint_advance (env->ep, 1);
  CU_ASSERT_EQUAL (reached (env, "B"), 1);
  /* A value that is no duration: the timer is not started (and said so). */
  CU_ASSERT_TRUE (sf_config_set (env->cfg, "flow.wait=soon", &error));
  start (env, m);
  sf_endpoint_advance (env->ep, 10000);
  CU_ASSERT_EQUAL (reached (env, "B"), 1);
  sf_test_env_free (env);
}

static void
load_errors (void)
{
  static const struct { const char *xml; const char *needle; } cases[] = {
    { V2 "<state name=\"A\"><normal><op name=\"OpLog\" on=\"device\" arg=\"${ruri.usr}\"/></normal></state></flow>",
      "unknown pseudo-variable '${ruri.usr}' (did you mean '${ruri.user}'?)" },
    { V2 "<var name=\"digits\"/><state name=\"A\"><normal><op name=\"OpLog\" on=\"device\" arg=\"${var.digit}\"/>"
      "</normal></state></flow>", "unknown variable 'digit' in '${var.digit}' (did you mean 'digits'?)" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" on=\"timer:x\" next=\"A\"><if value=\"${from.user}\" "
      "equals=\"a\"/></op><op name=\"OpStartTimer\" on=\"device\" arg=\"x=1s\"/></normal></state></flow>",
      "'${from.user}' is read from a sip event, but this operator also runs on timer:x" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" on=\"device\" next=\"A\"><if value=\"a\" matches=\"(\"/></op>"
      "</normal></state></flow>", "matches=\"(\": missing closing parenthesis" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" on=\"device\" next=\"A\"><if value=\"a\" in=\"nolist\"/></op>"
      "</normal></state></flow>", "no <list name=\"nolist\">" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" on=\"device\" next=\"A\"><if value=\"a\" in-net=\"10.0.0.0/33\"/>"
      "</op></normal></state></flow>", "in-net: '10.0.0.0/33' is not an address or network" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" on=\"device\" next=\"A\"><if time=\"9-17\"/></op>"
      "</normal></state></flow>", "is not a range HH:MM-HH:MM" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" on=\"device\" next=\"A\"><if value=\"a\" equals=\"b\" "
      "less=\"3\"/></op></normal></state></flow>", "one test per <if>" },
    { V2 "<state name=\"A\"><normal><op name=\"OpSet\" on=\"device\" arg=\"nope=1\"/></normal></state></flow>",
      "sets 'nope', which is not a variable of this flow" },
    { V2 "<state name=\"A\"><normal><op name=\"OpIgnore\" on=\"device\" arg=\"${event}\"/></normal></state></flow>",
      "does not read ${...} expressions" },
    { V2 "<state name=\"A\"><normal><op name=\"OpLog\" on=\"device\" arg=\"${cfg.ua.nosuchkey}\"/></normal></state></flow>",
      "no configuration key ua.nosuchkey" },
    { V2 "<setting name=\"no_answer\" value=\"5s\"/><state name=\"A\"><entry><op name=\"OpStartTimer\" "
      "arg=\"x=${cfg.flow.no_answr}\"/></entry><normal><op name=\"OpGo\" on=\"timer:x\" next=\"A\"/></normal>"
      "</state></flow>", "no configuration key flow.no_answr (did you mean '${cfg.flow.no_answer}'?)" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" on=\"sip:INVITE\" next=\"A\"/></normal></state></flow>", NULL },
    { V2 "<state name=\"A\"><normal><op name=\"OpReply\" on=\"timer:x\" arg=\"603\"/></normal></state></flow>",
      "does not react to 'timer:x'" },
    { V2 "<state name=\"A\"><normal><op name=\"OpReply\" on=\"sip:INVITE\" arg=\"99 Low\"/></normal></state></flow>",
      "CODE 100..699" },
    { V2 "<state name=\"A\"><normal><op name=\"OpGo\" next=\"A\"/></normal></state></flow>", "has no on=" },
    { "<flow version=\"1\" name=\"t\" initial=\"A\"><state name=\"A\"><normal><op name=\"OpGo\" on=\"device\" "
      "next=\"A\"/></normal></state></flow>", "needs a version-2 flow" },
    { "<flow version=\"1\" name=\"t\" initial=\"A\"><var name=\"x\"/><state name=\"A\"/></flow>",
      "declarations need a version-2 flow" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    SfTestEnv *env = sf_test_env_new ();
    SfMachine *m = sf_test_load (env, "t.xml", cases[i].xml);
    if (cases[i].needle == NULL) {
      CU_ASSERT_PTR_NOT_NULL (m);
    } else {
      CU_ASSERT_PTR_NULL (m);
      gboolean found = sf_test_has_diag (env->loader, 0, FALSE, cases[i].needle);
      if (!found)
        g_printerr ("case %zu: wanted '%s'\n", i, cases[i].needle);
      CU_ASSERT_TRUE (found);
    }
    if (m != NULL)
      sf_machine_unref (m);
    sf_test_env_free (env);
  }
}

void
sf_test_register_flow (void)
{
  CU_pSuite s = CU_add_suite ("flow", NULL, NULL);
  CU_add_test (s, "trigger_syntax", trigger_syntax);
  CU_add_test (s, "vars_and_conditions", vars_and_conditions);
  CU_add_test (s, "var_bounded", var_bounded);
  CU_add_test (s, "regex_net_numbers", regex_net_numbers);
  CU_add_test (s, "time_of_day", time_of_day);
  CU_add_test (s, "list_file_reload", list_file_reload);
  CU_add_test (s, "setting_and_timer", setting_and_timer);
  CU_add_test (s, "guarded_outcome", guarded_outcome);
  CU_add_test (s, "load_errors", load_errors);
}
