/* sf-instance.h: one running instance of a machine (docs/architecture.md, "Instances").
 *
 * The runtime (states/) defines instances (sf-instance-private.h) and frees them;
 * the host (framework/'s endpoint) creates them, names and indexes them and
 * decides when they go.  Everyone else sees them through these functions.
 *
 * Data hangs on an instance in slots indexed by module id (pjsip's mod_data: an
 * array lookup, no string compared): one per module, reached by the module's
 * typed accessor (framework/sf-module.h); a plugin's by sf_ctx_plugin_data(). */
#pragma once
#include <glib.h>
#include "sf-machine.h"

G_BEGIN_DECLS

typedef struct _SfInstance SfInstance;

/* How many data slots an instance may have (slot ids 0 .. SF_INSTANCE_MAX_SLOTS-1):
 * one per module, so a bound far above the number of modules a process loads.
 * The array grows to the highest slot set, not to the bound. */
#define SF_INSTANCE_MAX_SLOTS 64

/* Instance accessors (all unowned). */
const char *sf_instance_handle (SfInstance *inst);
const char *sf_instance_key (SfInstance *inst);
const char *sf_instance_state (SfInstance *inst);
SfMachine *sf_instance_machine (SfInstance *inst);
/* The live parent, or NULL (asked of the host: a parent may have ended). */
SfInstance *sf_instance_parent (SfInstance *inst);
gboolean sf_instance_ended (SfInstance *inst);

/* The data in @slot (unowned), NULL when none was set. */
gpointer sf_instance_get_slot (SfInstance *inst, guint slot);
/* Puts @data in @slot (< SF_INSTANCE_MAX_SLOTS); @destroy (nullable) frees it with
 * the instance or when it is replaced.  Setting another value frees the old one
 * (after the new one is in place); setting the same pointer again only changes its
 * destroy function; NULL clears the slot. */
void sf_instance_set_slot (SfInstance *inst, guint slot, gpointer data, GDestroyNotify destroy);

/* The flow's variable number @idx (sf_machine_var_index): its value (unowned),
 * its declared initial value until set. */
const char *sf_instance_var (SfInstance *inst, guint idx);
/* Sets it to a copy of @value, cut to SF_VAR_MAX_LEN bytes (at a UTF-8 boundary). */
void sf_instance_set_var (SfInstance *inst, guint idx, const char *value);

G_END_DECLS
