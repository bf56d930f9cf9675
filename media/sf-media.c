/* sf-media.c: the media interface, the [media] section, the RTP port pool
 * (ports bound from the offer on, for a real backend), media events and the
 * null backend (see sf-media.h). */
#include "config.h"
#include "sf-media.h"
#include "media/sf-media-gst.h"
#include "framework/sf-json.h"
#include <gio/gio.h>
#include <string.h>

G_DEFINE_QUARK (sf-media-error-quark, sf_media_error)

#define SF_MEDIA_MAX_DIGITS 64

static const SfConfigKey media_keys[] = {
  { "backend", SF_CFG_ENUM, "gstreamer", 0, 0, "gstreamer|null",
    "what carries the audio: gstreamer (RTP) or null (nothing sent, for tests)" },
  { "source", SF_CFG_STRING, "tone:1000", 0, 0, NULL, "what we send: tone:HZ (1..20000), file:PATH.wav or silence" },
  { "sink", SF_CFG_STRING, "none", 0, 0, NULL, "what we do with the audio received: file:PATH.wav ({call} in PATH: the call's handle, one file per call), none or sound" },
  { "rtp_ports", SF_CFG_STRING, "40000-40999", 0, 0, NULL,
    "RTP ports LOW-HIGH (1024..65535, LOW even; RTCP uses port + 1)" },
  { "codecs", SF_CFG_LIST, "PCMU,PCMA,opus", 0, 0, NULL, "codecs offered, most preferred first: PCMU, PCMA, opus" },
  { "srtp", SF_CFG_ENUM, "off", 0, 0, "off|offer|require",
    "SRTP keyed in SDP (RFC 4568): off (RTP/AVP), offer (RTP/SAVP offered, RTP/AVP taken too) or require (RTP/SAVP "
    "only, 488 otherwise)" },
  { "srtp_insecure_signalling", SF_CFG_BOOL, "false", 0, 0, NULL,
    "true: SRTP keys go in SDP over signalling that is not TLS too, readable by anyone on the path (RFC 4568 8)" },
};

struct _SfMedia {
  const SfMediaBackend *backend;  /* unowned */
  char **codecs;                  /* owned, our spelling */
  SfMediaSourceKind source;
  guint tone_hz;
  char *source_path;              /* owned, nullable */
  SfMediaSinkKind sink;
  char *sink_path;                /* owned, nullable */
  guint port_low;                 /* even */
  guint n_ports;                  /* RTP ports port_low, port_low + 2, ... */
  guint8 *used;                   /* owned: n_ports flags */
  guint in_use;
  guint cursor;                   /* next index tried */
  GPtrArray *streams;             /* owned array of unowned SfMediaStream (freed by sf_media_stop) */
  GHashTable *reserved;           /* owned: port -> owned Reservation */
  SfMediaEventFunc event_func;
  gpointer event_data;            /* unowned */
  SfSdpSrtpMode srtp;
  gboolean srtp_insecure;
  guint null_relays;              /* the null backend's relays running */
  guint null_relay_updates;
};

/* The sockets holding an allocated port pair (real backends only). */
typedef struct {
  GSocket *sock[2];               /* owned: RTP, RTCP */
} Reservation;

static void reservation_free (gpointer p);

struct _SfMediaStream {
  SfMedia *media;                 /* unowned */
  gpointer impl;                  /* the backend's, until stop() */
  char *call;                     /* owned */
};

gboolean
sf_media_declare_config (SfConfig *cfg, GError **error)
{
  return sf_config_declare (cfg, "media", media_keys, G_N_ELEMENTS (media_keys), error);
}

/* The configuration's error form: "SOURCE: media.KEY: expected WHAT, got 'VALUE'". */
static gboolean
bad_value (SfConfig *cfg, const char *key, const char *want, GError **error)
{
  g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: media.%s: expected %s, got '%s'",
               sf_config_get_source (cfg, "media", key), key, want, sf_config_get_string (cfg, "media", key));
  return FALSE;
}

static gboolean
parse_uint (const char *s, guint min, guint max, guint *out)
{
  if (*s == '\0' || strlen (s) > 10)
    return FALSE;
  guint64 v = 0;
  for (const char *p = s; *p != '\0'; p++) {
    if (!g_ascii_isdigit (*p))
      return FALSE;
    v = v * 10 + (guint64) (*p - '0');
  }
  if (v < min || v > max)
    return FALSE;
  *out = (guint) v;
  return TRUE;
}

/* "file:PATH.wav": the path (transfer full), or NULL. */
static char *
wav_path (const char *value)
{
  if (!g_str_has_prefix (value, "file:"))
    return NULL;
  const char *path = value + 5;
  gsize n = strlen (path);
  if (n <= 4 || g_ascii_strcasecmp (path + n - 4, ".wav") != 0)
    return NULL;
  return g_strdup (path);
}

static gboolean
read_source (SfMedia *m, SfConfig *cfg, GError **error)
{
  const char *v = sf_config_get_string (cfg, "media", "source");
  if (g_strcmp0 (v, "silence") == 0) {
    m->source = SF_MEDIA_SOURCE_SILENCE;
    return TRUE;
  }
  if (v != NULL && g_str_has_prefix (v, "tone:") && parse_uint (v + 5, 1, 20000, &m->tone_hz)) {
    m->source = SF_MEDIA_SOURCE_TONE;
    return TRUE;
  }
  if (v != NULL && (m->source_path = wav_path (v)) != NULL) {
    m->source = SF_MEDIA_SOURCE_FILE;
    return TRUE;
  }
  return bad_value (cfg, "source", "tone:HZ with HZ from 1 to 20000, file:PATH.wav or silence", error);
}

static gboolean
read_sink (SfMedia *m, SfConfig *cfg, GError **error)
{
  const char *v = sf_config_get_string (cfg, "media", "sink");
  if (g_strcmp0 (v, "none") == 0) {
    m->sink = SF_MEDIA_SINK_NONE;
    return TRUE;
  }
  if (g_strcmp0 (v, "sound") == 0) {
    m->sink = SF_MEDIA_SINK_SOUND;
    return TRUE;
  }
  if (v != NULL && (m->sink_path = wav_path (v)) != NULL) {
    m->sink = SF_MEDIA_SINK_FILE;
    return TRUE;
  }
  return bad_value (cfg, "sink", "file:PATH.wav, none or sound", error);
}

static gboolean
read_ports (SfMedia *m, SfConfig *cfg, GError **error)
{
  const char *v = sf_config_get_string (cfg, "media", "rtp_ports");
  const char *dash = v != NULL ? strchr (v, '-') : NULL;
  guint low, high;
  if (dash == NULL)
    return bad_value (cfg, "rtp_ports", "LOW-HIGH with 1024 <= LOW < HIGH <= 65535 and LOW even", error);
  g_autofree char *lo = g_strndup (v, dash - v);
  if (!parse_uint (lo, 1024, 65535, &low) || !parse_uint (dash + 1, 1024, 65535, &high) || low % 2 != 0
      || low >= high)
    return bad_value (cfg, "rtp_ports", "LOW-HIGH with 1024 <= LOW < HIGH <= 65535 and LOW even", error);
  m->port_low = low;
  /* RTP on an even port P, RTCP on P + 1 (RFC 3550 11), both in the range. */
  m->n_ports = (high - 1 - low) / 2 + 1;
  m->used = g_new0 (guint8, m->n_ports);
  return TRUE;
}

static gboolean
read_codecs (SfMedia *m, SfConfig *cfg, GError **error)
{
  static const char want[] = "a list of PCMU, PCMA and opus, each at most once";
  const char *const *list = sf_config_get_list (cfg, "media", "codecs");
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; list != NULL && list[i] != NULL; i++) {
    const char *name = sf_sdp_codec_name (list[i]);
    gboolean twice = FALSE;
    for (guint k = 0; name != NULL && k < out->len; k++)
      twice |= strcmp (out->pdata[k], name) == 0;
    if (name == NULL || twice) {
      g_ptr_array_unref (out);
      return bad_value (cfg, "codecs", want, error);
    }
    g_ptr_array_add (out, g_strdup (name));
  }
  if (out->len == 0) {
    g_ptr_array_unref (out);
    return bad_value (cfg, "codecs", want, error);
  }
  g_ptr_array_add (out, NULL);
  m->codecs = (char **) g_ptr_array_free (out, FALSE);
  return TRUE;
}

SfMedia *
sf_media_new (SfConfig *cfg, const SfMediaBackend *backend, GError **error)
{
  g_return_val_if_fail (cfg != NULL, NULL);
  if (backend == NULL)
    backend = g_strcmp0 (sf_config_get_string (cfg, "media", "backend"), "null") == 0 ? sf_media_null_backend ()
                                                                                     : sf_media_gst_backend ();
  g_return_val_if_fail (backend->start != NULL && backend->update != NULL && backend->dtmf != NULL
                          && backend->stats != NULL && backend->stop != NULL,
                        NULL);
  g_autoptr (SfMedia) m = g_new0 (SfMedia, 1);
  m->backend = backend;
  m->streams = g_ptr_array_new ();
  m->reserved = g_hash_table_new_full (NULL, NULL, NULL, reservation_free);
  if (!read_source (m, cfg, error) || !read_sink (m, cfg, error) || !read_ports (m, cfg, error)
      || !read_codecs (m, cfg, error))
    return NULL;
  const char *srtp = sf_config_get_string (cfg, "media", "srtp");
  m->srtp = g_strcmp0 (srtp, "require") == 0 ? SF_SDP_SRTP_REQUIRE
            : g_strcmp0 (srtp, "offer") == 0 ? SF_SDP_SRTP_OFFER
                                             : SF_SDP_SRTP_OFF;
  m->srtp_insecure = sf_config_get_bool (cfg, "media", "srtp_insecure_signalling");
  return g_steal_pointer (&m);
}

void
sf_media_free (SfMedia *m)
{
  if (m == NULL)
    return;
  while (m->streams->len > 0) {
    SfMediaStream *st = m->streams->pdata[m->streams->len - 1];
    g_debug ("media: stopping the stream of %s at shutdown", st->call);
    sf_media_stop (st);
  }
  g_ptr_array_unref (m->streams);
  g_hash_table_unref (m->reserved);
  g_strfreev (m->codecs);
  g_free (m->source_path);
  g_free (m->sink_path);
  g_free (m->used);
  g_free (m);
}

const SfMediaBackend *
sf_media_backend (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  return m->backend;
}

const char *const *
sf_media_codecs (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  return (const char *const *) m->codecs;
}

SfSdpSrtpMode
sf_media_srtp (SfMedia *m, gboolean *insecure_ok)
{
  g_return_val_if_fail (m != NULL, SF_SDP_SRTP_OFF);
  if (insecure_ok != NULL)
    *insecure_ok = m->srtp_insecure;
  return m->srtp;
}

SfMediaSourceKind
sf_media_source (SfMedia *m, guint *hz, const char **path)
{
  g_return_val_if_fail (m != NULL, SF_MEDIA_SOURCE_SILENCE);
  if (hz != NULL)
    *hz = m->tone_hz;
  if (path != NULL)
    *path = m->source_path;
  return m->source;
}

SfMediaSinkKind
sf_media_sink (SfMedia *m, const char **path)
{
  g_return_val_if_fail (m != NULL, SF_MEDIA_SINK_NONE);
  if (path != NULL)
    *path = m->sink_path;
  return m->sink;
}

/* ---- ports ---- */

/* A UDP socket bound on the IPv4 wildcard address and @port; NULL when the
 * port is taken. */
static GSocket *
bind_port (guint port)
{
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  if (sock == NULL)
    return NULL;
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (any, (guint16) port);
  if (!g_socket_bind (sock, addr, FALSE, NULL))
    return NULL;
  return g_steal_pointer (&sock);
}

static void
reservation_free (gpointer p)
{
  Reservation *r = p;
  for (int k = 0; k < 2; k++) {
    if (r->sock[k] != NULL)
      g_socket_close (r->sock[k], NULL);
    g_clear_object (&r->sock[k]);
  }
  g_free (r);
}

/* Binds @port and @port + 1 for @m; FALSE when either is taken. */
static gboolean
reserve (SfMedia *m, guint port)
{
  Reservation *r = g_new0 (Reservation, 1);
  if ((r->sock[0] = bind_port (port)) == NULL || (r->sock[1] = bind_port (port + 1)) == NULL) {
    reservation_free (r);
    return FALSE;
  }
  g_hash_table_insert (m->reserved, GUINT_TO_POINTER (port), r);
  return TRUE;
}

guint
sf_media_port_alloc (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, 0);
  gboolean bind = m->backend != sf_media_null_backend ();
  for (guint k = 0; k < m->n_ports; k++) {
    guint i = (m->cursor + k) % m->n_ports;
    guint port = m->port_low + 2 * i;
    if (m->used[i])
      continue;
    if (bind && !reserve (m, port)) {
      g_debug ("media: RTP port %u or %u is taken by another socket; passed over", port, port + 1);
      continue;
    }
    m->used[i] = 1;
    m->in_use++;
    m->cursor = (i + 1) % m->n_ports;
    return port;
  }
  return 0;
}

GSocket *
sf_media_port_socket (SfMedia *m, guint port, gboolean rtcp)
{
  g_return_val_if_fail (m != NULL, NULL);
  Reservation *r = g_hash_table_lookup (m->reserved, GUINT_TO_POINTER (port));
  return r != NULL ? r->sock[rtcp ? 1 : 0] : NULL;
}

void
sf_media_port_free (SfMedia *m, guint port)
{
  g_return_if_fail (m != NULL);
  g_return_if_fail (port >= m->port_low && (port - m->port_low) % 2 == 0 && (port - m->port_low) / 2 < m->n_ports);
  guint i = (port - m->port_low) / 2;
  g_return_if_fail (m->used[i]);
  m->used[i] = 0;
  m->in_use--;
  g_hash_table_remove (m->reserved, GUINT_TO_POINTER (port));
}

guint
sf_media_port_capacity (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->n_ports;
}

guint
sf_media_ports_in_use (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->in_use;
}

/* ---- events ---- */

void
sf_media_set_event_func (SfMedia *m, SfMediaEventFunc func, gpointer data)
{
  g_return_if_fail (m != NULL);
  m->event_func = func;
  m->event_data = data;
}

void
sf_media_emit (SfMedia *m, const char *call, const char *event, const char *arg)
{
  g_return_if_fail (m != NULL && call != NULL && event != NULL);
  g_debug ("media: %s: %s%s%s", call, event, arg != NULL ? " " : "", arg != NULL ? arg : "");
  if (m->event_func != NULL)
    m->event_func (call, event, arg, m->event_data);
}

/* ---- streams ---- */

SfMediaStream *
sf_media_start (SfMedia *m, const char *call, const SfSdpMedia *neg, GError **error)
{
  g_return_val_if_fail (m != NULL && call != NULL && neg != NULL, NULL);
  gpointer impl = m->backend->start (m, call, neg, error);
  if (impl == NULL)
    return NULL;
  SfMediaStream *st = g_new0 (SfMediaStream, 1);
  st->media = m;
  st->impl = impl;
  st->call = g_strdup (call);
  g_ptr_array_add (m->streams, st);
  return st;
}

gboolean
sf_media_update (SfMediaStream *st, const SfSdpMedia *neg, GError **error)
{
  g_return_val_if_fail (st != NULL && neg != NULL, FALSE);
  return st->media->backend->update (st->impl, neg, error);
}

gboolean
sf_media_dtmf (SfMediaStream *st, const char *digits, GError **error)
{
  g_return_val_if_fail (st != NULL && digits != NULL, FALSE);
  gsize n = strlen (digits);
  if (n == 0 || n > SF_MEDIA_MAX_DIGITS) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_BAD_DIGITS,
                 "DTMF: expected 1 to %d digits, got %" G_GSIZE_FORMAT, SF_MEDIA_MAX_DIGITS, n);
    return FALSE;
  }
  for (const char *p = digits; *p != '\0'; p++) {
    if (strchr ("0123456789*#ABCDabcd", *p) == NULL) {
      g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_BAD_DIGITS,
                   "DTMF: '%c' at %u is not one of 0-9 * # A-D (RFC 4733 events)",
                   g_ascii_isprint (*p) ? *p : '?', (guint) (p - digits) + 1);
      return FALSE;
    }
  }
  return st->media->backend->dtmf (st->impl, digits, error);
}

gboolean
sf_media_play (SfMediaStream *st, const char *path, GError **error)
{
  g_return_val_if_fail (st != NULL && path != NULL, FALSE);
  gsize n = strlen (path);
  if (n <= 4 || n > SF_MEDIA_MAX_PATH || g_ascii_strcasecmp (path + n - 4, ".wav") != 0) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "play: expected PATH.wav (at most %d bytes), got '%.40s'",
                 SF_MEDIA_MAX_PATH, path);
    return FALSE;
  }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "play: %s: no such file", path);
    return FALSE;
  }
  if (st->media->backend->play == NULL) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "play: the %s backend plays no file",
                 st->media->backend->name);
    return FALSE;
  }
  return st->media->backend->play (st->impl, path, error);
}

void
sf_media_stats (SfMediaStream *st, SfMediaStats *out)
{
  g_return_if_fail (st != NULL && out != NULL);
  memset (out, 0, sizeof *out);
  st->media->backend->stats (st->impl, out);
}

char *
sf_media_stats_json (const SfMediaStats *st)
{
  g_return_val_if_fail (st != NULL, NULL);
  GString *out = g_string_new ("{");
  sf_json_add_int (out, "packets_sent", (gint64) st->packets_sent);
  sf_json_add_int (out, "packets_received", (gint64) st->packets_received);
  sf_json_add_int (out, "bytes_sent", (gint64) st->bytes_sent);
  sf_json_add_int (out, "bytes_received", (gint64) st->bytes_received);
  sf_json_add_int (out, "packets_lost", (gint64) st->packets_lost);
  sf_json_add_double (out, "jitter_ms", st->jitter_ms);
  g_string_erase (out, 1, 1); /* the helpers start every field with ',' */
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

void
sf_media_stop (SfMediaStream *st)
{
  if (st == NULL)
    return;
  st->media->backend->stop (st->impl);
  g_ptr_array_remove_fast (st->media->streams, st);
  g_free (st->call);
  g_free (st);
}

guint
sf_media_active_streams (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->streams->len;
}

const char *
sf_media_stream_call (SfMediaStream *st)
{
  g_return_val_if_fail (st != NULL, NULL);
  return st->call;
}

/* ---- the null backend: accepts, counts, sends nothing ---- */

typedef struct {
  SfSdpDir dir;
  guint updates;
  guint dtmf_sent;
  guint plays;
  char *played;     /* owned: the last file played */
} NullStream;

static gpointer
null_start (SfMedia *m, const char *call, const SfSdpMedia *neg, GError **error)
{
  NullStream *ns = g_new0 (NullStream, 1);
  ns->dir = neg->dir;
  return ns;
}

static gboolean
null_update (gpointer stream, const SfSdpMedia *neg, GError **error)
{
  NullStream *ns = stream;
  ns->dir = neg->dir;
  ns->updates++;
  return TRUE;
}

static gboolean
null_dtmf (gpointer stream, const char *digits, GError **error)
{
  ((NullStream *) stream)->dtmf_sent += (guint) strlen (digits);
  return TRUE;
}

static void
null_stats (gpointer stream, SfMediaStats *out)
{
  memset (out, 0, sizeof *out);
}

static gboolean
null_play (gpointer stream, const char *path, GError **error)
{
  NullStream *ns = stream;
  ns->plays++;
  g_free (ns->played);
  ns->played = g_strdup (path);
  return TRUE;
}

static void
null_stop (gpointer stream)
{
  NullStream *ns = stream;
  g_free (ns->played);
  g_free (ns);
}

/* A relay: counted in its SfMedia. */
static gpointer
null_relay_start (SfMedia *m, const char *call, const SfMediaRelaySpec *spec, GError **error)
{
  m->null_relays++;
  return m;
}

static gboolean
null_relay_update (gpointer relay, const SfMediaRelaySpec *spec, GError **error)
{
  ((SfMedia *) relay)->null_relay_updates++;
  return TRUE;
}

static void
null_relay_stats (gpointer relay, SfRelaySide side, SfMediaStats *out)
{
  memset (out, 0, sizeof *out);
}

static void
null_relay_stop (gpointer relay)
{
  ((SfMedia *) relay)->null_relays--;
}

static const SfMediaBackend null_backend = {
  "null", null_start, null_update, null_dtmf, null_stats, null_stop, null_play,
  null_relay_start, null_relay_update, null_relay_stats, null_relay_stop,
};

guint
sf_media_null_relays (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->null_relays;
}

guint
sf_media_null_relay_updates (SfMedia *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->null_relay_updates;
}

const SfMediaBackend *
sf_media_null_backend (void)
{
  return &null_backend;
}

static NullStream *
null_of (SfMediaStream *st)
{
  g_return_val_if_fail (st != NULL, NULL);
  return st->media->backend == &null_backend ? st->impl : NULL;
}

guint
sf_media_null_dtmf_sent (SfMediaStream *st)
{
  NullStream *ns = null_of (st);
  return ns != NULL ? ns->dtmf_sent : 0;
}

guint
sf_media_null_updates (SfMediaStream *st)
{
  NullStream *ns = null_of (st);
  return ns != NULL ? ns->updates : 0;
}

SfSdpDir
sf_media_null_dir (SfMediaStream *st)
{
  NullStream *ns = null_of (st);
  return ns != NULL ? ns->dir : SF_SDP_INACTIVE;
}

guint
sf_media_null_plays (SfMediaStream *st)
{
  NullStream *ns = null_of (st);
  return ns != NULL ? ns->plays : 0;
}

const char *
sf_media_null_played (SfMediaStream *st)
{
  NullStream *ns = null_of (st);
  return ns != NULL ? ns->played : NULL;
}
