/* sf-dot.c: Graphviz DOT output (see sf-dot.h; docs/pictures.md). */
#include "config.h"
#include "sf-dot.h"
#include <string.h>

/* One arrow of the picture: what one binding does from one state. */
typedef struct {
  SfState *from;   /* unowned */
  SfState *to;     /* unowned; == from: a loop */
  char *line;      /* owned: the trigger, then " [outcome]" */
  char *op;        /* owned: the operator as written, "OpTxnResend(G)" */
  gboolean error;  /* the implicit outcome "error" */
  int cluster;     /* -1, or the folded cluster it is drawn from */
} Arrow;

static void
arrow_free (Arrow *a)
{
  g_free (a->line);
  g_free (a->op);
  g_free (a);
}

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

static char *
op_text (const SfBinding *b)
{
  return b->arg_text != NULL ? g_strdup_printf ("%s(%s)", b->op_name, b->arg_text) : g_strdup (b->op_name);
}

/* What the binding is called for: its triggers (the flow's on="", or its
 * operator's own), else the kinds of event its operator looks at, as the
 * loader reads them. */
static char *
trigger_text (const SfBinding *b)
{
  if (b->on != NULL)
    return g_strdup (b->on->text);
  if ((b->op->events & SF_EV_ANY) == SF_EV_ANY)
    return g_strdup ("*");
  GString *s = g_string_new (NULL);
  for (guint k = 1; k <= SF_EV_TASK; k <<= 1)
    if ((b->op->events & k) != 0)
      g_string_append_printf (s, "%s%s", s->len > 0 ? "|" : "", sf_event_kind_name ((SfEventKind) k));
  if (s->len == 0)
    g_string_append_c (s, '*');
  return g_string_free (s, FALSE);
}

static void
add_arrow (GPtrArray *arrows, SfState *from, SfState *to, const char *line, const char *op, gboolean error)
{
  Arrow *a = g_new0 (Arrow, 1);
  a->from = from;
  a->to = to;
  a->line = g_strdup (line);
  a->op = g_strdup (op);
  a->error = error;
  a->cluster = -1;
  g_ptr_array_add (arrows, a);
}

/* The arrows of one binding of @s's normal queue: its next, its outcomes (those
 * of one binding that lead to one state on one arrow: "[success, failure]"),
 * its error; a binding with none keeps the state: a loop. */
static void
binding_arrows (GPtrArray *arrows, SfState *s, const SfBinding *b)
{
  g_autofree char *trig = trigger_text (b);
  g_autofree char *op = op_text (b);
  gboolean any = FALSE;
  if (b->next != NULL) {
    add_arrow (arrows, s, b->next, trig, op, FALSE);
    any = TRUE;
  }
  guint n = b->op->outcomes != NULL ? g_strv_length ((char **) b->op->outcomes) : 0;
  for (guint o = 0; o < n; o++) {
    SfState *to = b->outcome_next[o];
    gboolean seen = FALSE;
    for (guint k = 0; k < o && !seen; k++)
      seen = b->outcome_next[k] == to;
    if (to == NULL || seen)
      continue;
    GString *line = g_string_new (trig);
    g_string_append (line, " [");
    for (guint k = o; k < n; k++)
      if (b->outcome_next[k] == to)
        g_string_append_printf (line, "%s%s", k > o ? ", " : "", b->op->outcomes[k]);
    g_string_append_c (line, ']');
    add_arrow (arrows, s, to, line->str, op, FALSE);
    g_string_free (line, TRUE);
    any = TRUE;
  }
  if (b->error_next != NULL) {
    g_autofree char *line = g_strdup_printf ("%s [error]", trig);
    add_arrow (arrows, s, b->error_next, line, op, TRUE);
    any = TRUE;
  }
  if (!any)
    add_arrow (arrows, s, s, trig, op, FALSE);
}

/* ---- folding (SF_DOT_FOLD) ---- */

/* An arrow that several states share: the same line, operator and target. */
typedef struct {
  const Arrow *first;  /* unowned: its line, op and target */
  gboolean *from;      /* owned: indexed by state index; the states it leaves */
  guint n_from;
} Shared;

static void
shared_free (Shared *c)
{
  g_free (c->from);
  g_free (c);
}

static gboolean
is_loop (const Arrow *a)
{
  return a->from == a->to;
}

/* The same arrow, perhaps from another state: the same line and operator, and
 * the same target, or both loops. */
static gboolean
same_arrow (const Arrow *a, const Arrow *b)
{
  if (is_loop (a) != is_loop (b) || (!is_loop (a) && a->to != b->to))
    return FALSE;
  return strcmp (a->line, b->line) == 0 && strcmp (a->op, b->op) == 0;
}

static guint
state_index (SfMachine *m, SfState *s)
{
  guint i = 0;
  g_ptr_array_find (m->states, s, &i);
  return i;
}

/* The shared arrows (loops included) of the states not yet in a cluster
 * (@clustered), left by 3 states or more (fewer is not worth a cluster). */
static GPtrArray *
shared_arrows (SfMachine *m, GPtrArray *arrows, const int *clustered)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) shared_free);
  for (guint i = 0; i < arrows->len; i++) {
    const Arrow *a = g_ptr_array_index (arrows, i);
    guint fi = state_index (m, a->from);
    if (a->from->catch_all || clustered[fi] >= 0)
      continue;
    Shared *c = NULL;
    for (guint k = 0; k < all->len && c == NULL; k++)
      if (same_arrow (((Shared *) g_ptr_array_index (all, k))->first, a))
        c = g_ptr_array_index (all, k);
    if (c == NULL) {
      c = g_new0 (Shared, 1);
      c->first = a;
      c->from = g_new0 (gboolean, m->states->len);
      g_ptr_array_add (all, c);
    }
    if (!c->from[fi]) {
      c->from[fi] = TRUE;
      c->n_from++;
    }
  }
  for (guint k = all->len; k > 0; k--)
    if (((Shared *) g_ptr_array_index (all, k - 1))->n_from < 3)
      g_ptr_array_remove_index (all, k - 1);
  return all;
}

/* How many arrows a cluster of the states @set saves: each shared arrow that
 * every state of the set has (a loop, or an arrow to a state outside the set)
 * is drawn once instead of once per state.  @take (nullable) gets which shared arrows those are. */
static guint
fold_gain (SfMachine *m, GPtrArray *shared, const gboolean *set, gboolean *take)
{
  guint size = 0;
  for (guint i = 0; i < m->states->len; i++)
    size += set[i] ? 1 : 0;
  if (size < 3)
    return 0;
  guint n = 0;
  for (guint k = 0; k < shared->len; k++) {
    const Shared *c = g_ptr_array_index (shared, k);
    gboolean all = is_loop (c->first) || !set[state_index (m, c->first->to)];
    for (guint i = 0; i < m->states->len && all; i++)
      all = !set[i] || c->from[i];
    if (take != NULL)
      take[k] = all;
    n += all ? 1 : 0;
  }
  return n * (size - 1);
}

/* Finds clusters, one at a time: of the sets of states that leave by one shared
 * arrow, or by two, the one that saves the most arrows (the first of equals, in
 * file order).  Marks the arrows it folds and the states it holds.  Returns the
 * number of clusters. */
static int
fold (SfMachine *m, GPtrArray *arrows, int *clustered)
{
  guint n = m->states->len;
  int clusters = 0;
  for (;;) {
    g_autoptr (GPtrArray) shared = shared_arrows (m, arrows, clustered);
    g_autofree gboolean *best = g_new0 (gboolean, n);
    g_autofree gboolean *set = g_new0 (gboolean, n);
    guint best_gain = 0;
    for (guint a = 0; a < shared->len; a++)
      for (guint b = a; b < shared->len; b++) {
        const Shared *ca = g_ptr_array_index (shared, a), *cb = g_ptr_array_index (shared, b);
        for (guint i = 0; i < n; i++)
          set[i] = ca->from[i] && cb->from[i];
        guint gain = fold_gain (m, shared, set, NULL);
        if (gain > best_gain) {
          best_gain = gain;
          memcpy (best, set, n * sizeof *set);
        }
      }
    if (best_gain == 0)
      return clusters;
    g_autofree gboolean *take = g_new0 (gboolean, shared->len);
    fold_gain (m, shared, best, take);
    for (guint i = 0; i < n; i++)
      if (best[i])
        clustered[i] = clusters;
    for (guint i = 0; i < arrows->len; i++) {
      Arrow *a = g_ptr_array_index (arrows, i);
      for (guint k = 0; k < shared->len && a->cluster < 0; k++)
        if (take[k] && best[state_index (m, a->from)] && same_arrow (((Shared *) g_ptr_array_index (shared, k))->first, a))
          a->cluster = clusters;
    }
    clusters++;
  }
}

/* ---- output ---- */

static void
op_list (GString *out, SfState *s, SfQueue q)
{
  GPtrArray *queue = s->queues[q];
  if (queue->len == 0)
    return;
  g_string_append (out, "<br/><font point-size=\"8\">");
  html (out, sf_queue_name (q));
  g_string_append (out, ": ");
  for (guint i = 0; i < queue->len; i++) {
    SfBinding *b = g_ptr_array_index (queue, i);
    /* one operator a line: a narrow node keeps a big machine within a page's width */
    if (i > 0)
      g_string_append (out, "<br/>");
    g_autofree char *op = op_text (b);
    html (out, op);
  }
  g_string_append (out, "</font>");
}

static void
node (GString *out, SfState *s)
{
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

/* One edge for the arrows @group (same ends): a line per trigger, its operator
 * under it in smaller type. */
static void
edge (GString *out, const Arrow *first, GPtrArray *group)
{
  g_string_append (out, "  ");
  if (first->cluster >= 0) {
    g_autofree char *fold = g_strdup_printf ("__fold%d", first->cluster);
    quoted (out, fold);
  } else {
    quoted (out, first->from->name);
  }
  g_string_append (out, " -> ");
  if (first->cluster >= 0 && is_loop (first)) {
    g_autofree char *fold = g_strdup_printf ("__fold%d", first->cluster);
    quoted (out, fold);
  } else {
    quoted (out, first->to->name);
  }
  g_string_append (out, " [label=<");
  gboolean all_error = TRUE;
  for (guint i = 0; i < group->len; i++) {
    const Arrow *a = g_ptr_array_index (group, i);
    all_error = all_error && a->error;
    if (i > 0)
      g_string_append (out, "<br/>");
    g_string_append (out, a->error ? "<font color=\"red\">" : "");
    html (out, a->line);
    g_string_append (out, a->error ? "</font>" : "");
    g_string_append (out, "<br/><font point-size=\"7\" color=\"gray35\">");
    html (out, a->op);
    g_string_append (out, "</font>");
  }
  g_string_append (out, ">");
  if (first->cluster >= 0 || first->from->catch_all)
    g_string_append (out, ", style=dashed");
  if (all_error)
    g_string_append (out, ", color=red");
  g_string_append (out, "];\n");
}

/* The arrows not yet drawn (@done) that leave @from (or, for a cluster, any of
 * its states) for @to, in file order. */
static GPtrArray *
group_of (GPtrArray *arrows, gboolean *done, guint first, int cluster)
{
  const Arrow *f = g_ptr_array_index (arrows, first);
  GPtrArray *group = g_ptr_array_new ();
  for (guint i = first; i < arrows->len; i++) {
    const Arrow *a = g_ptr_array_index (arrows, i);
    if (done[i] || a->cluster != cluster)
      continue;
    if (cluster < 0 ? a->from != f->from || a->to != f->to : is_loop (a) != is_loop (f) || (!is_loop (a) && a->to != f->to))
      continue;
    /* a folded arrow is drawn once for the cluster, not once per state */
    gboolean dup = FALSE;
    for (guint k = 0; k < group->len && !dup; k++)
      dup = same_arrow (g_ptr_array_index (group, k), a);
    if (!dup)
      g_ptr_array_add (group, (gpointer) a);
    done[i] = TRUE;
  }
  return group;
}

char *
sf_machine_to_dot_flags (SfMachine *m, guint flags)
{
  g_autoptr (GPtrArray) arrows = g_ptr_array_new_with_free_func ((GDestroyNotify) arrow_free);
  for (guint i = 0; i < m->states->len; i++) {
    SfState *s = g_ptr_array_index (m->states, i);
    GPtrArray *normal = s->queues[SF_QUEUE_NORMAL];
    for (guint k = 0; k < normal->len; k++)
      binding_arrows (arrows, s, g_ptr_array_index (normal, k));
  }
  g_autofree int *clustered = g_new (int, m->states->len);
  for (guint i = 0; i < m->states->len; i++)
    clustered[i] = -1;
  int clusters = (flags & SF_DOT_FOLD) != 0 ? fold (m, arrows, clustered) : 0;

  GString *out = g_string_new ("digraph ");
  quoted (out, m->name);
  g_string_append (out, " {\n  rankdir=TB;\n  nodesep=0.15;\n  ranksep=0.35;\n  labelloc=t;\n  label=");
  g_autofree char *title = g_strdup_printf ("%s (%s scope)%s%s", m->name, m->scope, m->description != NULL ? "\n" : "",
                                            m->description != NULL ? m->description : "");
  quoted (out, title);
  g_string_append (out, ";\n");
  g_string_append (out, "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n"
                        "  edge [fontname=\"Helvetica\", fontsize=9];\n"
                        "  \"__start\" [shape=point, label=\"\"];\n  \"__start\" -> ");
  quoted (out, m->initial->name);
  g_string_append (out, ";\n");
  for (guint i = 0; i < m->states->len; i++)
    node (out, g_ptr_array_index (m->states, i));
  for (int c = 0; c < clusters; c++) {
    /* The shared arrows leave a node inside the cluster that stands for any of
     * its states (an edge clipped at the cluster's border, ltail, puts its label
     * where the unclipped edge would have been: far from it). */
    g_string_append_printf (out, "  subgraph \"cluster_fold%d\" {\n    style=\"rounded,dashed\";\n    color=gray50;\n"
                                 "    label=\"\";\n    \"__fold%d\" [label=<<i>any state here</i>>, style=\"rounded,dashed\", "
                                 "fontsize=9];\n", c, c);
    for (guint i = 0; i < m->states->len; i++)
      if (clustered[i] == c) {
        g_string_append (out, "    ");
        quoted (out, ((SfState *) g_ptr_array_index (m->states, i))->name);
        g_string_append (out, ";\n");
      }
    g_string_append (out, "  }\n");
  }
  g_autofree gboolean *done = g_new0 (gboolean, arrows->len);
  for (guint i = 0; i < arrows->len; i++) {
    const Arrow *a = g_ptr_array_index (arrows, i);
    if (done[i])
      continue;
    g_autoptr (GPtrArray) group = group_of (arrows, done, i, a->cluster);
    edge (out, a, group);
  }
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}

char *
sf_machine_to_dot (SfMachine *m)
{
  return sf_machine_to_dot_flags (m, 0);
}
