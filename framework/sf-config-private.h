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

G_END_DECLS
