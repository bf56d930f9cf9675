/* test-events-golden.c: the event lines, byte for byte, against lines kept
 * from the build before the event writer was made cheaper (issue 25, round 8):
 * any change of a line's bytes (escaping, field order, the timestamp) fails
 * here.  Timestamps are the fake clock's (sf_test_env_new), advanced across
 * second and day boundaries; the only normalisation is the loopback ports
 * (free ports, different each run: five digits, as the sizes assume) and the
 * proxy's own branch hashes and Record-Route MACs, which hash those ports.
 *  - json_values: every sf-json.h writer over strings a remote party can send
 *    (quotes, backslashes, every control byte, DEL, UTF-8, invalid UTF-8)
 *  - json_every_position: each byte at each place of strings of 1 to 40
 *    bytes against the rule written out (the scan by words, its tails)
 *  - engine_lines: state, step, timer, instance_end and a flow's own event
 *    (fields, a hostile key and extra fields kept in the line prefix), each
 *    event class, on the fake clock across seconds and a day
 *  - ts_dates: the timestamp's date and time as GDateTime writes them, 1970
 *    to past the year 9999
 *  - proxy_call: an INVITE whose Via does not parse (400, statelessly; its
 *    sip_in once crashed the tap), a proxied INVITE and 200 with a Call-ID
 *    holding a quote and a backslash, messages on (sip_in, sip_out,
 *    transactions, timers, the proxy's events), then messages full over an
 *    OPTIONS whose Subject holds UTF-8, invalid UTF-8, a quote and a backslash
 * SF_GOLDEN_PRINT=1 prints the lines as C strings instead of comparing (how
 * the tables were made). */
#include "config.h"
#include "sf-test.h"
#include "framework/sf-json.h"
#include "framework/sf-endpoint-private.h"
#include "operators/proxy/sf-proxy.h"
#include "states/sf-ctx.h"
#include <glib/gstdio.h>
#include <string.h>

static void
print_c (const char *s)
{
  g_print ("  \"");
  for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      g_print ("\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f)
      g_print ("\\%03o", *p);
    else
      g_print ("%c", *p);
  }
  g_print ("\",\n");
}

/* Compares @got (n lines) to @want (NULL-terminated), or prints @got. */
static void
compare (const char *what, const char *const *got, guint n, const char *const *want)
{
  if (g_getenv ("SF_GOLDEN_PRINT") != NULL) {
    g_print ("\n/* %s */\n", what);
    for (guint i = 0; i < n; i++)
      print_c (got[i]);
    return;
  }
  guint w = g_strv_length ((char **) want);
  CU_ASSERT_EQUAL (n, w);
  for (guint i = 0; i < MIN (n, w); i++)
    if (strcmp (got[i], want[i]) != 0) {
      g_printerr ("%s line %u:\n got  %s\n want %s\n", what, i, got[i], want[i]);
      CU_FAIL ("an event line differs from the golden one");
    }
}

/* ---- json_values ---- */

static const char *const hostile[] = {
  "",
  "plain",
  "quote\"back\\slash",
  "\"\\\"\\",
  "nl\ncr\rtab\tbs\bff\fvt\vesc\033del\177end",
  "\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020\021\022\023\024\025\026\027\030\031\032\033\034"
  "\035\036\037",
  "caf\303\251 \342\202\254 \360\237\230\200",
  "bad \377\376 half \303 overlong \300\257 surrogate \355\240\200 end",
  "\303\050\"\\\001\377",
  "a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789",
  "z9hG4bK-340-1-0|127.0.0.1:31679|INVITE",
  "sip:callee@127.0.0.1:31360;transport=UDP",
  "0123456\"",
  "01234567\"",
  "012345678\\",
  "0123456789abcde\001",
  "0123456789abcdef\177",
  "0123456789abcdefg\200",
};

static const char *const golden_json[] = {
  "{\"event\":\"\",\"\":\"\",\"k\":\"\",\"null\":null,\"v\":[\"\",\"x\",\"0123456789abcdefg\357\277\275\"],\"v2\":[\"\",\"x\"],\"none\":[],\"\"}",
  "{\"event\":\"plain\",\"plain\":\"plain\",\"k\":\"plain\",\"null\":null,\"v\":[\"plain\",\"x\",\"0123456789abcdef\\u007f\"],\"v2\":[\"plain\",\"x\"],\"none\":[],\"plain\"}",
  "{\"event\":\"quote\\\"back\\\\slash\",\"quote\\\"back\\\\slash\":\"quote\\\"back\\\\slash\",\"k\":\"quote\\\"back\\\\slash\",\"null\":null,\"v\":[\"quote\\\"back\\\\slash\",\"x\",\"0123456789abcde\\u0001\"],\"v2\":[\"quote\\\"back\\\\slash\",\"x\"],\"none\":[],\"quote\\\"back\\\\slash\"}",
  "{\"event\":\"\\\"\\\\\\\"\\\\\",\"\\\"\\\\\\\"\\\\\":\"\\\"\\\\\\\"\\\\\",\"k\":\"\\\"\\\\\\\"\\\\\",\"null\":null,\"v\":[\"\\\"\\\\\\\"\\\\\",\"x\",\"012345678\\\\\"],\"v2\":[\"\\\"\\\\\\\"\\\\\",\"x\"],\"none\":[],\"\\\"\\\\\\\"\\\\\"}",
  "{\"event\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"k\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"null\":null,\"v\":[\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"x\",\"01234567\\\"\"],\"v2\":[\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"x\"],\"none\":[],\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\"}",
  "{\"event\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"k\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"null\":null,\"v\":[\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"x\",\"0123456\\\"\"],\"v2\":[\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"x\"],\"none\":[],\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"}",
  "{\"event\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"caf\303\251 \342\202\254 \360\237\230\200\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"k\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"null\":null,\"v\":[\"caf\303\251 \342\202\254 \360\237\230\200\",\"x\",\"sip:callee@127.0.0.1:31360;transport=UDP\"],\"v2\":[\"caf\303\251 \342\202\254 \360\237\230\200\",\"x\"],\"none\":[],\"caf\303\251 \342\202\254 \360\237\230\200\"}",
  "{\"event\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"k\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"null\":null,\"v\":[\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"x\",\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\"],\"v2\":[\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"x\"],\"none\":[],\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\"}",
  "{\"event\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"\357\277\275(\\\"\\\\\\u0001\357\277\275\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"k\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"null\":null,\"v\":[\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"x\",\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\"],\"v2\":[\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"x\"],\"none\":[],\"\357\277\275(\\\"\\\\\\u0001\357\277\275\"}",
  "{\"event\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"k\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"null\":null,\"v\":[\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"x\",\"\357\277\275(\\\"\\\\\\u0001\357\277\275\"],\"v2\":[\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"x\"],\"none\":[],\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\"}",
  "{\"event\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"k\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"null\":null,\"v\":[\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"x\",\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\"],\"v2\":[\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"x\"],\"none\":[],\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\"}",
  "{\"event\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"sip:callee@127.0.0.1:31360;transport=UDP\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"k\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"null\":null,\"v\":[\"sip:callee@127.0.0.1:31360;transport=UDP\",\"x\",\"caf\303\251 \342\202\254 \360\237\230\200\"],\"v2\":[\"sip:callee@127.0.0.1:31360;transport=UDP\",\"x\"],\"none\":[],\"sip:callee@127.0.0.1:31360;transport=UDP\"}",
  "{\"event\":\"0123456\\\"\",\"0123456\\\"\":\"0123456\\\"\",\"k\":\"0123456\\\"\",\"null\":null,\"v\":[\"0123456\\\"\",\"x\",\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"],\"v2\":[\"0123456\\\"\",\"x\"],\"none\":[],\"0123456\\\"\"}",
  "{\"event\":\"01234567\\\"\",\"01234567\\\"\":\"01234567\\\"\",\"k\":\"01234567\\\"\",\"null\":null,\"v\":[\"01234567\\\"\",\"x\",\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\"],\"v2\":[\"01234567\\\"\",\"x\"],\"none\":[],\"01234567\\\"\"}",
  "{\"event\":\"012345678\\\\\",\"012345678\\\\\":\"012345678\\\\\",\"k\":\"012345678\\\\\",\"null\":null,\"v\":[\"012345678\\\\\",\"x\",\"\\\"\\\\\\\"\\\\\"],\"v2\":[\"012345678\\\\\",\"x\"],\"none\":[],\"012345678\\\\\"}",
  "{\"event\":\"0123456789abcde\\u0001\",\"0123456789abcde\\u0001\":\"0123456789abcde\\u0001\",\"k\":\"0123456789abcde\\u0001\",\"null\":null,\"v\":[\"0123456789abcde\\u0001\",\"x\",\"quote\\\"back\\\\slash\"],\"v2\":[\"0123456789abcde\\u0001\",\"x\"],\"none\":[],\"0123456789abcde\\u0001\"}",
  "{\"event\":\"0123456789abcdef\\u007f\",\"0123456789abcdef\\u007f\":\"0123456789abcdef\\u007f\",\"k\":\"0123456789abcdef\\u007f\",\"null\":null,\"v\":[\"0123456789abcdef\\u007f\",\"x\",\"plain\"],\"v2\":[\"0123456789abcdef\\u007f\",\"x\"],\"none\":[],\"0123456789abcdef\\u007f\"}",
  "{\"event\":\"0123456789abcdefg\357\277\275\",\"0123456789abcdefg\357\277\275\":\"0123456789abcdefg\357\277\275\",\"k\":\"0123456789abcdefg\357\277\275\",\"null\":null,\"v\":[\"0123456789abcdefg\357\277\275\",\"x\",\"\"],\"v2\":[\"0123456789abcdefg\357\277\275\",\"x\"],\"none\":[],\"0123456789abcdefg\357\277\275\"}",
  "{\"event\":\"numbers\",\"i\":0,\"i\":1,\"i\":-1,\"i\":9,\"i\":10,\"i\":123456789,\"i\":9223372036854775807,\"i\":-9223372036854775808,\"d\":0.000,\"dk\":0.000,\"d\":0.001,\"dk\":0.001,\"d\":0.002,\"dk\":0.002,\"d\":1.234,\"dk\":1.234,\"d\":2.500,\"dk\":2.500,\"d\":-0.250,\"dk\":-0.250,\"d\":1000000000000.000,\"dk\":1000000000000.000,\"d\":123.456,\"dk\":123.456,\"d\":10000000000000000525047602552044202487,\"dk\":10000000000000000525047602552044202487,\"d\":-0.000,\"dk\":-0.000,\"t\":true,\"f\":false,\"raw\":{\"a\":[1,2]}}",
  NULL
};

static void
json_values (void)
{
  GPtrArray *got = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++) {
    GString *out = sf_json_begin (hostile[i]);
    sf_json_add_str (out, hostile[i], hostile[i]);
    sf_json_add_str_k (out, "k", hostile[i]);
    sf_json_add_str (out, "null", NULL);
    const char *v[] = { hostile[i], "x", hostile[G_N_ELEMENTS (hostile) - 1 - i], NULL };
    sf_json_add_strv (out, "v", v, -1);
    sf_json_add_strv_k (out, "v2", v, 2);
    sf_json_add_strv (out, "none", v, 0);
    g_string_append_c (out, ',');
    sf_json_append_string (out, hostile[i]);
    g_ptr_array_add (got, sf_json_end (out));
  }
  static const gint64 ints[] = { 0, 1, -1, 9, 10, 123456789, G_MAXINT64, G_MININT64 };
  static const double doubles[] = { 0, 0.0005, 0.0015, 1.2345, 2.5, -0.25, 1e12, 123.456, 1e300, -1e-9 };
  GString *out = sf_json_begin ("numbers");
  for (guint i = 0; i < G_N_ELEMENTS (ints); i++)
    sf_json_add_int (out, "i", ints[i]);
  for (guint i = 0; i < G_N_ELEMENTS (doubles); i++) {
    sf_json_add_double (out, "d", doubles[i]);
    sf_json_add_double_k (out, "dk", doubles[i]);
  }
  sf_json_add_bool (out, "t", TRUE);
  sf_json_add_bool (out, "f", FALSE);
  sf_json_add_raw (out, "raw", "{\"a\":[1,2]}");
  g_ptr_array_add (got, sf_json_end (out));
  compare ("json", (const char *const *) got->pdata, got->len, golden_json);
  g_ptr_array_unref (got);
}

/* ---- json_every_position ---- */

/* Each byte at each place of plain strings of 1 to 40 bytes (every word and
 * tail the scan by words meets), the buffer full or not, against the rule
 * written out here: RFC 8259's escapes, a byte that is not UTF-8 alone
 * replaced by U+FFFD (as g_utf8_make_valid writes it). */
static void
json_every_position (void)
{
  guint bad = 0;
  for (guint c = 1; c < 256; c++) {
    GString *want_c = g_string_new (NULL);
    if (c == '"' || c == '\\')
      g_string_append_printf (want_c, "\\%c", c);
    else if (c == '\n')
      g_string_append (want_c, "\\n");
    else if (c == '\r')
      g_string_append (want_c, "\\r");
    else if (c == '\t')
      g_string_append (want_c, "\\t");
    else if (c < 0x20 || c == 0x7f)
      g_string_append_printf (want_c, "\\u%04x", c);
    else if (c >= 0x80)
      g_string_append (want_c, "\357\277\275");
    else
      g_string_append_c (want_c, (char) c);
    for (guint len = 1; len <= 40; len++)
      for (guint at = 0; at < len; at++) {
        char in[41];
        memset (in, 'a' + at % 26, len);
        in[at] = (char) c;
        in[len] = '\0';
        GString *got = g_string_sized_new (at % 3 == 0 ? 1 : 256); /* small: the room is made */
        g_string_append (got, "x");
        sf_json_append_string (got, in);
        GString *want = g_string_new ("x\"");
        g_string_append_len (want, in, at);
        g_string_append (want, want_c->str);
        g_string_append (want, in + at + 1);
        g_string_append_c (want, '"');
        if (strcmp (got->str, want->str) != 0 || got->len != want->len) {
          if (bad++ < 5)
            g_printerr ("json byte 0x%02x at %u of %u: got %s want %s\n", c, at, len, got->str, want->str);
        }
        g_string_free (got, TRUE);
        g_string_free (want, TRUE);
      }
    g_string_free (want_c, TRUE);
  }
  CU_ASSERT_EQUAL (bad, 0);
}

/* ---- engine_lines ---- */

/* GEmit: the flow's own event named by its arg, its fields every hostile string. */
static SfOpResult
g_emit (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  (void) ev;
  if (!sf_ctx_emits (ctx))
    return SF_OP_CONTINUE;
  GString *f = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++) {
    if (i > 0)
      g_string_append_c (f, ',');
    g_string_append (f, "\"s\":");
    sf_json_append_string (f, hostile[i]);
  }
  sf_ctx_emit (ctx, arg, f->str);
  sf_ctx_emit (ctx, "bare", NULL);
  g_string_free (f, TRUE);
  return SF_OP_CONTINUE;
}

static const SfOperatorDef golden_ops[] = {
  { "GEmit", g_emit, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, NULL, NULL, "test", NULL, NULL, NULL },
};

#define ENGINE_FLOW                                                                                          \
  "<flow version=\"1\" name=\"golden\" initial=\"A\">"                                                     \
  "<state name=\"A\"><normal><op name=\"TOn\" arg=\"x\" next=\"B\"/><op name=\"TCont\"/></normal></state>" \
  "<state name=\"B\"><entry><op name=\"GEmit\" arg=\"golden_event\"/></entry>"                            \
  "<normal><op name=\"TOn\" arg=\"y\" next=\"A\"/></normal></state></flow>"

static const char *const golden_engine[] = {
  "{\"event\":\"step\",\"machine\":\"golden\",\"call\":\"c1\",\"state\":\"A\",\"trigger\":\"device:quote\\\"back\\\\slash\",\"ops\":[\"TCont\"],\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c1\",\"from\":\"A\",\"to\":\"B\",\"trigger\":\"device:x\",\"ops\":[\"TOn\"],\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"golden_event\",\"machine\":\"golden\",\"call\":\"c1\",\"s\":\"\",\"s\":\"plain\",\"s\":\"quote\\\"back\\\\slash\",\"s\":\"\\\"\\\\\\\"\\\\\",\"s\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"s\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"s\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"s\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"s\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"s\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"s\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"s\":\"0123456\\\"\",\"s\":\"01234567\\\"\",\"s\":\"012345678\\\\\",\"s\":\"0123456789abcde\\u0001\",\"s\":\"0123456789abcdef\\u007f\",\"s\":\"0123456789abcdefg\357\277\275\",\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"bare\",\"machine\":\"golden\",\"call\":\"c1\",\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c1\",\"from\":\"B\",\"to\":\"A\",\"trigger\":\"device:y\",\"ops\":[\"TOn\"],\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c1\",\"name\":\"T\\\"1\",\"action\":\"set\",\"ms\":1500,\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c1\",\"name\":\"T2\",\"action\":\"set\",\"ms\":1,\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c1\",\"name\":\"T\\\"1\",\"action\":\"cancelled\",\"ts\":\"2026-11-30T23:59:59.998000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c1\",\"name\":\"T2\",\"action\":\"fired\",\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"step\",\"machine\":\"golden\",\"call\":\"c1\",\"state\":\"A\",\"trigger\":\"timer:T2\",\"ops\":[\"TCont\"],\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"step\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"state\":\"A\",\"trigger\":\"device:quote\\\"back\\\\slash\",\"ops\":[\"TCont\"],\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"from\":\"A\",\"to\":\"B\",\"trigger\":\"device:x\",\"ops\":[\"TOn\"],\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"golden_event\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\",\"s\":\"plain\",\"s\":\"quote\\\"back\\\\slash\",\"s\":\"\\\"\\\\\\\"\\\\\",\"s\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"s\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"s\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"s\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"s\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"s\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"s\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"s\":\"0123456\\\"\",\"s\":\"01234567\\\"\",\"s\":\"012345678\\\\\",\"s\":\"0123456789abcde\\u0001\",\"s\":\"0123456789abcdef\\u007f\",\"s\":\"0123456789abcdefg\357\277\275\",\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"bare\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"from\":\"B\",\"to\":\"A\",\"trigger\":\"device:y\",\"ops\":[\"TOn\"],\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"name\":\"T\\\"1\",\"action\":\"set\",\"ms\":1500,\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"name\":\"T2\",\"action\":\"set\",\"ms\":1,\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"name\":\"T\\\"1\",\"action\":\"cancelled\",\"ts\":\"2026-11-30T23:59:59.999000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"name\":\"T2\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:00.000000Z\"}",
  "{\"event\":\"step\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"state\":\"A\",\"trigger\":\"timer:T2\",\"ops\":[\"TCont\"],\"ts\":\"2026-12-01T00:00:00.000000Z\"}",
  "{\"event\":\"step\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"state\":\"A\",\"trigger\":\"device:quote\\\"back\\\\slash\",\"ops\":[\"TCont\"],\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"from\":\"A\",\"to\":\"B\",\"trigger\":\"device:x\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"golden_event\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"s\":\"\",\"s\":\"plain\",\"s\":\"quote\\\"back\\\\slash\",\"s\":\"\\\"\\\\\\\"\\\\\",\"s\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"s\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"s\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"s\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"s\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"s\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"s\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"s\":\"0123456\\\"\",\"s\":\"01234567\\\"\",\"s\":\"012345678\\\\\",\"s\":\"0123456789abcde\\u0001\",\"s\":\"0123456789abcdef\\u007f\",\"s\":\"0123456789abcdefg\357\277\275\",\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"bare\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"from\":\"B\",\"to\":\"A\",\"trigger\":\"device:y\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"name\":\"T\\\"1\",\"action\":\"set\",\"ms\":1500,\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"name\":\"T2\",\"action\":\"set\",\"ms\":1,\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"name\":\"T\\\"1\",\"action\":\"cancelled\",\"ts\":\"2026-12-01T00:00:00.001000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"name\":\"T2\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:00.002000Z\"}",
  "{\"event\":\"step\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"state\":\"A\",\"trigger\":\"timer:T2\",\"ops\":[\"TCont\"],\"ts\":\"2026-12-01T00:00:00.002000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c1\",\"late\":\"q\\\"\",\"from\":\"A\",\"to\":\"B\",\"trigger\":\"device:x\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:01.003000Z\"}",
  "{\"event\":\"golden_event\",\"machine\":\"golden\",\"call\":\"c1\",\"late\":\"q\\\"\",\"s\":\"\",\"s\":\"plain\",\"s\":\"quote\\\"back\\\\slash\",\"s\":\"\\\"\\\\\\\"\\\\\",\"s\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"s\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"s\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"s\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"s\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"s\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"s\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"s\":\"0123456\\\"\",\"s\":\"01234567\\\"\",\"s\":\"012345678\\\\\",\"s\":\"0123456789abcde\\u0001\",\"s\":\"0123456789abcdef\\u007f\",\"s\":\"0123456789abcdefg\357\277\275\",\"ts\":\"2026-12-01T00:00:01.003000Z\"}",
  "{\"event\":\"bare\",\"machine\":\"golden\",\"call\":\"c1\",\"late\":\"q\\\"\",\"ts\":\"2026-12-01T00:00:01.003000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c1\",\"late\":\"q\\\"\",\"from\":\"B\",\"to\":\"A\",\"trigger\":\"device:y\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:01.003000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"from\":\"A\",\"to\":\"B\",\"trigger\":\"device:x\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:01.004000Z\"}",
  "{\"event\":\"golden_event\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\",\"s\":\"plain\",\"s\":\"quote\\\"back\\\\slash\",\"s\":\"\\\"\\\\\\\"\\\\\",\"s\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"s\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"s\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"s\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"s\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"s\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"s\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"s\":\"0123456\\\"\",\"s\":\"01234567\\\"\",\"s\":\"012345678\\\\\",\"s\":\"0123456789abcde\\u0001\",\"s\":\"0123456789abcdef\\u007f\",\"s\":\"0123456789abcdefg\357\277\275\",\"ts\":\"2026-12-01T00:00:01.004000Z\"}",
  "{\"event\":\"bare\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"ts\":\"2026-12-01T00:00:01.004000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"from\":\"B\",\"to\":\"A\",\"trigger\":\"device:y\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:01.004000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"from\":\"A\",\"to\":\"B\",\"trigger\":\"device:x\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:01.006000Z\"}",
  "{\"event\":\"golden_event\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"s\":\"\",\"s\":\"plain\",\"s\":\"quote\\\"back\\\\slash\",\"s\":\"\\\"\\\\\\\"\\\\\",\"s\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"s\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"s\":\"caf\303\251 \342\202\254 \360\237\230\200\",\"s\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"s\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"s\":\"a long plain string of more than sixteen bytes, so that a scan by words meets every tail length 0123456789\",\"s\":\"z9hG4bK-340-1-0|127.0.0.1:31679|INVITE\",\"s\":\"sip:callee@127.0.0.1:31360;transport=UDP\",\"s\":\"0123456\\\"\",\"s\":\"01234567\\\"\",\"s\":\"012345678\\\\\",\"s\":\"0123456789abcde\\u0001\",\"s\":\"0123456789abcdef\\u007f\",\"s\":\"0123456789abcdefg\357\277\275\",\"ts\":\"2026-12-01T00:00:01.006000Z\"}",
  "{\"event\":\"bare\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"ts\":\"2026-12-01T00:00:01.006000Z\"}",
  "{\"event\":\"state\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"from\":\"B\",\"to\":\"A\",\"trigger\":\"device:y\",\"ops\":[\"TOn\"],\"ts\":\"2026-12-01T00:00:01.006000Z\"}",
  "{\"event\":\"instance_end\",\"machine\":\"golden\",\"call\":\"c2\",\"key\":\"nl\\ncr\\rtab\\tbs\\u0008ff\\u000cvt\\u000besc\\u001bdel\\u007fend\",\"state\":\"A\",\"reason\":\"quote\\\"back\\\\slash\",\"duration_s\":2.010,\"ts\":\"2026-12-01T00:00:02.008000Z\"}",
  "{\"event\":\"instance_end\",\"machine\":\"golden\",\"call\":\"c3\",\"key\":\"bad \357\277\275\357\277\275 half \357\277\275 overlong \357\277\275\357\277\275 surrogate \357\277\275\357\277\275\357\277\275 end\",\"call_id\":\"a\\\"b\",\"n\":1,\"state\":\"A\",\"reason\":\"\357\277\275(\\\"\\\\\\u0001\357\277\275\",\"duration_s\":86402.017,\"ts\":\"2026-12-02T00:00:02.015000Z\"}",
  "{\"event\":\"instance_end\",\"machine\":\"golden\",\"call\":\"c1\",\"late\":\"q\\\"\",\"state\":\"A\",\"reason\":null,\"duration_s\":86402.017,\"ts\":\"2026-12-02T00:00:02.015000Z\"}",
  "{\"event\":\"stats\",\"instances_live\":3,\"instances_created\":3,\"instances_ended\":3,\"events_posted\":27,\"events_dispatched\":27,\"events_taken\":27,\"events_untaken\":0,\"events_dropped\":0,\"transitions\":12,\"timers_started\":12,\"timers_fired\":6,\"timers_cancelled\":6,\"timers_pending\":0,\"op_errors\":0,\"outcomes_unmapped\":0,\"ts\":\"2026-12-02T00:00:02.015000Z\"}",
  "{\"ts\":\"2026-12-02T00:00:02.015000Z\"}",
  "not an object",
  "{\"event\":\"service_line\",\"v\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\",\"ts\":\"2026-12-02T00:00:02.015000Z\"}",
  NULL
};

static void
engine_lines (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE_FATAL (sf_registry_add (env->reg, NULL, golden_ops, G_N_ELEMENTS (golden_ops), &error));
  g_autoptr (SfMachine) m = sf_test_load (env, "golden.xml", ENGINE_FLOW);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  sf_endpoint_set_messages (env->ep, SF_MESSAGES_ON); /* step and timer lines too */
  /* a wall clock in 2026, the day's last second */
  sf_endpoint_advance (env->ep, (guint64) 1796083199 * 1000 + 998);
  SfInstance *plain = sf_endpoint_create (env->ep, m, NULL, NULL, NULL);
  SfInstance *keyed = sf_endpoint_create (env->ep, m, hostile[4], NULL, NULL);
  SfInstance *odd = sf_endpoint_create (env->ep, m, hostile[7], NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (plain);
  CU_ASSERT_PTR_NOT_NULL_FATAL (keyed);
  CU_ASSERT_PTR_NOT_NULL_FATAL (odd);
  sf_endpoint_set_event_fields (odd, g_strdup ("\"call_id\":\"a\\\"b\",\"n\":1"));
  sf_endpoint_drain (env->ep);
  for (int round = 0; round < 2; round++) {
    SfInstance *all[] = { plain, keyed, odd };
    for (guint i = 0; i < G_N_ELEMENTS (all); i++) {
      sf_endpoint_post (env->ep, all[i], sf_event_new (SF_EV_DEVICE, hostile[2], hostile[7])); /* a step */
      sf_endpoint_post (env->ep, all[i], sf_event_new (SF_EV_DEVICE, "x", "486"));
      sf_endpoint_post (env->ep, all[i], sf_event_new (SF_EV_DEVICE, "y", NULL));
      sf_endpoint_drain (env->ep);
      sf_endpoint_timer_start (env->ep, all[i], "T\"1", 1500);
      sf_endpoint_timer_start (env->ep, all[i], "T2", 1);
      sf_endpoint_timer_cancel (env->ep, all[i], "T\"1");
      sf_endpoint_advance (env->ep, 1 + i); /* microseconds and seconds move, then the day */
    }
    /* fields added later: the kept prefix must not hide them */
    if (round == 0)
      sf_endpoint_set_event_fields (plain, g_strdup ("\"late\":\"q\\\"\""));
    /* the classes: transaction lines and the rest on their own */
    sf_endpoint_set_event_classes (env->ep, round == 0 ? SF_EVC_STATE | SF_EVC_FLOW : SF_EVC_ALL);
    sf_endpoint_advance (env->ep, 999);
  }
  sf_endpoint_set_event_classes (env->ep, SF_EVC_ALL);
  sf_endpoint_end_instance (env->ep, keyed, hostile[2]);
  sf_endpoint_advance (env->ep, 86400 * 1000 + 7);
  sf_endpoint_end_instance (env->ep, odd, hostile[8]);
  sf_endpoint_end_instance (env->ep, plain, NULL);
  g_autofree char *stats = sf_endpoint_stats_json (env->ep);
  sf_endpoint_emit_line (env->ep, g_steal_pointer (&stats));
  sf_endpoint_emit_line (env->ep, g_strdup ("{}"));
  sf_endpoint_emit_line (env->ep, g_strdup ("not an object"));
  GString *as = sf_json_begin ("service_line");
  sf_json_add_str (as, "v", hostile[5]);
  sf_endpoint_emit_json_as (env->ep, SF_EVC_SERVICE, as);
  compare ("engine", (const char *const *) env->lines->pdata, env->lines->len, golden_engine);
  sf_test_env_free (env);
}

/* ---- ts_dates ---- */

/* The "ts" of a line against GDateTime's text for the same second, from 1970
 * through the year 9999 and past it (GDateTime's range ends there: the
 * fallback text), leap days and centuries on the way. */
static void
ts_dates (void)
{
  SfTestEnv *env = sf_test_env_new ();
  guint64 ms = 0;
  guint bad = 0;
  for (guint i = 0; i < 4000; i++) {
    sf_endpoint_emit_line (env->ep, g_strdup ("{}"));
    const char *line = env->lines->pdata[env->lines->len - 1];
    gint64 sec = (gint64) (ms / 1000);
    g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (sec);
    g_autofree char *day = t != NULL ? g_date_time_format (t, "%Y-%m-%dT%H:%M:%S.") : g_strdup ("1970-01-01T00:00:00.");
    g_autofree char *want = g_strdup_printf ("{\"ts\":\"%s%06uZ\"}", day, (guint) (ms % 1000 * 1000));
    if (strcmp (line, want) != 0 && bad++ < 5)
      g_printerr ("ts_dates: %s, want %s\n", line, want);
    /* about 2.5 years and an odd second a step; every 50th a leap day's edges */
    guint64 step = i % 50 == 49 ? 86400 * 1000 + 1 : (guint64) 912 * 86400 * 1000 + 1001 + i;
    ms += step;
    sf_endpoint_advance (env->ep, step);
  }
  CU_ASSERT_EQUAL (bad, 0);
  sf_test_env_free (env);
}

/* ---- proxy_call ---- */

/* @line with every decimal run equal to a port of @ports made "PORT", and
 * the proxy's branch hashes (of the ports) made "HASH" (transfer full). */
static char *
normalise (const char *line, const guint *ports, guint n_ports)
{
  GString *s = g_string_new (NULL);
  for (const char *p = line; *p != '\0';) {
    if (g_ascii_isdigit (*p) && (p == line || !g_ascii_isdigit (p[-1]))) {
      const char *e = p;
      while (g_ascii_isdigit (*e))
        e++;
      guint64 v = g_ascii_strtoull (p, NULL, 10);
      gboolean port = FALSE;
      for (guint i = 0; i < n_ports; i++)
        port |= e - p <= 5 && v == ports[i];
      if (port)
        g_string_append (s, "PORT");
      else
        g_string_append_len (s, p, e - p);
      p = e;
    } else if (g_str_has_prefix (p, ";sft=")) {
      g_string_append (s, ";sft=MAC");
      p += strlen (";sft=");
      while (g_ascii_isxdigit (*p))
        p++;
    } else if (g_str_has_prefix (p, "z9hG4bKsfp")) {
      g_string_append (s, "z9hG4bKsfpHASH");
      p += strlen ("z9hG4bKsfp");
      while (g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.')
        p++;
    } else {
      g_string_append_c (s, *p++);
    }
  }
  return g_string_free (s, FALSE);
}

static const char *const golden_proxy[] = {
  "{\"event\":\"listening\",\"transport\":\"udp\",\"addr\":\"127.0.0.1\",\"port\":PORT,\"ts\":\"1970-01-01T00:00:00.000000Z\"}",
  "{\"event\":\"sip_in\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"INVITE sip:callee@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"g\\\"q\\\\1@test\",\"cseq\":\"1 INVITE\",\"size\":241,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"SIP/2.0 400 Bad Request (Via: unexpected '\\\"' at offset 90)\",\"size\":261,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"sip_in\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"INVITE sip:callee@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"g\\\"q\\\\1@test\",\"cseq\":\"1 INVITE\",\"branch\":\"z9hG4bK'b~1%\",\"transaction\":\"t1\",\"machine\":\"ist\",\"size\":296,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"name\":\"Guard\",\"action\":\"set\",\"ms\":240000,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"name\":\"Trying\",\"action\":\"set\",\"ms\":200,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"state\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"from\":\"Start\",\"to\":\"Proceeding\",\"trigger\":\"sip:INVITE\",\"ops\":[\"OpTxnRequest\",\"OpTxnStartTimer\",\"OpTxnStartTimer\"],\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"state\",\"machine\":\"proxy\",\"instance\":\"p1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"call_id\":\"g\\\"q\\\\1@test\",\"from\":\"Idle\",\"to\":\"Routing\",\"trigger\":\"sip:INVITE\",\"ops\":[\"OpProxyValidate\",\"OpProxyClassify\"],\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"state\",\"machine\":\"proxy\",\"instance\":\"p1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"call_id\":\"g\\\"q\\\\1@test\",\"from\":\"Routing\",\"to\":\"Proceeding\",\"trigger\":\"sip:INVITE\",\"ops\":[\"OpProxyRoute\"],\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"branch_forward\",\"machine\":\"proxy-branch\",\"instance\":\"b1\",\"call_id\":\"g\\\"q\\\\1@test\",\"target\":\"(Request-URI)\",\"request_uri\":\"sip:callee@127.0.0.1:PORT\",\"max_breadth\":60,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"proxy-branch\",\"instance\":\"b1\",\"call_id\":\"g\\\"q\\\\1@test\",\"name\":\"C\",\"action\":\"set\",\"ms\":181000,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"INVITE sip:callee@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"g\\\"q\\\\1@test\",\"cseq\":\"1 INVITE\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t2\",\"machine\":\"ict\",\"instance\":\"b1\",\"size\":481,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"name\":\"A\",\"action\":\"set\",\"ms\":500,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"name\":\"B\",\"action\":\"set\",\"ms\":32000,\"ts\":\"2026-12-01T00:00:00.123000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"name\":\"Trying\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:00.323000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"SIP/2.0 100 Trying\",\"call_id\":\"g\\\"q\\\\1@test\",\"cseq\":\"1 INVITE\",\"branch\":\"z9hG4bK'b~1%\",\"status\":100,\"transaction\":\"t1\",\"machine\":\"ist\",\"instance\":\"p1\",\"size\":216,\"ts\":\"2026-12-01T00:00:00.323000Z\"}",
  "{\"event\":\"step\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"state\":\"Proceeding\",\"trigger\":\"timer:Trying\",\"ops\":[\"OpTxnSend100\"],\"ts\":\"2026-12-01T00:00:00.323000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"name\":\"A\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:00.623000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"INVITE sip:callee@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"g\\\"q\\\\1@test\",\"cseq\":\"1 INVITE\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t2\",\"machine\":\"ict\",\"instance\":\"b1\",\"size\":481,\"ts\":\"2026-12-01T00:00:00.623000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"name\":\"A\",\"action\":\"set\",\"ms\":1000,\"ts\":\"2026-12-01T00:00:00.623000Z\"}",
  "{\"event\":\"step\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"state\":\"Calling\",\"trigger\":\"timer:A\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:00.623000Z\"}",
  "{\"event\":\"sip_in\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"SIP/2.0 200 OK\",\"call_id\":\"g\\\"q\\\\1@test\",\"cseq\":\"1 INVITE\",\"branch\":\"z9hG4bKsfpHASH\",\"status\":200,\"transaction\":\"t2\",\"machine\":\"ict\",\"instance\":\"b1\",\"size\":427,\"text\":\"SIP/2.0 200 OK\\r\\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bKsfpHASH;rport\\r\\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK'b~1%\\r\\nFrom: \\\"Caf\303\251 \\\\\\\"q\\\\\\\"\\\" <sip:caller@example.net>;tag=c`1\\r\\nTo: <sip:callee@example.org>;tag=t'2\\r\\nCall-ID: g\\\"q\\\\1@test\\r\\nCSeq: 1 INVITE\\r\\nRecord-Route: <sip:127.0.0.1:PORT;lr;sft=MAC>\\r\\nContact: <sip:callee@127.0.0.1:PORT>\\r\\nContent-Length: 0\\r\\n\\r\\n\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"sip_in\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKjunk\",\"transaction\":\"t3\",\"machine\":\"nist\",\"size\":250,\"text\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\\r\\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bKjunk\\r\\nMax-Forwards: 70\\r\\nFrom: <sip:a@example.net>;tag=j\\r\\nTo: <sip:b@example.org>\\r\\nCall-ID: junk\\r\\nCSeq: 2 OPTIONS\\r\\nSubject: caf\303\251 \357\277\275\357\277\275 \\\"q\\\\\\r\\nContent-Length: 0\\r\\n\\r\\n\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"name\":\"A\",\"action\":\"cancelled\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"name\":\"B\",\"action\":\"cancelled\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"state\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"from\":\"Calling\",\"to\":\"Accepted\",\"trigger\":\"sip:response 200\",\"ops\":[\"OpTxnResponse\",\"OpCancelTimer\",\"OpCancelTimer\"],\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"t2\",\"key\":\"client|z9hG4bKsfpHASH|INVITE\",\"name\":\"M\",\"action\":\"set\",\"ms\":32000,\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nist\",\"instance\":\"t3\",\"key\":\"z9hG4bKjunk|127.0.0.1:PORT|OPTIONS\",\"name\":\"Guard\",\"action\":\"set\",\"ms\":66000,\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"state\",\"machine\":\"nist\",\"instance\":\"t3\",\"key\":\"z9hG4bKjunk|127.0.0.1:PORT|OPTIONS\",\"from\":\"Start\",\"to\":\"Trying\",\"trigger\":\"sip:OPTIONS\",\"ops\":[\"OpTxnRequest\",\"OpTxnStartTimer\"],\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"proxy-branch\",\"instance\":\"b1\",\"call_id\":\"g\\\"q\\\\1@test\",\"name\":\"C\",\"action\":\"cancelled\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"state\",\"machine\":\"proxy-branch\",\"instance\":\"b1\",\"call_id\":\"g\\\"q\\\\1@test\",\"from\":\"Trying\",\"to\":\"Accepted\",\"trigger\":\"sip:response 200\",\"ops\":[\"OpBranchResponse\"],\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"state\",\"machine\":\"proxy\",\"instance\":\"p2\",\"key\":\"z9hG4bKjunk|127.0.0.1:PORT|OPTIONS\",\"call_id\":\"junk\",\"from\":\"Idle\",\"to\":\"Routing\",\"trigger\":\"sip:OPTIONS\",\"ops\":[\"OpProxyValidate\",\"OpProxyClassify\"],\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"proxy_2xx\",\"machine\":\"proxy\",\"instance\":\"p1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"call_id\":\"g\\\"q\\\\1@test\",\"status\":200,\"branch\":\"b1\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"state\",\"machine\":\"proxy\",\"instance\":\"p1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"call_id\":\"g\\\"q\\\\1@test\",\"from\":\"Proceeding\",\"to\":\"Confirmed\",\"trigger\":\"sip:response 200\",\"ops\":[\"OpProxyResponse\"],\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"state\",\"machine\":\"proxy\",\"instance\":\"p2\",\"key\":\"z9hG4bKjunk|127.0.0.1:PORT|OPTIONS\",\"call_id\":\"junk\",\"from\":\"Routing\",\"to\":\"Proceeding\",\"trigger\":\"sip:OPTIONS\",\"ops\":[\"OpProxyRoute\"],\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"SIP/2.0 200 OK\",\"call_id\":\"g\\\"q\\\\1@test\",\"cseq\":\"1 INVITE\",\"branch\":\"z9hG4bK'b~1%\",\"status\":200,\"transaction\":\"t1\",\"machine\":\"ist\",\"instance\":\"p1\",\"size\":336,\"text\":\"SIP/2.0 200 OK\\r\\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK'b~1%\\r\\nFrom: \\\"Caf\303\251 \\\\\\\"q\\\\\\\"\\\" <sip:caller@example.net>;tag=c`1\\r\\nTo: <sip:callee@example.org>;tag=t'2\\r\\nCall-ID: g\\\"q\\\\1@test\\r\\nCSeq: 1 INVITE\\r\\nRecord-Route: <sip:127.0.0.1:PORT;lr;sft=MAC>\\r\\nContact: <sip:callee@127.0.0.1:PORT>\\r\\nContent-Length: 0\\r\\n\\r\\n\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"state\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"from\":\"Proceeding\",\"to\":\"Accepted\",\"trigger\":\"txn:respond 200\",\"ops\":[\"OpTxnRespond\",\"OpCancelTimer\"],\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"name\":\"Guard\",\"action\":\"cancelled\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"ist\",\"instance\":\"t1\",\"key\":\"z9hG4bK'b~1%|127.0.0.1:PORT|INVITE\",\"name\":\"L\",\"action\":\"set\",\"ms\":32000,\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"branch_forward\",\"machine\":\"proxy-branch\",\"instance\":\"b2\",\"call_id\":\"junk\",\"target\":\"(Request-URI)\",\"request_uri\":\"sip:o%22%5c@127.0.0.1:PORT\",\"max_breadth\":60,\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"text\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\\r\\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bKsfpHASH;rport\\r\\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bKjunk\\r\\nMax-Forwards: 69\\r\\nFrom: <sip:a@example.net>;tag=j\\r\\nTo: <sip:b@example.org>\\r\\nCall-ID: junk\\r\\nCSeq: 2 OPTIONS\\r\\nSubject: caf\303\251 \357\277\275\357\277\275 \\\"q\\\\\\r\\nMax-Breadth: 60\\r\\nRecord-Route: <sip:127.0.0.1:PORT;lr;sft=MAC>\\r\\nContent-Length: 0\\r\\n\\r\\n\",\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":500,\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"F\",\"action\":\"set\",\"ms\":32000,\"ts\":\"2026-12-01T00:00:01.373000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:01.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:01.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":1000,\"ts\":\"2026-12-01T00:00:01.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:01.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:02.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:02.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":2000,\"ts\":\"2026-12-01T00:00:02.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:02.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:04.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:04.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:04.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:04.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:08.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:08.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:08.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:08.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:12.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:12.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:12.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:12.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:16.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:16.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:16.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:16.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:20.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:20.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:20.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:20.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:24.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:24.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:24.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:24.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:28.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:28.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:28.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:28.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"fired\",\"ts\":\"2026-12-01T00:00:32.873000Z\"}",
  "{\"event\":\"sip_out\",\"proto\":\"udp\",\"local\":\"127.0.0.1:PORT\",\"remote\":\"127.0.0.1:PORT\",\"start\":\"OPTIONS sip:o%22%5c@127.0.0.1:PORT SIP/2.0\",\"call_id\":\"junk\",\"cseq\":\"2 OPTIONS\",\"branch\":\"z9hG4bKsfpHASH\",\"transaction\":\"t4\",\"machine\":\"nict\",\"instance\":\"b2\",\"size\":435,\"ts\":\"2026-12-01T00:00:32.873000Z\"}",
  "{\"event\":\"timer\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"name\":\"E\",\"action\":\"set\",\"ms\":4000,\"ts\":\"2026-12-01T00:00:32.873000Z\"}",
  "{\"event\":\"step\",\"machine\":\"nict\",\"instance\":\"t4\",\"key\":\"client|z9hG4bKsfpHASH|OPTIONS\",\"state\":\"Trying\",\"trigger\":\"timer:E\",\"ops\":[\"OpTxnRetransmitRequest\"],\"ts\":\"2026-12-01T00:00:32.873000Z\"}",
  NULL
};

static void
proxy_call (void)
{
  SfTestEnv *env = sf_test_env_new ();
  g_autofree char *dir = g_dir_make_tmp ("sf-golden-XXXXXX", NULL);
  g_autofree char *secret = g_build_filename (dir, "secret", NULL);
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (secret, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", -1, NULL));
  g_chmod (secret, 0600);
  g_autofree char *set_secret = g_strconcat ("core.secret_file=", secret, NULL);
  CU_ASSERT_TRUE (sf_config_set (env->cfg, set_secret, NULL));
  CU_ASSERT_TRUE (sf_config_set (env->cfg, "proxy.trusted=127.0.0.0/8", NULL));
  g_autoptr (GError) error = NULL;
  if (!sf_proxy_setup (env->ep, env->cfg, &error))
    g_printerr ("proxy_call: %s\n", error->message);
  CU_ASSERT_PTR_NULL_FATAL (error);
  sf_endpoint_attach (env->ep, NULL);
  sf_endpoint_set_messages (env->ep, SF_MESSAGES_ON);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/proxy.xml", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (tu);
  SfTestStack *t = sf_test_stack_new (env, tu);
  sf_stack_set_gate (t->stack, &sf_proxy_gate);
  guint stack_port = g_inet_socket_address_get_port (t->to);
  sf_endpoint_advance (env->ep, 1796083200000 + 123);
  const char *cid = "g\"q\\1@test";
  /* first a Via that does not parse (a quote in the branch): 400, statelessly */
  g_autofree char *bad = g_strdup_printf (
    "INVITE sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK\"b\\1\r\nMax-Forwards: 70\r\n"
    "From: <sip:caller@example.net>;tag=c1\r\nTo: <sip:callee@example.org>\r\nCall-ID: %s\r\n"
    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    t->port, t->port, cid);
  sf_test_stack_send (t, bad);
  g_autofree char *answer = sf_test_stack_recv (t);
  CU_ASSERT_TRUE (answer != NULL && g_str_has_prefix (answer, "SIP/2.0 400"));
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK'b~1%%\r\nMax-Forwards: 70\r\n"
    "From: \"Caf\303\251 \\\"q\\\"\" <sip:caller@example.net>;tag=c`1\r\nTo: <sip:callee@example.org>\r\nCall-ID: %s\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    t->port, t->port, cid, t->port);
  sf_test_stack_send (t, inv);
  g_autofree char *fwd = sf_test_stack_recv (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (fwd);
  /* the called party answers 200: its Via lines, From, To with a tag, Call-ID, CSeq */
  GString *ok = g_string_new ("SIP/2.0 200 OK\r\n");
  g_auto (GStrv) lines = g_strsplit (fwd, "\r\n", -1);
  for (char **l = lines; *l != NULL && **l != '\0'; l++)
    if (g_str_has_prefix (*l, "Via:") || g_str_has_prefix (*l, "From:") || g_str_has_prefix (*l, "Call-ID:") ||
        g_str_has_prefix (*l, "CSeq:") || g_str_has_prefix (*l, "Record-Route:"))
      g_string_append_printf (ok, "%s\r\n", *l);
    else if (g_str_has_prefix (*l, "To:"))
      g_string_append_printf (ok, "%s;tag=t'2\r\n", *l);
  g_string_append_printf (ok, "Contact: <sip:callee@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n", t->port);
  sf_endpoint_advance (env->ep, 250);
  sf_test_stack_send (t, ok->str);
  g_string_free (ok, TRUE);
  g_autofree char *up = sf_test_stack_recv (t);
  CU_ASSERT_PTR_NOT_NULL (up);
  sf_endpoint_advance (env->ep, 1000);
  /* a malformed datagram, every byte a remote party may send, messages full */
  sf_endpoint_set_messages (env->ep, SF_MESSAGES_FULL);
  g_autofree char *junk = g_strdup_printf (
    "OPTIONS sip:o%%22%%5c@127.0.0.1:%u SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKjunk\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.net>;tag=j\r\n"
    "To: <sip:b@example.org>\r\nCall-ID: junk\r\nCSeq: 2 OPTIONS\r\nSubject: caf\303\251 \377\376 \"q\\\r\n"
    "Content-Length: 0\r\n\r\n", t->port, t->port);
  sf_test_stack_send (t, junk);
  sf_test_peer_wait (t->peer);
  sf_test_peer_quiet (t->peer);
  sf_endpoint_set_messages (env->ep, SF_MESSAGES_ON);
  sf_endpoint_advance (env->ep, 64 * 500);
  sf_test_peer_quiet (t->peer);
  guint ports[] = { stack_port, t->port };
  GPtrArray *got = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < env->lines->len; i++)
    g_ptr_array_add (got, normalise (env->lines->pdata[i], ports, G_N_ELEMENTS (ports)));
  compare ("proxy", (const char *const *) got->pdata, got->len, golden_proxy);
  g_ptr_array_unref (got);
  sf_test_stack_free (t, sf_proxy_teardown);
  g_unlink (secret);
  g_rmdir (dir);
}

void
sf_test_register_events_golden (void)
{
  CU_pSuite s = CU_add_suite ("events_golden", NULL, NULL);
  SF_ADD_TEST (s, json_values);
  SF_ADD_TEST (s, json_every_position);
  SF_ADD_TEST (s, engine_lines);
  SF_ADD_TEST (s, ts_dates);
  SF_ADD_TEST (s, proxy_call);
}
