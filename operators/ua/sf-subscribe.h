/* sf-subscribe.h: SIP-specific event notification (RFC 6665) for the user
 * agent: the parsers of the headers and bodies a subscription reads (Event,
 * Subscription-State, the message-summary body of RFC 3842, a multipart
 * body's part), strict and bounded, for sf-op-subscribe.c and the unit tests. */
#pragma once
#include <glib.h>
#include "sip/sf-sip-msg.h"

G_BEGIN_DECLS

/* The packages this UA subscribes to (subscriber role). */
#define SF_SUB_PACKAGES "message-summary"
/* The packages it serves as notifier, comma-separated: refer (RFC 3515),
 * whose subscriptions a REFER makes (an incoming SUBSCRIBE for it gets 403,
 * for another package 489).  Allow-Events lists exactly these (RFC 6665
 * 4.4.4: the packages a UA can act as notifier for). */
#define SF_SUB_SERVED "refer"
/* "Allow-Events: " SF_SUB_SERVED for our OPTIONS answers and 489s (NULL if none were served). */
const char *sf_sub_allow_events_line (void);
/* A NOTIFY body is read up to this many bytes; a multipart body to this many parts. */
#define SF_SUB_MAX_BODY 8192
#define SF_SUB_MAX_PARTS 8
/* Re-subscriptions (terminated with a reason that asks for one, RFC 6665
 * 4.1.3) in a row without a NOTIFY active or pending in between. */
#define SF_SUB_MAX_RETRIES 3
/* The longest retry-after honoured (s): a larger one gives up. */
#define SF_SUB_MAX_RETRY_AFTER 3600

/* Event (RFC 6665 8.2.1, 8.4): event-type (token-nodot *("." token-nodot))
 * and its id parameter.  *@package, *@id transfer full (*@id NULL when absent). */
gboolean sf_sub_parse_event (SfSipStr value, char **package, char **id, GError **error);

typedef enum { SF_SUB_ACTIVE, SF_SUB_PENDING, SF_SUB_TERMINATED, SF_SUB_OTHER } SfSubStateKind;
typedef struct {
  SfSubStateKind kind;
  char *state;        /* as written (an extension substate too) */
  char *reason;       /* nullable: reason= */
  gint64 expires;     /* -1: absent */
  gint64 retry_after; /* -1: absent */
} SfSubState;
void sf_sub_state_clear (SfSubState *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfSubState, sf_sub_state_clear)
/* Subscription-State (RFC 6665 8.4): substate-value *( ";" subexp-params );
 * expires and retry-after delta-seconds up to 2**32-1, reason a token. */
gboolean sf_sub_parse_state (SfSipStr value, SfSubState *out, GError **error);

/* A message-summary body (RFC 3842 5.2). */
typedef struct {
  gboolean waiting;
  char *account;       /* nullable: Message-Account */
  gboolean have_voice; /* a voice-message line */
  guint voice_new, voice_old, voice_new_urgent, voice_old_urgent;
  guint lines;         /* summary lines of any class */
} SfSubMwi;
void sf_sub_mwi_clear (SfSubMwi *m);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfSubMwi, sf_sub_mwi_clear)
gboolean sf_sub_parse_mwi (const char *body, gsize len, SfSubMwi *out, GError **error);

/* The body of @msg of type @ctype (case-insensitive): the body itself, or the
 * first part of that type of a multipart body (at most SF_SUB_MAX_PARTS parts,
 * the boundary checked by sf_sip_msg_multipart).  FALSE with @error otherwise;
 * TRUE with an empty *@out when @msg has no body. */
gboolean sf_sub_body_of (SfSipMsg *msg, const char *ctype, SfSipStr *out, GError **error);

/* The first header line of @msg named @name or its compact form @compact (0:
 * none), and how many there are. */
const SfSipHdr *sf_sub_header (SfSipMsg *msg, const char *name, char compact, guint *count);

G_END_DECLS
