/*
 * ct_check.c - constant-time check of lib/p256 under valgrind memcheck.
 *
 * Secrets (keygen seeds, private keys, hedging randomness) are marked
 * undefined with VALGRIND_MAKE_MEM_UNDEFINED. Memcheck then reports any
 * conditional branch and any memory address computed from them, which is
 * exactly what a timing or cache attacker could observe. The core is built
 * with -DP256_VALGRIND so the few deliberate declassifications in p256.c
 * (key in range, nonce candidate rejected, outputs) mark values defined.
 *
 *   valgrind --error-exitcode=99 ct_check clean          -> must exit 0
 *   valgrind --error-exitcode=99 ct_check leaky-branch   -> must exit 99
 *   valgrind --error-exitcode=99 ct_check leaky-index    -> must exit 99
 *
 * The leaky modes run a deliberately leaky function, one branching on a
 * secret bit and one indexing a table with a secret byte: the negative
 * controls proving that the harness catches each kind of leak.
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "p256.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

/* deterministic inputs (xorshift), different secrets per round */
static uint32_t rng_state = 0x2545f491;
static void fill(uint8_t *p, size_t n)
{
    while (n--) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 17;
        rng_state ^= rng_state << 5;
        *p++ = (uint8_t)rng_state;
    }
}

static int check(int rc, const char *what)
{
    PUBLIC(&rc, sizeof rc);
    if (rc != P256_OK) {
        fprintf(stderr, "%s failed: %s\n", what, p256_error_message(rc));
        return 1;
    }
    return 0;
}

/* The negative controls. The branch calls a function so the compiler
 * cannot turn it into a conditional move. */
static const uint8_t sbox[256] = {1, 2, 3};
static int __attribute__((noinline)) leaky_index(const uint8_t *secret)
{
    return sbox[secret[1]];
}

static int __attribute__((noinline)) leaky_branch(const uint8_t *secret)
{
    if (secret[0] & 1) {
        puts("odd");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint8_t seed[P256_SEED_LEN], priv[P256_PRIV_LEN], pub[P256_PUB_LEN], pub2[P256_PUB_LEN];
    uint8_t peer_seed[P256_SEED_LEN], peer_priv[P256_PRIV_LEN], peer_pub[P256_PUB_LEN];
    uint8_t comp[P256_PUB_COMP_LEN], digest[32], extra[32], sig[64], shared[32];
    int fails = 0, valid = 0;
    int branch = argc == 2 && !strcmp(argv[1], "leaky-branch");
    int index = argc == 2 && !strcmp(argv[1], "leaky-index");
    if (argc != 2 || (strcmp(argv[1], "clean") && !branch && !index)) {
        fprintf(stderr, "usage: %s clean|leaky-branch|leaky-index\n", argv[0]);
        return 2;
    }
    if (branch || index) {
        fill(priv, sizeof priv);
        SECRET(priv, sizeof priv);
        int r = branch ? leaky_branch(priv) : leaky_index(priv);
        PUBLIC(&r, sizeof r);
        printf("%s: %d\n", argv[1], r);
        return 0;
    }
    /* a public peer key */
    fill(peer_seed, sizeof peer_seed);
    fails |= check(p256_keygen(peer_priv, peer_pub, peer_seed, sizeof peer_seed), "peer keygen");
    PUBLIC(peer_priv, sizeof peer_priv);
    fails |= check(p256_compress(comp, peer_pub, sizeof peer_pub), "compress");

    for (int round = 0; round < 3; round++) {
        fill(seed, sizeof seed);
        fill(digest, sizeof digest);
        fill(extra, sizeof extra);
        SECRET(seed, sizeof seed);
        SECRET(extra, sizeof extra);

        fails |= check(p256_keygen(priv, pub, seed, sizeof seed), "keygen");
        /* priv stays undefined: it came from the secret seed */
        fails |= check(p256_public_key(pub2, priv, sizeof priv), "public_key");
        fails |= check(p256_sign(sig, priv, sizeof priv, digest, sizeof digest, extra, sizeof extra),
                       "sign (hedged)");
        fails |= check(p256_sign(sig, priv, sizeof priv, digest, sizeof digest, extra, 0),
                       "sign (RFC 6979)");
        fails |= check(p256_ecdh(shared, priv, sizeof priv, peer_pub, sizeof peer_pub), "ecdh");
        fails |= check(p256_ecdh(shared, priv, sizeof priv, comp, sizeof comp), "ecdh (compressed)");
        /* verify only sees public data; run it so the whole API is covered */
        fails |= check(p256_verify(&valid, pub, sizeof pub, digest, sizeof digest, sig, sizeof sig),
                       "verify");
        PUBLIC(&valid, sizeof valid);
        if (!valid || memcmp(pub, pub2, sizeof pub)) {
            fprintf(stderr, "round %d: results inconsistent\n", round);
            fails = 1;
        }
    }
    printf(fails ? "ct_check: FAILED\n" : "ct_check: ok (keygen, public_key, sign, ecdh, verify)\n");
    return fails;
}
