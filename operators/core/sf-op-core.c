/* sf-op-core.c: the core operators every flow may use: timers, device commands,
 * child instances, log and event output.  They carry no SIP knowledge; the
 * sample flows in xml/examples/ are built from them, and so is the teaching
 * material on the engine's semantics (docs/architecture.md, "Machine semantics"). */
#include "config.h"
#include "sipflow/sf-operator.h"
#include "framework/sf-flow.h"
#include "framework/sf-json.h"
#include "sipflow/sf-message.h"
#include <string.h>

/* ---- argument fix-ups (load time) ---- */

typedef struct {
  char *name;
  guint64 ms;
  char *expr;     /* nullable: a duration read at run time */
} TimerArg;

static void
timer_arg_free (gpointer p)
{
  TimerArg *t = p;
  g_free (t->name);
  g_free (t->expr);
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

/* "NAME=DURATION", DURATION a constant or ${...} read when the timer starts
 * ("no_answer=${cfg.flow.no_answer}"). */
static gboolean
fixup_timer (const char *text, gpointer *out, GError **error)
{
  const char *eq = strchr (text, '=');
  g_autofree char *name = eq != NULL ? g_strndup (text, eq - text) : NULL;
  guint64 ms = 0;
  gboolean dynamic = eq != NULL && strstr (eq + 1, "${") != NULL;
  if (eq == NULL || !sf_op_name_valid (name) || (!dynamic && !parse_duration_ms (eq + 1, &ms))) {
    g_set_error (error, SF_OP_ARG_ERROR, 0,
                 "expected NAME=DURATION such as 'ringing=250ms' or 'answer=2s', got '%s'", text);
    return FALSE;
  }
  TimerArg *t = g_new0 (TimerArg, 1);
  t->name = g_steal_pointer (&name);
  t->ms = ms;
  t->expr = dynamic ? g_strdup (eq + 1) : NULL;
  *out = t;
  return TRUE;
}

static gboolean
fixup_text (const char *text, gpointer *out, GError **error)
{
  *out = g_strdup (text);
  return TRUE;
}

/* Splits @text at spaces outside ${...} (transfer full). */
static char **
split_words (const char *text)
{
  GPtrArray *a = g_ptr_array_new ();
  const char *p = text;
  while (*p != '\0') {
    while (*p == ' ')
      p++;
    if (*p == '\0')
      break;
    const char *start = p;
    int depth = 0;
    while (*p != '\0' && (depth > 0 || *p != ' ')) {
      if (p[0] == '$' && p[1] == '{') {
        depth++;
        p++;
      } else if (*p == '}' && depth > 0) {
        depth--;
      }
      p++;
    }
    g_ptr_array_add (a, g_strndup (start, p - start));
  }
  g_ptr_array_add (a, NULL);
  return (char **) g_ptr_array_free (a, FALSE);
}

/* OpEmit: "NAME [KEY=EXPR]...". */
static gboolean
fixup_emit (const char *text, gpointer *out, GError **error)
{
  g_auto (GStrv) words = split_words (text);
  if (words[0] == NULL || !sf_op_name_valid (words[0])) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected an event name, then KEY=VALUE fields, got '%s'", text);
    return FALSE;
  }
  static const char *const reserved[] = { "event", "call", "instance", "machine", "state", "trigger", "time", NULL };
  for (guint i = 1; words[i] != NULL; i++) {
    const char *eq = strchr (words[i], '=');
    g_autofree char *key = eq != NULL ? g_strndup (words[i], eq - words[i]) : NULL;
    if (key == NULL || !sf_op_name_valid (key) || g_strv_contains (reserved, key)) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "field '%s': expected KEY=VALUE, KEY a name other than %s", words[i],
                   "event, call, instance, machine, state, trigger, time");
      return FALSE;
    }
  }
  *out = g_strdup (text);
  return TRUE;
}

/* OpSet: "NAME=EXPR" (the loader checked NAME is a variable). */
static gboolean
fixup_set (const char *text, gpointer *out, GError **error)
{
  const char *eq = strchr (text, '=');
  g_autofree char *name = eq != NULL ? g_strstrip (g_strndup (text, eq - text)) : NULL;
  if (name == NULL || !sf_op_name_valid (name)) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected NAME=VALUE ('digits=${var.digits}${dtmf}'), got '%s'", text);
    return FALSE;
  }
  *out = g_strdup (text);
  return TRUE;
}

/* ---- operators ---- */

static SfOpResult
sf_op_log (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  g_autofree char *text = sf_ctx_expand (ctx, ev, arg);
  g_message ("%s %s: %s (%s)", sf_ctx_handle (ctx), sf_ctx_state (ctx), text, sf_event_trigger (ev));
  return SF_OP_CONTINUE;
}

static SfOpResult
sf_op_emit (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  g_auto (GStrv) words = split_words (arg);
  GString *f = g_string_new (NULL);
  g_string_append (f, "\"state\":");
  sf_json_append_string (f, sf_ctx_state (ctx));
  g_string_append (f, ",\"trigger\":");
  sf_json_append_string (f, sf_event_trigger (ev));
  for (guint i = 1; words[i] != NULL; i++) {
    const char *eq = strchr (words[i], '=');
    g_autofree char *key = g_strndup (words[i], eq - words[i]);
    g_autofree char *value = sf_ctx_expand (ctx, ev, eq + 1);
    g_string_append_c (f, ',');
    sf_json_append_string (f, key);
    g_string_append_c (f, ':');
    sf_json_append_string (f, value);
  }
  g_autofree char *fields = g_string_free (f, FALSE);
  sf_ctx_emit (ctx, words[0], fields);
  return SF_OP_CONTINUE;
}

static SfOpResult
sf_op_set (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const char *text = arg;
  const char *eq = strchr (text, '=');
  g_autofree char *name = g_strstrip (g_strndup (text, eq - text));
  g_autofree char *value = sf_ctx_expand (ctx, ev, eq + 1);
  if (!sf_ctx_set_var (ctx, name, value)) {
    sf_log (ctx, G_LOG_LEVEL_WARNING, "no variable '%s' in this flow", name);
    return SF_OP_ERROR;
  }
  return SF_OP_CONTINUE;
}

static SfOpResult
sf_op_reply (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const SfReplySpec *r = arg;
  SfMessage *req = sf_message_from_event (ev);
  if (req == NULL || !sf_message_is_request (req))
    return SF_OP_SKIP;
  g_autofree char *reason = sf_reply_spec_reason (r, ctx, ev);
  g_auto (GStrv) headers = sf_reply_spec_headers (r, ctx, ev);
  g_autoptr (GError) error = NULL;
  gboolean ok = sf_message_reply (ctx, req, r->status, reason, (const char *const *) headers, &error);
  if (!ok) {
    sf_log (ctx, G_LOG_LEVEL_WARNING, "cannot answer %u: %s", r->status, error->message);
    return SF_OP_ERROR;
  }
  return SF_OP_TRANSITION;
}

static SfOpResult
sf_op_start_timer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const TimerArg *t = arg;
  guint64 ms = t->ms;
  if (t->expr != NULL) {
    g_autofree char *text = sf_ctx_expand (ctx, ev, t->expr);
    if (!parse_duration_ms (text, &ms)) {
      sf_log (ctx, G_LOG_LEVEL_WARNING, "timer %s: '%s' is not a duration (250ms, 5s): not started", t->name, text);
      return SF_OP_ERROR;
    }
  }
  sf_ctx_timer_start (ctx, t->name, ms);
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
  { "OpLog", sf_op_log, SF_Q_ALL, SF_EV_ANY, SF_OPF_EXPR_ARG, NULL, SF_ARG_REQUIRED, fixup_text, g_free,
    "logs its argument, its ${...} expanded (log level message), with the instance, state and event", "*",
    "TEXT with ${...}", NULL },
  { "OpEmit", sf_op_emit, SF_Q_ALL, SF_EV_ANY, SF_OPF_EXPR_ARG, NULL, SF_ARG_REQUIRED, fixup_emit, g_free,
    "writes the event line {\"event\":NAME,...} with the state, the trigger and its KEY=VALUE fields (values "
    "with ${...}) on the event output: 'screened caller=${from.user}'", "*", "NAME [KEY=VALUE]...", NULL },
  { "OpSet", sf_op_set, SF_Q_ALL, SF_EV_ANY, SF_OPF_EXPR_ARG | SF_OPF_SETS_VAR, NULL, SF_ARG_REQUIRED, fixup_set,
    g_free, "sets the instance variable NAME (a <var> of the flow) to VALUE, its ${...} expanded: "
    "'digits=${var.digits}${dtmf}'; a value is cut at 1024 bytes", "*", "NAME=VALUE", NULL },
  { "OpReply", sf_op_reply, SF_Q_NORMAL | SF_Q_ENTRY, SF_EV_SIP, SF_OPF_TRANSITIONS | SF_OPF_EXPR_ARG, NULL,
    SF_ARG_REQUIRED, sf_reply_spec_fixup, sf_reply_spec_free,
    "answers the request of its event with CODE, REASON (nullable: the standard phrase) and the header lines "
    "after '|', values with ${...}: '603 Declined', '302 Moved Temporarily | Contact: <${cfg.flow.fallback}>'; "
    "it transitions to next when it has one.  A final answer ends the server transaction, so the flow must "
    "then leave the request alone", "sip:*", "CODE [REASON] [| Header: value]...", "RFC 3261 8.2.6" },
  { "OpStartTimer", sf_op_start_timer, SF_Q_ALL, SF_EV_ANY, SF_OPF_EXPR_ARG, NULL, SF_ARG_REQUIRED, fixup_timer, timer_arg_free,
    "starts (or restarts) the instance timer NAME=DURATION ('ringing=250ms'); it fires as timer:NAME; the "
    "duration may be read when it starts: 'no_answer=${cfg.flow.no_answer}'", "*",
    "NAME=DURATION (250ms, 5s, or ${...})", NULL },
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
