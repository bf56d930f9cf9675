/* sf-ua-ops.c: 'sipflow ops', the operator reference printed from the
 * modules' operator tables (SfOperatorDef), so the reference and the code
 * cannot disagree; docs/operators.md is this command's --markdown output. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-ua.h"
#include "framework/sf-registry.h"
#include <stdio.h>
#include <string.h>

/* "entry, normal" for a SfQueueMask. */
static char *
queues_text (guint mask)
{
  static const char *const names[] = { "entry", "normal", "exit" };
  GString *s = g_string_new (NULL);
  for (guint q = 0; q < G_N_ELEMENTS (names); q++)
    if (mask & (1u << q))
      g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", names[q]);
  return g_string_free (s, FALSE);
}

/* "sip, txn" for an SfEventKind mask; "any" when it is every kind. */
static char *
events_text (guint mask)
{
  if ((mask & SF_EV_ANY) == SF_EV_ANY)
    return g_strdup ("any");
  GString *s = g_string_new (NULL);
  for (guint bit = 1; bit != 0 && bit <= SF_EV_ANY; bit <<= 1)
    if (mask & bit)
      g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", sf_event_kind_name ((SfEventKind) bit));
  return g_string_free (s, FALSE);
}

static const char *
arg_text (SfArgMode mode)
{
  switch (mode) {
  case SF_ARG_NONE:
    return "none";
  case SF_ARG_OPTIONAL:
    return "optional";
  case SF_ARG_REQUIRED:
    return "required";
  }
  return "none";
}

/* "required: METHOD=STATUS (...)": whether it takes an arg, and its syntax (transfer full). */
static char *
argument_text (const SfOperatorDef *op)
{
  const char *expr = (op->flags & SF_OPF_EXPR_ARG) != 0 ? " (reads ${...} expressions)" : "";
  if (op->arg_mode == SF_ARG_NONE || op->arg_doc == NULL)
    return g_strdup_printf ("%s%s", arg_text (op->arg_mode), op->arg_mode != SF_ARG_NONE ? expr : "");
  return g_strdup_printf ("%s: %s%s", arg_text (op->arg_mode), op->arg_doc, expr);
}

/* What it is called for: its declared triggers, or, for an operator that declares
 * none (a plugin's from before flow language 2), any event of its kinds, as the
 * loader reads it (transfer full). */
static char *
triggers_text (const SfOperatorDef *op)
{
  if (op->triggers != NULL)
    return g_strdup (op->triggers);
  GString *s = g_string_new (NULL);
  for (guint bit = 1; bit != 0 && bit <= SF_EV_ANY; bit <<= 1)
    if (op->events & bit)
      g_string_append_printf (s, "%s%s", s->len > 0 ? "|" : "", sf_event_kind_name ((SfEventKind) bit));
  if (s->len == 0 || (op->events & SF_EV_ANY) == SF_EV_ANY)
    g_string_assign (s, "*");
  g_string_append (s, " (not declared: any event of its kinds)");
  return g_string_free (s, FALSE);
}

/* The named outcomes then the implicit "error": "refused, error". */
static char *
outcomes_text (const SfOperatorDef *op)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; op->outcomes != NULL && op->outcomes[i] != NULL; i++)
    g_string_append_printf (s, "%s, ", op->outcomes[i]);
  g_string_append (s, "error");
  return g_string_free (s, FALSE);
}

static void
print_entry (SfRegistry *reg, const char *name, gboolean markdown)
{
  const SfOperatorDef *op = sf_registry_lookup (reg, name);
  const char *module = sf_registry_operator_module (reg, name);
  g_autofree char *queues = queues_text (op->queues);
  g_autofree char *events = events_text (op->events);
  g_autofree char *outcomes = outcomes_text (op);
  g_autofree char *triggers = triggers_text (op);
  g_autofree char *argument = argument_text (op);
  const char *next = (op->flags & SF_OPF_TRANSITIONS) ? "yes: next=\"\" names the state it goes to"
                                                      : "no: it keeps the state (next=\"\" is refused)";
  const char *doc = op->doc != NULL ? op->doc : "";
  const char *rfc = op->rfc != NULL ? op->rfc : "-";
  if (markdown) {
    printf ("### %s\n\n%s\n\n", name, doc);
    printf ("- triggers: `%s`\n- queues: %s\n- events: %s\n- transitions: %s\n- outcomes: %s\n- argument: %s\n"
            "- RFC: %s\n\n", triggers, queues, events, next, outcomes, argument, rfc);
    return;
  }
  printf ("%s\n", name);
  printf ("  module:      %s\n", module != NULL ? module : "-");
  printf ("  triggers:    %s\n", triggers);
  printf ("  queues:      %s\n", queues);
  printf ("  events:      %s\n", events);
  printf ("  transitions: %s\n", next);
  printf ("  outcomes:    %s\n", outcomes);
  printf ("  argument:    %s\n", argument);
  printf ("  rfc:         %s\n", rfc);
  printf ("  doc:         %s\n", doc);
}

static void
print_line (SfRegistry *reg, const char *name)
{
  const SfOperatorDef *op = sf_registry_lookup (reg, name);
  g_autofree char *queues = queues_text (op->queues);
  g_autofree char *events = events_text (op->events);
  g_autofree char *outcomes = outcomes_text (op);
  g_autofree char *triggers = triggers_text (op);
  printf ("  %-24s %-20s %-18s arg:%-9s %s%s; on %s\n", name, queues, events, arg_text (op->arg_mode),
          (op->flags & SF_OPF_TRANSITIONS) ? "next=, " : "", outcomes, triggers);
}

/* Every operator, grouped by module in the registry's order, names sorted within one. */
static void
print_all (SfRegistry *reg, gboolean markdown)
{
  g_autoptr (GPtrArray) names = sf_registry_names (reg);
  GPtrArray *modules = sf_registry_modules (reg);
  if (markdown)
    printf ("# Operator reference\n\n"
            "Generated from the modules' operator tables by `sipflow ops --markdown`; do not edit\n"
            "(`make operators-doc` rewrites it, the test tests/ops-doc.sh fails when it is stale).\n"
            "`sipflow ops NAME` prints one entry.\n\n"
            "Each operator sits in the queues listed (a state's entry, normal or exit queue) and is\n"
            "called only for the events its triggers match (docs/engine.md, \"Triggers\"): in a\n"
            "version-2 flow, a binding's on=\"...\" names some of them (\"$arg\" stands for the\n"
            "binding's arg); without one, the operator's own triggers apply.  An operator that\n"
            "transitions goes to its binding's next=\"\" state; a named outcome goes to the state of\n"
            "`<on outcome=\"...\" next=\"...\"/>`; every operator has the outcome \"error\".  The\n"
            "argument line gives the arg's syntax; the RFC line the section the operator implements.\n\n");
  for (guint m = 0; m < modules->len; m++) {
    const SfModuleDef *def = modules->pdata[m];
    gboolean header = FALSE;
    for (guint i = 0; i < names->len; i++) {
      if (g_strcmp0 (sf_registry_operator_module (reg, names->pdata[i]), def->name) != 0)
        continue;
      if (!header) {
        if (markdown)
          printf ("## Module %s\n\n%s\n\n", def->name, def->doc != NULL ? def->doc : "");
        else
          printf ("%s%s: %s\n", m > 0 ? "\n" : "", def->name, def->doc != NULL ? def->doc : "");
        header = TRUE;
      }
      if (markdown)
        print_entry (reg, names->pdata[i], TRUE);
      else
        print_line (reg, names->pdata[i]);
    }
  }
}

int
sf_ua_cmd_ops (int argc, char **argv)
{
  gboolean markdown = FALSE;
  const char *name = NULL;
  g_autoptr (GPtrArray) plugins = g_ptr_array_new ();
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
      printf ("Usage: sipflow ops [--markdown] [--plugin PATH]... [NAME]\n\n"
              "The operator reference, from the operator tables themselves.  Without NAME, one line\n"
              "per operator grouped by module: name, queues, events it looks at, argument, outcomes\n"
              "(next= when it may transition) and the triggers it accepts (what on=\"...\" may say).\n"
              "With NAME, the whole entry: module, triggers, queues, events, whether it may transition,\n"
              "its outcomes (\"error\" included), its argument and its syntax, the RFC section it\n"
              "implements and its doc.\n\n"
              "  --markdown      print as Markdown (docs/operators.md is 'sipflow ops --markdown')\n"
              "  --plugin PATH   load a plugin so its operators (ns:Name) are listed too\n\n"
              "Exit status: 0, or 1 when NAME is no operator (with a suggestion when one is close),\n"
              "2 usage error.\n");
      return SF_EXIT_OK;
    }
    if (strcmp (argv[i], "--markdown") == 0)
      markdown = TRUE;
    else if (strcmp (argv[i], "--plugin") == 0) {
      if (i + 1 >= argc)
        return sf_ua_usage_error ("ops", "--plugin needs a PATH");
      g_ptr_array_add (plugins, argv[++i]);
    } else if (argv[i][0] == '-')
      return sf_ua_usage_error ("ops", "unknown option '%s'", argv[i]);
    else if (name != NULL)
      return sf_ua_usage_error ("ops", "one operator at a time");
    else
      name = argv[i];
  }
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  for (guint i = 0; i < plugins->len; i++) {
    g_autoptr (GError) error = NULL;
    if (!sf_registry_load_plugin (reg, plugins->pdata[i], &error)) {
      fprintf (stderr, "sipflow ops: %s\n", error->message);
      return SF_EXIT_FAIL;
    }
  }
  if (name == NULL) {
    print_all (reg, markdown);
    return SF_EXIT_OK;
  }
  if (sf_registry_lookup (reg, name) == NULL) {
    const char *hint = sf_registry_suggest (reg, name);
    if (hint != NULL)
      fprintf (stderr, "sipflow ops: no operator '%s' (did you mean '%s'?)\n", name, hint);
    else
      fprintf (stderr, "sipflow ops: no operator '%s'\n", name);
    return SF_EXIT_FAIL;
  }
  print_entry (reg, name, markdown);
  return SF_EXIT_OK;
}
