/* sf-ua-parse.c: 'sipflow parse [--json] FILE|-': one SIP message read as one
 * datagram, every header parsed, its structure printed as text or JSON; the
 * first error (a malformed message or header, a missing mandatory header) on
 * standard error with exit 1.  For users and students looking inside a message,
 * and for the conformance verdicts (RFC 4475, RFC 5118). */
#include "config.h"
#include "sf-ua.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-msg.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Printable text of a slice: bytes that are not printable UTF-8 become \xHH. */
static char *
show (SfSipStr s)
{
  GString *out = g_string_new (NULL);
  const char *p = s.p, *end = s.p + s.len;
  while (p < end) {
    gunichar c = g_utf8_get_char_validated (p, end - p);
    if (c == (gunichar) -1 || c == (gunichar) -2 || c < 0x20 || c == 0x7f) {
      if (*p == '\t')
        g_string_append_c (out, '\t');
      else
        g_string_append_printf (out, "\\x%02x", (guchar) *p);
      p++;
    } else {
      const char *n = g_utf8_next_char (p);
      g_string_append_len (out, p, n - p);
      p = n;
    }
  }
  return g_string_free (out, FALSE);
}

typedef struct {
  gboolean json;
  GString *out;      /* JSON: the object being built; text: the line */
  gboolean first;
} Fields;

static void
field (Fields *f, const char *key, SfSipStr value)
{
  if (!sf_sip_str_is_set (value))
    return;
  g_autofree char *v = show (value);
  if (f->json) {
    g_string_append (f->out, f->first ? "" : ",");
    sf_json_append_string (f->out, key);
    g_string_append_c (f->out, ':');
    sf_json_append_string (f->out, v);
  } else {
    g_string_append_printf (f->out, "%s%s=%s", f->first ? "" : " ", key, v);
  }
  f->first = FALSE;
}

static void
field_num (Fields *f, const char *key, guint64 n)
{
  if (f->json)
    g_string_append_printf (f->out, "%s\"%s\":%" G_GUINT64_FORMAT, f->first ? "" : ",", key, n);
  else
    g_string_append_printf (f->out, "%s%s=%" G_GUINT64_FORMAT, f->first ? "" : " ", key, n);
  f->first = FALSE;
}

static void
params_fields (Fields *f, const char *prefix, const SfSipParam *params, guint n)
{
  for (guint i = 0; i < n; i++) {
    g_autofree char *name = show (params[i].name);
    g_autofree char *key = g_strdup_printf ("%s%s", prefix, name);
    field (f, key, sf_sip_str_is_set (params[i].value) ? params[i].value : SF_SIP_STR_LIT (""));
  }
}

static void
uri_fields (Fields *f, const SfSipUri *u, const char *prefix)
{
  g_autofree char *k_scheme = g_strdup_printf ("%sscheme", prefix);
  g_autofree char *k_user = g_strdup_printf ("%suser", prefix);
  g_autofree char *k_password = g_strdup_printf ("%spassword", prefix);
  g_autofree char *k_host = g_strdup_printf ("%shost", prefix);
  g_autofree char *k_port = g_strdup_printf ("%sport", prefix);
  g_autofree char *k_opaque = g_strdup_printf ("%sopaque", prefix);
  g_autofree char *k_param = g_strdup_printf ("%sparam.", prefix);
  g_autofree char *k_header = g_strdup_printf ("%sheader.", prefix);
  field (f, k_scheme, u->scheme);
  if (u->kind == SF_URI_OTHER) {
    field (f, k_opaque, u->opaque);
    return;
  }
  if (u->user.len > 0) {
    gsize len;
    g_autofree char *user = u->kind == SF_URI_TEL ? NULL : sf_sip_unescape (u->user, &len);
    field (f, k_user, user != NULL ? sf_sip_str (user, len) : u->user);
  }
  field (f, k_password, u->password);
  field (f, k_host, u->host);
  if (u->port != 0)
    field_num (f, k_port, u->port);
  params_fields (f, k_param, u->params, u->n_params);
  params_fields (f, k_header, u->headers, u->n_headers);
}

static void
value_fields (Fields *f, const SfSipValue *v)
{
  switch (v->kind) {
  case SF_SIP_VAL_VIA:
    field (f, "protocol", v->protocol);
    field (f, "version", v->version);
    field (f, "transport", v->transport);
    field (f, "host", v->host);
    if (v->port != 0)
      field_num (f, "port", v->port);
    break;
  case SF_SIP_VAL_NAMEADDR:
  case SF_SIP_VAL_INFO:
    if (v->star)
      field (f, "star", SF_SIP_STR_LIT ("*"));
    if (v->display_quoted) {
      gsize len;
      g_autofree char *d = sf_sip_unquote (v->display, &len);
      field (f, "display", sf_sip_str (d, len));
    } else {
      field (f, "display", v->display.len > 0 ? v->display : SF_SIP_STR_NULL);
    }
    if (v->uri != NULL)
      uri_fields (f, v->uri, "uri.");
    break;
  case SF_SIP_VAL_CSEQ:
    field_num (f, "seq", v->number);
    field (f, "method", v->text);
    break;
  case SF_SIP_VAL_NUMBER:
    field_num (f, "value", v->number);
    break;
  case SF_SIP_VAL_AUTH:
    field (f, "scheme", v->text.p != v->raw.p || v->id != SF_SIP_HDR_AUTHENTICATION_INFO ? v->text : SF_SIP_STR_NULL);
    break;
  case SF_SIP_VAL_MEDIA:
    field (f, "type", v->text);
    break;
  case SF_SIP_VAL_TOKEN:
  case SF_SIP_VAL_OPAQUE:
    field (f, "value", v->text);
    break;
  }
  params_fields (f, v->kind == SF_SIP_VAL_AUTH ? "" : "param.", v->params, v->n_params);
}

static GBytes *
read_input (const char *path, GError **error)
{
  if (strcmp (path, "-") != 0) {
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "'%s' is not a readable file", path);
      return NULL;
    }
    g_autoptr (GMappedFile) mf = g_mapped_file_new (path, FALSE, error);
    if (mf == NULL)
      return NULL;
    if (g_mapped_file_get_length (mf) > SF_SIP_MAX_MSG_SIZE) {
      g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT, "message larger than %d bytes", SF_SIP_MAX_MSG_SIZE);
      return NULL;
    }
    return g_mapped_file_get_bytes (mf);
  }
  GByteArray *buf = g_byte_array_new ();
  guint8 chunk[4096];
  for (;;) {
    ssize_t n = read (STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "standard input: %s", g_strerror (errno));
      g_byte_array_unref (buf);
      return NULL;
    }
    if (n == 0)
      break;
    g_byte_array_append (buf, chunk, (guint) n);
    if (buf->len > SF_SIP_MAX_MSG_SIZE) {
      g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT, "message larger than %d bytes", SF_SIP_MAX_MSG_SIZE);
      g_byte_array_unref (buf);
      return NULL;
    }
  }
  return g_byte_array_free_to_bytes (buf);
}

static void
print_text (SfSipMsg *msg)
{
  if (sf_sip_msg_is_request (msg)) {
    g_autofree char *m = show (sf_sip_msg_method (msg));
    g_autofree char *u = show (sf_sip_msg_ruri (msg)->raw);
    printf ("request %s %s\n", m, u);
    Fields f = { FALSE, g_string_new ("  Request-URI: "), TRUE };
    uri_fields (&f, sf_sip_msg_ruri (msg), "");
    printf ("%s\n", f.out->str);
    g_string_free (f.out, TRUE);
  } else {
    g_autofree char *r = show (sf_sip_msg_reason (msg));
    printf ("response %u %s\n", sf_sip_msg_status (msg), r);
  }
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    g_autofree char *name = show (h->name);
    g_autofree char *value = show (h->value);
    const char *canon = sf_sip_hdr_info (h->id)->name;
    if (h->id != SF_SIP_HDR_OTHER && strcmp (canon, name) != 0)
      printf ("%s (%s): %s\n", name, canon, value);
    else
      printf ("%s: %s%s\n", name, value, h->id == SF_SIP_HDR_OTHER ? "   [unknown header, kept as is]" : "");
  }
  /* The parsed values, header by header kind, in order of first appearance. */
  gboolean seen[SF_SIP_HDR_COUNT] = { FALSE };
  printf ("parsed:\n");
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    SfSipHdrId id = sf_sip_msg_header (msg, i)->id;
    if (id == SF_SIP_HDR_OTHER || seen[id])
      continue;
    seen[id] = TRUE;
    SfSipValues *vals = sf_sip_msg_values (msg, id, NULL);
    for (guint k = 0; vals != NULL && k < vals->len; k++) {
      Fields f = { FALSE, g_string_new (NULL), TRUE };
      value_fields (&f, vals->pdata[k]);
      printf ("  %s[%u]: %s\n", sf_sip_hdr_info (id)->name, k, f.out->str);
      g_string_free (f.out, TRUE);
    }
  }
  printf ("body: %" G_GSIZE_FORMAT " bytes\n", sf_sip_msg_body (msg).len);
}

static void
print_json (SfSipMsg *msg)
{
  GString *o = g_string_new ("{");
  Fields top = { TRUE, o, TRUE };
  if (sf_sip_msg_is_request (msg)) {
    field (&top, "type", SF_SIP_STR_LIT ("request"));
    field (&top, "method", sf_sip_msg_method (msg));
    field (&top, "uri", sf_sip_msg_ruri (msg)->raw);
    g_string_append (o, ",\"ruri\":{");
    Fields f = { TRUE, o, TRUE };
    uri_fields (&f, sf_sip_msg_ruri (msg), "");
    g_string_append (o, "}");
  } else {
    field (&top, "type", SF_SIP_STR_LIT ("response"));
    field_num (&top, "status", sf_sip_msg_status (msg));
    field (&top, "reason", sf_sip_msg_reason (msg));
  }
  g_string_append (o, ",\"headers\":[");
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    g_string_append (o, i > 0 ? ",{" : "{");
    Fields f = { TRUE, o, TRUE };
    field (&f, "name", h->name);
    if (h->id != SF_SIP_HDR_OTHER)
      field (&f, "canonical", sf_sip_str (sf_sip_hdr_info (h->id)->name, strlen (sf_sip_hdr_info (h->id)->name)));
    field (&f, "value", h->value);
    g_string_append (o, "}");
  }
  g_string_append (o, "],\"values\":{");
  gboolean seen[SF_SIP_HDR_COUNT] = { FALSE };
  gboolean first = TRUE;
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    SfSipHdrId id = sf_sip_msg_header (msg, i)->id;
    if (id == SF_SIP_HDR_OTHER || seen[id])
      continue;
    seen[id] = TRUE;
    g_string_append (o, first ? "" : ",");
    first = FALSE;
    sf_json_append_string (o, sf_sip_hdr_info (id)->name);
    g_string_append (o, ":[");
    SfSipValues *vals = sf_sip_msg_values (msg, id, NULL);
    for (guint k = 0; vals != NULL && k < vals->len; k++) {
      g_string_append (o, k > 0 ? ",{" : "{");
      Fields f = { TRUE, o, TRUE };
      value_fields (&f, vals->pdata[k]);
      g_string_append (o, "}");
    }
    g_string_append (o, "]");
  }
  g_string_append_printf (o, "},\"body_length\":%" G_GSIZE_FORMAT "}", sf_sip_msg_body (msg).len);
  printf ("%s\n", o->str);
  g_string_free (o, TRUE);
}

int
sf_ua_cmd_parse (int argc, char **argv)
{
  gboolean json = FALSE;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
      printf ("Usage: sipflow parse [--json] FILE|-\n\n"
              "Reads one SIP message (as one datagram: Content-Length bounds the body), parses every\n"
              "header and prints its structure (text, or one JSON object with --json).\n"
              "Exit status: 0 when the message and all its headers are well formed and the mandatory\n"
              "headers (Via, From, To, Call-ID, CSeq) are there; 1 with the error on standard error\n"
              "otherwise; 2 usage error.\n");
      return SF_EXIT_OK;
    }
    if (strcmp (argv[i], "--json") == 0)
      json = TRUE;
    else if (argv[i][0] == '-' && argv[i][1] != '\0')
      return sf_ua_usage_error ("parse", "unknown option '%s'", argv[i]);
    else if (path != NULL)
      return sf_ua_usage_error ("parse", "one message at a time");
    else
      path = argv[i];
  }
  if (path == NULL)
    return sf_ua_usage_error ("parse", "no file given (use - for standard input)");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = read_input (path, &error);
  g_autoptr (SfSipMsg) msg = bytes != NULL ? sf_sip_msg_parse (bytes, &error) : NULL;
  if (msg == NULL || !sf_sip_msg_check_all (msg, &error)) {
    fprintf (stderr, "sipflow parse: %s: %s\n", path, error->message);
    if (json) {
      GString *o = g_string_new ("{\"error\":");
      sf_json_append_string (o, error->message);
      g_string_append (o, "}");
      printf ("%s\n", o->str);
      g_string_free (o, TRUE);
    }
    return SF_EXIT_FAIL;
  }
  if (json)
    print_json (msg);
  else
    print_text (msg);
  return SF_EXIT_OK;
}
