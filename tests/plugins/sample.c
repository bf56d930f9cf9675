/* sample.c: a test plugin: two operators (one keeps per-instance data), one
 * configuration section. */
#include "sipflow/sf-plugin.h"

static SfOpResult
sample_op_hello (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  sf_ctx_emit (ctx, "hello", NULL);
  return SF_OP_TRANSITION;
}

/* Counts the events it takes in the instance's plugin data. */
static SfOpResult
sample_op_count (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  guint *n = sf_ctx_plugin_data (ctx);
  if (n == NULL) {
    n = g_new0 (guint, 1);
    sf_ctx_set_plugin_data (ctx, n, g_free);
  }
  g_autofree char *fields = g_strdup_printf ("\"n\":%u", ++*n);
  sf_ctx_emit (ctx, "count", fields);
  return SF_OP_DONE;
}

static const SfOperatorDef sample_ops[] = {
  { "OpHello", sample_op_hello, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "emits 'hello' and transitions", "device", NULL, NULL },
  { "OpCount", sample_op_count, SF_Q_NORMAL, SF_EV_DEVICE, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "counts the events it takes in the instance's plugin data and emits 'count' with n", "device", NULL, NULL },
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
