/* sipflow.c: the sipflow command: run a flow, check it, draw it (docs/architecture.md,
 * "Command line").  One binary for every variant. */
#include "config.h"
#include "sf-ua.h"
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
  "Usage: sipflow COMMAND [ARGS]...\n"
  "\n"
  "sipflow runs SIP applications written as XML state machines (flows).\n"
  "\n"
  "Commands:\n"
  "  run FLOW.xml [OPTIONS]   run a flow; events as JSON lines on standard output,\n"
  "                           control commands (call, answer, hangup, status, quit...)\n"
  "                           on standard input; see 'sipflow run --help'\n"
  "  check FLOW.xml...        check flows: exit 0 (warnings allowed), or 1 with\n"
  "                           FILE:LINE: error: lines on standard error\n"
  "  dot [--fold] FLOW.xml    the flow as a Graphviz DOT graph on standard output\n"
  "  ops [NAME]               the operator reference (every operator, or NAME's entry:\n"
  "                           triggers, queues, outcomes, argument, RFC section);\n"
  "                           see 'sipflow ops --help'\n"
  "  upgrade FLOW.xml [-o OUT]\n"
  "                           rewrite a version-1 flow as version 2 (on=\"...\" on each\n"
  "                           operator, comments and layout kept)\n"
  "  ladder [--call-id ID] [--format svg|html] [-o OUT] FILE...\n"
  "                           the ladder (sequence) diagram of the event files of\n"
  "                           one or several 'run --messages': messages, states, timers\n"
  "  ctl [SOCKET] COMMAND...  send one control command to 'run --control SOCKET'\n"
  "                           (no SOCKET: the service's, /run/sipflow/control)\n"
  "  parse [--json] FILE|-    parse one SIP message and print its structure, or its\n"
  "                           error (exit 1)\n"
  "  tone FILE.wav HZ...      the share of each tone in a recorded WAV file; exit 0\n"
  "                           when every HZ is there (Goertzel)\n"
  "  coverage [--flow FLOW.xml] FILE...\n"
  "                           which arrows of each machine's picture the runs whose\n"
  "                           events are in FILE took, with their RFC sections\n"
  "  location dump|count|purge [--uri FILE | --config FILE] [AOR]\n"
  "                           the location service's SQLite file: its bindings as\n"
  "                           JSON lines, how many, the expired ones (or AOR's) removed\n"
  "  user add|del|list [--uri FILE | --config FILE] [USER]\n"
  "                           the SQLite users table (registrar.users = sqlite:PATH):\n"
  "                           a user's HA1 stored, a user removed, the users listed\n"
  "  help                     this text\n"
  "\n"
  "A FLOW that is not a file names a built-in flow: ua.xml (user agent), proxy.xml\n"
  "(stateful proxy with registrar), redirect.xml (registrar and redirect server),\n"
  "transaction/{ict,nict,ist,nist}.xml, examples/call-demo.xml and others.\n"
  "Exit status: 0 success, 1 failure, 2 usage error.\n";

int
sf_ua_usage_error (const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (cmd != NULL)
    fprintf (stderr, "sipflow %s: %s\nTry 'sipflow %s --help'.\n", cmd, msg, cmd);
  else
    fprintf (stderr, "sipflow: %s\nTry 'sipflow --help'.\n", msg);
  return SF_EXIT_USAGE;
}

/* A closed standard descriptor would be reused by the next open (a socket,
 * GLib's wake-up eventfd) and then read or written as if it were stdin or
 * stdout: hold each closed one open on /dev/null. */
static void
guard_std_fds (void)
{
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl (fd, F_GETFD) == -1 && errno == EBADF) {
      int null = open ("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
      if (null >= 0 && null != fd) {
        dup2 (null, fd);
        close (null);
      }
    }
}

int
main (int argc, char **argv)
{
  guard_std_fds ();
  setlocale (LC_ALL, "");
  if (argc < 2)
    return sf_ua_usage_error (NULL, "no command given");
  const char *cmd = argv[1];
  if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0 || strcmp (cmd, "help") == 0) {
    fputs (usage, stdout);
    return SF_EXIT_OK;
  }
  if (strcmp (cmd, "--version") == 0) {
    printf ("sipflow %s\n", PACKAGE_VERSION);
    return SF_EXIT_OK;
  }
  static const struct { const char *name; int (*fn) (int, char **); } cmds[] = {
    { "run", sf_ua_cmd_run }, { "check", sf_ua_cmd_check }, { "dot", sf_ua_cmd_dot }, { "ops", sf_ua_cmd_ops },
    { "upgrade", sf_ua_cmd_upgrade },
    { "ctl", sf_ua_cmd_ctl }, { "parse", sf_ua_cmd_parse }, { "tone", sf_ua_cmd_tone },
    { "ladder", sf_ua_cmd_ladder },
    { "coverage", sf_ua_cmd_coverage }, { "location", sf_ua_cmd_location },
    { "user", sf_ua_cmd_user },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cmds); i++)
    if (strcmp (cmd, cmds[i].name) == 0)
      return cmds[i].fn (argc - 1, argv + 1);
  return sf_ua_usage_error (NULL, "unknown command '%s'", cmd);
}
