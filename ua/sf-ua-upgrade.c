/* sf-ua-upgrade.c: 'sipflow upgrade', a version-1 flow rewritten as a version-2
 * one (docs/engine.md, "Triggers").  The flow is loaded first, so what each
 * binding reacts to is what the loader made of it (SfBinding.on: the operator's
 * own triggers, with $arg read from the binding's arg); that goes into the
 * document as on="...", and the document is saved as it was read otherwise:
 * libxml2 keeps its comments and the whitespace between elements.
 *
 * Each operator of a normal queue gets on="..." (entry and exit queues run on
 * whatever event brought the instance there and keep none);
 * <op name="OpOnTimer|OpOnDevice|OpOnTxn" arg="X" next="S"/> becomes
 * <op name="OpGo" on="timer:X" next="S"/> (device:X, txn:X), the same transition
 * said once; <flow version="1"> becomes version="2".  The result is loaded again
 * before it is written, so an upgrade never writes a flow that does not load. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-ua.h"
#include "framework/sf-loader.h"
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <stdio.h>
#include <string.h>

/* The operators that only name one event and transition on it, and the kind of
 * that event: OpGo says the same with on="KIND:NAME". */
static const struct { const char *op; const char *kind; } named_ops[] = {
  { "OpOnTimer", "timer" }, { "OpOnDevice", "device" }, { "OpOnTxn", "txn" },
};

typedef struct {
  const char *file;   /* unowned: the flow's file, for messages */
  SfMachine *m;       /* unowned: the flow as the loader read it */
  guint ons;          /* on="" added */
  guint gos;          /* OpOn* turned into OpGo */
  char *error;        /* owned, nullable: the first mismatch between document and machine */
} Upgrade;

static gboolean
is_element (const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && strcmp ((const char *) n->name, name) == 0;
}

/* An attribute's value (transfer full), NULL when absent. */
static char *
attr (xmlNode *n, const char *name)
{
  xmlChar *v = xmlGetProp (n, (const xmlChar *) name);
  char *s = v != NULL ? g_strdup ((const char *) v) : NULL;
  xmlFree (v);
  return s;
}

/* Sets @name="@value" on @n, a new attribute going right after name="" so the
 * element reads <op name="..." on="..." next="..."/>: libxml2 would append it. */
static void
set_attr_after_name (xmlNode *n, const char *name, const char *value)
{
  if (xmlHasProp (n, (const xmlChar *) name) != NULL) {
    xmlSetProp (n, (const xmlChar *) name, (const xmlChar *) value);
    return;
  }
  xmlAttr *a = xmlNewProp (n, (const xmlChar *) name, (const xmlChar *) value);
  xmlAttr *first = n->properties;
  if (first == NULL || first == a || strcmp ((const char *) first->name, "name") != 0 || first->next == a)
    return;
  /* unlink @a from the end of the list, link it in after the first */
  if (a->prev != NULL)
    a->prev->next = NULL;
  a->next = first->next;
  a->prev = first;
  first->next->prev = a;
  first->next = a;
}

/* What binding @b reacts to as on="" writes it (transfer full): what the loader
 * made of it, or, for an operator that declares no triggers, each of its event
 * kinds, as the loader spells what such an operator accepts (a "*" would not be
 * covered by it). */
static char *
effective_on (const SfBinding *b)
{
  if (b->on != NULL)
    return g_strdup (b->on->text);
  GString *s = g_string_new (NULL);
  for (guint bit = 1; bit != 0 && bit <= SF_EV_ANY; bit <<= 1)
    if (b->op->events & bit)
      g_string_append_printf (s, "%s%s", s->len > 0 ? "|" : "", sf_event_kind_name ((SfEventKind) bit));
  if (s->len == 0)
    g_string_append_c (s, '*');
  return g_string_free (s, FALSE);
}

static void
mismatch (Upgrade *u, int line, const char *what)
{
  if (u->error == NULL)
    u->error = g_strdup_printf ("%s:%d: %s", u->file, line, what);
}

/* One <op> of a normal queue and its binding @b. */
static void
upgrade_op (Upgrade *u, xmlNode *n, const SfBinding *b)
{
  g_autofree char *name = attr (n, "name");
  g_autofree char *arg = attr (n, "arg");
  for (gsize i = 0; i < G_N_ELEMENTS (named_ops); i++)
    if (g_strcmp0 (name, named_ops[i].op) == 0 && arg != NULL) {
      g_autofree char *on = g_strdup_printf ("%s:%s", named_ops[i].kind, arg);
      xmlSetProp (n, (const xmlChar *) "name", (const xmlChar *) "OpGo");
      xmlUnsetProp (n, (const xmlChar *) "arg");
      set_attr_after_name (n, "on", on);
      u->gos++;
      return;
    }
  g_autofree char *on = effective_on (b);
  set_attr_after_name (n, "on", on);
  u->ons++;
}

/* Walks the document as the loader does (sf-loader.c build: each <state>, its
 * queue elements, their <op>s in order), so the k-th <op> of a state's queue is
 * the k-th binding of that queue; their lines must agree. */
static void
upgrade_doc (Upgrade *u, xmlNode *root)
{
  for (xmlNode *sn = root->children; sn != NULL; sn = sn->next) {
    if (!is_element (sn, "state"))
      continue;
    g_autofree char *sname = attr (sn, "name");
    SfState *s = sf_machine_lookup_state (u->m, sname);
    if (s == NULL || s->line != (int) xmlGetLineNo (sn)) {
      mismatch (u, (int) xmlGetLineNo (sn), "<state> not found in the loaded flow");
      return;
    }
    guint k[SF_QUEUE_COUNT] = { 0 };
    for (xmlNode *qn = sn->children; qn != NULL; qn = qn->next) {
      SfQueue q;
      if (qn->type != XML_ELEMENT_NODE || !sf_queue_from_name ((const char *) qn->name, &q))
        continue;
      for (xmlNode *on = qn->children; on != NULL; on = on->next) {
        if (!is_element (on, "op"))
          continue;
        GPtrArray *queue = s->queues[q];
        const SfBinding *b = k[q] < queue->len ? g_ptr_array_index (queue, k[q]) : NULL;
        k[q]++;
        if (b == NULL || b->line != (int) xmlGetLineNo (on)) {
          mismatch (u, (int) xmlGetLineNo (on), "<op> not found in the loaded flow");
          return;
        }
        if (q == SF_QUEUE_NORMAL)
          upgrade_op (u, on, b);
      }
    }
  }
}

/* @doc as text (transfer full); with @decl the XML declaration first. */
static GBytes *
serialize (xmlDoc *doc, gboolean decl)
{
  xmlBufferPtr buf = xmlBufferCreate ();
  xmlSaveCtxtPtr save = xmlSaveToBuffer (buf, "UTF-8", decl ? 0 : XML_SAVE_NO_DECL);
  xmlSaveDoc (save, doc);
  xmlSaveClose (save);
  GBytes *out = g_bytes_new (xmlBufferContent (buf), (gsize) xmlBufferLength (buf));
  xmlBufferFree (buf);
  return out;
}

static void
print_diags (SfLoader *loader)
{
  GPtrArray *d = sf_loader_diagnostics (loader);
  for (guint i = 0; i < d->len; i++) {
    g_autofree char *line = sf_diag_format (g_ptr_array_index (d, i));
    fprintf (stderr, "%s\n", line);
  }
}

static int
upgrade (const char *path, const char *out)
{
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    fprintf (stderr, "sipflow upgrade: %s: no such file (a built-in flow is upgraded in the source tree)\n", path);
    return SF_EXIT_FAIL;
  }
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (SfLoader) loader = sf_loader_new (reg);
  g_autoptr (SfMachine) m = sf_loader_load (loader, path, NULL);
  if (m == NULL) {
    print_diags (loader);
    fprintf (stderr, "sipflow upgrade: %s: the flow does not load; nothing written\n", path);
    return SF_EXIT_FAIL;
  }
  FILE *report = out != NULL && strcmp (out, "-") == 0 ? stderr : stdout;
  if (m->version >= 2) {
    fprintf (report, "%s: version %d already, left alone\n", path, m->version);
    return SF_EXIT_OK;
  }
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &text, &len, &error)) {
    fprintf (stderr, "sipflow upgrade: %s\n", error->message);
    return SF_EXIT_FAIL;
  }
  /* No XML_PARSE_NOBLANKS: the whitespace between elements is the flow's layout. */
  xmlDoc *doc = xmlReadMemory (text, (int) len, path, NULL, XML_PARSE_NONET);
  if (doc == NULL || xmlDocGetRootElement (doc) == NULL) {
    fprintf (stderr, "sipflow upgrade: %s: not readable as XML\n", path);
    xmlFreeDoc (doc);
    return SF_EXIT_FAIL;
  }
  Upgrade u = { .file = path, .m = m };
  xmlNode *root = xmlDocGetRootElement (doc);
  upgrade_doc (&u, root);
  xmlSetProp (root, (const xmlChar *) "version", (const xmlChar *) "2");
  g_autoptr (GBytes) result = u.error == NULL ? serialize (doc, g_str_has_prefix (text, "<?xml")) : NULL;
  xmlFreeDoc (doc);
  if (u.error != NULL) {
    fprintf (stderr, "sipflow upgrade: %s; nothing written\n", u.error);
    g_free (u.error);
    return SF_EXIT_FAIL;
  }
  /* The upgraded flow must load as it is, with its imports found beside it. */
  g_autoptr (SfRegistry) reg2 = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (SfLoader) check = sf_loader_new (reg2);
  g_autoptr (SfMachine) m2 = sf_loader_load_bytes (check, path, result, NULL);
  if (m2 == NULL) {
    print_diags (check);
    fprintf (stderr, "sipflow upgrade: %s: the upgraded flow does not load; nothing written\n", path);
    return SF_EXIT_FAIL;
  }
  gsize n = 0;
  const char *data = g_bytes_get_data (result, &n);
  const char *dest = out != NULL ? out : path;
  if (strcmp (dest, "-") == 0) {
    fwrite (data, 1, n, stdout);
  } else if (!g_file_set_contents (dest, data, (gssize) n, &error)) {
    fprintf (stderr, "sipflow upgrade: %s: %s\n", path, error->message);
    return SF_EXIT_FAIL;
  }
  fprintf (report, "%s: upgraded to version 2%s%s: on=\"...\" on %u operators, %u OpOn* now OpGo\n", path,
           out != NULL ? " as " : "", out != NULL ? (strcmp (out, "-") == 0 ? "standard output" : out) : "", u.ons,
           u.gos);
  return SF_EXIT_OK;
}

int
sf_ua_cmd_upgrade (int argc, char **argv)
{
  const char *path = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
      printf ("Usage: sipflow upgrade FLOW.xml [-o OUT]\n\n"
              "Rewrites a version-1 flow as a version-2 one, comments and layout kept: each operator of\n"
              "a normal queue gets on=\"...\" with what it reacts to (its own triggers, as the loader\n"
              "reads them: OpRing on=\"sip:INVITE\"), OpOnTimer/OpOnDevice/OpOnTxn arg=\"X\" become\n"
              "OpGo on=\"timer:X\" (device:X, txn:X), and <flow version=\"2\">.  The result is loaded\n"
              "before it is written.  Review it: an on=\"...\" may say less than the operator takes\n"
              "(OpRefuse arg=\"INVITE=482\" on=\"sip:INVITE\").  A flow at version 2 is left alone.\n\n"
              "  -o OUT   write to OUT ('-': standard output) instead of rewriting FLOW.xml\n\n"
              "Exit status: 0 (upgraded, or version 2 already), 1 when the flow or its upgrade does\n"
              "not load (nothing is written), 2 usage error.\n");
      return SF_EXIT_OK;
    }
    if (strcmp (argv[i], "-o") == 0 || strcmp (argv[i], "--output") == 0) {
      if (i + 1 >= argc)
        return sf_ua_usage_error ("upgrade", "%s needs a file", argv[i]);
      out = argv[++i];
    } else if (argv[i][0] == '-') {
      return sf_ua_usage_error ("upgrade", "unknown option '%s'", argv[i]);
    } else if (path != NULL) {
      return sf_ua_usage_error ("upgrade", "one flow at a time");
    } else {
      path = argv[i];
    }
  }
  if (path == NULL)
    return sf_ua_usage_error ("upgrade", "no flow given");
  return upgrade (path, out);
}
