/*
 * ct_check.c - constant-time check of lib/ed25519 under valgrind memcheck,
 * as lib/p256/ct/ct_check.c: the seeds are marked undefined, so memcheck
 * reports any branch or memory address computed from them (or from the
 * secret scalar and nonce derived from them). The core is built with
 * -DED25519_VALGRIND so its outputs (public key, R, S) are declassified.
 *
 *   valgrind --error-exitcode=99 ct_check clean          -> must exit 0
 *   valgrind --error-exitcode=99 ct_check leaky-branch   -> must exit 99
 *   valgrind --error-exitcode=99 ct_check leaky-index    -> must exit 99
 *
 * The leaky modes are the negative controls: a branch on a secret bit and
 * a table index from a secret byte must be caught.
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "ed25519.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static uint32_t rng_state = 0x9e3779b9;
static void fill(uint8_t *p, size_t n)
{
    while (n--) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 17;
        rng_state ^= rng_state << 5;
        *p++ = (uint8_t)rng_state;
    }
}

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
    uint8_t seed[32], pub[32], msg[200], sig[64];
    int fails = 0, valid = 0, rc;
    int branch = argc == 2 && !strcmp(argv[1], "leaky-branch");
    int index = argc == 2 && !strcmp(argv[1], "leaky-index");
    if (argc != 2 || (strcmp(argv[1], "clean") && !branch && !index)) {
        fprintf(stderr, "usage: %s clean|leaky-branch|leaky-index\n", argv[0]);
        return 2;
    }
    if (branch || index) {
        fill(seed, sizeof seed);
        SECRET(seed, sizeof seed);
        int r = branch ? leaky_branch(seed) : leaky_index(seed);
        PUBLIC(&r, sizeof r);
        printf("%s: %d\n", argv[1], r);
        return 0;
    }
    for (int round = 0; round < 4; round++) {
        fill(seed, sizeof seed);
        fill(msg, sizeof msg);
        if (round == 1) {
            memset(seed, 0, sizeof seed); /* even/odd scalars, zero bytes */
        }
        SECRET(seed, sizeof seed);
        rc = ed25519_public_key(pub, seed, sizeof seed);
        rc |= ed25519_sign(sig, seed, sizeof seed, msg, (size_t)(round * 61));
        /* verify handles public data only; run it for coverage */
        rc |= ed25519_verify(&valid, pub, sizeof pub, msg, (size_t)(round * 61), sig, sizeof sig);
        PUBLIC(&rc, sizeof rc);
        PUBLIC(&valid, sizeof valid);
        if (rc != ED25519_OK || !valid) {
            fprintf(stderr, "round %d: rc %d valid %d\n", round, rc, valid);
            fails = 1;
        }
    }
    printf(fails ? "ct_check: FAILED\n" : "ct_check: ok (public_key, sign, verify)\n");
    return fails;
}
