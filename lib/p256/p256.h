/*
 * p256.h - compact, constant-time NIST P-256 (secp256r1) for the security key.
 *
 * One C core, three builds: a CPython extension (host tests), a MicroPython
 * user C module (frozen into firmware) and a MicroPython native .mpy module.
 * Every binding is a thin shim over these functions, so length checks and
 * error messages live here and are identical everywhere.
 *
 * All integers are big-endian byte strings. Inputs are (pointer, length)
 * so the length check happens in one place. Every function returns P256_OK
 * or one of the P256_ERR_* codes below; p256_error_message() gives the short
 * text the bindings raise as ValueError.
 *
 * Secrets (private keys, nonces, seeds) never decide a branch or a memory
 * index; the only values derived from secrets that are deliberately made
 * public are the yes/no answers "is this private key in range" and "was
 * this RFC 6979 candidate nonce rejected" (probability ~2^-32).
 */
#ifndef P256_H
#define P256_H

#include <stddef.h>
#include <stdint.h>

#define P256_SEED_LEN 40     /* keygen: caller randomness, reduced mod n-1 */
#define P256_PRIV_LEN 32
#define P256_PUB_LEN 65      /* 0x04 || X || Y */
#define P256_PUB_COMP_LEN 33 /* 0x02/0x03 || X */
#define P256_DIGEST_LEN 32
#define P256_EXTRA_LEN 32    /* hedging randomness for the RFC 6979 nonce */
#define P256_SIG_LEN 64      /* r || s */
#define P256_DER_MAX 72      /* 30 len 02 21 00 r(32) 02 21 00 s(32) */
#define P256_SECRET_LEN 32   /* ECDH: the X coordinate */

enum {
    P256_OK = 0,
    P256_ERR_SEED_LEN,
    P256_ERR_PRIV_LEN,
    P256_ERR_PRIV,
    P256_ERR_DIGEST_LEN,
    P256_ERR_EXTRA_LEN,
    P256_ERR_PUB_LEN,
    P256_ERR_PUB65_LEN,
    P256_ERR_PUB33_LEN,
    P256_ERR_PUB,
    P256_ERR_SIG_LEN,
    P256_ERR_DER,
    P256_ERR_INTERNAL
};

/* The messages, as macros so the MicroPython binding can wrap each literal
 * in MP_ERROR_TEXT() (needed where firmware compresses ROM strings). */
#define P256_MSG_SEED_LEN "seed must be 40 bytes"
#define P256_MSG_PRIV_LEN "private key must be 32 bytes"
#define P256_MSG_PRIV "private key must be in [1, n-1]"
#define P256_MSG_DIGEST_LEN "digest must be 32 bytes"
#define P256_MSG_EXTRA_LEN "extra must be 0 or 32 bytes"
#define P256_MSG_PUB_LEN "public key must be 33 or 65 bytes"
#define P256_MSG_PUB65_LEN "public key must be 65 bytes"
#define P256_MSG_PUB33_LEN "public key must be 33 bytes"
#define P256_MSG_PUB "invalid public key"
#define P256_MSG_SIG_LEN "signature must be 64 bytes"
#define P256_MSG_DER "malformed DER signature"
#define P256_MSG_INTERNAL "internal error"

/* Short message for an error code (static storage). Inline, so only a
 * binding that calls it carries the strings: the CPython build does, the
 * MicroPython binding raises each P256_MSG_* through MP_ERROR_TEXT and
 * the Thumb core has none. */
static inline const char *p256_error_message(int err)
{
    switch (err) {
    case P256_OK: return "ok";
    case P256_ERR_SEED_LEN: return P256_MSG_SEED_LEN;
    case P256_ERR_PRIV_LEN: return P256_MSG_PRIV_LEN;
    case P256_ERR_PRIV: return P256_MSG_PRIV;
    case P256_ERR_DIGEST_LEN: return P256_MSG_DIGEST_LEN;
    case P256_ERR_EXTRA_LEN: return P256_MSG_EXTRA_LEN;
    case P256_ERR_PUB_LEN: return P256_MSG_PUB_LEN;
    case P256_ERR_PUB65_LEN: return P256_MSG_PUB65_LEN;
    case P256_ERR_PUB33_LEN: return P256_MSG_PUB33_LEN;
    case P256_ERR_PUB: return P256_MSG_PUB;
    case P256_ERR_SIG_LEN: return P256_MSG_SIG_LEN;
    case P256_ERR_DER: return P256_MSG_DER;
    default: return P256_MSG_INTERNAL;
    }
}

/* (seed mod (n-1)) + 1 as the private key, and its public key. */
int p256_keygen(uint8_t priv[P256_PRIV_LEN], uint8_t pub[P256_PUB_LEN],
                const uint8_t *seed, size_t seed_len);

int p256_public_key(uint8_t pub[P256_PUB_LEN], const uint8_t *priv, size_t priv_len);

/* ECDSA over a caller-computed digest. The nonce is RFC 6979 (HMAC-SHA-256);
 * extra (0 or 32 bytes) is the section 3.6 additional data: 32 random bytes
 * hedge against fault attacks and bad state, 0 bytes is plain RFC 6979. */
int p256_sign(uint8_t sig[P256_SIG_LEN], const uint8_t *priv, size_t priv_len,
              const uint8_t *digest, size_t digest_len,
              const uint8_t *extra, size_t extra_len);

/* *valid = 1 for a good signature, 0 for a bad one (including r or s out of
 * [1, n-1]). Errors only for wrong lengths or an invalid public key. */
int p256_verify(int *valid, const uint8_t *pub, size_t pub_len,
                const uint8_t *digest, size_t digest_len,
                const uint8_t *sig, size_t sig_len);

/* X coordinate of priv * peer; the peer point (33 or 65 bytes) is validated. */
int p256_ecdh(uint8_t secret[P256_SECRET_LEN], const uint8_t *priv, size_t priv_len,
              const uint8_t *peer, size_t peer_len);

/* Raw r||s <-> strict DER SEQUENCE { INTEGER r, INTEGER s }. */
int p256_sig_to_der(uint8_t der[P256_DER_MAX], size_t *der_len,
                    const uint8_t *sig, size_t sig_len);
int p256_sig_from_der(uint8_t sig[P256_SIG_LEN], const uint8_t *der, size_t der_len);

/* SEC1 point encodings; both validate the point. */
int p256_compress(uint8_t out[P256_PUB_COMP_LEN], const uint8_t *pub, size_t pub_len);
int p256_decompress(uint8_t out[P256_PUB_LEN], const uint8_t *pub, size_t pub_len);

/* 1 if pub is a valid 33- or 65-byte SEC1 encoding of a curve point, else 0. */
int p256_validate_public_key(const uint8_t *pub, size_t pub_len);

/* Zero memory in a way the compiler may not optimise away. */
void p256_wipe(void *p, size_t n);

#endif
