/* sf-ua-check.c: 'sipflow check' and 'sipflow dot': load flows with every
 * load-time check of docs/architecture.md and report FILE:LINE diagnostics. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-ua.h"
#include "framework/sf-loader.h"
#include "states/sf-dot.h"
#include <stdio.h>
#include <string.h>

char *
sf_ua_printable (const char *s)
{
  GString *out = g_string_new (NULL);
  for (const char *p = s; *p != '\0'; p++) {
    if ((guchar) *p < 0x20 || *p == 0x7f)
      g_string_append_printf (out, "\\x%02x", (guchar) *p);
    else
      g_string_append_c (out, *p);
  }
  return g_string_free (out, FALSE);
}

void
sf_ua_print_diags (SfLoader *loader)
{
  GPtrArray *d = sf_loader_diagnostics (loader);
  for (guint i = 0; i < d->len; i++) {
    g_autofree char *line = sf_diag_format (g_ptr_array_index (d, i));
    g_autofree char *safe = sf_ua_printable (line);
    fprintf (stderr, "%s\n", safe);
  }
}

static gboolean
wants_help (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      return TRUE;
  return FALSE;
}

int
sf_ua_cmd_check (int argc, char **argv)
{
  if (wants_help (argc, argv)) {
    printf ("Usage: sipflow check FLOW.xml...\n\n"
            "Loads each flow with its imports and plugins and checks it: schema, operator names,\n"
            "queues, targets, outcomes, arguments, duplicate and unreachable states.\n"
            "Prints FILE:LINE: error|warning: ... lines on standard error.\n"
            "Exit status: 0 when every flow loads (warnings allowed), 1 on any error, 2 usage error.\n");
    return SF_EXIT_OK;
  }
  if (argc < 2)
    return sf_ua_usage_error ("check", "no flow given");
  for (int i = 1; i < argc; i++)
    if (argv[i][0] == '-')
      return sf_ua_usage_error ("check", "unknown option '%s'", argv[i]);
  int rc = SF_EXIT_OK;
  for (int i = 1; i < argc; i++) {
    /* A configuration with every module's sections, so ${cfg.SECTION.KEY} is checked
     * as run would (the flow's own <setting>s join it as it loads). */
    g_autoptr (SfConfig) cfg = sf_config_new ();
    g_autoptr (SfRegistry) reg = sf_registry_new (cfg, sf_builtin_modules);
    g_autoptr (SfLoader) loader = sf_loader_new (reg);
    g_autoptr (SfMachine) m = sf_loader_load (loader, argv[i], NULL);
    sf_ua_print_diags (loader);
    if (m == NULL)
      rc = SF_EXIT_FAIL;
    else
      printf ("%s: ok (flow '%s', %u states)\n", argv[i], m->name, m->states->len);
  }
  return rc;
}

int
sf_ua_cmd_dot (int argc, char **argv)
{
  if (wants_help (argc, argv)) {
    printf ("Usage: sipflow dot [--fold] FLOW.xml\n\n"
            "Writes the flow as a Graphviz DOT graph on standard output: states with their entry\n"
            "and exit operators; each arrow labelled with its trigger (sip:INVITE, timer:G,\n"
            "sip:response 3xx-6xx; an outcome in brackets) and, in smaller type, the operator\n"
            "that takes it; an operator that keeps the state is a loop (docs/pictures.md).\n"
            "  --fold   draw the arrows several states share (the same trigger to the same\n"
            "           state: a BYE that ends the call) once, from a cluster around them\n"
            "Example: sipflow dot xml/examples/call-demo.xml | dot -Tsvg > call-demo.svg\n");
    return SF_EXIT_OK;
  }
  guint flags = 0;
  const char *flow = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--fold") == 0)
      flags |= SF_DOT_FOLD;
    else if (argv[i][0] == '-')
      return sf_ua_usage_error ("dot", "unknown option '%s'", argv[i]);
    else if (flow != NULL)
      return sf_ua_usage_error ("dot", "one flow at a time");
    else
      flow = argv[i];
  }
  if (flow == NULL)
    return sf_ua_usage_error ("dot", "no flow given");
  g_autoptr (SfRegistry) reg = sf_registry_new (NULL, sf_builtin_modules);
  g_autoptr (SfLoader) loader = sf_loader_new (reg);
  g_autoptr (SfMachine) m = sf_loader_load (loader, flow, NULL);
  sf_ua_print_diags (loader);
  if (m == NULL)
    return SF_EXIT_FAIL;
  g_autofree char *dot = sf_machine_to_dot_flags (m, flags);
  fputs (dot, stdout);
  return SF_EXIT_OK;
}
