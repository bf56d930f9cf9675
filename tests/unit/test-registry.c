/* test-registry.c: the operator registry and plugins (docs/architecture.md, "Flows and plugins").
 *  - builtin_table: every built-in operator name is unique, VOCAL-style (OpXxx) and documented
 *  - duplicates_refused: a name registered twice, or twice in one table, is refused whole
 *  - reserved_outcome: no operator may declare the implicit outcome "error"
 *  - plugin_loads: a plugin's operators appear under its namespace, its config section is declared
 *  - plugin_in_flow: a flow declaring the plugin (path relative to the flow) runs its operator
 *  - plugin_wrong_abi: a plugin built for another ABI is refused with a clear error
 *  - plugin_missing_symbol: a plugin without sf_plugin_register is refused, naming the symbol
 *  - plugin_not_found: a missing file is refused
 *  - reload_two_phase: sf_modules_reload puts a new configuration in force
 *    through every module's prepare then commit, or refuses it whole: a
 *    prepare that fails aborts those prepared and leaves the configuration as
 *    it was; a restart key, or a key of a module without reload hooks, is
 *    refused before any prepare, naming the key
 *  - reload_plugin_section: a key of a plugin's section (no reload hooks) is
 *    refused, naming the plugin; the string in force stays */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-test.h"
#include "sipflow/sf-plugin.h"
#include "framework/sf-config-private.h"
#include <glib/gstdio.h>
#include <string.h>

#define PLUGIN(name) SF_BUILDDIR "/tests/plugins/.libs/" name ".so"

static void
builtin_table (void)
{
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (GPtrArray) names = sf_registry_names (reg);
  CU_ASSERT_FATAL (names->len >= 5);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    const SfOperatorDef *op = sf_registry_lookup (reg, name);
    CU_ASSERT_PTR_NOT_NULL_FATAL (op);
    CU_ASSERT_TRUE (g_str_has_prefix (name, "Op") && g_ascii_isupper (name[2]));
    CU_ASSERT_TRUE (op->doc != NULL && strlen (op->doc) > 10);
    CU_ASSERT_TRUE (op->queues != 0 && op->events != 0 && op->func != NULL);
    if (i > 0)
      CU_ASSERT_TRUE (strcmp (names->pdata[i - 1], name) < 0); /* sorted and unique */
    CU_ASSERT_PTR_NOT_NULL (sf_registry_operator_module (reg, name)); /* 'sipflow ops' groups by it */
  }
  CU_ASSERT_STRING_EQUAL (sf_registry_operator_module (reg, "OpRing"), "ua");
  CU_ASSERT_STRING_EQUAL (sf_registry_operator_module (reg, "OpLog"), "core");
  CU_ASSERT_PTR_NULL (sf_registry_operator_module (reg, "OpNone"));
}

static SfOpResult
nop (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return SF_OP_CONTINUE;
}

static void
duplicates_refused (void)
{
  static const SfOperatorDef dup_core[] = {
    { "OpFresh", nop, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL, "fresh", NULL, NULL, NULL },
    { "OpLog", nop, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL, "clashes with the core", NULL, NULL, NULL },
  };
  static const SfOperatorDef dup_self[] = {
    { "OpTwice", nop, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL, "one", NULL, NULL, NULL },
    { "OpTwice", nop, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL, "two", NULL, NULL, NULL },
  };
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (GError) e1 = NULL, e2 = NULL;
  CU_ASSERT_FALSE (sf_registry_add (reg, NULL, dup_core, 2, &e1));
  CU_ASSERT (g_error_matches (e1, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_DUPLICATE));
  CU_ASSERT_PTR_NULL (sf_registry_lookup (reg, "OpFresh")); /* nothing of a refused table is added */
  CU_ASSERT_FALSE (sf_registry_add (reg, NULL, dup_self, 2, &e2));
  CU_ASSERT_PTR_NOT_NULL (e2 != NULL ? strstr (e2->message, "OpTwice") : NULL);
  /* Under a namespace, the same name is a different operator. */
  CU_ASSERT_TRUE (sf_registry_add (reg, "mine", dup_core, 2, NULL));
  CU_ASSERT_PTR_NOT_NULL (sf_registry_lookup (reg, "mine:OpLog"));
}

static void
reserved_outcome (void)
{
  static const char *const outs[] = { "ok", "error", NULL };
  static const SfOperatorDef bad[] = {
    { "OpBad", nop, SF_Q_NORMAL, SF_EV_ANY, 0, outs, SF_ARG_NONE, NULL, NULL, "declares error", NULL, NULL, NULL },
  };
  g_autoptr (SfRegistry) reg = sf_registry_new_empty (NULL);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_registry_add (reg, NULL, bad, 1, &error));
  CU_ASSERT (g_error_matches (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_INVALID));
}

static void
plugin_loads (void)
{
  g_autoptr (SfConfig) cfg = sf_config_new ();
  g_autoptr (SfRegistry) reg = sf_registry_new (cfg, sf_builtin_modules);
  g_autoptr (GError) error = NULL;
  gboolean ok = sf_registry_load_plugin (reg, PLUGIN ("sample"), &error);
  if (!ok)
    g_printerr ("plugin_loads: %s\n", error->message);
  CU_ASSERT_TRUE_FATAL (ok);
  const SfOperatorDef *op = sf_registry_lookup (reg, "sample:OpHello");
  CU_ASSERT_PTR_NOT_NULL (op);
  CU_ASSERT_PTR_NULL (sf_registry_lookup (reg, "OpHello")); /* only under its namespace */
  CU_ASSERT_STRING_EQUAL (sf_registry_operator_module (reg, "sample:OpHello"), "sample");
  CU_ASSERT_STRING_EQUAL (sf_config_get_string (cfg, "sample", "greeting"), "hi");
  /* Loading it again is a no-op, not a duplicate. */
  CU_ASSERT_TRUE (sf_registry_load_plugin (reg, PLUGIN ("sample"), NULL));
}

static void
plugin_in_flow (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autofree char *dir = g_dir_make_tmp ("sf-plugin-XXXXXX", NULL);
  g_autofree char *flow = g_build_filename (dir, "f.xml", NULL);
  g_autofree char *link = g_build_filename (dir, "sample.so", NULL);
  CU_ASSERT_FATAL (symlink (PLUGIN ("sample"), link) == 0);
  CU_ASSERT_FATAL (g_file_set_contents (flow,
    "<flow version=\"1\" name=\"p\" initial=\"A\"><plugin path=\"sample.so\"/>"
    "<state name=\"A\"><normal><op name=\"sample:OpHello\" next=\"B\"/></normal></state>"
    "<state name=\"B\"><normal><op name=\"sample:OpCount\"/></normal></state></flow>",
    -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMachine) m = sf_loader_load (env->loader, flow, &error);
  if (m == NULL)
    g_printerr ("plugin_in_flow: %s\n", error->message);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfInstance *inst = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "x", NULL));
  sf_endpoint_drain (env->ep);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"hello\"", NULL), 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (inst), "B");
  /* Its per-instance data: one counter per instance, in the plugin's slot, freed with it. */
  SfInstance *other = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  sf_endpoint_post (env->ep, other, sf_event_new (SF_EV_DEVICE, "x", NULL));
  for (int i = 0; i < 2; i++)
    sf_endpoint_post (env->ep, inst, sf_event_new (SF_EV_DEVICE, "x", NULL));
  sf_endpoint_post (env->ep, other, sf_event_new (SF_EV_DEVICE, "x", NULL));
  sf_endpoint_drain (env->ep);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"count\"", NULL), 3);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"count\"", "\"n\":2", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"count\"", "\"n\":1", NULL), 2);
  /* The plugin's OpHello takes no arg: giving one is a load error. */
  g_autofree char *flow2 = g_build_filename (dir, "g.xml", NULL);
  g_file_set_contents (flow2, "<flow version=\"1\" name=\"p\" initial=\"A\"><plugin path=\"sample.so\"/>"
    "<state name=\"A\"><normal><op name=\"sample:OpHello\" arg=\"x\" next=\"A\"/></normal></state></flow>", -1, NULL);
  g_autoptr (SfMachine) m2 = sf_loader_load (env->loader, flow2, NULL);
  CU_ASSERT_PTR_NULL (m2);
  CU_ASSERT_TRUE (sf_test_has_diag (env->loader, 1, FALSE, "operator 'sample:OpHello' takes no arg"));
  g_unlink (flow);
  g_unlink (flow2);
  g_unlink (link);
  g_rmdir (dir);
  sf_test_env_free (env);
}

static void
plugin_wrong_abi (void)
{
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_registry_load_plugin (reg, PLUGIN ("badabi"), &error));
  CU_ASSERT (g_error_matches (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN));
  /* the message names the plugin file and both versions */
  g_autofree char *versions = g_strdup_printf ("built for plugin ABI %u, this sipflow has ABI %u",
                                               SF_PLUGIN_ABI_VERSION + 98, SF_PLUGIN_ABI_VERSION);
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, versions) : NULL);
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "badabi.so") : NULL);
}

static void
plugin_missing_symbol (void)
{
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_registry_load_plugin (reg, PLUGIN ("noreg"), &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "does not export 'sf_plugin_register'") : NULL);
}

static void
plugin_not_found (void)
{
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_registry_load_plugin (reg, "/nonexistent/plugin.so", &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "not found") : NULL);
}

/* ---- reload_two_phase: three modules of the test's own ---- */

typedef struct {
  gint64 limit;       /* alpha.limit in force */
  guint prepared, committed, aborted;
} Alpha;

static Alpha alpha_state, gamma_state;

static const SfConfigKey alpha_keys[] = {
  { "limit", SF_CFG_INT, "1", 0, 100, NULL, "reloadable" },
  { "addr", SF_CFG_STRING, "a", 0, 0, NULL, "a restart key" },
};
static const SfConfigKey beta_keys[] = { { "x", SF_CFG_INT, "1", 0, 100, NULL, "a module without reload hooks" } };

static gboolean
alpha_declare (SfPluginRegistrar *r, GError **error)
{
  return sf_plugin_add_config (r, "alpha", alpha_keys, G_N_ELEMENTS (alpha_keys), error);
}

static gboolean
beta_declare (SfPluginRegistrar *r, GError **error)
{
  return sf_plugin_add_config (r, "beta", beta_keys, G_N_ELEMENTS (beta_keys), error);
}

static gboolean
test_setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  return TRUE; /* no state: the hooks are given NULL */
}

/* alpha refuses limit 13; it builds the new value, the commit puts it in force. */
static gboolean
alpha_prepare (gpointer state, SfConfig *cfg, gpointer *prepared, GError **error)
{
  gint64 limit = sf_config_get_int (cfg, "alpha", "limit");
  if (limit == 13) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "alpha.limit: not 13");
    return FALSE;
  }
  alpha_state.prepared++;
  *prepared = g_memdup2 (&limit, sizeof limit);
  return TRUE;
}

static void
alpha_commit (gpointer state, gpointer prepared)
{
  alpha_state.committed++;
  alpha_state.limit = *(gint64 *) prepared;
  g_free (prepared);
}

static void
alpha_abort (gpointer state, gpointer prepared)
{
  alpha_state.aborted++;
  g_free (prepared);
}

static gboolean
gamma_prepare (gpointer state, SfConfig *cfg, gpointer *prepared, GError **error)
{
  gamma_state.prepared++;
  *prepared = g_strdup ("gamma");
  return TRUE;
}

static void
gamma_commit (gpointer state, gpointer prepared)
{
  gamma_state.committed++;
  g_free (prepared);
}

static void
gamma_abort (gpointer state, gpointer prepared)
{
  gamma_state.aborted++;
  g_free (prepared);
}

static const char *const alpha_restart[] = { "alpha.addr", NULL };
static const SfModuleDef gamma_module = {
  .name = "gamma", .doc = "test", .setup = test_setup,
  .reload_prepare = gamma_prepare, .reload_commit = gamma_commit, .reload_abort = gamma_abort,
};
static const SfModuleDef alpha_module = {
  .name = "alpha", .doc = "test", .declare = alpha_declare, .setup = test_setup, .restart_keys = alpha_restart,
  .reload_prepare = alpha_prepare, .reload_commit = alpha_commit, .reload_abort = alpha_abort,
};
static const SfModuleDef beta_module = { .name = "beta", .doc = "test", .declare = beta_declare };

/* A new configuration like @ep's with @assignment set; sf_modules_reload's result. */
static gboolean
reload_with (SfEndpoint *ep, const char *assignment, GPtrArray **changed, GError **error)
{
  SfConfig *next = sf_config_new_like (sf_endpoint_config (ep));
  gboolean ok = sf_config_set (next, assignment, error) && sf_modules_reload (ep, next, changed, error);
  sf_config_free (next);
  return ok;
}

static void
reload_two_phase (void)
{
  static const SfModuleDef *const modules[] = { &gamma_module, &alpha_module, &beta_module, NULL };
  memset (&alpha_state, 0, sizeof alpha_state);
  memset (&gamma_state, 0, sizeof gamma_state);
  SfConfig *cfg = sf_config_new ();
  SfRegistry *reg = sf_registry_new (cfg, modules);
  SfEndpoint *ep = sf_endpoint_new (sf_clock_new_fake (0), reg, cfg);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE (sf_modules_setup (ep, NULL, NULL, &error));
  CU_ASSERT_STRING_EQUAL (sf_config_section_owner (cfg, "alpha"), "alpha");
  CU_ASSERT_PTR_NULL (sf_config_section_owner (cfg, "core"));

  /* taken: prepare on all, then commit on all; the endpoint's configuration has the value */
  GPtrArray *changed = NULL;
  CU_ASSERT_TRUE (reload_with (ep, "alpha.limit=5", &changed, &error));
  CU_ASSERT_EQUAL (changed != NULL ? changed->len : 0, 1);
  if (changed != NULL && changed->len == 1)
    CU_ASSERT_STRING_EQUAL (changed->pdata[0], "alpha.limit");
  g_clear_pointer (&changed, g_ptr_array_unref);
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "alpha", "limit"), 5);
  CU_ASSERT_STRING_EQUAL (sf_config_get_source (cfg, "alpha", "limit"), "--set");
  CU_ASSERT_EQUAL (alpha_state.limit, 5);
  CU_ASSERT_EQUAL (alpha_state.committed, 1);
  CU_ASSERT_EQUAL (gamma_state.committed, 1);

  /* alpha refuses: gamma (prepared before it) is aborted, nothing changes */
  CU_ASSERT_FALSE (reload_with (ep, "alpha.limit=13", NULL, &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "not 13") : NULL);
  g_clear_error (&error);
  CU_ASSERT_EQUAL (gamma_state.aborted, 1);
  CU_ASSERT_EQUAL (gamma_state.committed, 1);
  CU_ASSERT_EQUAL (alpha_state.aborted, 0);
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "alpha", "limit"), 5);
  CU_ASSERT_EQUAL (alpha_state.limit, 5);

  /* a restart key, and a key of a module with no hooks: refused before any prepare, named */
  guint prepared = gamma_state.prepared;
  CU_ASSERT_FALSE (reload_with (ep, "alpha.addr=b", NULL, &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "alpha.addr (alpha) needs a restart") : NULL);
  g_clear_error (&error);
  CU_ASSERT_FALSE (reload_with (ep, "beta.x=2", NULL, &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "beta.x (beta) needs a restart") : NULL);
  g_clear_error (&error);
  CU_ASSERT_EQUAL (gamma_state.prepared, prepared);
  CU_ASSERT_STRING_EQUAL (sf_config_get_string (cfg, "alpha", "addr"), "a");
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "beta", "x"), 1);

  sf_modules_teardown (ep);
  sf_endpoint_free (ep);
  sf_registry_free (reg);
  sf_config_free (cfg);
}

/* A plugin's section: a plugin has no reload hooks, so a reload that changes
 * one of its keys is refused, naming the plugin (its operators may hold the
 * string the value had). */
static void
reload_plugin_section (void)
{
  static const SfModuleDef *const modules[] = { &alpha_module, NULL };
  SfConfig *cfg = sf_config_new ();
  SfRegistry *reg = sf_registry_new (cfg, modules);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE_FATAL (sf_registry_load_plugin (reg, PLUGIN ("sample"), &error));
  SfEndpoint *ep = sf_endpoint_new (sf_clock_new_fake (0), reg, cfg);
  CU_ASSERT_TRUE (sf_modules_setup (ep, NULL, NULL, &error));
  const char *held = sf_config_get_string (cfg, "sample", "greeting");
  CU_ASSERT_FALSE (reload_with (ep, "sample.greeting=bye", NULL, &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "sample.greeting (sample) needs a restart") : NULL);
  g_clear_error (&error);
  CU_ASSERT_PTR_EQUAL (sf_config_get_string (cfg, "sample", "greeting"), held);
  CU_ASSERT_STRING_EQUAL (held, "hi");
  /* the module's own keys still reload */
  CU_ASSERT_TRUE (reload_with (ep, "alpha.limit=7", NULL, &error));
  sf_modules_teardown (ep);
  sf_endpoint_free (ep);
  sf_registry_free (reg);
  sf_config_free (cfg);
}

void
sf_test_register_registry (void)
{
  CU_pSuite s = CU_add_suite ("registry", NULL, NULL);
  SF_ADD_TEST (s, builtin_table);
  SF_ADD_TEST (s, duplicates_refused);
  SF_ADD_TEST (s, reserved_outcome);
  SF_ADD_TEST (s, plugin_loads);
  SF_ADD_TEST (s, plugin_in_flow);
  SF_ADD_TEST (s, plugin_wrong_abi);
  SF_ADD_TEST (s, plugin_missing_symbol);
  SF_ADD_TEST (s, plugin_not_found);
  SF_ADD_TEST (s, reload_two_phase);
  SF_ADD_TEST (s, reload_plugin_section);
}
