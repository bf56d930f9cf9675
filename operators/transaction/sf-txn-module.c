/* sf-txn-module.c: the transaction module: the SIP stack (operators/transaction/sf-stack.h:
 * transports, transaction matching, the four transaction machines of
 * xml/transaction/ and the hand-over to the flow being run), its operators and
 * its [sip] section.  Without sip.listen (or --listen) there is no stack: the
 * flow runs without SIP. */
#include "config.h"
#include "operators/sf-modules.h"
#include "operators/transaction/sf-stack.h"
#include "states/sf-machine.h"

extern const SfOperatorDef sf_op_txn_table[];
extern const gsize sf_op_txn_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  SfConfig *cfg = sf_plugin_registrar_config (r);
  return (cfg == NULL || sf_stack_declare_config (cfg, error)) &&
         sf_plugin_add_operators (r, sf_op_txn_table, sf_op_txn_table_len, error);
}

/* Does @m (or a machine it imports) have an operator that looks at SIP
 * messages or transaction events? */
static gboolean
speaks_sip (SfMachine *m, GHashTable *seen)
{
  if (!g_hash_table_add (seen, m))
    return FALSE;
  for (guint i = 0; i < m->states->len; i++) {
    SfState *st = m->states->pdata[i];
    for (int q = 0; q < SF_QUEUE_COUNT; q++)
      for (guint k = 0; st->queues[q] != NULL && k < st->queues[q]->len; k++) {
        const SfBinding *b = st->queues[q]->pdata[k];
        /* what it is called for: the flow's on="", else the operator's own
         * events; every kind (a generic operator, a '*') says nothing */
        guint kinds = b->on != NULL ? b->on->kinds : b->op != NULL ? b->op->events : 0;
        if (kinds != SF_EV_ANY && (kinds & (SF_EV_SIP | SF_EV_TXN)) != 0)
          return TRUE;
      }
  }
  GHashTableIter it;
  gpointer v;
  if (m->imports != NULL) {
    g_hash_table_iter_init (&it, m->imports);
    while (g_hash_table_iter_next (&it, NULL, &v))
      if (speaks_sip (v, seen))
        return TRUE;
  }
  return FALSE;
}

static gboolean
setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  if (env->cfg == NULL || env->flow == NULL || env->loader == NULL)
    return TRUE;
  const char *const *specs = sf_config_get_list (env->cfg, "sip", "listen");
  if (specs == NULL || specs[0] == NULL) {
    /* a flow of SIP with no socket would sit silent: say so (a warning, not
     * an error: such a flow may still be driven by its control commands) */
    g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
    if (speaks_sip (env->flow, seen))
      g_warning ("%s: no SIP socket (neither --listen nor sip.listen): it will send and receive no SIP message",
                 env->flow->file);
    return TRUE;
  }
  /* It attaches itself (tests make stacks without the module list). */
  *state = sf_stack_new (env->ep, env->loader, env->flow, error);
  return *state != NULL;
}

/* The sockets open last, once every module (the proxy's gate) is in place. */
static gboolean
start (gpointer state, GError **error)
{
  SfStack *s = state;
  SfConfig *cfg = sf_stack_config (s);
  const char *const *specs = sf_config_get_list (cfg, "sip", "listen");
  const char *source = sf_config_get_source (cfg, "sip", "listen");
  for (const char *const *sp = specs; *sp != NULL; sp++)
    if (!sf_stack_listen (s, *sp, error)) {
      if (g_strcmp0 (source, "--listen") == 0)
        g_prefix_error (error, "--listen %s: ", *sp);
      else
        g_prefix_error (error, "sip.listen (%s): %s: ", source, *sp);
      return FALSE;
    }
  return TRUE;
}

static void
teardown (gpointer state)
{
  sf_stack_free (state);
}

static char *
stats_fields (gpointer state)
{
  return sf_stack_stats_fields (state);
}

/* The stack reads the new [sip] values from the endpoint's configuration at
 * the commit.  The [tls] files are read again here (a renewed certificate
 * under the same name is taken too): one missing or wrong refuses the reload,
 * and the old ones stay. */
static gboolean
reload_prepare (gpointer state, SfConfig *cfg, gpointer *prepared, GError **error)
{
  if (state == NULL)
    return TRUE;
  *prepared = sf_stack_tls_load (cfg, error);
  return *prepared != NULL;
}

/* New TLS connections get the new files; those open keep what they shook
 * hands with (no call is dropped). */
static void
reload_commit (gpointer state, gpointer prepared)
{
  if (state == NULL)
    return;
  sf_stack_reconfigure (state);
  if (prepared != NULL) {
    sf_sip_transport_set_tls (sf_stack_transport (state), prepared);
    sf_sip_tls_config_unref (prepared);
  }
}

static void
reload_abort (gpointer state, gpointer prepared)
{
  sf_sip_tls_config_unref (prepared);
}

/* The sockets are opened once; the advertised address is in every dialog's route set. */
static const char *const restart_keys[] = { "sip.listen", "sip.advertise", "sip.dns_servers", "sip.dns_timeout_ms",
                                             "sip.dns_tries", NULL };

static void
metrics (gpointer state, SfMetricsWriter *w)
{
  sf_stack_metrics (state, w);
}

const SfModuleDef sf_transaction_module = {
  .name = "transaction",
  .doc = "the SIP stack: transports, transactions (RFC 3261 17), the hand-over to the flow",
  .declare = declare,
  .setup = setup,
  .start = start,
  .teardown = teardown,
  .stats_fields = stats_fields,
  .restart_keys = restart_keys,
  .reload_prepare = reload_prepare,
  .reload_commit = reload_commit,
  .reload_abort = reload_abort,
  .metrics = metrics,
};
