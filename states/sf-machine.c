/* sf-machine.c: machine definitions (see sf-machine.h). */
#include "config.h"
#include "sf-machine.h"
#include <string.h>

static void
state_free (SfState *s)
{
  for (int q = 0; q < SF_QUEUE_COUNT; q++)
    g_ptr_array_unref (s->queues[q]);
  g_free (s->name);
  g_free (s);
}

static void
var_decl_free (SfVarDecl *v)
{
  g_free (v->name);
  g_free (v->init);
  g_free (v);
}

SfMachine *
sf_machine_new (const char *name, const char *file)
{
  SfMachine *m = g_new0 (SfMachine, 1);
  g_ref_count_init (&m->ref);
  m->name = g_strdup (name);
  m->file = g_strdup (file);
  m->scope = g_strdup ("call");
  m->states = g_ptr_array_new_with_free_func ((GDestroyNotify) state_free);
  m->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  m->vars = g_ptr_array_new_with_free_func ((GDestroyNotify) var_decl_free);
  m->imports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) sf_machine_unref);
  return m;
}

SfMachine *
sf_machine_ref (SfMachine *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_ref_count_inc (&m->ref);
  return m;
}

void
sf_machine_unref (SfMachine *m)
{
  if (m == NULL || !g_ref_count_dec (&m->ref))
    return;
  g_hash_table_unref (m->by_name);
  g_ptr_array_unref (m->states);
  g_hash_table_unref (m->imports);
  g_ptr_array_unref (m->vars);
  g_free (m->name);
  g_free (m->file);
  g_free (m->scope);
  g_free (m->description);
  g_free (m->rfc);
  g_free (m);
}

SfState *
sf_machine_lookup_state (SfMachine *m, const char *name)
{
  return name != NULL ? g_hash_table_lookup (m->by_name, name) : NULL;
}

SfState *
sf_machine_add_state (SfMachine *m, const char *name, int line)
{
  SfState *s = g_new0 (SfState, 1);
  s->name = g_strdup (name);
  s->line = line;
  s->catch_all = g_strcmp0 (name, "*") == 0;
  for (int q = 0; q < SF_QUEUE_COUNT; q++)
    s->queues[q] = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_binding_free);
  g_ptr_array_add (m->states, s);
  if (!g_hash_table_contains (m->by_name, s->name))
    g_hash_table_insert (m->by_name, s->name, s);
  if (s->catch_all && m->catch_all == NULL)
    m->catch_all = s;
  return s;
}

SfMachine *
sf_machine_lookup_import (SfMachine *m, const char *name)
{
  return g_hash_table_lookup (m->imports, name);
}

gboolean
sf_machine_binds (SfMachine *m, const char *op_name)
{
  for (guint i = 0; m != NULL && i < m->states->len; i++) {
    SfState *st = m->states->pdata[i];
    for (guint q = 0; q < SF_QUEUE_COUNT; q++)
      for (guint j = 0; st->queues[q] != NULL && j < st->queues[q]->len; j++) {
        const SfBinding *b = st->queues[q]->pdata[j];
        if (b->op != NULL && strcmp (b->op->name, op_name) == 0)
          return TRUE;
      }
  }
  return FALSE;
}

SfBinding *
sf_binding_new (const SfOperatorDef *op, const char *op_name, int line)
{
  SfBinding *b = g_new0 (SfBinding, 1);
  b->op = op;
  b->op_name = g_strdup (op_name);
  b->line = line;
  guint n = op->outcomes != NULL ? g_strv_length ((char **) op->outcomes) : 0;
  b->outcome_next = g_new0 (SfState *, n + 1);
  return b;
}

void
sf_binding_free (SfBinding *b)
{
  if (b == NULL)
    return;
  if (b->arg != NULL) {
    if (b->op->arg_free != NULL)
      b->op->arg_free (b->arg);
    else if (b->op->fixup == NULL)
      g_free (b->arg);
  }
  g_free (b->arg_text);
  sf_trigger_set_free (b->on);
  if (b->guard != NULL && b->guard_free != NULL)
    b->guard_free (b->guard);
  for (guint i = 0; b->guarded != NULL && i < b->guarded->len; i++) {
    SfGuardedOutcome *g = g_ptr_array_index (b->guarded, i);
    if (g->guard != NULL && b->guard_free != NULL)
      b->guard_free (g->guard);
    g_free (g->text);
    g_free (g);
  }
  if (b->guarded != NULL)
    g_ptr_array_unref (b->guarded);
  g_free (b->op_name);
  g_free (b->next_name);
  g_free (b->outcome_next);
  g_free (b);
}

int
sf_binding_outcome_index (const SfBinding *b, const char *outcome)
{
  if (b->op->outcomes == NULL)
    return -1;
  for (int i = 0; b->op->outcomes[i] != NULL; i++)
    if (g_strcmp0 (b->op->outcomes[i], outcome) == 0)
      return i;
  return -1;
}

const char *
sf_queue_name (SfQueue q)
{
  static const char *const names[] = { "entry", "normal", "exit" };
  return q < SF_QUEUE_COUNT ? names[q] : "?";
}

guint
sf_machine_add_var (SfMachine *m, const char *name, const char *init, int line)
{
  SfVarDecl *v = g_new0 (SfVarDecl, 1);
  v->name = g_strdup (name);
  v->init = g_strdup (init != NULL ? init : "");
  v->line = line;
  g_ptr_array_add (m->vars, v);
  return m->vars->len - 1;
}

int
sf_machine_var_index (SfMachine *m, const char *name)
{
  for (guint i = 0; i < m->vars->len; i++)
    if (strcmp (((SfVarDecl *) g_ptr_array_index (m->vars, i))->name, name) == 0)
      return (int) i;
  return -1;
}

gboolean
sf_queue_from_name (const char *name, SfQueue *q)
{
  for (int i = 0; i < SF_QUEUE_COUNT; i++)
    if (g_strcmp0 (name, sf_queue_name ((SfQueue) i)) == 0) {
      *q = (SfQueue) i;
      return TRUE;
    }
  return FALSE;
}
