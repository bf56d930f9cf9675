/* sf-flow.c: expressions, conditions and lists of flow language 2 (sf-flow.h). */
#include "config.h"
#include "sf-flow.h"
#include "sf-config-private.h"
#include "sf-endpoint.h"
#include "sf-registry.h"
#include "sipflow/sf-message.h"
#include "states/sf-ctx.h"
#include "states/sf-instance.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>

/* ---- pseudo-variables ---- */

typedef enum {
  PV_LITERAL, PV_RURI, PV_RURI_USER, PV_RURI_HOST, PV_RURI_PORT, PV_METHOD, PV_STATUS, PV_REASON,
  PV_FROM, PV_FROM_USER, PV_FROM_HOST, PV_TO, PV_TO_USER, PV_TO_HOST, PV_CALLID, PV_HDR,
  PV_SRC_IP, PV_SRC_PORT, PV_TRANSPORT, PV_BODY,
  PV_EVENT, PV_EVENT_KIND, PV_EVENT_NAME, PV_EVENT_ARG, PV_DTMF, PV_STATE, PV_HANDLE, PV_VAR, PV_CFG,
} PvKind;

typedef struct {
  const char *name;
  PvKind kind;
  guint needs;        /* the event kinds that carry it: 0 any */
  const char *doc;
} PvDef;

/* docs/engine.md "Pseudo-variables" lists the same table. */
static const PvDef pvs[] = {
  { "ruri", PV_RURI, SF_EV_SIP, "the Request-URI" },
  { "ruri.user", PV_RURI_USER, SF_EV_SIP, "its user part, unescaped" },
  { "ruri.host", PV_RURI_HOST, SF_EV_SIP, "its host" },
  { "ruri.port", PV_RURI_PORT, SF_EV_SIP, "its port (empty when none)" },
  { "method", PV_METHOD, SF_EV_SIP, "the request's method" },
  { "status", PV_STATUS, SF_EV_SIP, "a response's status code" },
  { "reason", PV_REASON, SF_EV_SIP, "a response's reason phrase" },
  { "from", PV_FROM, SF_EV_SIP, "the From URI" },
  { "from.user", PV_FROM_USER, SF_EV_SIP, "its user part, unescaped" },
  { "from.host", PV_FROM_HOST, SF_EV_SIP, "its host" },
  { "to", PV_TO, SF_EV_SIP, "the To URI" },
  { "to.user", PV_TO_USER, SF_EV_SIP, "its user part, unescaped" },
  { "to.host", PV_TO_HOST, SF_EV_SIP, "its host" },
  { "callid", PV_CALLID, SF_EV_SIP, "the Call-ID" },
  { "hdr.", PV_HDR, SF_EV_SIP, "hdr.NAME: the first value of header NAME" },
  { "src.ip", PV_SRC_IP, SF_EV_SIP, "the source address of the message" },
  { "src.port", PV_SRC_PORT, SF_EV_SIP, "its source port" },
  { "transport", PV_TRANSPORT, SF_EV_SIP, "udp or tcp" },
  { "body", PV_BODY, SF_EV_SIP, "the body" },
  { "event", PV_EVENT, 0, "the trigger of the event: sip:INVITE, timer:no_answer" },
  { "event.kind", PV_EVENT_KIND, 0, "its kind: sip, timer, device..." },
  { "event.name", PV_EVENT_NAME, 0, "its name: INVITE, no_answer, answer" },
  { "event.arg", PV_EVENT_ARG, 0, "its argument: a response's status, a command's argument, a DTMF digit" },
  { "dtmf", PV_DTMF, SF_EV_MEDIA, "the digit of a media:dtmf event" },
  { "state", PV_STATE, 0, "the instance's state" },
  { "handle", PV_HANDLE, 0, "the instance's handle (c1)" },
  { "var.", PV_VAR, 0, "var.NAME: a variable the flow declares with <var>" },
  { "cfg.", PV_CFG, 0, "cfg.SECTION.KEY: a configuration value (flow.NAME for a <setting>)" },
};

typedef struct {
  PvKind kind;
  char *text;         /* owned: literal text, header name, variable name or "section\x1fkey" */
  int var;            /* PV_VAR: its index when compiled with a scope, -1: look up by name */
} Part;

struct _SfExpr {
  Part *parts;
  guint n;
};

void
sf_expr_free (SfExpr *e)
{
  if (e == NULL)
    return;
  for (guint i = 0; i < e->n; i++)
    g_free (e->parts[i].text);
  g_free (e->parts);
  g_free (e);
}

static const PvDef *
pv_lookup (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (pvs); i++) {
    gsize len = strlen (pvs[i].name);
    if (pvs[i].name[len - 1] == '.' ? strncmp (name, pvs[i].name, len) == 0 && name[len] != '\0'
                                     : strcmp (name, pvs[i].name) == 0)
      return &pvs[i];
  }
  return NULL;
}

static const char *
pv_suggest (const char *name)
{
  const char *best = NULL;
  guint best_d = 3;
  for (gsize i = 0; i < G_N_ELEMENTS (pvs); i++) {
    guint d = sf_name_distance (name, pvs[i].name, 2);
    if (d < best_d && d < strlen (name)) {
      best = pvs[i].name;
      best_d = d;
    }
  }
  return best;
}

static const char *
var_suggest (SfMachine *m, const char *name)
{
  const char *best = NULL;
  guint best_d = 3;
  for (guint i = 0; m != NULL && i < m->vars->len; i++) {
    const char *v = ((SfVarDecl *) g_ptr_array_index (m->vars, i))->name;
    guint d = sf_name_distance (name, v, 2);
    if (d < best_d && d < strlen (name)) {
      best = v;
      best_d = d;
    }
  }
  return best;
}

static gboolean
compile_name (const char *name, const SfFlowScope *scope, Part *part, GError **error)
{
  const PvDef *pv = pv_lookup (name);
  if (pv == NULL) {
    const char *hint = pv_suggest (name);
    if (scope == NULL) {
      part->kind = PV_LITERAL;
      part->text = g_strdup ("");
      return TRUE;
    }
    if (hint != NULL)
      g_set_error (error, SF_OP_ARG_ERROR, 0, "unknown pseudo-variable '${%s}' (did you mean '${%s}'?)", name, hint);
    else
      g_set_error (error, SF_OP_ARG_ERROR, 0, "unknown pseudo-variable '${%s}' (docs/engine.md lists them)", name);
    return FALSE;
  }
  part->kind = pv->kind;
  part->var = -1;
  const char *rest = name + strlen (pv->name);
  if (scope != NULL && pv->needs != 0 && (scope->kinds & ~pv->needs) != 0) {
    g_set_error (error, SF_OP_ARG_ERROR, 0,
                 "'${%s}' is read from a %s event, but this operator also runs on %s: give it an on=\"...\" "
                 "of %s events only", name, sf_event_kind_name ((SfEventKind) pv->needs),
                 scope->triggers != NULL ? scope->triggers : "any event", sf_event_kind_name ((SfEventKind) pv->needs));
    return FALSE;
  }
  switch (pv->kind) {
  case PV_HDR:
    for (const char *p = rest; *p != '\0'; p++)
      if (!g_ascii_isalnum (*p) && strchr ("-_.!%*+`'~", *p) == NULL) {
        g_set_error (error, SF_OP_ARG_ERROR, 0, "'${%s}': '%s' is not a header name", name, rest);
        return FALSE;
      }
    part->text = g_strdup (rest);
    break;
  case PV_VAR:
    part->text = g_strdup (rest);
    if (scope != NULL) {
      part->var = sf_machine_var_index (scope->machine, rest);
      if (part->var < 0) {
        const char *hint = var_suggest (scope->machine, rest);
        if (hint != NULL)
          g_set_error (error, SF_OP_ARG_ERROR, 0, "unknown variable '%s' in '${%s}' (did you mean '%s'?)", rest, name,
                       hint);
        else
          g_set_error (error, SF_OP_ARG_ERROR, 0, "unknown variable '%s' in '${%s}' (declare it with <var name=\"%s\"/>)",
                       rest, name, rest);
        return FALSE;
      }
    }
    break;
  case PV_CFG: {
    const char *dot = strchr (rest, '.');
    if (dot == NULL || dot == rest || dot[1] == '\0') {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "'${%s}': write cfg.SECTION.KEY", name);
      return FALSE;
    }
    g_autofree char *section = g_strndup (rest, dot - rest);
    if (scope != NULL && scope->cfg != NULL && !sf_config_has_key (scope->cfg, section, dot + 1)) {
      const char *hint = sf_config_suggest_key (scope->cfg, section, dot + 1);
      if (hint != NULL)
        g_set_error (error, SF_OP_ARG_ERROR, 0, "'${%s}': no configuration key %s.%s (did you mean '${cfg.%s.%s}'?)",
                     name, section, dot + 1, section, hint);
      else
        g_set_error (error, SF_OP_ARG_ERROR, 0, "'${%s}': no configuration key %s.%s%s", name, section, dot + 1,
                     strcmp (section, "flow") == 0 ? " (declare it with <setting>)" : "");
      return FALSE;
    }
    part->text = g_strdup_printf ("%s%c%s", section, '\x1f', dot + 1);
    break;
  }
  default:
    break;
  }
  return TRUE;
}

SfExpr *
sf_expr_compile (const char *text, const SfFlowScope *scope, GError **error)
{
  g_autoptr (GArray) parts = g_array_new (FALSE, TRUE, sizeof (Part));
  GString *lit = g_string_new (NULL);
  gboolean ok = TRUE;
  for (const char *p = text; *p != '\0' && ok;) {
    if (p[0] == '$' && p[1] == '$') {
      g_string_append_c (lit, '$');
      p += 2;
    } else if (p[0] == '$' && p[1] == '{') {
      const char *end = strchr (p + 2, '}');
      if (end == NULL) {
        g_set_error (error, SF_OP_ARG_ERROR, 0, "'${' without its '}' in '%s'", text);
        ok = FALSE;
        break;
      }
      g_autofree char *name = g_strstrip (g_strndup (p + 2, end - p - 2));
      if (lit->len > 0) {
        Part l = { PV_LITERAL, g_strdup (lit->str), -1 };
        g_array_append_val (parts, l);
        g_string_truncate (lit, 0);
      }
      Part part = { 0 };
      if (!compile_name (name, scope, &part, error)) {
        g_free (part.text);
        ok = FALSE;
        break;
      }
      g_array_append_val (parts, part);
      p = end + 1;
    } else {
      g_string_append_c (lit, *p);
      p++;
    }
  }
  if (ok && lit->len > 0) {
    Part l = { PV_LITERAL, g_strdup (lit->str), -1 };
    g_array_append_val (parts, l);
  }
  g_string_free (lit, TRUE);
  SfExpr *e = g_new0 (SfExpr, 1);
  e->n = parts->len;
  e->parts = (Part *) g_array_free (g_steal_pointer (&parts), FALSE);
  if (!ok) {
    sf_expr_free (e);
    return NULL;
  }
  return e;
}

gboolean
sf_expr_check (const char *text, const SfFlowScope *scope, GError **error)
{
  SfExpr *e = sf_expr_compile (text, scope, error);
  sf_expr_free (e);
  return e != NULL;
}

/* A slice may hold NUL bytes (RFC 4475): they are left out, so the value (and
 * the template text after it) is never cut short. */
static void
append_slice (GString *out, SfSlice s)
{
  for (gsize i = 0; i < s.len; i++)
    if (s.ptr[i] != '\0')
      g_string_append_c (out, s.ptr[i]);
}

static void
append_unescaped (GString *out, SfSlice s)
{
  g_autofree char *u = sf_slice_unescape (s);
  if (u != NULL)
    g_string_append (out, u);
}

static void
append_uri (GString *out, const SfUri *uri, PvKind part)
{
  if (uri == NULL)
    return;
  switch (part) {
  case PV_RURI_USER: case PV_FROM_USER: case PV_TO_USER:
    append_unescaped (out, sf_uri_user (uri));
    break;
  case PV_RURI_HOST: case PV_FROM_HOST: case PV_TO_HOST:
    append_slice (out, sf_uri_host (uri));
    break;
  case PV_RURI_PORT:
    if (sf_uri_port (uri) != 0)
      g_string_append_printf (out, "%u", sf_uri_port (uri));
    break;
  default:
    append_slice (out, sf_uri_text (uri));
    break;
  }
}

static void
append_part (GString *out, const Part *part, SfCtx *ctx, SfEvent *ev)
{
  SfMessage *msg = ev != NULL ? sf_message_from_event (ev) : NULL;
  SfSlice v;
  switch (part->kind) {
  case PV_LITERAL:
    g_string_append (out, part->text);
    return;
  case PV_EVENT:
    if (ev != NULL)
      g_string_append (out, sf_event_trigger (ev));
    return;
  case PV_EVENT_KIND:
    if (ev != NULL)
      g_string_append (out, sf_event_kind_name (sf_event_kind (ev)));
    return;
  case PV_EVENT_NAME:
    if (ev != NULL)
      g_string_append (out, sf_event_name (ev));
    return;
  case PV_EVENT_ARG:
  case PV_DTMF:
    if (ev != NULL && sf_event_arg (ev) != NULL && (part->kind == PV_EVENT_ARG || sf_event_kind (ev) == SF_EV_MEDIA))
      g_string_append (out, sf_event_arg (ev));
    return;
  case PV_STATE:
    g_string_append (out, sf_ctx_state (ctx));
    return;
  case PV_HANDLE:
    g_string_append (out, sf_ctx_handle (ctx));
    return;
  case PV_VAR: {
    SfInstance *inst = sf_ctx_instance (ctx);
    int idx = part->var >= 0 ? part->var : sf_machine_var_index (sf_instance_machine (inst), part->text);
    if (idx >= 0)
      g_string_append (out, sf_instance_var (inst, (guint) idx));
    return;
  }
  case PV_CFG: {
    SfConfig *cfg = sf_ctx_config (ctx);
    const char *us = strchr (part->text, '\x1f');
    if (cfg != NULL && us != NULL) {
      g_autofree char *section = g_strndup (part->text, us - part->text);
      g_string_append (out, sf_config_get_text (cfg, section, us + 1));
    }
    return;
  }
  default:
    break;
  }
  if (msg == NULL)
    return; /* a message field of an event without a message: empty */
  switch (part->kind) {
  case PV_RURI: case PV_RURI_USER: case PV_RURI_HOST: case PV_RURI_PORT:
    append_uri (out, sf_message_request_uri (msg), part->kind);
    break;
  case PV_FROM: case PV_FROM_USER: case PV_FROM_HOST:
    append_uri (out, sf_message_header_uri (msg, "From", 0), part->kind);
    break;
  case PV_TO: case PV_TO_USER: case PV_TO_HOST:
    append_uri (out, sf_message_header_uri (msg, "To", 0), part->kind);
    break;
  case PV_METHOD:
    append_slice (out, sf_message_method (msg));
    break;
  case PV_STATUS:
    if (sf_message_status (msg) != 0)
      g_string_append_printf (out, "%u", sf_message_status (msg));
    break;
  case PV_REASON:
    append_slice (out, sf_message_reason (msg));
    break;
  case PV_CALLID:
    if (sf_message_header (msg, "Call-ID", 0, &v))
      append_slice (out, v);
    break;
  case PV_HDR:
    if (sf_message_header (msg, part->text, 0, &v))
      append_slice (out, v);
    break;
  case PV_SRC_IP: {
    g_autofree char *ip = sf_message_source (msg, NULL);
    if (ip != NULL)
      g_string_append (out, ip);
    break;
  }
  case PV_SRC_PORT: {
    guint port = 0;
    g_free (sf_message_source (msg, &port));
    if (port != 0)
      g_string_append_printf (out, "%u", port);
    break;
  }
  case PV_TRANSPORT:
    g_string_append (out, sf_message_transport (msg));
    break;
  case PV_BODY:
    append_slice (out, sf_message_body (msg));
    break;
  default:
    break;
  }
}

static void
append_escaped (GString *out, const char *v, SfExpandMode mode)
{
  for (const char *p = v; *p != '\0'; p++) {
    guchar c = (guchar) *p;
    gboolean keep = mode == SF_EXPAND_URI ? (g_ascii_isalnum (c) || strchr ("-_.!~*'()+", c) != NULL)
                                          : (c >= 0x20 && c != 0x7f && strchr ("<>,;\"\\", c) == NULL);
    if (keep)
      g_string_append_c (out, (char) c);
    else
      g_string_append_printf (out, "%%%02X", c);
  }
}

char *
sf_expr_eval_mode (const SfExpr *e, SfCtx *ctx, SfEvent *ev, SfExpandMode mode)
{
  if (e->n == 1 && e->parts[0].kind == PV_LITERAL)
    return g_strdup (e->parts[0].text);
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < e->n; i++) {
    const Part *part = &e->parts[i];
    if (mode == SF_EXPAND_PLAIN || part->kind == PV_LITERAL || part->kind == PV_CFG) {
      append_part (out, part, ctx, ev);
      continue;
    }
    GString *v = g_string_new (NULL);
    append_part (v, part, ctx, ev);
    append_escaped (out, v->str, mode);
    g_string_free (v, TRUE);
  }
  return g_string_free (out, FALSE);
}

char *
sf_expr_eval (const SfExpr *e, SfCtx *ctx, SfEvent *ev)
{
  return sf_expr_eval_mode (e, ctx, ev, SF_EXPAND_PLAIN);
}

/* ---- lists ---- */

#define LIST_MAX_ITEMS 100000
#define LIST_FILE_MAX (4 * 1024 * 1024)

struct _SfFlowList {
  grefcount ref;
  GHashTable *items;    /* owned strings (set) */
  char *path;           /* owned, nullable: a file list */
  gint64 mtime;         /* the file's, when read */
  gint64 checked_us;    /* monotonic time of the last look at the file */
  gconstpointer owner;  /* nullable: the registry whose loader read it (sf_flow_lists_reload_of) */
};

SfFlowList *
sf_flow_list_new_items (const char *const *items)
{
  SfFlowList *l = g_new0 (SfFlowList, 1);
  g_ref_count_init (&l->ref);
  l->items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    g_hash_table_add (l->items, g_strdup (items[i]));
  return l;
}

static GHashTable *
read_list_file (const char *path, gint64 *mtime, GError **error)
{
  struct stat st;
  if (stat (path, &st) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "list file '%s': %s", path, g_strerror (errno));
    return NULL;
  }
  if (st.st_size > LIST_FILE_MAX) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "list file '%s' is larger than %d bytes", path,
                 LIST_FILE_MAX);
    return NULL;
  }
  g_autofree char *data = NULL;
  if (!g_file_get_contents (path, &data, NULL, error))
    return NULL;
  GHashTable *items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    char *hash = strchr (lines[i], '#');
    if (hash != NULL)
      *hash = '\0';
    g_strstrip (lines[i]);
    if (*lines[i] == '\0')
      continue;
    if (g_hash_table_size (items) >= LIST_MAX_ITEMS) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "list file '%s' has more than %d items", path,
                   LIST_MAX_ITEMS);
      g_hash_table_unref (items);
      return NULL;
    }
    g_hash_table_add (items, g_strdup (lines[i]));
  }
  *mtime = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  return items;
}

/* Every file list alive in the process, for sf_flow_lists_reload() (the
 * control command 'reload'); a list leaves it when it is freed.  The lock
 * guards the list of lists, not their items: those are an engine's, read and
 * replaced in its thread, which is why a worker reloads its own registry's
 * lists (sf_flow_lists_reload_of) and never another's (docs/workers.md). */
static GMutex file_lists_lock;
static GList *file_lists;

SfFlowList *
sf_flow_list_new_file (const char *path, GError **error)
{
  return sf_flow_list_new_file_of (path, NULL, error);
}

SfFlowList *
sf_flow_list_new_file_of (const char *path, gconstpointer owner, GError **error)
{
  gint64 mtime = 0;
  GHashTable *items = read_list_file (path, &mtime, error);
  if (items == NULL)
    return NULL;
  SfFlowList *l = g_new0 (SfFlowList, 1);
  g_ref_count_init (&l->ref);
  l->items = items;
  l->path = g_strdup (path);
  l->mtime = mtime;
  l->checked_us = G_MININT64 / 2; /* the first look, at the first use, only sets the clock */
  l->owner = owner;
  g_mutex_lock (&file_lists_lock);
  file_lists = g_list_prepend (file_lists, l);
  g_mutex_unlock (&file_lists_lock);
  return l;
}

static SfFlowList *
list_ref (SfFlowList *l)
{
  g_ref_count_inc (&l->ref);
  return l;
}

void
sf_flow_list_unref (SfFlowList *l)
{
  if (l == NULL || !g_ref_count_dec (&l->ref))
    return;
  if (l->path != NULL) {
    g_mutex_lock (&file_lists_lock);
    file_lists = g_list_remove (file_lists, l);
    g_mutex_unlock (&file_lists_lock);
  }
  g_hash_table_unref (l->items);
  g_free (l->path);
  g_free (l);
}

/* A file list is read again when its modification time changed; a file that
 * became unreadable keeps the items last read (and says so once). */
static void
list_refresh (SfFlowList *l, gint64 now)
{
  if (l->path == NULL)
    return;
  if (l->checked_us == G_MININT64 / 2) {
    l->checked_us = now; /* loaded a moment ago */
    return;
  }
  if (now - l->checked_us < G_USEC_PER_SEC)
    return;
  l->checked_us = now;
  struct stat st;
  if (stat (l->path, &st) != 0)
    return;
  gint64 mtime = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  if (mtime == l->mtime)
    return;
  g_autoptr (GError) error = NULL;
  GHashTable *items = read_list_file (l->path, &mtime, &error);
  if (items == NULL) {
    g_warning ("%s (keeping the %u items read before)", error->message, g_hash_table_size (l->items));
    l->mtime = mtime;
    return;
  }
  g_hash_table_unref (l->items);
  l->items = items;
  l->mtime = mtime;
  g_message ("list file '%s' read again: %u items", l->path, g_hash_table_size (items));
}

guint
sf_flow_lists_reload (GString *errors)
{
  return sf_flow_lists_reload_of (NULL, errors);
}

guint
sf_flow_lists_reload_of (gconstpointer owner, GString *errors)
{
  guint n = 0;
  g_mutex_lock (&file_lists_lock);
  for (GList *it = file_lists; it != NULL; it = it->next) {
    SfFlowList *l = it->data;
    if (owner != NULL && l->owner != owner)
      continue;
    gint64 mtime = 0;
    g_autoptr (GError) error = NULL;
    GHashTable *items = read_list_file (l->path, &mtime, &error);
    if (items == NULL) {
      if (errors != NULL)
        g_string_append_printf (errors, "%s%s", errors->len > 0 ? "; " : "", error->message);
      continue;
    }
    g_hash_table_unref (l->items);
    l->items = items;
    l->mtime = mtime;
    n++;
  }
  g_mutex_unlock (&file_lists_lock);
  return n;
}

gboolean
sf_flow_list_contains (SfFlowList *l, const char *value, gint64 now_us)
{
  list_refresh (l, now_us);
  return g_hash_table_contains (l->items, value);
}

/* ---- conditions ---- */

typedef enum { C_ALL, C_ANY, C_NOT, C_EQUALS, C_MATCHES, C_IN, C_NET, C_LESS, C_GREATER, C_TIME } CondKind;

/* PCRE2's match limit counts the steps of each start position, so a pattern
 * that backtracks badly costs up to the limit times the subject's length: both
 * are bounded (a hostile 64 KB body against (\d+)+x stalled the loop for
 * seconds with 10000 steps and no cap).  At most 1000 * 512 steps per test. */
#define REGEX_MATCH_LIMIT 1000
#define REGEX_DEPTH_LIMIT 250
#define REGEX_HEAP_LIMIT_KB 256
#define REGEX_SUBJECT_MAX 512

struct _SfCond {
  CondKind kind;
  int line;
  GPtrArray *children;        /* C_ALL, C_ANY, C_NOT: owned SfCond */
  SfExpr *value;              /* owned: what is tested */
  SfExpr *other;              /* owned: C_EQUALS */
  pcre2_code *re;             /* owned: C_MATCHES */
  SfFlowList *list;           /* ref: C_IN */
  GPtrArray *nets;            /* owned GInetAddressMask: C_NET */
  double number;              /* C_LESS, C_GREATER */
  int from_min, to_min;       /* C_TIME: minutes of the day; to may be below from (past midnight) */
  guint days;                 /* C_TIME: bit 0 Monday .. bit 6 Sunday */
  GTimeZone *tz;              /* owned, nullable: C_TIME's tz=; NULL: core.timezone, read when it runs */
  char *cfg_tz_name;          /* owned, nullable: the core.timezone the cache below is for */
  GTimeZone *cfg_tz;          /* owned, nullable: that zone (or local time) */
};

void
sf_cond_free (gpointer p)
{
  SfCond *c = p;
  if (c == NULL)
    return;
  if (c->children != NULL)
    g_ptr_array_unref (c->children);
  sf_expr_free (c->value);
  sf_expr_free (c->other);
  if (c->re != NULL)
    pcre2_code_free (c->re);
  sf_flow_list_unref (c->list);
  if (c->nets != NULL)
    g_ptr_array_unref (c->nets);
  if (c->tz != NULL)
    g_time_zone_unref (c->tz);
  if (c->cfg_tz != NULL)
    g_time_zone_unref (c->cfg_tz);
  g_free (c->cfg_tz_name);
  g_free (c);
}

gboolean
sf_cond_is_element (const xmlNode *n)
{
  if (n->type != XML_ELEMENT_NODE)
    return FALSE;
  const char *name = (const char *) n->name;
  return strcmp (name, "if") == 0 || strcmp (name, "all") == 0 || strcmp (name, "any") == 0 ||
         strcmp (name, "not") == 0;
}

static char *
attr (const xmlNode *n, const char *name)
{
  xmlChar *v = xmlGetProp (n, (const xmlChar *) name);
  char *s = v != NULL ? g_strdup ((const char *) v) : NULL;
  xmlFree (v);
  return s;
}

static gboolean G_GNUC_PRINTF (3, 4)
cond_error (GError **error, const xmlNode *n, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SF_OP_ARG_ERROR, (int) xmlGetLineNo ((xmlNode *) n), "<%s>: %s", (const char *) n->name, msg);
  return FALSE;
}

/* "09:00" -> 540. */
static gboolean
parse_hhmm (const char *s, int *min)
{
  if (!g_ascii_isdigit (s[0]) || !g_ascii_isdigit (s[1]) || s[2] != ':' || !g_ascii_isdigit (s[3]) ||
      !g_ascii_isdigit (s[4]) || s[5] != '\0')
    return FALSE;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0))
    return FALSE;
  *min = h * 60 + m;
  return TRUE;
}

static int
day_index (const char *s)
{
  static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
  for (int i = 0; i < 7; i++)
    if (g_ascii_strcasecmp (s, days[i]) == 0)
      return i;
  return -1;
}

/* "mon-fri", "sat,sun", "mon-wed,fri" -> a bit per day. */
static gboolean
parse_days (const char *text, guint *mask)
{
  g_auto (GStrv) items = g_strsplit (text, ",", -1);
  *mask = 0;
  for (guint i = 0; items[i] != NULL; i++) {
    char *it = g_strstrip (items[i]);
    char *dash = strchr (it, '-');
    if (dash != NULL)
      *dash = '\0';
    int a = day_index (g_strstrip (it)), b = dash != NULL ? day_index (g_strstrip (dash + 1)) : a;
    if (a < 0 || b < 0)
      return FALSE;
    for (int d = a;; d = (d + 1) % 7) {
      *mask |= 1u << d;
      if (d == b)
        break;
    }
  }
  return *mask != 0;
}

/* [+-]digits[.digits]: the numbers less/greater compare (at most 32 characters). */
static gboolean
decimal_number (const char *s)
{
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  if (!g_ascii_isdigit (*p))
    return FALSE;
  while (g_ascii_isdigit (*p))
    p++;
  if (*p == '.') {
    p++;
    if (!g_ascii_isdigit (*p))
      return FALSE;
    while (g_ascii_isdigit (*p))
      p++;
  }
  return *p == '\0' && p - s <= 32;
}

static SfCond *cond_compile (const xmlNode *n, const SfFlowScope *scope, GError **error);

static SfCond *
compile_leaf (const xmlNode *n, const SfFlowScope *scope, SfCond *c, GError **error)
{
  g_autofree char *time = attr (n, "time");
  g_autofree char *days = attr (n, "days");
  g_autofree char *tz = attr (n, "tz");
  if (time != NULL || days != NULL) {
    c->kind = C_TIME;
    c->from_min = 0;
    c->to_min = 24 * 60;
    c->days = 0x7f;
    if (time != NULL) {
      char *dash = strchr (time, '-');
      if (dash != NULL)
        *dash = '\0';
      if (dash == NULL || !parse_hhmm (g_strstrip (time), &c->from_min) ||
          !parse_hhmm (g_strstrip (dash + 1), &c->to_min)) {
        cond_error (error, n, "time=\"%s%s%s\" is not a range HH:MM-HH:MM", time, dash != NULL ? "-" : "",
                    dash != NULL ? dash + 1 : "");
        return NULL;
      }
    }
    if (days != NULL && !parse_days (days, &c->days)) {
      cond_error (error, n, "days=\"%s\" is not a list of days or ranges (mon-fri, sat,sun)", days);
      return NULL;
    }
    if (tz != NULL) {
      c->tz = g_time_zone_new_identifier (tz);
      if (c->tz == NULL) {
        cond_error (error, n, "tz=\"%s\" is not a time zone (Europe/Paris, UTC, +02:00)", tz);
        return NULL;
      }
    }
    return c;
  }
  g_autofree char *value = attr (n, "value");
  if (value == NULL) {
    cond_error (error, n, "needs value=\"...\" (what is tested) or time=\"HH:MM-HH:MM\"/days=\"...\"");
    return NULL;
  }
  g_autoptr (GError) e = NULL;
  c->value = sf_expr_compile (value, scope, &e);
  if (c->value == NULL) {
    cond_error (error, n, "value: %s", e->message);
    return NULL;
  }
  static const char *const tests[] = { "equals", "matches", "in", "in-net", "less", "greater", NULL };
  const char *test = NULL;
  g_autofree char *arg = NULL;
  for (guint i = 0; tests[i] != NULL; i++) {
    char *a = attr (n, tests[i]);
    if (a == NULL)
      continue;
    if (test != NULL) {
      g_free (a);
      cond_error (error, n, "has both %s=\"\" and %s=\"\": one test per <if> (combine them with <all> or <any>)",
                  test, tests[i]);
      return NULL;
    }
    test = tests[i];
    arg = a;
  }
  if (test == NULL) {
    cond_error (error, n, "needs a test: equals, matches, in, in-net, less or greater");
    return NULL;
  }
  if (strcmp (test, "equals") == 0) {
    c->kind = C_EQUALS;
    c->other = sf_expr_compile (arg, scope, &e);
    if (c->other == NULL) {
      cond_error (error, n, "equals: %s", e->message);
      return NULL;
    }
  } else if (strcmp (test, "matches") == 0) {
    c->kind = C_MATCHES;
    int code;
    PCRE2_SIZE off;
    c->re = pcre2_compile ((PCRE2_SPTR) arg, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off,
                           NULL);
    if (c->re == NULL) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message (code, msg, sizeof msg);
      cond_error (error, n, "matches=\"%s\": %s at offset %zu", arg, (const char *) msg, (size_t) off);
      return NULL;
    }
  } else if (strcmp (test, "in") == 0) {
    c->kind = C_IN;
    SfFlowList *l = scope != NULL && scope->lists != NULL ? g_hash_table_lookup (scope->lists, arg) : NULL;
    if (l == NULL) {
      cond_error (error, n, "in=\"%s\": no <list name=\"%s\"> in this flow", arg, arg);
      return NULL;
    }
    c->list = list_ref (l);
  } else if (strcmp (test, "in-net") == 0) {
    c->kind = C_NET;
    c->nets = g_ptr_array_new_with_free_func (g_object_unref);
    g_auto (GStrv) items = g_strsplit_set (arg, " ,", -1);
    for (guint i = 0; items[i] != NULL; i++) {
      if (*items[i] == '\0')
        continue;
      GInetAddressMask *mask = g_inet_address_mask_new_from_string (items[i], &e);
      if (mask == NULL) {
        cond_error (error, n, "in-net: '%s' is not an address or network (10.0.0.0/8, ::1): %s", items[i], e->message);
        return NULL;
      }
      g_ptr_array_add (c->nets, mask);
    }
    if (c->nets->len == 0) {
      cond_error (error, n, "in-net=\"\" names no network");
      return NULL;
    }
  } else {
    c->kind = strcmp (test, "less") == 0 ? C_LESS : C_GREATER;
    char *end = NULL;
    c->number = g_ascii_strtod (arg, &end);
    if (!decimal_number (arg) || end == arg || *end != '\0') {
      cond_error (error, n, "%s=\"%s\" is not a number", test, arg);
      return NULL;
    }
  }
  return c;
}

static SfCond *
cond_compile (const xmlNode *n, const SfFlowScope *scope, GError **error)
{
  SfCond *c = g_new0 (SfCond, 1);
  c->line = (int) xmlGetLineNo ((xmlNode *) n);
  const char *name = (const char *) n->name;
  if (strcmp (name, "if") == 0) {
    if (compile_leaf (n, scope, c, error) == NULL) {
      sf_cond_free (c);
      return NULL;
    }
    return c;
  }
  c->kind = strcmp (name, "all") == 0 ? C_ALL : strcmp (name, "any") == 0 ? C_ANY : C_NOT;
  c->children = g_ptr_array_new_with_free_func (sf_cond_free);
  for (const xmlNode *k = n->children; k != NULL; k = k->next) {
    if (!sf_cond_is_element (k))
      continue;
    SfCond *kc = cond_compile (k, scope, error);
    if (kc == NULL) {
      sf_cond_free (c);
      return NULL;
    }
    g_ptr_array_add (c->children, kc);
  }
  if (c->children->len == 0 || (c->kind == C_NOT && c->children->len != 1)) {
    cond_error (error, n, c->kind == C_NOT ? "holds exactly one condition" : "holds no condition");
    sf_cond_free (c);
    return NULL;
  }
  return c;
}

static void
describe (GString *out, const xmlNode *n)
{
  const char *name = (const char *) n->name;
  if (strcmp (name, "if") != 0) {
    g_string_append_printf (out, "%s(", name);
    gboolean first = TRUE;
    for (const xmlNode *k = n->children; k != NULL; k = k->next)
      if (sf_cond_is_element (k)) {
        if (!first)
          g_string_append (out, ", ");
        describe (out, k);
        first = FALSE;
      }
    g_string_append_c (out, ')');
    return;
  }
  static const char *const attrs[] = { "value", "equals", "matches", "in", "in-net", "less", "greater", "time",
                                       "days", "tz", NULL };
  gboolean first = TRUE;
  for (guint i = 0; attrs[i] != NULL; i++) {
    g_autofree char *v = attr (n, attrs[i]);
    if (v == NULL)
      continue;
    if (strcmp (attrs[i], "value") == 0)
      g_string_append_printf (out, "%s%s", first ? "" : " ", v);
    else
      g_string_append_printf (out, "%s%s %s", first ? "" : " ", attrs[i], v);
    first = FALSE;
  }
}

char *
sf_cond_describe (const xmlNode *node)
{
  GString *out = g_string_new ("if ");
  gboolean first = TRUE;
  for (const xmlNode *k = node->children; k != NULL; k = k->next)
    if (sf_cond_is_element (k)) {
      if (!first)
        g_string_append (out, " and ");
      describe (out, k);
      first = FALSE;
    }
  return g_string_free (out, FALSE);
}

SfCond *
sf_cond_from_children (const xmlNode *node, const SfFlowScope *scope, GError **error)
{
  SfCond *all = NULL;
  for (const xmlNode *k = node->children; k != NULL; k = k->next) {
    if (!sf_cond_is_element (k))
      continue;
    SfCond *c = cond_compile (k, scope, error);
    if (c == NULL) {
      sf_cond_free (all);
      return NULL;
    }
    if (all == NULL) {
      all = g_new0 (SfCond, 1);
      all->kind = C_ALL;
      all->line = c->line;
      all->children = g_ptr_array_new_with_free_func (sf_cond_free);
    }
    g_ptr_array_add (all->children, c);
  }
  return all;
}

static gint64
wall_us (SfCtx *ctx)
{
  /* The endpoint's clock: a unit test's fake clock counts Unix microseconds. */
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfClock *clock = ep != NULL ? sf_endpoint_clock (ep) : NULL;
  if (clock != NULL && sf_clock_is_fake (clock))
    return sf_clock_now_us (clock);
  return g_get_real_time ();
}

/* The zone of a time condition: its tz=, else the configuration's core.timezone
 * (read when it runs: the configuration file is read after the flow, and may be
 * changed), else local time.  The zone made from core.timezone is kept until the
 * setting changes. */
static GTimeZone *
zone_of (SfCond *c, SfCtx *ctx)
{
  if (c->tz != NULL)
    return c->tz;
  SfConfig *cfg = sf_ctx_config (ctx);
  const char *name = cfg != NULL ? sf_config_get_string (cfg, "core", "timezone") : NULL;
  if (c->cfg_tz == NULL || g_strcmp0 (name, c->cfg_tz_name) != 0) {
    if (c->cfg_tz != NULL)
      g_time_zone_unref (c->cfg_tz);
    c->cfg_tz = name != NULL && *name != '\0' ? g_time_zone_new_identifier (name) : NULL;
    if (c->cfg_tz == NULL && name != NULL && *name != '\0')
      g_warning ("core.timezone '%s' is not a time zone: the condition at line %d reads local time", name, c->line);
    if (c->cfg_tz == NULL)
      c->cfg_tz = g_time_zone_new_local ();
    g_free (c->cfg_tz_name);
    c->cfg_tz_name = g_strdup (name);
  }
  return c->cfg_tz;
}

static gboolean
time_holds (const SfCond *cc, SfCtx *ctx)
{
  SfCond *c = (SfCond *) cc; /* its zone cache only */
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (wall_us (ctx) / G_USEC_PER_SEC);
  if (utc == NULL)
    return FALSE;
  g_autoptr (GDateTime) t = g_date_time_to_timezone (utc, zone_of (c, ctx));
  int day = g_date_time_get_day_of_week (t) - 1; /* 0 Monday */
  int min = g_date_time_get_hour (t) * 60 + g_date_time_get_minute (t);
  if (c->from_min <= c->to_min)
    return (c->days & (1u << day)) != 0 && min >= c->from_min && min < c->to_min;
  /* Past midnight (22:00-06:00): the evening belongs to its day, the small hours to the day before. */
  if (min >= c->from_min)
    return (c->days & (1u << day)) != 0;
  return min < c->to_min && (c->days & (1u << ((day + 6) % 7))) != 0;
}

static gboolean
leaf_holds (const SfCond *c, SfCtx *ctx, SfEvent *ev)
{
  if (c->kind == C_TIME)
    return time_holds (c, ctx);
  g_autofree char *v = sf_expr_eval (c->value, ctx, ev);
  switch (c->kind) {
  case C_EQUALS: {
    g_autofree char *o = sf_expr_eval (c->other, ctx, ev);
    return strcmp (v, o) == 0;
  }
  case C_MATCHES: {
    if (*v == '\0')
      return FALSE;
    if (strlen (v) > REGEX_SUBJECT_MAX) {
      g_info ("%s: condition at line %d: a value of more than %d bytes is not matched: false", sf_ctx_handle (ctx),
              c->line, REGEX_SUBJECT_MAX);
      return FALSE;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern (c->re, NULL);
    pcre2_match_context *mc = pcre2_match_context_create (NULL);
    pcre2_set_match_limit (mc, REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit (mc, REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit (mc, REGEX_HEAP_LIMIT_KB);
    int rc = -1;
    if (g_utf8_validate (v, -1, NULL))
      rc = pcre2_match (c->re, (PCRE2_SPTR) v, strlen (v), 0, 0, md, mc);
    pcre2_match_context_free (mc);
    pcre2_match_data_free (md);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
      g_info ("%s: condition at line %d: regular expression gave up (match limit): false", sf_ctx_handle (ctx),
                 c->line);
    return rc >= 0;
  }
  case C_IN: {
    SfEndpoint *ep = sf_ctx_endpoint (ctx);
    gint64 now = ep != NULL ? sf_clock_now_us (sf_endpoint_clock (ep)) : g_get_monotonic_time ();
    return *v != '\0' && sf_flow_list_contains (c->list, v, now);
  }
  case C_NET: {
    if (*v == '\0')
      return FALSE;
    const char *addr = v;
    g_autofree char *unbracketed = NULL;
    if (v[0] == '[' && v[strlen (v) - 1] == ']')
      addr = unbracketed = g_strndup (v + 1, strlen (v) - 2);
    g_autoptr (GInetAddress) a = g_inet_address_new_from_string (addr);
    if (a == NULL)
      return FALSE;
    for (guint i = 0; i < c->nets->len; i++)
      if (g_inet_address_mask_matches (g_ptr_array_index (c->nets, i), a))
        return TRUE;
    return FALSE;
  }
  case C_LESS:
  case C_GREATER: {
    char *end = NULL;
    if (!decimal_number (v))
      return FALSE; /* "inf", "nan", hex, spaces: not numbers a flow compares */
    double d = g_ascii_strtod (v, &end);
    if (*end != '\0')
      return FALSE;
    return c->kind == C_LESS ? d < c->number : d > c->number;
  }
  default:
    return FALSE;
  }
}

gboolean
sf_cond_eval (gconstpointer p, SfCtx *ctx, SfEvent *ev)
{
  const SfCond *c = p;
  switch (c->kind) {
  case C_ALL:
    for (guint i = 0; i < c->children->len; i++)
      if (!sf_cond_eval (g_ptr_array_index (c->children, i), ctx, ev))
        return FALSE;
    return TRUE;
  case C_ANY:
    for (guint i = 0; i < c->children->len; i++)
      if (sf_cond_eval (g_ptr_array_index (c->children, i), ctx, ev))
        return TRUE;
    return FALSE;
  case C_NOT:
    return !sf_cond_eval (g_ptr_array_index (c->children, 0), ctx, ev);
  default:
    return leaf_holds (c, ctx, ev);
  }
}

/* ---- the SDK's side (sf-operator.h) ---- */

char *
sf_ctx_expand_mode (SfCtx *ctx, SfEvent *ev, const char *text, SfExpandMode mode)
{
  g_autoptr (SfExpr) e = sf_expr_compile (text, NULL, NULL);
  if (e == NULL)
    return g_strdup (text); /* an unclosed ${: the loader refused it in a flow's arg; a plugin's own text as is */
  return sf_expr_eval_mode (e, ctx, ev, mode);
}

char *
sf_ctx_expand (SfCtx *ctx, SfEvent *ev, const char *text)
{
  return sf_ctx_expand_mode (ctx, ev, text, SF_EXPAND_PLAIN);
}

const char *
sf_ctx_var (SfCtx *ctx, const char *name)
{
  SfInstance *inst = sf_ctx_instance (ctx);
  int idx = sf_machine_var_index (sf_instance_machine (inst), name);
  return idx >= 0 ? sf_instance_var (inst, (guint) idx) : NULL;
}

gboolean
sf_ctx_set_var (SfCtx *ctx, const char *name, const char *value)
{
  SfInstance *inst = sf_ctx_instance (ctx);
  int idx = sf_machine_var_index (sf_instance_machine (inst), name);
  if (idx < 0)
    return FALSE;
  sf_instance_set_var (inst, (guint) idx, value);
  return TRUE;
}

/* ---- replies ---- */

void
sf_reply_spec_free (gpointer p)
{
  SfReplySpec *r = p;
  if (r == NULL)
    return;
  g_free (r->reason);
  g_strfreev (r->headers);
  g_free (r);
}

gboolean
sf_reply_spec_fixup (const char *text, gpointer *out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, "|", -1);
  char *first = g_strstrip (parts[0]);
  char *end = NULL;
  guint64 code = g_ascii_strtoull (first, &end, 10);
  if (end == first || code < 100 || code > 699 || (*end != '\0' && *end != ' ')) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected CODE [REASON] [| Header: value]... with CODE 100..699, got '%s'",
                 text);
    return FALSE;
  }
  g_autoptr (GPtrArray) h = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 1; parts[i] != NULL; i++) {
    char *line = g_strstrip (parts[i]);
    const char *colon = strchr (line, ':');
    if (colon == NULL || colon == line || strpbrk (line, "\r\n") != NULL) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "'%s' is not a header line 'Name: value'", line);
      return FALSE;
    }
    g_ptr_array_add (h, g_strdup (line));
  }
  g_ptr_array_add (h, NULL);
  SfReplySpec *r = g_new0 (SfReplySpec, 1);
  r->status = (guint) code;
  char *reason = g_strstrip (end);
  r->reason = *reason != '\0' ? g_strdup (reason) : NULL;
  r->headers = (char **) g_ptr_array_steal (h, NULL);
  *out = r;
  return TRUE;
}

/* A value read from a peer goes into a header line: a CR or LF must not start a
 * header of its own. */
static char *
one_line (char *s)
{
  for (char *p = s; *p != '\0'; p++)
    if (*p == '\r' || *p == '\n')
      *p = ' ';
  return s;
}

char *
sf_reply_spec_reason (const SfReplySpec *r, SfCtx *ctx, SfEvent *ev)
{
  return r->reason != NULL ? one_line (sf_ctx_expand_mode (ctx, ev, r->reason, SF_EXPAND_HEADER)) : NULL;
}

char **
sf_reply_spec_headers (const SfReplySpec *r, SfCtx *ctx, SfEvent *ev)
{
  guint n = g_strv_length (r->headers);
  char **out = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    out[i] = one_line (sf_ctx_expand_mode (ctx, ev, r->headers[i], SF_EXPAND_HEADER));
  return out;
}
