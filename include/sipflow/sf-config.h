/* sf-config.h: configuration as docs/architecture.md says: an INI file read with GKeyFile
 * (',' separates list items), every key settable with --set SECTION.KEY=VALUE,
 * one declared table of keys per section (plugins add theirs), and errors that
 * name the source, the key and what was expected.  Values are checked when they
 * are set, so a running program reads only valid ones. */
#pragma once
#include <glib.h>
#include "sipflow/sf-api.h"

G_BEGIN_DECLS

#define SF_CONFIG_ERROR (sf_config_error_quark ())
SF_API GQuark sf_config_error_quark (void);
typedef enum {
  SF_CONFIG_ERROR_UNKNOWN_KEY,
  SF_CONFIG_ERROR_BAD_VALUE,
  SF_CONFIG_ERROR_SYNTAX,
  SF_CONFIG_ERROR_IO,
  SF_CONFIG_ERROR_DUPLICATE,
} SfConfigError;

typedef enum {
  SF_CFG_STRING,
  SF_CFG_INT,       /* integer in [min, max] */
  SF_CFG_BOOL,      /* true/false/on/off/yes/no/1/0 */
  SF_CFG_SECONDS,   /* integer seconds in [min, max], or "off" (read as -1) */
  SF_CFG_MS,        /* integer milliseconds in [min, max] */
  SF_CFG_LIST,      /* comma-separated strings */
  SF_CFG_ENUM,      /* one of choices ("a|b|c") */
} SfConfigType;

typedef struct {
  const char *key;
  SfConfigType type;
  const char *default_value;  /* as it would be written in the file; NULL: unset */
  gint64 min, max;            /* INT, SECONDS, MS */
  const char *choices;        /* ENUM: "error|warning|info|debug" */
  const char *doc;            /* one line */
} SfConfigKey;

typedef struct _SfConfig SfConfig;

/* A configuration with the built-in sections declared (core). */
SF_API SfConfig *sf_config_new (void);
SF_API void sf_config_free (SfConfig *cfg);
/* Declares a section's keys; @keys must outlive @cfg (a constant table). */
SF_API gboolean sf_config_declare (SfConfig *cfg, const char *section, const SfConfigKey *keys, gsize n_keys,
                                   GError **error);
SF_API gboolean sf_config_load_file (SfConfig *cfg, const char *path, GError **error);
SF_API gboolean sf_config_load_data (SfConfig *cfg, const char *data, const char *source, GError **error);
/* "section.key=value", from the command line (source "--set"). */
SF_API gboolean sf_config_set (SfConfig *cfg, const char *assignment, GError **error);
SF_API gboolean sf_config_set_value (SfConfig *cfg, const char *section, const char *key, const char *value,
                                     const char *source, GError **error);

/* Getters for declared keys (a programming error otherwise). */
SF_API const char *sf_config_get_string (SfConfig *cfg, const char *section, const char *key);
SF_API gint64 sf_config_get_int (SfConfig *cfg, const char *section, const char *key);
SF_API gboolean sf_config_get_bool (SfConfig *cfg, const char *section, const char *key);
/* (transfer none) NULL-terminated; an empty list is an empty vector. */
SF_API const char *const *sf_config_get_list (SfConfig *cfg, const char *section, const char *key);
/* Where the current value came from: "default", a file name, or "--set". */
SF_API const char *sf_config_get_source (SfConfig *cfg, const char *section, const char *key);

/* Parses a boolean the way configuration does; FALSE when @text is not one. */
SF_API gboolean sf_config_parse_bool (const char *text, gboolean *out);

/* The configuration an operator runs with: its plugin's sections
 * (sf_plugin_add_config) are there (transfer none; NULL for an endpoint built
 * without one, as in some unit tests). */
typedef struct _SfCtx SfCtx;
SF_API SfConfig *sf_ctx_config (SfCtx *ctx);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfConfig, sf_config_free)

G_END_DECLS
