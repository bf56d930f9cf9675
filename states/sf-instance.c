/* sf-instance.c: instances and their data (see sf-instance.h). */
#include "config.h"
#include "sf-instance-private.h"
#include "sf-event-private.h"
#include <string.h>

SfInstance *
sf_instance_new (SfRuntime *rt, SfMachine *machine)
{
  g_return_val_if_fail (rt != NULL && machine != NULL && machine->initial != NULL, NULL);
  /* g_new and an initializer (the rest zero), not g_new0: glibc's calloc
   * passes by malloc's per-thread cache, and costs some 250 instructions
   * where a cached block costs 50 (nine instances a proxied call) */
  SfInstance *inst = g_new (SfInstance, 1);
  *inst = (SfInstance) { .rt = rt, .machine = sf_machine_ref (machine), .state = machine->initial };
  inst->timers = inst->timers_room;
  return inst;
}

void
sf_instance_free (SfInstance *inst)
{
  if (inst == NULL)
    return;
  if (inst->timers != inst->timers_room)
    g_free (inst->timers);
  for (guint i = 0; i < inst->n_fired; i++)
    sf_event_unref (inst->fired[i].ev);
  g_free (inst->fired);
  /* Highest slot first: a module set up later may hold on to an earlier one's data. */
  for (guint i = MAX (inst->n_slots, inst->slot0.data != NULL ? inst->slot0_id + 1 : 0); i-- > 0;) {
    SfInstanceSlot *at = inst->slot0.data != NULL && inst->slot0_id == i ? &inst->slot0
                         : i < inst->n_slots ? &inst->slots[i] : NULL;
    if (at == NULL)
      continue;
    SfInstanceSlot s = *at;
    *at = (SfInstanceSlot) { NULL, NULL };
    if (s.destroy != NULL && s.data != NULL)
      s.destroy (s.data);
  }
  g_free (inst->slots);
  if (inst->vars != NULL)
    for (guint i = 0; i < inst->machine->vars->len; i++)
      g_free (inst->vars[i]);
  g_free (inst->vars);
  sf_machine_unref (inst->machine);
  g_free (inst->scoped_key.text);
  g_free (inst->import_name);
  g_free (inst->event_fields);
  g_free (inst);
}

const char *
sf_instance_handle (SfInstance *inst)
{
  return inst->handle;
}

const char *
sf_instance_key (SfInstance *inst)
{
  return inst->key;
}

const char *
sf_instance_state (SfInstance *inst)
{
  return inst->state->name;
}

SfMachine *
sf_instance_machine (SfInstance *inst)
{
  return inst->machine;
}

SfInstance *
sf_instance_parent (SfInstance *inst)
{
  return inst->rt->hooks->lookup_id (inst->rt->host, inst->parent_id);
}

gboolean
sf_instance_ended (SfInstance *inst)
{
  return inst->ended;
}

/* ---- data ---- */

gpointer
sf_instance_get_slot (SfInstance *inst, guint slot)
{
  g_return_val_if_fail (inst != NULL, NULL);
  if (inst->slot0.data != NULL && inst->slot0_id == slot)
    return inst->slot0.data;
  return slot < inst->n_slots ? inst->slots[slot].data : NULL;
}

void
sf_instance_set_slot (SfInstance *inst, guint slot, gpointer data, GDestroyNotify destroy)
{
  g_return_if_fail (inst != NULL);
  g_return_if_fail (slot < SF_INSTANCE_MAX_SLOTS);
  SfInstanceSlot *at;
  if (inst->slot0.data != NULL && inst->slot0_id == slot)
    at = &inst->slot0;
  else if (slot < inst->n_slots && inst->slots[slot].data != NULL)
    at = &inst->slots[slot];
  else if (data == NULL)
    return; /* clearing a slot not set */
  else if (inst->slot0.data == NULL) { /* no array for the first (or only) one */
    inst->slot0_id = slot;
    at = &inst->slot0;
  } else {
    if (slot >= inst->n_slots) {
      /* Grown to the slot asked for: modules are few and their ids small. */
      inst->slots = g_renew (SfInstanceSlot, inst->slots, slot + 1);
      for (guint i = inst->n_slots; i <= slot; i++)
        inst->slots[i] = (SfInstanceSlot) { NULL, NULL };
      inst->n_slots = slot + 1;
    }
    at = &inst->slots[slot];
  }
  SfInstanceSlot old = *at;
  *at = (SfInstanceSlot) { data, data != NULL ? destroy : NULL };
  /* The old value goes after the new one is in place, so its destroy function
   * sees the slot as it now is. */
  if (old.data != NULL && old.data != data && old.destroy != NULL)
    old.destroy (old.data);
}

const char *
sf_instance_var (SfInstance *inst, guint idx)
{
  g_return_val_if_fail (idx < inst->machine->vars->len, "");
  if (inst->vars != NULL && inst->vars[idx] != NULL)
    return inst->vars[idx];
  return ((SfVarDecl *) g_ptr_array_index (inst->machine->vars, idx))->init;
}

void
sf_instance_set_var (SfInstance *inst, guint idx, const char *value)
{
  g_return_if_fail (idx < inst->machine->vars->len);
  if (inst->vars == NULL)
    inst->vars = g_new0 (char *, inst->machine->vars->len);
  gsize len = strlen (value);
  if (len > SF_VAR_MAX_LEN) {
    const char *end = value + SF_VAR_MAX_LEN;
    if (!g_utf8_validate (value, SF_VAR_MAX_LEN, &end))
      len = (gsize) (end - value);
    else
      len = SF_VAR_MAX_LEN;
  }
  g_free (inst->vars[idx]);
  inst->vars[idx] = g_strndup (value, len);
}
