/* sf-refer.h: REFER (RFC 3515) with norefersub (RFC 4488) for the user agent:
 * the parsers of what a REFER and its NOTIFYs carry from the network
 * (Refer-To, Refer-Sub, the message/sipfrag status line), strict and bounded,
 * and the Refer-To of an attended transfer (an embedded Replaces, RFC 3891,
 * RFC 5589 7).  Used by sf-op-refer.c, sf-op-subscribe.c and the unit tests
 * (tests/unit/test-ua-refer.c). */
#pragma once
#include <glib.h>
#include "sip/sf-sip-msg.h"

G_BEGIN_DECLS

/* The longest embedded Replaces value taken from a Refer-To (unescaped). */
#define SF_REFER_MAX_REPLACES 1024
/* The longest reason phrase kept from a sipfrag status line. */
#define SF_REFER_MAX_REASON 256
/* How long a notifier of ours lives (s): the expires= of its NOTIFYs; at
 * the end its final NOTIFY goes (terminated;reason=timeout) whatever the
 * referred call is doing (RFC 3515 2.4.4: the notifier chooses the duration). */
#define SF_REFER_EXPIRES 120

/* A Refer-To value (RFC 3515 2.1: name-addr or addr-spec, with params). */
typedef struct {
  char *uri;        /* the URI without its headers ('?...'): the referred call's Request-URI */
  char *host;       /* its host, without brackets */
  char *maddr;      /* nullable: its maddr parameter, without brackets: where the request would go
                     * instead of host (RFC 3261 19.1.1), so the policy must judge it too */
  gboolean sip;     /* a sip: or sips: URI (else another scheme) */
  char *method;     /* nullable: the URI's method parameter */
  char *replaces;   /* nullable: the embedded Replaces header, unescaped (RFC 3891 6.1) */
} SfReferTo;
void sf_refer_to_clear (SfReferTo *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfReferTo, sf_refer_to_clear)
/* Parses @value; FALSE with @error saying what is wrong (the caller answers 400). */
gboolean sf_refer_parse_refer_to (SfSipStr value, SfReferTo *out, GError **error);

/* Refer-Sub (RFC 4488 7.1): "true" / "false" (case-insensitive) *(";" generic-param). */
gboolean sf_refer_parse_refer_sub (SfSipStr value, gboolean *sub, GError **error);

/* A message/sipfrag body (RFC 3420) as REFER's NOTIFY carries it (RFC 3515
 * 2.4.5): it begins with a SIP Status-Line "SIP/2.0 SP 3DIGIT SP
 * Reason-Phrase CRLF" (status 100..699; the line end may be the body's end);
 * what follows (header lines) is not read, but no NUL anywhere.  *@reason
 * transfer full (at most SF_REFER_MAX_REASON bytes, no control characters). */
gboolean sf_refer_parse_sipfrag (const char *body, gsize len, guint *status, char **reason, GError **error);

/* The Refer-To value of an attended transfer (RFC 5589 7, RFC 3891 6.1):
 * "<TARGET?Replaces=CALLID%3Bto-tag%3DTO%3Bfrom-tag%3DFROM>", every
 * character of the Replaces value that is not unreserved escaped (transfer
 * full).  @target: a sip/sips URI without headers. */
char *sf_refer_to_with_replaces (const char *target, const char *call_id, const char *to_tag, const char *from_tag);

G_END_DECLS
