/* sf-ua-coverage.c: 'sipflow coverage' (docs/teaching.md): for each machine of
 * a flow, every arrow of its picture (states/sf-dot.h, the arrows 'sipflow dot'
 * draws) and how many times the runs' "state" and "step" events took it, with
 * the RFC figure or section each implements.  A report, not a test: it exits 0
 * once its inputs are read. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-ua.h"
#include "operators/transaction/sf-stack.h"
#include "sf-ua-events.h"
#include "framework/sf-loader.h"
#include "states/sf-dot.h"
#include <stdio.h>
#include <string.h>

/* Distinct events that matched no arrow kept per machine, and machines not in
 * the flow: an event file is untrusted, and may name a new one on every line. */
#define MAX_STRAYS 100

/* An event that took no arrow of its machine's picture. */
typedef struct {
  char *text;    /* owned: "Ringing -> Nowhere on sip:BYE: ..." */
  guint count;
} Stray;

static void
stray_free (Stray *s)
{
  g_free (s->text);
  g_free (s);
}

/* One machine's coverage. */
typedef struct {
  SfMachine *m;          /* ref */
  GPtrArray *arrows;     /* owned SfDotArrow */
  guint *taken;          /* owned: the times each arrow was taken */
  gboolean *visited;     /* owned: by state index */
  GPtrArray *strays;     /* owned Stray, in the order first seen */
  guint strays_dropped;  /* events past MAX_STRAYS distinct ones */
} Cov;

static void
cov_free (Cov *c)
{
  g_ptr_array_unref (c->strays);
  g_free (c->visited);
  g_free (c->taken);
  g_ptr_array_unref (c->arrows);
  sf_machine_unref (c->m);
  g_free (c);
}

/* A flow, as loaded: its machines point into its registry's operator tables. */
typedef struct {
  char *path;            /* owned: as named (--flow, or a flow event's "file") */
  SfConfig *cfg;         /* owned */
  SfRegistry *reg;       /* owned */
  SfLoader *loader;      /* owned */
  GHashTable *by_name;   /* owned: machine name -> Cov (unowned) */
} Flow;

static void
flow_free (Flow *f)
{
  g_hash_table_unref (f->by_name);
  sf_loader_free (f->loader);
  sf_registry_free (f->reg);
  sf_config_free (f->cfg);
  g_free (f->path);
  g_free (f);
}

/* Events naming a machine the flow does not have. */
typedef struct {
  char *where;  /* owned: "FILE:LINE" of the first */
  char *flow;   /* owned: the flow it was looked for in */
  guint count;
} Unknown;

static void
unknown_free (Unknown *u)
{
  g_free (u->where);
  g_free (u->flow);
  g_free (u);
}

typedef struct {
  char **sets;               /* unowned: --set */
  GPtrArray *covs;           /* owned Cov, in report order */
  GHashTable *cov_by_key;    /* owned: "NAME\nFILE" -> Cov (unowned): a machine two flows share is one */
  GPtrArray *flows;          /* owned Flow */
  GHashTable *flow_by_path;  /* owned: path -> Flow (unowned) */
  GHashTable *unknown;       /* owned: machine name -> Unknown */
  GPtrArray *unknown_order;  /* owned names, in the order first seen */
  guint unknown_dropped;
  guint n_state, n_step, n_bad;
  gboolean failed;           /* a flow could not be loaded */
} Coverage;

static void
coverage_clear (Coverage *c)
{
  /* the machines before the registries their operators live in */
  g_ptr_array_unref (c->covs);
  g_hash_table_unref (c->cov_by_key);
  g_hash_table_unref (c->flow_by_path);
  g_ptr_array_unref (c->flows);
  g_hash_table_unref (c->unknown);
  g_ptr_array_unref (c->unknown_order);
}

/* ---- the flows ---- */

static void
add_machine (Coverage *c, Flow *f, SfMachine *m)
{
  if (g_hash_table_contains (f->by_name, m->name))
    return; /* imported twice: the first one names it */
  g_autofree char *key = g_strdup_printf ("%s\n%s", m->name, m->file);
  Cov *cov = g_hash_table_lookup (c->cov_by_key, key);
  if (cov == NULL) {
    cov = g_new0 (Cov, 1);
    cov->m = sf_machine_ref (m);
    cov->arrows = sf_dot_arrows (m);
    cov->taken = g_new0 (guint, cov->arrows->len);
    cov->visited = g_new0 (gboolean, m->states->len);
    cov->strays = g_ptr_array_new_with_free_func ((GDestroyNotify) stray_free);
    g_ptr_array_add (c->covs, cov);
    g_hash_table_insert (c->cov_by_key, g_steal_pointer (&key), cov);
  }
  g_hash_table_insert (f->by_name, g_strdup (m->name), cov);
  /* its imports, by name (a hash table's order is no order) */
  g_autoptr (GList) names = g_list_sort (g_hash_table_get_keys (m->imports), (GCompareFunc) strcmp);
  for (GList *l = names; l != NULL; l = l->next)
    add_machine (c, f, g_hash_table_lookup (m->imports, l->data));
}

/* A transaction machine as the SIP stack finds it (operators/transaction/
 * sf-stack.c): a transaction/NAME beside the flow first, else the built-in one. */
/* The flow @path, loaded once as 'sipflow check' loads it, with the
 * transaction machines the SIP stack runs beside it; NULL when it cannot be
 * (reported; c->failed set). */
static Flow *
flow_get (Coverage *c, const char *path)
{
  Flow *f = g_hash_table_lookup (c->flow_by_path, path);
  if (f != NULL)
    return g_hash_table_size (f->by_name) > 0 ? f : NULL; /* none: it failed, and said so */
  f = g_new0 (Flow, 1);
  f->path = g_strdup (path);
  f->cfg = sf_config_new ();
  f->reg = sf_registry_new (f->cfg, sf_builtin_modules);
  f->loader = sf_loader_new (f->reg);
  f->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_ptr_array_add (c->flows, f);
  g_hash_table_insert (c->flow_by_path, g_strdup (path), f);
  g_autoptr (SfMachine) m = sf_loader_load (f->loader, path, NULL);
  sf_ua_print_diags (f->loader);
  if (m == NULL) {
    g_autofree char *safe = sf_ua_printable (path);
    fprintf (stderr, "sipflow coverage: the flow '%s' cannot be loaded (name it with --flow)\n", safe);
    c->failed = TRUE;
    return NULL;
  }
  g_autoptr (GError) error = NULL;
  for (char **s = c->sets; s != NULL && *s != NULL; s++)
    if (!sf_config_set (f->cfg, *s, &error)) {
      fprintf (stderr, "sipflow coverage: %s\n", error->message);
      c->failed = TRUE;
      return NULL;
    }
  add_machine (c, f, m);
  static const char *const txn[] = { "ict.xml", "ist.xml", "nict.xml", "nist.xml" };
  for (gsize i = 0; i < G_N_ELEMENTS (txn); i++) {
    g_autoptr (SfMachine) t = sf_stack_load_txn (f->loader, m, txn[i], &error);
    if (t == NULL) {
      sf_ua_print_diags (f->loader);
      fprintf (stderr, "sipflow coverage: %s\n", error->message);
      c->failed = TRUE;
      return NULL;
    }
    add_machine (c, f, t);
  }
  return f;
}

/* ---- matching events to arrows ---- */

static gboolean
trigger_matches (const SfDotArrow *a, const char *trigger)
{
  const SfBinding *b = a->binding;
  if (b->on != NULL)
    return sf_trigger_set_matches_text (b->on, trigger);
  /* no triggers (a version-1 flow): any event of the kinds its operator takes */
  const char *colon = strchr (trigger, ':');
  g_autofree char *kind = g_strndup (trigger, colon != NULL ? (gsize) (colon - trigger) : strlen (trigger));
  return (b->op->events & sf_event_kind_from_name (kind)) != 0;
}

static gboolean
in_ops (const SfDotArrow *a, JsonArray *ops)
{
  for (guint i = 0; ops != NULL && i < json_array_get_length (ops); i++) {
    JsonNode *n = json_array_get_element (ops, i);
    if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
        && strcmp (json_node_get_string (n), a->binding->op_name) == 0)
      return TRUE;
  }
  return FALSE;
}

/* The arrow a transition @from -> @to (@to NULL: a step, which stays in
 * @from) on @trigger took, or -1: of those whose trigger matches, one whose
 * operator ran (@ops) before one whose did not, then one of @from's own before
 * one of the catch-all state's, then the first in file order. */
static int
find_arrow (Cov *cov, SfState *from, SfState *to, const char *trigger, JsonArray *ops)
{
  int best = -1, best_score = -1;
  for (guint i = 0; i < cov->arrows->len; i++) {
    const SfDotArrow *a = g_ptr_array_index (cov->arrows, i);
    if (a->stays != (to == NULL) || (to != NULL && a->to != to) || (a->from != from && !a->from->catch_all))
      continue;
    if (!trigger_matches (a, trigger))
      continue;
    int score = (in_ops (a, ops) ? 2 : 0) + (a->from == from ? 1 : 0);
    if (score > best_score) {
      best = (int) i;
      best_score = score;
    }
  }
  return best;
}

static void
visit (Cov *cov, SfState *s)
{
  guint i;
  if (s != NULL && g_ptr_array_find (cov->m->states, s, &i))
    cov->visited[i] = TRUE;
}

static void
add_stray (Cov *cov, char *text /* transfer full */)
{
  for (guint i = 0; i < cov->strays->len; i++) {
    Stray *s = g_ptr_array_index (cov->strays, i);
    if (strcmp (s->text, text) == 0) {
      s->count++;
      g_free (text);
      return;
    }
  }
  if (cov->strays->len >= MAX_STRAYS) {
    cov->strays_dropped++;
    g_free (text);
    return;
  }
  Stray *s = g_new0 (Stray, 1);
  s->text = text;
  s->count = 1;
  g_ptr_array_add (cov->strays, s);
}

static char *
ops_text (JsonArray *ops)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; ops != NULL && i < json_array_get_length (ops); i++) {
    JsonNode *n = json_array_get_element (ops, i);
    if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
      g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", json_node_get_string (n));
  }
  if (s->len == 0)
    g_string_append (s, "no operator");
  return g_string_free (s, FALSE);
}

static void
note_unknown (Coverage *c, const char *machine, const char *file, guint line, Flow *f)
{
  Unknown *u = g_hash_table_lookup (c->unknown, machine);
  if (u == NULL) {
    if (g_hash_table_size (c->unknown) >= MAX_STRAYS) {
      c->unknown_dropped++;
      return;
    }
    u = g_new0 (Unknown, 1);
    u->where = g_strdup_printf ("%s:%u", file, line);
    u->flow = g_strdup (f->path);
    g_hash_table_insert (c->unknown, g_strdup (machine), u);
    g_ptr_array_add (c->unknown_order, g_strdup (machine));
    g_autofree char *safe = sf_ua_printable (machine);
    g_autofree char *safe_flow = sf_ua_printable (f->path);
    fprintf (stderr, "%s:%u: warning: machine '%s' is not one of flow %s: its events are not counted\n", file, line,
             safe, safe_flow);
  }
  u->count++;
}

/* A "state" or "step" event of @f's run. */
static void
take (Coverage *c, Flow *f, SfUaEvents *r, const char *file, guint line, JsonObject *o, gboolean step)
{
  const char *machine = sf_ua_events_str (o, "machine");
  const char *from_name = sf_ua_events_str (o, step ? "state" : "from");
  const char *to_name = step ? from_name : sf_ua_events_str (o, "to");
  const char *trigger = sf_ua_events_str (o, "trigger");
  if (machine == NULL || from_name == NULL || to_name == NULL || trigger == NULL) {
    sf_ua_events_reject (r, "a %s event without \"machine\", \"%s\"%s or \"trigger\"", step ? "step" : "state",
                         step ? "state" : "from", step ? "" : ", \"to\"");
    return;
  }
  JsonNode *ops_node = json_object_get_member (o, "ops");
  JsonArray *ops = ops_node != NULL && JSON_NODE_HOLDS_ARRAY (ops_node) ? json_node_get_array (ops_node) : NULL;
  if (step)
    c->n_step++;
  else
    c->n_state++;
  Cov *cov = g_hash_table_lookup (f->by_name, machine);
  if (cov == NULL) {
    note_unknown (c, machine, file, line, f);
    return;
  }
  SfState *from = sf_machine_lookup_state (cov->m, from_name);
  SfState *to = sf_machine_lookup_state (cov->m, to_name);
  visit (cov, cov->m->initial); /* an instance of it ran: it began there */
  visit (cov, from);
  visit (cov, to);
  g_autofree char *op_list = ops_text (ops);
  g_autofree char *what = step ? g_strdup_printf ("step in %s on %s (%s)", from_name, trigger, op_list)
                               : g_strdup_printf ("%s -> %s on %s (%s)", from_name, to_name, trigger, op_list);
  if (from == NULL || to == NULL || from->catch_all || to->catch_all) {
    add_stray (cov, g_strdup_printf ("%s: '%s' is no state of %s", what, from == NULL || from->catch_all ? from_name
                                                                                                          : to_name,
                                     cov->m->name));
    return;
  }
  int i = find_arrow (cov, from, step ? NULL : to, trigger, ops);
  if (i < 0) {
    add_stray (cov, g_strdup_printf ("%s: %s", what, step ? "no loop of the picture" : "no arrow of the picture"));
    return;
  }
  cov->taken[i]++;
}

/* The flow a flow event names (transfer full), or NULL: its "file"; when no
 * flow is there (the events were written on another machine, or "file" is not
 * one), its "name" (the flow as run was given it: a built-in flow's name), as
 * it is or with ".xml". */
static char *
flow_of_event (JsonObject *o)
{
  const char *res = "resource://" SF_FLOW_RESOURCE_PREFIX; /* a built-in flow, named by its resource */
  const char *as_written = sf_ua_events_str (o, "file");
  g_autofree char *file = as_written != NULL && g_str_has_prefix (as_written, res)
                            ? g_strconcat ("builtin:", as_written + strlen (res), NULL)
                            : g_strdup (as_written);
  const char *name = sf_ua_events_str (o, "name");
  g_autofree char *name_xml = name != NULL ? g_strconcat (name, ".xml", NULL) : NULL;
  const char *tries[] = { file, name, name_xml };
  for (gsize i = 0; i < G_N_ELEMENTS (tries); i++) {
    g_autofree char *origin = NULL;
    g_autoptr (GBytes) bytes = tries[i] != NULL ? sf_flow_read (tries[i], &origin, NULL) : NULL;
    if (bytes != NULL)
      return g_strdup (tries[i]);
  }
  return file != NULL ? g_strdup (file) : NULL; /* fails to load, named as written */
}

/* The flow of the first flow event of @files, or NULL. */
static char *
first_flow (char **files)
{
  for (char **p = files; *p != NULL; p++) {
    g_autoptr (SfUaEvents) r = sf_ua_events_open (*p, NULL);
    if (r == NULL)
      continue;
    sf_ua_events_set_quiet (r, TRUE); /* read again below, with the warnings */
    guint line;
    JsonObject *o;
    while ((o = sf_ua_events_next (r, &line)) != NULL)
      if (strcmp (sf_ua_events_str (o, "event"), "flow") == 0 && sf_ua_events_str (o, "file") != NULL)
        return flow_of_event (o);
  }
  return NULL;
}

static void
read_file (Coverage *c, const char *file, Flow *fixed, Flow *first)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfUaEvents) r = sf_ua_events_open (file, &error);
  if (r == NULL) {
    fprintf (stderr, "sipflow coverage: %s\n", error->message);
    c->failed = TRUE;
    return;
  }
  Flow *cur = fixed != NULL ? fixed : first;
  guint line;
  JsonObject *o;
  while ((o = sf_ua_events_next (r, &line)) != NULL) {
    const char *ev = sf_ua_events_str (o, "event");
    if (strcmp (ev, "flow") == 0 && fixed == NULL) {
      g_autofree char *path = sf_ua_events_str (o, "file") != NULL ? flow_of_event (o) : NULL;
      if (path == NULL)
        sf_ua_events_reject (r, "a flow event without \"file\"");
      else
        cur = flow_get (c, path);
    } else if ((strcmp (ev, "state") == 0 || strcmp (ev, "step") == 0) && cur != NULL) {
      take (c, cur, r, file, line, o, strcmp (ev, "step") == 0);
    }
  }
  c->n_bad += sf_ua_events_bad (r);
}

/* ---- the report ---- */

static guint
n_states (const Cov *cov)
{
  return cov->m->states->len - (cov->m->catch_all != NULL ? 1 : 0);
}

static void
counts (const Cov *cov, guint *taken, guint *visited)
{
  *taken = *visited = 0;
  for (guint i = 0; i < cov->arrows->len; i++)
    *taken += cov->taken[i] > 0 ? 1 : 0;
  for (guint i = 0; i < cov->m->states->len; i++)
    *visited += cov->visited[i] && !((SfState *) g_ptr_array_index (cov->m->states, i))->catch_all ? 1 : 0;
}

static const char *
state_name (const SfState *s)
{
  return s->catch_all ? "*" : s->name;
}

static char *
times (guint n)
{
  return n == 0 ? g_strdup ("never") : g_strdup_printf ("%u time%s", n, n == 1 ? "" : "s");
}

static void
print_text (Coverage *c)
{
  for (guint k = 0; k < c->covs->len; k++) {
    const Cov *cov = g_ptr_array_index (c->covs, k);
    guint taken, visited;
    counts (cov, &taken, &visited);
    printf ("%s%s (%s): %u of %u transitions, %u of %u states\n", k > 0 ? "\n" : "", cov->m->name, cov->m->file, taken,
            cov->arrows->len, visited, n_states (cov));
    if (cov->m->rfc != NULL)
      printf ("  implements %s\n", cov->m->rfc);
    for (guint i = 0; i < cov->arrows->len; i++) {
      const SfDotArrow *a = g_ptr_array_index (cov->arrows, i);
      g_autofree char *n = times (cov->taken[i]);
      const char *rfc = a->binding->op->rfc;
      printf ("  [%c] %s -> %s%s  on %s%s%s  (%s%s%s)  %s\n", cov->taken[i] > 0 ? 'x' : ' ', state_name (a->from),
              a->stays ? state_name (a->from) : state_name (a->to), a->stays ? " (loop)" : "", a->trigger,
              a->outcome != NULL ? " " : "", a->outcome != NULL ? a->outcome : "", a->op, rfc != NULL ? "; " : "",
              rfc != NULL ? rfc : "", n);
    }
    for (guint i = 0; i < cov->strays->len; i++) {
      const Stray *s = g_ptr_array_index (cov->strays, i);
      g_autofree char *safe = sf_ua_printable (s->text);
      g_autofree char *n = times (s->count);
      printf ("  [?] %s  %s\n", safe, n);
    }
    if (cov->strays_dropped > 0)
      printf ("  [?] %u more events that took no arrow\n", cov->strays_dropped);
  }
  for (guint i = 0; i < c->unknown_order->len; i++) {
    const char *name = g_ptr_array_index (c->unknown_order, i);
    const Unknown *u = g_hash_table_lookup (c->unknown, name);
    g_autofree char *safe = sf_ua_printable (name);
    g_autofree char *safe_flow = sf_ua_printable (u->flow);
    g_autofree char *n = times (u->count);
    printf ("%snot in flow %s: machine '%s' (%s)  %s\n", i == 0 ? "\n" : "", safe_flow, safe, u->where, n);
  }
  if (c->unknown_dropped > 0)
    printf ("not in the flow: %u more events of other machines\n", c->unknown_dropped);
  printf ("\nevents: %u state, %u step; %u bad line%s skipped\n", c->n_state, c->n_step, c->n_bad,
          c->n_bad == 1 ? "" : "s");
}

static void
print_json (Coverage *c)
{
  g_autoptr (JsonBuilder) b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "machines");
  json_builder_begin_array (b);
  for (guint k = 0; k < c->covs->len; k++) {
    const Cov *cov = g_ptr_array_index (c->covs, k);
    guint taken, visited;
    counts (cov, &taken, &visited);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "machine");
    json_builder_add_string_value (b, cov->m->name);
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, cov->m->file);
    json_builder_set_member_name (b, "rfc");
    if (cov->m->rfc != NULL)
      json_builder_add_string_value (b, cov->m->rfc);
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "transitions");
    json_builder_add_int_value (b, cov->arrows->len);
    json_builder_set_member_name (b, "taken");
    json_builder_add_int_value (b, taken);
    json_builder_set_member_name (b, "states");
    json_builder_add_int_value (b, n_states (cov));
    json_builder_set_member_name (b, "visited");
    json_builder_add_int_value (b, visited);
    json_builder_set_member_name (b, "arrows");
    json_builder_begin_array (b);
    for (guint i = 0; i < cov->arrows->len; i++) {
      const SfDotArrow *a = g_ptr_array_index (cov->arrows, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "from");
      json_builder_add_string_value (b, state_name (a->from));
      json_builder_set_member_name (b, "to");
      json_builder_add_string_value (b, a->stays ? state_name (a->from) : state_name (a->to));
      json_builder_set_member_name (b, "loop");
      json_builder_add_boolean_value (b, a->stays);
      json_builder_set_member_name (b, "trigger");
      json_builder_add_string_value (b, a->trigger);
      json_builder_set_member_name (b, "outcome");
      if (a->outcome != NULL)
        json_builder_add_string_value (b, a->outcome);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "op");
      json_builder_add_string_value (b, a->op);
      json_builder_set_member_name (b, "rfc");
      if (a->binding->op->rfc != NULL)
        json_builder_add_string_value (b, a->binding->op->rfc);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "count");
      json_builder_add_int_value (b, cov->taken[i]);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "untaken_events");
    json_builder_begin_array (b);
    for (guint i = 0; i < cov->strays->len; i++) {
      const Stray *s = g_ptr_array_index (cov->strays, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "event");
      json_builder_add_string_value (b, s->text);
      json_builder_set_member_name (b, "count");
      json_builder_add_int_value (b, s->count);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "unknown_machines");
  json_builder_begin_array (b);
  for (guint i = 0; i < c->unknown_order->len; i++) {
    const char *name = g_ptr_array_index (c->unknown_order, i);
    const Unknown *u = g_hash_table_lookup (c->unknown, name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "machine");
    json_builder_add_string_value (b, name);
    json_builder_set_member_name (b, "first");
    json_builder_add_string_value (b, u->where);
    json_builder_set_member_name (b, "count");
    json_builder_add_int_value (b, u->count);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "state_events");
  json_builder_add_int_value (b, c->n_state);
  json_builder_set_member_name (b, "step_events");
  json_builder_add_int_value (b, c->n_step);
  json_builder_set_member_name (b, "bad_lines");
  json_builder_add_int_value (b, c->n_bad);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

int
sf_ua_cmd_coverage (int argc, char **argv)
{
  g_autofree char *flow = NULL;
  g_auto (GStrv) sets = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "flow", 'f', 0, G_OPTION_ARG_FILENAME, &flow,
      "the flow the runs ran (default: each file's \"flow\" event; the first one for a file without)", "FLOW.xml" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "set one configuration key, as run does (repeatable)",
      "SECTION.KEY=VALUE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print the report as one JSON object", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("FILE... - which transitions runs took");
  g_option_context_set_summary (
    octx, "Each FILE is the event output of 'sipflow run' (best with --messages, whose \"step\" events\n"
          "cover the loops).  For each machine of the flow (its imports, and the transaction machines\n"
          "ict ist nict nist), every arrow of its picture ('sipflow dot'), [x] with the times the runs'\n"
          "\"state\" and \"step\" events took it or [ ] never, with the RFC section of its operator and\n"
          "the figure the machine implements; a header line per machine:\n"
          "  ist (builtin:transaction/ist.xml): 9 of 19 transitions, 5 of 6 states\n"
          "Events that took no arrow are listed with [?]; bad lines are warned as FILE:LINE and skipped.\n"
          "Exit status: 0 when the inputs were read (a report, not a test), 1 when a file or the flow\n"
          "cannot be read, 2 usage error.");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup ("sipflow coverage");
  g_set_prgname (prgname);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    return sf_ua_usage_error ("coverage", "%s", error->message);
  if (argc < 2)
    return sf_ua_usage_error ("coverage", "no event file given");
  char **files = argv + 1;
  for (char **p = files; *p != NULL; p++)
    if (!g_file_test (*p, G_FILE_TEST_IS_REGULAR)) {
      /* a regular file: it is read twice (its flow event first) */
      fprintf (stderr, "sipflow coverage: %s: %s\n", *p,
               g_file_test (*p, G_FILE_TEST_EXISTS) ? "not a regular file" : "no such file");
      return SF_EXIT_FAIL;
    }
  Coverage c = {
    .sets = sets,
    .covs = g_ptr_array_new_with_free_func ((GDestroyNotify) cov_free),
    .cov_by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .flows = g_ptr_array_new_with_free_func ((GDestroyNotify) flow_free),
    .flow_by_path = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .unknown = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) unknown_free),
    .unknown_order = g_ptr_array_new_with_free_func (g_free),
  };
  Flow *fixed = NULL, *first = NULL;
  if (flow != NULL) {
    fixed = flow_get (&c, flow);
  } else {
    g_autofree char *path = first_flow (files);
    if (path == NULL) {
      fprintf (stderr, "sipflow coverage: no \"flow\" event in the files (not written by 'sipflow run'?): "
                       "name the flow with --flow\n");
      c.failed = TRUE;
    } else {
      first = flow_get (&c, path);
    }
  }
  if (!c.failed)
    for (char **p = files; *p != NULL; p++)
      read_file (&c, *p, fixed, first);
  int rc = c.failed ? SF_EXIT_FAIL : SF_EXIT_OK;
  if (!c.failed) {
    if (json)
      print_json (&c);
    else
      print_text (&c);
  }
  coverage_clear (&c);
  return rc;
}
