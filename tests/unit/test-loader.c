/* test-loader.c: the XML flow loader and its load-time checks (docs/architecture.md,
 * "Machine semantics": everything that can be checked before the first event).
 *  - shipped_flows_load: every flow under xml/ loads with no error and no warning
 *  - broken_flows: each tests/flows/bad/ flow gives its expected error at its line
 *    (the expectation is the file's '<!-- expect: LINE: TEXT -->' comment)
 *  - warnings_do_not_fail: an unreachable state is a warning and the flow loads
 *  - timer_names: a timer started and awaited under one name, or started and cancelled,
 *    gives no diagnostic; one started that nothing uses is a warning (the near miss
 *    and the never-started timer are tests/flows/bad/timer-*.xml)
 *  - builtin_and_override: a flow that is not a file comes from the built-in copy,
 *    and a file of that name wins over it
 *  - import_shared: a machine imported twice is loaded once
 *  - dot_output: the DOT drawing names every state, transition and final state
 *  - dot_arrows: the arrows of the picture as a model (sf_dot_arrows), and a
 *    machine's rfc="" */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-test.h"
#include "states/sf-dot.h"
#include <glib/gstdio.h>
#include <string.h>

static void
collect (const char *dir, GPtrArray *out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR))
      collect (path, out);
    else if (g_str_has_suffix (name, ".xml"))
      g_ptr_array_add (out, g_steal_pointer (&path));
  }
}

static void
shipped_flows_load (void)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  collect (SF_SRCDIR "/xml", files);
  CU_ASSERT_FATAL (files->len >= 2);
  for (guint i = 0; i < files->len; i++) {
    g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (GError) error = NULL;
    g_autoptr (SfMachine) m = sf_loader_load (loader, files->pdata[i], &error);
    if (m == NULL || sf_loader_diagnostics (loader)->len > 0)
      g_printerr ("%s: %s\n", (char *) files->pdata[i], error != NULL ? error->message : "has warnings");
    CU_ASSERT_PTR_NOT_NULL (m);
    CU_ASSERT_EQUAL (sf_loader_diagnostics (loader)->len, 0);
  }
}

static void
broken_flows (void)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  collect (SF_SRCDIR "/tests/flows/bad", files);
  CU_ASSERT_FATAL (files->len >= 10);
  g_autoptr (GRegex) re = g_regex_new ("<!-- expect: ([0-9]+): (.*?) -->", 0, 0, NULL);
  for (guint i = 0; i < files->len; i++) {
    const char *path = files->pdata[i];
    g_autofree char *text = NULL;
    CU_ASSERT_FATAL (g_file_get_contents (path, &text, NULL, NULL));
    g_autoptr (GMatchInfo) mi = NULL;
    gboolean has_expect = g_regex_match (re, text, 0, &mi);
    CU_ASSERT_TRUE (has_expect);
    if (!has_expect) {
      g_printerr ("%s: no expect comment\n", path);
      continue;
    }
    g_autofree char *line_s = g_match_info_fetch (mi, 1);
    g_autofree char *needle = g_match_info_fetch (mi, 2);
    int line = atoi (line_s);
    g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (GError) error = NULL;
    g_autoptr (SfMachine) m = sf_loader_load (loader, path, &error);
    CU_ASSERT_PTR_NULL (m);
    CU_ASSERT (g_error_matches (error, SF_LOADER_ERROR, SF_LOADER_ERROR_INVALID));
    gboolean found = sf_test_has_diag (loader, line, FALSE, needle);
    CU_ASSERT_TRUE (found);
    if (!found) {
      g_printerr ("%s: wanted an error at line %d with '%s'; got:\n", path, line, needle);
      GPtrArray *d = sf_loader_diagnostics (loader);
      for (guint k = 0; k < d->len; k++) {
        g_autofree char *s = sf_diag_format (d->pdata[k]);
        g_printerr ("  %s\n", s);
      }
    }
    /* Every diagnostic names the file. */
    GPtrArray *d = sf_loader_diagnostics (loader);
    for (guint k = 0; k < d->len; k++)
      CU_ASSERT_PTR_NOT_NULL (((SfDiag *) d->pdata[k])->file);
  }
}

static void
warnings_do_not_fail (void)
{
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (SfLoader) loader = sf_loader_new (reg);
  g_autoptr (SfMachine) m = sf_loader_load (loader, SF_SRCDIR "/tests/flows/good/unreachable.xml", NULL);
  CU_ASSERT_PTR_NOT_NULL (m);
  CU_ASSERT_EQUAL (sf_loader_n_errors (loader), 0);
  CU_ASSERT_TRUE (sf_test_has_diag (loader, 6, TRUE, "state 'Orphan' is unreachable"));
}

static void
timer_names (void)
{
  {
    g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (SfMachine) m = sf_loader_load (loader, SF_SRCDIR "/tests/flows/good/timers.xml", NULL);
    CU_ASSERT_PTR_NOT_NULL (m);
    CU_ASSERT_EQUAL (sf_loader_diagnostics (loader)->len, 0);
  }
  {
    g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (SfMachine) m = sf_loader_load (loader, SF_SRCDIR "/tests/flows/good/timer-unused.xml", NULL);
    CU_ASSERT_PTR_NOT_NULL (m);
    CU_ASSERT_EQUAL (sf_loader_n_errors (loader), 0);
    CU_ASSERT_EQUAL (sf_loader_diagnostics (loader)->len, 1);
    CU_ASSERT_TRUE (sf_test_has_diag (loader, 5, TRUE,
                                      "timer 'reminder' is started here but no OpOnTimer or OpCancelTimer in this flow uses it"));
  }
}

static void
builtin_and_override (void)
{
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *dir = g_dir_make_tmp ("sf-loader-XXXXXX", NULL);
  CU_ASSERT_FATAL (dir != NULL && g_chdir (dir) == 0);
  {
    g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (SfMachine) m = sf_loader_load (loader, "examples/call-demo.xml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL (m);
    CU_ASSERT_STRING_EQUAL (m->name, "call-demo");
    CU_ASSERT_STRING_EQUAL (m->file, "builtin:examples/call-demo.xml");
    /* Its import came from the built-in copy too. */
    SfMachine *tone = sf_machine_lookup_import (m, "tone");
    CU_ASSERT_PTR_NOT_NULL_FATAL (tone);
    CU_ASSERT_STRING_EQUAL (tone->file, "builtin:examples/tone.xml");
  }
  g_mkdir ("examples", 0700);
  CU_ASSERT_FATAL (g_file_set_contents ("examples/call-demo.xml",
    "<flow version=\"1\" name=\"mine\" initial=\"A\"><state name=\"A\"/></flow>", -1, NULL));
  {
    g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (SfMachine) m = sf_loader_load (loader, "examples/call-demo.xml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL (m);
    CU_ASSERT_STRING_EQUAL (m->name, "mine");
  }
  {
    g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (GError) error = NULL;
    g_autoptr (SfMachine) m = sf_loader_load (loader, "examples/none.xml", &error);
    CU_ASSERT_PTR_NULL (m);
    CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "no flow file or built-in flow") : NULL);
  }
  g_unlink ("examples/call-demo.xml");
  g_rmdir ("examples");
  CU_ASSERT (g_chdir (cwd) == 0);
  g_rmdir (dir);
}

static void
import_shared (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sf-loader-XXXXXX", NULL);
  g_autofree char *a = g_build_filename (dir, "a.xml", NULL);
  g_autofree char *b = g_build_filename (dir, "b.xml", NULL);
  g_autofree char *leaf = g_build_filename (dir, "leaf.xml", NULL);
  g_file_set_contents (leaf, "<flow version=\"1\" name=\"leaf\" initial=\"L\"><state name=\"L\"/></flow>", -1, NULL);
  g_file_set_contents (b, "<flow version=\"1\" name=\"b\" initial=\"B\"><import name=\"leaf\" src=\"leaf.xml\"/>"
                          "<state name=\"B\"/></flow>", -1, NULL);
  g_file_set_contents (a, "<flow version=\"1\" name=\"a\" initial=\"A\"><import name=\"leaf\" src=\"leaf.xml\"/>"
                          "<import name=\"b\" src=\"b.xml\"/><state name=\"A\"/></flow>", -1, NULL);
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (SfLoader) loader = sf_loader_new (reg);
  g_autoptr (SfMachine) m = sf_loader_load (loader, a, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfMachine *bm = sf_machine_lookup_import (m, "b");
  CU_ASSERT_PTR_NOT_NULL_FATAL (bm);
  CU_ASSERT_PTR_EQUAL (sf_machine_lookup_import (m, "leaf"), sf_machine_lookup_import (bm, "leaf"));
  g_unlink (a);
  g_unlink (b);
  g_unlink (leaf);
  g_rmdir (dir);
}

static void
dot_output (void)
{
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (SfLoader) loader = sf_loader_new (reg);
  g_autoptr (SfMachine) m = sf_loader_load (loader, SF_SRCDIR "/xml/examples/call-demo.xml", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  g_autofree char *dot = sf_machine_to_dot (m);
  CU_ASSERT_TRUE (g_str_has_prefix (dot, "digraph \"call-demo\" {"));
  CU_ASSERT_PTR_NOT_NULL (strstr (dot, "\"__start\" -> \"Idle\""));
  /* labelled with the trigger, the operator under it in smaller type (docs/pictures.md) */
  CU_ASSERT_PTR_NOT_NULL (strstr (dot, "\"Idle\" -> \"Dialing\" [label=<device:call<br/><font point-size=\"7\" "
                                       "color=\"gray35\">OpGo</font>>]"));
  /* two OpGo bindings to one state: one line, their triggers joined, wrapped after the '|' */
  CU_ASSERT_PTR_NOT_NULL (strstr (dot, "\"*\" -> \"CallEnded\" [label=<device:hangup|<br/>device:shutdown<br/><font "));
  CU_ASSERT_PTR_NOT_NULL (strstr (dot, ">, style=dashed]"));
  CU_ASSERT_PTR_NOT_NULL (strstr (dot, "entry: OpSpawn(tone)"));
  CU_ASSERT_PTR_NOT_NULL (strstr (dot, "peripheries=2"));
  CU_ASSERT_TRUE (g_str_has_suffix (dot, "}\n"));
}

static void
dot_arrows (void)
{
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (SfLoader) loader = sf_loader_new (reg);
  g_autoptr (SfMachine) m = sf_loader_load (loader, "transaction/ist.xml", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_STRING_EQUAL (m->rfc, "RFC 3261 Figure 7, RFC 6026");
  g_autoptr (GPtrArray) arrows = sf_dot_arrows (m);
  CU_ASSERT_EQUAL_FATAL (arrows->len, 23); /* with Accepted's transport error loop (RFC 6026 7.1) */
  const SfDotArrow *a = g_ptr_array_index (arrows, 0);
  CU_ASSERT_STRING_EQUAL (a->from->name, "Start");
  CU_ASSERT_STRING_EQUAL (a->to->name, "Proceeding");
  CU_ASSERT_STRING_EQUAL (a->trigger, "sip:INVITE");
  CU_ASSERT_PTR_NULL (a->outcome);
  CU_ASSERT_STRING_EQUAL (a->op, "OpTxnRequest");
  CU_ASSERT_FALSE (a->stays);
  CU_ASSERT_PTR_NOT_NULL (a->binding->op->rfc);
  guint loops = 0, errors = 0, reentry = 0;
  for (guint i = 0; i < arrows->len; i++) {
    a = g_ptr_array_index (arrows, i);
    loops += a->stays ? 1 : 0;
    errors += a->error ? 1 : 0;
    /* Proceeding -> Proceeding on a provisional response: entered again, no loop */
    reentry += !a->stays && a->from == a->to ? 1 : 0;
    if (a->stays)
      CU_ASSERT_TRUE (a->from == a->to && a->outcome == NULL);
    if (g_strcmp0 (a->trigger, "timer:G") == 0) {
      CU_ASSERT_TRUE (a->stays);
      CU_ASSERT_STRING_EQUAL (a->op, "OpTxnResend(G)");
    }
  }
  CU_ASSERT_EQUAL (loops, 10);
  CU_ASSERT_EQUAL (errors, 1);
  CU_ASSERT_EQUAL (reentry, 1);
  g_autoptr (SfMachine) ua = sf_loader_load (loader, "ua.xml", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ua);
  CU_ASSERT_PTR_NULL (ua->rfc);
}

void
sf_test_register_loader (void)
{
  CU_pSuite s = CU_add_suite ("loader", NULL, NULL);
  SF_ADD_TEST (s, shipped_flows_load);
  SF_ADD_TEST (s, broken_flows);
  SF_ADD_TEST (s, warnings_do_not_fail);
  SF_ADD_TEST (s, timer_names);
  SF_ADD_TEST (s, builtin_and_override);
  SF_ADD_TEST (s, import_shared);
  SF_ADD_TEST (s, dot_output);
  SF_ADD_TEST (s, dot_arrows);
}
