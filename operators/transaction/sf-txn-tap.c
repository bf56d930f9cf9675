/* sf-txn-tap.c: the teaching detail's message events (docs/teaching.md):
 * sip_in and sip_out, one per message the transport receives or sends, each
 * tied to the transaction it moved and that transaction's user.
 *
 * A request that makes a new transaction has none yet when the transport hands
 * it in: its sip_in is held until the stack has matched it (the end of
 * sf_stack_on_recv), or until anything else is written first (a stateless
 * answer, its sip_out), so the lines keep the order things happened in.  A
 * message the transport drops unanswered (a malformed ACK or response) is
 * matched by nothing: its line is written once the main loop is idle again. */
#include "config.h"
#include "sf-stack-private.h"
#include "framework/sf-endpoint-private.h"
#include "framework/sf-json.h"
#include "framework/sf-log.h"
#include "sip/sf-sip-txn-key.h"
#include <string.h>

/* The longest start line written (a Request-URI can be long; the rest is in "text"). */
#define START_MAX 512

/* @msg's first @id value, NULL when it has none or it does not parse: the
 * transport hands in requests it answers 400 for validation's sake (a Via or
 * CSeq that does not parse), which the accessors that check would warn of
 * and sf_sip_value_param would follow. */
static const SfSipValue *
value_or_null (SfSipMsg *msg, SfSipHdrId id)
{
  return sf_sip_msg_value (msg, id, NULL);
}

/* The transaction @msg moved, and its user's handle (transfer none, nullable). */
static SfInstance *
txn_of (SfStack *s, SfSipTapDir dir, SfSipMsg *msg, SfInstance **user)
{
  *user = NULL;
  if (msg == NULL || value_or_null (msg, SF_SIP_HDR_VIA) == NULL || value_or_null (msg, SF_SIP_HDR_CSEQ) == NULL)
    return NULL;
  gboolean request = sf_sip_msg_is_request (msg);
  /* what we receive as a request, or send as a response, is a server transaction's */
  gboolean server = (dir == SF_SIP_TAP_IN) == request;
  g_autofree char *key = server ? (request ? sf_sip_txn_server_key (msg) : NULL) : sf_sip_txn_client_key (msg);
  if (server && !request) {
    g_autofree char *m = sf_sip_str_dup (sf_sip_msg_cseq (msg)->text);
    key = sf_sip_txn_server_key_for (msg, m);
  }
  SfInstance *t = key != NULL ? sf_endpoint_lookup (s->ep, "transaction", key) : NULL;
  if (t == NULL && !server && request && sf_sip_str_eq (sf_sip_msg_method (msg), "ACK")) {
    /* the ACK for a non-2xx: its INVITE client transaction's (17.1.1.3) */
    g_autofree char *ik = sf_sip_txn_client_key_for (msg, "INVITE");
    t = ik != NULL ? sf_endpoint_lookup (s->ep, "transaction", ik) : NULL;
  }
  if (t != NULL) {
    SfTxnInstance *ti = sf_txn_inst_peek_of (s->ep, t);
    *user = ti != NULL && ti->tu != NULL ? sf_endpoint_lookup_handle (s->ep, ti->tu) : NULL;
    if (*user == NULL)
      *user = sf_instance_parent (t);
  } else if (request) {
    /* the ACK for a 2xx, a transaction of its own (17.1.1.3): its call, known
     * by Call-ID and the other side's tag (From in, To out) */
    g_autofree char *ck = NULL;
    if (dir == SF_SIP_TAP_IN) {
      ck = sf_sip_txn_call_key_of (msg);
    } else {
      const SfSipParam *tag = sf_sip_value_param (sf_sip_msg_to (msg), "tag");
      g_autofree char *cid = sf_sip_str_dup (sf_sip_msg_call_id (msg));
      g_autofree char *rt = tag != NULL ? sf_sip_str_dup (tag->value) : NULL;
      ck = sf_sip_txn_call_key (cid, rt);
    }
    *user = sf_endpoint_lookup (s->ep, s->tu->scope, ck);
  }
  return t;
}

static void
write_line (SfStack *s, SfSipTapDir dir, SfSipProto proto, GInetSocketAddress *local, GInetSocketAddress *remote,
            SfSipMsg *msg, GBytes *wire)
{
  GString *ev = sf_json_begin (dir == SF_SIP_TAP_IN ? "sip_in" : "sip_out");
  sf_json_add_str (ev, "proto", sf_sip_proto_name (proto));
  g_autofree char *l = sf_sip_addr_to_string (local);
  g_autofree char *r = sf_sip_addr_to_string (remote);
  if (l != NULL)
    sf_json_add_str (ev, "local", l);
  sf_json_add_str (ev, "remote", r);
  gsize len;
  const char *d = g_bytes_get_data (wire, &len);
  gsize end = 0;
  while (end < len && end < START_MAX && d[end] != '\r' && d[end] != '\n')
    end++;
  g_autofree char *start = g_strndup (d, end);
  sf_json_add_str (ev, "start", start);
  if (msg != NULL) {
    const SfSipValue *id = value_or_null (msg, SF_SIP_HDR_CALL_ID);
    g_autofree char *cid = id != NULL ? sf_sip_str_dup (id->text) : NULL;
    sf_json_add_str (ev, "call_id", cid);
    const SfSipValue *cseq = value_or_null (msg, SF_SIP_HDR_CSEQ);
    if (cseq != NULL) {
      g_autofree char *m = sf_sip_str_dup (cseq->text);
      g_autofree char *c = g_strdup_printf ("%" G_GUINT64_FORMAT " %s", cseq->number, m);
      sf_json_add_str (ev, "cseq", c);
    }
    const SfSipValue *via = value_or_null (msg, SF_SIP_HDR_VIA);
    const SfSipParam *branch = via != NULL ? sf_sip_value_param (via, "branch") : NULL;
    if (branch != NULL) {
      g_autofree char *b = sf_sip_str_dup (branch->value);
      sf_json_add_str (ev, "branch", b);
    }
    if (!sf_sip_msg_is_request (msg))
      sf_json_add_int (ev, "status", sf_sip_msg_status (msg));
    SfInstance *user = NULL;
    SfInstance *t = txn_of (s, dir, msg, &user);
    if (t != NULL) {
      sf_json_add_str (ev, "transaction", sf_instance_handle (t));
      sf_json_add_str (ev, "machine", sf_instance_machine (t)->name);
    }
    if (user != NULL)
      sf_json_add_str (ev, "instance", sf_instance_handle (user));
  }
  sf_json_add_int (ev, "size", (gint64) len);
  if (sf_endpoint_messages (s->ep) == SF_MESSAGES_FULL) {
    /* a body may hold NUL bytes: each is written U+FFFD, the text goes on */
    GString *text = g_string_sized_new (len);
    for (gsize i = 0; i < len; i++)
      if (d[i] == '\0')
        g_string_append (text, "\xEF\xBF\xBD");
      else
        g_string_append_c (text, d[i]);
    sf_json_add_str (ev, "text", text->str);
    g_string_free (text, TRUE);
  }
  sf_endpoint_emit_line (s->ep, sf_json_end (ev));
}

/* --log-level debug: one line a message, whatever the event output: direction,
 * protocol, addresses, start line, Call-ID, with the transaction and its user
 * as fields when known (a request that makes a transaction has none yet). */
static void
log_message (SfStack *s, SfSipTapDir dir, SfSipProto proto, GInetSocketAddress *local, GInetSocketAddress *remote,
             SfSipMsg *msg, GBytes *wire)
{
  gsize len;
  const char *d = g_bytes_get_data (wire, &len);
  gsize end = 0;
  while (end < len && end < START_MAX && d[end] != '\r' && d[end] != '\n')
    end++;
  g_autofree char *l = sf_sip_addr_to_string (local);
  g_autofree char *r = sf_sip_addr_to_string (remote);
  g_autoptr (SfSipMsg) parsed = msg == NULL && dir == SF_SIP_TAP_OUT ? sf_sip_msg_parse (wire, NULL) : NULL;
  if (msg == NULL)
    msg = parsed;
  const SfSipValue *id = msg != NULL ? value_or_null (msg, SF_SIP_HDR_CALL_ID) : NULL;
  g_autofree char *cid = id != NULL ? sf_sip_str_dup (id->text) : NULL;
  SfInstance *user = NULL;
  SfInstance *t = msg != NULL ? txn_of (s, dir, msg, &user) : NULL;
  const GLogField f[] = { { SF_LOG_FIELD_CALL_ID, cid, -1 },
                          { SF_LOG_FIELD_TRANSACTION, t != NULL ? sf_instance_handle (t) : NULL, -1 },
                          { SF_LOG_FIELD_INSTANCE, user != NULL ? sf_instance_handle (user) : NULL, -1 } };
  sf_log_fields (G_LOG_LEVEL_DEBUG, f, G_N_ELEMENTS (f), "%s %s %s %s %s: %.*s (%" G_GSIZE_FORMAT " bytes, Call-ID %s)",
                 dir == SF_SIP_TAP_IN ? "received" : "sent", sf_sip_proto_name (proto), l != NULL ? l : "-",
                 dir == SF_SIP_TAP_IN ? "<-" : "->", r, (int) end, d, len, cid != NULL ? cid : "-");
}

void
sf_stack_tap_flush (SfStack *s)
{
  if (s->tap.idle != NULL) {
    g_source_destroy (s->tap.idle);
    g_clear_pointer (&s->tap.idle, g_source_unref);
  }
  if (s->tap.wire == NULL)
    return;
  SfSipMsg *msg = g_steal_pointer (&s->tap.msg);
  GBytes *wire = g_steal_pointer (&s->tap.wire);
  GInetSocketAddress *local = g_steal_pointer (&s->tap.local);
  GInetSocketAddress *remote = g_steal_pointer (&s->tap.remote);
  write_line (s, SF_SIP_TAP_IN, s->tap.proto, local, remote, msg, wire);
  g_clear_pointer (&msg, sf_sip_msg_unref);
  g_bytes_unref (wire);
  g_clear_object (&local);
  g_clear_object (&remote);
}

static gboolean
flush_when_idle (gpointer data)
{
  SfStack *s = data;
  g_clear_pointer (&s->tap.idle, g_source_unref); /* returning REMOVE destroys it */
  sf_stack_tap_flush (s);
  return G_SOURCE_REMOVE;
}

static void
before_emit (gpointer data)
{
  sf_stack_tap_flush (data);
}

void
sf_stack_tap_init (SfStack *s)
{
  sf_sip_transport_set_tap (s->tp, sf_stack_tap, s);
  sf_endpoint_set_before_emit (s->ep, before_emit, s);
}

void
sf_stack_tap_clear (SfStack *s)
{
  sf_endpoint_set_before_emit (s->ep, NULL, NULL);
  if (s->tap.idle != NULL) {
    g_source_destroy (s->tap.idle);
    g_clear_pointer (&s->tap.idle, g_source_unref);
  }
  g_clear_pointer (&s->tap.msg, sf_sip_msg_unref);
  g_clear_pointer (&s->tap.wire, g_bytes_unref);
  g_clear_object (&s->tap.local);
  g_clear_object (&s->tap.remote);
}
void
sf_stack_tap (SfSipTapDir dir, SfSipProto proto, GInetSocketAddress *local, GInetSocketAddress *remote,
              SfSipMsg *msg, GBytes *wire, gpointer data)
{
  SfStack *s = data;
  if (s->debug_messages)
    log_message (s, dir, proto, local, remote, msg, wire);
  if (!sf_endpoint_emits (s->ep, SF_EVC_MESSAGE))
    return;
  sf_stack_tap_flush (s);
  if (dir == SF_SIP_TAP_IN) {
    s->tap.proto = proto;
    s->tap.local = local != NULL ? g_object_ref (local) : NULL;
    s->tap.remote = remote != NULL ? g_object_ref (remote) : NULL;
    s->tap.msg = msg != NULL ? sf_sip_msg_ref (msg) : NULL;
    s->tap.wire = g_bytes_ref (wire);
    /* On the stack's own context (its transport's), not the global default:
     * a worker's line is written by its own thread (docs/workers.md). */
    s->tap.idle = g_idle_source_new ();
    g_source_set_callback (s->tap.idle, flush_when_idle, s, NULL);
    g_source_attach (s->tap.idle, sf_sip_transport_context (s->tp));
    return;
  }
  g_autoptr (SfSipMsg) parsed = sf_sip_msg_parse (wire, NULL);
  write_line (s, dir, proto, local, remote, parsed, wire);
}
