/* sf-secret.h: the element's secret, the key behind what it signs and checks
 * without keeping state: digest nonces (RFC 7616 3.3) and the proxy's
 * Record-Route tokens.  It lives in a file so that it survives a restart (a
 * dialog set up before the restart still routes) and so that the nodes of a
 * cluster can share it (copy the file, or point core.secret_file at one). */
#pragma once
#include <glib.h>
#include "sipflow/sf-config.h"

G_BEGIN_DECLS

#define SF_SECRET_LEN 32

/* The directory for state that outlives a run (core.state_dir; default
 * $STATE_DIRECTORY, set by systemd's StateDirectory=, else
 * $XDG_STATE_HOME/sipflow, i.e. ~/.local/state/sipflow; transfer full). */
char *sf_state_dir (SfConfig *cfg);

/* Reads the secret from core.secret_file (default STATE_DIR/secret: 64 hex
 * digits).  A missing file is created with 32 bytes from the kernel's random
 * source, mode 0600, atomically (two processes starting at once agree on one).
 * A file that is not 64 hex digits is an error naming it.  Each key is derived
 * for one use, HMAC-SHA-256(secret, @purpose), so no two uses share a key. */
gboolean sf_secret_derive (SfConfig *cfg, const char *purpose, guint8 out[SF_SECRET_LEN], GError **error);

/* Two SipHash-2-4 keys for a 128-bit MAC (two SipHash of the same bytes):
 * the 32 bytes sf_secret_derive gives for @purpose, as four little-endian
 * words. */
gboolean sf_secret_derive_siphash (SfConfig *cfg, const char *purpose, guint64 keys[2][2], GError **error);

/* SipHash-2-4 (Aumasson, Bernstein) of @in under the 128-bit key @k: a keyed
 * hash for hash tables an attacker feeds, and a short MAC (64 bits) where an
 * HMAC would cost too much per message (the proxy's Via branches). */
guint64 sf_siphash24 (const guint64 k[2], const guint8 *in, gsize len);

/* @v as 16 lowercase hex digits at @out (no terminator): a MAC's text. */
void sf_hex16 (guint64 v, char *out);
/* Two SipHash-2-4 keys from 32 bytes (little-endian words): the cutting
 * sf_secret_derive_siphash and the digest nonces' keys share. */
void sf_siphash_keys (const guint8 raw[32], guint64 keys[2][2]);

/* 16 lowercase hex digits (and a NUL: @out gets 17 bytes) of SipHash-2-4 of
 * @in under a fixed, public key, the 16 bytes "sipflow-hash-key": no secret
 * in it, for what only has to be the same for the same bytes and spread well
 * (the proxy's loop hash, RFC 3261 16.6 step 8; a stateless answer's To tag,
 * 8.2.7), at about a tenth of SHA-256's cost. */
void sf_hash_hex (const void *in, gsize len, char out[17]);

G_END_DECLS
