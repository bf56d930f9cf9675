/* screen.c: an example plugin built from the installed SDK alone
 * (docs/plugins.md):
 *
 *   cc -shared -fPIC screen.c -o screen.so $(pkg-config --cflags --libs sipflow-1)
 *
 * Its operator screen:OpScreen declines a new INVITE from a blocked caller with
 * 603 Decline (RFC 3261 21.6.2) and ends the call; any other event it leaves to
 * the operators after it (SF_OP_SKIP), so the call goes on.  The blocked callers
 * are its own configuration section:
 *
 *   [screen]
 *   blocked = mallory@evil.example.com, eve@127.0.0.1
 *
 * (or --set screen.blocked=...), matched against the From URI's user@host: the
 * user exactly (after %HH unescaping), the host in any case (19.1.4). */
#include <sipflow/sipflow.h>
#include <string.h>

/* Is the caller @user@@host in the list @blocked ("user@host" entries)? */
static gboolean
is_blocked (const char *const *blocked, const char *user, const char *host)
{
  for (gsize i = 0; blocked != NULL && blocked[i] != NULL; i++) {
    const char *at = strrchr (blocked[i], '@');
    if (at == NULL)
      continue;
    if (strlen (user) == (gsize) (at - blocked[i]) && strncmp (blocked[i], user, at - blocked[i]) == 0 &&
        g_ascii_strcasecmp (at + 1, host) == 0)
      return TRUE;
  }
  return FALSE;
}

static SfOpResult
screen_op (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfMessage *msg = sf_message_from_event (ev);
  /* a new INVITE only: one inside a dialog (a To tag) belongs to a call already taken */
  if (msg == NULL || !sf_message_is_request (msg) || !sf_slice_equal (sf_message_method (msg), "INVITE") ||
      sf_message_header_param (msg, "To", 0, "tag", NULL))
    return SF_OP_SKIP;
  const SfUri *from = sf_message_header_uri (msg, "From", 0);
  SfConfig *cfg = sf_ctx_config (ctx);
  if (from == NULL || cfg == NULL)
    return SF_OP_SKIP;
  g_autofree char *user = sf_slice_unescape (sf_uri_user (from));
  g_autofree char *host = sf_slice_dup (sf_uri_host (from));
  if (!is_blocked (sf_config_get_list (cfg, "screen", "blocked"), user, host)) {
    sf_log (ctx, G_LOG_LEVEL_INFO, "%s@%s may call", user, host);
    return SF_OP_SKIP;
  }
  g_autoptr (GError) error = NULL;
  if (!sf_message_reply (ctx, msg, 603, NULL, NULL, &error)) {
    sf_log (ctx, G_LOG_LEVEL_WARNING, "could not decline %s@%s: %s", user, host, error->message);
    return SF_OP_ERROR;
  }
  sf_log (ctx, G_LOG_LEVEL_MESSAGE, "%s@%s declined: 603", user, host);
  return SF_OP_TRANSITION;
}

static const SfOperatorDef screen_ops[] = {
  { "OpScreen", screen_op, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a new INVITE from a caller in screen.blocked (the From URI's user@host) and declines it with 603 "
    "Decline, then transitions; any other INVITE goes on to the next operator", "sip:INVITE", NULL,
    "RFC 3261 21.6.2" },
};

static const SfConfigKey screen_keys[] = {
  { "blocked", SF_CFG_LIST, "", 0, 0, NULL, "callers to decline, user@host of the From URI, comma-separated" },
};

static gboolean
screen_register (SfPluginRegistrar *r, GError **error)
{
  return sf_plugin_add_operators (r, screen_ops, G_N_ELEMENTS (screen_ops), error) &&
         sf_plugin_add_config (r, "screen", screen_keys, G_N_ELEMENTS (screen_keys), error);
}

SF_PLUGIN_DEFINE ("screen", screen_register)
