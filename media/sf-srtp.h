/* sf-srtp.h: SDES keying for SRTP (RFC 3711) in SDP: the a=crypto attribute
 * (RFC 4568) read from the network and written by us, for the two suites we
 * carry, and master keys from the kernel's cryptographic random source.
 * sf-sdp.c uses it for the offer/answer; docs/media.md lists what is taken and
 * what is refused. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* A master key and salt for AES_CM_128 (RFC 4568 6.2.1): 16 + 14 bytes,
 * 40 characters of base64 in an inline key. */
#define SF_SRTP_KEY_LEN 30
#define SF_SRTP_KEY_B64_LEN 40
/* Longest a=crypto value read (a line with one inline key and a few session
 * parameters is about 90 bytes). */
#define SF_SRTP_MAX_CRYPTO_LEN 512
/* Most a=crypto lines read on one m= line; further ones are passed over. */
#define SF_SRTP_MAX_CRYPTO 16
/* RFC 4568 9.1: a tag is 1 to 9 digits. */
#define SF_SRTP_MAX_TAG 999999999u

typedef enum {
  SF_SRTP_NONE,                    /* RTP in the clear (RTP/AVP) */
  SF_SRTP_AES_CM_128_HMAC_SHA1_80, /* RFC 4568 6.2.1 */
  SF_SRTP_AES_CM_128_HMAC_SHA1_32, /* RFC 4568 6.2.2: 32-bit tag on SRTP, 80-bit on SRTCP */
} SfSrtpSuite;

/* "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"; NULL for NONE. */
const char *sf_srtp_suite_name (SfSrtpSuite s);
/* The suite named exactly @name (RFC 4568 registers upper case), NONE for any other. */
SfSrtpSuite sf_srtp_suite_from_name (const char *name);

/* One a=crypto line of a peer's SDP we can use. */
typedef struct {
  guint tag;                        /* 0..SF_SRTP_MAX_TAG */
  SfSrtpSuite suite;
  guint8 key[SF_SRTP_KEY_LEN];      /* master key || master salt */
} SfSrtpCrypto;

typedef enum {
  SF_SRTP_CRYPTO_OK,           /* @out filled */
  SF_SRTP_CRYPTO_UNSUPPORTED,  /* well formed, not for us: another suite or key method, an MKI, a short
                                  lifetime, several keys, a session parameter we do not apply */
  SF_SRTP_CRYPTO_MALFORMED,    /* not RFC 4568 syntax */
} SfSrtpCryptoResult;

/* Reads the value of an a=crypto attribute (after "crypto:"):
 *   TAG SP SUITE SP inline:BASE64[|LIFETIME][|MKI:LEN] [SESSION-PARAMS]
 * Taken: TAG 1-9 digits; our two suites; exactly one key parameter, method
 * "inline", 40 characters of base64 decoding to 30 bytes; a LIFETIME (decimal
 * or 2^N) of at least 2^31 packets (we never re-key in-band, so a shorter one
 * could run out; 2^31 is SRTCP's own limit); session parameters WSH=N
 * (a window size hint, 64 or more, passed over) and any starting with '-'
 * (RFC 4568 6.3: those may be ignored).  Refused (UNSUPPORTED): an MKI, a
 * lifetime below 2^31, several key parameters, any other session parameter
 * (KDR, UNENCRYPTED_*, UNAUTHENTICATED_SRTP, FEC_*).  @why (may be NULL) gets
 * the reason when not OK (transfer full). */
SfSrtpCryptoResult sf_srtp_crypto_parse (const char *value, SfSrtpCrypto *out, char **why);

/* "TAG SUITE inline:BASE64" for our key (transfer full). */
char *sf_srtp_crypto_format (guint tag, SfSrtpSuite suite, const guint8 key[SF_SRTP_KEY_LEN]);

/* A new master key and salt from getrandom(2) (the kernel's CSPRNG; never
 * GLib's g_random, which is not one).  Aborts when the kernel has none to give
 * (before Linux 3.17 and no /dev/urandom): a guessable key is worse than none. */
void sf_srtp_random_key (guint8 key[SF_SRTP_KEY_LEN]);

G_END_DECLS
