/* sipflow.h: the SDK in one include (docs/plugins.md).  A plugin compiled with
 * $(pkg-config --cflags sipflow-1) writes #include <sipflow/sipflow.h>. */
#pragma once
#include "sipflow/sf-api.h"
#include "sipflow/sf-config.h"
#include "sipflow/sf-event.h"
#include "sipflow/sf-operator.h"
#include "sipflow/sf-message.h"
#include "sipflow/sf-plugin.h"
