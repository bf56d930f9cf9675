/* sf-test.c: shared test helpers and the scriptable test operators (see sf-test.h).
 *
 * Test operators (namespace-less, added to each test registry):
 *   TSkip TCont TDone     return SKIP / CONTINUE / DONE
 *   TTrans                returns TRANSITION
 *   TError                returns ERROR
 *   TOutcome              returns the outcome named by the event's arg (busy, answered)
 *   TEntryTrans           sits in entry/exit queues and asks for a transition anyway
 *   TTimerOnly            looks only at timer events, returns TRANSITION
 *   TOn                   TRANSITION when the event name equals its arg, else SKIP
 * Every call is recorded as "Name(arg)@State:queue" in sf_test_calls. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-test.h"
#include "states/sf-runtime.h"
#include <stdarg.h>
#include <string.h>

GPtrArray *sf_test_calls;

static void
record (SfCtx *ctx, gconstpointer arg)
{
  if (sf_test_calls == NULL)
    sf_test_calls = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (sf_test_calls, g_strdup_printf ("%s(%s)@%s:%s", sf_ctx_op_name (ctx), arg != NULL ? (const char *) arg : "",
                                                   sf_ctx_state (ctx), sf_queue_name (ctx->queue)));
}

#define SIMPLE(fn, result)                                         \
  static SfOpResult fn (SfCtx *ctx, SfEvent *ev, gconstpointer arg) \
  {                                                                 \
    record (ctx, arg);                                              \
    return result;                                                  \
  }
SIMPLE (t_skip, SF_OP_SKIP)
SIMPLE (t_cont, SF_OP_CONTINUE)
SIMPLE (t_done, SF_OP_DONE)
SIMPLE (t_trans, SF_OP_TRANSITION)
SIMPLE (t_error, SF_OP_ERROR)
SIMPLE (t_entry_trans, SF_OP_TRANSITION)
SIMPLE (t_timer_only, SF_OP_TRANSITION)

static const char *const t_outcomes[] = { "busy", "answered", NULL };

static SfOpResult
t_outcome (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  record (ctx, arg);
  if (g_strcmp0 (ev->arg, "busy") == 0)
    return SF_OP_OUTCOME (0);
  if (g_strcmp0 (ev->arg, "answered") == 0)
    return SF_OP_OUTCOME (1);
  if (g_strcmp0 (ev->arg, "bogus") == 0)
    return SF_OP_OUTCOME (7); /* an outcome it never declared: a programming error */
  return SF_OP_SKIP;
}

static SfOpResult
t_on (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (g_strcmp0 (ev->name, arg) != 0)
    return SF_OP_SKIP;
  record (ctx, arg);
  return SF_OP_TRANSITION;
}

static const SfOperatorDef test_ops[] = {
  { "TSkip", t_skip, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, NULL, NULL, "test", NULL, NULL, NULL },
  { "TCont", t_cont, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, NULL, NULL, "test", NULL, NULL, NULL },
  { "TDone", t_done, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, NULL, NULL, "test", NULL, NULL, NULL },
  { "TTrans", t_trans, SF_Q_NORMAL, SF_EV_ANY, SF_OPF_TRANSITIONS, NULL, SF_ARG_OPTIONAL, NULL, NULL, "test", NULL, NULL, NULL },
  { "TError", t_error, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, NULL, NULL, "test", NULL, NULL, NULL },
  { "TOutcome", t_outcome, SF_Q_NORMAL, SF_EV_DEVICE, 0, t_outcomes, SF_ARG_OPTIONAL, NULL, NULL, "test", NULL, NULL, NULL },
  { "TEntryTrans", t_entry_trans, SF_Q_ENTRY | SF_Q_EXIT, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, NULL, NULL, "test", NULL, NULL, NULL },
  { "TTimerOnly", t_timer_only, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_OPTIONAL, NULL, NULL,
    "test", NULL, NULL, NULL },
  { "TOn", t_on, SF_Q_NORMAL, SF_EV_ANY, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED, NULL, NULL, "test", NULL, NULL, NULL },
};

static void
capture (const char *line, gpointer data)
{
  g_ptr_array_add (((SfTestEnv *) data)->lines, g_strdup (line));
}

static void
on_untaken (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, gpointer data)
{
  g_ptr_array_add (((SfTestEnv *) data)->untaken,
                   g_strdup_printf ("%s %s %s", sf_instance_handle (inst), sf_instance_state (inst), sf_event_trigger (ev)));
}

SfTestEnv *
sf_test_env_new (void)
{
  SfTestEnv *env = g_new0 (SfTestEnv, 1);
  env->cfg = sf_config_new ();
  env->reg = sf_registry_new (env->cfg, sf_builtin_modules);
  /* no test shares a database file with another: those of the store make their own */
  if (!sf_config_set (env->cfg, "location.backend=memory", NULL))
    g_error ("location.backend is not declared");
  g_autoptr (GError) error = NULL;
  if (!sf_registry_add (env->reg, NULL, test_ops, G_N_ELEMENTS (test_ops), &error))
    g_error ("test operators: %s", error->message);
  env->ep = sf_endpoint_new (sf_clock_new_fake (0), env->reg, env->cfg);
  env->loader = sf_loader_new (env->reg);
  env->lines = g_ptr_array_new_with_free_func (g_free);
  env->untaken = g_ptr_array_new_with_free_func (g_free);
  sf_endpoint_set_emit (env->ep, capture, env);
  sf_endpoint_set_untaken (env->ep, on_untaken, env);
  if (sf_test_calls != NULL)
    g_ptr_array_set_size (sf_test_calls, 0);
  return env;
}

void
sf_test_env_free (SfTestEnv *env)
{
  sf_endpoint_free (env->ep);
  sf_loader_free (env->loader);
  sf_registry_free (env->reg);
  sf_config_free (env->cfg);
  g_ptr_array_unref (env->lines);
  g_ptr_array_unref (env->untaken);
  g_clear_pointer (&sf_test_calls, g_ptr_array_unref);
  g_free (env);
}

SfMachine *
sf_test_load (SfTestEnv *env, const char *name, const char *xml)
{
  g_autoptr (GBytes) data = g_bytes_new (xml, strlen (xml));
  g_autoptr (GError) error = NULL;
  SfMachine *m = sf_loader_load_bytes (env->loader, name, data, &error);
  if (m == NULL)
    g_printerr ("sf_test_load: %s\n", error->message);
  return m;
}

guint
sf_test_count (SfTestEnv *env, ...)
{
  guint n = 0;
  for (guint i = 0; i < env->lines->len; i++) {
    const char *line = env->lines->pdata[i];
    gboolean all = TRUE;
    va_list ap;
    va_start (ap, env);
    for (const char *s = va_arg (ap, const char *); s != NULL; s = va_arg (ap, const char *))
      if (strstr (line, s) == NULL)
        all = FALSE;
    va_end (ap);
    if (all)
      n++;
  }
  return n;
}

char *
sf_test_take_calls (void)
{
  if (sf_test_calls == NULL || sf_test_calls->len == 0)
    return g_strdup ("");
  g_ptr_array_add (sf_test_calls, NULL);
  char *s = g_strjoinv (" ", (char **) sf_test_calls->pdata);
  g_ptr_array_set_size (sf_test_calls, 0);
  return s;
}

gboolean
sf_test_has_diag (SfLoader *loader, int line, gboolean warning, const char *needle)
{
  GPtrArray *d = sf_loader_diagnostics (loader);
  for (guint i = 0; i < d->len; i++) {
    SfDiag *x = d->pdata[i];
    if ((line == 0 || x->line == line) && x->warning == warning && strstr (x->message, needle) != NULL)
      return TRUE;
  }
  return FALSE;
}

GSocket *
sf_test_peer_new (SfTestEnv *env, GInetSocketAddress **to, guint *port)
{
  const char *line = NULL;
  for (guint i = env->lines->len; i > 0 && line == NULL; i--)
    if (strstr (env->lines->pdata[i - 1], "\"event\":\"listening\"") != NULL)
      line = env->lines->pdata[i - 1];
  g_assert (line != NULL);
  guint stack_port = (guint) g_ascii_strtoull (strstr (line, "\"port\":") + 7, NULL, 10);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  *to = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (lo, (guint16) stack_port));
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert (g_socket_bind (sock, any, FALSE, NULL));
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (sock, NULL);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_socket_set_blocking (sock, FALSE);
  return sock;
}

SfTestStack *
sf_test_stack_new (SfTestEnv *env, SfMachine *tu)
{
  SfTestStack *t = g_new0 (SfTestStack, 1);
  t->env = env;
  t->tu = tu;
  g_autoptr (GError) error = NULL;
  t->stack = sf_stack_new (env->ep, env->loader, tu, &error);
  if (t->stack == NULL)
    g_error ("sf_test_stack_new: %s", error->message);
  g_assert (sf_stack_listen (t->stack, "udp:127.0.0.1:0", NULL));
  t->peer = sf_test_peer_new (env, &t->to, &t->port);
  return t;
}

void
sf_test_stack_free (SfTestStack *t, void (*teardown) (SfEndpoint *ep))
{
  g_autoptr (GPtrArray) left = sf_endpoint_instances (t->env->ep);
  for (guint i = 0; i < left->len; i++)
    sf_endpoint_kill (t->env->ep, left->pdata[i], "test end");
  sf_stack_free (t->stack);
  if (teardown != NULL)
    teardown (t->env->ep);
  if (t->tu != NULL)
    sf_machine_unref (t->tu);
  g_object_unref (t->peer);
  g_object_unref (t->to);
  sf_test_env_free (t->env);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_free (t);
}

void
sf_test_stack_send (SfTestStack *t, const char *text)
{
  g_autofree char *port = g_strdup_printf ("%u", t->port);
  g_auto (GStrv) parts = g_strsplit (text, "%PORT%", -1);
  g_autofree char *out = g_strjoinv (port, parts);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), out, strlen (out), NULL, NULL);
}

char *
sf_test_stack_recv (SfTestStack *t)
{
  if (!sf_test_peer_wait (t->peer))
    return NULL;
  char buf[8192];
  gssize n = g_socket_receive (t->peer, buf, sizeof buf - 1, NULL, NULL);
  return n > 0 ? g_strndup (buf, (gsize) n) : NULL;
}

char *
sf_test_header (const char *m, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("\r\n%s: ", name);
  const char *p = m != NULL ? strstr (m, needle) : NULL;
  return p != NULL ? g_strndup (p + strlen (needle), strcspn (p + strlen (needle), "\r\n")) : NULL;
}

static gboolean
peer_timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
sf_test_peer_wait (GSocket *sock)
{
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, peer_timed_out, &out);
  while (!out && !g_socket_condition_check (sock, G_IO_IN))
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  return g_socket_condition_check (sock, G_IO_IN) != 0;
}

gboolean
sf_test_peer_quiet (GSocket *sock)
{
  for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  return !g_socket_condition_check (sock, G_IO_IN);
}
