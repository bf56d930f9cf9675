/* sf-trigger.c: triggers (sf-trigger.h): parsed at load, matched per event. */
#include "config.h"
#include "sf-trigger.h"
#include "sf-event-private.h"
#include "sipflow/sf-operator.h"
#include <string.h>

/* "3xx" -> 300..399, "486" -> 486..486. */
static gboolean
parse_status (const char *s, gsize len, guint16 *lo, guint16 *hi)
{
  if (len != 3 || s[0] < '1' || s[0] > '6')
    return FALSE;
  if (s[1] == 'x' && s[2] == 'x') {
    *lo = (guint16) ((s[0] - '0') * 100);
    *hi = (guint16) (*lo + 99);
    return TRUE;
  }
  if (!g_ascii_isdigit (s[1]) || !g_ascii_isdigit (s[2]))
    return FALSE;
  *lo = *hi = (guint16) ((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
  return TRUE;
}

/* Event names: what sf_op_name_valid() accepts, and SIP methods (RFC 3261 25.1 token). */
static gboolean
name_valid (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && strchr ("-.!%*_+`'~", *s) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
parse_one (const char *text, const char *arg, gboolean allow_arg, SfTrigger *t, GError **error)
{
  g_autofree char *s = g_strstrip (g_strdup (text));
  char *sp = strchr (s, ' ');
  const char *status = NULL;
  if (sp != NULL) {
    *sp = '\0';
    status = g_strchug (sp + 1);
  }
  char *colon = strchr (s, ':');
  const char *name = NULL;
  if (colon != NULL) {
    *colon = '\0';
    name = colon + 1;
  }
  if (strcmp (s, "*") == 0) {
    t->kinds = SF_EV_ANY;
  } else {
    t->kinds = sf_event_kind_from_name (s);
    if (t->kinds == 0) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "unknown event kind '%s' in trigger '%s' (kinds: sip, txn, timer, "
                   "device, media, child, start, task, or *)", s, text);
      return FALSE;
    }
  }
  if (name != NULL && strcmp (name, "$arg") == 0) {
    if (!allow_arg) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "'$arg' is for operator tables, not for on=\"\" ('%s')", text);
      return FALSE;
    }
    name = arg;
  }
  if (name != NULL && strcmp (name, "*") != 0) {
    if (!name_valid (name)) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "invalid event name '%s' in trigger '%s'", name, text);
      return FALSE;
    }
    t->name = g_strdup (name);
  }
  if (status != NULL) {
    const char *dash = strchr (status, '-');
    gboolean ok = t->kinds == SF_EV_SIP && g_strcmp0 (t->name, "response") == 0;
    guint16 a = 0, b = 0, c = 0, d = 0;
    if (ok && dash == NULL)
      ok = parse_status (status, strlen (status), &a, &b);
    else if (ok)
      ok = parse_status (status, dash - status, &a, &b) && parse_status (dash + 1, strlen (dash + 1), &c, &d) && c >= a;
    if (!ok) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "bad trigger '%s': only sip:response takes a status, written as "
                   "2xx, 486 or 4xx-6xx", text);
      return FALSE;
    }
    t->status_lo = a;
    t->status_hi = dash != NULL ? d : b;
  }
  return TRUE;
}

char *
sf_trigger_text (const SfTrigger *t)
{
  GString *s = g_string_new (NULL);
  if (t->kinds == SF_EV_ANY)
    g_string_append_c (s, '*');
  else
    g_string_append (s, sf_event_kind_name ((SfEventKind) t->kinds));
  if (t->name != NULL)
    g_string_append_printf (s, ":%s", t->name);
  if (t->status_lo != 0) {
    if (t->status_lo % 100 == 0 && t->status_hi == t->status_lo + 99)
      g_string_append_printf (s, " %dxx", t->status_lo / 100);
    else if (t->status_lo == t->status_hi)
      g_string_append_printf (s, " %u", t->status_lo);
    else if (t->status_lo % 100 == 0 && t->status_hi % 100 == 99)
      g_string_append_printf (s, " %dxx-%dxx", t->status_lo / 100, t->status_hi / 100);
    else
      g_string_append_printf (s, " %u-%u", t->status_lo, t->status_hi);
  }
  return g_string_free (s, FALSE);
}

SfTriggerSet *
sf_trigger_set_parse (const char *text, const char *arg, gboolean allow_arg, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, "|", -1);
  guint n = g_strv_length (parts);
  if (n == 0 || (n == 1 && *g_strstrip (parts[0]) == '\0')) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "empty trigger");
    return NULL;
  }
  SfTriggerSet *set = g_new0 (SfTriggerSet, 1);
  set->t = g_new0 (SfTrigger, n);
  GString *norm = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    if (!parse_one (parts[i], arg, allow_arg, &set->t[i], error)) {
      set->n = i + 1;
      g_string_free (norm, TRUE);
      sf_trigger_set_free (set);
      return NULL;
    }
    set->n = i + 1;
    set->kinds |= set->t[i].kinds;
    g_autofree char *one = sf_trigger_text (&set->t[i]);
    if (i > 0)
      g_string_append_c (norm, '|');
    g_string_append (norm, one);
  }
  set->text = g_string_free (norm, FALSE);
  return set;
}

void
sf_trigger_set_free (SfTriggerSet *set)
{
  if (set == NULL)
    return;
  for (guint i = 0; i < set->n; i++)
    g_free (set->t[i].name);
  g_free (set->t);
  g_free (set->text);
  g_free (set);
}

static gboolean
one_matches (const SfTrigger *t, const SfEvent *ev)
{
  if ((t->kinds & ev->kind) == 0)
    return FALSE;
  if (t->name != NULL && strcmp (t->name, ev->name) != 0)
    return FALSE;
  /* sip:response is a response: the engine gives a response event its status as
   * arg, a request event none, so a request whose method is "response" (a valid
   * token) is not one. */
  if (t->kinds == SF_EV_SIP && t->name != NULL && ev->arg == NULL && strcmp (t->name, "response") == 0)
    return FALSE;
  if (t->status_lo != 0) {
    /* A response event carries its status code as its arg ("486"), or last in it
     * (a proxy branch's "b1 486"). */
    if (ev->arg == NULL)
      return FALSE;
    const char *sp = strrchr (ev->arg, ' ');
    guint64 st = g_ascii_strtoull (sp != NULL ? sp + 1 : ev->arg, NULL, 10);
    if (st < t->status_lo || st > t->status_hi)
      return FALSE;
  }
  return TRUE;
}

gboolean
sf_trigger_set_matches (const SfTriggerSet *set, const SfEvent *ev)
{
  if ((set->kinds & ev->kind) == 0)
    return FALSE;
  for (guint i = 0; i < set->n; i++)
    if (one_matches (&set->t[i], ev))
      return TRUE;
  return FALSE;
}

gboolean
sf_trigger_set_matches_text (const SfTriggerSet *set, const char *text)
{
  const char *colon = strchr (text, ':');
  if (colon == NULL)
    return FALSE;
  g_autofree char *kind_name = g_strndup (text, (gsize) (colon - text));
  SfEventKind kind = sf_event_kind_from_name (kind_name);
  const char *sp = strchr (colon + 1, ' ');
  g_autofree char *name = sp != NULL ? g_strndup (colon + 1, (gsize) (sp - colon - 1)) : g_strdup (colon + 1);
  if (kind == 0 || *name == '\0')
    return FALSE;
  if (kind == SF_EV_SIP && strcmp (name, "response") == 0 && sp == NULL) {
    for (guint i = 0; i < set->n; i++)
      if ((set->t[i].kinds & SF_EV_SIP) != 0 && (set->t[i].name == NULL || strcmp (set->t[i].name, "response") == 0))
        return TRUE;
    return FALSE;
  }
  g_autoptr (SfEvent) ev = sf_event_new (kind, name, sp != NULL ? sp + 1 : NULL);
  return sf_trigger_set_matches (set, ev);
}

static gboolean
one_covers (const SfTrigger *a, const SfTrigger *o)
{
  if ((o->kinds & ~a->kinds) != 0)
    return FALSE;
  if (a->name != NULL && (o->name == NULL || strcmp (a->name, o->name) != 0))
    return FALSE;
  if (a->status_lo != 0 && (o->status_lo == 0 || o->status_lo < a->status_lo || o->status_hi > a->status_hi))
    return FALSE;
  return TRUE;
}

gboolean
sf_trigger_set_covers (const SfTriggerSet *accepted, const SfTriggerSet *on, char **uncovered)
{
  for (guint i = 0; i < on->n; i++) {
    gboolean ok = FALSE;
    for (guint k = 0; k < accepted->n && !ok; k++)
      ok = one_covers (&accepted->t[k], &on->t[i]);
    if (!ok) {
      if (uncovered != NULL)
        *uncovered = sf_trigger_text (&on->t[i]);
      return FALSE;
    }
  }
  return TRUE;
}
