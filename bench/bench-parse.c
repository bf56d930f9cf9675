/* bench-parse.c: SIP messages parsed per second (issue 3's benchmark), for a
 * typical INVITE (with SDP), a 200 OK and a REGISTER, parsed lazily (what the
 * stack does at run time: start line, framing, Via/From/To/Call-ID/CSeq) and
 * fully (every header, as 'sipflow parse').  CPU time of this process, not wall
 * time.  Usage: bench-parse [SECONDS_PER_CASE] (default 1).
 * bench-parse -n COUNT MESSAGE MODE parses one case COUNT times and prints
 * nothing: for instruction counts under callgrind, where the difference
 * between COUNT and 2 COUNT parses divided by COUNT is the cost of one parse,
 * the process's start and end aside.  MESSAGE: invite, ok200 or register;
 * MODE: lazy or full. */
#include "config.h"
#include "sip/sf-sip-msg.h"
#include "bench/bench-messages.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
parse_one (GBytes *bytes, const char *name, gboolean full)
{
  SfSipMsg *m = sf_sip_msg_parse (bytes, NULL);
  if (m == NULL || (full && !sf_sip_msg_check_all (m, NULL))) {
    fprintf (stderr, "bench-parse: %s does not parse\n", name);
    exit (1);
  }
  sf_sip_msg_unref (m);
}

static void
run (const char *name, const char *text, gboolean full, double seconds)
{
  GBytes *bytes = g_bytes_new_static (text, strlen (text));
  guint64 n = 0;
  double start = cpu_seconds (), now;
  do {
    for (int i = 0; i < 1000; i++)
      parse_one (bytes, name, full);
    n += 1000;
    now = cpu_seconds ();
  } while (now - start < seconds);
  printf ("%-9s %-5s %5zu bytes  %9.0f msg/s  %6.2f us/msg\n", name, full ? "full" : "lazy", strlen (text),
          (double) n / (now - start), (now - start) * 1e6 / (double) n);
  g_bytes_unref (bytes);
}

int
main (int argc, char **argv)
{
  if (argc == 5 && strcmp (argv[1], "-n") == 0) {
    long count = atol (argv[2]);
    const char *text = strcmp (argv[3], "invite") == 0 ? bench_invite
                       : strcmp (argv[3], "ok200") == 0 ? bench_ok200
                       : strcmp (argv[3], "register") == 0 ? bench_register : NULL;
    if (count <= 0 || text == NULL || (strcmp (argv[4], "lazy") != 0 && strcmp (argv[4], "full") != 0)) {
      fprintf (stderr, "usage: bench-parse -n COUNT invite|ok200|register lazy|full\n");
      return 2;
    }
    GBytes *bytes = g_bytes_new_static (text, strlen (text));
    for (long i = 0; i < count; i++)
      parse_one (bytes, argv[3], strcmp (argv[4], "full") == 0);
    g_bytes_unref (bytes);
    return 0;
  }
  double seconds = argc > 1 ? atof (argv[1]) : 1.0;
  if (seconds <= 0 || seconds > 600) {
    fprintf (stderr, "usage: bench-parse [SECONDS_PER_CASE (0-600)]\n");
    return 2;
  }
  printf ("sipflow %s, one core, CPU time of this process\n", PACKAGE_VERSION);
  run ("INVITE", bench_invite, FALSE, seconds);
  run ("INVITE", bench_invite, TRUE, seconds);
  run ("200 OK", bench_ok200, FALSE, seconds);
  run ("200 OK", bench_ok200, TRUE, seconds);
  run ("REGISTER", bench_register, FALSE, seconds);
  run ("REGISTER", bench_register, TRUE, seconds);
  return 0;
}
