/* sf-dot.c: Graphviz DOT output (see sf-dot.h; docs/pictures.md). */
#include "config.h"
#include "sf-dot.h"
#include <string.h>

/* One arrow of the picture (sf-dot.h), with what drawing it needs.  The
 * public part comes first: sf_dot_arrows() hands these out as SfDotArrow. */
typedef struct {
  SfDotArrow pub;
  char *line;      /* owned: the trigger, then " [outcome]": what tells arrows apart */
  int cluster;     /* -1, or the folded cluster it is drawn from */
} Arrow;

static void
arrow_free (Arrow *a)
{
  g_free (a->line);
  g_free (a->pub.trigger);
  g_free (a->pub.outcome);
  g_free (a->pub.op);
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

/* @outcome (nullable): "[success, failure]".  Returns the arrow (transfer none). */
static Arrow *
add_arrow (GPtrArray *arrows, SfState *from, SfState *to, const char *trig, const char *outcome, const char *op,
           gboolean error, const SfBinding *b)
{
  Arrow *a = g_new0 (Arrow, 1);
  a->pub.from = from;
  a->pub.to = to;
  a->pub.trigger = g_strdup (trig);
  a->pub.outcome = g_strdup (outcome);
  a->line = outcome != NULL ? g_strdup_printf ("%s %s", trig, outcome) : g_strdup (trig);
  a->pub.op = g_strdup (op);
  a->pub.error = error;
  a->pub.binding = b;
  a->cluster = -1;
  g_ptr_array_add (arrows, a);
  return a;
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
    add_arrow (arrows, s, b->next, trig, NULL, op, FALSE, b);
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
    GString *outcome = g_string_new ("[");
    for (guint k = o; k < n; k++)
      if (b->outcome_next[k] == to)
        g_string_append_printf (outcome, "%s%s", k > o ? ", " : "", b->op->outcomes[k]);
    g_string_append_c (outcome, ']');
    add_arrow (arrows, s, to, trig, outcome->str, op, FALSE, b);
    g_string_free (outcome, TRUE);
    any = TRUE;
  }
  if (b->error_next != NULL) {
    add_arrow (arrows, s, b->error_next, trig, "[error]", op, TRUE, b);
    any = TRUE;
  }
  /* Outcomes mapped under a condition: "[failed if ${status} equals 486]". */
  for (guint i = 0; b->guarded != NULL && i < b->guarded->len; i++) {
    const SfGuardedOutcome *g = g_ptr_array_index (b->guarded, i);
    g_autofree char *label = g_strdup_printf ("[%s %s]", g->outcome == -2 ? "error" : b->op->outcomes[g->outcome],
                                              g->text != NULL ? g->text : "if ...");
    add_arrow (arrows, s, g->next, trig, label, op, g->outcome == -2, b);
    any = TRUE;
  }
  if (!any)
    add_arrow (arrows, s, s, trig, NULL, op, FALSE, b)->pub.stays = TRUE;
}

/* The Arrows, each of which starts with its SfDotArrow: the array frees the
 * whole of each. */
GPtrArray *
sf_dot_arrows (SfMachine *m)
{
  GPtrArray *arrows = g_ptr_array_new_with_free_func ((GDestroyNotify) arrow_free);
  for (guint i = 0; i < m->states->len; i++) {
    SfState *s = g_ptr_array_index (m->states, i);
    GPtrArray *normal = s->queues[SF_QUEUE_NORMAL];
    for (guint k = 0; k < normal->len; k++)
      binding_arrows (arrows, s, g_ptr_array_index (normal, k));
  }
  return arrows;
}

/* ---- folding (SF_DOT_FOLD) ---- */

/* A dashed cluster of states: the arrows all its states share are drawn once,
 * from its node.  The clusters nest (each two are disjoint, or one holds the
 * other): an arrow is drawn from the largest cluster of its state that shares
 * it. */
typedef struct {
  gboolean *in;  /* owned: indexed by state index */
  guint size;
} Cluster;

static void
cluster_free (Cluster *c)
{
  g_free (c->in);
  g_free (c);
}

static gboolean
is_loop (const Arrow *a)
{
  return a->pub.from == a->pub.to;
}

/* The same arrow, perhaps from another state: the same line and operator, and
 * the same target, or both loops. */
static gboolean
same_arrow (const Arrow *a, const Arrow *b)
{
  if (is_loop (a) != is_loop (b) || (!is_loop (a) && a->pub.to != b->pub.to))
    return FALSE;
  return strcmp (a->line, b->line) == 0 && strcmp (a->pub.op, b->pub.op) == 0;
}

static guint
state_index (SfMachine *m, SfState *s)
{
  guint i = 0;
  g_ptr_array_find (m->states, s, &i);
  return i;
}

/* What folding knows of the arrows. */
typedef struct {
  SfMachine *m;       /* unowned */
  GPtrArray *arrows;  /* unowned */
  guint n;            /* the number of states */
  guint *from;        /* owned: arrow index -> its state's index */
  guint *to;          /* owned: arrow index -> its target's index */
  guint *same;        /* owned: arrow index -> the index of the first same arrow */
  gboolean *has;      /* owned: [same * n + state]: the state has that arrow (never the catch-all) */
} Fold;

static void
fold_init (Fold *f, SfMachine *m, GPtrArray *arrows)
{
  f->m = m;
  f->arrows = arrows;
  f->n = m->states->len;
  f->from = g_new (guint, arrows->len);
  f->to = g_new (guint, arrows->len);
  f->same = g_new (guint, arrows->len);
  f->has = g_new0 (gboolean, (gsize) arrows->len * f->n);
  for (guint i = 0; i < arrows->len; i++) {
    const Arrow *a = g_ptr_array_index (arrows, i);
    f->from[i] = state_index (m, a->pub.from);
    f->to[i] = state_index (m, a->pub.to);
    f->same[i] = i;
    for (guint k = 0; k < i && f->same[i] == i; k++)
      if (same_arrow (g_ptr_array_index (arrows, k), a))
        f->same[i] = f->same[k];
    if (!a->pub.from->catch_all)
      f->has[(gsize) f->same[i] * f->n + f->from[i]] = TRUE;
  }
}

static void
fold_clear (Fold *f)
{
  g_free (f->from);
  g_free (f->to);
  g_free (f->same);
  g_free (f->has);
}

/* The cluster of @family arrow @i is drawn from: the largest that holds its
 * state, all of whose states have it, and (unless it is a loop) that does
 * not hold its target; -1: none, its own state. */
static int
drawer (const Fold *f, GPtrArray *family, guint i)
{
  int best = -1;
  for (guint c = 0; c < family->len; c++) {
    const Cluster *cl = g_ptr_array_index (family, c);
    if (!cl->in[f->from[i]] || (f->from[i] != f->to[i] && cl->in[f->to[i]]))
      continue;
    if (best >= 0 && ((const Cluster *) g_ptr_array_index (family, (guint) best))->size >= cl->size)
      continue;
    gboolean all = TRUE;
    for (guint s = 0; s < f->n && all; s++)
      all = !cl->in[s] || f->has[(gsize) f->same[i] * f->n + s];
    if (all)
      best = (int) c;
  }
  return best;
}

/* How many arrows the picture has with the clusters @family: an arrow is
 * drawn once from its cluster, else once from its state. */
static guint
cost (const Fold *f, GPtrArray *family)
{
  guint len = f->arrows->len;
  g_autofree gboolean *drawn = g_new0 (gboolean, (gsize) (f->n + family->len) * len);
  guint count = 0;
  for (guint i = 0; i < len; i++) {
    int c = drawer (f, family, i);
    gsize d = c >= 0 ? f->n + (guint) c : f->from[i];
    if (!drawn[d * len + f->same[i]]) {
      drawn[d * len + f->same[i]] = TRUE;
      count++;
    }
  }
  return count;
}

/* Whether no path leaves the cluster @c and comes back into it, when each
 * cluster of @family that is apart from @c counts as one node.  Graphviz keeps
 * a cluster in one band of ranks: a cluster that a path leaves and re-enters,
 * or two clusters with arrows both ways, leave it no ranks that keep every
 * arrow pointing down; it lays an arrow flat across the cluster's border,
 * beside a state's loop, and fails to route it ("Unable to reclaim box space
 * in spline routing for edge "Answered" -> "InCall"" once, for two clusters of
 * xml/ua.xml). */
static gboolean
closed_block (const Fold *f, GPtrArray *family, const Cluster *c)
{
  g_autofree gboolean *seen = g_new0 (gboolean, f->n);
  g_autoptr (GArray) todo = g_array_new (FALSE, FALSE, sizeof (guint));
  /* the states its arrows reach outside it, then all that they reach */
  for (guint i = 0; i < f->arrows->len; i++)
    if (c->in[f->from[i]] && !c->in[f->to[i]] && !seen[f->to[i]]) {
      seen[f->to[i]] = TRUE;
      g_array_append_val (todo, f->to[i]);
    }
  while (todo->len > 0) {
    guint v = g_array_index (todo, guint, todo->len - 1);
    g_array_set_size (todo, todo->len - 1);
    for (guint k = 0; k < family->len; k++) {
      const Cluster *d = g_ptr_array_index (family, k);
      gboolean apart = TRUE;
      for (guint s = 0; s < f->n && apart; s++)
        apart = !(d->in[s] && c->in[s]);
      if (!d->in[v] || !apart)
        continue;
      for (guint s = 0; s < f->n; s++) /* the rest of its cluster */
        if (d->in[s] && !seen[s]) {
          seen[s] = TRUE;
          g_array_append_val (todo, s);
        }
    }
    for (guint i = 0; i < f->arrows->len; i++) {
      if (f->from[i] != v)
        continue;
      if (c->in[f->to[i]])
        return FALSE;
      if (!seen[f->to[i]]) {
        seen[f->to[i]] = TRUE;
        g_array_append_val (todo, f->to[i]);
      }
    }
  }
  return TRUE;
}

/* Whether @set may join @family: 3 states or more, each cluster apart from it
 * or one inside the other (never the same), and every cluster a closed block
 * with it. */
static gboolean
may_join (const Fold *f, GPtrArray *family, Cluster *set)
{
  if (set->size < 2)
    return FALSE;
  for (guint k = 0; k < family->len; k++) {
    const Cluster *d = g_ptr_array_index (family, k);
    guint both = 0;
    for (guint s = 0; s < f->n; s++)
      both += d->in[s] && set->in[s] ? 1 : 0;
    if (both != 0 && (both != MIN (d->size, set->size) || d->size == set->size))
      return FALSE;
  }
  g_ptr_array_add (family, set);
  gboolean ok = TRUE;
  for (guint k = 0; k < family->len && ok; k++)
    ok = closed_block (f, family, g_ptr_array_index (family, k));
  g_ptr_array_steal_index (family, family->len - 1);
  return ok;
}

/* Chooses the clusters, one at a time: of the sets of states that have one
 * shared arrow, or two, the one that leaves the fewest arrows to draw (the
 * first of equals, in file order), until none leaves fewer.  Sets each arrow's
 * cluster.  Returns the clusters (transfer full). */
static GPtrArray *
fold (SfMachine *m, GPtrArray *arrows)
{
  Fold f;
  fold_init (&f, m, arrows);
  GPtrArray *family = g_ptr_array_new_with_free_func ((GDestroyNotify) cluster_free);
  /* the arrows 2 states or more have (a cluster of two is worth it only when
   * it leaves fewer arrows: the cost decides) */
  g_autoptr (GArray) shared = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < arrows->len; i++) {
    guint k = 0;
    for (guint s = 0; s < f.n; s++)
      k += f.has[(gsize) i * f.n + s] ? 1 : 0;
    if (f.same[i] == i && k >= 2)
      g_array_append_val (shared, i);
  }
  guint now = cost (&f, family);
  for (;;) {
    Cluster *best = NULL;
    guint best_cost = now;
    for (guint a = 0; a < shared->len; a++)
      for (guint b = a; b < shared->len; b++) {
        const gboolean *ha = &f.has[(gsize) g_array_index (shared, guint, a) * f.n];
        const gboolean *hb = &f.has[(gsize) g_array_index (shared, guint, b) * f.n];
        Cluster *set = g_new0 (Cluster, 1);
        set->in = g_new0 (gboolean, f.n);
        for (guint s = 0; s < f.n; s++) {
          set->in[s] = ha[s] && hb[s];
          set->size += set->in[s] ? 1 : 0;
        }
        guint c = G_MAXUINT;
        if (may_join (&f, family, set)) {
          g_ptr_array_add (family, set);
          c = cost (&f, family);
          g_ptr_array_steal_index (family, family->len - 1);
          if (set->size == 2 && c + 4 > now)
            c = G_MAXUINT; /* two states share a frame only to save four arrows or more */
        }
        if (c < best_cost) {
          if (best != NULL)
            cluster_free (best);
          best = set;
          best_cost = c;
        } else {
          cluster_free (set);
        }
      }
    if (best == NULL)
      break;
    g_ptr_array_add (family, best);
    now = best_cost;
  }
  /* a cluster whose arrows a larger one took draws none: drop it */
  for (guint k = family->len; k > 0; k--) {
    gboolean used = FALSE;
    for (guint i = 0; i < arrows->len && !used; i++)
      used = drawer (&f, family, i) == (int) (k - 1);
    if (!used)
      g_ptr_array_remove_index (family, k - 1);
  }
  for (guint i = 0; i < arrows->len; i++)
    ((Arrow *) g_ptr_array_index (arrows, i))->cluster = drawer (&f, family, i);
  fold_clear (&f);
  return family;
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

/* A pseudo-node's loops written inside it (folded pictures): @stays (nullable)
 * from label_body. */
static void
stays_on (GString *out, const GString *stays)
{
  if (stays == NULL || stays->len == 0)
    return;
  g_string_append (out, "<br/><font point-size=\"8\">stays on:</font><font point-size=\"9\">");
  g_string_append_len (out, stays->str, (gssize) stays->len);
  g_string_append (out, "</font>");
}

static void
node (GString *out, SfState *s, const GString *stays)
{
  g_string_append (out, "  ");
  quoted (out, s->name);
  g_string_append (out, " [label=<<b>");
  html (out, s->catch_all ? "* (any state)" : s->name);
  g_string_append (out, "</b>");
  op_list (out, s, SF_QUEUE_ENTRY);
  op_list (out, s, SF_QUEUE_EXIT);
  stays_on (out, stays);
  g_string_append (out, ">");
  if (s->final)
    g_string_append (out, ", peripheries=2");
  if (s->catch_all)
    g_string_append (out, ", style=\"rounded,dashed\"");
  g_string_append (out, "];\n");
}

/* The longest label line, in characters, before it wraps: a label is as wide
 * as its longest line, and widens its whole rank; a width of 24 keeps the
 * names of events and timers whole and xml/ua.xml narrow. */
#define WRAP 24

/* Appends @text to @out escaped, broken after a '|' or a ',' or before a " ["
 * (the space dropped) so that no line passes WRAP characters (an item longer
 * than that stays whole); a line ending in '|' or ',' goes on. */
static void
wrapped (GString *out, const char *text)
{
  guint col = 0;
  gboolean space = FALSE; /* a space between the last item and the next */
  for (const char *p = text; *p != '\0';) {
    const char *e = p;
    while (*e != '\0' && *e != '|' && *e != ',' && !(e[0] == ' ' && e[1] == '['))
      e++;
    if (*e == '|' || *e == ',')
      e++;
    guint len = (guint) g_utf8_strlen (p, e - p);
    if (col > 0 && col + (space ? 1 : 0) + len > WRAP) {
      g_string_append (out, "<br/>");
      col = 0;
    } else if (space) {
      g_string_append_c (out, ' ');
      col++;
    }
    g_autofree char *item = g_strndup (p, (gsize) (e - p));
    html (out, item);
    col += len;
    space = *e == ' ';
    p = space ? e + 1 : e;
  }
}

/* One line of an edge's label: the triggers of the arrows that one operator
 * (with its argument) takes to one end with one outcome, "device:hangup|device:shutdown". */
typedef struct {
  const Arrow *first; /* unowned: its operator, outcome and colour */
  GString *trig;      /* owned: the triggers, each once, in file order */
} Line;

static void
line_free (Line *l)
{
  g_string_free (l->trig, TRUE);
  g_free (l);
}

static gboolean
has_alternative (const char *trig, const char *alt, gsize len)
{
  for (const char *p = trig; *p != '\0';) {
    const char *e = strchr (p, '|');
    gsize n = e != NULL ? (gsize) (e - p) : strlen (p);
    if (n == len && strncmp (p, alt, len) == 0)
      return TRUE;
    p = e != NULL ? e + 1 : p + n;
  }
  return FALSE;
}

/* The label lines of @group: arrows of the same operator and outcome share one
 * line, their triggers joined by '|', at the first one's place. */
static GPtrArray *
label_lines (GPtrArray *group)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func ((GDestroyNotify) line_free);
  for (guint i = 0; i < group->len; i++) {
    const Arrow *a = g_ptr_array_index (group, i);
    Line *l = NULL;
    for (guint k = 0; k < lines->len && l == NULL; k++) {
      Line *o = g_ptr_array_index (lines, k);
      if (strcmp (o->first->pub.op, a->pub.op) == 0 && g_strcmp0 (o->first->pub.outcome, a->pub.outcome) == 0 && o->first->pub.error == a->pub.error)
        l = o;
    }
    if (l == NULL) {
      l = g_new0 (Line, 1);
      l->first = a;
      l->trig = g_string_new (a->pub.trigger);
      g_ptr_array_add (lines, l);
      continue;
    }
    for (const char *p = a->pub.trigger; *p != '\0';) {
      const char *e = strchr (p, '|');
      gsize n = e != NULL ? (gsize) (e - p) : strlen (p);
      if (!has_alternative (l->trig->str, p, n)) {
        g_string_append_c (l->trig, '|');
        g_string_append_len (l->trig, p, (gssize) n);
      }
      p = e != NULL ? e + 1 : p + n;
    }
  }
  return lines;
}

/* The lines of @group's label: a line per trigger (wrapped when long), its
 * operator under it in smaller type, or after it with @inline_op ("stays on"
 * lines inside a node).  Returns whether every line is an error's. */
static gboolean
label_body (GString *out, GPtrArray *group, gboolean inline_op)
{
  gboolean all_error = TRUE;
  g_autoptr (GPtrArray) lines = label_lines (group);
  for (guint i = 0; i < lines->len; i++) {
    const Line *l = g_ptr_array_index (lines, i);
    const Arrow *a = l->first;
    all_error = all_error && a->pub.error;
    if (i > 0 || inline_op)
      g_string_append (out, "<br/>");
    g_string_append (out, a->pub.error ? "<font color=\"red\">" : "");
    g_autofree char *text = a->pub.outcome != NULL ? g_strdup_printf ("%s %s", l->trig->str, a->pub.outcome) : g_strdup (l->trig->str);
    wrapped (out, text);
    g_string_append (out, a->pub.error ? "</font>" : "");
    g_string_append (out, inline_op ? " / <font point-size=\"7\" color=\"gray35\">" : "<br/><font point-size=\"7\" color=\"gray35\">");
    html (out, a->pub.op);
    g_string_append (out, "</font>");
  }
  return all_error;
}

/* One edge for the arrows @group (same ends): a line per trigger (wrapped when
 * long), its operator under it in smaller type. */
static void
edge (GString *out, const Arrow *first, GPtrArray *group)
{
  g_string_append (out, "  ");
  if (first->cluster >= 0) {
    g_autofree char *fold = g_strdup_printf ("__fold%d", first->cluster);
    quoted (out, fold);
  } else {
    quoted (out, first->pub.from->name);
  }
  g_string_append (out, " -> ");
  if (first->cluster >= 0 && is_loop (first)) {
    g_autofree char *fold = g_strdup_printf ("__fold%d", first->cluster);
    quoted (out, fold);
  } else {
    quoted (out, first->pub.to->name);
  }
  g_string_append (out, " [label=<");
  gboolean all_error = label_body (out, group, FALSE);
  g_string_append (out, ">");
  if (first->cluster >= 0 || first->pub.from->catch_all)
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
    if (cluster < 0 ? a->pub.from != f->pub.from || a->pub.to != f->pub.to : is_loop (a) != is_loop (f) || (!is_loop (a) && a->pub.to != f->pub.to))
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

/* The smallest cluster of @family that holds cluster @c (they nest), or -1. */
static int
cluster_parent (GPtrArray *family, guint c)
{
  const Cluster *cl = g_ptr_array_index (family, c);
  guint first = 0; /* a state of @c */
  while (!cl->in[first])
    first++;
  int best = -1;
  for (guint k = 0; k < family->len; k++) {
    const Cluster *d = g_ptr_array_index (family, k);
    if (k != c && d->in[first] && d->size > cl->size
        && (best < 0 || d->size < ((const Cluster *) g_ptr_array_index (family, (guint) best))->size))
      best = (int) k;
  }
  return best;
}

/* Cluster @c of @family with the clusters inside it, at @depth; @stays: each
 * cluster's loops, written inside its node. */
static void
subgraph (GString *out, SfMachine *m, GPtrArray *family, guint c, guint depth, GString **stays)
{
  const Cluster *cl = g_ptr_array_index (family, c);
  g_autofree char *pad = g_strnfill (2 * depth, ' ');
  /* The shared arrows leave a node inside the cluster that stands for any of
   * its states (an edge clipped at the cluster's border, ltail, puts its label
   * where the unclipped edge would have been: far from it). */
  g_string_append_printf (out, "%ssubgraph \"cluster_fold%u\" {\n%s  style=\"rounded,dashed\";\n%s  color=gray50;\n"
                               "%s  label=\"\";\n%s  \"__fold%u\" [label=<<i>any state here</i>", pad, c, pad, pad, pad, pad, c);
  stays_on (out, stays[c]);
  g_string_append (out, ">, style=\"rounded,dashed\", fontsize=9];\n");
  for (guint i = 0; i < m->states->len; i++) {
    if (!cl->in[i])
      continue;
    gboolean inner = FALSE; /* in a cluster inside this one: listed there */
    for (guint k = 0; k < family->len && !inner; k++)
      inner = k != c && ((const Cluster *) g_ptr_array_index (family, k))->in[i]
              && ((const Cluster *) g_ptr_array_index (family, k))->size < cl->size;
    if (inner)
      continue;
    g_string_append_printf (out, "%s  ", pad);
    quoted (out, ((SfState *) g_ptr_array_index (m->states, i))->name);
    g_string_append (out, ";\n");
  }
  for (guint k = 0; k < family->len; k++)
    if (cluster_parent (family, k) == (int) c)
      subgraph (out, m, family, k, depth + 1, stays);
  g_string_append_printf (out, "%s}\n", pad);
}

char *
sf_machine_to_dot_flags (SfMachine *m, guint flags)
{
  g_autoptr (GPtrArray) arrows = sf_dot_arrows (m);
  g_autoptr (GPtrArray) family = (flags & SF_DOT_FOLD) != 0 ? fold (m, arrows)
                                                               : g_ptr_array_new_with_free_func ((GDestroyNotify) cluster_free);

  GString *out = g_string_new ("digraph ");
  quoted (out, m->name);
  /* newrank: the ranks are found for the whole graph, not cluster by cluster,
   * so a cluster takes the ranks its states need and no more */
  g_string_append (out, " {\n  rankdir=TB;\n  newrank=true;\n  nodesep=0.15;\n  ranksep=0.35;\n  labelloc=t;\n  label=");
  g_autofree char *title = g_strdup_printf ("%s (%s scope)%s%s", m->name, m->scope, m->description != NULL ? "\n" : "",
                                            m->description != NULL ? m->description : "");
  quoted (out, title);
  g_string_append (out, ";\n");
  g_string_append (out, "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n"
                        "  edge [fontname=\"Helvetica\", fontsize=9];\n"
                        "  \"__start\" [shape=point, label=\"\"];\n  \"__start\" -> ");
  quoted (out, m->initial->name);
  g_string_append (out, ";\n");
  /* The edges, grouped; folded, a pseudo-node's loops (a cluster's "any
   * state here", the catch-all) are written inside it instead: a loop's label
   * widens its whole rank, and a pseudo-node has room. */
  gboolean folded = (flags & SF_DOT_FOLD) != 0;
  g_autofree GString **stays = g_new0 (GString *, family->len + 1); /* the last: the catch-all's */
  g_autoptr (GPtrArray) edges = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autofree gboolean *done = g_new0 (gboolean, arrows->len);
  for (guint i = 0; i < arrows->len; i++) {
    const Arrow *a = g_ptr_array_index (arrows, i);
    if (done[i])
      continue;
    GPtrArray *group = group_of (arrows, done, i, a->cluster);
    if (folded && is_loop (a) && (a->cluster >= 0 || a->pub.from->catch_all)) {
      guint k = a->cluster >= 0 ? (guint) a->cluster : family->len;
      if (stays[k] == NULL)
        stays[k] = g_string_new (NULL);
      label_body (stays[k], group, TRUE);
      g_ptr_array_unref (group);
      continue;
    }
    g_ptr_array_add (edges, group);
  }
  for (guint i = 0; i < m->states->len; i++) {
    SfState *s = g_ptr_array_index (m->states, i);
    node (out, s, s->catch_all ? stays[family->len] : NULL);
  }
  for (guint c = 0; c < family->len; c++)
    if (cluster_parent (family, c) < 0)
      subgraph (out, m, family, c, 1, stays);
  for (guint i = 0; i < edges->len; i++) {
    GPtrArray *group = g_ptr_array_index (edges, i);
    edge (out, g_ptr_array_index (group, 0), group);
  }
  /* the flow's hints: beside="..." draws a state on the rank of another */
  for (guint i = 0; i < m->states->len; i++) {
    SfState *s = g_ptr_array_index (m->states, i);
    if (s->beside == NULL)
      continue;
    g_string_append (out, "  {rank=same; ");
    quoted (out, s->beside->name);
    g_string_append (out, "; ");
    quoted (out, s->name);
    g_string_append (out, ";}\n");
  }
  /* folded, the catch-all stands at the bottom, below the final states it leads to */
  for (guint i = 0; folded && i < m->states->len; i++)
    if (((SfState *) g_ptr_array_index (m->states, i))->catch_all) {
      g_string_append (out, "  {rank=sink; ");
      quoted (out, ((SfState *) g_ptr_array_index (m->states, i))->name);
      g_string_append (out, ";}\n");
    }
  for (guint k = 0; k <= family->len; k++)
    if (stays[k] != NULL)
      g_string_free (stays[k], TRUE);
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}

char *
sf_machine_to_dot (SfMachine *m)
{
  return sf_machine_to_dot_flags (m, 0);
}
