/* sf-api.h: what marks the public API of libsipflow-1, the version of the SDK,
 * and the plugin ABI version the loader checks.
 *
 * Every public function is declared with SF_API at the start of its
 * declaration, its name before the first '(' on that line (or, for a variable,
 * before the ';').  The build reads those declarations to write the linker
 * version script (scripts/gen-version-script.sh): they are the node SIPFLOW_1,
 * the stable API; everything else libsipflow-1.so exports (for the sipflow
 * command and the tests) is in the node SIPFLOW_PRIVATE, which plugins must
 * not use (docs/plugins.md). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* The version script decides what is exported; the attribute keeps a public
 * declaration visible should the library ever be built with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define SF_API __attribute__ ((visibility ("default")))
#else
#define SF_API
#endif

/* The SDK's version (the package's: a unit test compares them).
 * SIPFLOW_API_VERSION is the 1 in libsipflow-1, sipflow-1.pc and the SIPFLOW_1
 * node: it changes only when the public API breaks after a release (before the
 * first one, 0.x, the plugin ABI below is what a break bumps).  The minor
 * version counts additions: 0.2 added sf_ctx_hand_key (a B2BUA's bridge hands
 * its call to a leg) and sf_ctx_emits (is an event class on); a plugin that
 * calls them checks SIPFLOW_CHECK_VERSION (0, 2, 0). */
#define SIPFLOW_MAJOR_VERSION 0
#define SIPFLOW_MINOR_VERSION 2
#define SIPFLOW_MICRO_VERSION 0
#define SIPFLOW_VERSION_STRING "0.2.0"
#define SIPFLOW_API_VERSION 1

/* TRUE when the SDK being compiled against is at least @major.@minor.@micro. */
#define SIPFLOW_CHECK_VERSION(major, minor, micro)                                              \
  (SIPFLOW_MAJOR_VERSION > (major) ||                                                            \
   (SIPFLOW_MAJOR_VERSION == (major) && SIPFLOW_MINOR_VERSION > (minor)) ||                      \
   (SIPFLOW_MAJOR_VERSION == (major) && SIPFLOW_MINOR_VERSION == (minor) &&                      \
    SIPFLOW_MICRO_VERSION >= (micro)))

/* The plugin ABI: a plugin records the value it was built with
 * (SF_PLUGIN_DEFINE, sipflow/sf-plugin.h) and the loader refuses another one.
 * Bump it when anything public changes incompatibly: a public type's layout
 * (SfOperatorDef, SfConfigKey, SfSlice, SfChildEnd; SfEvent is opaque), a public function's
 * signature or meaning, an enum value.  2: the SDK (libsipflow-1, sf-message.h).
 * 3: a plugin's per-instance data is sf_ctx_plugin_data() (sf_ctx_set_data and
 * sf_ctx_get_data, string-keyed, are gone; SfEvent is opaque, read through
 * sf_event_kind/name/arg/payload).  4: SfOperatorDef gained triggers, arg_doc
 * and rfc (flow language 2).  No SDK was released between 1 and 4.
 * Names starting with sf_ are the library's: a plugin's own functions must
 * not use the prefix (and must not declare the library's private ones, which
 * the version script's SIPFLOW_PRIVATE node exports for the command and the
 * tests only, with no promise). */
#define SF_PLUGIN_ABI_VERSION 4

/* The version of the library running (transfer none), "0.2.0": may be newer
 * than SIPFLOW_VERSION_STRING, which is the one compiled against. */
SF_API const char *sf_version (void);

G_END_DECLS
