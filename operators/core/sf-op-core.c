/* sf-op-core.c: the core operators every flow may use: timers, device commands,
 * child instances, log and event output.  They carry no SIP knowledge; the
 * sample flows in xml/examples/ are built from them, and so is the teaching
 * material on the engine's semantics (docs/architecture.md, "Machine semantics"). */
#include "config.h"
#include "sipflow/sf-operator.h"
#include "framework/sf-json.h"
#include <string.h>

/* ---- argument fix-ups (load time) ---- */

typedef struct {
  char *name;
  guint64 ms;
} TimerArg;

static void
timer_arg_free (gpointer p)
{
  TimerArg *t = p;
  g_free (t->name);
  g_free (t);
}

/* "250ms", "2s": a duration up to one day. */
static gboolean
parse_duration_ms (const char *text, guint64 *ms)
{
  char *end = NULL;
  if (!g_ascii_isdigit (*text))
    return FALSE;
  guint64 v = g_ascii_strtoull (text, &end, 10);
  if (end == text || v > 86400000)
    return FALSE;
  if (strcmp (end, "ms") == 0)
    *ms = v;
  else if (strcmp (end, "s") == 0 && v <= 86400)
    *ms = v * 1000;
  else
    return FALSE;
  return TRUE;
}

static gboolean
fixup_timer (const char *text, gpointer *out, GError **error)
{
  const char *eq = strchr (text, '=');
  g_autofree char *name = eq != NULL ? g_strndup (text, eq - text) : NULL;
  guint64 ms = 0;
  if (eq == NULL || !sf_op_name_valid (name) || !parse_duration_ms (eq + 1, &ms)) {
    g_set_error (error, SF_OP_ARG_ERROR, 0,
                 "expected NAME=DURATION such as 'ringing=250ms' or 'answer=2s', got '%s'", text);
    return FALSE;
  }
  TimerArg *t = g_new0 (TimerArg, 1);
  t->name = g_steal_pointer (&name);
  t->ms = ms;
  *out = t;
  return TRUE;
}

static gboolean
fixup_text (const char *text, gpointer *out, GError **error)
{
  *out = g_strdup (text);
  return TRUE;
}

/* ---- operators ---- */

static SfOpResult
sf_op_log (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  g_message ("%s %s: %s (%s)", sf_ctx_handle (ctx), sf_ctx_state (ctx), (const char *) arg, sf_event_trigger (ev));
  return SF_OP_CONTINUE;
}

static SfOpResult
sf_op_emit (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  GString *f = g_string_new (NULL);
  g_string_append (f, "\"state\":");
  sf_json_append_string (f, sf_ctx_state (ctx));
  g_string_append (f, ",\"trigger\":");
  sf_json_append_string (f, sf_event_trigger (ev));
  g_autofree char *fields = g_string_free (f, FALSE);
  sf_ctx_emit (ctx, arg, fields);
  return SF_OP_CONTINUE;
}

static SfOpResult
sf_op_start_timer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const TimerArg *t = arg;
  sf_ctx_timer_start (ctx, t->name, t->ms);
  return SF_OP_CONTINUE;
}

static SfOpResult
sf_op_cancel_timer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  sf_ctx_timer_cancel (ctx, arg);
  return SF_OP_CONTINUE;
}

/* The dispatcher called it only for its binding's trigger. */
static SfOpResult
sf_op_go (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return SF_OP_TRANSITION;
}

/* OpOnTimer, OpOnDevice, OpOnTxn: the event named ARG (the dispatcher checked
 * the kind), or, without an arg, whatever their trigger let through. */
static SfOpResult
sf_op_on_named (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return arg == NULL || strcmp (sf_event_name (ev), arg) == 0 ? SF_OP_TRANSITION : SF_OP_SKIP;
}


static SfOpResult
sf_op_on_child_end (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const SfChildEnd *ce = sf_event_payload (ev);
  if (strcmp (sf_event_name (ev), "end") != 0 || ce == NULL)
    return SF_OP_SKIP;
  /* ARG names the child as the flow imported it (OpSpawn's arg); a child from
   * elsewhere matches by its flow name. */
  if (arg != NULL && strcmp (ce->import != NULL ? ce->import : ce->machine, arg) != 0)
    return SF_OP_SKIP;
  return SF_OP_TRANSITION;
}

static SfOpResult
sf_op_spawn (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  g_autoptr (GError) error = NULL;
  if (sf_ctx_spawn (ctx, arg, NULL, &error) == NULL) {
    g_warning ("%s: OpSpawn: %s", sf_ctx_handle (ctx), error->message);
    return SF_OP_ERROR;
  }
  return SF_OP_CONTINUE;
}

static SfOpResult
sf_op_ignore (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (arg != NULL && strcmp (sf_event_name (ev), arg) != 0)
    return SF_OP_SKIP;
  return SF_OP_DONE;
}

const SfOperatorDef sf_op_core_table[] = {
  { "OpLog", sf_op_log, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, fixup_text, g_free,
    "logs its argument (log level message) with the instance, state and event", "*", "TEXT", NULL },
  { "OpEmit", sf_op_emit, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, sf_op_fixup_name, g_free,
    "writes the event line {\"event\":ARG,...} with the state and trigger on the event output", "*", "NAME", NULL },
  { "OpStartTimer", sf_op_start_timer, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, fixup_timer, timer_arg_free,
    "starts (or restarts) the instance timer NAME=DURATION ('ringing=250ms'); it fires as timer:NAME", "*",
    "NAME=DURATION (250ms, 5s)", NULL },
  { "OpCancelTimer", sf_op_cancel_timer, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, sf_op_fixup_name, g_free,
    "cancels the instance timer NAME if it is running", "*", "NAME", NULL },
  { "OpGo", sf_op_go, SF_Q_NORMAL, SF_EV_ANY, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes its trigger (on=\"timer:no_answer\", on=\"device:hangup|device:shutdown\") and transitions to next: "
    "a transition and nothing else, the arrow of a state diagram", "*", NULL, NULL },
  { "OpOnTimer", sf_op_on_named, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS | SF_OPF_ARG_OR_ON, NULL, SF_ARG_OPTIONAL, sf_op_fixup_name,
    g_free, "takes timer:NAME (ARG, or the name its on=\"timer:NAME\" gives) and transitions to next", "timer:$arg",
    "NAME", NULL },
  { "OpOnDevice", sf_op_on_named, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS | SF_OPF_ARG_OR_ON, NULL, SF_ARG_OPTIONAL,
    sf_op_fixup_name, g_free, "takes the device (control) command NAME (ARG, or its trigger's) and transitions to next",
    "device:$arg", "NAME", NULL },
  { "OpOnTxn", sf_op_on_named, SF_Q_NORMAL, SF_EV_TXN, SF_OPF_TRANSITIONS | SF_OPF_ARG_OR_ON, NULL, SF_ARG_OPTIONAL, sf_op_fixup_name, g_free,
    "takes the transaction event NAME (timeout, transport_error; ARG, or its trigger's) and transitions to next",
    "txn:$arg", "NAME", NULL },
  { "OpOnChildEnd", sf_op_on_child_end, SF_Q_NORMAL, SF_EV_CHILD, SF_OPF_TRANSITIONS, NULL, SF_ARG_OPTIONAL,
    sf_op_fixup_name, g_free, "takes the end of a child instance (spawned as ARG, or any) and transitions to next",
    "child:end", "NAME (the import)", NULL },
  { "OpSpawn", sf_op_spawn, SF_Q_ENTRY | SF_Q_NORMAL, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, sf_op_fixup_name, g_free,
    "creates a child instance of the machine the flow imports as ARG; its end comes back as child:end", "*",
    "NAME (an <import>)", NULL },
  { "OpIgnore", sf_op_ignore, SF_Q_NORMAL, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, sf_op_fixup_name, g_free,
    "takes (and drops) the events of its trigger (every event, or those named ARG), so they are not counted as "
    "untaken", "*:$arg", "NAME", NULL },
};
const gsize sf_op_core_table_len = G_N_ELEMENTS (sf_op_core_table);
