/* fuzz-proxy.c: fuzz target for the stateful proxy (xml/proxy.xml and
 * proxy-branch.xml over the transaction machines, with its registrar and
 * location service).  The input is a script of parts separated by a line "--":
 *  - "ADV N" moves the fake clock N ms (firing timers);
 *  - "SRC N" makes 127.0.0.N:9 the source of what follows (127.0.0.1, the
 *    first source, is proxy.trusted; any other is not);
 *  - "RESP CODE" answers the last request the proxy sent with a response CODE,
 *    built from it (its Vias, our branch on top, so it reaches the branch's
 *    client transaction and the response context), from the current source;
 *  - anything else is a datagram from the current source; a line
 *    "Authorization: FUZZ" or "Proxy-Authorization: FUZZ" in it becomes good
 *    credentials of user alice (registrar.users) for the last challenge the
 *    proxy sent, the datagram's method and Request-URI.
 * Nothing leaves the process but UDP to 127.0.0.1 (a send filter refuses the
 * rest, which the proxy sees as a transport error), and names are not resolved.
 * Randomness is seeded and the secret (core.secret_file) fixed, so a corpus
 * entry replays the same way; SF_FUZZ_TRACE=1 writes the engine's trace on
 * standard error, SF_FUZZ_END=1 how long the instances took to end.
 *
 * Two invariants abort (tests/fuzz/README.md, "The proxy's oracle"):
 *  1. after the script, the fake clock running on ends every instance by its
 *     timers within a bound (END_BASE_MS below): nothing is killed;
 *  2. every request the proxy sends was caused by an authorised source: its
 *     Call-ID and CSeq number are those of a request that came from the
 *     trusted source, carried a Record-Route token of ours for its Call-ID
 *     and a tag, or good credentials of alice; or it goes, without Route, to
 *     a binding the registrar confirmed (a 200 to a REGISTER), or to one
 *     with a Route that is the Path the REGISTER that confirmed it carried
 *     (RFC 3327: the registrant chose it, as it chose its Contact; a Path of
 *     a REGISTER that was refused, or of another binding's, authorises
 *     nothing). */
#include "config.h"
#include "operators/sf-modules.h"
#include "framework/sf-loader.h"
#include "operators/transaction/sf-stack.h"
#include "fuzz-script.h"
#include "operators/proxy/sf-proxy.h"
#include "operators/registrar/sf-registrar.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-digest.h"
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_USER "alice"
#define FUZZ_PASSWORD "wonderland"
#define FUZZ_REALM "sipflow.test"
/* After the script nothing new comes, so what is left ends by its timers
 * (T1 500 ms): an INVITE branch that rang ends at Timer C (181 s) plus its
 * CANCEL's wait (64*T1), the 408 it makes going upstream, whose server
 * transaction ends by Timer H (64*T1): 245 s; an INVITE server transaction that
 * never rang at its guard (480*T1) plus Timer H after its 500: 272 s; a
 * non-INVITE one at its guard (132*T1).  With proxy.fork q, each further group
 * of targets (a binding each at most) that gets no answer adds Timer B (64*T1)
 * before the 408.  So the bound: 272 s, plus 32 s per binding the registrar
 * confirmed, in steps of 1 s (tests/fuzz/README.md). */
#define END_STEP_MS 1000
#define END_BASE_MS (480 * 500 + 64 * 500)
#define END_PER_BINDING_MS (64 * 500)

typedef struct {
  SfEndpoint *ep;
  SfStack *stack;
  GBytes *last_request;          /* the last request the proxy sent */
  SfDigestChallenge *challenge;  /* the last challenge the proxy sent */
  guint32 nc;
  GHashTable *approved;          /* "CALLID\nCSEQ" of requests from authorised sources */
  GHashTable *bindings;          /* "user@host:port" of the bindings a 200 to a REGISTER listed */
  GHashTable *paths;             /* "user@host:port\nPATH": a binding a 200 confirmed, and the Path values of
                                    the REGISTER that 200 answered, joined as the registrar joins them */
  GHashTable *sent_paths;        /* "CALLID\nCSEQ" of a REGISTER sent -> its joined Path values */
  GHashTable *sent_contacts;     /* "CALLID\nCSEQ\nuser@host:port": a Contact a REGISTER sent carried */
} Fuzz;

static char *
request_key (SfSipMsg *m)
{
  const SfSipValue *cseq = sf_sip_msg_cseq (m);
  g_autofree char *cid = sf_sip_str_dup (sf_sip_msg_call_id (m));
  return cseq != NULL ? g_strdup_printf ("%s\n%" G_GUINT64_FORMAT, cid, cseq->number) : NULL;
}

static char *
uri_key (const SfSipUri *u)
{
  if (u == NULL)
    return NULL;
  g_autofree char *user = sf_sip_str_dup (u->user);
  g_autofree char *host = sf_sip_str_dup (u->host);
  g_autofree char *k = g_strdup_printf ("%s@%s:%u", user != NULL ? user : "", host != NULL ? host : "",
                                        u->port != 0 ? u->port : 5060);
  return g_ascii_strdown (k, -1);
}

static void
violation (const char *what, GBytes *wire)
{
  gsize n = 0;
  const char *p = g_bytes_get_data (wire, &n);
  fprintf (stderr, "fuzz-proxy: INVARIANT VIOLATED: %s:\n%.*s\n", what, (int) MIN (n, 4096), p);
  abort ();
}

/* Invariant 2, for a request the proxy sends. */
static void
check_request (Fuzz *f, GBytes *wire)
{
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse (wire, NULL);
  if (m == NULL || !sf_sip_msg_is_request (m))
    return; /* not a request we can read: nothing to judge */
  g_autofree char *key = request_key (m);
  if (key != NULL && g_hash_table_contains (f->approved, key))
    return;
  g_autofree char *target = uri_key (sf_sip_msg_ruri (m));
  const SfSipHdr *route = sf_sip_msg_find (m, SF_SIP_HDR_ROUTE);
  g_autofree char *rv = route != NULL ? sf_sip_str_dup (route->value) : NULL;
  g_autofree char *pair = target != NULL && rv != NULL ? g_strdup_printf ("%s\n%s", target, rv) : NULL;
  if (target != NULL && (rv == NULL || g_hash_table_contains (f->paths, pair)) && g_hash_table_contains (f->bindings, target))
    return;
  violation ("a request relayed for no authorised source", wire);
}

/* A response the proxy sends: keeps its challenge, and the bindings a 200 to
 * a REGISTER confirms. */
static void
note_response (Fuzz *f, GBytes *wire)
{
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse (wire, NULL);
  if (m == NULL || sf_sip_msg_is_request (m))
    return;
  guint status = sf_sip_msg_status (m);
  if (status == 401 || status == 407) {
    SfSipValues *ch =
        sf_sip_msg_values (m, status == 401 ? SF_SIP_HDR_WWW_AUTHENTICATE : SF_SIP_HDR_PROXY_AUTHENTICATE, NULL);
    SfDigestChallenge *c = ch != NULL ? sf_digest_challenge_pick (ch, NULL) : NULL;
    if (c != NULL) {
      g_clear_pointer (&f->challenge, sf_digest_challenge_free);
      f->challenge = c;
    }
  }
  const SfSipValue *cseq = sf_sip_msg_cseq (m);
  if (status / 100 == 2 && cseq != NULL && sf_sip_str_eq (cseq->text, "REGISTER")) {
    g_autofree char *req = request_key (m);
    const char *path = req != NULL ? g_hash_table_lookup (f->sent_paths, req) : NULL;
    SfSipValues *contacts = sf_sip_msg_values (m, SF_SIP_HDR_CONTACT, NULL);
    for (guint i = 0; contacts != NULL && i < contacts->len; i++) {
      char *k = uri_key (((SfSipValue *) contacts->pdata[i])->uri);
      if (k == NULL)
        continue;
      /* the Path goes with the contacts its own REGISTER carried, not with
       * every binding the 200 lists */
      g_autofree char *mine = path != NULL ? g_strdup_printf ("%s\n%s", req, k) : NULL;
      if (mine != NULL && g_hash_table_contains (f->sent_contacts, mine))
        g_hash_table_add (f->paths, g_strdup_printf ("%s\n%s", k, path));
      g_hash_table_add (f->bindings, k);
    }
  }
}

static gboolean
filter (SfSipProto proto, GInetSocketAddress *dest, GBytes *wire, gpointer data)
{
  Fuzz *f = data;
  gsize n = 0;
  const char *p = g_bytes_get_data (wire, &n);
  if (g_getenv ("SF_FUZZ_TRACE") != NULL) {
    g_autofree char *to = dest != NULL ? g_inet_address_to_string (g_inet_socket_address_get_address (dest)) : NULL;
    const char *eol = memchr (p, '\r', n);
    g_printerr ("sent: %.*s -> %s:%u\n", (int) (eol != NULL ? eol - p : (int) MIN (n, 80)), p, to != NULL ? to : "?",
                dest != NULL ? g_inet_socket_address_get_port (dest) : 0);
  }
  if (n > 8 && memcmp (p, "SIP/2.0 ", 8) != 0) {
    g_clear_pointer (&f->last_request, g_bytes_unref);
    f->last_request = g_bytes_ref (wire);
    check_request (f, wire);
  } else {
    note_response (f, wire);
  }
  if (proto != SF_SIP_UDP || dest == NULL)
    return FALSE;
  GInetAddress *a = g_inet_socket_address_get_address (dest);
  return g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV4 && g_inet_address_get_is_loopback (a);
}

static void
settle (SfEndpoint *ep)
{
  for (int i = 0; i < 64; i++) {
    gboolean busy = g_main_context_iteration (NULL, FALSE); /* the location service answers in the main loop */
    busy |= sf_endpoint_drain (ep) > 0;
    if (!busy)
      break;
  }
}

static gboolean
is_trusted (const SfSipPeer *from)
{
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (from->remote));
  return strcmp (ip, "127.0.0.1") == 0; /* proxy.trusted */
}

/* Does @u carry ;sft= made by this proxy for @m's dialog (its Call-ID, its
 * From or To tag and URI) and @m's remote target (the Request-URI, or a
 * strict router's last Route when @u is the Request-URI)? */
static gboolean
token_of_ours (Fuzz *f, SfSipMsg *m, const SfSipUri *u)
{
  const SfSipParam *sft = u != NULL ? sf_sip_uri_param (u, "sft") : NULL;
  SfProxyConfig *c = sf_module_state (f->ep, &sf_proxy_module);
  if (sft == NULL || !sf_sip_str_is_set (sft->value) || c == NULL)
    return FALSE;
  const SfSipUri *target = sf_sip_msg_ruri (m);
  if (u == target) {
    SfSipValues *routes = sf_sip_msg_values (m, SF_SIP_HDR_ROUTE, NULL);
    target = routes != NULL && routes->len > 0 ? ((SfSipValue *) routes->pdata[routes->len - 1])->uri : NULL;
  }
  return target != NULL && sf_proxy_token_matches (c, m, target, sft->value);
}

/* Are these credentials alice's, right for @m (the response recomputed with
 * her password; the nonce is not judged: the proxy may refuse more)? */
static gboolean
good_credentials (SfSipMsg *m, const SfSipValue *v)
{
  g_autofree char *user = sf_digest_param (v, "username");
  g_autofree char *realm = sf_digest_param (v, "realm");
  g_autofree char *nonce = sf_digest_param (v, "nonce");
  g_autofree char *uri = sf_digest_param (v, "uri");
  g_autofree char *response = sf_digest_param (v, "response");
  g_autofree char *algorithm = sf_digest_param (v, "algorithm");
  g_autofree char *qop = sf_digest_param (v, "qop");
  g_autofree char *nc = sf_digest_param (v, "nc");
  g_autofree char *cnonce = sf_digest_param (v, "cnonce");
  SfDigestAlg alg = SF_DIGEST_MD5;
  if (user == NULL || realm == NULL || nonce == NULL || uri == NULL || response == NULL ||
      strcmp (user, FUZZ_USER) != 0 || (algorithm != NULL && !sf_digest_alg_parse (algorithm, &alg)))
    return FALSE;
  g_autofree char *ha1 = sf_digest_ha1 (alg, user, realm, FUZZ_PASSWORD);
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (m));
  SfSipStr body = sf_sip_msg_body (m);
  SfDigestInput in = { alg, ha1, method, uri, nonce, qop != NULL ? cnonce : NULL, qop != NULL ? nc : NULL, qop, body.p, body.len };
  g_autofree char *want = sf_digest_response (&in);
  return want != NULL && g_ascii_strcasecmp (want, response) == 0;
}

/* A datagram the script sends: is it from an authorised source? */
static void
note_datagram (Fuzz *f, GBytes *b, const SfSipPeer *from)
{
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, NULL); /* as the transport: framed and valid */
  if (m == NULL || !sf_sip_msg_is_request (m))
    return;
  GString *path = NULL;
  for (guint i = 0; sf_sip_str_eq (sf_sip_msg_method (m), "REGISTER") && i < sf_sip_msg_n_headers (m); i++) {
    const SfSipHdr *h = sf_sip_msg_header (m, i);
    if (!sf_sip_str_caseeq (h->name, "Path"))
      continue;
    if (path == NULL)
      path = g_string_new (NULL);
    else
      g_string_append (path, ", ");
    g_string_append_len (path, h->value.p, (gssize) h->value.len);
  }
  g_autofree char *rkey = path != NULL ? request_key (m) : NULL;
  if (rkey != NULL) {
    SfSipValues *contacts = sf_sip_msg_values (m, SF_SIP_HDR_CONTACT, NULL);
    for (guint i = 0; contacts != NULL && i < contacts->len; i++) {
      g_autofree char *k = uri_key (((SfSipValue *) contacts->pdata[i])->uri);
      if (k != NULL)
        g_hash_table_add (f->sent_contacts, g_strdup_printf ("%s\n%s", rkey, k));
    }
    g_hash_table_replace (f->sent_paths, g_strdup (rkey), g_string_free (g_steal_pointer (&path), FALSE));
  } else if (path != NULL) {
    g_string_free (path, TRUE);
  }
  gboolean ok = is_trusted (from) || token_of_ours (f, m, sf_sip_msg_ruri (m));
  SfSipValues *routes = sf_sip_msg_values (m, SF_SIP_HDR_ROUTE, NULL);
  for (guint i = 0; !ok && routes != NULL && i < routes->len; i++)
    ok = token_of_ours (f, m, ((SfSipValue *) routes->pdata[i])->uri);
  const SfSipHdrId creds[] = { SF_SIP_HDR_AUTHORIZATION, SF_SIP_HDR_PROXY_AUTHORIZATION };
  for (guint k = 0; !ok && k < G_N_ELEMENTS (creds); k++) {
    SfSipValues *vs = sf_sip_msg_values (m, creds[k], NULL);
    for (guint i = 0; !ok && vs != NULL && i < vs->len; i++)
      ok = good_credentials (m, vs->pdata[i]);
  }
  char *key = ok ? request_key (m) : NULL;
  if (key != NULL)
    g_hash_table_add (f->approved, key);
}

/* "Authorization: FUZZ" (or Proxy-): alice's credentials for the last challenge. */
static GBytes *
with_credentials (Fuzz *f, const char *part, gsize len)
{
  const char *mark = memmem (part, len, "Authorization: FUZZ", 19);
  const char *sp1 = memchr (part, ' ', len);
  const char *sp2 = sp1 != NULL ? memchr (sp1 + 1, ' ', (gsize) (part + len - sp1 - 1)) : NULL;
  if (mark == NULL || f->challenge == NULL || sp2 == NULL)
    return g_bytes_new (part, len);
  g_autofree char *method = g_strndup (part, (gsize) (sp1 - part));
  g_autofree char *uri = g_strndup (sp1 + 1, (gsize) (sp2 - sp1 - 1));
  g_autofree char *cred = sf_digest_authorization (f->challenge, FUZZ_USER, FUZZ_PASSWORD, method, uri, "fuzz", ++f->nc);
  if (cred == NULL)
    return g_bytes_new (part, len);
  GString *s = g_string_new_len (part, mark + 15 - part);
  g_string_append (s, cred);
  g_string_append_len (s, mark + 19, part + len - (mark + 19));
  gsize n = s->len;
  return g_bytes_new_take (g_string_free (s, FALSE), n);
}

/* "RESP CODE": a response CODE to the last request the proxy sent; any other
 * part a datagram, its credentials filled in and its source judged. */
static gboolean
part (const char *part, gsize len, const SfSipPeer *from, gpointer data)
{
  Fuzz *f = data;
  if (len <= 5 || memcmp (part, "RESP ", 5) != 0) {
    GBytes *b = with_credentials (f, part, len);
    note_datagram (f, b, from);
    sf_sip_transport_inject (sf_stack_transport (f->stack), b, from);
    g_bytes_unref (b);
    return TRUE;
  }
  char num[16] = { 0 };
  memcpy (num, part + 5, MIN (len - 5, 12));
  guint code = (guint) g_ascii_strtoull (num, NULL, 10);
  SfSipMsg *req = f->last_request != NULL ? sf_sip_msg_parse (f->last_request, NULL) : NULL;
  SfSipMsg *resp = req != NULL && code >= 100 && code <= 699 ? sf_sip_create_response (req, code, NULL, "fz", NULL) : NULL;
  if (resp != NULL) {
    GBytes *b = sf_sip_msg_serialize (resp);
    sf_sip_transport_inject (sf_stack_transport (f->stack), b, from);
    g_bytes_unref (b);
    sf_sip_msg_unref (resp);
  }
  if (req != NULL)
    sf_sip_msg_unref (req);
  return TRUE;
}

static void
trace_stderr (const char *line, gpointer data)
{
  g_printerr ("trace: %s\n", line);
}

/* A users file (alice) and a fixed secret, in a directory of this process. */
static char *fuzz_dir;

static void
remove_files (void)
{
  g_autofree char *users = g_build_filename (fuzz_dir, "users", NULL);
  g_autofree char *secret = g_build_filename (fuzz_dir, "secret", NULL);
  g_unlink (users);
  g_unlink (secret);
  g_rmdir (fuzz_dir);
}

static const char *
files (void)
{
  if (fuzz_dir == NULL) {
    g_autoptr (GError) error = NULL;
    fuzz_dir = g_dir_make_tmp ("sf-fuzz-proxy-XXXXXX", &error);
    if (fuzz_dir == NULL) {
      fprintf (stderr, "fuzz-proxy: %s\n", error->message);
      abort ();
    }
    g_autofree char *users = g_build_filename (fuzz_dir, "users", NULL);
    g_autofree char *secret = g_build_filename (fuzz_dir, "secret", NULL);
    if (!g_file_set_contents (users, FUZZ_USER ":" FUZZ_PASSWORD "\n", -1, &error) ||
        !g_file_set_contents_full (secret, "5f66757a7a2d70726f787920736563726574207265706c6179206f6e6c792121\n", -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) { /* the secret must be private (sf-secret.c) */
      fprintf (stderr, "fuzz-proxy: %s\n", error->message);
      abort ();
    }
    atexit (remove_files);
  }
  return fuzz_dir;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 65536)
    return 0;
  g_random_set_seed (1);
  const char *dir = files ();
  SfConfig *cfg = sf_config_new ();
  SfRegistry *reg = sf_registry_new (cfg, sf_builtin_modules); /* declares [sip], [registrar], [proxy] */
  sf_config_set (cfg, "registrar.max_aors=64", NULL);
  /* each input starts with no binding (a database would carry them from one to the next) */
  sf_config_set (cfg, "location.backend=memory", NULL);
  g_autofree char *users = g_strdup_printf ("registrar.users=%s/users", dir);
  g_autofree char *secret = g_strdup_printf ("core.secret_file=%s/secret", dir);
  if (!sf_config_set (cfg, users, NULL) || !sf_config_set (cfg, secret, NULL) ||
      !sf_config_set (cfg, "proxy.trusted=127.0.0.1", NULL))
    abort ();
  SfLoader *loader = sf_loader_new (reg);
  SfMachine *tu = sf_loader_load (loader, "builtin:proxy.xml", NULL);
  SfEndpoint *ep = sf_endpoint_new (sf_clock_new_fake (0), reg, cfg);
  if (g_getenv ("SF_FUZZ_TRACE") != NULL) /* for whoever writes corpus entries */
    sf_endpoint_set_trace (ep, trace_stderr, NULL);
  gboolean setup = sf_registrar_setup (ep, cfg, NULL) && sf_proxy_setup (ep, cfg, NULL);
  SfStack *stack = tu != NULL && setup ? sf_stack_new (ep, loader, tu, NULL) : NULL;
  if (stack == NULL)
    abort (); /* the setup itself is broken: not the input's fault */
  Fuzz f = { ep, stack, NULL, NULL, 0, g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
             g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
             g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
             g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
             g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL) };
  if (sf_stack_listen (stack, "udp:127.0.0.1:0", NULL)) {
    sf_stack_set_lookups (stack, FALSE);
    sf_stack_set_gate (stack, &sf_proxy_gate);
    sf_sip_transport_set_send_filter (sf_stack_transport (stack), filter, &f);
    sf_fuzz_script (ep, stack, data, size, part, settle, &f);
    /* Invariant 1: every instance ends by a timer. */
    guint waited = 0, bound = END_BASE_MS + END_PER_BINDING_MS * g_hash_table_size (f.bindings);
    while (sf_endpoint_n_instances (ep) > 0 && waited < bound) {
      sf_endpoint_advance (ep, END_STEP_MS);
      settle (ep);
      waited += END_STEP_MS;
    }
    if (g_getenv ("SF_FUZZ_END") != NULL)
      fprintf (stderr, "fuzz-proxy: instances ended %u ms after the script\n", waited);
    g_autoptr (GPtrArray) left = sf_endpoint_instances (ep);
    for (guint i = 0; i < left->len; i++)
      fprintf (stderr, "fuzz-proxy: left after %u ms: %s (%s) in %s\n", waited, sf_instance_handle (left->pdata[i]),
               sf_instance_key (left->pdata[i]) != NULL ? sf_instance_key (left->pdata[i]) : "", sf_instance_state (left->pdata[i]));
    if (left->len > 0) {
      fprintf (stderr, "fuzz-proxy: INVARIANT VIOLATED: %u instances outlived every timer\n", left->len);
      abort ();
    }
  }
  sf_stack_free (stack);
  sf_proxy_teardown (ep);
  sf_registrar_teardown (ep);
  sf_endpoint_free (ep);
  g_clear_pointer (&f.last_request, g_bytes_unref);
  g_clear_pointer (&f.challenge, sf_digest_challenge_free);
  g_hash_table_unref (f.approved);
  g_hash_table_unref (f.bindings);
  g_hash_table_unref (f.paths);
  g_hash_table_unref (f.sent_paths);
  g_hash_table_unref (f.sent_contacts);
  sf_machine_unref (tu);
  sf_loader_free (loader);
  sf_registry_free (reg);
  sf_config_free (cfg);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
