/* sf-b2bua-module.c: the B2BUA bridge module (docs/b2bua.md): the bridge
 * operators (sf-op-bridge.c), the [b2bua] section, and per endpoint what the
 * bridges share: the count of live bridges (b2bua.max_calls), the media mode,
 * the status map and the failover targets. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-b2bua.h"
#include <string.h>

extern const SfOperatorDef sf_op_bridge_table[];
extern const gsize sf_op_bridge_table_len;

static const SfConfigKey b2bua_keys[] = {
  { "target", SF_CFG_STRING, NULL, 0, 0, NULL,
    "where calls go (a sip: URI; xml/b2bua.xml reads it as ${cfg.b2bua.target}); unset: calls get 404" },
  { "max_calls", SF_CFG_INT, "1000", 0, 1000000, NULL,
    "bridged calls at once; a new INVITE past it gets 503 with Retry-After (0: no limit but sip.max_instances)" },
  { "from", SF_CFG_STRING, NULL, 0, 0, NULL,
    "the From of B's INVITE, a name-addr (\"<sip:b2bua@example.com>\"); unset: ua.uri's (A's From is never copied)" },
  { "media", SF_CFG_ENUM, "pass", 0, 0, "pass|anchor",
    "pass: the SDP is relayed (connection address kept, o= rewritten); anchor: RTP relayed through us (c= and port ours, latching, RFC 4961)" },
  { "latch", SF_CFG_ENUM, "any", 0, 0, "any|sdp_host|off",
    "anchor: which RTP source a side's destination follows: the first heard (any), the first from the SDP's host, or none (off)" },
  { "relatch_ms", SF_CFG_INT, "1000", 1, 60000, NULL,
    "anchor: silence from the latched source before another source may take its place (ms)" },
  { "rtp_timeout", SF_CFG_INT, "0", 0, 3600, NULL,
    "anchor: seconds without RTP from either side before media:rtp_timeout reaches the bridge (0: never)" },
  { "refer", SF_CFG_ENUM, "off", 0, 0, "off|target_domain|any",
    "a REFER from either side: refused (off, 403), or the bridge calls its Refer-To and joins the other side to that "
    "call: only a target whose host is one the configuration calls (target_domain: the call's target, a failover "
    "target), or any (a caller could have us call anywhere: toll fraud)" },
  { "refer_from", SF_CFG_ENUM, "b", 0, 0, "b|any",
    "which side's REFER b2bua.refer may perform: the callee's only (b: the side the configuration chose), or the "
    "caller's too (any: an untrusted caller could have us call any user or port of an allowed host)" },
  { "status_map", SF_CFG_LIST, NULL, 0, 0, NULL,
    "B's final status to A's, FROM=TO rows (FROM a code or a class, 5xx) before the built-in ones (docs/b2bua.md)" },
  { "failover", SF_CFG_LIST, NULL, 0, 0, NULL,
    "targets (URIs) tried in order after the flow's when B fails with a status of failover_on" },
  { "failover_on", SF_CFG_LIST, "408,480,500,502,503,504", 0, 0, NULL,
    "B's final statuses (and 408 for no answer at all) that send the call to the next failover target" },
};

/* The built-in map (docs/b2bua.md): what A could misread from us is changed,
 * the callee's own answer (486, 600, 603, 404, 480, 484, 488, 606...) kept. */
static const SfB2bMapRow default_rows[] = {
  { 300, TRUE, 480 },   /* a redirect we do not follow: A would call the Contact we hide */
  { 401, FALSE, 403 },  /* a challenge for a hop A does not know */
  { 407, FALSE, 403 },
  { 408, FALSE, 408 },
  { 420, FALSE, 500 }, { 421, FALSE, 500 }, { 422, FALSE, 500 }, { 423, FALSE, 500 },
  { 481, FALSE, 500 }, { 489, FALSE, 500 },
  { 491, FALSE, 500 }, { 494, FALSE, 500 },  /* per-hop statuses: about B's leg, not A's */
  /* 482 and 483 are not: B's INVITE carries A's Max-Forwards, so they tell A
   * its request looped or went too far, and kept as they are (no failover_on
   * status) a loop through us unwinds once; turned into 500, a failover
   * status, every hop of the loop would try its failover targets again. */
  { 503, FALSE, 500 },  /* RFC 3261 16.7 spirit: A must not back off from us for B's overload */
};

gboolean
sf_b2b_parse_map (const char *const *items, GArray *rows, GError **error)
{
  for (guint i = 0; items != NULL && items[i] != NULL; i++) {
    const char *it = items[i];
    const char *eq = strchr (it, '=');
    SfB2bMapRow row = { 0 };
    char *end = NULL;
    if (eq == NULL)
      goto bad;
    if (eq - it == 3 && g_ascii_isdigit (it[0]) && it[1] == 'x' && it[2] == 'x') {
      row.from = (guint) (it[0] - '0') * 100;
      row.cls = TRUE;
    } else {
      guint64 v = g_ascii_strtoull (it, &end, 10);
      if (end != eq || v < 300 || v > 699)
        goto bad;
      row.from = (guint) v;
    }
    guint64 to = g_ascii_strtoull (eq + 1, &end, 10);
    if (end == eq + 1 || *end != '\0' || to < 300 || to > 699)
      goto bad;
    row.to = (guint) to;
    if (row.cls && (row.from < 300 || row.from > 600))
      goto bad;
    g_array_append_val (rows, row);
    continue;
  bad:
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "b2bua.status_map: '%s' is not FROM=TO (FROM 300-699 or a class 3xx-6xx, TO 300-699)", it);
    return FALSE;
  }
  return TRUE;
}

guint
sf_b2b_map_status (const SfB2bState *st, guint status)
{
  if (status < 300 || status > 699)
    return 500;
  for (guint pass = 0; pass < 2; pass++) /* exact codes first, then classes */
    for (guint i = 0; i < st->status_map->len; i++) {
      const SfB2bMapRow *r = &g_array_index (st->status_map, SfB2bMapRow, i);
      if (pass == 0 && !r->cls && r->from == status)
        return r->to;
      if (pass == 1 && r->cls && r->from / 100 == status / 100)
        return r->to;
    }
  return status;
}

void
sf_b2b_state_free (SfB2bState *st)
{
  if (st == NULL)
    return;
  g_free (st->from);
  g_clear_pointer (&st->status_map, g_array_unref);
  g_clear_pointer (&st->failover, g_array_unref);
  g_strfreev (st->targets);
  g_free (st);
}

SfB2bState *
sf_b2b_state_new (SfEndpoint *ep, SfConfig *cfg, GError **error)
{
  SfB2bState *st = g_new0 (SfB2bState, 1);
  st->ep = ep;
  st->status_map = g_array_new (FALSE, FALSE, sizeof (SfB2bMapRow));
  st->failover = g_array_new (FALSE, FALSE, sizeof (guint));
  st->max_calls = (guint) sf_config_get_int (cfg, "b2bua", "max_calls");
  st->media = g_strcmp0 (sf_config_get_string (cfg, "b2bua", "media"), "anchor") == 0 ? SF_B2B_MEDIA_ANCHOR
                                                                                    : SF_B2B_MEDIA_PASS;
  st->from = g_strdup (sf_config_get_string (cfg, "b2bua", "from"));
  st->refer_from_any = g_strcmp0 (sf_config_get_string (cfg, "b2bua", "refer_from"), "any") == 0;
  const char *refer = sf_config_get_string (cfg, "b2bua", "refer");
  st->refer = g_strcmp0 (refer, "any") == 0             ? SF_B2B_REFER_ANY
              : g_strcmp0 (refer, "target_domain") == 0 ? SF_B2B_REFER_TARGET_DOMAIN
                                                        : SF_B2B_REFER_OFF;
  const char *latch = sf_config_get_string (cfg, "b2bua", "latch");
  st->latch = g_strcmp0 (latch, "off") == 0        ? SF_RELAY_LATCH_OFF
              : g_strcmp0 (latch, "sdp_host") == 0 ? SF_RELAY_LATCH_SDP_HOST
                                                   : SF_RELAY_LATCH_ANY;
  st->relatch_ms = (guint) sf_config_get_int (cfg, "b2bua", "relatch_ms");
  st->rtp_timeout_ms = (guint) sf_config_get_int (cfg, "b2bua", "rtp_timeout") * 1000;
  if (!sf_b2b_parse_map (sf_config_get_list (cfg, "b2bua", "status_map"), st->status_map, error)) {
    sf_b2b_state_free (st);
    return NULL;
  }
  /* The configured rows come first: the first row that matches wins. */
  g_array_append_vals (st->status_map, default_rows, G_N_ELEMENTS (default_rows));
  const char *const *on = sf_config_get_list (cfg, "b2bua", "failover_on");
  for (guint i = 0; on != NULL && on[i] != NULL; i++) {
    char *end = NULL;
    guint64 v = g_ascii_strtoull (on[i], &end, 10);
    if (*on[i] == '\0' || *end != '\0' || v < 300 || v > 699) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "b2bua.failover_on: '%s' is no status 300-699",
                   on[i]);
      sf_b2b_state_free (st);
      return NULL;
    }
    guint s = (guint) v;
    g_array_append_val (st->failover, s);
  }
  const char *const *t = sf_config_get_list (cfg, "b2bua", "failover");
  for (guint i = 0; t != NULL && t[i] != NULL; i++)
    if (!g_str_has_prefix (t[i], "sip:") && !g_str_has_prefix (t[i], "sips:")) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "b2bua.failover: '%s' is no sip: or sips: URI",
                   t[i]);
      sf_b2b_state_free (st);
      return NULL;
    }
  st->targets = g_strdupv ((char **) t);
  return st;
}

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  SfConfig *cfg = sf_plugin_registrar_config (r);
  return (cfg == NULL || sf_config_declare (cfg, "b2bua", b2bua_keys, G_N_ELEMENTS (b2bua_keys), error)) &&
         sf_plugin_add_operators (r, sf_op_bridge_table, sf_op_bridge_table_len, error);
}

static gboolean
setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  /* Only a flow that bridges has bridges to count (no b2bua_calls in other flows' stats). */
  if (env->cfg == NULL || env->flow == NULL || !sf_machine_binds (env->flow, "OpBridgeAccept"))
    return TRUE;
  SfB2bState *st = sf_b2b_state_new (env->ep, env->cfg, error);
  if (st == NULL)
    return FALSE;
  *state = st;
  return TRUE;
}

static void
teardown (gpointer state)
{
  sf_b2b_state_free (state);
}

static char *
stats_fields (gpointer state)
{
  SfB2bState *st = state;
  return g_strdup_printf ("\"b2bua_calls\":%u", st->live);
}

const SfModuleDef sf_b2bua_module = {
  .name = "b2bua",
  .doc = "the back-to-back user agent's bridge: two ua.xml legs, one call each side (docs/b2bua.md)",
  .declare = declare,
  .setup = setup,
  .teardown = teardown,
  .stats_fields = stats_fields,
};
