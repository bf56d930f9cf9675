/* sf-replaces.h: the Replaces header (RFC 3891 6.1): the dialog a new INVITE
 * replaces, named by its Call-ID and the two tags as the receiver sees them
 * (to-tag: the receiver's local tag, from-tag: its remote tag, RFC 3891 3),
 * and the early-only flag.  A strict, bounded parser for the header as it
 * comes in an INVITE, and for the escaped form a Refer-To URI's ?Replaces=
 * carries (RFC 3891 6.1, RFC 3261 19.1.1); formatters for both. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* The longest Replaces value taken (the header, or its unescaped URI form):
 * a Call-ID and two tags, each well under this. */
#define SF_REPLACES_MAX_LEN 1024
/* The most parameters (tags, flag, generic ones) taken in one value. */
#define SF_REPLACES_MAX_PARAMS 16

typedef struct {
  char *call_id;       /* owned: callid (RFC 3261 25.1: word ["@" word]) */
  char *to_tag;        /* owned: the tag of the replaced dialog's To, as its UAC sent it */
  char *from_tag;      /* owned: the tag of its From */
  gboolean early_only; /* only an early dialog may be replaced (486 for a confirmed one) */
} SfReplaces;

void sf_replaces_free (SfReplaces *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfReplaces, sf_replaces_free)

/* Parses a Replaces header value (RFC 3891 6.1: callid *(SEMI replaces-param);
 * exactly one to-tag and one from-tag, each a token; early-only at most once
 * and without a value; generic-params of the grammar's form, ignored; LWS
 * around ";" and "=").  @len bytes of @text (no NUL needed).  NULL with
 * @error naming what is wrong (longer than SF_REPLACES_MAX_LEN, more than
 * SF_REPLACES_MAX_PARAMS parameters, a character outside the grammar). */
SfReplaces *sf_replaces_parse (const char *text, gsize len, GError **error);
/* The same for the value of a URI's "Replaces=" header (RFC 3261 19.1.1: %HH
 * escaped; RFC 3891 6.1's example): unescaped first; a bad escape, an escaped
 * NUL, CR or LF is refused. */
SfReplaces *sf_replaces_parse_escaped (const char *text, gsize len, GError **error);
/* "callid;to-tag=T;from-tag=F[;early-only]" (transfer full). */
char *sf_replaces_format (const SfReplaces *r);
/* The same escaped for a URI header value (hvalue, RFC 3261 25.1): every
 * character but unreserved ones and "[]/?:+$" as %HH, so ";" and "=" become
 * %3B and %3D (transfer full). */
char *sf_replaces_format_escaped (const SfReplaces *r);

G_END_DECLS
