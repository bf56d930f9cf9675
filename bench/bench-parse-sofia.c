/* bench-parse-sofia.c: bench-parse's three messages (bench/bench-messages.h)
 * parsed by sofia-sip's message parser, the yardstick issue 15 compares
 * sipflow's parser with.  Same timing as bench-parse (CPU time of this
 * process, batches of 1000 until SECONDS_PER_CASE have passed) and the same
 * table, so that bench-parse-vs-sofia.sh reads both alike.
 *
 * Each parse is msg_make (sip_default_mclass (), 0, text, len), then
 * msg_destroy.  sofia-sip has no lazy mode: msg_make copies the bytes into the
 * message's own buffer (as its transports do on receive), then parses the start
 * line and every header the default SIP class knows into its structures at
 * once (Via, Record-Route, Contact, Authorization parameters and the rest);
 * headers it does not know would be kept as unparsed text (none here), and the
 * body is kept as an opaque payload (the SDP is not parsed, as in sipflow).
 * The mode column therefore always says "full".
 *
 * Usage: bench-parse-sofia [SECONDS_PER_CASE] (default 1).
 * bench-parse-sofia -n COUNT MESSAGE parses one message COUNT times and prints
 * nothing, as bench-parse -n does: under callgrind, the difference between
 * COUNT and 2 COUNT parses divided by COUNT is sofia-sip's cost of one parse,
 * beside bench-parse's full mode.  MESSAGE: invite, ok200 or register. */
#include "bench/bench-messages.h"
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sofia_features.h>
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

/* A parse that failed or lost a header would make the figure meaningless:
 * check that the message is complete, has no error, and that the headers
 * bench-parse's lazy mode looks at are there. */
static int
parsed_ok (msg_t *m)
{
  if (m == NULL)
    return 0;
  sip_t const *sip = sip_object (m);
  return sip != NULL && msg_is_complete (m) && !msg_has_error (m)
         && (sip->sip_request != NULL || sip->sip_status != NULL) && sip->sip_via != NULL
         && sip->sip_from != NULL && sip->sip_to != NULL && sip->sip_call_id != NULL
         && sip->sip_cseq != NULL && sip->sip_content_length != NULL && sip->sip_error == NULL;
}

static void
parse_one (msg_mclass_t const *mclass, const char *name, const char *text, size_t len)
{
  msg_t *m = msg_make (mclass, 0, text, (ssize_t) len);
  if (!parsed_ok (m)) {
    fprintf (stderr, "bench-parse-sofia: %s does not parse\n", name);
    exit (1);
  }
  msg_destroy (m);
}

static void
run (const char *name, const char *text, double seconds)
{
  msg_mclass_t const *mclass = sip_default_mclass ();
  size_t len = strlen (text);
  unsigned long long n = 0;
  double start = cpu_seconds (), now;
  do {
    for (int i = 0; i < 1000; i++)
      parse_one (mclass, name, text, len);
    n += 1000;
    now = cpu_seconds ();
  } while (now - start < seconds);
  printf ("%-9s %-5s %5zu bytes  %9.0f msg/s  %6.2f us/msg\n", name, "full", len,
          (double) n / (now - start), (now - start) * 1e6 / (double) n);
}

int
main (int argc, char **argv)
{
  if (argc == 4 && strcmp (argv[1], "-n") == 0) {
    long count = atol (argv[2]);
    const char *text = strcmp (argv[3], "invite") == 0 ? bench_invite
                       : strcmp (argv[3], "ok200") == 0 ? bench_ok200
                       : strcmp (argv[3], "register") == 0 ? bench_register : NULL;
    if (count <= 0 || text == NULL) {
      fprintf (stderr, "usage: bench-parse-sofia -n COUNT invite|ok200|register\n");
      return 2;
    }
    msg_mclass_t const *mclass = sip_default_mclass ();
    for (long i = 0; i < count; i++)
      parse_one (mclass, argv[3], text, strlen (text));
    return 0;
  }
  double seconds = argc > 1 ? atof (argv[1]) : 1.0;
  if (seconds <= 0 || seconds > 600) {
    fprintf (stderr, "usage: bench-parse-sofia [SECONDS_PER_CASE (0-600)]\n");
    return 2;
  }
  printf ("sofia-sip %s, one core, CPU time of this process\n", SOFIA_SIP_VERSION);
  run ("INVITE", bench_invite, seconds);
  run ("200 OK", bench_ok200, seconds);
  run ("REGISTER", bench_register, seconds);
  return 0;
}
