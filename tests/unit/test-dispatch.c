/* test-dispatch.c: the machine semantics of docs/architecture.md, one scenario each.
 *  - initial_entry: the initial state's entry queue runs when an instance is created
 *  - skip_continue_done: SKIP passes on, CONTINUE acts and goes on, DONE stops the queue
 *  - transition_order: exit queue, set, entry queue; the state event lists the ops
 *  - many_ops: so it does when more act than the dispatcher's list holds inline
 *  - first_transition_wins: the queue stops at the first transition
 *  - outcomes: named outcomes go where <on> says; an unmapped one counts as DONE
 *  - invalid_outcome: an outcome the operator never declared is an error, not a crash
 *  - entry_cannot_transition: entry/exit operators asking to transition are ignored
 *  - final_state: a final state ends the instance after its entry queue; later events drop
 *  - self_transition: a transition to the same state re-runs exit and entry
 *  - catch_all: '*' takes what the current state does not, and only that
 *  - untaken: nothing takes it -> logged, counted, handed to the owner
 *  - error_disposition: ERROR counts and stops; <on outcome="error"> maps it
 *  - event_kinds: an operator never sees kinds it did not declare
 *  - child_end: a child's end is an event to its parent
 *  - post_by_key: events reach an instance by scope and key; keys are unique
 *  - fifo: one instance's events are dispatched in the order posted
 *  - fifo_ring: so too across the queue ring's wrap, its growth and its reuse
 *  - threadsafe_post: an event posted from another thread is dispatched in the main context
 *  - dispatch_queued: a socket's reader dispatches the queue in its own turn of
 *    the loop, after-batch hook included, within the budget the turn shares
 *    with the endpoint's source; unattached, it leaves the queue to the drain
 *  - deferred: a deferred call never runs inside sf_endpoint_defer; it runs
 *    in the batch once the queue is empty (the events it posts in the same
 *    turn), in the order deferred, each counting against the turn's budget
 *    (one that defers itself again runs 1024 times a turn, not forever);
 *    unattached, at the drain; a cancelled one never runs
 *  - shutdown: instances that do not take device:shutdown end at once; an instance
 *    created while shutting down hears it too (regression)
 *  - internal_events_not_dropped: a full queue refuses outside posts but never the
 *    engine's own events (creation, child ends), and OpOnChildEnd matches the import
 *    name (regressions)
 *  - instance_slots: per-instance data slots by module id: unset ones are NULL,
 *    replacing frees the old value, the instance frees them highest slot first;
 *    the first one set (kept beside the array) cleared, the next one set takes its place
 *  - module_slots: a module's slot is found by its descriptor (sf_module_id),
 *    made once on demand, and freed with the instance
 *  - no_event_output: with nobody reading events the dispatcher still counts
 *    (the state lines are not built), and the stats event carries its counters
 *  - json_every_byte: each byte alone and between plain ones comes out of
 *    sf_json_append_string as RFC 8259 wants (the fast scan's table against
 *    the rule written out here)
 *  - event_strings: an event's name, argument and trigger (one block) read
 *    back as given, the argument NULL or empty, every kind's trigger
 *  - many_timers: an instance runs four timers at once (more than the room its
 *    struct keeps for them), one cancelled among them; the others fire in
 *    order at their times, the cancelled one never; the array is given back
 *    and used again */
#include "config.h"
#include "sf-test.h"
#include "operators/sf-modules.h"
#include "framework/sf-json.h"
#include <glib/gstdio.h>
#include <string.h>

#define FLOW_HEAD "<flow version=\"1\" name=\"t\" initial=\"A\">"
/* x then y moves A to B and back. */
#define XY_FLOW FLOW_HEAD \
  "<state name=\"A\"><normal><op name=\"TOn\" arg=\"x\" next=\"B\"/></normal></state>" \
  "<state name=\"B\"><normal><op name=\"TOn\" arg=\"y\" next=\"A\"/></normal></state></flow>"

static SfInstance *
start (SfTestEnv *env, SfMachine *m)
{
  SfInstance *inst = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inst);
  sf_endpoint_drain (env->ep);
  return inst;
}

static void
device (SfTestEnv *env, SfInstance *inst, const char *name, const char *arg)
{
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, name, arg));
  sf_endpoint_drain (env->ep);
}

static void
many_timers (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><entry><op name=\"OpStartTimer\" arg=\"t1=10ms\"/><op name=\"OpStartTimer\" arg=\"t2=20ms\"/>"
    "<op name=\"OpStartTimer\" arg=\"t3=30ms\"/><op name=\"OpStartTimer\" arg=\"t4=40ms\"/>"
    "<op name=\"OpCancelTimer\" arg=\"t2\"/></entry>"
    "<normal><op name=\"OpOnTimer\" arg=\"t1\" next=\"B\"/></normal></state>"
    "<state name=\"B\"><normal><op name=\"OpOnTimer\" arg=\"t3\" next=\"C\"/></normal></state>"
    "<state name=\"C\"><normal><op name=\"OpOnTimer\" arg=\"t4\" next=\"D\"/></normal></state>"
    "<state name=\"D\"><entry><op name=\"OpStartTimer\" arg=\"t5=10ms\"/><op name=\"OpStartTimer\" arg=\"t6=20ms\"/>"
    "<op name=\"OpStartTimer\" arg=\"t7=30ms\"/></entry>"
    "<normal><op name=\"OpOnTimer\" arg=\"t7\" next=\"E\"/></normal></state>"
    "<state name=\"E\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  sf_endpoint_advance (env->ep, 9);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  sf_endpoint_advance (env->ep, 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  sf_endpoint_advance (env->ep, 19); /* 29 ms: t2 would have fired, t3 not yet */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_fired, 1);
  sf_endpoint_advance (env->ep, 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "C");
  sf_endpoint_advance (env->ep, 10);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "D");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_fired, 3);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_cancelled, 1);
  /* three again, once the array was given back */
  sf_endpoint_advance (env->ep, 29);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "D");
  sf_endpoint_advance (env->ep, 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "E");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->timers_fired, 6);
  sf_test_env_free (env);
}

static void
initial_entry (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><entry><op name=\"TCont\" arg=\"1\"/><op name=\"TDone\" arg=\"2\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  g_autofree char *calls = sf_test_take_calls ();
  /* Both run: in an entry queue DONE does not stop the queue. */
  CU_ASSERT_STRING_EQUAL (calls, "TCont(1)@A:entry TDone(2)@A:entry");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  sf_test_env_free (env);
}

static void
skip_continue_done (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TSkip\" arg=\"1\"/><op name=\"TCont\" arg=\"2\"/><op name=\"TDone\" arg=\"3\"/>"
    "<op name=\"TCont\" arg=\"4\"/></normal></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "x", NULL);
  g_autofree char *calls = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (calls, "TSkip(1)@A:normal TCont(2)@A:normal TDone(3)@A:normal");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->events_taken, 2); /* start + x */
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->events_untaken, 0);
  sf_test_env_free (env);
}

static void
transition_order (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TCont\" arg=\"n1\"/><op name=\"TTrans\" next=\"B\"/></normal>"
    "<exit><op name=\"TCont\" arg=\"x1\"/><op name=\"TCont\" arg=\"x2\"/></exit></state>"
    "<state name=\"B\"><entry><op name=\"TCont\" arg=\"e1\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "go", NULL);
  g_autofree char *calls = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (calls, "TCont(n1)@A:normal TTrans()@A:normal TCont(x1)@A:exit TCont(x2)@A:exit "
                                 "TCont(e1)@B:entry");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"state\"", "\"from\":\"A\",\"to\":\"B\"",
                                  "\"trigger\":\"device:go\"", "\"ops\":[\"TCont\",\"TTrans\",\"TCont\",\"TCont\"]",
                                  NULL), 1);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->transitions, 1);
  sf_test_env_free (env);
}

/* More operators act on one event than the dispatcher's list holds inline
 * (16): the state event still names all of them, in order. */
static void
many_ops (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (GString) flow = g_string_new (FLOW_HEAD "<state name=\"A\"><normal>");
  g_autoptr (GString) want = g_string_new ("\"ops\":[");
  for (int i = 0; i < 20; i++) {
    g_string_append_printf (flow, "<op name=\"TCont\" arg=\"n%d\"/>", i);
    g_string_append (want, "\"TCont\",");
  }
  g_string_append (flow, "<op name=\"TTrans\" next=\"B\"/></normal><exit>");
  g_string_append (want, "\"TTrans\"");
  for (int i = 0; i < 15; i++) {
    g_string_append_printf (flow, "<op name=\"TCont\" arg=\"x%d\"/>", i);
    g_string_append (want, ",\"TCont\"");
  }
  g_string_append (flow, "</exit></state><state name=\"B\"/></flow>");
  g_string_append (want, "]");
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", flow->str);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "go", NULL);
  g_free (sf_test_take_calls ());
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"state\"", "\"from\":\"A\",\"to\":\"B\"", want->str, NULL), 1);
  sf_test_env_free (env);
}

static void
first_transition_wins (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TTrans\" arg=\"first\" next=\"B\"/><op name=\"TTrans\" arg=\"second\" next=\"C\"/>"
    "</normal></state><state name=\"B\"/><state name=\"C\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "go", NULL);
  g_autofree char *calls = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (calls, "TTrans(first)@A:normal");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  sf_test_env_free (env);
}

static void
outcomes (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TOutcome\"><on outcome=\"busy\" next=\"Busy\"/></op>"
    "<op name=\"TCont\" arg=\"after\"/></normal></state>"
    "<state name=\"Busy\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  /* answered is declared but not mapped here: DONE, no transition, counted. */
  device (env, inst, "resp", "answered");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->outcomes_unmapped, 1);
  g_autofree char *c1 = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (c1, "TOutcome()@A:normal"); /* DONE: TCont(after) did not run */
  device (env, inst, "resp", "busy");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "Busy");
  CU_ASSERT_EQUAL (sf_test_count (env, "\"to\":\"Busy\"", NULL), 1);
  sf_test_env_free (env);
}

static void
invalid_outcome (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TOutcome\"><on outcome=\"busy\" next=\"A\"/></op></normal></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "resp", "bogus");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->op_errors, 1);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->transitions, 0);
  sf_test_env_free (env);
}

static void
entry_cannot_transition (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TTrans\" next=\"B\"/></normal>"
    "<exit><op name=\"TEntryTrans\" arg=\"x\"/><op name=\"TCont\" arg=\"x2\"/></exit></state>"
    "<state name=\"B\"><entry><op name=\"TEntryTrans\" arg=\"e\"/><op name=\"TCont\" arg=\"e2\"/></entry>"
    "<normal><op name=\"TTrans\" next=\"C\"/></normal></state><state name=\"C\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "go", NULL);
  g_autofree char *calls = sf_test_take_calls ();
  /* Every entry/exit operator ran, and the one event moved exactly one step. */
  CU_ASSERT_STRING_EQUAL (calls, "TTrans()@A:normal TEntryTrans(x)@A:exit TCont(x2)@A:exit TEntryTrans(e)@B:entry "
                                 "TCont(e2)@B:entry");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->transitions, 1);
  sf_test_env_free (env);
}

static void
final_state (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TTrans\" next=\"End\"/></normal></state>"
    "<state name=\"End\" final=\"true\"><entry><op name=\"TCont\" arg=\"bye\"/></entry></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  g_autofree char *handle = g_strdup (sf_instance_handle (inst));
  device (env, inst, "go", NULL);
  g_autofree char *calls = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (calls, "TTrans()@A:normal TCont(bye)@End:entry");
  CU_ASSERT_PTR_NULL (sf_endpoint_lookup_handle (env->ep, handle));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"instance_end\"", "\"state\":\"End\"", NULL), 1);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->instances_ended, 1);
  sf_test_env_free (env);
}

static void
self_transition (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><entry><op name=\"TCont\" arg=\"in\"/></entry><normal><op name=\"TTrans\" next=\"A\"/></normal>"
    "<exit><op name=\"TCont\" arg=\"out\"/></exit></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  g_autofree char *c0 = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (c0, "TCont(in)@A:entry");
  device (env, inst, "again", NULL);
  g_autofree char *c1 = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (c1, "TTrans()@A:normal TCont(out)@A:exit TCont(in)@A:entry");
  CU_ASSERT_EQUAL (sf_test_count (env, "\"from\":\"A\",\"to\":\"A\"", NULL), 1);
  sf_test_env_free (env);
}

static void
catch_all (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TOn\" arg=\"mine\" next=\"B\"/></normal></state>"
    "<state name=\"B\"><normal><op name=\"TOn\" arg=\"mine\" next=\"A\"/></normal></state>"
    "<state name=\"*\"><normal><op name=\"TOn\" arg=\"mine\" next=\"Gone\"/><op name=\"TOn\" arg=\"hangup\" next=\"Gone\"/>"
    "</normal></state><state name=\"Gone\" final=\"true\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  /* Taken by the state: the catch-all's own 'mine' is never consulted. */
  device (env, inst, "mine", NULL);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  g_autofree char *c1 = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (c1, "TOn(mine)@A:normal");
  /* Not taken by B: '*' takes it and the transition starts from B. */
  device (env, inst, "hangup", NULL);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"from\":\"B\",\"to\":\"Gone\"", "\"trigger\":\"device:hangup\"", NULL), 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (env->ep), 0);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->events_untaken, 0);
  sf_test_env_free (env);
}

static void
untaken (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TSkip\"/><op name=\"TOn\" arg=\"mine\" next=\"A\"/></normal></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "other", NULL);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->events_untaken, 1);
  CU_ASSERT_EQUAL_FATAL (env->untaken->len, 1);
  CU_ASSERT_STRING_EQUAL (env->untaken->pdata[0], "c1 A device:other");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  sf_test_env_free (env);
}

static void
error_disposition (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TError\" arg=\"1\"/><op name=\"TCont\" arg=\"never\"/></normal>"
    "<exit><op name=\"TError\" arg=\"x\"/><op name=\"TCont\" arg=\"still\"/></exit></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "go", NULL);
  g_autofree char *c1 = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (c1, "TError(1)@A:normal");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->op_errors, 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  sf_test_env_free (env);

  env = sf_test_env_new ();
  g_autoptr (SfMachine) m2 = sf_test_load (env, "t2.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TError\"><on outcome=\"error\" next=\"Failed\"/></op></normal>"
    "<exit><op name=\"TError\" arg=\"x\"/><op name=\"TCont\" arg=\"still\"/></exit></state>"
    "<state name=\"Failed\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m2);
  inst = start (env, m2);
  device (env, inst, "go", NULL);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "Failed");
  g_autofree char *c2 = sf_test_take_calls ();
  /* An error in an exit queue is counted and the queue goes on. */
  CU_ASSERT_STRING_EQUAL (c2, "TError()@A:normal TError(x)@A:exit TCont(still)@A:exit");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->op_errors, 2);
  sf_test_env_free (env);
}

static void
event_kinds (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TTimerOnly\" next=\"B\"/></normal></state><state name=\"B\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  device (env, inst, "go", NULL);
  g_autofree char *c1 = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (c1, ""); /* never called for a device event */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_TIMER, "T", NULL));
  sf_endpoint_drain (env->ep);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  sf_test_env_free (env);
}

static void
child_end (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autofree char *dir = g_dir_make_tmp ("sf-test-XXXXXX", NULL);
  g_autofree char *child = g_build_filename (dir, "child.xml", NULL);
  g_autofree char *parent = g_build_filename (dir, "parent.xml", NULL);
  CU_ASSERT_FATAL (g_file_set_contents (child,
    "<flow version=\"1\" name=\"kid\" scope=\"task\" initial=\"K\">"
    "<state name=\"K\"><normal><op name=\"TOn\" arg=\"done\" next=\"KEnd\"/></normal></state>"
    "<state name=\"KEnd\" final=\"true\"/></flow>", -1, NULL));
  CU_ASSERT_FATAL (g_file_set_contents (parent,
    "<flow version=\"1\" name=\"mom\" initial=\"P\"><import name=\"kid\" src=\"child.xml\"/>"
    "<state name=\"P\"><entry><op name=\"OpSpawn\" arg=\"kid\"/></entry>"
    "<normal><op name=\"OpOnChildEnd\" arg=\"kid\" next=\"PEnd\"/></normal></state>"
    "<state name=\"PEnd\" final=\"true\"/></flow>", -1, NULL));
  g_autoptr (SfMachine) m = sf_loader_load (env->loader, parent, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *p = start (env, m);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (env->ep), 2);
  SfInstance *k = sf_endpoint_lookup_handle (env->ep, "i1");
  CU_ASSERT_PTR_NOT_NULL_FATAL (k);
  CU_ASSERT_PTR_EQUAL (sf_instance_parent (k), p);
  device (env, k, "done", NULL);
  /* The child ended; its end reached the parent, which ended too. */
  CU_ASSERT_EQUAL (sf_test_count (env, "\"machine\":\"mom\"", "\"from\":\"P\",\"to\":\"PEnd\"",
                                  "\"trigger\":\"child:end\"", NULL), 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (env->ep), 0);
  g_unlink (child);
  g_unlink (parent);
  g_rmdir (dir);
  sf_test_env_free (env);
}

static void
post_by_key (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", "<flow version=\"1\" name=\"t\" scope=\"dialog\" initial=\"A\">"
    "<state name=\"A\"><normal><op name=\"TOn\" arg=\"bye\" next=\"B\"/></normal></state><state name=\"B\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *a = sf_endpoint_create (env->ep, m, "callid-1;tag-a", NULL, NULL);
  SfInstance *b = sf_endpoint_create (env->ep, m, "callid-2;tag-b", NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  CU_ASSERT_PTR_NOT_NULL_FATAL (b);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_PTR_NULL (sf_endpoint_create (env->ep, m, "callid-1;tag-a", NULL, &error));
  CU_ASSERT (g_error_matches (error, SF_ENDPOINT_ERROR, SF_ENDPOINT_ERROR_DUPLICATE_KEY));
  CU_ASSERT_TRUE (sf_endpoint_post_key (env->ep, "dialog", "callid-2;tag-b", sf_event_new (SF_EV_DEVICE, "bye", NULL)));
  CU_ASSERT_FALSE (sf_endpoint_post_key (env->ep, "dialog", "nobody", sf_event_new (SF_EV_DEVICE, "bye", NULL)));
  CU_ASSERT_FALSE (sf_endpoint_post_key (env->ep, "call", "callid-1;tag-a", sf_event_new (SF_EV_DEVICE, "bye", NULL)));
  sf_endpoint_drain (env->ep);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (a), "A");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (b), "B");
  CU_ASSERT_PTR_EQUAL (sf_endpoint_lookup (env->ep, "dialog", "callid-1;tag-a"), a);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->events_dropped, 2);
  sf_test_env_free (env);
}

static void
fifo (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TOn\" arg=\"e1\" next=\"B\"/></normal></state>"
    "<state name=\"B\"><normal><op name=\"TOn\" arg=\"e2\" next=\"C\"/></normal></state>"
    "<state name=\"C\"><normal><op name=\"TOn\" arg=\"e3\" next=\"D\"/></normal></state><state name=\"D\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  /* Posted before the creation event is even dispatched: still in order, after
   * it; e1 takes the queued start:create's place (one hop fewer), the initial
   * entry queue still runs first. */
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "e1", NULL));
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "e2", NULL));
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "e3", NULL));
  CU_ASSERT_EQUAL (sf_endpoint_drain (env->ep), 3);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "D");
  g_autofree char *calls = sf_test_take_calls ();
  CU_ASSERT_STRING_EQUAL (calls, "TOn(e1)@A:normal TOn(e2)@B:normal TOn(e3)@C:normal");
  sf_test_env_free (env);
}

/* The queue is a ring that grows (sf-endpoint.c): events in order across its
 * wrap, its growth with the head inside it, and a large one freed and made
 * again.  x then y moves A to B and back; one event out of order is untaken. */
static void
fifo_ring (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", XY_FLOW);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  static const guint batches[] = { 40, 100, 3000, 6 };
  guint total = 0;
  for (gsize b = 0; b < G_N_ELEMENTS (batches); b++) {
    for (guint i = 0; i < batches[b]; i++)
      sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, i % 2 ? "y" : "x", NULL));
    CU_ASSERT_EQUAL (sf_endpoint_drain (env->ep), batches[b]);
    total += batches[b];
  }
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->events_untaken, 0);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->transitions, total);
  g_autofree char *calls = sf_test_take_calls ();
  sf_test_env_free (env);
}

typedef struct {
  SfEndpoint *ep;
  const char *handle;
} ThreadArg;

static gpointer
poster (gpointer data)
{
  ThreadArg *t = data;
  sf_endpoint_post_threadsafe (t->ep, t->handle, sf_event_new (SF_EV_MEDIA, "eos", NULL));
  return NULL;
}

static gboolean
stop_when_moved (gpointer data)
{
  SfInstance *inst = data;
  return strcmp (sf_instance_state (inst), "B") != 0; /* keep the idle until it moved */
}

static void
threadsafe_post (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TOn\" arg=\"eos\" next=\"B\"/></normal></state><state name=\"B\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  GMainContext *ctx = g_main_context_new ();
  sf_endpoint_attach (env->ep, ctx);
  SfInstance *inst = start (env, m);
  ThreadArg t = { env->ep, sf_instance_handle (inst) };
  GThread *th = g_thread_new ("poster", poster, &t);
  g_thread_join (th);
  /* Nothing happens outside the main context... */
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  /* ...and at most 100 iterations of it deliver the event. */
  for (int i = 0; i < 100 && stop_when_moved (inst); i++)
    g_main_context_iteration (ctx, FALSE);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  sf_test_env_free (env);
  g_main_context_unref (ctx);
}

static gboolean
count_batches (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

static void
dispatch_queued (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", XY_FLOW);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  /* Unattached: nothing runs; the caller's drain does. */
  SfInstance *inst = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "x", NULL));
  sf_endpoint_dispatch_queued (env->ep);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  sf_endpoint_drain (env->ep);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  GMainContext *ctx = g_main_context_new ();
  sf_endpoint_attach (env->ep, ctx);
  guint batches = 0;
  sf_endpoint_set_after_batch (env->ep, count_batches, &batches);
  /* A turn with one event: the source's; 1023 of the turn's 1024 are left. */
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "y", NULL));
  CU_ASSERT_TRUE (g_main_context_iteration (ctx, FALSE));
  CU_ASSERT_EQUAL (batches, 1);
  guint base = sf_endpoint_stats (env->ep)->transitions;
  for (guint i = 0; i < 1500; i++)
    sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, i % 2 ? "y" : "x", NULL));
  sf_endpoint_dispatch_queued (env->ep);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->transitions - base, 1023);
  CU_ASSERT_EQUAL (batches, 2);
  /* The turn's budget is spent: the rest waits for the next turn. */
  sf_endpoint_dispatch_queued (env->ep);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->transitions - base, 1023);
  for (int i = 0; i < 10 && sf_endpoint_stats (env->ep)->transitions - base < 1500; i++)
    g_main_context_iteration (ctx, FALSE);
  CU_ASSERT_EQUAL (sf_endpoint_stats (env->ep)->transitions - base, 1500);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  /* An empty queue: no batch, no hook. */
  guint before = batches;
  sf_endpoint_dispatch_queued (env->ep);
  CU_ASSERT_EQUAL (batches, before);
  g_autofree char *calls = sf_test_take_calls ();
  sf_test_env_free (env);
  g_main_context_unref (ctx);
}

typedef struct {
  SfEndpoint *ep;
  SfInstance *inst;
  GString *log;      /* what ran, in order: "name(state)" */
  const char *name;
  guint again;       /* defers itself again this many more times */
  guint runs;
} Call;

static void
deferred_call (gpointer p)
{
  Call *c = p;
  c->runs++;
  if (c->log != NULL)
    g_string_append_printf (c->log, "%s(%s) ", c->name, c->inst != NULL ? sf_instance_state (c->inst) : "-");
  if (c->inst != NULL) /* an answer becomes an event, dispatched in the same batch */
    sf_endpoint_post (c->ep, c->inst, sf_event_new (SF_EV_DEVICE, "y", NULL));
  if (c->again > 0) {
    c->again--;
    sf_endpoint_defer (c->ep, deferred_call, c);
  }
}

static void
deferred (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", XY_FLOW);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  g_autoptr (GString) log = g_string_new ("");
  /* Unattached: not inside the call; the drain runs them, in order, but the cancelled one. */
  Call a = { env->ep, NULL, log, "a", 0, 0 }, b = { env->ep, NULL, log, "b", 0, 0 }, c = { env->ep, NULL, log, "c", 0, 0 };
  sf_endpoint_defer (env->ep, deferred_call, &a);
  sf_endpoint_defer (env->ep, deferred_call, &b);
  sf_endpoint_defer (env->ep, deferred_call, &c);
  sf_endpoint_undefer (env->ep, deferred_call, &b);
  CU_ASSERT_EQUAL (a.runs, 0);
  sf_endpoint_drain (env->ep);
  CU_ASSERT_STRING_EQUAL (log->str, "a(-) c(-) ");
  CU_ASSERT_EQUAL (b.runs, 0);
  sf_endpoint_drain (env->ep);
  CU_ASSERT_EQUAL (a.runs, 1); /* once */
  /* Attached: one turn runs the event queued (x: A to B), then the call,
   * then the event the call posted (y: back to A), then the after-batch hook once. */
  GMainContext *ctx = g_main_context_new ();
  sf_endpoint_attach (env->ep, ctx);
  guint batches = 0;
  sf_endpoint_set_after_batch (env->ep, count_batches, &batches);
  g_string_truncate (log, 0);
  Call d = { env->ep, inst, log, "d", 0, 0 };
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "x", NULL));
  sf_endpoint_defer (env->ep, deferred_call, &d);
  CU_ASSERT_EQUAL (d.runs, 0);
  CU_ASSERT_TRUE (g_main_context_iteration (ctx, FALSE));
  CU_ASSERT_STRING_EQUAL (log->str, "d(B) ");
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "A");
  CU_ASSERT_EQUAL (batches, 1);
  /* Deferred outside a batch, nothing queued: the source is ready for it. */
  sf_endpoint_defer (env->ep, deferred_call, &d);
  CU_ASSERT_TRUE (g_main_context_iteration (ctx, FALSE));
  CU_ASSERT_EQUAL (d.runs, 2);
  CU_ASSERT_STRING_EQUAL (log->str, "d(B) d(A) ");
  /* One that defers itself again: the turn's budget (1024) bounds it, the rest next turn. */
  Call e = { env->ep, NULL, NULL, "e", 2000, 0 };
  sf_endpoint_defer (env->ep, deferred_call, &e);
  CU_ASSERT_TRUE (g_main_context_iteration (ctx, FALSE));
  CU_ASSERT_EQUAL (e.runs, 1024);
  CU_ASSERT_TRUE (g_main_context_iteration (ctx, FALSE));
  CU_ASSERT_EQUAL (e.runs, 2001);
  sf_endpoint_undefer (env->ep, deferred_call, &e); /* nothing left: harmless */
  /* One still waiting when the endpoint goes: freed with it, not run (ASan: no leak). */
  sf_endpoint_defer (env->ep, deferred_call, &a);
  g_autofree char *calls = sf_test_take_calls ();
  sf_test_env_free (env);
  CU_ASSERT_EQUAL (a.runs, 1);
  g_main_context_unref (ctx);
}

/* A steady overload: each turn more events arrive than the turn's budget
 * (1024), so the queue is never empty when the budget ends.  A call deferred
 * meanwhile still runs in the next turn (first, within half its budget),
 * not when the overload ends; and a location freed with many answers
 * waiting cancels them in one walk (sf_endpoint_undefer_matching). */
static gboolean
is_call (gpointer data, gpointer user)
{
  return ((Call *) data)->name == user;
}

static void
deferred_overload (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", XY_FLOW);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  GMainContext *ctx = g_main_context_new ();
  sf_endpoint_attach (env->ep, ctx);
  Call a = { env->ep, NULL, NULL, "a", 0, 0 };
  guint turn = 0;
  for (; turn < 5 && a.runs == 0; turn++) {
    for (int i = 0; i < 1100; i++)
      sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, i % 2 ? "y" : "x", NULL));
    if (turn == 0)
      sf_endpoint_defer (env->ep, deferred_call, &a);
    g_main_context_iteration (ctx, FALSE);
  }
  CU_ASSERT_EQUAL (a.runs, 1);
  CU_ASSERT_EQUAL (turn, 2); /* the turn after the one that spent its budget with it waiting */
  /* Many calls of one owner cancelled together, the others kept. */
  static const char mine[] = "mine", theirs[] = "theirs";
  Call *calls = g_new0 (Call, 3000);
  for (int i = 0; i < 3000; i++) {
    calls[i] = (Call) { env->ep, NULL, NULL, i % 1000 == 0 ? theirs : mine, 0, 0 };
    sf_endpoint_defer (env->ep, deferred_call, &calls[i]);
  }
  sf_endpoint_undefer_matching (env->ep, deferred_call, is_call, (gpointer) mine);
  sf_endpoint_drain (env->ep);
  guint ran = 0;
  for (int i = 0; i < 3000; i++) {
    ran += calls[i].runs;
    CU_ASSERT_EQUAL (calls[i].runs, calls[i].name == theirs ? 1 : 0);
  }
  CU_ASSERT_EQUAL (ran, 3);
  g_free (calls);
  g_autofree char *log = sf_test_take_calls ();
  sf_test_env_free (env);
  g_main_context_unref (ctx);
}

static void
shutdown (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) plain = sf_test_load (env, "plain.xml", FLOW_HEAD "<state name=\"A\"/></flow>");
  g_autoptr (SfMachine) polite = sf_test_load (env, "polite.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TOn\" arg=\"shutdown\" next=\"Closing\"/></normal></state>"
    "<state name=\"Closing\"><normal><op name=\"TOn\" arg=\"closed\" next=\"End\"/></normal></state>"
    "<state name=\"End\" final=\"true\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (plain);
  CU_ASSERT_PTR_NOT_NULL_FATAL (polite);
  start (env, plain);
  SfInstance *p = start (env, polite);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (env->ep), 2);
  CU_ASSERT_EQUAL (sf_endpoint_shutdown (env->ep), 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (p), "Closing");
  /* Created after the shutdown began: it gets device:shutdown after its start. */
  SfInstance *late = sf_endpoint_create (env->ep, polite, NULL, NULL, NULL);
  sf_endpoint_drain (env->ep);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (late), "Closing");
  device (env, p, "closed", NULL);
  device (env, late, "closed", NULL);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (env->ep), 0);
  sf_test_env_free (env);
}

static void
internal_events_not_dropped (void)
{
  SfTestEnv *env = sf_test_env_new ();
  CU_ASSERT_TRUE_FATAL (sf_config_set (env->cfg, "core.max_queue=16", NULL));
  SfEndpoint *ep = sf_endpoint_new (sf_clock_new_fake (0), env->reg, env->cfg);
  g_autofree char *dir = g_dir_make_tmp ("sf-test-XXXXXX", NULL);
  g_autofree char *child = g_build_filename (dir, "child.xml", NULL);
  g_autofree char *parent = g_build_filename (dir, "parent.xml", NULL);
  g_file_set_contents (child, "<flow version=\"1\" name=\"blip\" scope=\"task\" initial=\"End\">"
                              "<state name=\"End\" final=\"true\"/></flow>", -1, NULL);
  GString *xml = g_string_new ("<flow version=\"1\" name=\"mom\" initial=\"P\"><import name=\"kid\" src=\"child.xml\"/>"
                               "<state name=\"P\"><entry>");
  for (int i = 0; i < 40; i++)
    g_string_append (xml, "<op name=\"OpSpawn\" arg=\"kid\"/>");
  g_string_append (xml, "</entry><normal><op name=\"OpOnChildEnd\" arg=\"kid\" next=\"P2\"/></normal></state>"
                        "<state name=\"P2\"><normal><op name=\"OpIgnore\"/></normal></state></flow>");
  g_file_set_contents (parent, xml->str, -1, NULL);
  g_string_free (xml, TRUE);
  g_autoptr (SfMachine) m = sf_loader_load (env->loader, parent, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *p = sf_endpoint_create (ep, m, NULL, NULL, NULL);
  sf_endpoint_drain (ep);
  /* 40 children created and ended through a queue of 16: nothing lost, and the first
   * child:end (matched by the import name 'kid', not the flow name 'blip') moved it. */
  CU_ASSERT_EQUAL (sf_endpoint_stats (ep)->instances_ended, 40);
  CU_ASSERT_EQUAL (sf_endpoint_stats (ep)->events_dropped, 0);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (p), "P2");
  /* Outside posts are refused once the queue is full. */
  guint refused = 0;
  for (int i = 0; i < 20; i++)
    if (!sf_endpoint_post (ep, p, sf_event_new (SF_EV_DEVICE, "x", NULL)))
      refused++;
  CU_ASSERT_EQUAL (refused, 4);
  sf_endpoint_free (ep);
  g_unlink (child);
  g_unlink (parent);
  g_rmdir (dir);
  sf_test_env_free (env);
}

static GString *slot_freed;

static void
slot_free (gpointer data)
{
  g_string_append_printf (slot_freed, "%s ", (const char *) data);
}

static void
instance_slots (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD "<state name=\"A\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  slot_freed = g_string_new (NULL);
  CU_ASSERT_PTR_NULL (sf_instance_get_slot (inst, 0));
  CU_ASSERT_PTR_NULL (sf_instance_get_slot (inst, SF_INSTANCE_MAX_SLOTS + 1));
  sf_instance_set_slot (inst, 3, "three", slot_free);
  sf_instance_set_slot (inst, 0, "zero", slot_free);
  sf_instance_set_slot (inst, 10, "ten-old", slot_free);
  CU_ASSERT_PTR_NULL (sf_instance_get_slot (inst, 5));
  CU_ASSERT_STRING_EQUAL (sf_instance_get_slot (inst, 3), "three");
  sf_instance_set_slot (inst, 10, "ten", slot_free);
  CU_ASSERT_STRING_EQUAL (slot_freed->str, "ten-old ");
  CU_ASSERT_STRING_EQUAL (sf_instance_get_slot (inst, 10), "ten");
  sf_instance_set_slot (inst, 10, "ten", slot_free); /* the same value again: not freed */
  sf_instance_set_slot (inst, 20, NULL, NULL);       /* clearing a slot never set */
  CU_ASSERT_STRING_EQUAL (slot_freed->str, "ten-old ");
  /* the first slot set is kept apart from the array: cleared, the next one set takes its place */
  sf_instance_set_slot (inst, 3, NULL, NULL);
  CU_ASSERT_PTR_NULL (sf_instance_get_slot (inst, 3));
  CU_ASSERT_STRING_EQUAL (slot_freed->str, "ten-old three ");
  sf_instance_set_slot (inst, 12, "twelve", slot_free);
  sf_instance_set_slot (inst, 5, "five", slot_free);
  CU_ASSERT_STRING_EQUAL (sf_instance_get_slot (inst, 12), "twelve");
  CU_ASSERT_STRING_EQUAL (sf_instance_get_slot (inst, 5), "five");
  CU_ASSERT_STRING_EQUAL (sf_instance_get_slot (inst, 0), "zero");
  CU_ASSERT_PTR_NULL (sf_instance_get_slot (inst, 3));
  sf_endpoint_kill (env->ep, inst, "test");
  CU_ASSERT_STRING_EQUAL (slot_freed->str, "ten-old three twelve ten five zero ");
  g_string_free (slot_freed, TRUE);
  slot_freed = NULL;
  sf_test_env_free (env);
}

static guint module_slot_made;

static gpointer
module_slot_new (void)
{
  module_slot_made++;
  return g_strdup ("proxy's");
}

static void
module_slots (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD "<state name=\"A\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = start (env, m);
  slot_freed = g_string_new (NULL);
  module_slot_made = 0;
  CU_ASSERT_PTR_NULL (sf_instance_module_slot (env->ep, inst, &sf_proxy_module));
  char *made = sf_instance_module_slot_ensure (env->ep, inst, &sf_proxy_module, module_slot_new, slot_free);
  CU_ASSERT_STRING_EQUAL (made, "proxy's");
  CU_ASSERT_PTR_EQUAL (sf_instance_module_slot_ensure (env->ep, inst, &sf_proxy_module, module_slot_new, slot_free), made);
  CU_ASSERT_EQUAL (module_slot_made, 1);
  /* In the slot of the module's id, no other. */
  int id = sf_module_id (env->ep, &sf_proxy_module);
  CU_ASSERT_TRUE_FATAL (id >= 0);
  CU_ASSERT_PTR_EQUAL (sf_instance_get_slot (inst, (guint) id), made);
  CU_ASSERT_PTR_NULL (sf_instance_module_slot (env->ep, inst, &sf_ua_module));
  sf_endpoint_kill (env->ep, inst, "test");
  CU_ASSERT_STRING_EQUAL (slot_freed->str, "proxy's ");
  g_free (made);
  g_string_free (slot_freed, TRUE);
  slot_freed = NULL;
  sf_test_env_free (env);
}

static void
no_event_output (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (SfMachine) m = sf_test_load (env, "t.xml", FLOW_HEAD
    "<state name=\"A\"><normal><op name=\"TTrans\" next=\"B\"/></normal></state>"
    "<state name=\"B\"><normal><op name=\"TOn\" arg=\"mine\" next=\"A\"/></normal></state></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  sf_endpoint_set_emit (env->ep, NULL, NULL);
  SfInstance *inst = start (env, m);
  device (env, inst, "go", NULL);
  device (env, inst, "other", NULL);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  CU_ASSERT_EQUAL (env->lines->len, 0);
  const SfStats *st = sf_endpoint_stats (env->ep);
  CU_ASSERT_EQUAL (st->transitions, 1);
  CU_ASSERT_EQUAL (st->events_dispatched, 3);
  CU_ASSERT_EQUAL (st->events_taken, 2);
  CU_ASSERT_EQUAL (st->events_untaken, 1);
  g_autofree char *json = sf_endpoint_stats_json (env->ep);
  CU_ASSERT_PTR_NOT_NULL (strstr (json, "\"events_dispatched\":3,\"events_taken\":2,\"events_untaken\":1,"));
  CU_ASSERT_PTR_NOT_NULL (strstr (json, "\"transitions\":1,"));
  g_autofree char *calls = sf_test_take_calls ();
  sf_test_env_free (env);
}

/* What one byte alone becomes between quotes. */
static void
json_byte_want (GString *want, unsigned char c)
{
  if (c == '"')
    g_string_append (want, "\\\"");
  else if (c == '\\')
    g_string_append (want, "\\\\");
  else if (c == '\n')
    g_string_append (want, "\\n");
  else if (c == '\r')
    g_string_append (want, "\\r");
  else if (c == '\t')
    g_string_append (want, "\\t");
  else if (c < 0x20 || c == 0x7f)
    g_string_append_printf (want, "\\u%04x", c);
  else if (c >= 0x80)
    g_string_append (want, "\xef\xbf\xbd"); /* alone, never valid UTF-8: U+FFFD */
  else
    g_string_append_c (want, (char) c);
}

static void
json_every_byte (void)
{
  for (guint c = 1; c < 256; c++) {
    for (guint framed = 0; framed < 2; framed++) {
      char in[4] = { 'a', (char) c, 'b', '\0' }, one[2] = { (char) c, '\0' };
      g_autoptr (GString) got = g_string_new (NULL);
      sf_json_append_string (got, framed ? in : one);
      g_autoptr (GString) want = g_string_new ("\"");
      if (framed)
        g_string_append_c (want, 'a');
      json_byte_want (want, (unsigned char) c);
      if (framed)
        g_string_append_c (want, 'b');
      g_string_append_c (want, '"');
      if (strcmp (got->str, want->str) != 0)
        g_printerr ("json byte 0x%02x%s: got %s want %s\n", c, framed ? " framed" : "", got->str, want->str);
      CU_ASSERT_STRING_EQUAL (got->str, want->str);
    }
  }
  g_autoptr (GString) out = g_string_new (NULL);
  sf_json_append_string (out, NULL);
  sf_json_append_string (out, "");
  sf_json_append_string (out, "z9hG4bK-1|127.0.0.1:5060|INVITE");
  CU_ASSERT_STRING_EQUAL (out->str, "null\"\"\"z9hG4bK-1|127.0.0.1:5060|INVITE\"");
  /* a key made when compiling writes what the scanned key writes */
  const char *ops[] = { "OpA", "Op\"B", NULL };
  g_autoptr (GString) k = g_string_new ("{");
  g_autoptr (GString) plain = g_string_new ("{");
  sf_json_add_str_k (k, "from", "Idle");
  sf_json_add_str (plain, "from", "Idle");
  sf_json_add_str_k (k, "to", NULL);
  sf_json_add_str (plain, "to", NULL);
  sf_json_add_double_k (k, "duration_s", 1.2345);
  sf_json_add_double (plain, "duration_s", 1.2345);
  sf_json_add_strv_k (k, "ops", ops, -1);
  sf_json_add_strv (plain, "ops", ops, -1);
  CU_ASSERT_STRING_EQUAL (k->str, plain->str);
  CU_ASSERT_STRING_EQUAL (k->str, "{,\"from\":\"Idle\",\"to\":null,\"duration_s\":1.234,\"ops\":[\"OpA\",\"Op\\\"B\"]");
}

static void
event_strings (void)
{
  static const SfEventKind kinds[] = { SF_EV_SIP, SF_EV_TXN, SF_EV_TIMER, SF_EV_DEVICE, SF_EV_MEDIA,
                                       SF_EV_CHILD, SF_EV_TASK, SF_EV_START };
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++) {
    SfEvent *ev = sf_event_new (kinds[i], "INVITE", i % 2 ? "sip:bob@example.com 180" : NULL);
    g_autofree char *trigger = g_strconcat (sf_event_kind_name (kinds[i]), ":INVITE", NULL);
    CU_ASSERT_EQUAL (sf_event_kind (ev), kinds[i]);
    CU_ASSERT_STRING_EQUAL (sf_event_name (ev), "INVITE");
    CU_ASSERT_STRING_EQUAL (sf_event_trigger (ev), trigger);
    if (i % 2) {
      CU_ASSERT_STRING_EQUAL (sf_event_arg (ev), "sip:bob@example.com 180");
    } else {
      CU_ASSERT_PTR_NULL (sf_event_arg (ev));
    }
    sf_event_unref (ev);
  }
  char *payload = g_strdup ("payload");
  SfEvent *ev = sf_event_new_full (SF_EV_TASK, "", "", payload, g_free);
  CU_ASSERT_STRING_EQUAL (sf_event_name (ev), "");
  CU_ASSERT_STRING_EQUAL (sf_event_arg (ev), "");
  CU_ASSERT_STRING_EQUAL (sf_event_trigger (ev), "task:");
  CU_ASSERT_PTR_EQUAL (sf_event_payload (ev), payload);
  sf_event_ref (ev);
  sf_event_unref (ev);
  CU_ASSERT_STRING_EQUAL (sf_event_name (ev), "");
  sf_event_unref (ev); /* the payload with it: ASan says if not */
}

void
sf_test_register_dispatch (void)
{
  CU_pSuite s = CU_add_suite ("dispatch", NULL, NULL);
  SF_ADD_TEST (s, initial_entry);
  SF_ADD_TEST (s, skip_continue_done);
  SF_ADD_TEST (s, transition_order);
  SF_ADD_TEST (s, many_ops);
  SF_ADD_TEST (s, first_transition_wins);
  SF_ADD_TEST (s, outcomes);
  SF_ADD_TEST (s, invalid_outcome);
  SF_ADD_TEST (s, entry_cannot_transition);
  SF_ADD_TEST (s, final_state);
  SF_ADD_TEST (s, self_transition);
  SF_ADD_TEST (s, catch_all);
  SF_ADD_TEST (s, untaken);
  SF_ADD_TEST (s, error_disposition);
  SF_ADD_TEST (s, event_kinds);
  SF_ADD_TEST (s, child_end);
  SF_ADD_TEST (s, post_by_key);
  SF_ADD_TEST (s, fifo);
  SF_ADD_TEST (s, fifo_ring);
  SF_ADD_TEST (s, threadsafe_post);
  SF_ADD_TEST (s, dispatch_queued);
  SF_ADD_TEST (s, deferred_overload);
  SF_ADD_TEST (s, deferred);
  SF_ADD_TEST (s, shutdown);
  SF_ADD_TEST (s, internal_events_not_dropped);
  SF_ADD_TEST (s, instance_slots);
  SF_ADD_TEST (s, module_slots);
  SF_ADD_TEST (s, no_event_output);
  SF_ADD_TEST (s, json_every_byte);
  SF_ADD_TEST (s, event_strings);
  SF_ADD_TEST (s, many_timers);
}
