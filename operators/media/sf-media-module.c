/* sf-media-module.c: the media module: one media engine (media/sf-media.h,
 * media.backend: GStreamer's or the null one) per endpoint, its operators and
 * its [media] section.  A media event (the backend delivers them in the main
 * context) goes to its call as an event of kind media, not device: a received
 * digit must never look like the user's command to send one. */
#include "config.h"
#include "operators/sf-modules.h"
#include "media/sf-media.h"

extern const SfOperatorDef sf_op_media_table[];
extern const gsize sf_op_media_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  SfConfig *cfg = sf_plugin_registrar_config (r);
  return (cfg == NULL || sf_media_declare_config (cfg, error)) &&
         sf_plugin_add_operators (r, sf_op_media_table, sf_op_media_table_len, error);
}

static void
on_media_event (const char *call, const char *event, const char *arg, gpointer data)
{
  SfEndpoint *ep = data;
  SfInstance *inst = sf_endpoint_lookup_handle (ep, call);
  if (inst != NULL)
    sf_endpoint_post (ep, inst, sf_event_new (SF_EV_MEDIA, event, arg));
}

static gboolean
setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  if (env->cfg == NULL)
    return TRUE;
  SfMedia *media = sf_media_new (env->cfg, NULL, error);
  if (media == NULL)
    return FALSE;
  sf_media_set_event_func (media, on_media_event, env->ep);
  *state = media;
  return TRUE;
}

static void
teardown (gpointer state)
{
  sf_media_free (state);
}

static void
metrics (gpointer state, SfMetricsWriter *w)
{
  sf_metrics_family (w, "sipflow_media_streams", SF_METRIC_GAUGE, "RTP media streams running now (one per call with media).");
  sf_metrics_sample (w, sf_media_active_streams (state), NULL);
}

const SfModuleDef sf_media_module = {
  .name = "media",
  .doc = "RTP media through GStreamer (RFC 3550, 3551, 4733), SDP offer/answer (RFC 3264)",
  .declare = declare,
  .setup = setup,
  .teardown = teardown,
  .metrics = metrics,
};
