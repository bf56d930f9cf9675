/* sf-modules.c: the list of built-in modules (see sf-modules.h). */
#include "config.h"
#include "sf-modules.h"
#include "operators/b2bua/sf-b2bua.h"

const SfModuleDef *const sf_builtin_modules[] = {
  &sf_core_module,
  &sf_ua_module,          /* first: its setup checks [ua] (a bad key is the first error, as before modules) */
  &sf_transaction_module,
  &sf_media_module,
  &sf_registrar_module,
  &sf_auth_module,
  &sf_redirect_module,
  &sf_proxy_module,
  &sf_b2bua_module,       /* after ua and media: the bridge drives ua.xml legs */
  NULL,
};
