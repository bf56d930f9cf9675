/* sf-sip-dialog.c: dialog state (see sf-sip-dialog.h). */
#include "config.h"
#include "sf-sip-dialog.h"
#include "sf-sip-build.h"
#include <string.h>

static char *
str (SfSipStr s)
{
  return sf_sip_str_dup (s);
}

/* "<URI>" (with the display name when there is one), without header parameters. */
static char *
name_addr (const SfSipValue *v)
{
  g_autofree char *uri = str (v->uri->raw);
  if (v->display_quoted)
    return g_strdup_printf ("\"%.*s\" <%s>", (int) v->display.len, v->display.p, uri);
  if (v->display.len > 0)
    return g_strdup_printf ("%.*s <%s>", (int) v->display.len, v->display.p, uri);
  return g_strdup_printf ("<%s>", uri);
}

static char *inner_uri (const char *route);

static char *
tag_of (const SfSipValue *v)
{
  const SfSipParam *t = sf_sip_value_param (v, "tag");
  return t != NULL && sf_sip_str_is_set (t->value) ? str (t->value) : NULL;
}

/* The URI of the single Contact of @m, or NULL with @error. */
static char *
contact_uri (SfSipMsg *m, GError **error)
{
  SfSipValues *c = sf_sip_msg_values (m, SF_SIP_HDR_CONTACT, error);
  if (c == NULL)
    return NULL;
  if (c->len != 1 || ((SfSipValue *) c->pdata[0])->uri == NULL) {
    g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX, "Contact: a dialog needs exactly one Contact URI");
    return NULL;
  }
  return str (((SfSipValue *) c->pdata[0])->uri->raw);
}

/* Record-Route values as written, in order or reversed. */
static GPtrArray *
route_set (SfSipMsg *m, gboolean reverse, GError **error)
{
  SfSipValues *rr = sf_sip_msg_values (m, SF_SIP_HDR_RECORD_ROUTE, error);
  if (rr == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < rr->len; i++) {
    const SfSipValue *v = rr->pdata[reverse ? rr->len - 1 - i : i];
    g_ptr_array_add (out, str (v->raw));
  }
  return out;
}

void
sf_sip_dialog_free (SfSipDialog *d)
{
  if (d == NULL)
    return;
  if (d->extra_refs > 0) {
    d->extra_refs--;
    return;
  }
  g_free (d->call_id);
  g_free (d->local_tag);
  g_free (d->remote_tag);
  g_free (d->local_uri);
  g_free (d->remote_uri);
  g_free (d->remote_target);
  if (d->route_set != NULL)
    g_ptr_array_unref (d->route_set);
  g_free (d);
}

static gboolean
check_response (SfSipMsg *resp, GError **error)
{
  guint status = sf_sip_msg_status (resp);
  if (status <= 100 || status >= 300 || sf_sip_value_param (sf_sip_msg_to (resp), "tag") == NULL) {
    g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX, "only a 101-299 response with a To tag creates a dialog");
    return FALSE;
  }
  return TRUE;
}

SfSipDialog *
sf_sip_dialog_ref (SfSipDialog *d)
{
  g_return_val_if_fail (d != NULL && d->extra_refs < G_MAXUINT, d);
  d->extra_refs++;
  return d;
}

SfSipDialog *
sf_sip_dialog_new_uas (SfSipMsg *req, SfSipMsg *resp, GError **error)
{
  if (!check_response (resp, error))
    return NULL;
  g_autoptr (SfSipDialog) d = g_new0 (SfSipDialog, 1);
  if ((d->remote_target = contact_uri (req, error)) == NULL || (d->route_set = route_set (req, FALSE, error)) == NULL)
    return NULL;
  d->call_id = str (sf_sip_msg_call_id (req));
  d->local_tag = tag_of (sf_sip_msg_to (resp));
  d->remote_tag = tag_of (sf_sip_msg_from (req));
  if (d->remote_tag == NULL)
    d->remote_tag = g_strdup (""); /* RFC 2543 peers have none (12.1.1) */
  d->local_uri = name_addr (sf_sip_msg_to (req));
  d->remote_uri = name_addr (sf_sip_msg_from (req));
  d->remote_cseq = (guint32) sf_sip_msg_cseq (req)->number;
  d->secure = sf_sip_msg_ruri (req)->kind == SF_URI_SIPS;
  d->early = sf_sip_msg_status (resp) < 200;
  return g_steal_pointer (&d);
}

SfSipDialog *
sf_sip_dialog_new_uac (SfSipMsg *req, SfSipMsg *resp, GError **error)
{
  guint status = sf_sip_msg_status (resp);
  /* 12.1.2: a 2xx without a To tag (an RFC 2543 peer) makes a dialog whose
   * remote tag is null; a provisional one makes none. */
  if ((status < 200 || status >= 300) && !check_response (resp, error))
    return NULL;
  g_autoptr (SfSipDialog) d = g_new0 (SfSipDialog, 1);
  if ((d->remote_target = contact_uri (resp, error)) == NULL || (d->route_set = route_set (resp, TRUE, error)) == NULL)
    return NULL;
  d->call_id = str (sf_sip_msg_call_id (req));
  d->local_tag = tag_of (sf_sip_msg_from (req));
  d->remote_tag = tag_of (sf_sip_msg_to (resp));
  if (d->remote_tag == NULL)
    d->remote_tag = g_strdup (""); /* null (12.1.2): our requests carry no To tag */
  d->local_uri = name_addr (sf_sip_msg_from (req));
  d->remote_uri = name_addr (sf_sip_msg_to (req));
  d->local_cseq = (guint32) sf_sip_msg_cseq (req)->number;
  d->secure = sf_sip_msg_ruri (req)->kind == SF_URI_SIPS;
  d->early = sf_sip_msg_status (resp) < 200;
  return g_steal_pointer (&d);
}

SfSipDialog *
sf_sip_dialog_new_uac_fallback (SfSipMsg *req, SfSipMsg *resp)
{
  SfSipDialog *d = g_new0 (SfSipDialog, 1);
  d->call_id = str (sf_sip_msg_call_id (req));
  d->local_tag = tag_of (sf_sip_msg_from (req));
  d->remote_tag = tag_of (sf_sip_msg_to (resp));
  if (d->remote_tag == NULL)
    d->remote_tag = g_strdup ("");
  d->local_uri = name_addr (sf_sip_msg_from (req));
  d->remote_uri = name_addr (sf_sip_msg_to (req));
  d->remote_target = str (sf_sip_msg_ruri (req)->raw);
  d->local_cseq = (guint32) sf_sip_msg_cseq (req)->number;
  d->secure = sf_sip_msg_ruri (req)->kind == SF_URI_SIPS;
  /* the INVITE's own Route (an outbound proxy), in order */
  d->route_set = g_ptr_array_new_with_free_func (g_free);
  SfSipValues *routes = sf_sip_msg_values (req, SF_SIP_HDR_ROUTE, NULL);
  for (guint i = 0; routes != NULL && i < routes->len; i++)
    g_ptr_array_add (d->route_set, str (((SfSipValue *) routes->pdata[i])->raw));
  return d;
}

char *
sf_sip_dialog_next_hop (const SfSipDialog *d)
{
  /* 8.1.2, 12.2.1.1: the first route, loose or strict (a strict router is the
   * Request-URI then); without a route set, the remote target. */
  return d->route_set->len > 0 ? inner_uri (d->route_set->pdata[0]) : g_strdup (d->remote_target);
}

char *
sf_sip_dialog_key (const SfSipDialog *d)
{
  return g_strdup_printf ("%s|%s|%s", d->call_id, d->local_tag != NULL ? d->local_tag : "",
                          d->remote_tag != NULL ? d->remote_tag : "");
}

gboolean
sf_sip_dialog_update_uac (SfSipDialog *d, SfSipMsg *resp, gboolean target_refresh, GError **error)
{
  guint status = sf_sip_msg_status (resp);
  if (status < 200 || status >= 300)
    return TRUE;
  if (d->early) {
    GPtrArray *rs = route_set (resp, TRUE, error);
    if (rs == NULL)
      return FALSE;
    g_ptr_array_unref (d->route_set);
    d->route_set = rs;
    d->early = FALSE;
    target_refresh = TRUE;
  }
  if (target_refresh && sf_sip_msg_find (resp, SF_SIP_HDR_CONTACT) != NULL) {
    char *t = contact_uri (resp, error);
    if (t == NULL)
      return FALSE;
    g_free (d->remote_target);
    d->remote_target = t;
  }
  return TRUE;
}

gboolean
sf_sip_dialog_request_in (SfSipDialog *d, SfSipMsg *req, guint *status)
{
  SfSipStr method = sf_sip_msg_method (req);
  guint32 cseq = (guint32) sf_sip_msg_cseq (req)->number;
  /* 12.2.2: a request of this dialog carries our tag in To. */
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (req), "tag");
  if (!sf_sip_str_eq (method, "CANCEL") &&
      (tt == NULL || d->local_tag == NULL || !sf_sip_str_eq (tt->value, d->local_tag))) {
    *status = 481;
    return FALSE;
  }
  if (!sf_sip_str_eq (method, "ACK") && !sf_sip_str_eq (method, "CANCEL")) {
    if (d->remote_cseq != 0 && cseq <= d->remote_cseq) {
      *status = 500; /* out of order (12.2.2) */
      return FALSE;
    }
    d->remote_cseq = cseq;
  }
  if ((sf_sip_str_eq (method, "INVITE") || sf_sip_str_eq (method, "UPDATE")) &&
      sf_sip_msg_find (req, SF_SIP_HDR_CONTACT) != NULL) {
    char *t = contact_uri (req, NULL);
    if (t == NULL) {
      *status = 400;
      return FALSE;
    }
    g_free (d->remote_target);
    d->remote_target = t; /* target refresh (12.2.2) */
  }
  return TRUE;
}

/* The URI inside a route value "<uri>;params" (transfer full). */
static char *
inner_uri (const char *route)
{
  const char *lt = strchr (route, '<'), *gt = lt != NULL ? strchr (lt, '>') : NULL;
  return lt != NULL && gt != NULL ? g_strndup (lt + 1, (gsize) (gt - lt - 1)) : g_strdup (route);
}

static gboolean
loose (const char *route)
{
  g_autofree char *uri = inner_uri (route);
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (uri, strlen (uri)), NULL, NULL);
  return u != NULL && sf_sip_uri_param (u, "lr") != NULL;
}

SfSipMsg *
sf_sip_dialog_create_request (SfSipDialog *d, const SfSipDialogRequest *r, char **next_hop, GError **error)
{
  guint32 cseq = r->cseq != 0 ? r->cseq : ++d->local_cseq;
  if (d->local_cseq == 0)
    d->local_cseq = cseq;
  g_autofree char *ruri = NULL;
  g_autoptr (GPtrArray) routes = g_ptr_array_new ();
  if (d->route_set->len == 0) {
    ruri = g_strdup (d->remote_target);
  } else if (loose (d->route_set->pdata[0])) {
    ruri = g_strdup (d->remote_target);
    for (guint i = 0; i < d->route_set->len; i++)
      g_ptr_array_add (routes, d->route_set->pdata[i]);
  } else {
    /* The first hop is a strict router: it gets the Request-URI; the remote target
     * goes last in the Route header (12.2.1.1). */
    ruri = inner_uri (d->route_set->pdata[0]);
    for (guint i = 1; i < d->route_set->len; i++)
      g_ptr_array_add (routes, d->route_set->pdata[i]);
  }
  g_autofree char *target_route = g_strdup_printf ("<%s>", d->remote_target);
  if (d->route_set->len > 0 && !loose (d->route_set->pdata[0]))
    g_ptr_array_add (routes, target_route);
  if (next_hop != NULL)
    *next_hop = sf_sip_dialog_next_hop (d);
  g_autofree char *branch = sf_sip_random_branch ();
  SfSipBuilder *b = sf_sip_builder_request (r->method, ruri);
  sf_sip_builder_add (b, "Via", "SIP/2.0/%s %s;branch=%s;rport", r->transport != NULL ? r->transport : "UDP",
                      r->via_sent_by, branch);
  sf_sip_builder_add (b, "Max-Forwards", "70");
  if (routes->len > 0) {
    g_ptr_array_add (routes, NULL);
    g_autofree char *joined = g_strjoinv (", ", (char **) routes->pdata);
    sf_sip_builder_add (b, "Route", "%s", joined);
  }
  sf_sip_builder_add (b, "From", "%s;tag=%s", d->local_uri, d->local_tag);
  if (d->remote_tag != NULL && *d->remote_tag != '\0')
    sf_sip_builder_add (b, "To", "%s;tag=%s", d->remote_uri, d->remote_tag);
  else
    sf_sip_builder_add (b, "To", "%s", d->remote_uri);
  sf_sip_builder_add (b, "Call-ID", "%s", d->call_id);
  sf_sip_builder_add (b, "CSeq", "%u %s", cseq, r->method);
  if (r->contact != NULL)
    sf_sip_builder_add (b, "Contact", "%s", r->contact);
  if (!sf_sip_builder_add_lines (b, r->extra, error)) {
    sf_sip_builder_free (b);
    return NULL;
  }
  if (r->content_type != NULL)
    sf_sip_builder_body (b, r->content_type, r->body, r->body_len);
  return sf_sip_builder_finish (b, error);
}
