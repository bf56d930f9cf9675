/* sf-loader.h: the XML flow loader.  Reads a flow (a file, or a built-in flow
 * compiled in as a GResource when no such file exists), validates it against
 * the versioned RELAX NG schema xml/sipflow.rng, binds every operator by name
 * through the registry, loads the flow's plugins and imported machines, and
 * makes every check docs/architecture.md lists before the first event.  Each diagnostic
 * names the file, the line, the element and quotes the offending name. */
#pragma once
#include <glib.h>
#include "sf-registry.h"
#include "states/sf-machine.h"

G_BEGIN_DECLS

#define SF_LOADER_ERROR (sf_loader_error_quark ())
GQuark sf_loader_error_quark (void);
typedef enum {
  SF_LOADER_ERROR_NOT_FOUND,
  SF_LOADER_ERROR_INVALID,
} SfLoaderError;

/* Largest flow file read. */
#define SF_FLOW_MAX_BYTES (4 * 1024 * 1024)
/* Deepest chain of imports. */
#define SF_FLOW_MAX_IMPORT_DEPTH 16

/* The resource path built-in flows live under. */
#define SF_FLOW_RESOURCE_PREFIX "/org/sipflow/xml/"

typedef struct {
  char *file;      /* owned */
  int line;        /* 0 when unknown */
  gboolean warning;
  char *message;   /* owned: "<op>: unknown operator 'OpFoo'" */
} SfDiag;

typedef struct _SfLoader SfLoader;

/* @reg: unowned; plugins named by flows are loaded into it. */
SfLoader *sf_loader_new (SfRegistry *reg);
void sf_loader_free (SfLoader *loader);
/* Whether <plugin> may load shared objects (default TRUE; the fuzz target says no). */
void sf_loader_set_allow_plugins (SfLoader *loader, gboolean allow);
/* Loads @path with its imports.  NULL on any error, with @error summing up
 * (its message is the first diagnostic); every diagnostic, warnings included,
 * stays in sf_loader_diagnostics(). */
SfMachine *sf_loader_load (SfLoader *loader, const char *path, GError **error);
/* Loads a flow held in memory; @name stands for its file in diagnostics, and
 * its imports and plugins are found beside @name. */
SfMachine *sf_loader_load_bytes (SfLoader *loader, const char *name, GBytes *data, GError **error);
/* (transfer none) SfDiag, in the order found. */
GPtrArray *sf_loader_diagnostics (SfLoader *loader);
/* "file:line: error: message" (transfer full). */
char *sf_diag_format (const SfDiag *d);
guint sf_loader_n_errors (SfLoader *loader);

/* The contents of flow @path: the file if it exists, else the built-in flow of
 * that name (a leading "xml/" dropped).  *@origin gets the name diagnostics use. */
GBytes *sf_flow_read (const char *path, char **origin, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfLoader, sf_loader_free)

G_END_DECLS
