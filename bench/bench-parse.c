/* bench-parse.c: SIP messages parsed per second (issue 3's benchmark), for a
 * typical INVITE (with SDP), a 200 OK and a REGISTER, parsed lazily (what the
 * stack does at run time: start line, framing, Via/From/To/Call-ID/CSeq) and
 * fully (every header, as 'sipflow parse').  CPU time of this process, not wall
 * time.  Usage: bench-parse [SECONDS_PER_CASE] (default 1).
 * bench-parse -n COUNT MESSAGE MODE parses one case COUNT times and prints
 * nothing: for instruction counts under callgrind, where the difference
 * between COUNT and 2 COUNT parses divided by COUNT is the cost of one parse,
 * the process's start and end aside.  MESSAGE: invite, ok200 or register;
 * MODE: lazy, full, or scan: only the Call-ID, found before parsing, as a
 * worker does to tell which worker owns a message (sip/sf-sip-route.h,
 * docs/workers.md): what a hand-off costs the worker that reads. */
#include "config.h"
#include "sip/sf-sip-msg.h"
#include "sip/sf-sip-route.h"
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

typedef enum { MODE_LAZY, MODE_FULL, MODE_SCAN } Mode;
static const char *const mode_names[] = { "lazy", "full", "scan" };

static void
parse_one (GBytes *bytes, const char *name, Mode mode)
{
  gboolean full = mode == MODE_FULL;
  if (mode == MODE_SCAN) {
    gsize len;
    const char *data = g_bytes_get_data (bytes, &len);
    SfSipStr id;
    if (!sf_sip_route_call_id (data, len, &id)) {
      fprintf (stderr, "bench-parse: %s has no Call-ID the scan finds\n", name);
      exit (1);
    }
    return;
  }
  SfSipMsg *m = sf_sip_msg_parse (bytes, NULL);
  if (m == NULL || (full && !sf_sip_msg_check_all (m, NULL))) {
    fprintf (stderr, "bench-parse: %s does not parse\n", name);
    exit (1);
  }
  sf_sip_msg_unref (m);
}

static void
run (const char *name, const char *text, Mode mode, double seconds)
{
  GBytes *bytes = g_bytes_new_static (text, strlen (text));
  guint64 n = 0;
  double start = cpu_seconds (), now;
  do {
    for (int i = 0; i < 1000; i++)
      parse_one (bytes, name, mode);
    n += 1000;
    now = cpu_seconds ();
  } while (now - start < seconds);
  printf ("%-9s %-5s %5zu bytes  %9.0f msg/s  %6.2f us/msg\n", name, mode_names[mode], strlen (text),
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
    int mode = -1;
    for (int m = 0; m < (int) G_N_ELEMENTS (mode_names); m++)
      if (strcmp (argv[4], mode_names[m]) == 0)
        mode = m;
    if (count <= 0 || text == NULL || mode < 0) {
      fprintf (stderr, "usage: bench-parse -n COUNT invite|ok200|register lazy|full|scan\n");
      return 2;
    }
    GBytes *bytes = g_bytes_new_static (text, strlen (text));
    for (long i = 0; i < count; i++)
      parse_one (bytes, argv[3], (Mode) mode);
    g_bytes_unref (bytes);
    return 0;
  }
  double seconds = argc > 1 ? atof (argv[1]) : 1.0;
  if (seconds <= 0 || seconds > 600) {
    fprintf (stderr, "usage: bench-parse [SECONDS_PER_CASE (0-600)]\n");
    return 2;
  }
  printf ("sipflow %s, one core, CPU time of this process\n", PACKAGE_VERSION);
  run ("INVITE", bench_invite, MODE_LAZY, seconds);
  run ("INVITE", bench_invite, MODE_FULL, seconds);
  run ("200 OK", bench_ok200, MODE_LAZY, seconds);
  run ("200 OK", bench_ok200, MODE_FULL, seconds);
  run ("REGISTER", bench_register, MODE_LAZY, seconds);
  run ("REGISTER", bench_register, MODE_FULL, seconds);
  run ("INVITE", bench_invite, MODE_SCAN, seconds);
  run ("200 OK", bench_ok200, MODE_SCAN, seconds);
  run ("REGISTER", bench_register, MODE_SCAN, seconds);
  return 0;
}
