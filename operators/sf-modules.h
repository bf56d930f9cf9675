/* sf-modules.h: the built-in modules (framework/sf-module.h), each described
 * in its own folder (operators/NAME/sf-NAME-module.c), listed once here in
 * setup order: a module comes after those it uses. */
#pragma once
#include "framework/sf-module.h"

G_BEGIN_DECLS

extern const SfModuleDef sf_core_module;        /* operators/core: flow plumbing (timers, spawn, log) */
extern const SfModuleDef sf_transaction_module; /* operators/transaction: the SIP stack and transaction machines */
extern const SfModuleDef sf_media_module;       /* operators/media: RTP media through GStreamer */
extern const SfModuleDef sf_ua_module;          /* operators/ua: the user agent's calls and registration */
extern const SfModuleDef sf_registrar_module;   /* operators/registrar: registrar and location service */
extern const SfModuleDef sf_auth_module;        /* operators/auth: digest authentication (RFC 8760) */
extern const SfModuleDef sf_redirect_module;    /* operators/redirect: the redirect server */
extern const SfModuleDef sf_proxy_module;       /* operators/proxy: the stateful proxy */

/* NULL-terminated, for sf_registry_new(). */
extern const SfModuleDef *const sf_builtin_modules[];

G_END_DECLS
