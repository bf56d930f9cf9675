/* sf-sip-dialog.h: dialog state (RFC 3261 section 12): created on the UAS side
 * from a request and the response that establishes it (12.1.1), on the UAC side
 * from the request and a 1xx-with-tag or 2xx response (12.1.2); early until a 2xx
 * confirms it; the route set from Record-Route (reversed for the UAC); the remote
 * target from Contact, refreshed by target-refresh requests and their responses
 * (12.2); local and remote CSeq; requests inside the dialog built as 12.2.1.1
 * says (loose and strict route sets) and checked as 12.2.2 says. */
#pragma once
#include <glib.h>
#include "sf-sip-msg.h"

G_BEGIN_DECLS

typedef struct {
  char *call_id;          /* owned */
  char *local_tag;        /* owned */
  char *remote_tag;       /* owned, nullable until the UAC learns it */
  char *local_uri;        /* owned: name-addr for From in our requests */
  char *remote_uri;       /* owned: name-addr for To in our requests */
  char *remote_target;    /* owned: the URI of the peer's Contact */
  GPtrArray *route_set;   /* owned strings: "<sip:p1.example.com;lr>" in the order our requests list them */
  guint32 local_cseq;     /* the last one we used */
  guint32 remote_cseq;    /* 0: empty */
  gboolean secure;        /* sips Request-URI over TLS (12.1.1) */
  gboolean early;         /* a provisional created it; no 2xx yet */
  guint extra_refs;       /* sf_sip_dialog_ref's beyond the creator's (RFC 5057 usages) */
} SfSipDialog;

/* 12.1.1: the UAS dialog for @req and @resp (a 101-299 response we send with a To
 * tag; the request needs a Contact).  NULL with @error otherwise. */
SfSipDialog *sf_sip_dialog_new_uas (SfSipMsg *req, SfSipMsg *resp, GError **error);
/* 12.1.2: the UAC dialog for @req and @resp (a received 101-299 response with a
 * Contact, and a To tag unless a 2xx: its remote tag is then null, ""). */
SfSipDialog *sf_sip_dialog_new_uac (SfSipMsg *req, SfSipMsg *resp, GError **error);
/* 13.2.2.4: a 2xx we cannot make a dialog from (no Contact) still gets its ACK
 * (and then a BYE): a confirmed dialog toward where the INVITE went (the
 * remote target its Request-URI, the route set its Route); never NULL. */
SfSipDialog *sf_sip_dialog_new_uac_fallback (SfSipMsg *req, SfSipMsg *resp);
/* Drops one reference: the creator's, or one sf_sip_dialog_ref took; the
 * last frees it. */
void sf_sip_dialog_free (SfSipDialog *d);
/* One dialog, several usages (RFC 5057): an INVITE usage and the implicit
 * subscription a REFER makes share the dialog, so their requests share its
 * local CSeq and its remote target.  Returns @d, one more reference. */
SfSipDialog *sf_sip_dialog_ref (SfSipDialog *d);
/* The URI a request inside @d goes to (8.1.2): the first route (a strict
 * router is then the Request-URI, 12.2.1.1), or the remote target (transfer full). */
char *sf_sip_dialog_next_hop (const SfSipDialog *d);

/* "Call-ID|local tag|remote tag" (transfer full). */
char *sf_sip_dialog_key (const SfSipDialog *d);

/* A UAC's early dialog confirmed (or refreshed) by @resp (12.1.2: the route set
 * of a 2xx replaces the early one; 12.2.1.2: a 2xx to a target refresh updates the
 * remote target). */
gboolean sf_sip_dialog_update_uac (SfSipDialog *d, SfSipMsg *resp, gboolean target_refresh, GError **error);

/* 12.2.2: checks an in-dialog request: one without our tag in To gets 481, a CSeq
 * lower than (or equal to) the remote CSeq 500 (*@status set, FALSE); else records it, and a target-refresh
 * request (re-INVITE, UPDATE) with a Contact replaces the remote target. */
gboolean sf_sip_dialog_request_in (SfSipDialog *d, SfSipMsg *req, guint *status);

typedef struct {
  const char *method;
  const char *via_sent_by;    /* "host:port" */
  const char *transport;      /* nullable: UDP */
  const char *contact;        /* nullable: for target-refresh requests */
  const char *content_type;   /* nullable */
  const char *body;
  gsize body_len;
  guint32 cseq;               /* 0: the next local CSeq (ACK and CANCEL pass theirs) */
  const char *const *extra;   /* nullable, NULL-terminated further lines "Name: value" (credentials) */
} SfSipDialogRequest;

/* 12.2.1.1: a request inside @d (transfer full).  The next local CSeq is used
 * unless @r->cseq is set.  *@next_hop (transfer full, nullable) gets the URI the
 * request goes to: the first route, or the remote target. */
SfSipMsg *sf_sip_dialog_create_request (SfSipDialog *d, const SfSipDialogRequest *r, char **next_hop, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfSipDialog, sf_sip_dialog_free)

G_END_DECLS
