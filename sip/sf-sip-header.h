/* sf-sip-header.h: SIP header fields (RFC 3261 section 20 and 25.1): their
 * names and compact forms, which may repeat or carry comma-separated lists, and
 * the parsers that turn one header value into an SfSipValue.  Unknown headers
 * are kept as they are. */
#pragma once
#include <glib.h>
#include "sf-sip-str.h"
#include "sf-sip-uri.h"

G_BEGIN_DECLS

typedef enum {
  SF_SIP_HDR_OTHER = 0, /* unknown: kept opaque */
  SF_SIP_HDR_ACCEPT,
  SF_SIP_HDR_ACCEPT_ENCODING,
  SF_SIP_HDR_ACCEPT_LANGUAGE,
  SF_SIP_HDR_ALERT_INFO,
  SF_SIP_HDR_ALLOW,
  SF_SIP_HDR_AUTHENTICATION_INFO,
  SF_SIP_HDR_AUTHORIZATION,
  SF_SIP_HDR_CALL_ID,
  SF_SIP_HDR_CALL_INFO,
  SF_SIP_HDR_CONTACT,
  SF_SIP_HDR_CONTENT_DISPOSITION,
  SF_SIP_HDR_CONTENT_ENCODING,
  SF_SIP_HDR_CONTENT_LANGUAGE,
  SF_SIP_HDR_CONTENT_LENGTH,
  SF_SIP_HDR_CONTENT_TYPE,
  SF_SIP_HDR_CSEQ,
  SF_SIP_HDR_DATE,
  SF_SIP_HDR_ERROR_INFO,
  SF_SIP_HDR_EXPIRES,
  SF_SIP_HDR_FROM,
  SF_SIP_HDR_IN_REPLY_TO,
  SF_SIP_HDR_MAX_FORWARDS,
  SF_SIP_HDR_MIME_VERSION,
  SF_SIP_HDR_MIN_EXPIRES,
  SF_SIP_HDR_ORGANIZATION,
  SF_SIP_HDR_PRIORITY,
  SF_SIP_HDR_PROXY_AUTHENTICATE,
  SF_SIP_HDR_PROXY_AUTHORIZATION,
  SF_SIP_HDR_PROXY_REQUIRE,
  SF_SIP_HDR_RECORD_ROUTE,
  SF_SIP_HDR_REPLY_TO,
  SF_SIP_HDR_REQUIRE,
  SF_SIP_HDR_RETRY_AFTER,
  SF_SIP_HDR_ROUTE,
  SF_SIP_HDR_SERVER,
  SF_SIP_HDR_SUBJECT,
  SF_SIP_HDR_SUPPORTED,
  SF_SIP_HDR_TIMESTAMP,
  SF_SIP_HDR_TO,
  SF_SIP_HDR_UNSUPPORTED,
  SF_SIP_HDR_USER_AGENT,
  SF_SIP_HDR_VIA,
  SF_SIP_HDR_WARNING,
  SF_SIP_HDR_WWW_AUTHENTICATE,
  SF_SIP_HDR_COUNT
} SfSipHdrId;

typedef enum {
  SF_SIP_HDR_SINGLE,  /* at most one in a message, one value */
  SF_SIP_HDR_LIST,    /* may repeat; each line a comma-separated list */
  SF_SIP_HDR_MULTI,   /* may repeat; one value a line (commas belong to the value: auth) */
  SF_SIP_HDR_TEXT,    /* free text, one value a line */
} SfSipHdrShape;

/* What a header's values look like once parsed. */
typedef enum {
  SF_SIP_VAL_OPAQUE,  /* raw only */
  SF_SIP_VAL_VIA,
  SF_SIP_VAL_NAMEADDR,/* From, To, Contact, Route, Record-Route, Reply-To */
  SF_SIP_VAL_CSEQ,
  SF_SIP_VAL_NUMBER,  /* Content-Length, Max-Forwards, Expires, Min-Expires, Retry-After */
  SF_SIP_VAL_TOKEN,   /* a token (or Call-ID word) with optional params */
  SF_SIP_VAL_MEDIA,   /* type/subtype with params */
  SF_SIP_VAL_AUTH,    /* scheme and auth-params */
  SF_SIP_VAL_INFO,    /* <absoluteURI> with params */
} SfSipValKind;

typedef struct {
  SfSipHdrId id;
  const char *name;        /* canonical */
  char compact;            /* 0: none */
  SfSipHdrShape shape;
  SfSipValKind kind;
} SfSipHdrInfo;

/* One parsed header value.  Slices point into the message's bytes.  What
 * every kind may set comes first; what only some kinds have shares one union
 * (anonymous: read as v->uri, v->host...), so that a value is 136 bytes
 * instead of 176 and a value of a plain kind (a token, a number: most of a
 * message's) has only its first 64 bytes zeroed when parsed.  Read the
 * union's fields of the kind @kind says only (the values of a header id all
 * have its kind: sf_sip_hdr_info()). */
typedef struct {
  SfSipHdrId id;
  SfSipValKind kind;
  SfSipStr raw;            /* this value as written */
  SfSipStr text;           /* TOKEN: the token; CSEQ: the method; MEDIA: "type/subtype";
                              AUTH: the scheme; OPAQUE: the value */
  guint64 number;          /* NUMBER: the value; CSEQ: the sequence number */
  /* header parameters (tag, q, expires, branch...), or AUTH's auth-params */
  SfSipParam *params;      /* owned */
  guint n_params;
  union {
    struct { /* NAMEADDR, INFO */
      SfSipStr display;    /* as written; quoted display names without their quotes */
      SfSipUri *uri;       /* owned, nullable (Contact: *) */
      gboolean display_quoted;
      gboolean star;       /* Contact: * */
    };
    struct { /* VIA */
      SfSipStr protocol, version, transport;
      SfSipStr host;       /* sent-by host; IPv6 keeps its brackets */
      SfSipHostKind host_kind;
      guint port;          /* 0: absent */
    };
  };
} SfSipValue;

const SfSipHdrInfo *sf_sip_hdr_info (SfSipHdrId id);
/* Looks a header name up (case-insensitive, compact forms included). */
SfSipHdrId sf_sip_hdr_lookup (SfSipStr name);
/* The same for a name known to be a token (the message parser's header names). */
SfSipHdrId sf_sip_hdr_lookup_token (SfSipStr name);

/* Parses one header line's value into values appended to @out (SfSipValue*,
 * owned).  @base: the message start, for offsets in errors, which name the header. */
gboolean sf_sip_hdr_parse (SfSipHdrId id, SfSipStr name, SfSipStr value, const char *base, GPtrArray *out,
                           GError **error);
/* Parsed values in an arena: the fields of a GPtrArray (g_ptr_array_index()
 * reads it), without GLib's allocation of one; never pass it to g_ptr_array_*
 * functions. */
typedef struct {
  gpointer *pdata;   /* SfSipValue* */
  guint len;
  guint cap;
  gpointer first[2]; /* pdata's first table (most headers have one or two values), nullable:
                      * sf_sip_msg_values() points pdata here; a larger table grows in the arena */
} SfSipValues;

/* The same, with the values (their URIs and parameters too) allocated in
 * @arena and appended to @out, whose table grows in @arena.  @value has no
 * LWS at either end, as a message's SfSipHdr value (sf-sip-msg.h). */
gboolean sf_sip_hdr_parse_in (SfSipHdrId id, SfSipStr name, SfSipStr value, const char *base, SfSipArena *arena,
                              SfSipValues *out, GError **error);
void sf_sip_value_free (SfSipValue *v);
/* The first parameter named @name (case-insensitive), or NULL. */
const SfSipParam *sf_sip_value_param (const SfSipValue *v, const char *name);

/* Via helpers (RFC 3261 17.2.3, RFC 3581). */
#define SF_SIP_BRANCH_COOKIE "z9hG4bK"

G_END_DECLS
