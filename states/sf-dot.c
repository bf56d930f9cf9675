/* sf-dot.c: Graphviz DOT output (see sf-dot.h). */
#include "config.h"
#include "sf-dot.h"

/* A string inside a DOT "quoted" id or label. */
static void
quoted (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_c (out, '\\');
    if (*p == '\n')
      g_string_append (out, "\\n");
    else
      g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

/* Text inside a DOT HTML-like label. */
static void
html (GString *out, const char *s)
{
  g_autofree char *esc = g_markup_escape_text (s, -1);
  g_string_append (out, esc);
}

static void
op_list (GString *out, SfState *s, SfQueue q)
{
  GPtrArray *queue = s->queues[q];
  if (queue->len == 0)
    return;
  g_string_append (out, "<br/><font point-size=\"9\">");
  html (out, sf_queue_name (q));
  g_string_append (out, ": ");
  for (guint i = 0; i < queue->len; i++) {
    SfBinding *b = g_ptr_array_index (queue, i);
    if (i > 0)
      g_string_append (out, i % 2 == 0 ? ",<br/>" : ", ");
    html (out, b->op_name);
    if (b->arg_text != NULL) {
      g_string_append (out, "(");
      html (out, b->arg_text);
      g_string_append (out, ")");
    }
  }
  g_string_append (out, "</font>");
}

static void
edge (GString *out, SfState *from, SfState *to, const SfBinding *b, const char *outcome)
{
  g_string_append (out, "  ");
  quoted (out, from->name);
  g_string_append (out, " -> ");
  quoted (out, to->name);
  g_autofree char *label = g_strdup_printf ("%s%s%s%s%s", b->op_name, b->arg_text != NULL ? "(" : "",
                                            b->arg_text != NULL ? b->arg_text : "", b->arg_text != NULL ? ")" : "",
                                            outcome != NULL ? "" : "");
  g_autofree char *full = outcome != NULL ? g_strdup_printf ("%s\n[%s]", label, outcome) : g_strdup (label);
  g_string_append (out, " [label=");
  quoted (out, full);
  if (from->catch_all)
    g_string_append (out, ", style=dashed");
  if (g_strcmp0 (outcome, "error") == 0)
    g_string_append (out, ", color=red, fontcolor=red");
  g_string_append (out, "];\n");
}

char *
sf_machine_to_dot (SfMachine *m)
{
  GString *out = g_string_new ("digraph ");
  quoted (out, m->name);
  g_string_append (out, " {\n  rankdir=LR;\n  labelloc=t;\n  label=");
  g_autofree char *title = g_strdup_printf ("%s (%s scope)%s%s", m->name, m->scope, m->description != NULL ? "\n" : "",
                                            m->description != NULL ? m->description : "");
  quoted (out, title);
  g_string_append (out, ";\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
                        "  edge [fontname=\"Helvetica\", fontsize=9];\n"
                        "  \"__start\" [shape=point, label=\"\"];\n  \"__start\" -> ");
  quoted (out, m->initial->name);
  g_string_append (out, ";\n");
  for (guint i = 0; i < m->states->len; i++) {
    SfState *s = g_ptr_array_index (m->states, i);
    g_string_append (out, "  ");
    quoted (out, s->name);
    g_string_append (out, " [label=<<b>");
    html (out, s->catch_all ? "* (any state)" : s->name);
    g_string_append (out, "</b>");
    op_list (out, s, SF_QUEUE_ENTRY);
    op_list (out, s, SF_QUEUE_EXIT);
    g_string_append (out, ">");
    if (s->final)
      g_string_append (out, ", peripheries=2");
    if (s->catch_all)
      g_string_append (out, ", style=\"rounded,dashed\"");
    g_string_append (out, "];\n");
  }
  for (guint i = 0; i < m->states->len; i++) {
    SfState *s = g_ptr_array_index (m->states, i);
    GPtrArray *normal = s->queues[SF_QUEUE_NORMAL];
    for (guint k = 0; k < normal->len; k++) {
      SfBinding *b = g_ptr_array_index (normal, k);
      if (b->next != NULL)
        edge (out, s, b->next, b, NULL);
      if (b->op->outcomes != NULL)
        for (int o = 0; b->op->outcomes[o] != NULL; o++)
          if (b->outcome_next[o] != NULL)
            edge (out, s, b->outcome_next[o], b, b->op->outcomes[o]);
      if (b->error_next != NULL)
        edge (out, s, b->error_next, b, "error");
    }
  }
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}
