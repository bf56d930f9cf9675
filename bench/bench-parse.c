/* bench-parse.c: SIP messages parsed per second (issue 3's benchmark), for a
 * typical INVITE (with SDP), a 200 OK and a REGISTER, parsed lazily (what the
 * stack does at run time: start line, framing, Via/From/To/Call-ID/CSeq) and
 * fully (every header, as 'sipflow parse').  CPU time of this process, not wall
 * time.  Usage: bench-parse [SECONDS_PER_CASE] (default 1). */
#include "config.h"
#include "sip/sf-sip-msg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char invite[] =
  "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
  "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
  "Max-Forwards: 70\r\n"
  "To: Bob <sip:bob@biloxi.example.com>\r\n"
  "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
  "CSeq: 314159 INVITE\r\n"
  "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
  "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE\r\n"
  "Supported: replaces, timer\r\n"
  "User-Agent: sipflow-bench/1.0\r\n"
  "Content-Type: application/sdp\r\n"
  "Content-Length: 142\r\n"
  "\r\n"
  "v=0\r\n"
  "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
  "s=-\r\n"
  "c=IN IP4 192.0.2.101\r\n"
  "t=0 0\r\n"
  "m=audio 49172 RTP/AVP 0\r\n"
  "a=rtpmap:0 PCMU/8000\r\n";

static const char ok200[] =
  "SIP/2.0 200 OK\r\n"
  "Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n"
  "Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2\r\n"
  "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
  "Record-Route: <sip:server10.biloxi.example.com;lr>, <sip:bigbox3.site3.atlanta.example.com;lr>\r\n"
  "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
  "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
  "CSeq: 314159 INVITE\r\n"
  "Contact: <sip:bob@192.0.2.4>\r\n"
  "Content-Length: 0\r\n"
  "\r\n";

static const char reg[] =
  "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
  "Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n"
  "Max-Forwards: 70\r\n"
  "To: Bob <sip:bob@biloxi.example.com>\r\n"
  "From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n"
  "Call-ID: 843817637684230@998sdasdh09\r\n"
  "CSeq: 1826 REGISTER\r\n"
  "Contact: <sip:bob@192.0.2.4>;expires=7200;q=0.8\r\n"
  "Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
  "uri=\"sip:registrar.biloxi.example.com\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, "
  "cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n"
  "Expires: 7200\r\n"
  "Content-Length: 0\r\n"
  "\r\n";

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
  run ("INVITE", invite, FALSE, seconds);
  run ("INVITE", invite, TRUE, seconds);
  run ("200 OK", ok200, FALSE, seconds);
  run ("200 OK", ok200, TRUE, seconds);
  run ("REGISTER", reg, FALSE, seconds);
  run ("REGISTER", reg, TRUE, seconds);
  return 0;
}
