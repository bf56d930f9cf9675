/* sf-ua-module.c: the ua module: the user agent's call, dialog and
 * registration operators and its [ua] section. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-ua-call.h"

extern const SfOperatorDef sf_op_ua_table[];
extern const gsize sf_op_ua_table_len;
extern const SfOperatorDef sf_op_uac_table[];
extern const gsize sf_op_uac_table_len;
extern const SfOperatorDef sf_op_session_timer_table[];
extern const gsize sf_op_session_timer_table_len;
extern const SfOperatorDef sf_op_prack_table[];
extern const gsize sf_op_prack_table_len;
extern const SfOperatorDef sf_op_update_table[];
extern const gsize sf_op_update_table_len;
extern const SfOperatorDef sf_op_message_table[];
extern const gsize sf_op_message_table_len;
extern const SfOperatorDef sf_op_register_table[];
extern const gsize sf_op_register_table_len;
extern const SfOperatorDef sf_op_refer_table[];
extern const gsize sf_op_refer_table_len;
extern const SfOperatorDef sf_op_subscribe_table[];
extern const gsize sf_op_subscribe_table_len;
extern const SfOperatorDef sf_op_replaces_table[];
extern const gsize sf_op_replaces_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  SfConfig *cfg = sf_plugin_registrar_config (r);
  return (cfg == NULL || sf_ua_declare_config (cfg, error)) &&
         sf_plugin_add_operators (r, sf_op_ua_table, sf_op_ua_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_uac_table, sf_op_uac_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_session_timer_table, sf_op_session_timer_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_prack_table, sf_op_prack_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_update_table, sf_op_update_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_message_table, sf_op_message_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_register_table, sf_op_register_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_subscribe_table, sf_op_subscribe_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_refer_table, sf_op_refer_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_replaces_table, sf_op_replaces_table_len, error);
}

/* The [ua] keys are checked together here, once the configuration is read,
 * so a bad one stops the program at start; the state keeps what is read from
 * a file (ua.offer_file). */
static gboolean
setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  if (env->cfg == NULL)
    return TRUE;
  *state = sf_ua_state_new (env->cfg, error);
  return *state != NULL;
}

static void
teardown (gpointer state)
{
  sf_ua_state_free (state);
}

/* [ua] is read when used: checking the new values, and reading the file
 * again, is all a reload needs. */
static gboolean
reload_prepare (gpointer state, SfConfig *cfg, gpointer *prepared, GError **error)
{
  *prepared = sf_ua_state_new (cfg, error);
  return *prepared != NULL;
}

static void
reload_commit (gpointer state, gpointer prepared)
{
  if (state != NULL)
    sf_ua_state_commit (state, prepared);
  else
    sf_ua_state_free (prepared);
}

static void
reload_abort (gpointer state, gpointer prepared)
{
  sf_ua_state_free (prepared);
}

const SfModuleDef sf_ua_module = {
  .name = "ua",
  .doc = "the user agent: calls, dialogs, registration (RFC 3261 8, 12, 13, 15, 10)",
  .declare = declare,
  .setup = setup,
  .teardown = teardown,
  .reload_prepare = reload_prepare,
  .reload_commit = reload_commit,
  .reload_abort = reload_abort,
};
