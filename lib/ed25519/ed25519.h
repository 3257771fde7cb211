/*
 * ed25519.h - compact, constant-time Ed25519 (RFC 8032 PureEdDSA) for the
 * security key: COSE algorithm -8 (EdDSA) / -19 (Ed25519).
 *
 * One C core, three builds, as lib/p256: a CPython extension (host tests),
 * a MicroPython user C module (frozen into firmware) and a MicroPython
 * native .mpy module. The bindings are thin shims over these functions,
 * so length checks and error messages live here.
 *
 * Keys are RFC 8032 private keys (32-byte seeds); SHA-512 is inside.
 * Functions return ED25519_OK or an ED25519_ERR_* code;
 * ed25519_error_message() gives the text the bindings raise as ValueError.
 *
 * Secrets (seed, its hash, the nonce) never decide a branch or a memory
 * index. Verification handles only public data and may take variable time.
 */
#ifndef ED25519_H
#define ED25519_H

#include <stddef.h>
#include <stdint.h>

#define ED25519_SEED_LEN 32
#define ED25519_PUB_LEN 32
#define ED25519_SIG_LEN 64

enum {
    ED25519_OK = 0,
    ED25519_ERR_SEED_LEN,
    ED25519_ERR_PUB_LEN,
    ED25519_ERR_SIG_LEN
};

/* As macros so the MicroPython binding can wrap each in MP_ERROR_TEXT(). */
#define ED25519_MSG_SEED_LEN "seed must be 32 bytes"
#define ED25519_MSG_PUB_LEN "public key must be 32 bytes"
#define ED25519_MSG_SIG_LEN "signature must be 64 bytes"

static inline const char *ed25519_error_message(int err)
{
    switch (err) {
    case ED25519_OK: return "ok";
    case ED25519_ERR_SEED_LEN: return ED25519_MSG_SEED_LEN;
    case ED25519_ERR_PUB_LEN: return ED25519_MSG_PUB_LEN;
    default: return ED25519_MSG_SIG_LEN;
    }
}

/* RFC 8032 5.1.5: the public key A of a 32-byte private key (seed). */
int ed25519_public_key(uint8_t pub[ED25519_PUB_LEN], const uint8_t *seed, size_t seed_len);

/* RFC 8032 5.1.6: R || S over msg (deterministic). */
int ed25519_sign(uint8_t sig[ED25519_SIG_LEN], const uint8_t *seed, size_t seed_len,
                 const uint8_t *msg, size_t msg_len);

/* RFC 8032 5.1.7, cofactorless ([S]B = R + [k]A, checked as the encoding
 * of [S]B - [k]A equal to R's bytes). *valid = 0 for S >= L, for an A
 * that does not decode (non-canonical y included), for any other
 * mismatch. Errors only for wrong lengths. */
int ed25519_verify(int *valid, const uint8_t *pub, size_t pub_len,
                   const uint8_t *msg, size_t msg_len,
                   const uint8_t *sig, size_t sig_len);

/* SHA-512 of msg (exposed for tests and callers that need it). */
void ed25519_sha512(uint8_t out[64], const uint8_t *msg, size_t msg_len);

/* Zero memory in a way the compiler may not optimise away. */
void ed25519_wipe(void *p, size_t n);

#endif
