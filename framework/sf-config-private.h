/* sf-config-private.h: what the engine asks of the configuration beyond the
 * public sf-config.h (not for plugins). */
#pragma once
#include "sipflow/sf-config.h"

G_BEGIN_DECLS

/* Declares one string key that a flow's <setting> names (the key is copied and
 * owned by @cfg); declaring it again with the same default is a no-op. */
gboolean sf_config_declare_string (SfConfig *cfg, const char *section, const char *key, const char *default_value,
                                   const char *doc, GError **error);
gboolean sf_config_has_key (SfConfig *cfg, const char *section, const char *key);
/* The declared key of @section nearest to @key within two edits (transfer none),
 * or NULL: for a "did you mean". */
const char *sf_config_suggest_key (SfConfig *cfg, const char *section, const char *key);
/* Any declared key's value as text ("" when unset or undeclared; transfer none). */
const char *sf_config_get_text (SfConfig *cfg, const char *section, const char *key);

/* ---- reload (docs/operations.md, "Reloading the configuration") ---- */

/* The module whose sections the next sf_config_declare calls declare (NULL:
 * none, as for [core] and a flow's settings); the registry sets it around a
 * module's declare function. */
void sf_config_set_declaring (SfConfig *cfg, const char *module);
/* The name of the module that declared @section (transfer none), NULL when none did. */
const char *sf_config_section_owner (SfConfig *cfg, const char *section);
/* A new configuration with @cfg's sections and keys, every value at its
 * default, to read a configuration file into again (transfer full).  It
 * shares the keys a flow declared with @cfg: free it first. */
SfConfig *sf_config_new_like (SfConfig *cfg);
/* The keys whose values differ between @cfg and @other ("section.key", sorted;
 * transfer full).  Only @cfg's keys are compared. */
GPtrArray *sf_config_changed_keys (SfConfig *cfg, SfConfig *other);
/* Gives every key of @cfg the value (and source) it has in @from, a
 * configuration made by sf_config_new_like(@cfg).  An unchanged value keeps its
 * strings, so what a reader holds stays valid. */
void sf_config_assign (SfConfig *cfg, SfConfig *from);

G_END_DECLS
