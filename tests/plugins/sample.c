/* sample.c: a test plugin: one operator, one configuration section. */
#include "sipflow/sf-plugin.h"

static SfOpResult
sample_op_hello (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  sf_ctx_emit (ctx, "hello", NULL);
  return SF_OP_TRANSITION;
}

static const SfOperatorDef sample_ops[] = {
  { "OpHello", sample_op_hello, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "emits 'hello' and transitions" },
};

static const SfConfigKey sample_keys[] = {
  { "greeting", SF_CFG_STRING, "hi", 0, 0, NULL, "what to say" },
};

static gboolean
sample_register (SfPluginRegistrar *r, GError **error)
{
  return sf_plugin_add_operators (r, sample_ops, G_N_ELEMENTS (sample_ops), error) &&
         sf_plugin_add_config (r, "sample", sample_keys, G_N_ELEMENTS (sample_keys), error);
}

SF_PLUGIN_DEFINE ("sample", sample_register)
