/* test-config.c: declared configuration (docs/architecture.md, "Configuration").
 *  - defaults: every declared key has its default and the source "default"
 *  - file_and_set: a file sets values, --set overrides it, each remembers its source
 *  - booleans: true/false/on/off/yes/no (GKeyFile alone takes only true/false)
 *  - errors_name_the_key: unknown key, unknown section, bad value: the error names the
 *    source, the key and what was expected, and the old value stays
 *  - seconds_off: a seconds key takes 'off'
 *  - lists: comma-separated, blanks trimmed, empty items dropped
 *  - set_syntax: --set without SECTION.KEY=VALUE is refused
 *  - duplicate_section: a section is declared once */
#include "config.h"
#include "sf-test.h"
#include "framework/sf-secret.h"
#include "framework/sf-config-private.h"
#include <glib/gstdio.h>
#include <string.h>

static const SfConfigKey test_keys[] = {
  { "name", SF_CFG_STRING, "sipflow", 0, 0, NULL, "a name" },
  { "count", SF_CFG_INT, "3", 1, 10, NULL, "a count" },
  { "t1_ms", SF_CFG_MS, "500", 1, 60000, NULL, "RFC 3261 T1" },
  { "enabled", SF_CFG_BOOL, "false", 0, 0, NULL, "a switch" },
  { "timeout", SF_CFG_SECONDS, "30", 0, 3600, NULL, "a timeout" },
  { "codecs", SF_CFG_LIST, "PCMU,PCMA", 0, 0, NULL, "a list" },
  { "mode", SF_CFG_ENUM, "fast", 0, 0, "fast|safe", "a choice" },
};

static SfConfig *
cfg_new (void)
{
  SfConfig *cfg = sf_config_new ();
  g_autoptr (GError) error = NULL;
  if (!sf_config_declare (cfg, "test", test_keys, G_N_ELEMENTS (test_keys), &error))
    g_error ("%s", error->message);
  return cfg;
}

static void
defaults (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  CU_ASSERT_STRING_EQUAL (sf_config_get_string (cfg, "test", "name"), "sipflow");
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "test", "count"), 3);
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "test", "t1_ms"), 500);
  CU_ASSERT_FALSE (sf_config_get_bool (cfg, "test", "enabled"));
  CU_ASSERT_EQUAL (g_strv_length ((char **) sf_config_get_list (cfg, "test", "codecs")), 2);
  CU_ASSERT_STRING_EQUAL (sf_config_get_source (cfg, "test", "count"), "default");
  CU_ASSERT_STRING_EQUAL (sf_config_get_string (cfg, "core", "log_level"), "warning");
}

static void
file_and_set (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE (sf_config_load_data (cfg, "# comment\n[test]\ncount = 7\nname = alice\n", "alice.ini", &error));
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "test", "count"), 7);
  CU_ASSERT_STRING_EQUAL (sf_config_get_source (cfg, "test", "count"), "alice.ini");
  CU_ASSERT_TRUE (sf_config_set (cfg, "test.count=9", &error));
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "test", "count"), 9);
  CU_ASSERT_STRING_EQUAL (sf_config_get_source (cfg, "test", "count"), "--set");
  CU_ASSERT_STRING_EQUAL (sf_config_get_string (cfg, "test", "name"), "alice");
  /* A value may hold '=' after the first. */
  CU_ASSERT_TRUE (sf_config_set (cfg, "test.name=a=b", &error));
  CU_ASSERT_STRING_EQUAL (sf_config_get_string (cfg, "test", "name"), "a=b");
}

static void
booleans (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  static const struct { const char *text; gboolean value; } cases[] = {
    { "true", TRUE }, { "on", TRUE }, { "yes", TRUE }, { "1", TRUE }, { "YES", TRUE },
    { "false", FALSE }, { "off", FALSE }, { "no", FALSE }, { "0", FALSE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *a = g_strdup_printf ("test.enabled=%s", cases[i].text);
    CU_ASSERT_TRUE (sf_config_set (cfg, a, NULL));
    CU_ASSERT_EQUAL (sf_config_get_bool (cfg, "test", "enabled"), cases[i].value);
  }
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE (sf_config_load_data (cfg, "[test]\nenabled=on\n", "f.ini", &error));
  CU_ASSERT_TRUE (sf_config_get_bool (cfg, "test", "enabled"));
}

static void
errors_name_the_key (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;
  CU_ASSERT_FALSE (sf_config_load_data (cfg, "[test]\ncolour = red\n", "alice.ini", &e1));
  CU_ASSERT (g_error_matches (e1, SF_CONFIG_ERROR, SF_CONFIG_ERROR_UNKNOWN_KEY));
  CU_ASSERT_STRING_EQUAL (e1->message, "alice.ini: unknown key 'colour' in section [test]");
  CU_ASSERT_FALSE (sf_config_load_data (cfg, "[nosuch]\nx = 1\n", "alice.ini", &e2));
  CU_ASSERT_STRING_EQUAL (e2->message, "alice.ini: unknown section [nosuch]");
  CU_ASSERT_FALSE (sf_config_set (cfg, "test.count=11", &e3));
  CU_ASSERT (g_error_matches (e3, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE));
  CU_ASSERT_STRING_EQUAL (e3->message, "--set: test.count: expected an integer from 1 to 10, got '11'");
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "test", "count"), 3); /* unchanged */
  CU_ASSERT_FALSE (sf_config_set (cfg, "test.mode=reckless", &e4));
  CU_ASSERT_STRING_EQUAL (e4->message, "--set: test.mode: expected one of fast|safe, got 'reckless'");
  CU_ASSERT_FALSE (sf_config_set (cfg, "test.enabled=maybe", NULL));
  CU_ASSERT_FALSE (sf_config_set (cfg, "test.count=", NULL));
  CU_ASSERT_FALSE (sf_config_set (cfg, "test.count=3x", NULL));
  CU_ASSERT_FALSE (sf_config_set (cfg, "test.count=99999999999999999999999", NULL));
}

static void
seconds_off (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  CU_ASSERT_TRUE (sf_config_set (cfg, "test.timeout=off", NULL));
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "test", "timeout"), -1);
  CU_ASSERT_TRUE (sf_config_set (cfg, "test.timeout=0", NULL));
  CU_ASSERT_EQUAL (sf_config_get_int (cfg, "test", "timeout"), 0);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_config_set (cfg, "test.timeout=-5", &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "or 'off'") : NULL);
}

static void
lists (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  CU_ASSERT_TRUE (sf_config_load_data (cfg, "[test]\ncodecs = opus , PCMU,, PCMA \n", "f.ini", NULL));
  const char *const *l = sf_config_get_list (cfg, "test", "codecs");
  CU_ASSERT_EQUAL_FATAL (g_strv_length ((char **) l), 3);
  CU_ASSERT_STRING_EQUAL (l[0], "opus");
  CU_ASSERT_STRING_EQUAL (l[1], "PCMU");
  CU_ASSERT_STRING_EQUAL (l[2], "PCMA");
  CU_ASSERT_TRUE (sf_config_set (cfg, "test.codecs=", NULL));
  CU_ASSERT_EQUAL (g_strv_length ((char **) sf_config_get_list (cfg, "test", "codecs")), 0);
}

static void
set_syntax (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  static const char *const bad[] = { "count=3", "test.count", ".count=3", "test.=3", "=3", "" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    CU_ASSERT_FALSE (sf_config_set (cfg, bad[i], &error));
    CU_ASSERT (g_error_matches (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_SYNTAX));
  }
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_config_load_data (cfg, "not an ini file\n", "broken.ini", &error));
  CU_ASSERT_TRUE (error != NULL && g_str_has_prefix (error->message, "broken.ini: "));
}

static void
duplicate_section (void)
{
  g_autoptr (SfConfig) cfg = cfg_new ();
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_config_declare (cfg, "test", test_keys, 1, &error));
  CU_ASSERT (g_error_matches (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_DUPLICATE));
}

/* The secret (framework/sf-secret.c): made 0600 when missing, the same on a
 * second read; refused, with the file named, when others may read it. */
static void
secret_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sf-secret-XXXXXX", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (dir);
  g_autofree char *path = g_build_filename (dir, "state", "secret", NULL);
  g_autoptr (SfConfig) cfg = sf_config_new ();
  g_autofree char *set = g_strdup_printf ("core.secret_file=%s", path);
  CU_ASSERT_TRUE (sf_config_set (cfg, set, NULL));
  guint8 a[SF_SECRET_LEN], b[SF_SECRET_LEN], c[SF_SECRET_LEN];
  CU_ASSERT_TRUE (sf_secret_derive (cfg, "one", a, NULL));
  CU_ASSERT_TRUE (sf_secret_derive (cfg, "one", b, NULL));
  CU_ASSERT_TRUE (sf_secret_derive (cfg, "two", c, NULL));
  CU_ASSERT_EQUAL (memcmp (a, b, sizeof a), 0);
  CU_ASSERT_NOT_EQUAL (memcmp (a, c, sizeof a), 0); /* one key per purpose */
  /* the same 32 bytes as two SipHash keys: four little-endian words */
  guint64 k[2][2];
  CU_ASSERT_TRUE (sf_secret_derive_siphash (cfg, "one", k, NULL));
  for (int i = 0; i < 4; i++) {
    guint64 w;
    memcpy (&w, a + 8 * i, sizeof w);
    CU_ASSERT_EQUAL (k[i / 2][i % 2], GUINT64_FROM_LE (w));
  }
  GStatBuf st;
  CU_ASSERT_EQUAL (g_stat (path, &st), 0);
  CU_ASSERT_EQUAL (st.st_mode & 0777, 0600);
  /* another file, readable by others: refused, named */
  g_autofree char *open_path = g_build_filename (dir, "open-secret", NULL);
  CU_ASSERT_TRUE (g_file_set_contents_full (open_path, "5f66757a7a2d70726f787920736563726574207265706c6179206f6e6c792121\n", -1,
                                            G_FILE_SET_CONTENTS_NONE, 0644, NULL));
  g_autoptr (SfConfig) cfg2 = sf_config_new ();
  g_autofree char *set2 = g_strdup_printf ("core.secret_file=%s", open_path);
  CU_ASSERT_TRUE (sf_config_set (cfg2, set2, NULL));
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_secret_derive (cfg2, "one", a, &error));
  CU_ASSERT_TRUE (error != NULL && strstr (error->message, open_path) != NULL && strstr (error->message, "others") != NULL);
  g_unlink (open_path);
  g_unlink (path);
  g_autofree char *sub = g_path_get_dirname (path);
  g_rmdir (sub);
  g_rmdir (dir);
}

/* A reload compares lists by their items: the same list written otherwise is
 * no change (else a reformatted sip.listen would need a restart). */
static void
changed_keys_lists (void)
{
  static const SfConfigKey keys[] = { { "listen", SF_CFG_LIST, NULL, 0, 0, NULL, "a list" } };
  g_autoptr (SfConfig) a = sf_config_new ();
  CU_ASSERT_TRUE (sf_config_declare (a, "sip", keys, G_N_ELEMENTS (keys), NULL));
  CU_ASSERT_TRUE (sf_config_load_data (a, "[sip]\nlisten = udp:127.0.0.1:5060,tcp:127.0.0.1:5060\n", "a.ini", NULL));
  SfConfig *b = sf_config_new_like (a);
  CU_ASSERT_TRUE (sf_config_load_data (b, "[sip]\nlisten = udp:127.0.0.1:5060 ,  tcp:127.0.0.1:5060\n", "b.ini", NULL));
  g_autoptr (GPtrArray) same = sf_config_changed_keys (a, b);
  CU_ASSERT_EQUAL (same->len, 0);
  sf_config_free (b);
  SfConfig *c = sf_config_new_like (a);
  CU_ASSERT_TRUE (sf_config_load_data (c, "[sip]\nlisten = tcp:127.0.0.1:5060,udp:127.0.0.1:5060\n", "c.ini", NULL));
  g_autoptr (GPtrArray) other = sf_config_changed_keys (a, c);
  CU_ASSERT_EQUAL (other->len, 1);
  CU_ASSERT_STRING_EQUAL (other->len == 1 ? other->pdata[0] : "", "sip.listen");
  sf_config_free (c);
}

void
sf_test_register_config (void)
{
  CU_pSuite s = CU_add_suite ("config", NULL, NULL);
  SF_ADD_TEST (s, defaults);
  SF_ADD_TEST (s, file_and_set);
  SF_ADD_TEST (s, booleans);
  SF_ADD_TEST (s, errors_name_the_key);
  SF_ADD_TEST (s, seconds_off);
  SF_ADD_TEST (s, lists);
  SF_ADD_TEST (s, set_syntax);
  SF_ADD_TEST (s, duplicate_section);
  SF_ADD_TEST (s, secret_file);
  SF_ADD_TEST (s, changed_keys_lists);
}
