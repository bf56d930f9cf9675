/* sf-ua.h: the sipflow command's subcommands (ua/). */
#pragma once
#include <glib.h>
#include "framework/sf-endpoint.h"
#include "framework/sf-loader.h"
#include "framework/sf-registry.h"
#include "operators/registrar/sf-location.h"

G_BEGIN_DECLS

/* Exit codes (docs/architecture.md: usage errors exit 2). */
enum { SF_EXIT_OK = 0, SF_EXIT_FAIL = 1, SF_EXIT_USAGE = 2 };

int sf_ua_cmd_check (int argc, char **argv);
int sf_ua_cmd_dot (int argc, char **argv);
int sf_ua_cmd_ops (int argc, char **argv);
int sf_ua_cmd_upgrade (int argc, char **argv);
int sf_ua_cmd_run (int argc, char **argv);
int sf_ua_cmd_ctl (int argc, char **argv);
int sf_ua_cmd_parse (int argc, char **argv);
int sf_ua_cmd_tone (int argc, char **argv);
int sf_ua_cmd_ladder (int argc, char **argv);
int sf_ua_cmd_coverage (int argc, char **argv);
int sf_ua_cmd_location (int argc, char **argv);
int sf_ua_cmd_user (int argc, char **argv);

/* Prints "sipflow: @msg" and the --help pointer on standard error; returns SF_EXIT_USAGE. */
int sf_ua_usage_error (const char *cmd, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* @s with control characters written as \xNN, fit for a terminal (transfer full). */
char *sf_ua_printable (const char *s);
/* Prints @loader's diagnostics, one a line on standard error (FILE:LINE: ...), escaped. */
void sf_ua_print_diags (SfLoader *loader);
/* Installs the log writer: level names, standard error, at most @level ("warning"...). */
void sf_ua_log_init (const char *level);

/* ---- control commands (sf-ua-control.c) ---- */
typedef struct _SfUaControl SfUaControl;
typedef void (*SfUaQuitFunc) (gpointer user_data);

SfUaControl *sf_ua_control_new (SfEndpoint *ep, SfMachine *main_machine, SfUaQuitFunc quit, gpointer quit_data);
void sf_ua_control_free (SfUaControl *c);
/* Runs one command line; returns the reply object's fields ("\"ok\":true,...") (transfer full),
 * and sets *ok. */
char *sf_ua_control_exec (SfUaControl *c, const char *line, gboolean *ok);
/* What 'reload' runs (run's reload: the configuration and the list files);
 * FALSE with the error in @report refuses it, TRUE with the reply's fields
 * after "ok":true (nullable) in @report.  Without one, 'reload' reads the
 * flows' list files again only. */
typedef gboolean (*SfUaReloadFunc) (gpointer data, GString *report);
void sf_ua_control_set_reload (SfUaControl *c, SfUaReloadFunc func, gpointer data);
/* The 'stats' line 'status' writes (transfer full), when not the endpoint's
 * own (sf_endpoint_stats_json): several workers' summed (docs/workers.md).
 * It appends the other workers' calls to @calls (sf_ua_control_calls_json)
 * and to @late the numbers of the workers that did not answer in time
 * (comma-separated), which the reply names. */
typedef char *(*SfUaStatsFunc) (gpointer data, GString *calls, GString *late);
/* Appends @ep's calls (the live instances of @machine, the flow's main
 * machine) to @out as 'status' lists them, each {"call":...,"state":...},
 * after a comma when @out is not empty; in @ep's thread. */
void sf_ua_control_calls_json (SfEndpoint *ep, SfMachine *machine, GString *out);
void sf_ua_control_set_stats (SfUaControl *c, SfUaStatsFunc func, gpointer data);
/* From now on only status and quit are taken (run is shutting down). */
void sf_ua_control_set_closing (SfUaControl *c);
/* Longest control command line. */
#define SF_CONTROL_MAX_LINE 4096
/* Listens on the Unix socket @path: one command a line, one JSON reply line each. */
gboolean sf_ua_control_listen (SfUaControl *c, const char *path, GError **error);
/* Where a service's control socket is: "control" in systemd's
 * $RUNTIME_DIRECTORY (its first directory), NULL without one (transfer full). */
char *sf_ua_control_service_path (void);
/* The control socket of the service data/sipflow.service (RuntimeDirectory=sipflow),
 * where 'sipflow ctl' looks without $RUNTIME_DIRECTORY. */
#define SF_CONTROL_SERVICE_PATH "/run/sipflow/control"

/* ---- the location service (sf-ua-location.c) ---- */
/* Appends @aor's binding @b as one JSON object (expires_in from @now, wall-clock seconds). */
void sf_ua_location_binding_json (GString *out, const char *aor, const SfLocBinding *b, gint64 now);

/* The options and configuration 'sipflow location' and 'sipflow user' share:
 * --uri, --config, --set, --help besides the command's own. */
typedef struct {
  char *uri;           /* owned, nullable: --uri */
  char *config;        /* owned, nullable: --config */
  char **sets;         /* owned, nullable: --set, each */
  SfConfig *cfg;       /* owned: after sf_ua_store_config, as 'sipflow run' reads it */
  SfRegistry *reg;     /* owned: every built-in module's sections declared */
} SfUaStoreArgs;
/* Parses @argv (@extra: the command's own entries, NULL-terminated, or NULL);
 * --help prints @help.  -1: go on; else the exit status to return (a usage
 * error said, --help printed). */
int sf_ua_store_parse (const char *cmd, const char *help, const GOptionEntry *extra, int *argc, char ***argv,
                       SfUaStoreArgs *a);
/* Builds a->cfg from --config and --set: -1, or SF_EXIT_FAIL with the error said. */
int sf_ua_store_config (const char *cmd, SfUaStoreArgs *a);
void sf_ua_store_args_clear (SfUaStoreArgs *a);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfUaStoreArgs, sf_ua_store_args_clear)
G_END_DECLS
