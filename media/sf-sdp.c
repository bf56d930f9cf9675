/* sf-sdp.c: RFC 3264 offer/answer for one audio stream (see sf-sdp.h).
 *
 * Reading: GstSDPMessage's parser reads up to a NUL whatever size it is given,
 * g_warning()s on a v= other than 0, reads ports with atoi() and skips lines it
 * does not understand, so the text is checked line by line here first (RFC 4566
 * 5: "type=value" lines, v=0 first, o= with its six fields, s=, m= with a port
 * and formats, c= "IN IP4|IP6 ADDR", a=rtpmap), and GStreamer parses a
 * normalised copy (CRLF, no trailing blanks).  What the structure must hold
 * (payload types 0..127 on RTP lines, a connection address for every active
 * m= line) is checked on the parsed message. */
#include "config.h"
#include "sf-sdp.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include <gst/sdp/sdp.h>
#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK (sf-sdp-error-quark, sf_sdp_error)

/* Longest encoding name read from a=rtpmap. */
#define SF_SDP_MAX_ENCODING 63
/* Longest connection address (an FQDN may be given, RFC 4566 5.7). */
#define SF_SDP_MAX_ADDR 255

typedef struct {
  const char *name;   /* as written in rtpmap */
  guint pt;           /* the payload type we offer it with */
  guint rate;
  guint channels;
  const char *fmtp;   /* a=fmtp parameters we write, or NULL */
} CodecDef;

/* PCMU and PCMA: RFC 3551 static types; opus: RFC 7587 (always /48000/2). */
static const CodecDef codec_defs[] = {
  { "PCMU", 0, 8000, 1, NULL },
  { "PCMA", 8, 8000, 1, NULL },
  { "opus", 111, 48000, 2, "useinbandfec=1" },
};
/* RFC 4733: DTMF events 0-15 and flash (16). */
static const CodecDef telephone_event = { "telephone-event", 101, 8000, 1, "0-16" };

/* A format on an m= line: a payload type and what it stands for. */
typedef struct {
  const CodecDef *def;  /* unowned: one of the constants above */
  guint pt;
} Fmt;

typedef struct {
  guint pt;
  char name[SF_SDP_MAX_ENCODING + 1];
  guint rate;
  guint channels;       /* 0: not given (1 for audio, RFC 4566 6) */
} Rtpmap;

struct _SfSdpSession {
  char *addr;           /* owned: IP literal, no brackets */
  gboolean ipv6;
  guint port;
  char *sess_id;        /* owned: decimal, fixed for the session */
  guint64 version;      /* o= version of the next SDP we send */
  GPtrArray *codecs;    /* owned array of unowned const CodecDef *, most preferred first */
  GArray *offered;      /* owned, of Fmt: our last offer's formats; NULL before one */
  SfSdpDir offered_dir;
  SfSdpDir remote_dir;
  SfSdpSrtpMode srtp;
  gboolean srtp_plain;  /* OFFER mode: the call runs in the clear, offers are RTP/AVP */
  /* Our last offer's a=crypto lines (tags 1 and 2); n_crypto 0: RTP/AVP offered. */
  SfSrtpCrypto crypto[2];
  guint n_crypto;
  char *last_sent;      /* owned: the last SDP made */
  char *last_offer;     /* owned: our last offer as it went, nullable */
  char *in_force;       /* owned: ours of the last exchange completed (a session refresh repeats it), nullable */
};

static const char proto_avp[] = "RTP/AVP";
static const char proto_savp[] = "RTP/SAVP";

static const char *const dir_names[] = { "sendrecv", "sendonly", "recvonly", "inactive" };

const char *
sf_sdp_dir_name (SfSdpDir d)
{
  return (guint) d < G_N_ELEMENTS (dir_names) ? dir_names[d] : "inactive";
}

static gboolean
dir_sends (SfSdpDir d)
{
  return d == SF_SDP_SENDRECV || d == SF_SDP_SENDONLY;
}

static gboolean
dir_receives (SfSdpDir d)
{
  return d == SF_SDP_SENDRECV || d == SF_SDP_RECVONLY;
}

static SfSdpDir
dir_make (gboolean send, gboolean recv)
{
  return send ? (recv ? SF_SDP_SENDRECV : SF_SDP_SENDONLY) : (recv ? SF_SDP_RECVONLY : SF_SDP_INACTIVE);
}

/* Our direction when the peer declares @peer and we want @want (RFC 3264 6.1:
 * we send only if the peer receives, and receive only if it sends). */
static SfSdpDir
dir_ours (SfSdpDir peer, SfSdpDir want)
{
  return dir_make (dir_sends (want) && dir_receives (peer), dir_receives (want) && dir_sends (peer));
}

/* ---- SfSdpMedia ---- */

static void
media_reset (SfSdpMedia *m)
{
  memset (m, 0, sizeof *m);
  m->dir = SF_SDP_INACTIVE;
  m->dtmf_pt = -1;
  m->ptime = 20;
}

void
sf_sdp_media_clear (SfSdpMedia *m)
{
  if (m == NULL)
    return;
  g_free (m->remote_addr);
  g_free (m->codec.name);
  media_reset (m);
}

void
sf_sdp_media_copy (SfSdpMedia *dst, const SfSdpMedia *src)
{
  g_return_if_fail (dst != NULL && src != NULL);
  *dst = *src;
  dst->remote_addr = g_strdup (src->remote_addr);
  dst->codec.name = g_strdup (src->codec.name);
}

char *
sf_sdp_media_json (const SfSdpMedia *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_autofree char *remote = NULL;
  if (m->remote_addr != NULL)
    remote = g_strdup_printf (strchr (m->remote_addr, ':') != NULL ? "[%s]:%u" : "%s:%u", m->remote_addr,
                              m->remote_port);
  GString *out = g_string_new (NULL);
  sf_json_add_str (out, "codec", m->codec.name);
  sf_json_add_str (out, "remote", remote);
  sf_json_add_str (out, "dir", sf_sdp_dir_name (m->dir));
  sf_json_add_int (out, "dtmf_pt", m->dtmf_pt);
  sf_json_add_str (out, "srtp", sf_srtp_suite_name (m->srtp));
  g_string_erase (out, 0, 1); /* the helpers start every field with ',' */
  return g_string_free (out, FALSE);
}

/* ---- small readers ---- */

static G_GNUC_PRINTF (3, 4) void
fail (GError **error, SfSdpError code, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  GError *e = g_error_new_valist (SF_SDP_ERROR, code, format, ap);
  va_end (ap);
  g_propagate_error (error, e);
}

/* At most 40 bytes of @s for a message, non-printables masked (docs/style.md). */
static char *
sample (const char *s)
{
  GString *out = g_string_new (NULL);
  const char *p = s;
  for (; *p != '\0' && out->len < 40; p++)
    g_string_append_c (out, (guchar) *p >= 0x20 && (guchar) *p < 0x7f ? *p : '.');
  if (*p != '\0')
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

/* Decimal digits only, no sign or blanks, at most @max. */
static gboolean
parse_uint (const char *s, gsize len, guint64 max, guint64 *out)
{
  if (len == 0 || len > 10)
    return FALSE;
  guint64 v = 0;
  for (gsize i = 0; i < len; i++) {
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
    v = v * 10 + (guint64) (s[i] - '0');
  }
  if (v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
parse_uint_str (const char *s, guint64 max, guint64 *out)
{
  return parse_uint (s, strlen (s), max, out);
}

/* RFC 4566 6: "rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]". */
static gboolean
parse_rtpmap (const char *value, Rtpmap *r)
{
  const char *p = value;
  while (g_ascii_isspace (*p))
    p++;
  const char *q = p;
  while (g_ascii_isdigit (*q))
    q++;
  guint64 v;
  if (!parse_uint (p, q - p, 127, &v) || !g_ascii_isspace (*q))
    return FALSE;
  r->pt = (guint) v;
  while (g_ascii_isspace (*q))
    q++;
  p = q;
  while (g_ascii_isalnum (*q) || *q == '-' || *q == '_' || *q == '.' || *q == '+')
    q++;
  if (q == p || q - p > SF_SDP_MAX_ENCODING || *q != '/')
    return FALSE;
  memcpy (r->name, p, q - p);
  r->name[q - p] = '\0';
  p = ++q;
  while (g_ascii_isdigit (*q))
    q++;
  if (!parse_uint (p, q - p, G_MAXUINT32, &v) || v == 0)
    return FALSE;
  r->rate = (guint) v;
  r->channels = 0;
  if (*q == '/') {
    p = ++q;
    while (g_ascii_isdigit (*q))
      q++;
    if (!parse_uint (p, q - p, 255, &v) || v == 0)
      return FALSE;
    r->channels = (guint) v;
  }
  while (g_ascii_isspace (*q))
    q++;
  return *q == '\0';
}

/* Splits at white space, as GStreamer's reader does (transfer full). */
static GStrv
split_blanks (const char *line)
{
  GPtrArray *a = g_ptr_array_new ();
  const char *p = line;
  while (*p != '\0') {
    while (g_ascii_isspace (*p))
      p++;
    const char *start = p;
    while (*p != '\0' && !g_ascii_isspace (*p))
      p++;
    if (p > start)
      g_ptr_array_add (a, g_strndup (start, p - start));
  }
  g_ptr_array_add (a, NULL);
  return (GStrv) g_ptr_array_free (a, FALSE);
}

static gboolean
addr_chars_ok (const char *a, gsize len)
{
  if (len == 0 || len > SF_SDP_MAX_ADDR)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (a[i]) && strchr (".:-_[]%", a[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* RFC 4566 5.7: "c=IN IP4|IP6 ADDR[/TTL][/N]". */
static gboolean
check_c_line (const char *value)
{
  g_auto (GStrv) t = split_blanks (value);
  if (g_strv_length (t) != 3 || strcmp (t[0], "IN") != 0 || (strcmp (t[1], "IP4") != 0 && strcmp (t[1], "IP6") != 0))
    return FALSE;
  const char *slash = strchr (t[2], '/');
  if (!addr_chars_ok (t[2], slash != NULL ? (gsize) (slash - t[2]) : strlen (t[2])))
    return FALSE;
  while (slash != NULL) {
    const char *next = strchr (slash + 1, '/');
    gsize n = next != NULL ? (gsize) (next - slash - 1) : strlen (slash + 1);
    guint64 v;
    if (!parse_uint (slash + 1, n, G_MAXUINT32, &v))
      return FALSE;
    slash = next;
  }
  return TRUE;
}

/* RFC 4566 5.14: "m=<media> <port>[/<number of ports>] <proto> <fmt> ...". */
static gboolean
check_m_line (const char *value, GError **error)
{
  g_auto (GStrv) t = split_blanks (value);
  guint n = g_strv_length (t);
  if (n < 3) {
    g_autofree char *s = sample (value);
    fail (error, SF_SDP_ERROR_MALFORMED, "m= line '%s' has no port or no proto", s);
    return FALSE;
  }
  g_autofree char *media = sample (t[0]);
  if (n == 3) {
    fail (error, SF_SDP_ERROR_MALFORMED, "m=%s without formats", media);
    return FALSE;
  }
  if (n - 3 > SF_SDP_MAX_FORMATS) {
    fail (error, SF_SDP_ERROR_MALFORMED, "m=%s with more than %d formats", media, SF_SDP_MAX_FORMATS);
    return FALSE;
  }
  const char *slash = strchr (t[1], '/');
  gsize plen = slash != NULL ? (gsize) (slash - t[1]) : strlen (t[1]);
  guint64 port, count;
  if (!parse_uint (t[1], plen, 65535, &port)
      || (slash != NULL && (!parse_uint_str (slash + 1, 65535, &count) || count == 0))) {
    g_autofree char *s = sample (t[1]);
    fail (error, SF_SDP_ERROR_MALFORMED, "bad port '%s' on m=%s", s, media);
    return FALSE;
  }
  return TRUE;
}

/* The line scan (see the file comment): a normalised copy of @text for
 * GStreamer (transfer full), or NULL with SF_SDP_ERROR_MALFORMED. */
static char *
check_lines (const char *text, gsize len, GError **error)
{
  if (len == 0) {
    fail (error, SF_SDP_ERROR_MALFORMED, "empty SDP");
    return NULL;
  }
  if (len > SF_SDP_MAX_BYTES) {
    fail (error, SF_SDP_ERROR_MALFORMED, "SDP of %" G_GSIZE_FORMAT " bytes, more than %d", len, SF_SDP_MAX_BYTES);
    return NULL;
  }
  if (memchr (text, '\0', len) != NULL) {
    fail (error, SF_SDP_ERROR_MALFORMED, "NUL byte in SDP");
    return NULL;
  }
  if (!g_utf8_validate_len (text, len, NULL)) {
    fail (error, SF_SDP_ERROR_MALFORMED, "SDP is not UTF-8 text");
    return NULL;
  }
  g_autofree char *copy = g_strndup (text, len);
  g_auto (GStrv) lines = g_strsplit (copy, "\n", -1);
  GString *norm = g_string_sized_new (len + 64);
  guint n_o = 0, n_s = 0, n_m = 0, seen = 0;
  for (guint i = 0; lines[i] != NULL; i++) {
    char *line = g_strchomp (lines[i]);
    if (*line == '\0')
      continue;
    g_autofree char *s = sample (line);
    if (!g_ascii_islower (line[0]) || line[1] != '=') {
      fail (error, SF_SDP_ERROR_MALFORMED, "line %u is not TYPE=VALUE: '%s'", i + 1, s);
      goto bad;
    }
    if (strchr (line, '\r') != NULL) {
      fail (error, SF_SDP_ERROR_MALFORMED, "stray CR in line %u: '%s'", i + 1, s);
      goto bad;
    }
    const char *value = line + 2;
    if (seen++ == 0 && strcmp (line, "v=0") != 0) {
      if (line[0] == 'v')
        fail (error, SF_SDP_ERROR_MALFORMED, "unsupported SDP version '%s'", s);
      else
        fail (error, SF_SDP_ERROR_MALFORMED, "SDP does not start with v=0: '%s'", s);
      goto bad;
    }
    switch (line[0]) {
    case 'v':
      if (seen > 1) {
        fail (error, SF_SDP_ERROR_MALFORMED, "v= again in line %u", i + 1);
        goto bad;
      }
      break;
    case 'o': {
      g_auto (GStrv) t = split_blanks (value);
      if (g_strv_length (t) != 6) {
        fail (error, SF_SDP_ERROR_MALFORMED, "o= needs 6 fields: '%s'", s);
        goto bad;
      }
      n_o++;
      break;
    }
    case 's':
      n_s++;
      break;
    case 'c':
      if (!check_c_line (value)) {
        fail (error, SF_SDP_ERROR_MALFORMED, "bad c= line '%s'", s);
        goto bad;
      }
      break;
    case 'm':
      if (++n_m > SF_SDP_MAX_MEDIA) {
        fail (error, SF_SDP_ERROR_MALFORMED, "more than %d m= lines", SF_SDP_MAX_MEDIA);
        goto bad;
      }
      if (!check_m_line (value, error))
        goto bad;
      break;
    case 'a': {
      while (g_ascii_isspace (*value))
        value++;
      Rtpmap r;
      gboolean rtpmap = strcmp (value, "rtpmap") == 0 || g_str_has_prefix (value, "rtpmap:");
      if (rtpmap && !parse_rtpmap (value + 6 + (value[6] == ':'), &r)) {
        fail (error, SF_SDP_ERROR_MALFORMED, "bad a=rtpmap '%s'", s);
        goto bad;
      }
      break;
    }
    default:
      break;
    }
    g_string_append (norm, line);
    g_string_append (norm, "\r\n");
  }
  if (seen == 0)
    fail (error, SF_SDP_ERROR_MALFORMED, "empty SDP");
  else if (n_o == 0)
    fail (error, SF_SDP_ERROR_MALFORMED, "no o= line");
  else if (n_s == 0)
    fail (error, SF_SDP_ERROR_MALFORMED, "no s= line");
  else if (n_m == 0)
    fail (error, SF_SDP_ERROR_MALFORMED, "no m= line");
  else
    return g_string_free (norm, FALSE);
bad:
  g_string_free (norm, TRUE);
  return NULL;
}

/* The connection address of @m: media level over session level; NULL if none. */
static const char *
connection_of (const GstSDPMessage *msg, const GstSDPMedia *m)
{
  for (guint i = 0; i < gst_sdp_media_connections_len (m); i++) {
    const GstSDPConnection *c = gst_sdp_media_get_connection (m, i);
    if (c->address != NULL && *c->address != '\0')
      return c->address;
  }
  const GstSDPConnection *c = gst_sdp_message_get_connection (msg);
  return c->address != NULL && *c->address != '\0' ? c->address : NULL;
}

static gboolean
is_rtp (const GstSDPMedia *m)
{
  const char *proto = gst_sdp_media_get_proto (m);
  return proto != NULL && strstr (proto, "RTP/") != NULL;
}

/* Parses @norm, the output of check_lines(), and checks its structure; NULL
 * with SF_SDP_ERROR_MALFORMED. */
static GstSDPMessage *
parse_checked (const char *norm, GError **error)
{
  g_autoptr (GstSDPMessage) msg = NULL;
  gst_sdp_message_new (&msg);
  if (gst_sdp_message_parse_buffer ((const guint8 *) norm, strlen (norm), msg) != GST_SDP_OK) {
    fail (error, SF_SDP_ERROR_MALFORMED, "SDP parser refused the text");
    return NULL;
  }
  for (guint i = 0; i < gst_sdp_message_medias_len (msg); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (msg, i);
    g_autofree char *media = sample (gst_sdp_media_get_media (m));
    /* RTP formats are payload types (RFC 3551 3: 0..127). */
    for (guint f = 0; is_rtp (m) && f < gst_sdp_media_formats_len (m); f++) {
      guint64 pt;
      if (!parse_uint_str (gst_sdp_media_get_format (m, f), 127, &pt)) {
        g_autofree char *s = sample (gst_sdp_media_get_format (m, f));
        fail (error, SF_SDP_ERROR_MALFORMED, "bad payload type '%s' on m=%s", s, media);
        return NULL;
      }
    }
    /* RFC 4566 5.7: a c= at session level or in every media description. */
    if (gst_sdp_media_get_port (m) != 0 && connection_of (msg, m) == NULL) {
      fail (error, SF_SDP_ERROR_MALFORMED, "c= missing for m=%s", media);
      return NULL;
    }
  }
  return g_steal_pointer (&msg);
}

/* Checks and parses @text (see the file comment); NULL with SF_SDP_ERROR_MALFORMED. */
static GstSDPMessage *
parse_sdp (const char *text, gsize len, GError **error)
{
  g_autofree char *norm = check_lines (text, len, error);
  return norm != NULL ? parse_checked (norm, error) : NULL;
}

/* The first a=rtpmap of @pt in @m. */
static gboolean
find_rtpmap (const GstSDPMedia *m, guint pt, Rtpmap *out)
{
  for (guint i = 0; i < gst_sdp_media_attributes_len (m); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (m, i);
    if (a->key != NULL && strcmp (a->key, "rtpmap") == 0 && a->value != NULL && parse_rtpmap (a->value, out)
        && out->pt == pt)
      return TRUE;
  }
  return FALSE;
}

static gboolean
rtpmap_is (const Rtpmap *r, const CodecDef *d)
{
  return g_ascii_strcasecmp (r->name, d->name) == 0 && r->rate == d->rate
         && (r->channels != 0 ? r->channels : 1) == d->channels;
}

/* What payload type @pt stands for on @m, among the codecs we know; NULL for
 * anything else.  Static types 0 and 8 need no rtpmap (RFC 3551 6). */
static const CodecDef *
codec_of (const GstSDPMedia *m, guint pt)
{
  Rtpmap r;
  if (!find_rtpmap (m, pt, &r)) {
    if (pt == codec_defs[0].pt)
      return &codec_defs[0];
    if (pt == codec_defs[1].pt)
      return &codec_defs[1];
    return NULL;
  }
  for (gsize i = 0; i < G_N_ELEMENTS (codec_defs); i++)
    if (rtpmap_is (&r, &codec_defs[i]))
      return &codec_defs[i];
  return rtpmap_is (&r, &telephone_event) ? &telephone_event : NULL;
}

/* The direction attribute (RFC 4566 6): media level over session level, the
 * first one given; sendrecv when there is none. */
static SfSdpDir
declared_dir (const GstSDPMessage *msg, const GstSDPMedia *m)
{
  for (guint i = 0; i < gst_sdp_media_attributes_len (m); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (m, i);
    for (guint d = 0; a->key != NULL && d < G_N_ELEMENTS (dir_names); d++)
      if (strcmp (a->key, dir_names[d]) == 0)
        return (SfSdpDir) d;
  }
  for (guint i = 0; i < gst_sdp_message_attributes_len (msg); i++) {
    const GstSDPAttribute *a = gst_sdp_message_get_attribute (msg, i);
    for (guint d = 0; a->key != NULL && d < G_N_ELEMENTS (dir_names); d++)
      if (strcmp (a->key, dir_names[d]) == 0)
        return (SfSdpDir) d;
  }
  return SF_SDP_SENDRECV;
}

/* The peer's direction as we must treat it: its attribute, and a connection
 * address 0.0.0.0 (RFC 2543 hold, RFC 3264 8.4) means it receives nothing. */
static SfSdpDir
peer_dir (const GstSDPMessage *msg, const GstSDPMedia *m)
{
  SfSdpDir d = declared_dir (msg, m);
  if (g_strcmp0 (connection_of (msg, m), "0.0.0.0") == 0)
    d = dir_make (dir_sends (d), FALSE);
  return d;
}

/* a=ptime (RFC 4566 6), media level over session level; 20 when absent or unreadable. */
static guint
ptime_of (const GstSDPMessage *msg, const GstSDPMedia *m)
{
  const char *v = gst_sdp_media_get_attribute_val (m, "ptime");
  if (v == NULL)
    v = gst_sdp_message_get_attribute_val (msg, "ptime");
  guint64 ms;
  if (v != NULL) {
    while (g_ascii_isspace (*v))
      v++;
    if (parse_uint_str (v, 1000, &ms) && ms > 0)
      return (guint) ms;
  }
  return 20;
}

/* The peer's stream @m reduced to an SfSdpMedia, we sending with @send and
 * receiving on our port, in direction @dir. */
static void
fill_media (SfSdpMedia *out, SfSdpSession *s, const GstSDPMessage *msg, const GstSDPMedia *m, const Fmt *send,
            int dtmf_pt, SfSdpDir dir)
{
  media_reset (out);
  const char *addr = connection_of (msg, m);
  gsize n = strlen (addr);
  if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']')
    out->remote_addr = g_strndup (addr + 1, n - 2);
  else
    out->remote_addr = g_strdup (addr);
  out->remote_port = gst_sdp_media_get_port (m);
  out->local_port = s->port;
  out->dir = dir;
  out->active = dir != SF_SDP_INACTIVE;
  out->codec.pt = send->pt;
  out->codec.name = g_strdup (send->def->name);
  out->codec.rate = send->def->rate;
  out->codec.channels = send->def->channels;
  out->dtmf_pt = dtmf_pt;
  out->ptime = ptime_of (msg, m);
}

/* The keys of an SRTP stream: @ours sent, @theirs received. */
static void
fill_srtp (SfSdpMedia *out, SfSrtpSuite suite, const guint8 *ours, const guint8 *theirs)
{
  out->srtp = suite;
  memcpy (out->srtp_send_key, ours, SF_SRTP_KEY_LEN);
  memcpy (out->srtp_recv_key, theirs, SF_SRTP_KEY_LEN);
}

/* ---- writing ---- */

static GstSDPMessage *
message_new (SfSdpSession *s)
{
  GstSDPMessage *msg = NULL;
  const char *family = s->ipv6 ? "IP6" : "IP4";
  gst_sdp_message_new (&msg);
  gst_sdp_message_set_version (msg, "0");
  gst_sdp_message_set_session_name (msg, "sipflow");
  gst_sdp_message_set_connection (msg, "IN", family, s->addr, 0, 0);
  gst_sdp_message_add_time (msg, "0", "0", NULL);
  return msg;
}

/* Sets o= with the next version (RFC 3264 5: the version goes up by one with
 * each SDP sent after the first) and writes @msg (transfer full). */
static char *
finish (SfSdpSession *s, GstSDPMessage *msg)
{
  g_autofree char *version = g_strdup_printf ("%" G_GUINT64_FORMAT, s->version++);
  gst_sdp_message_set_origin (msg, "sipflow", s->sess_id, version, "IN", s->ipv6 ? "IP6" : "IP4", s->addr);
  char *text = gst_sdp_message_as_text (msg);
  g_free (s->last_sent);
  s->last_sent = g_strdup (text);
  return text;
}

/* *@slot becomes a copy of @text (nullable), the old text wiped (SDES keys). */
static void
keep_text (char **slot, const char *text)
{
  char *old = *slot;
  *slot = g_strdup (text);
  if (old != NULL)
    memset (old, 0, strlen (old));
  g_free (old);
}

const char *
sf_sdp_session_last_sent (SfSdpSession *s)
{
  /* RFC 3264 8: an offer refused leaves the session as it was: a refresh
   * repeats what the last completed exchange agreed, not that offer; it is
   * our offer now, its answer keeps it in force */
  if (s->in_force == NULL)
    return s->last_sent;
  keep_text (&s->last_offer, s->in_force);
  return s->in_force;
}

/* An audio m= line with @fmts, their rtpmap and fmtp, a=ptime:20 and @dir;
 * RTP/SAVP with @crypto (a=crypto values, NULL-terminated) when given, else
 * RTP/AVP. */
static void
add_audio (GstSDPMessage *msg, guint port, const GArray *fmts, SfSdpDir dir, char **crypto)
{
  GstSDPMedia *m = NULL;
  gst_sdp_media_new (&m);
  gst_sdp_media_set_media (m, "audio");
  gst_sdp_media_set_port_info (m, port, 1);
  gst_sdp_media_set_proto (m, crypto != NULL ? proto_savp : proto_avp);
  for (guint i = 0; crypto != NULL && crypto[i] != NULL; i++)
    gst_sdp_media_add_attribute (m, "crypto", crypto[i]);
  for (guint i = 0; i < fmts->len; i++) {
    const Fmt *f = &g_array_index (fmts, Fmt, i);
    g_autofree char *pt = g_strdup_printf ("%u", f->pt);
    gst_sdp_media_add_format (m, pt);
  }
  for (guint i = 0; i < fmts->len; i++) {
    const Fmt *f = &g_array_index (fmts, Fmt, i);
    g_autofree char *map = f->def->channels > 1
                             ? g_strdup_printf ("%u %s/%u/%u", f->pt, f->def->name, f->def->rate, f->def->channels)
                             : g_strdup_printf ("%u %s/%u", f->pt, f->def->name, f->def->rate);
    gst_sdp_media_add_attribute (m, "rtpmap", map);
    if (f->def->fmtp != NULL) {
      g_autofree char *fmtp = g_strdup_printf ("%u %s", f->pt, f->def->fmtp);
      gst_sdp_media_add_attribute (m, "fmtp", fmtp);
    }
  }
  gst_sdp_media_add_attribute (m, "ptime", "20");
  gst_sdp_media_add_attribute (m, sf_sdp_dir_name (dir), NULL);
  gst_sdp_message_add_media (msg, m);
  gst_sdp_media_free (m);
}

/* RFC 3264 6: a stream we refuse keeps its media, proto and formats, port 0. */
static void
add_refused (GstSDPMessage *msg, const GstSDPMedia *offered)
{
  GstSDPMedia *m = NULL;
  gst_sdp_media_new (&m);
  gst_sdp_media_set_media (m, gst_sdp_media_get_media (offered));
  gst_sdp_media_set_port_info (m, 0, 1);
  gst_sdp_media_set_proto (m, gst_sdp_media_get_proto (offered));
  for (guint i = 0; i < gst_sdp_media_formats_len (offered); i++)
    gst_sdp_media_add_format (m, gst_sdp_media_get_format (offered, i));
  gst_sdp_message_add_media (msg, m);
  gst_sdp_media_free (m);
}

/* ---- the session ---- */

const char *
sf_sdp_codec_name (const char *name)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (codec_defs); i++)
    if (g_ascii_strcasecmp (name, codec_defs[i].name) == 0)
      return codec_defs[i].name;
  return NULL;
}

SfSdpSession *
sf_sdp_session_new (const char *local_addr, guint local_port, const char *const *codecs, GError **error)
{
  g_return_val_if_fail (local_addr != NULL, NULL);
  if (!g_hostname_is_ip_address (local_addr) || strchr (local_addr, '[') != NULL) {
    g_autofree char *s = sample (local_addr);
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "local address '%s' is not an IPv4 or IPv6 literal", s);
    return NULL;
  }
  if (local_port == 0 || local_port > 65535) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "local RTP port %u is not in 1..65535", local_port);
    return NULL;
  }
  g_autoptr (GPtrArray) defs = g_ptr_array_new ();
  for (gsize i = 0; codecs != NULL && codecs[i] != NULL; i++) {
    const CodecDef *d = NULL;
    for (gsize k = 0; k < G_N_ELEMENTS (codec_defs); k++)
      if (g_ascii_strcasecmp (codecs[i], codec_defs[k].name) == 0)
        d = &codec_defs[k];
    if (d == NULL) {
      g_autofree char *s = sample (codecs[i]);
      fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "unknown codec '%s' (PCMU, PCMA or opus)", s);
      return NULL;
    }
    if (!g_ptr_array_find (defs, d, NULL))
      g_ptr_array_add (defs, (gpointer) d);
  }
  if (defs->len == 0) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "no codec to offer");
    return NULL;
  }
  SfSdpSession *s = g_new0 (SfSdpSession, 1);
  s->addr = g_strdup (local_addr);
  s->ipv6 = strchr (local_addr, ':') != NULL;
  s->port = local_port;
  /* RFC 4566 5.2: a numeric session id; 63 bits so it fits a signed 64-bit reader. */
  guint64 id = sf_sip_random_u64 () & G_MAXINT64; /* not GLib's generator: its outputs would reveal our tags' */
  s->sess_id = g_strdup_printf ("%" G_GUINT64_FORMAT, id != 0 ? id : 1);
  s->version = 1;
  s->codecs = g_steal_pointer (&defs);
  s->remote_dir = SF_SDP_SENDRECV;
  return s;
}

void
sf_sdp_session_free (SfSdpSession *s)
{
  if (s == NULL)
    return;
  g_free (s->addr);
  g_free (s->sess_id);
  if (s->last_sent != NULL)
    memset (s->last_sent, 0, strlen (s->last_sent)); /* it may hold SDES keys, as crypto does */
  g_free (s->last_sent);
  keep_text (&s->last_offer, NULL);
  keep_text (&s->in_force, NULL);
  g_ptr_array_unref (s->codecs);
  g_clear_pointer (&s->offered, g_array_unref);
  memset (s->crypto, 0, sizeof s->crypto);
  g_free (s);
}

SfSdpDir
sf_sdp_session_remote_dir (SfSdpSession *s)
{
  g_return_val_if_fail (s != NULL, SF_SDP_SENDRECV);
  return s->remote_dir;
}

void
sf_sdp_session_set_srtp (SfSdpSession *s, SfSdpSrtpMode mode)
{
  g_return_if_fail (s != NULL);
  s->srtp = mode;
  s->srtp_plain = FALSE;
}

gboolean
sf_sdp_session_srtp_fall_back (SfSdpSession *s)
{
  g_return_val_if_fail (s != NULL, FALSE);
  if (s->srtp != SF_SDP_SRTP_OFFER || s->n_crypto == 0)
    return FALSE;
  s->srtp_plain = TRUE;
  return TRUE;
}

gboolean
sf_sdp_session_offered_srtp (SfSdpSession *s)
{
  g_return_val_if_fail (s != NULL, FALSE);
  return s->n_crypto > 0;
}

/* The a=crypto values of a new offer (transfer full; NULL: RTP/AVP): both
 * suites, _80 first (the stronger tag), each with its own new key, kept in
 * @s for the answer. */
static char **
offer_crypto (SfSdpSession *s)
{
  memset (s->crypto, 0, sizeof s->crypto);
  s->n_crypto = 0;
  if (s->srtp == SF_SDP_SRTP_OFF || (s->srtp == SF_SDP_SRTP_OFFER && s->srtp_plain))
    return NULL;
  static const SfSrtpSuite suites[] = { SF_SRTP_AES_CM_128_HMAC_SHA1_80, SF_SRTP_AES_CM_128_HMAC_SHA1_32 };
  char **out = g_new0 (char *, G_N_ELEMENTS (suites) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (suites); i++) {
    SfSrtpCrypto *c = &s->crypto[i];
    c->tag = i + 1;
    c->suite = suites[i];
    sf_srtp_random_key (c->key);
    out[i] = sf_srtp_crypto_format (c->tag, c->suite, c->key);
  }
  s->n_crypto = G_N_ELEMENTS (suites);
  return out;
}

/* Frees a=crypto values, wiping the keys in them. */
static void
crypto_lines_free (char **lines)
{
  for (guint i = 0; lines != NULL && lines[i] != NULL; i++)
    memset (lines[i], 0, strlen (lines[i]));
  g_strfreev (lines);
}

char *
sf_sdp_session_offer (SfSdpSession *s, SfSdpDir dir)
{
  g_return_val_if_fail (s != NULL, NULL);
  GArray *fmts = g_array_new (FALSE, FALSE, sizeof (Fmt));
  for (guint i = 0; i < s->codecs->len; i++) {
    const CodecDef *d = s->codecs->pdata[i];
    Fmt f = { d, d->pt };
    g_array_append_val (fmts, f);
  }
  Fmt te = { &telephone_event, telephone_event.pt };
  g_array_append_val (fmts, te);
  g_autoptr (GstSDPMessage) msg = message_new (s);
  char **crypto = offer_crypto (s);
  add_audio (msg, s->port, fmts, dir, crypto);
  crypto_lines_free (crypto);
  g_clear_pointer (&s->offered, g_array_unref);
  s->offered = fmts;
  s->offered_dir = dir;
  char *text = finish (s, msg);
  keep_text (&s->last_offer, text);
  return text;
}

static gboolean
session_supports (SfSdpSession *s, const CodecDef *d)
{
  return g_ptr_array_find (s->codecs, d, NULL);
}

/* The first a=crypto line of @m we can use whose tag and suite are among
 * @want (NULL: any); its reason in @why (may be NULL) when there is none.
 * Lines past SF_SRTP_MAX_CRYPTO are not read. */
static gboolean
usable_crypto (const GstSDPMedia *m, const SfSrtpCrypto *want, guint n_want, SfSrtpCrypto *out, char **why)
{
  g_autofree char *first = NULL;
  guint seen = 0;
  for (guint i = 0; i < gst_sdp_media_attributes_len (m) && seen < SF_SRTP_MAX_CRYPTO; i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (m, i);
    if (a->key == NULL || strcmp (a->key, "crypto") != 0)
      continue;
    seen++;
    g_autofree char *reason = NULL;
    SfSrtpCrypto c;
    if (sf_srtp_crypto_parse (a->value, &c, &reason) != SF_SRTP_CRYPTO_OK) {
      g_debug ("SDP: a=crypto passed over: %s", reason);
      if (first == NULL)
        first = g_steal_pointer (&reason);
      continue;
    }
    gboolean match = want == NULL;
    for (guint k = 0; k < n_want && !match; k++)
      match = want[k].tag == c.tag && want[k].suite == c.suite;
    if (match) {
      *out = c;
      memset (&c, 0, sizeof c);
      return TRUE;
    }
    if (first == NULL)
      first = g_strdup_printf ("tag %u %s was not offered", c.tag, sf_srtp_suite_name (c.suite));
    memset (&c, 0, sizeof c);
  }
  if (why != NULL)
    *why = seen == 0 ? g_strdup ("no a=crypto") : g_strdup_printf ("no usable a=crypto (%s)", first);
  return FALSE;
}

/* Whether we take a stream with @proto under our policy; the suite and the
 * peer's key in @crypto (suite NONE for RTP/AVP), or FALSE with @why. */
static gboolean
answer_proto (SfSdpSession *s, const GstSDPMedia *m, SfSrtpCrypto *crypto, char **why)
{
  const char *proto = gst_sdp_media_get_proto (m);
  memset (crypto, 0, sizeof *crypto);
  if (g_ascii_strcasecmp (proto, proto_avp) == 0) {
    if (s->srtp != SF_SDP_SRTP_REQUIRE)
      return TRUE;
    *why = g_strdup ("m=audio RTP/AVP offered, media.srtp = require takes RTP/SAVP only");
    return FALSE;
  }
  if (g_ascii_strcasecmp (proto, proto_savp) == 0) {
    g_autofree char *reason = NULL;
    if (s->srtp == SF_SDP_SRTP_OFF)
      *why = g_strdup ("m=audio RTP/SAVP offered, media.srtp = off");
    else if (!usable_crypto (m, NULL, 0, crypto, &reason))
      *why = g_strdup_printf ("m=audio RTP/SAVP with %s", reason);
    return *why == NULL;
  }
  g_autofree char *p = sample (proto);
  *why = g_strdup_printf ("m=audio with proto %s (we take %s)", p,
                          s->srtp == SF_SDP_SRTP_OFF      ? "RTP/AVP"
                          : s->srtp == SF_SDP_SRTP_OFFER ? "RTP/AVP or RTP/SAVP"
                                                         : "RTP/SAVP");
  return FALSE;
}

/* The formats we answer @m with (RFC 3264 6.1: those of the offer we support,
 * in its order, with its payload types, telephone-event last), or NULL with
 * the reason in @why; the SRTP suite and key the peer offered in @crypto. */
static GArray *
answer_formats (SfSdpSession *s, const GstSDPMedia *m, SfSrtpCrypto *crypto, char **why)
{
  g_autofree char *media = sample (gst_sdp_media_get_media (m));
  if (strcmp (gst_sdp_media_get_media (m), "audio") != 0) {
    *why = g_strdup_printf ("m=%s is not audio", media);
    return NULL;
  }
  if (!answer_proto (s, m, crypto, why))
    return NULL;
  g_autoptr (GArray) fmts = g_array_new (FALSE, FALSE, sizeof (Fmt));
  Fmt te = { NULL, 0 };
  gboolean seen[128] = { FALSE };  /* payload types already taken */
  for (guint i = 0; i < gst_sdp_media_formats_len (m); i++) {
    guint64 pt;
    if (!parse_uint_str (gst_sdp_media_get_format (m, i), 127, &pt) || seen[pt])
      continue;
    seen[pt] = TRUE;
    const CodecDef *d = codec_of (m, (guint) pt);
    if (d == &telephone_event && te.def == NULL)
      te = (Fmt) { d, (guint) pt };
    else if (d != NULL && d != &telephone_event && session_supports (s, d))
      g_array_append_val (fmts, ((Fmt) { d, (guint) pt }));
  }
  if (fmts->len == 0) {
    GString *ours = g_string_new (NULL);
    for (guint i = 0; i < s->codecs->len; i++)
      g_string_append_printf (ours, "%s%s", i > 0 ? "," : "", ((const CodecDef *) s->codecs->pdata[i])->name);
    *why = g_strdup_printf ("no common codec on m=audio (we take %s)", ours->str);
    g_string_free (ours, TRUE);
    memset (crypto, 0, sizeof *crypto);
    return NULL;
  }
  if (te.def != NULL)
    g_array_append_val (fmts, te);
  return g_steal_pointer (&fmts);
}

char *
sf_sdp_session_answer (SfSdpSession *s, const char *offer, gsize len, SfSdpDir dir, SfSdpMedia *out, GError **error)
{
  g_return_val_if_fail (s != NULL, NULL);
  g_return_val_if_fail (offer != NULL || len == 0, NULL);
  if (out != NULL)
    media_reset (out);
  g_autoptr (GError) local = NULL;
  g_autoptr (GstSDPMessage) msg = parse_sdp (offer != NULL ? offer : "", len, &local);
  if (msg == NULL) {
    g_debug ("SDP offer refused: %s", local->message);
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  g_autoptr (GstSDPMessage) ans = message_new (s);
  g_autofree char *why = NULL;
  gboolean accepted = FALSE, any_active = FALSE;
  SfSdpDir remote = SF_SDP_INACTIVE;
  g_auto (SfSdpMedia) neg = { 0 };
  media_reset (&neg);
  gboolean plain = FALSE;
  /* RFC 3264 6: one m= line in the answer for each in the offer, in order; we
   * take the first audio stream we can and refuse the others. */
  for (guint i = 0; i < gst_sdp_message_medias_len (msg); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (msg, i);
    g_autoptr (GArray) fmts = NULL;
    SfSrtpCrypto theirs = { 0 };
    if (gst_sdp_media_get_port (m) != 0) {
      any_active = TRUE;
      g_autofree char *reason = NULL;
      if (!accepted)
        fmts = answer_formats (s, m, &theirs, &reason);
      if (why == NULL && reason != NULL)
        why = g_steal_pointer (&reason);
    }
    if (fmts == NULL) {
      add_refused (ans, m);
      continue;
    }
    accepted = TRUE;
    remote = peer_dir (msg, m);
    SfSdpDir ours = dir_ours (remote, dir);
    const Fmt *last = &g_array_index (fmts, Fmt, fmts->len - 1);
    fill_media (&neg, s, msg, m, &g_array_index (fmts, Fmt, 0), last->def == &telephone_event ? (int) last->pt : -1,
                ours);
    char **crypto = NULL;
    if (theirs.suite != SF_SRTP_NONE) {
      /* RFC 4568 7.1.2: the answer's one a=crypto has the tag and suite we
       * chose, with our own key. */
      guint8 key[SF_SRTP_KEY_LEN];
      sf_srtp_random_key (key);
      crypto = g_new0 (char *, 2);
      crypto[0] = sf_srtp_crypto_format (theirs.tag, theirs.suite, key);
      fill_srtp (&neg, theirs.suite, key, theirs.key);
      memset (key, 0, sizeof key);
      memset (&theirs, 0, sizeof theirs);
    } else {
      plain = TRUE;
    }
    add_audio (ans, s->port, fmts, ours, crypto);
    crypto_lines_free (crypto);
  }
  if (!accepted && any_active) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "no stream we can take: %s", why);
    g_debug ("SDP offer refused: %s", why);
    return NULL;
  }
  s->remote_dir = remote;
  if (accepted && s->srtp == SF_SDP_SRTP_OFFER)
    s->srtp_plain = plain; /* our offers follow what the peer's last offer set up */
  if (out != NULL) {
    *out = neg;
    media_reset (&neg);
  }
  char *text = finish (s, ans);
  keep_text (&s->in_force, text); /* our answer: the exchange is complete */
  return text;
}

static const Fmt *
offered_fmt (SfSdpSession *s, guint pt)
{
  for (guint i = 0; i < s->offered->len; i++)
    if (g_array_index (s->offered, Fmt, i).pt == pt)
      return &g_array_index (s->offered, Fmt, i);
  return NULL;
}

/* RFC 3264 6 and 7: the answer against our offer; fills @out. */
static gboolean
check_answer (SfSdpSession *s, const GstSDPMessage *msg, SfSdpMedia *out, GError **error)
{
  guint n = gst_sdp_message_medias_len (msg);
  if (n != 1) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "the answer has %u m= lines, our offer had 1", n);
    return FALSE;
  }
  const GstSDPMedia *m = gst_sdp_message_get_media (msg, 0);
  if (strcmp (gst_sdp_media_get_media (m), "audio") != 0) {
    g_autofree char *media = sample (gst_sdp_media_get_media (m));
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "the answer has m=%s for our m=audio", media);
    return FALSE;
  }
  if (gst_sdp_media_get_port (m) == 0) {
    /* The peer refused the stream: a valid answer, without media. */
    s->remote_dir = SF_SDP_INACTIVE;
    return TRUE;
  }
  /* RFC 3264 6: the answer's proto is the offer's. */
  const char *offered_proto = s->n_crypto > 0 ? proto_savp : proto_avp;
  if (g_ascii_strcasecmp (gst_sdp_media_get_proto (m), offered_proto) != 0) {
    g_autofree char *proto = sample (gst_sdp_media_get_proto (m));
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "the answer has proto %s, our offer %s", proto, offered_proto);
    return FALSE;
  }
  SfSrtpCrypto theirs = { 0 };
  g_autofree char *crypto_why = NULL;
  if (s->n_crypto > 0 && !usable_crypto (m, s->crypto, s->n_crypto, &theirs, &crypto_why)) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "the RTP/SAVP answer to our offer has %s", crypto_why);
    return FALSE;
  }
  /* RFC 3264 6.1: the answer MUST hold at least one format of the offer and MAY
   * list others (the answerer willing to receive them; nobody can send them yet):
   * those, and a type we offered mapped to another codec, are passed over.  Only
   * an answer left with no audio codec we offered is refused. */
  const Fmt *send = NULL;
  int dtmf_pt = -1;
  GString *others = g_string_new (NULL);
  guint n_others = 0;
  for (guint i = 0; i < gst_sdp_media_formats_len (m); i++) {
    guint64 pt = 0;
    parse_uint_str (gst_sdp_media_get_format (m, i), 127, &pt); /* checked by parse_sdp */
    const Fmt *f = offered_fmt (s, (guint) pt);
    Rtpmap r;
    gboolean mapped = find_rtpmap (m, (guint) pt, &r);
    if (f == NULL || (mapped && !rtpmap_is (&r, f->def))) {
      if (n_others++ < 4) {
        g_autofree char *name = mapped ? sample (r.name) : NULL;
        g_string_append_printf (others, "%s%u%s%s", others->len > 0 ? ", " : "", (guint) pt, mapped ? " " : "",
                                mapped ? name : "");
      } else if (n_others == 5) {
        g_string_append (others, ", ...");
      }
      continue;
    }
    if (f->def == &telephone_event) {
      if (dtmf_pt < 0)
        dtmf_pt = (int) f->pt;
    } else if (send == NULL) {
      send = f; /* RFC 3264 7: SHOULD send with the first format of the answer */
    }
  }
  if (send == NULL) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "the answer has no audio codec we offered%s%s%s",
          others->len > 0 ? " (it lists " : "", others->str, others->len > 0 ? ")" : "");
    g_string_free (others, TRUE);
    return FALSE;
  }
  if (n_others > 0)
    g_debug ("SDP answer: formats we did not offer passed over: %s", others->str);
  g_string_free (others, TRUE);
  s->remote_dir = peer_dir (msg, m);
  fill_media (out, s, msg, m, send, dtmf_pt, dir_ours (s->remote_dir, s->offered_dir));
  for (guint k = 0; k < s->n_crypto; k++)
    if (s->crypto[k].tag == theirs.tag && theirs.suite != SF_SRTP_NONE)
      fill_srtp (out, theirs.suite, s->crypto[k].key, theirs.key);
  memset (&theirs, 0, sizeof theirs);
  return TRUE;
}

gboolean
sf_sdp_session_take_answer (SfSdpSession *s, const char *answer, gsize len, SfSdpMedia *out, GError **error)
{
  g_return_val_if_fail (s != NULL, FALSE);
  g_return_val_if_fail (answer != NULL || len == 0, FALSE);
  if (out != NULL)
    media_reset (out);
  if (s->offered == NULL) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE, "an answer, but we made no offer");
    return FALSE;
  }
  g_autoptr (GError) local = NULL;
  g_autoptr (GstSDPMessage) msg = parse_sdp (answer != NULL ? answer : "", len, &local);
  g_auto (SfSdpMedia) neg = { 0 };
  media_reset (&neg);
  if (msg == NULL || !check_answer (s, msg, &neg, &local)) {
    g_debug ("SDP answer refused: %s", local->message);
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (out != NULL) {
    *out = neg;
    media_reset (&neg);
  }
  keep_text (&s->in_force, s->last_offer); /* our offer answered: in force */
  return TRUE;
}

/* ---- a B2BUA's SDP (sf-sdp.h) ---- */

void
sf_sdp_bridge_side_init (SfSdpBridgeSide *side, const char *addr, const char *relay_addr, guint relay_port)
{
  g_return_if_fail (side != NULL && addr != NULL);
  memset (side, 0, sizeof *side);
  side->addr = g_strdup (addr);
  if (relay_addr != NULL && relay_port != 0) {
    side->relay_addr = g_strdup (relay_addr);
    side->relay_port = relay_port;
  }
}

void
sf_sdp_bridge_side_clear (SfSdpBridgeSide *side)
{
  if (side == NULL)
    return;
  g_free (side->addr);
  g_free (side->relay_addr);
  g_free (side->sess_id);
  keep_text (&side->last, NULL); /* it may hold SDES keys (pass-through) */
  memset (side, 0, sizeof *side);
}

void
sf_sdp_peer_clear (SfSdpPeer *p)
{
  if (p == NULL)
    return;
  g_free (p->addr);
  memset (p, 0, sizeof *p);
  p->dtmf_pt = -1;
}

/* RFC 3264 8.4 (and RFC 2543 before it): a connection address of zeros puts
 * the stream on hold; the address means nothing then. */
static gboolean
hold_addr (const char *a)
{
  return strcmp (a, "0.0.0.0") == 0 || strcmp (a, "::") == 0 || strcmp (a, "[::]") == 0;
}

/* The attributes an anchored SDP drops: ICE's (RFC 8839 5) would have the
 * peers find a path around the relay; RFC 3605's a=rtcp names the author's
 * RTCP port and RFC 5761's a=rtcp-mux RTP and RTCP on one port, while the
 * relay offers RTCP on its port + 1 only. */
static gboolean
anchor_drops (const char *value)
{
  gsize n = strcspn (value, ":");
  static const char *const names[] = { "rtcp", "rtcp-mux", "candidate", "remote-candidates", "end-of-candidates" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (strlen (names[i]) == n && strncmp (value, names[i], n) == 0)
      return TRUE;
  return g_str_has_prefix (value, "ice-");
}

/* Any a=crypto line, at session or media level. */
static gboolean
has_crypto (const GstSDPMessage *msg)
{
  if (gst_sdp_message_get_attribute_val (msg, "crypto") != NULL)
    return TRUE;
  for (guint i = 0; i < gst_sdp_message_medias_len (msg); i++)
    if (gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (msg, i), "crypto") != NULL)
      return TRUE;
  return FALSE;
}

char *
sf_sdp_bridge_rewrite (const char *sdp, gsize len, SfSdpBridgeSide *side, SfSdpPeer *peer, GError **error)
{
  g_return_val_if_fail (side != NULL && side->addr != NULL, NULL);
  g_return_val_if_fail (sdp != NULL || len == 0, NULL);
  if (peer != NULL) {
    memset (peer, 0, sizeof *peer);
    peer->dtmf_pt = -1;
  }
  g_autofree char *norm = check_lines (sdp != NULL ? sdp : "", len, error);
  if (norm == NULL)
    return NULL;
  g_autoptr (GstSDPMessage) msg = parse_checked (norm, error);
  if (msg == NULL)
    return NULL;

  /* RFC 4568 8: SDES keys travel only over signalling that keeps them
   * secret.  Toward a side that may not have them, an SRTP stream keyed in
   * the SDP cannot run (its keys are the stream's), so it is refused (port
   * 0) rather than sent keyless; an RTP/AVP stream that also carries keys
   * (best-effort SRTP) runs in the clear. */
  gboolean keyless[SF_SDP_MAX_MEDIA] = { FALSE }; /* parse_checked: at most SF_SDP_MAX_MEDIA */
  gboolean had_audio = FALSE, has_audio = FALSE;
  for (guint i = 0; i < gst_sdp_message_medias_len (msg) && i < SF_SDP_MAX_MEDIA; i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (msg, i);
    gboolean audio = strcmp (gst_sdp_media_get_media (m), "audio") == 0 && gst_sdp_media_get_port (m) != 0;
    keyless[i] = !side->crypto_ok && strstr (gst_sdp_media_get_proto (m), "SAVP") != NULL
                 && gst_sdp_media_get_attribute_val (m, "crypto") != NULL;
    had_audio |= audio;
    has_audio |= audio && !keyless[i];
  }
  if (had_audio && !has_audio) {
    fail (error, SF_SDP_ERROR_NOT_ACCEPTABLE,
          "its SRTP audio is keyed by a=crypto, and SDES keys do not go to a leg whose signalling is not TLS "
          "(RFC 4568 8; media.srtp_insecure_signalling)");
    return NULL;
  }

  /* The stream relayed: the first audio m= line not refused. */
  int relayed = -1;
  for (guint i = 0; i < gst_sdp_message_medias_len (msg) && relayed < 0; i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (msg, i);
    if (strcmp (gst_sdp_media_get_media (m), "audio") == 0 && gst_sdp_media_get_port (m) != 0 && !keyless[i])
      relayed = (int) i;
  }
  if (peer != NULL) {
    peer->crypto = has_crypto (msg);
    if (relayed >= 0) {
      const GstSDPMedia *m = gst_sdp_message_get_media (msg, relayed);
      const char *addr = connection_of (msg, m); /* parse_checked: one for every active m= */
      gsize n = strlen (addr);
      peer->hold = hold_addr (addr);
      peer->addr = n >= 2 && addr[0] == '[' && addr[n - 1] == ']' ? g_strndup (addr + 1, n - 2) : g_strdup (addr);
      peer->port = gst_sdp_media_get_port (m);
      for (guint f = 0; f < gst_sdp_media_formats_len (m) && peer->dtmf_pt < 0; f++) {
        guint64 pt;
        Rtpmap r;
        if (parse_uint_str (gst_sdp_media_get_format (m, f), 127, &pt) && find_rtpmap (m, (guint) pt, &r)
            && g_ascii_strcasecmp (r.name, "telephone-event") == 0)
          peer->dtmf_pt = (int) pt;
      }
    }
  }

  gboolean anchor = side->relay_port != 0 && side->relay_addr != NULL;
  const char *relay_family = anchor && strchr (side->relay_addr, ':') != NULL ? "IP6" : "IP4";
  g_auto (GStrv) lines = g_strsplit (norm, "\r\n", -1);
  GString *out = g_string_sized_new (strlen (norm) + 64);
  gssize o_at = -1; /* where our o= line goes */
  int media = -1;
  g_autofree char *origin = NULL;
  for (guint i = 0; lines[i] != NULL; i++) {
    const char *line = lines[i];
    if (*line == '\0')
      continue; /* the end of the last line */
    const char *value = line + 2;
    switch (line[0]) {
    case 'o':
      if (o_at >= 0) {
        fail (error, SF_SDP_ERROR_MALFORMED, "more than one o= line");
        goto bad;
      }
      o_at = (gssize) out->len;
      continue;
    case 'm':
      media++;
      if (anchor || (media < SF_SDP_MAX_MEDIA && keyless[media])) {
        /* m=<media> <port>[/<n>] <proto> <fmt>...: only the port changes (check_m_line read it). */
        g_auto (GStrv) t = split_blanks (value);
        if (anchor)
          g_string_append_printf (out, "m=%s %u", t[0], media == relayed ? side->relay_port : 0u);
        else
          g_string_append_printf (out, "m=%s 0", t[0]);
        for (guint k = 2; t[k] != NULL; k++)
          g_string_append_printf (out, " %s", t[k]);
        g_string_append (out, "\r\n");
        continue;
      }
      break;
    case 'c':
      if (anchor) {
        g_auto (GStrv) t = split_blanks (value); /* check_c_line: IN IP4|IP6 ADDR[/...] */
        g_autofree char *addr = g_strndup (t[2], strcspn (t[2], "/"));
        if (!hold_addr (addr)) {
          g_string_append_printf (out, "c=IN %s %s\r\n", relay_family, side->relay_addr);
          continue;
        }
      }
      break;
    case 'a':
      if (anchor && anchor_drops (value))
        continue;
      if (!side->crypto_ok && g_str_has_prefix (value, "crypto:"))
        continue;
      break;
    default:
      break;
    }
    g_string_append (out, line);
    g_string_append (out, "\r\n");
  }
  if (o_at < 0) {
    fail (error, SF_SDP_ERROR_MALFORMED, "no o= line");
    goto bad;
  }
  /* RFC 3264 8: a new version only for a different SDP; the text compared
   * leaves o= out, which is ours and fixed but for the version. */
  if (side->sess_id == NULL) {
    guint64 id = sf_sip_random_u64 () & G_MAXINT64; /* RFC 3264 5: fits a signed 64-bit reader */
    side->sess_id = g_strdup_printf ("%" G_GUINT64_FORMAT, id != 0 ? id : 1);
  }
  guint64 version = side->version;
  if (side->last == NULL || strcmp (side->last, out->str) != 0)
    version++;
  origin = g_strdup_printf ("o=sipflow %s %" G_GUINT64_FORMAT " IN %s %s\r\n", side->sess_id, version,
                                             strchr (side->addr, ':') != NULL ? "IP6" : "IP4", side->addr);
  if (out->len + strlen (origin) > SF_SDP_MAX_BYTES) {
    fail (error, SF_SDP_ERROR_MALFORMED, "SDP rewritten to more than %d bytes", SF_SDP_MAX_BYTES);
    goto bad;
  }
  keep_text (&side->last, out->str);
  side->version = version;
  g_string_insert (out, o_at, origin);
  return g_string_free (out, FALSE);
bad:
  if (peer != NULL) {
    sf_sdp_peer_clear (peer);
    peer->dtmf_pt = -1;
  }
  memset (out->str, 0, out->len);
  g_string_free (out, TRUE);
  return NULL;
}
