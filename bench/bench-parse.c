/* bench-parse.c: SIP messages parsed per second (issue 3's benchmark), for a
 * typical INVITE (with SDP), a 200 OK and a REGISTER, parsed lazily (what the
 * stack does at run time: start line, framing, Via/From/To/Call-ID/CSeq) and
 * fully (every header, as 'sipflow parse').  CPU time of this process, not wall
 * time.  Usage: bench-parse [SECONDS_PER_CASE] (default 1). */
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
run (const char *name, const char *text, gboolean full, double seconds)
{
  GBytes *bytes = g_bytes_new_static (text, strlen (text));
  guint64 n = 0;
  double start = cpu_seconds (), now;
  do {
    for (int i = 0; i < 1000; i++) {
      SfSipMsg *m = sf_sip_msg_parse (bytes, NULL);
      if (m == NULL || (full && !sf_sip_msg_check_all (m, NULL))) {
        fprintf (stderr, "bench-parse: %s does not parse\n", name);
        exit (1);
      }
      sf_sip_msg_unref (m);
    }
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
