/* sf-sdk.c: the parts of the public API (include/sipflow/) that are a view on
 * the engine's internals: the library's version, an operator's configuration. */
#include "config.h"
#include "sipflow/sf-api.h"
#include "sipflow/sf-config.h"
#include "sipflow/sf-operator.h"
#include "framework/sf-endpoint.h"

const char *
sf_version (void)
{
  return PACKAGE_VERSION;
}

SfConfig *
sf_ctx_config (SfCtx *ctx)
{
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  return ep != NULL ? sf_endpoint_config (ep) : NULL;
}
