/* sip-blast.c: a SIP load generator over UDP on loopback for the benchmarks
 * of issue 25, where sipp tops out near 4,000 calls/s on two cores: one
 * process, one thread, batched socket I/O (recvmmsg/sendmmsg), many calls in
 * flight.  It plays the scenarios of tests/integration/sipp, message for
 * message, so that the server under test does the same work as under sipp:
 *  - proxy: the caller of uac-rr.xml (INVITE with SDP to sip:callee@CALLEE
 *    through the proxy, 100/180 optional, 200, then ACK and BYE to the 200's
 *    Contact along the reversed Record-Route, BYE's 200) and, on a second
 *    socket, the callee of uas-rr.xml (180 and 200 copying Via, Record-Route,
 *    From, To, Call-ID, CSeq; the 200 retransmitted until the ACK; BYE 200);
 *  - redirect: one registration with digest first, then uac-302.xml
 *    (INVITE, 100 optional, 302, ACK for the 302 with the INVITE's branch);
 *  - register: uac-register.xml (REGISTER, 401, REGISTER with MD5 digest
 *    credentials, RFC 3261 22.4 and RFC 2617 3.2.2 with qop=auth, 200);
 *  - options: one OPTIONS to sip:USER@SERVER per call, done at its final
 *    response whatever its code (bench/bench-txn-mem.sh: each leaves a
 *    non-INVITE server transaction that Timer J keeps 64*T1 over UDP).
 * Client transactions retransmit per RFC 3261 17.1 over UDP (T1 500 ms
 * doubling; non-INVITE capped at T2 4 s, T2 at once after a provisional;
 * INVITE stops at its first response), and every retransmission is counted:
 * on loopback a retransmission means the server (or this process) fell behind.
 * Call i is due at i / RATE s after the start (after the registration for
 * redirect); placed more than SLIP ms (default 100) after that, it is late
 * (the generator or the machine could not keep the rate).  A call not done
 * within TIMEOUT s (default 32) of its placing fails.
 * Prints one line of key=value figures (see usage()); exit status 0 when every
 * call completed, 1 otherwise, 2 on a usage or socket error.
 * -x stops the run at the first sign that it is not clean (a retransmission,
 * a repeat, a late call), for stepping a rate up without waiting out timers.
 * -1 sends each datagram at once, as sipp does, where batches of them arrive
 * at the server together (bench/README.md: what that changes).
 * -s SOCKETS spreads the calls over that many source sockets (each a port of
 * its own), as many phones would: a server that reads one port with several
 * SO_REUSEPORT sockets (sipflow's core.workers, Kamailio's children) gets its
 * datagrams spread by the kernel, which hashes the source address and port.
 * Usage: sip-blast [-x] [-1] [-n CALLS] [-r RATE] [-S SLIP_MS] [-t TIMEOUT_S] [-u USER]
 *                  [-p PASSWORD] [-s SOCKETS] proxy|redirect|register|options SERVER_PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define T1 0.5
#define T2 4.0
#define BATCH 64
#define MAXMSG 4096
#define MAXHDR 16

enum { JOB_PROXY, JOB_REDIRECT, JOB_REGISTER, JOB_OPTIONS };
/* where a call stands (caller side) */
enum { PH_NEW, PH_INVITE, PH_BYE, PH_REG1, PH_REG2, PH_OPTIONS, PH_DONE, PH_FAILED };

typedef struct {
  double placed;     /* when its first request went out, s since the start */
  double next;       /* the client transaction's next retransmission, 0: none */
  double interval;   /* its current interval */
  double give_up;    /* Timer B/F: the transaction fails then */
  char *req;         /* owned: the request being retransmitted */
  int req_len;
  uint8_t phase;
  uint8_t provisional; /* the non-INVITE got a 1xx: retransmit at T2 */
  uint8_t retransmitted;
  /* the callee side (proxy job): its 200, retransmitted until the ACK */
  uint8_t answered;
  double c_next, c_interval, c_give_up;
  char *resp;        /* owned */
  int resp_len;
  struct sockaddr_in resp_to;
} Call;

typedef struct {
  double t;
  uint32_t idx;
  uint8_t callee; /* the callee's 200, not the caller's request */
} Timer;

typedef struct {
  const char *p;
  int n;
} Str;

/* the parts of a received message the scenarios need; lines are whole header
 * lines (name included, CRLF excluded), values what follows the colon */
typedef struct {
  int code; /* 0: a request */
  Str method, cseq_method, callid, to_tag, contact_uri;
  Str via[MAXHDR];
  int nvia;
  Str rr_line[MAXHDR];
  int nrr_line;
  Str rr[MAXHDR]; /* Record-Route values, one per route (commas split) */
  int nrr;
  Str from_line, to_line, callid_line, cseq_line, www_auth;
} Msg;

typedef struct {
  int fd;
  struct mmsghdr hdr[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in to[BATCH];
  char buf[BATCH][MAXMSG];
  int n;
} SendQ;

static int job;
static Call *calls;
static unsigned ncalls;        /* the calls of the schedule; calls[ncalls] is the redirect's registration */
static double rate = 1000, slip_max = 0.1, timeout_s = 32;
static const char *user = "sipp", *password = "sippass";
static char token[32];         /* this run's mark in every Call-ID */
static struct sockaddr_in server;
/* -s SOCKETS: calls spread over that many caller sockets (and, proxy job,
 * callee sockets), call c on socket c % SOCKETS, so that a server reading
 * with several sockets on one port (SO_REUSEPORT: the kernel picks one by the
 * source address and port) gets them from many sources, not one */
#define MAXSOCK 64
static int nsock = 1;
static int caller_ports[MAXSOCK], callee_ports[MAXSOCK];
static SendQ *out_callers, *out_callees;
#define CQ(c) (&out_callers[(c) % nsock])
#define EQ(c) (&out_callees[(c) % nsock])
#define CPORT(c) caller_ports[(c) % nsock]
#define EPORT(c) callee_ports[(c) % nsock]
static Timer *heap;
static size_t heap_n, heap_cap;
static double t0;
/* the figures */
static unsigned completed, failed, retransmitted, late, finished;
static unsigned long retransmissions, repeats, resp_count[7];
static double worst_slip;
static int stop_unclean; /* -x: stop at the first sign that the run is not clean */
static int unbatched;    /* -1: each datagram sent at once, as sipp sends them */

static double
now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9 - t0;
}

/* ---- timers: a binary min-heap; an entry is stale when the call's own
 * deadline has moved (checked when popped) ---- */
static void
timer_add(double t, uint32_t idx, int callee)
{
  if (heap_n == heap_cap) {
    heap_cap = heap_cap ? heap_cap * 2 : 1024;
    heap = realloc(heap, heap_cap * sizeof *heap);
    if (!heap) abort();
  }
  size_t i = heap_n++;
  while (i > 0 && heap[(i - 1) / 2].t > t) {
    heap[i] = heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  heap[i] = (Timer){ t, idx, (uint8_t) callee };
}

static Timer
timer_pop(void)
{
  Timer top = heap[0], last = heap[--heap_n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= heap_n) break;
    if (c + 1 < heap_n && heap[c + 1].t < heap[c].t) c++;
    if (heap[c].t >= last.t) break;
    heap[i] = heap[c];
    i = c;
  }
  if (heap_n) heap[i] = last;
  return top;
}

/* ---- sending: messages are built straight into the batch's buffers ---- */
static void
flush(SendQ *q)
{
  int done = 0;
  while (done < q->n) {
    int r = sendmmsg(q->fd, q->hdr + done, q->n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      perror("sip-blast: sendmmsg");
      break; /* the datagrams are lost; the retransmissions will tell */
    }
    done += r;
  }
  q->n = 0;
}

/* slot Q: the next buffer of the batch (flushed first when full) */
static char *
slot(SendQ *q)
{
  if (q->n == BATCH) flush(q);
  return q->buf[q->n];
}

static void
queue(SendQ *q, int len, const struct sockaddr_in *to)
{
  if (len <= 0 || len >= MAXMSG) {
    fprintf(stderr, "sip-blast: message too long (%d bytes)\n", len);
    return;
  }
  int i = q->n++;
  q->iov[i] = (struct iovec){ q->buf[i], (size_t) len };
  q->to[i] = *to;
  q->hdr[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &q->to[i], .msg_namelen = sizeof q->to[i],
                                             .msg_iov = &q->iov[i], .msg_iovlen = 1 } };
  if (unbatched) flush(q);
}

/* send_request C BUF LEN: the caller's request (queued already), kept for
 * retransmission; Timer B/F at 64*T1 */
static void
send_request(uint32_t c, const char *buf, int len)
{
  Call *k = &calls[c];
  free(k->req);
  k->req = malloc(len);
  if (!k->req) abort();
  memcpy(k->req, buf, len);
  k->req_len = len;
  k->provisional = 0;
  k->interval = T1;
  double t = now();
  k->next = t + T1;
  k->give_up = t + 64 * T1;
  timer_add(k->next, c, 0);
}

static void
stop_request(Call *k)
{
  k->next = 0;
  free(k->req);
  k->req = NULL;
}

static void
call_end(uint32_t c, int ok)
{
  Call *k = &calls[c];
  stop_request(k);
  if (k->phase == PH_DONE || k->phase == PH_FAILED) return;
  k->phase = ok ? PH_DONE : PH_FAILED;
  if (c == ncalls) return; /* the redirect's registration is not a call of the schedule */
  finished++;
  if (ok) completed++; else failed++;
  if (k->retransmitted) retransmitted++;
}

/* ---- parsing ---- */
static int
hname(const char *p, int n, const char *full, const char *compact)
{
  return ((int) strlen(full) == n && strncasecmp(p, full, n) == 0) ||
         (compact && n == 1 && (p[0] | 0x20) == compact[0]);
}

static Str
trim(const char *p, const char *e)
{
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  return (Str){ p, (int) (e - p) };
}

/* the URI of a name-addr or addr-spec value: inside <>, or up to ';' */
static Str
uri_of(Str v)
{
  const char *lt = memchr(v.p, '<', v.n);
  if (lt) {
    const char *gt = memchr(lt, '>', v.p + v.n - lt);
    if (gt) return (Str){ lt + 1, (int) (gt - lt - 1) };
  }
  const char *sc = memchr(v.p, ';', v.n);
  return (Str){ v.p, sc ? (int) (sc - v.p) : v.n };
}

/* the tag parameter of a To value (after the URI's closing '>') */
static Str
tag_of(Str v)
{
  const char *p = v.p, *e = v.p + v.n;
  const char *gt = memchr(p, '>', v.n);
  if (gt) p = gt;
  for (; p + 5 <= e; p++) {
    if (*p == ';' && strncasecmp(p + 1, "tag=", 4) == 0) {
      const char *s = p + 5, *q = s;
      while (q < e && *q != ';' && *q != ',' && *q != ' ') q++;
      return (Str){ s, (int) (q - s) };
    }
  }
  return (Str){ NULL, 0 };
}

static int
parse(const char *b, int n, Msg *m)
{
  memset(m, 0, sizeof *m);
  const char *e = b + n, *p = b;
  const char *eol = memmem(p, n, "\r\n", 2);
  if (!eol) return -1;
  if (n > 8 && memcmp(b, "SIP/2.0 ", 8) == 0) {
    m->code = atoi(b + 8);
    if (m->code < 100 || m->code > 699) return -1;
  } else {
    const char *sp = memchr(b, ' ', eol - b);
    if (!sp) return -1;
    m->method = (Str){ b, (int) (sp - b) };
  }
  for (p = eol + 2; p < e; p = eol + 2) {
    eol = memmem(p, e - p, "\r\n", 2);
    if (!eol || eol == p) break; /* the end of the headers */
    const char *colon = memchr(p, ':', eol - p);
    if (!colon) return -1;
    Str name = trim(p, colon), line = { p, (int) (eol - p) }, v = trim(colon + 1, eol);
    if (hname(name.p, name.n, "Via", "v")) {
      if (m->nvia < MAXHDR) m->via[m->nvia++] = line;
    } else if (hname(name.p, name.n, "Record-Route", NULL)) {
      if (m->nrr_line < MAXHDR) m->rr_line[m->nrr_line++] = line;
      /* one value per route: split at commas outside <> and quotes */
      const char *s = v.p, *q;
      int in_angle = 0, in_quote = 0;
      for (q = v.p; q <= v.p + v.n; q++) {
        if (q == v.p + v.n || (*q == ',' && !in_angle && !in_quote)) {
          if (m->nrr < MAXHDR) m->rr[m->nrr++] = trim(s, q);
          s = q + 1;
        } else if (*q == '<' && !in_quote) in_angle = 1;
        else if (*q == '>' && !in_quote) in_angle = 0;
        else if (*q == '"') in_quote = !in_quote;
      }
    } else if (hname(name.p, name.n, "From", "f")) {
      m->from_line = line;
    } else if (hname(name.p, name.n, "To", "t")) {
      m->to_line = line;
      m->to_tag = tag_of(v);
    } else if (hname(name.p, name.n, "Call-ID", "i")) {
      m->callid_line = line;
      m->callid = v;
    } else if (hname(name.p, name.n, "CSeq", NULL)) {
      m->cseq_line = line;
      const char *sp = memchr(v.p, ' ', v.n);
      if (sp) m->cseq_method = trim(sp + 1, v.p + v.n);
    } else if (hname(name.p, name.n, "Contact", "m")) {
      if (!m->contact_uri.p) m->contact_uri = uri_of(v);
    } else if (hname(name.p, name.n, "WWW-Authenticate", NULL)) {
      /* several challenges: the MD5 one (sipflow may offer SHA-256 too) */
      if (!m->www_auth.p || (g_strstr_len(v.p, v.n, "MD5") && !g_strstr_len(m->www_auth.p, m->www_auth.n, "MD5")))
        m->www_auth = v;
    }
  }
  return m->callid.p && m->cseq_method.p ? 0 : -1;
}

static int
is(Str s, const char *lit)
{
  return s.n == (int) strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* the call a Call-ID names ("INDEX-TOKEN@blast"), or -1 (not ours) */
static long
call_of(Str id)
{
  char *end;
  unsigned long i = strtoul(id.p, &end, 10);
  size_t tl = strlen(token);
  if (end == id.p || *end != '-' || (size_t) (id.p + id.n - end - 1) < tl || memcmp(end + 1, token, tl) != 0)
    return -1;
  return i <= ncalls ? (long) i : -1;
}

/* ---- the caller's requests ---- */
static const char sdp[] = "v=0\r\no=blast 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                          "m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

static void
send_invite(uint32_t c)
{
  char *b = slot(CQ(c));
  int n;
  if (job == JOB_PROXY)
    n = snprintf(b, MAXMSG,
                 "INVITE sip:callee@127.0.0.1:%d SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%u-i\r\n"
                 "From: <sip:caller@127.0.0.1:%d>;tag=%ur%s\r\n"
                 "To: <sip:callee@127.0.0.1:%d>\r\n"
                 "Call-ID: %u-%s@blast\r\n"
                 "CSeq: 1 INVITE\r\n"
                 "Contact: <sip:caller@127.0.0.1:%d>\r\n"
                 "Max-Forwards: 70\r\n"
                 "Content-Type: application/sdp\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 EPORT(c), CPORT(c), token, c, CPORT(c), c, token, EPORT(c), c, token, CPORT(c),
                 sizeof sdp - 1, sdp);
  else
    n = snprintf(b, MAXMSG,
                 "INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%u-i\r\n"
                 "From: <sip:caller@127.0.0.1:%d>;tag=%ui%s\r\n"
                 "To: <sip:%s@127.0.0.1:%d>\r\n"
                 "Call-ID: %u-%s@blast\r\n"
                 "CSeq: 1 INVITE\r\n"
                 "Contact: <sip:caller@127.0.0.1:%d>\r\n"
                 "Max-Forwards: 70\r\n"
                 "Content-Length: 0\r\n\r\n",
                 user, ntohs(server.sin_port), CPORT(c), token, c, CPORT(c), c, token, user,
                 ntohs(server.sin_port), c, token, CPORT(c));
  queue(CQ(c), n, &server);
  calls[c].phase = PH_INVITE;
  send_request(c, b, n);
}

/* send_register C CSEQ AUTH: REGISTER for USER, AUTH the Authorization line or "" */
static void
send_register(uint32_t c, int cseq, const char *auth)
{
  char *b = slot(CQ(c));
  int n = snprintf(b, MAXMSG,
                   "REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%u-r%d\r\n"
                   "From: <sip:%s@127.0.0.1>;tag=%ug%s\r\n"
                   "To: <sip:%s@127.0.0.1>\r\n"
                   "Call-ID: %u-%s@blast\r\n"
                   "CSeq: %d REGISTER\r\n"
                   "Contact: <sip:%s@127.0.0.1:%d>\r\n"
                   "%s"
                   "Expires: 600\r\n"
                   "Max-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n",
                   ntohs(server.sin_port), CPORT(c), token, c, cseq, user, c, token, user, c, token, cseq, user,
                   CPORT(c), auth);
  queue(CQ(c), n, &server);
  calls[c].phase = cseq == 1 ? PH_REG1 : PH_REG2;
  send_request(c, b, n);
}

/* send_options C: the options job's one request (USER need not be known: a
 * 404 or 480 ends the call as well as a 200) */
static void
send_options(uint32_t c)
{
  char *b = slot(CQ(c));
  int n = snprintf(b, MAXMSG,
                   "OPTIONS sip:%s@127.0.0.1:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%u-o\r\n"
                   "From: <sip:caller@127.0.0.1:%d>;tag=%uo%s\r\n"
                   "To: <sip:%s@127.0.0.1:%d>\r\n"
                   "Call-ID: %u-%s@blast\r\n"
                   "CSeq: 1 OPTIONS\r\n"
                   "Contact: <sip:caller@127.0.0.1:%d>\r\n"
                   "Max-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n",
                   user, ntohs(server.sin_port), CPORT(c), token, c, CPORT(c), c, token, user,
                   ntohs(server.sin_port), c, token, CPORT(c));
  queue(CQ(c), n, &server);
  calls[c].phase = PH_OPTIONS;
  send_request(c, b, n);
}

static void
start_call(uint32_t c)
{
  calls[c].placed = now();
  if (job == JOB_OPTIONS) send_options(c);
  else if (job == JOB_REGISTER || c == ncalls) send_register(c, 1, "");
  else send_invite(c);
}

/* md5hex IN: the lowercase hex MD5 of a string (owned) */
static gchar *
md5hex(const char *s)
{
  return g_compute_checksum_for_string(G_CHECKSUM_MD5, s, -1);
}

/* param CHALLENGE NAME: a parameter of a Digest challenge, unquoted (owned), or NULL */
static gchar *
param(Str ch, const char *name)
{
  const char *p = ch.p, *e = ch.p + ch.n;
  size_t nl = strlen(name);
  int in_quote = 0;
  for (; p < e; p++) {
    if (*p == '"') in_quote = !in_quote;
    if (in_quote) continue;
    if ((p == ch.p || p[-1] == ' ' || p[-1] == ',') && (size_t) (e - p) > nl && strncasecmp(p, name, nl) == 0 &&
        p[nl] == '=') {
      const char *s = p + nl + 1, *q;
      if (s < e && *s == '"') {
        q = memchr(s + 1, '"', e - s - 1);
        if (!q) return NULL;
        return g_strndup(s + 1, q - s - 1);
      }
      for (q = s; q < e && *q != ',' && *q != ' '; q++) {}
      return g_strndup(s, q - s);
    }
  }
  return NULL;
}

/* answer_challenge C M: the second REGISTER, with credentials for M's challenge */
static int
answer_challenge(uint32_t c, const Msg *m)
{
  if (!m->www_auth.p) return -1;
  g_autofree gchar *realm = param(m->www_auth, "realm"), *nonce = param(m->www_auth, "nonce"),
                   *opaque = param(m->www_auth, "opaque"), *qop = param(m->www_auth, "qop"),
                   *alg = param(m->www_auth, "algorithm");
  if (!realm || !nonce || (alg && g_ascii_strcasecmp(alg, "MD5") != 0)) return -1;
  int use_qop = qop && strstr(qop, "auth") != NULL;
  char uri[64], cnonce[48], a1[512], a2[128], line[1536];
  snprintf(uri, sizeof uri, "sip:127.0.0.1:%d", ntohs(server.sin_port));
  snprintf(cnonce, sizeof cnonce, "%08x%s", c, token);
  snprintf(a1, sizeof a1, "%s:%s:%s", user, realm, password);
  snprintf(a2, sizeof a2, "REGISTER:%s", uri);
  g_autofree gchar *ha1 = md5hex(a1), *ha2 = md5hex(a2);
  g_autofree gchar *kd = use_qop ? g_strdup_printf("%s:%s:00000001:%s:auth:%s", ha1, nonce, cnonce, ha2)
                                 : g_strdup_printf("%s:%s:%s", ha1, nonce, ha2);
  g_autofree gchar *resp = md5hex(kd);
  int n = snprintf(line, sizeof line,
                   "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                   "response=\"%s\", algorithm=MD5",
                   user, realm, nonce, uri, resp);
  if (use_qop) n += snprintf(line + n, sizeof line - n, ", cnonce=\"%s\", qop=auth, nc=00000001", cnonce);
  if (opaque) n += snprintf(line + n, sizeof line - n, ", opaque=\"%s\"", opaque);
  snprintf(line + n, sizeof line - n, "\r\n");
  send_register(c, 2, line);
  return 0;
}

/* the ACK for an INVITE's 200 (proxy: to the Contact, the Record-Route
 * reversed as Route, a branch of its own) or for its 302 (redirect: the
 * INVITE's Request-URI and branch, RFC 3261 17.1.1.3) */
static void
send_ack(uint32_t c, const Msg *m)
{
  char *b = slot(CQ(c));
  int n;
  if (job == JOB_PROXY) {
    n = snprintf(b, MAXMSG, "ACK %.*s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%u-a\r\n",
                 m->contact_uri.n, m->contact_uri.p, CPORT(c), token, c);
    for (int i = m->nrr - 1; i >= 0 && n < MAXMSG; i--)
      n += snprintf(b + n, MAXMSG - n, "Route: %.*s\r\n", m->rr[i].n, m->rr[i].p);
    if (n < MAXMSG)
      n += snprintf(b + n, MAXMSG - n,
                    "From: <sip:caller@127.0.0.1:%d>;tag=%ur%s\r\n"
                    "To: <sip:callee@127.0.0.1:%d>;tag=%.*s\r\n"
                    "Call-ID: %u-%s@blast\r\n"
                    "CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                    CPORT(c), c, token, EPORT(c), m->to_tag.n, m->to_tag.p, c, token);
  } else {
    n = snprintf(b, MAXMSG,
                 "ACK sip:%s@127.0.0.1:%d SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%u-i\r\n"
                 "From: <sip:caller@127.0.0.1:%d>;tag=%ui%s\r\n"
                 "To: <sip:%s@127.0.0.1:%d>;tag=%.*s\r\n"
                 "Call-ID: %u-%s@blast\r\n"
                 "CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                 user, ntohs(server.sin_port), CPORT(c), token, c, CPORT(c), c, token, user,
                 ntohs(server.sin_port), m->to_tag.n, m->to_tag.p, c, token);
  }
  queue(CQ(c), n, &server);
}

/* the BYE of a proxied call, along the same route as the ACK */
static void
send_bye(uint32_t c, const Msg *m)
{
  char b[MAXMSG];
  int n = snprintf(b, MAXMSG, "BYE %.*s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%u-b\r\n",
                   m->contact_uri.n, m->contact_uri.p, CPORT(c), token, c);
  for (int i = m->nrr - 1; i >= 0 && n < MAXMSG; i--)
    n += snprintf(b + n, MAXMSG - n, "Route: %.*s\r\n", m->rr[i].n, m->rr[i].p);
  if (n < MAXMSG)
    n += snprintf(b + n, MAXMSG - n,
                  "From: <sip:caller@127.0.0.1:%d>;tag=%ur%s\r\n"
                  "To: <sip:callee@127.0.0.1:%d>;tag=%.*s\r\n"
                  "Call-ID: %u-%s@blast\r\n"
                  "CSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                  CPORT(c), c, token, EPORT(c), m->to_tag.n, m->to_tag.p, c, token);
  if (n >= MAXMSG) return;
  memcpy(slot(CQ(c)), b, n);
  queue(CQ(c), n, &server);
  calls[c].phase = PH_BYE;
  send_request(c, b, n);
}

/* debug_repeat M WHY: with SIP_BLAST_DEBUG set, the first repeats received,
 * on standard error (what a server sends twice is worth seeing) */
static void
debug_repeat(const Msg *m, const char *why)
{
  static int shown;
  if (!g_getenv("SIP_BLAST_DEBUG") || shown >= 3) return;
  shown++;
  fprintf(stderr, "sip-blast: repeat (%s): %d %.*s, Call-ID %.*s, %d Via, %d Record-Route\n", why, m->code,
          m->cseq_line.n, m->cseq_line.p, m->callid.n, m->callid.p, m->nvia, m->nrr);
}

/* a response at the caller's socket */
static void
caller_response(const Msg *m)
{
  long ci = call_of(m->callid);
  if (ci < 0) return;
  uint32_t c = (uint32_t) ci;
  Call *k = &calls[c];
  int cls = m->code / 100;
  if (m->code == 100 || m->code == 180 || m->code == 200 || m->code == 302 || m->code == 401)
    resp_count[m->code == 100 ? 0 : m->code == 180 ? 1 : m->code == 200 ? 2 : m->code == 302 ? 3 : 4]++;
  else
    resp_count[5]++;
  if (is(m->cseq_method, "INVITE")) {
    if (k->phase != PH_INVITE) {
      /* a repeated final response: its ACK again (the first was lost or late) */
      if (cls >= 2 && m->to_tag.p) {
        repeats++;
        debug_repeat(m, "a final response to an INVITE already answered");
        send_ack(c, m);
      }
      return;
    }
    if (cls == 1) { k->next = 0; return; } /* INVITE: no retransmission after a provisional */
    if (!m->to_tag.p) { call_end(c, 0); return; }
    if (job == JOB_PROXY && m->code == 200 && m->contact_uri.p && m->nrr > 0) {
      stop_request(k);
      send_ack(c, m);
      send_bye(c, m);
    } else if (job == JOB_REDIRECT && m->code == 302) {
      send_ack(c, m);
      call_end(c, 1);
    } else {
      if (cls >= 3) send_ack(c, m);
      call_end(c, 0);
    }
  } else if (is(m->cseq_method, "BYE")) {
    if (k->phase != PH_BYE) {
      if (cls >= 2) {
        repeats++;
        debug_repeat(m, "a final response to a BYE already answered");
      }
      return;
    }
    if (cls == 1) { k->provisional = 1; return; }
    call_end(c, m->code == 200);
  } else if (is(m->cseq_method, "OPTIONS")) {
    if (cls == 1) { if (k->phase == PH_OPTIONS) k->provisional = 1; return; }
    if (k->phase == PH_OPTIONS) {
      call_end(c, 1);
    } else {
      repeats++;
      debug_repeat(m, "a final response to an OPTIONS already answered");
    }
  } else if (is(m->cseq_method, "REGISTER")) {
    if (cls == 1) { if (k->phase == PH_REG1 || k->phase == PH_REG2) k->provisional = 1; return; }
    if (k->phase == PH_REG1 && m->code == 401) {
      if (answer_challenge(c, m) < 0) call_end(c, 0);
    } else if (k->phase == PH_REG2 && m->code == 200) {
      call_end(c, 1);
    } else if (k->phase == PH_REG1 || k->phase == PH_REG2) {
      call_end(c, 0);
    } else {
      repeats++;
      debug_repeat(m, "a final response to a REGISTER already answered");
    }
  }
}

/* ---- the callee (proxy job) ---- */
static int
put_lines(char *b, int n, const Str *lines, int count)
{
  for (int i = 0; i < count && n < MAXMSG; i++)
    n += snprintf(b + n, MAXMSG - n, "%.*s\r\n", lines[i].n, lines[i].p);
  return n;
}

/* response CODE to request M into B (the To tagged when TAG), Record-Route
 * copied when RR, the SDP when BODY */
static int
build_response(char *b, const Msg *m, const char *status, int tag, int rr, int body, uint32_t c)
{
  int n = snprintf(b, MAXMSG, "SIP/2.0 %s\r\n", status);
  n = put_lines(b, n, m->via, m->nvia);
  if (rr) n = put_lines(b, n, m->rr_line, m->nrr_line);
  if (n < MAXMSG)
    n += snprintf(b + n, MAXMSG - n, "%.*s\r\n%.*s%s%u%s\r\n%.*s\r\n%.*s\r\n", m->from_line.n, m->from_line.p,
                  m->to_line.n, m->to_line.p, tag ? ";tag=" : "", tag ? c : 0, tag ? "u" : "", m->callid_line.n,
                  m->callid_line.p, m->cseq_line.n, m->cseq_line.p);
  if (tag && n < MAXMSG)
    n += snprintf(b + n, MAXMSG - n, "Contact: <sip:127.0.0.1:%d;transport=udp>\r\n", EPORT(c));
  if (n < MAXMSG) {
    if (body)
      n += snprintf(b + n, MAXMSG - n, "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
                    sizeof sdp - 1, sdp);
    else
      n += snprintf(b + n, MAXMSG - n, "Content-Length: 0\r\n\r\n");
  }
  return n;
}

static void
callee_request(const Msg *m, const struct sockaddr_in *from)
{
  long ci = call_of(m->callid);
  if (ci < 0) return;
  uint32_t c = (uint32_t) ci;
  Call *k = &calls[c];
  if (is(m->method, "INVITE")) {
    if (k->answered) {
      /* the proxy retransmitted: our 200 again while it is kept */
      repeats++;
      if (k->resp) queue(EQ(c), (memcpy(slot(EQ(c)), k->resp, k->resp_len), k->resp_len), from);
      return;
    }
    k->answered = 1;
    char *b = slot(EQ(c));
    queue(EQ(c), build_response(b, m, "180 Ringing", 1, 1, 0, c), from);
    b = slot(EQ(c));
    int n = build_response(b, m, "200 OK", 1, 1, 1, c);
    if (n <= 0 || n >= MAXMSG) return;
    queue(EQ(c), n, from);
    k->resp = malloc(n);
    if (!k->resp) abort();
    memcpy(k->resp, b, n);
    k->resp_len = n;
    k->resp_to = *from;
    k->c_interval = T1;
    k->c_next = now() + T1;
    k->c_give_up = k->c_next - T1 + 64 * T1;
    timer_add(k->c_next, c, 1);
  } else if (is(m->method, "ACK")) {
    k->c_next = 0;
    free(k->resp);
    k->resp = NULL;
  } else if (is(m->method, "BYE")) {
    char *b = slot(EQ(c));
    queue(EQ(c), build_response(b, m, "200 OK", 0, 0, 0, c), from);
  }
}

/* ---- timers ---- */
static void
fire(Timer t)
{
  Call *k = &calls[t.idx];
  if (t.callee) {
    if (k->c_next != t.t || !k->resp) return; /* stale */
    if (t.t >= k->c_give_up) { k->c_next = 0; free(k->resp); k->resp = NULL; return; }
    memcpy(slot(EQ(t.idx)), k->resp, k->resp_len);
    queue(EQ(t.idx), k->resp_len, &k->resp_to);
    retransmissions++;
    k->retransmitted = 1;
    k->c_interval *= 2;
    k->c_next = t.t + k->c_interval;
    timer_add(k->c_next, t.idx, 1);
    return;
  }
  if (k->next != t.t || !k->req) return; /* stale */
  if (t.t >= k->give_up) { call_end(t.idx, 0); return; }
  memcpy(slot(CQ(t.idx)), k->req, k->req_len);
  queue(CQ(t.idx), k->req_len, &server);
  retransmissions++;
  k->retransmitted = 1;
  int non_invite = k->phase != PH_INVITE;
  k->interval = non_invite ? (k->provisional ? T2 : (k->interval * 2 > T2 ? T2 : k->interval * 2)) : k->interval * 2;
  k->next = t.t + k->interval;
  timer_add(k->next, t.idx, 0);
}

/* ---- sockets ---- */
static int
udp_socket(int *port)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int sz = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t l = sizeof a;
  if (bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *) &a, &l) < 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

/* every queue's batch out (a message for call c may sit in any socket's) */
static void
flush_all(void)
{
  for (int i = 0; i < nsock; i++) {
    flush(&out_callers[i]);
    if (job == JOB_PROXY) flush(&out_callees[i]);
  }
}

static char rbuf[BATCH][MAXMSG];

/* receive FD CALLEE: one batch of datagrams, handled */
static int
receive(int fd, int callee)
{
  struct mmsghdr h[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i] = (struct iovec){ rbuf[i], MAXMSG - 1 };
    h[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i],
                                          .msg_iovlen = 1 } };
  }
  int r = recvmmsg(fd, h, BATCH, MSG_DONTWAIT, NULL);
  for (int i = 0; i < r; i++) {
    Msg m;
    if (parse(rbuf[i], (int) h[i].msg_len, &m) < 0) continue;
    if (callee) {
      if (!m.code) callee_request(&m, &from[i]);
    } else if (m.code) {
      caller_response(&m);
    }
  }
  return r < 0 ? 0 : r;
}

static void
usage(void)
{
  fprintf(stderr,
          "usage: sip-blast [-x] [-1] [-n CALLS] [-r RATE] [-S SLIP_MS] [-t TIMEOUT_S] [-u USER] [-p PASSWORD]\n"
          "                 [-s SOCKETS] proxy|redirect|register|options SERVER_PORT\n"
          "  plays CALLS calls (default 1000) at RATE a second (default 1000) against the server\n"
          "  on 127.0.0.1:SERVER_PORT over UDP; prints one line:\n"
          "  job calls rate completed failed retransmitted (calls) retransmissions repeats (final\n"
          "  responses or requests the server repeated) late (calls placed more than SLIP_MS, default\n"
          "  100, after their time) max_slip_ms placed_rate wall cpu (this process's user+sys seconds)\n"
          "  r100 r180 r200 r302 r401 rother (responses received by the caller) aborted\n"
          "  -x: stop at the first retransmission, repeat or late call (aborted=1; calls not done\n"
          "  then are not counted as failed): for stepping a rate up until a run is not clean\n"
          "  -1: each datagram sent at once (no batch), as sipp sends them\n"
          "  -s: the calls spread over SOCKETS caller sockets (and callee sockets for proxy), call i\n"
          "  on socket i %% SOCKETS (default 1, at most 64): many sources for a server's SO_REUSEPORT group\n");
  exit(2);
}

int
main(int argc, char **argv)
{
  int opt;
  ncalls = 1000;
  while ((opt = getopt(argc, argv, "n:r:S:t:u:p:s:x1h")) != -1) {
    switch (opt) {
    case 'n': ncalls = (unsigned) strtoul(optarg, NULL, 10); break;
    case 'r': rate = strtod(optarg, NULL); break;
    case 'S': slip_max = strtod(optarg, NULL) / 1000; break;
    case 't': timeout_s = strtod(optarg, NULL); break;
    case 'u': user = optarg; break;
    case 'p': password = optarg; break;
    case 's': nsock = atoi(optarg); break;
    case 'x': stop_unclean = 1; break;
    case '1': unbatched = 1; break;
    default: usage();
    }
  }
  if (argc - optind != 2 || ncalls == 0 || rate <= 0 || timeout_s <= 0 || nsock < 1 || nsock > MAXSOCK) usage();
  if (strcmp(argv[optind], "proxy") == 0) job = JOB_PROXY;
  else if (strcmp(argv[optind], "redirect") == 0) job = JOB_REDIRECT;
  else if (strcmp(argv[optind], "register") == 0) job = JOB_REGISTER;
  else if (strcmp(argv[optind], "options") == 0) job = JOB_OPTIONS;
  else usage();
  server = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(argv[optind + 1])),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(token, sizeof token, "%x%lx", (unsigned) getpid(), (unsigned long) ts.tv_nsec);
  t0 = 0;
  t0 = now();

  out_callers = calloc(nsock, sizeof *out_callers);
  out_callees = calloc(nsock, sizeof *out_callees);
  if (!out_callers || !out_callees) abort();
  /* the pollfds: caller sockets first, then (proxy) callee sockets */
  struct pollfd pfd[2 * MAXSOCK];
  int npfd = 0;
  for (int i = 0; i < nsock; i++) {
    out_callers[i].fd = udp_socket(&caller_ports[i]);
    out_callees[i].fd = job == JOB_PROXY ? udp_socket(&callee_ports[i]) : -1;
    if (out_callers[i].fd < 0 || (job == JOB_PROXY && out_callees[i].fd < 0)) {
      perror("sip-blast: socket");
      return 2;
    }
    pfd[npfd++] = (struct pollfd){ out_callers[i].fd, POLLIN, 0 };
  }
  for (int i = 0; job == JOB_PROXY && i < nsock; i++) pfd[npfd++] = (struct pollfd){ out_callees[i].fd, POLLIN, 0 };
  calls = calloc(ncalls + 1, sizeof *calls);
  if (!calls) abort();

  /* redirect: the registration the INVITEs are redirected to, before the schedule */
  int warming = job == JOB_REDIRECT;
  if (warming) start_call(ncalls);
  double sched = now();
  unsigned placed = 0, oldest = 0;
  int aborted = 0;
  double last_placed = sched;
  while (finished < ncalls) {
    double t = now();
    if (warming) {
      if (calls[ncalls].phase == PH_DONE) { warming = 0; sched = t; }
      else if (calls[ncalls].phase == PH_FAILED) { fprintf(stderr, "sip-blast: the registration failed\n"); return 1; }
    }
    /* the calls due */
    while (!warming && placed < ncalls) {
      double due = sched + placed / rate;
      if (due > t) break;
      double s = t - due;
      if (s > worst_slip) worst_slip = s;
      if (s > slip_max) late++;
      start_call(placed++);
      last_placed = t;
    }
    /* what came in: until nothing is waiting (a batch at a time each) */
    int got;
    do {
      got = 0;
      for (int i = 0; i < nsock; i++) {
        int r = receive(out_callers[i].fd, 0);
        if (job == JOB_PROXY) r += receive(out_callees[i].fd, 1);
        if (r > got) got = r;
      }
      flush_all();
    } while (got >= BATCH);
    /* the timers due */
    t = now();
    while (heap_n && heap[0].t <= t) fire(timer_pop());
    /* calls out of time, oldest first (placed in order) */
    while (oldest < placed && (calls[oldest].phase == PH_DONE || calls[oldest].phase == PH_FAILED)) oldest++;
    while (oldest < placed && calls[oldest].placed + timeout_s <= t) {
      call_end(oldest, 0);
      while (oldest < placed && (calls[oldest].phase == PH_DONE || calls[oldest].phase == PH_FAILED)) oldest++;
    }
    flush_all();
    if (finished >= ncalls) break;
    if (stop_unclean && (retransmissions || repeats || late)) {
      aborted = 1;
      break;
    }
    /* wait for the next thing to do, 10 ms at most */
    double next = t + 0.01;
    if (!warming && placed < ncalls && sched + placed / rate < next) next = sched + placed / rate;
    if (heap_n && heap[0].t < next) next = heap[0].t;
    double wait = next - now();
    if (wait > 0) {
      struct timespec w = { 0, (long) (wait * 1e9) };
      ppoll(pfd, (nfds_t) npfd, &w, NULL);
    }
  }
  double wall = now() - sched;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  /* the placing rate: the calls over the time their placing took, as sipp's call rate */
  double span = last_placed - sched;
  printf("job=%s calls=%u rate=%g completed=%u failed=%u retransmitted=%u retransmissions=%lu repeats=%lu "
         "late=%u max_slip_ms=%.1f placed_rate=%.1f wall=%.2f cpu=%.2f r100=%lu r180=%lu r200=%lu r302=%lu "
         "r401=%lu rother=%lu aborted=%d\n",
         argv[optind], ncalls, rate, completed, failed, retransmitted, retransmissions, repeats, late,
         worst_slip * 1000, span > 0 ? (placed - 1) / span : 0.0, wall, cpu, resp_count[0], resp_count[1],
         resp_count[2], resp_count[3], resp_count[4], resp_count[5], aborted);
  return completed == ncalls ? 0 : 1;
}
