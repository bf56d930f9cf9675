/* sf-log.h: sipflow's structured log lines (docs/operations.md "Logs"): the
 * level names core.log_level takes, and a line with fields of its own (CALL_ID,
 * SIPFLOW_INSTANCE...) that the program's log writer (ua/sf-ua-log.c) sends to
 * the journal as fields, or drops on a plain standard error. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* The fields a line may carry besides MESSAGE (journald field names: capitals,
 * digits, '_').  SF_LOG_FIELD_AUDIT is framework/sf-endpoint.h's. */
#define SF_LOG_FIELD_CALL_ID "CALL_ID"
#define SF_LOG_FIELD_INSTANCE "SIPFLOW_INSTANCE"
#define SF_LOG_FIELD_MACHINE "SIPFLOW_MACHINE"
#define SF_LOG_FIELD_TRANSACTION "SIPFLOW_TRANSACTION"
#define SF_LOG_FIELD_STATE "SIPFLOW_STATE"

/* The level a core.log_level name stands for ("error" ... "debug"); @fallback
 * for NULL or a name it does not know. */
GLogLevelFlags sf_log_level_from_name (const char *name, GLogLevelFlags fallback);

/* Logs one line at @level (one G_LOG_LEVEL_*) with @n_extra fields of @extra
 * besides the message: a field whose value is NULL is left out.  Formats
 * @format whatever the level: on a hot path, ask sf_endpoint_logs first. */
void sf_log_fields (GLogLevelFlags level, const GLogField *extra, gsize n_extra, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

G_END_DECLS
