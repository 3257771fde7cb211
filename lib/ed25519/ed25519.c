/*
 * ed25519.c - compact, constant-time Ed25519 (see ed25519.h for the API).
 *
 * Map of this file:
 *   1. limbs, constant-time helpers, stack wiping
 *   2. SHA-512
 *   3. arithmetic mod p = 2^255 - 19 (radix 2^32 or 2^64, weakly reduced)
 *   4. arithmetic mod L (the group order): byte-radix folding
 *   5. points: extended twisted Edwards coordinates (Hisil-Wong-Carter-
 *      Dawson 2008), complete for Ed25519's a = -1 and non-square d
 *   6. k B by a signed comb over a fixed table (ed25519_table.h, made by
 *      gen_table.py); k A for verification, public data, double-and-add
 *   7. encodings, keys, sign, verify
 *
 * Field elements are NLIMBS limbs holding any value in [0, 2^256): every
 * operation returns a value in that range congruent to the true result,
 * and only encoding reduces fully. 2^256 = 38 mod p, so a carry out of the
 * top limb is folded back as 38. Limbs are 64-bit where the compiler has
 * unsigned __int128, else 32-bit (-DED25519_NO_INT128 forces 32-bit limbs,
 * how the tests cover the boards' limb size on the host).
 *
 * Constant time: no branch and no memory address depends on a secret;
 * table lookups read every entry and keep the wanted one with a mask.
 * host_tests/test_ed25519_ct.py checks this under valgrind.
 */
#include "ed25519.h"

#if defined(__GNUC__) && !defined(__clang__)
/* Keep small copy/zero loops as loops (no memcpy/memset calls, which a
 * MicroPython native module would have to provide). */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#if defined(__thumb__) && !defined(__thumb2__)
/* GCC 12 Thumb-1 -Os miscompiles with interprocedural register
 * allocation (see lib/p256/p256.c); every call follows the plain AAPCS. */
#pragma GCC optimize("no-ipa-ra")
#endif
#endif

#if defined(__GNUC__)
#define INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#else
#define INLINE inline
#define NOINLINE
#endif

#ifdef ED25519_VALGRIND
#include <valgrind/memcheck.h>
#define DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define DECLASSIFY(p, n) ((void)(p), (void)(n))
#endif

/* ------------------------------------------------------------------------ */
/* 1. Limbs and constant-time helpers                                        */

#if defined(__SIZEOF_INT128__) && !defined(ED25519_NO_INT128)
typedef uint64_t limb_t;
typedef unsigned __int128 dlimb_t;
#define LIMB_BITS 64
#define ED_W2(lo, hi) (((uint64_t)(hi) << 32) | (uint64_t)(lo))
#else
typedef uint32_t limb_t;
typedef uint64_t dlimb_t;
#define LIMB_BITS 32
#define ED_W2(lo, hi) (lo), (hi)
#endif
#define NLIMBS (256 / LIMB_BITS)

/* ARMv6-M (Cortex-M0/M0+) inline asm for the field product; -DED25519_NO_ASM
 * turns it off */
#if LIMB_BITS == 32 && defined(__thumb__) && !defined(__thumb2__) && defined(__GNUC__) && defined(__OPTIMIZE__) && \
    !defined(ED25519_NO_ASM)
#define ED25519_ASM_ARMV6M 1
#endif

typedef limb_t fe[NLIMBS];

static inline limb_t barrier(limb_t x)
{
#if defined(__GNUC__)
    __asm__("" : "+r"(x));
#endif
    return x;
}

/* all ones if bit == 1, zero if bit == 0 */
static inline limb_t mask_of(limb_t bit)
{
    return barrier((limb_t)0 - bit);
}

/* 1 if a == b else 0 */
static inline limb_t ct_eq(limb_t a, limb_t b)
{
    limb_t d = a ^ b;
    return 1 ^ ((d | ((limb_t)0 - d)) >> (LIMB_BITS - 1));
}

/*
 * x * y as a double limb: the only wide multiplication. ARMv6-M (Cortex-M0+)
 * has only MULS, 32x32->32, and GCC would call libgcc's __aeabi_lmul, whose
 * generic carry test (longlong.h umul_ppmm) is a branch on the data: the
 * cycle count then depended on the secret (host_tests/test_ed25519_m0.py
 * caught it). There it is four 16x16 products added without branches.
 */
#if LIMB_BITS == 32 && defined(__thumb__) && !defined(__thumb2__)
static INLINE uint64_t mul_wide(uint32_t x, uint32_t y)
{
    uint32_t xl = x & 0xffff, xh = x >> 16, yl = y & 0xffff, yh = y >> 16;
    uint32_t m1 = xl * yh, m2 = xh * yl;
    uint64_t r = ((uint64_t)(xh * yh) << 32) | (xl * yl);
    r += (uint64_t)m1 << 16;
    return r + ((uint64_t)m2 << 16);
}
#else
static INLINE dlimb_t mul_wide(limb_t x, limb_t y)
{
    return (dlimb_t)x * y;
}
#endif

/* x * y + z + t, which cannot overflow a double limb */
static INLINE dlimb_t muladd(limb_t x, limb_t y, limb_t z, limb_t t)
{
    return mul_wide(x, y) + z + t;
}

/* x * c for a signed 64-bit x and a small c, without a 64x64 library call
 * (mod 2^64, exact when the product fits) */
static INLINE int64_t smul64(int64_t x, uint32_t c)
{
    uint64_t u = (uint64_t)x;
    uint64_t r = (uint64_t)((uint32_t)(u >> 32) * c) << 32;
#if LIMB_BITS == 32
    r += mul_wide((uint32_t)u, c);
#else
    r += (uint64_t)(uint32_t)u * c;
#endif
    return (int64_t)r;
}

void ed25519_wipe(void *p, size_t n)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--) {
        *v++ = 0;
    }
}

/*
 * The arithmetic helpers leave products of secrets in their stack frames.
 * Every API function that handles a secret ends with burn_stack(n), which
 * zeroes n bytes below its own frame: the region its callees used. n
 * covers the deepest callee chain, which depends on the compiler and the
 * optimisation level, so there are three sets, as in lib/p256: Thumb-1 at
 * -Os (what ships; sign stays under 1 KB of stack), Thumb-1 otherwise, and
 * everything else (hosts: x86-64 frames are the larger).
 * host_tests/test_ed25519_stack.py checks each set against the call graphs
 * (-fcallgraph-info) of those builds. Buffers that live across calls are
 * wiped where they die.
 */
#if defined(__thumb__) && !defined(__thumb2__) && defined(__OPTIMIZE_SIZE__)
#define BURN_SIGN 832   /* two_base_encode, comb_mul and below: sign < 1 KB */
#define BURN_PUBLIC 768 /* expand_seed's scalar reduction */
#elif defined(__thumb__) && !defined(__thumb2__)
#define BURN_SIGN 1216
#define BURN_PUBLIC 1024
#else
#define BURN_SIGN 1216
#define BURN_PUBLIC 960
#endif
NOINLINE
static void burn_stack(size_t n)
{
    uint32_t buf[n / sizeof(uint32_t)];
    volatile uint32_t *w = buf;
    for (size_t i = 0; i < n / sizeof(uint32_t); i++) {
        w[i] = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* 2. SHA-512 (FIPS 180-4)                                                   */

typedef struct {
    uint64_t h[8];
    uint8_t buf[128];
    uint32_t fill;  /* bytes in buf */
    uint64_t total; /* bytes hashed (messages < 2^61 bytes) */
} sha512_ctx;

static const uint64_t SHA512_K[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL};

static const uint64_t SHA512_H0[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

static INLINE uint64_t ror64(uint64_t x, int n)
{
    return (x >> n) | (x << (64 - n));
}

static uint64_t load64_be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* One block; the 16-word schedule is rolled in place. */
NOINLINE
static void sha512_block(uint64_t h[8], const uint8_t *p)
{
    uint64_t w[16], s[8];
    for (int i = 0; i < 16; i++) {
        w[i] = load64_be(p + 8 * i);
    }
    for (int i = 0; i < 8; i++) {
        s[i] = h[i];
    }
    for (int i = 0; i < 80; i++) {
        if (i >= 16) {
            uint64_t a = w[(i + 1) & 15], b = w[(i + 14) & 15];
            w[i & 15] += (ror64(a, 1) ^ ror64(a, 8) ^ (a >> 7)) + w[(i + 9) & 15] +
                         (ror64(b, 19) ^ ror64(b, 61) ^ (b >> 6));
        }
        uint64_t e = s[4], a = s[0];
        uint64_t t1 = s[7] + (ror64(e, 14) ^ ror64(e, 18) ^ ror64(e, 41)) +
                      ((e & s[5]) ^ (~e & s[6])) + SHA512_K[i] + w[i & 15];
        uint64_t t2 = (ror64(a, 28) ^ ror64(a, 34) ^ ror64(a, 39)) +
                      ((a & s[1]) ^ (a & s[2]) ^ (s[1] & s[2]));
        for (int j = 7; j > 0; j--) {
            s[j] = s[j - 1];
        }
        s[4] += t1;
        s[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) {
        h[i] += s[i];
    }
}

static void sha512_init(sha512_ctx *c)
{
    for (int i = 0; i < 8; i++) {
        c->h[i] = SHA512_H0[i];
    }
    c->fill = 0;
    c->total = 0;
}

static void sha512_update(sha512_ctx *c, const uint8_t *p, size_t n)
{
    c->total += n;
    while (n) {
        c->buf[c->fill++] = *p++;
        n--;
        if (c->fill == 128) {
            sha512_block(c->h, c->buf);
            c->fill = 0;
        }
    }
}

static void sha512_final(sha512_ctx *c, uint8_t out[64])
{
    uint64_t bits = c->total << 3;
    uint8_t pad = 0x80;
    /* 0x80, zeros to 112 mod 128, then the 128-bit length (top half 0) */
    do {
        sha512_update(c, &pad, 1);
        pad = 0;
    } while (c->fill != 112);
    for (int i = 0; i < 8; i++) {
        c->buf[112 + i] = 0;
        c->buf[120 + i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha512_block(c->h, c->buf);
    for (int i = 0; i < 64; i++) {
        out[i] = (uint8_t)(c->h[i / 8] >> (56 - 8 * (i % 8)));
    }
}

void ed25519_sha512(uint8_t out[64], const uint8_t *msg, size_t msg_len)
{
    sha512_ctx c;
    sha512_init(&c);
    sha512_update(&c, msg, msg_len);
    sha512_final(&c, out);
    ed25519_wipe(&c, sizeof c);
}

/* ------------------------------------------------------------------------ */
/* 3. Arithmetic mod p = 2^255 - 19                                          */

static void fe_copy(fe r, const fe a)
{
    for (int i = 0; i < NLIMBS; i++) {
        r[i] = a[i];
    }
}

static void fe_set_small(fe r, limb_t v)
{
    r[0] = v;
    for (int i = 1; i < NLIMBS; i++) {
        r[i] = 0;
    }
}

/* r = a + 38 c for a carry c of at most a limb; returns the carry out. */
static INLINE limb_t fold38(fe r, limb_t c)
{
    dlimb_t acc = (dlimb_t)r[0] + mul_wide(c, 38);
    r[0] = (limb_t)acc;
    for (int i = 1; i < NLIMBS; i++) {
        acc = (dlimb_t)r[i] + (limb_t)(acc >> LIMB_BITS);
        r[i] = (limb_t)acc;
    }
    return (limb_t)(acc >> LIMB_BITS);
}

#if defined(ED25519_ASM_ARMV6M)

/*
 * Cortex-M0+: the addition and subtraction chains on the carry flag, then
 * the carry (borrow) out folded back as 38 (2^256 = 38 mod p), twice: the
 * second fold cannot carry again. No branch, no secret-dependent address.
 */
NOINLINE
static void fe_add(fe r, const fe a, const fe b)
{
    uint32_t x, y, z;
    __asm__ volatile(".syntax unified\n\t"
            "ldr   %[x], [%[a], #0]\n\t"
            "ldr   %[y], [%[b], #0]\n\t"
            "adds  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            "ldr   %[x], [%[a], #4]\n\t"
            "ldr   %[y], [%[b], #4]\n\t"
            "adcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #4]\n\t"
            "ldr   %[x], [%[a], #8]\n\t"
            "ldr   %[y], [%[b], #8]\n\t"
            "adcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #8]\n\t"
            "ldr   %[x], [%[a], #12]\n\t"
            "ldr   %[y], [%[b], #12]\n\t"
            "adcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #12]\n\t"
            "ldr   %[x], [%[a], #16]\n\t"
            "ldr   %[y], [%[b], #16]\n\t"
            "adcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #16]\n\t"
            "ldr   %[x], [%[a], #20]\n\t"
            "ldr   %[y], [%[b], #20]\n\t"
            "adcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #20]\n\t"
            "ldr   %[x], [%[a], #24]\n\t"
            "ldr   %[y], [%[b], #24]\n\t"
            "adcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #24]\n\t"
            "ldr   %[x], [%[a], #28]\n\t"
            "ldr   %[y], [%[b], #28]\n\t"
            "adcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #28]\n\t"
            "movs  %[z], #0\n\t"
            "adcs  %[z], %[z], %[z]\n\t"   /* z = carry out */
            "movs  %[y], #38\n\t"
            "muls  %[y], %[z]\n\t"          /* y = 38 carry */
            "movs  %[z], #0\n\t"
            "ldr   %[x], [%[r], #0]\n\t"
            "adds  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            "ldr   %[x], [%[r], #4]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #4]\n\t"
            "ldr   %[x], [%[r], #8]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #8]\n\t"
            "ldr   %[x], [%[r], #12]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #12]\n\t"
            "ldr   %[x], [%[r], #16]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #16]\n\t"
            "ldr   %[x], [%[r], #20]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #20]\n\t"
            "ldr   %[x], [%[r], #24]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #24]\n\t"
            "ldr   %[x], [%[r], #28]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #28]\n\t"
            "adcs  %[z], %[z], %[z]\n\t"   /* z = second carry */
            "movs  %[y], #38\n\t"
            "muls  %[y], %[z]\n\t"
            "ldr   %[x], [%[r], #0]\n\t"
            "adds  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            : [x] "=&l"(x), [y] "=&l"(y), [z] "=&l"(z)
            : [r] "l"(r), [a] "l"(a), [b] "l"(b)
            : "cc", "memory");
}

NOINLINE
static void fe_sub(fe r, const fe a, const fe b)
{
    uint32_t x, y, z;
    __asm__ volatile(".syntax unified\n\t"
            "ldr   %[x], [%[a], #0]\n\t"
            "ldr   %[y], [%[b], #0]\n\t"
            "subs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            "ldr   %[x], [%[a], #4]\n\t"
            "ldr   %[y], [%[b], #4]\n\t"
            "sbcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #4]\n\t"
            "ldr   %[x], [%[a], #8]\n\t"
            "ldr   %[y], [%[b], #8]\n\t"
            "sbcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #8]\n\t"
            "ldr   %[x], [%[a], #12]\n\t"
            "ldr   %[y], [%[b], #12]\n\t"
            "sbcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #12]\n\t"
            "ldr   %[x], [%[a], #16]\n\t"
            "ldr   %[y], [%[b], #16]\n\t"
            "sbcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #16]\n\t"
            "ldr   %[x], [%[a], #20]\n\t"
            "ldr   %[y], [%[b], #20]\n\t"
            "sbcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #20]\n\t"
            "ldr   %[x], [%[a], #24]\n\t"
            "ldr   %[y], [%[b], #24]\n\t"
            "sbcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #24]\n\t"
            "ldr   %[x], [%[a], #28]\n\t"
            "ldr   %[y], [%[b], #28]\n\t"
            "sbcs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #28]\n\t"
            "sbcs  %[z], %[z], %[z]\n\t"   /* z = -borrow */
            "movs  %[y], #38\n\t"
            "ands  %[y], %[z]\n\t"          /* y = 38 borrow */
            "movs  %[z], #0\n\t"
            "ldr   %[x], [%[r], #0]\n\t"
            "subs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            "ldr   %[x], [%[r], #4]\n\t"
            "sbcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #4]\n\t"
            "ldr   %[x], [%[r], #8]\n\t"
            "sbcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #8]\n\t"
            "ldr   %[x], [%[r], #12]\n\t"
            "sbcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #12]\n\t"
            "ldr   %[x], [%[r], #16]\n\t"
            "sbcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #16]\n\t"
            "ldr   %[x], [%[r], #20]\n\t"
            "sbcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #20]\n\t"
            "ldr   %[x], [%[r], #24]\n\t"
            "sbcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #24]\n\t"
            "ldr   %[x], [%[r], #28]\n\t"
            "sbcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #28]\n\t"
            "sbcs  %[z], %[z], %[z]\n\t"   /* z = -second borrow */
            "movs  %[y], #38\n\t"
            "ands  %[y], %[z]\n\t"
            "ldr   %[x], [%[r], #0]\n\t"
            "subs  %[x], %[x], %[y]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            : [x] "=&l"(x), [y] "=&l"(y), [z] "=&l"(z)
            : [r] "l"(r), [a] "l"(a), [b] "l"(b)
            : "cc", "memory");
}

#else

NOINLINE
static void fe_add(fe r, const fe a, const fe b)
{
    dlimb_t acc = 0;
    for (int i = 0; i < NLIMBS; i++) {
        acc = (dlimb_t)a[i] + b[i] + (limb_t)(acc >> LIMB_BITS);
        r[i] = (limb_t)acc;
    }
    /* a second carry leaves r < 38, so the last fold cannot carry */
    r[0] += 38 * fold38(r, (limb_t)(acc >> LIMB_BITS));
}

NOINLINE
static void fe_sub(fe r, const fe a, const fe b)
{
    dlimb_t acc = 0;
    limb_t borrow = 0;
    for (int i = 0; i < NLIMBS; i++) {
        acc = (dlimb_t)a[i] - b[i] - borrow;
        r[i] = (limb_t)acc;
        borrow = (limb_t)(acc >> LIMB_BITS) & 1;
    }
    /* wrapped by 2^256: take 38 off; if that wraps again r was >= 2^256 - 38 */
    acc = (dlimb_t)r[0] - (38 & ((limb_t)0 - borrow));
    r[0] = (limb_t)acc;
    for (int i = 1; i < NLIMBS; i++) {
        borrow = (limb_t)(acc >> LIMB_BITS) & 1;
        acc = (dlimb_t)r[i] - borrow;
        r[i] = (limb_t)acc;
    }
    r[0] -= 38 * ((limb_t)(acc >> LIMB_BITS) & 1);
}

#endif

/* The top half of a double-width product folded in times 38: r = lo + 38 hi */
#if defined(ED25519_ASM_ARMV6M)
static void fe_mac_fold(fe r, const limb_t c[2 * NLIMBS]);
#define fe_fold fe_mac_fold
#else
static void fe_fold(fe r, const limb_t c[2 * NLIMBS])
{
    limb_t carry = 0;
    for (int i = 0; i < NLIMBS; i++) {
        dlimb_t t = muladd(c[NLIMBS + i], 38, c[i], carry);
        r[i] = (limb_t)t;
        carry = (limb_t)(t >> LIMB_BITS);
    }
    r[0] += 38 * fold38(r, carry);
}
#endif

#if defined(ED25519_ASM_ARMV6M)
/*
 * Cortex-M0+: one level of subtractive Karatsuba over a 128x128-bit
 * product (mul128) written out as Comba in asm: aL bL, aH bH and
 * |aL - aH| |bH - bL|, 48 32x32 products instead of 64. Each 32x32 product
 * is four 16x16 MULS (single-cycle on the RP2040, so constant time) put
 * together with the carry flag, which C cannot name, into a three-word
 * column accumulator whose registers rotate from column to column. MOVS #0
 * leaves the carry flag alone, which the sequences rely on. The operand
 * and output pointers wait in r8-r10 (MOV to a low register is one cycle),
 * so the eight low registers hold the product and the accumulator.
 */

/* r = lo + 38 hi: per limb 38 hi[i] (two 16x16 MULS) + lo[i] + the carry
 * of the limb below, then the top carry (< 40) folded as 38 twice. */
NOINLINE
static void fe_mac_fold(fe r, const limb_t c[2 * NLIMBS])
{
    uint32_t x, y, u, k = 0, z = 0;
    __asm__ volatile(".syntax unified\n\t"
            "ldr   %[x], [%[c], #32]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[0] */
            "ldr   %[u], [%[c], #0]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #0]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "ldr   %[x], [%[c], #36]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[1] */
            "ldr   %[u], [%[c], #4]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #4]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "ldr   %[x], [%[c], #40]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[2] */
            "ldr   %[u], [%[c], #8]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #8]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "ldr   %[x], [%[c], #44]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[3] */
            "ldr   %[u], [%[c], #12]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #12]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "ldr   %[x], [%[c], #48]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[4] */
            "ldr   %[u], [%[c], #16]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #16]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "ldr   %[x], [%[c], #52]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[5] */
            "ldr   %[u], [%[c], #20]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #20]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "ldr   %[x], [%[c], #56]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[6] */
            "ldr   %[u], [%[c], #24]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #24]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "ldr   %[x], [%[c], #60]\n\t"
            "uxth  %[y], %[x]\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "movs  %[u], #38\n\t"
            "muls  %[y], %[u]\n\t"
            "muls  %[x], %[u]\n\t"
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"   /* x:y = 38 hi[7] */
            "ldr   %[u], [%[c], #28]\n\t"
            "adds  %[y], %[y], %[u]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "adds  %[y], %[y], %[k]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[y], [%[r], #28]\n\t"
            "movs  %[k], %[x]\n\t"          /* carry into the next limb */
            "movs  %[u], #38\n\t"
            "muls  %[k], %[u]\n\t"          /* 38 top carry */
            "ldr   %[x], [%[r], #0]\n\t"
            "adds  %[x], %[x], %[k]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            "ldr   %[x], [%[r], #4]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #4]\n\t"
            "ldr   %[x], [%[r], #8]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #8]\n\t"
            "ldr   %[x], [%[r], #12]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #12]\n\t"
            "ldr   %[x], [%[r], #16]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #16]\n\t"
            "ldr   %[x], [%[r], #20]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #20]\n\t"
            "ldr   %[x], [%[r], #24]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #24]\n\t"
            "ldr   %[x], [%[r], #28]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[r], #28]\n\t"
            "movs  %[k], #0\n\t"
            "adcs  %[k], %[k], %[k]\n\t"
            "muls  %[k], %[u]\n\t"          /* a second carry: r < 38 now */
            "ldr   %[x], [%[r], #0]\n\t"
            "adds  %[x], %[x], %[k]\n\t"
            "str   %[x], [%[r], #0]\n\t"
            : [x] "=&l"(x), [y] "=&l"(y), [u] "=&l"(u), [k] "+&l"(k)
            : [r] "l"(r), [c] "l"(c), [z] "l"(z)
            : "cc", "memory");
}

/* (A, B, C) += a[i] b[j]; i, j are byte offsets */
#define M128_P(i, j, A, B, C)                                                        \
    "mov   %[x], r8\n\t"                                                            \
    "ldr   %[x], [%[x], #" #i "]\n\t"                                               \
    "mov   %[y], r9\n\t"                                                            \
    "ldr   %[y], [%[y], #" #j "]\n\t"                                               \
    "lsrs  %[u], %[x], #16\n\t"                                                     \
    "uxth  %[x], %[x]\n\t"                                                          \
    "lsrs  %[v], %[y], #16\n\t"                                                     \
    "uxth  %[y], %[y]\n\t"                                                          \
    "movs  %[w], %[x]\n\t"                                                          \
    "muls  %[w], %[y]\n\t" /* xl yl */                                              \
    "muls  %[y], %[u]\n\t" /* xh yl */                                              \
    "muls  %[x], %[v]\n\t" /* xl yh */                                              \
    "muls  %[v], %[u]\n\t" /* xh yh */                                              \
    "lsls  %[u], %[x], #16\n\t"                                                     \
    "lsrs  %[x], %[x], #16\n\t"                                                     \
    "adds  %[w], %[w], %[u]\n\t"                                                    \
    "adcs  %[v], %[v], %[x]\n\t" /* cannot carry out: a partial sum */              \
    "lsls  %[u], %[y], #16\n\t"                                                     \
    "lsrs  %[y], %[y], #16\n\t"                                                     \
    "adds  %[w], %[w], %[u]\n\t"                                                    \
    "adcs  %[v], %[v], %[y]\n\t" /* v:w = a[i] b[j] */                              \
    "movs  %[u], #0\n\t"                                                            \
    "adds  %[" #A "], %[" #A "], %[w]\n\t"                                          \
    "adcs  %[" #B "], %[" #B "], %[v]\n\t"                                          \
    "adcs  %[" #C "], %[" #C "], %[u]\n\t"

/* out[k] = A (byte offset k), and A becomes the accumulator's new top word */
#define M128_OUT(k, A)                                                               \
    "mov   %[u], r10\n\t"                                                           \
    "str   %[" #A "], [%[u], #" #k "]\n\t"                                          \
    "movs  %[" #A "], #0\n\t"

/* out[0..7] = a[0..3] b[0..3] */
NOINLINE
static void mul128(uint32_t out[8], const uint32_t a[4], const uint32_t b[4])
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b, u = (uint32_t)out, v, w, c0, c1, c2;
    __asm__ volatile(".syntax unified\n\t"
            "mov   r8, %[x]\n\t"
            "mov   r9, %[y]\n\t"
            "mov   r10, %[u]\n\t"
            "movs  %[c0], #0\n\t"
            "movs  %[c1], #0\n\t"
            "movs  %[c2], #0\n\t"
            M128_P(0, 0, c0, c1, c2)
            M128_OUT(0, c0)
            M128_P(0, 4, c1, c2, c0)
            M128_P(4, 0, c1, c2, c0)
            M128_OUT(4, c1)
            M128_P(0, 8, c2, c0, c1)
            M128_P(4, 4, c2, c0, c1)
            M128_P(8, 0, c2, c0, c1)
            M128_OUT(8, c2)
            M128_P(0, 12, c0, c1, c2)
            M128_P(4, 8, c0, c1, c2)
            M128_P(8, 4, c0, c1, c2)
            M128_P(12, 0, c0, c1, c2)
            M128_OUT(12, c0)
            M128_P(4, 12, c1, c2, c0)
            M128_P(8, 8, c1, c2, c0)
            M128_P(12, 4, c1, c2, c0)
            M128_OUT(16, c1)
            M128_P(8, 12, c2, c0, c1)
            M128_P(12, 8, c2, c0, c1)
            M128_OUT(20, c2)
            M128_P(12, 12, c0, c1, c2)
            "mov   %[u], r10\n\t"
            "str   %[c0], [%[u], #24]\n\t"
            "str   %[c1], [%[u], #28]\n\t"
            : [x] "+&l"(x), [y] "+&l"(y), [u] "+&l"(u), [v] "=&l"(v), [w] "=&l"(w),
              [c0] "=&l"(c0), [c1] "=&l"(c1), [c2] "=&l"(c2)
            :
            : "r8", "r9", "r10", "cc", "memory");
}

/* (A, B, C) += 2 a[i] a[j], i < j: the product of M128_P added again */
#define S128_X(i, j, A, B, C)                                                        \
    M128_P(i, j, A, B, C)                                                           \
    "adds  %[" #A "], %[" #A "], %[w]\n\t"                                          \
    "adcs  %[" #B "], %[" #B "], %[v]\n\t"                                          \
    "adcs  %[" #C "], %[" #C "], %[u]\n\t"

/* (A, B, C) += a[i]^2: xl^2 + xh^2 2^32 + 2 xl xh 2^16 */
#define S128_D(i, A, B, C)                                                           \
    "mov   %[x], r8\n\t"                                                            \
    "ldr   %[x], [%[x], #" #i "]\n\t"                                               \
    "lsrs  %[u], %[x], #16\n\t"                                                     \
    "uxth  %[x], %[x]\n\t"                                                          \
    "movs  %[w], %[x]\n\t"                                                          \
    "muls  %[w], %[x]\n\t" /* xl^2 */                                               \
    "movs  %[v], %[u]\n\t"                                                          \
    "muls  %[v], %[u]\n\t" /* xh^2 */                                               \
    "muls  %[x], %[u]\n\t" /* xl xh */                                              \
    "lsls  %[u], %[x], #17\n\t"                                                     \
    "lsrs  %[x], %[x], #15\n\t"                                                     \
    "adds  %[w], %[w], %[u]\n\t"                                                    \
    "adcs  %[v], %[v], %[x]\n\t" /* v:w = a[i]^2 */                                 \
    "movs  %[u], #0\n\t"                                                            \
    "adds  %[" #A "], %[" #A "], %[w]\n\t"                                          \
    "adcs  %[" #B "], %[" #B "], %[v]\n\t"                                          \
    "adcs  %[" #C "], %[" #C "], %[u]\n\t"

/* out[0..7] = a[0..3]^2: six cross products counted twice, four squares */
NOINLINE
static void sqr128(uint32_t out[8], const uint32_t a[4])
{
    uint32_t x = (uint32_t)a, y, u = (uint32_t)out, v, w, c0, c1, c2;
    __asm__ volatile(".syntax unified\n\t"
            "mov   r8, %[x]\n\t"
            "mov   r9, %[x]\n\t"
            "mov   r10, %[u]\n\t"
            "movs  %[c0], #0\n\t"
            "movs  %[c1], #0\n\t"
            "movs  %[c2], #0\n\t"
            S128_D(0, c0, c1, c2)
            M128_OUT(0, c0)
            S128_X(0, 4, c1, c2, c0)
            M128_OUT(4, c1)
            S128_X(0, 8, c2, c0, c1)
            S128_D(4, c2, c0, c1)
            M128_OUT(8, c2)
            S128_X(0, 12, c0, c1, c2)
            S128_X(4, 8, c0, c1, c2)
            M128_OUT(12, c0)
            S128_X(4, 12, c1, c2, c0)
            S128_D(8, c1, c2, c0)
            M128_OUT(16, c1)
            S128_X(8, 12, c2, c0, c1)
            M128_OUT(20, c2)
            S128_D(12, c0, c1, c2)
            "mov   %[u], r10\n\t"
            "str   %[c0], [%[u], #24]\n\t"
            "str   %[c1], [%[u], #28]\n\t"
            : [x] "+&l"(x), [y] "=&l"(y), [u] "+&l"(u), [v] "=&l"(v), [w] "=&l"(w),
              [c0] "=&l"(c0), [c1] "=&l"(c1), [c2] "=&l"(c2)
            :
            : "r8", "r9", "r10", "cc", "memory");
}

/* d = |x - y| for four limbs; returns all ones when x < y, else 0:
 * x - y on the borrow chain, then d = (d ^ mask) - mask, both branch-free */
NOINLINE
static limb_t sub128_abs(limb_t d[4], const limb_t x[4], const limb_t y[4])
{
    uint32_t t, u, mask;
    __asm__ volatile(".syntax unified\n\t"
            "ldr   %[t], [%[x], #0]\n\t"
            "ldr   %[u], [%[y], #0]\n\t"
            "subs  %[t], %[t], %[u]\n\t"
            "str   %[t], [%[d], #0]\n\t"
            "ldr   %[t], [%[x], #4]\n\t"
            "ldr   %[u], [%[y], #4]\n\t"
            "sbcs  %[t], %[t], %[u]\n\t"
            "str   %[t], [%[d], #4]\n\t"
            "ldr   %[t], [%[x], #8]\n\t"
            "ldr   %[u], [%[y], #8]\n\t"
            "sbcs  %[t], %[t], %[u]\n\t"
            "str   %[t], [%[d], #8]\n\t"
            "ldr   %[t], [%[x], #12]\n\t"
            "ldr   %[u], [%[y], #12]\n\t"
            "sbcs  %[t], %[t], %[u]\n\t"
            "str   %[t], [%[d], #12]\n\t"
            "sbcs  %[m], %[m], %[m]\n\t"   /* mask = -borrow */
            "ldr   %[t], [%[d], #0]\n\t"
            "eors  %[t], %[m]\n\t"
            "subs  %[t], %[t], %[m]\n\t"
            "str   %[t], [%[d], #0]\n\t"
            "ldr   %[t], [%[d], #4]\n\t"
            "eors  %[t], %[m]\n\t"
            "sbcs  %[t], %[t], %[m]\n\t"
            "str   %[t], [%[d], #4]\n\t"
            "ldr   %[t], [%[d], #8]\n\t"
            "eors  %[t], %[m]\n\t"
            "sbcs  %[t], %[t], %[m]\n\t"
            "str   %[t], [%[d], #8]\n\t"
            "ldr   %[t], [%[d], #12]\n\t"
            "eors  %[t], %[m]\n\t"
            "sbcs  %[t], %[t], %[m]\n\t"
            "str   %[t], [%[d], #12]\n\t"
            : [t] "=&l"(t), [u] "=&l"(u), [m] "=&l"(mask)
            : [d] "l"(d), [x] "l"(x), [y] "l"(y)
            : "cc", "memory");
    return mask;
}

/* one limb of a carry chain: dst[do] = p[po] (^ s) + q[qo] + carry */
#define KM_ADC(op, p, po, q, qo, dst, dof)                                           \
    "ldr   %[x], [%[" #p "], #" #po "]\n\t"                                         \
    "ldr   %[y], [%[" #q "], #" #qo "]\n\t"                                         \
    op "  %[x], %[x], %[y]\n\t"                                                     \
    "str   %[x], [%[" #dst "], #" #dof "]\n\t"
#define KM_XADC(i)                                                                  \
    "ldr   %[x], [%[m], #" #i "]\n\t"                                               \
    "eors  %[x], %[s]\n\t"                                                          \
    "ldr   %[y], [%[c], #" #i "]\n\t"                                               \
    "adcs  %[x], %[x], %[y]\n\t"                                                    \
    "str   %[x], [%[m], #" #i "]\n\t"

/*
 * a b = L + 2^128 (L + H + (aL - aH)(bH - bL)) + 2^256 H with L = aL bL,
 * H = aH bH; the middle term is aL bH + aH bL, in [0, 2^257). The sign s
 * of (aL - aH)(bH - bL) = s |aL - aH| |bH - bL| is a mask (no branch); the
 * middle term is L + H + (m ^ s) + (s & 1) with the top word s + carries.
 */
NOINLINE
static void kara_fold(fe r, limb_t c[2 * NLIMBS], limb_t m[8], limb_t s)
{
    uint32_t x, y, z;
    __asm__ volatile(".syntax unified\n\t"
            "lsrs  %[x], %[s], #1\n\t"   /* carry = s & 1 */
            KM_XADC(0) KM_XADC(4) KM_XADC(8) KM_XADC(12)
            KM_XADC(16) KM_XADC(20) KM_XADC(24) KM_XADC(28)
            "movs  %[z], #0\n\t"
            "adcs  %[s], %[s], %[z]\n\t" /* top word */
            KM_ADC("adds", m, 0, c, 32, m, 0) KM_ADC("adcs", m, 4, c, 36, m, 4)
            KM_ADC("adcs", m, 8, c, 40, m, 8) KM_ADC("adcs", m, 12, c, 44, m, 12)
            KM_ADC("adcs", m, 16, c, 48, m, 16) KM_ADC("adcs", m, 20, c, 52, m, 20)
            KM_ADC("adcs", m, 24, c, 56, m, 24) KM_ADC("adcs", m, 28, c, 60, m, 28)
            "adcs  %[s], %[s], %[z]\n\t" /* the middle term: m and s (0 or 1) */
            KM_ADC("adds", c, 16, m, 0, c, 16) KM_ADC("adcs", c, 20, m, 4, c, 20)
            KM_ADC("adcs", c, 24, m, 8, c, 24) KM_ADC("adcs", c, 28, m, 12, c, 28)
            KM_ADC("adcs", c, 32, m, 16, c, 32) KM_ADC("adcs", c, 36, m, 20, c, 36)
            KM_ADC("adcs", c, 40, m, 24, c, 40) KM_ADC("adcs", c, 44, m, 28, c, 44)
            "ldr   %[x], [%[c], #48]\n\t"
            "adcs  %[x], %[x], %[s]\n\t"
            "str   %[x], [%[c], #48]\n\t"
            "ldr   %[x], [%[c], #52]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[c], #52]\n\t"
            "ldr   %[x], [%[c], #56]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[c], #56]\n\t"
            "ldr   %[x], [%[c], #60]\n\t"
            "adcs  %[x], %[x], %[z]\n\t"
            "str   %[x], [%[c], #60]\n\t"
            : [x] "=&l"(x), [y] "=&l"(y), [z] "=&l"(z), [s] "+&l"(s)
            : [c] "l"(c), [m] "l"(m)
            : "cc", "memory");
    fe_fold(r, c);
}

/* c and m: L, H and the product of |aL - aH| |bH - bL|, then the fold */
NOINLINE
static void fe_mul(fe r, const fe a, const fe b)
{
    limb_t c[2 * NLIMBS], m[8];
    /* |aL - aH| and |bH - bL| wait in c's top half until H is computed */
    limb_t s = sub128_abs(c + 8, a, a + 4) ^ sub128_abs(c + 12, b + 4, b);
    mul128(m, c + 8, c + 12);
    mul128(c, a, b);
    mul128(c + 8, a + 4, b + 4);
    kara_fold(r, c, m, s);
}

/* the same with b = a: (aL - aH)(aH - aL) = -|aL - aH|^2, squarings only */
NOINLINE
static void fe_sqr(fe r, const fe a)
{
    limb_t c[2 * NLIMBS], m[8];
    sub128_abs(c + 8, a, a + 4);
    sqr128(m, c + 8);
    sqr128(c, a);
    sqr128(c + 8, a + 4);
    kara_fold(r, c, m, ~(limb_t)0);
}

#else

/* r = a * b: schoolbook product, then the top half folded in times 38. */
NOINLINE
static void fe_mul(fe r, const fe a, const fe b)
{
    limb_t c[2 * NLIMBS];
    for (int i = 0; i < 2 * NLIMBS; i++) {
        c[i] = 0;
    }
    for (int i = 0; i < NLIMBS; i++) {
        limb_t carry = 0;
        for (int j = 0; j < NLIMBS; j++) {
            dlimb_t t = muladd(a[i], b[j], c[i + j], carry);
            c[i + j] = (limb_t)t;
            carry = (limb_t)(t >> LIMB_BITS);
        }
        c[i + NLIMBS] = carry;
    }
    fe_fold(r, c);
}

static void fe_sqr(fe r, const fe a)
{
    fe_mul(r, a, a);
}

#endif

/* r = a^(2^n) */
static void fe_sqr_n(fe r, const fe a, int n)
{
    fe_sqr(r, a);
    while (--n) {
        fe_sqr(r, r);
    }
}

/* Fully reduced little-endian bytes of a (in [0, 2^256) = [0, 2p + 38)). */
static void fe_to_bytes(uint8_t out[32], const fe a)
{
    fe t;
    fe_copy(t, a);
    /* subtract p twice, each time keeping the difference when it did not borrow */
    for (int round = 0; round < 2; round++) {
        fe d;
        dlimb_t acc;
        limb_t borrow = 0;
        for (int i = 0; i < NLIMBS; i++) {
            limb_t pi = i == 0 ? (limb_t)0 - 19 : i == NLIMBS - 1 ? ((limb_t)1 << (LIMB_BITS - 1)) - 1
                                                                  : ~(limb_t)0;
            acc = (dlimb_t)t[i] - pi - borrow;
            d[i] = (limb_t)acc;
            borrow = (limb_t)(acc >> LIMB_BITS) & 1;
        }
        limb_t keep = mask_of(borrow ^ 1);
        for (int i = 0; i < NLIMBS; i++) {
            t[i] ^= (t[i] ^ d[i]) & keep;
        }
    }
    for (int i = 0; i < 32; i++) {
        out[i] = (uint8_t)(t[i / (LIMB_BITS / 8)] >> (8 * (i % (LIMB_BITS / 8))));
    }
}

/* The low 255 bits of in (bit 255 is the caller's), not reduced. */
static void fe_from_bytes(fe r, const uint8_t in[32])
{
    for (int i = 0; i < NLIMBS; i++) {
        r[i] = 0;
    }
    for (int i = 0; i < 32; i++) {
        r[i / (LIMB_BITS / 8)] |= (limb_t)(i == 31 ? in[i] & 0x7f : in[i]) << (8 * (i % (LIMB_BITS / 8)));
    }
}

/* r = z^(2^250 - 1), and z11 = z^11 (shared by inversion and square root) */
static void fe_pow_2_250_1(fe r, fe z11, const fe z)
{
    fe t, u, w;                 /* u: z^9, then 2^5 - 1, then 2^50 - 1 */
    fe_sqr(t, z);               /* 2 */
    fe_sqr_n(u, t, 2);          /* 8 */
    fe_mul(u, u, z);            /* 9 */
    fe_mul(z11, u, t);          /* 11 */
    fe_sqr(t, z11);             /* 22 */
    fe_mul(u, t, u);            /* 2^5 - 1 */
    fe_sqr_n(t, u, 5);
    fe_mul(w, t, u);            /* w = 2^10 - 1 */
    fe_sqr_n(t, w, 10);
    fe_mul(t, t, w);            /* 2^20 - 1 */
    fe_sqr_n(r, t, 20);
    fe_mul(t, r, t);            /* 2^40 - 1 */
    fe_sqr_n(t, t, 10);
    fe_mul(u, t, w);            /* 2^50 - 1 */
    fe_sqr_n(t, u, 50);
    fe_mul(t, t, u);            /* 2^100 - 1 */
    fe_sqr_n(r, t, 100);
    fe_mul(t, r, t);            /* 2^200 - 1 */
    fe_sqr_n(t, t, 50);
    fe_mul(r, t, u);            /* 2^250 - 1 */
}

/* r = 1/z = z^(p - 2) = z^(2^255 - 21) (0 for 0) */
static void fe_inv(fe r, const fe z)
{
    fe t, z11;
    fe_pow_2_250_1(t, z11, z);
    fe_sqr_n(t, t, 5);
    fe_mul(r, t, z11);
}

static limb_t fe_is_zero_vartime(const fe a)
{
    uint8_t b[32];
    uint8_t acc = 0;
    fe_to_bytes(b, a);
    for (int i = 0; i < 32; i++) {
        acc |= b[i];
    }
    return acc == 0;
}

/* r = -a when mask is all ones, else a (r may be a) */
static void fe_cneg(fe r, const fe a, limb_t mask)
{
    fe z, n;
    fe_set_small(z, 0);
    fe_sub(n, z, a);
    for (int i = 0; i < NLIMBS; i++) {
        r[i] = a[i] ^ ((a[i] ^ n[i]) & mask);
    }
}

#ifdef ED25519_TEST_HOOKS
/* Test builds only (the M0+ image that host_tests/test_ed25519_m0.py runs
 * the field arithmetic of, edge values included): out = a op b mod p,
 * fully reduced, for 256-bit little-endian a and b taken whole (no bit
 * masked). op: 0 mul, 1 sqr (of a), 2 add, 3 sub. */
void ed25519_test_fe(uint8_t out[32], int op, const uint8_t a_in[32], const uint8_t b_in[32]);
void ed25519_test_fe(uint8_t out[32], int op, const uint8_t a_in[32], const uint8_t b_in[32])
{
    fe a, b, r;
    for (int i = 0; i < NLIMBS; i++) {
        a[i] = b[i] = 0;
    }
    for (int i = 0; i < 32; i++) {
        a[i / (LIMB_BITS / 8)] |= (limb_t)a_in[i] << (8 * (i % (LIMB_BITS / 8)));
        b[i / (LIMB_BITS / 8)] |= (limb_t)b_in[i] << (8 * (i % (LIMB_BITS / 8)));
    }
    switch (op) {
    case 0: fe_mul(r, a, b); break;
    case 1: fe_sqr(r, a); break;
    case 2: fe_add(r, a, b); break;
    default: fe_sub(r, a, b); break;
    }
    fe_to_bytes(out, r);
}
#endif

/* ------------------------------------------------------------------------ */
/* 4. Scalars mod L = 2^252 + 27742317777372353535851937790883648493         */

static const uint8_t L_BYTES[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};

/*
 * r = x mod L for x = sum x[i] 2^(8i), i < 64, each |x[i]| < 2^40 or so.
 * 2^252 = -(L - 2^252) mod L: each digit i >= 32 is folded onto digits
 * i-32 .. i-13 as 16 x[i] (L - 2^252) subtracted (x[i] 2^(8i) = x[i] 2^4
 * 2^(8(i-32)) 2^252), top down; then the bits above 252 once more, and a
 * final correction into [0, L). Signed digits, arithmetic only: constant
 * time. (The method of TweetNaCl's modL.)
 */
static void sc_reduce(uint8_t r[32], int64_t x[64])
{
    int64_t carry;
    int i, j;
    for (i = 63; i >= 32; i--) {
        carry = 0;
        for (j = i - 32; j < i - 12; j++) {
            x[j] += carry - smul64(x[i], 16 * (uint32_t)L_BYTES[j - (i - 32)]);
            carry = (x[j] + 128) >> 8; /* arithmetic shift: floor division */
            x[j] -= carry * 256;
        }
        x[j] += carry;
        x[i] = 0;
    }
    carry = 0;
    for (j = 0; j < 32; j++) {
        x[j] += carry - smul64(x[31] >> 4, L_BYTES[j]);
        carry = x[j] >> 8;
        x[j] &= 255;
    }
    for (j = 0; j < 32; j++) {
        x[j] -= smul64(carry, L_BYTES[j]);
    }
    for (i = 0; i < 32; i++) {
        x[i + 1] += x[i] >> 8;
        r[i] = (uint8_t)(x[i] & 255);
    }
}

/* r = h mod L for a 64-byte little-endian h */
NOINLINE
static void sc_reduce64(uint8_t r[32], const uint8_t h[64])
{
    int64_t x[64];
    for (int i = 0; i < 64; i++) {
        x[i] = h[i];
    }
    sc_reduce(r, x);
    ed25519_wipe(x, sizeof x);
}

/* s = (a b + c) mod L for 32-byte scalars (a, b < 2^256, c < 2^256) */
NOINLINE
static void sc_muladd(uint8_t s[32], const uint8_t a[32], const uint8_t b[32], const uint8_t c[32])
{
    int64_t x[64];
    for (int i = 0; i < 64; i++) {
        x[i] = i < 32 ? c[i] : 0;
    }
    for (int i = 0; i < 32; i++) {
        for (int j = 0; j < 32; j++) {
            x[i + j] += (int64_t)(uint32_t)((uint32_t)a[i] * b[j]);
        }
    }
    sc_reduce(s, x);
    ed25519_wipe(x, sizeof x);
}

/* 1 if the 32-byte little-endian s < L (public data: variable time) */
static int sc_is_canonical(const uint8_t s[32])
{
    for (int i = 31; i >= 0; i--) {
        if (s[i] != L_BYTES[i]) {
            return s[i] < L_BYTES[i];
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 5. Points                                                                 */

/* extended coordinates: x = X/Z, y = Y/Z, x y = T/Z */
typedef struct {
    fe x, y, z, t;
} point;

/* an affine point as y + x, y - x, 2 d x y (the table's form) */
typedef struct {
    fe yp, ym, t2d;
} niels;

/* 2 d */
static const fe D2 = {
#if LIMB_BITS == 64
    0xebd69b9426b2f159ULL, 0x00e0149a8283b156ULL, 0x198e80f2eef3d130ULL, 0x2406d9dc56dffce7ULL
#else
    0x26b2f159, 0xebd69b94, 0x8283b156, 0x00e0149a, 0xeef3d130, 0x198e80f2, 0x56dffce7, 0x2406d9dc
#endif
};

static void pt_identity(point *r)
{
    fe_set_small(r->x, 0);
    fe_set_small(r->y, 1);
    fe_set_small(r->z, 1);
    fe_set_small(r->t, 0);
}

/* r = 2 p (dbl-2008-hwcd, signs as ref10); r may be p */
NOINLINE
static void pt_dbl(point *r, const point *p)
{
    fe a, b, c, e;
    fe_sqr(a, p->x);
    fe_sqr(b, p->y);
    fe_sqr(c, p->z);
    fe_add(c, c, c);
    fe_add(e, p->x, p->y);
    fe_sqr(e, e);
    fe_sub(e, e, a);
    fe_sub(e, e, b);       /* E = 2 X Y */
    fe_add(r->y, b, a);    /* H = B + A (kept in r->y until Y3) */
    fe_sub(b, b, a);       /* G = B - A */
    fe_sub(c, c, b);       /* F = C - G */
    fe_mul(r->t, e, r->y); /* T3 = E H */
    fe_mul(r->y, b, r->y); /* Y3 = G H */
    fe_mul(r->x, e, c);    /* X3 = E F */
    fe_mul(r->z, c, b);    /* Z3 = F G */
}

/* r = p + q, q given as yp = Y2 + X2, ym = Y2 - X2, t2d = 2 d T2 over
 * Z2 = z2 (NULL for Z2 = 1): add-2008-hwcd-3. r may be p; q's fields must
 * not be r's. want_t = 0 leaves r's T stale, for a result that is only
 * doubled or encoded next (neither reads T): one multiplication less.
 * want_t is public (the shape of the computation), never a secret. */
NOINLINE
static void pt_add(point *r, const point *p, const fe yp, const fe ym, const fe t2d, const fe z2,
                   int want_t)
{
    fe a, b, c, d;
    fe_sub(a, p->y, p->x);
    fe_mul(a, a, ym);
    fe_add(b, p->y, p->x);
    fe_mul(b, b, yp);
    fe_mul(c, p->t, t2d);
    if (z2) {
        fe_mul(d, p->z, z2);
        fe_add(d, d, d);
    } else {
        fe_add(d, p->z, p->z);
    }
    fe_sub(r->x, b, a);    /* E */
    fe_add(r->y, b, a);    /* H */
    fe_add(b, d, c);       /* G */
    fe_sub(d, d, c);       /* F */
    if (want_t) {
        fe_mul(r->t, r->x, r->y);
    }
    fe_mul(r->x, r->x, d);
    fe_mul(r->y, r->y, b);
    fe_mul(r->z, d, b);
}

/* Canonical 32-byte encoding: y with the sign of x in bit 255. */
static void pt_encode(uint8_t out[32], const point *p)
{
    fe zi, x, y;
    uint8_t xb[32];
    fe_inv(zi, p->z);
    fe_mul(x, p->x, zi);
    fe_mul(y, p->y, zi);
    fe_to_bytes(out, y);
    fe_to_bytes(xb, x);
    out[31] |= (uint8_t)((xb[0] & 1) << 7);
    ed25519_wipe(xb, sizeof xb);
}

/* sqrt(-1) = 2^((p-1)/4) */
static const fe SQRTM1 = {
#if LIMB_BITS == 64
    0xc4ee1b274a0ea0b0ULL, 0x2f431806ad2fe478ULL, 0x2b4d00993dfbd7a7ULL, 0x2b8324804fc1df0bULL
#else
    0x4a0ea0b0, 0xc4ee1b27, 0xad2fe478, 0x2f431806, 0x3dfbd7a7, 0x2b4d0099, 0x4fc1df0b, 0x2b832480
#endif
};

/* d = -121665/121666 */
static const fe D1 = {
#if LIMB_BITS == 64
    0x75eb4dca135978a3ULL, 0x00700a4d4141d8abULL, 0x8cc740797779e898ULL, 0x52036cee2b6ffe73ULL
#else
    0x135978a3, 0x75eb4dca, 0x4141d8ab, 0x00700a4d, 0x7779e898, 0x8cc74079, 0x2b6ffe73, 0x52036cee
#endif
};

static int fe_eq_vartime(const fe a, const fe b)
{
    fe d;
    fe_sub(d, a, b);
    return (int)fe_is_zero_vartime(d);
}

/* RFC 8032 5.1.3 decoding (public data: variable time). 0 if the bytes
 * are not a point: y >= p, no square root, or x = 0 with the sign bit. */
NOINLINE
static int pt_decode_vartime(point *r, const uint8_t in[32])
{
    fe u, v, w; /* r's x, z and t serve as the other temporaries */
    uint8_t yb[32];
    fe_from_bytes(r->y, in);
    fe_to_bytes(yb, r->y);
    for (int i = 0; i < 32; i++) {
        if (yb[i] != (i == 31 ? (in[i] & 0x7f) : in[i])) {
            return 0; /* y >= p */
        }
    }
    fe_set_small(w, 1);
    fe_sqr(u, r->y);
    fe_mul(v, u, D1);
    fe_sub(u, u, w);           /* u = y^2 - 1 */
    fe_add(v, v, w);           /* v = d y^2 + 1 */
    fe_sqr(w, v);
    fe_mul(w, w, v);           /* v^3 */
    fe_mul(r->x, u, w);        /* u v^3 */
    fe_sqr(w, w);
    fe_mul(w, w, v);
    fe_mul(w, w, u);           /* u v^7 */
    fe_pow_2_250_1(r->t, r->z, w);
    fe_sqr_n(r->t, r->t, 2);
    fe_mul(r->t, r->t, w);     /* (u v^7)^((p-5)/8) */
    fe_mul(r->x, r->x, r->t);  /* candidate x = u v^3 (u v^7)^((p-5)/8) */
    fe_sqr(w, r->x);
    fe_mul(w, w, v);           /* v x^2 */
    if (!fe_eq_vartime(w, u)) {
        fe_set_small(v, 0);
        fe_sub(u, v, u);
        if (!fe_eq_vartime(w, u)) {
            return 0;
        }
        fe_mul(r->x, r->x, SQRTM1);
    }
    fe_to_bytes(yb, r->x);
    int sign = in[31] >> 7;
    if (fe_is_zero_vartime(r->x) && sign) {
        return 0;
    }
    if ((yb[0] & 1) != sign) {
        fe_set_small(v, 0);
        fe_sub(r->x, v, r->x);
    }
    fe_set_small(r->z, 1);
    fe_mul(r->t, r->x, r->y);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* 6. Scalar multiplication                                                  */

/*
 * k B by a signed comb (as lib/p256's comb_mul; libsecp256k1's ecmult_gen,
 * Hedabou et al.'s signed bits):
 *  - make k odd: k' = k if k is odd, else L - k (then k' B = -k B and the
 *    result is negated; both selections masked);
 *  - every odd k' < 2^CL is sum_{i<CL} b_i 2^i with all b_i = +-1: take
 *    m = (k' >> 1) | 2^(CL-1) and b_i = 2 m_i - 1;
 *  - a digit is T of these signed bits, spaced S apart ("teeth"); up to
 *    sign it is a table entry (top tooth +1; tooth t < T-1 is +1 exactly
 *    when bit t of the index is set), and a digit whose top tooth is -1
 *    is the negation of the entry for the flipped pattern.
 * Every step adds a real point; each lookup reads every entry.
 */
#include "ed25519_table.h"

#define COMB_L (ED_COMB_BLOCKS * ED_COMB_TEETH * ED_COMB_SPACING)

/* bit i of m = (k' >> 1) | 2^(CL-1) */
static inline limb_t recoded_bit(const uint8_t k[32], int i)
{
    if (i == COMB_L - 1) {
        return 1;
    }
    i++;
    return i < 256 ? (k[i >> 3] >> (i & 7)) & 1 : 0;
}

#if defined(ED25519_ASM_ARMV6M)
/* two words of the entry ANDed with the mask, ORed into e (LDM/STM) */
#define LK2                                                                          \
    "ldm   %[tab]!, {%[d0], %[d1]}\n\t"                                             \
    "ands  %[d0], %[m]\n\t"                                                         \
    "ands  %[d1], %[m]\n\t"                                                         \
    "ldm   %[e]!, {%[a0], %[a1]}\n\t"                                               \
    "orrs  %[d0], %[a0]\n\t"                                                        \
    "orrs  %[d1], %[a1]\n\t"                                                        \
    "subs  %[e], #8\n\t"                                                            \
    "stm   %[e]!, {%[d0], %[d1]}\n\t"

/* e |= tab[idx] (e zero before): every entry read, each masked by
 * (j == idx) computed without a branch; the loop's count is public */
NOINLINE
static void lookup_niels(niels *e, const limb_t *tab, limb_t idx)
{
    uint32_t pe = (uint32_t)e, m = idx, d0, d1, a0, a1, j = 0;
    __asm__ volatile(".syntax unified\n\t"
            "mov   r8, %[m]\n\t"          /* idx */
            "mov   r9, %[e]\n\t"          /* e */
            "1:\n\t"
            "mov   %[d0], r8\n\t"
            "eors  %[d0], %[j]\n\t"
            "negs  %[d1], %[d0]\n\t"
            "orrs  %[d1], %[d0]\n\t"
            "asrs  %[d1], %[d1], #31\n\t" /* -1 when j != idx */
            "mvns  %[m], %[d1]\n\t"
            "mov   %[e], r9\n\t"
            LK2 LK2 LK2 LK2 LK2 LK2 LK2 LK2 LK2 LK2 LK2 LK2
            "adds  %[j], #1\n\t"
            "cmp   %[j], %[n]\n\t"
            "bne   1b\n\t"
            : [e] "+&l"(pe), [m] "+&l"(m), [d0] "=&l"(d0), [d1] "=&l"(d1), [a0] "=&l"(a0),
              [a1] "=&l"(a1), [j] "+&l"(j), [tab] "+&l"(tab)
            : [n] "I"(1 << (ED_COMB_TEETH - 1))
            : "r8", "r9", "cc", "memory");
}
#endif

/* r += the digit with teeth pos, pos + S, ... from block blk's table */
NOINLINE
static void add_teeth(point *r, const uint8_t k[32], int pos, const limb_t (*tab)[3][NLIMBS], int want_t)
{
    niels e;
    limb_t raw = 0;
    for (int t = 0; t < ED_COMB_TEETH; t++) {
        raw |= recoded_bit(k, pos + t * ED_COMB_SPACING) << t;
    }
    limb_t flip = mask_of((raw >> (ED_COMB_TEETH - 1)) ^ 1);
    limb_t idx = (raw ^ flip) & (((limb_t)1 << (ED_COMB_TEETH - 1)) - 1);
    for (int i = 0; i < NLIMBS; i++) {
        e.yp[i] = 0;
        e.ym[i] = 0;
        e.t2d[i] = 0;
    }
#if defined(ED25519_ASM_ARMV6M)
    lookup_niels(&e, tab[0][0], idx);
#else
    for (int j = 0; j < 1 << (ED_COMB_TEETH - 1); j++) {
        limb_t m = mask_of(ct_eq((limb_t)j, idx));
        for (int i = 0; i < NLIMBS; i++) {
            e.yp[i] |= tab[j][0][i] & m;
            e.ym[i] |= tab[j][1][i] & m;
            e.t2d[i] |= tab[j][2][i] & m;
        }
    }
#endif
    /* -(x, y) = (-x, y): swap y + x and y - x, negate 2 d x y */
    for (int i = 0; i < NLIMBS; i++) {
        limb_t s = (e.yp[i] ^ e.ym[i]) & flip;
        e.yp[i] ^= s;
        e.ym[i] ^= s;
    }
    fe_cneg(e.t2d, e.t2d, flip);
    pt_add(r, r, e.yp, e.ym, e.t2d, 0, want_t);
}

/* r = k B for a scalar k < L (32 bytes little-endian); r's T only when
 * want_t (encoding does not read it) */
NOINLINE
static void comb_mul(point *r, const uint8_t k_in[32], int want_t)
{
    uint8_t k[32];
    /* k = k_in if odd, else L - k_in (byte by byte, masked) */
    limb_t neg = mask_of((k_in[0] & 1) ^ 1);
    int32_t borrow = 0;
    for (int i = 0; i < 32; i++) {
        int32_t d = (int32_t)L_BYTES[i] - k_in[i] - borrow;
        borrow = (d >> 8) & 1;
        k[i] = (uint8_t)(k_in[i] ^ ((k_in[i] ^ (uint8_t)d) & (uint8_t)neg));
    }
    pt_identity(r);
    for (int s = ED_COMB_SPACING - 1; s >= 0; s--) {
        if (s != ED_COMB_SPACING - 1) {
            pt_dbl(r, r);
        }
        for (int blk = 0; blk < ED_COMB_BLOCKS; blk++) {
            /* the column's last addition is doubled next, or is the
             * result, whose T only want_t asks for */
            add_teeth(r, k, blk * ED_COMB_TEETH * ED_COMB_SPACING + s, ed_comb_table[blk],
                      blk != ED_COMB_BLOCKS - 1 || (s == 0 && want_t));
        }
    }
    fe_cneg(r->x, r->x, neg);
    fe_cneg(r->t, r->t, neg);
    ed25519_wipe(k, sizeof k);
}

/* r = k A for public k and A (double-and-add, variable time) */
static void var_mul_vartime(point *r, const uint8_t k[32], const point *a)
{
    niels q;
    fe_add(q.yp, a->y, a->x);
    fe_sub(q.ym, a->y, a->x);
    fe_mul(q.t2d, a->t, D2);
    pt_identity(r);
    int started = 0;
    for (int i = 255; i >= 0; i--) {
        if (started) {
            pt_dbl(r, r);
        }
        if ((k[i >> 3] >> (i & 7)) & 1) {
            pt_add(r, r, q.yp, q.ym, q.t2d, a->z, i == 0);
            started = 1;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* 7. Keys, signatures                                                       */

/* h = SHA-512(seed); a = clamp(h[0..32]) mod L; prefix = h[32..64] */
NOINLINE
static void expand_seed(uint8_t a[32], uint8_t prefix[32], const uint8_t seed[32])
{
    uint8_t h[64];
    ed25519_sha512(h, seed, 32);
    h[0] &= 248;
    h[31] &= 127;
    h[31] |= 64;
    for (int i = 0; i < 32; i++) {
        prefix[i] = h[32 + i];
        h[32 + i] = 0;
    }
    /* [a]B = [a mod L]B, and S uses a mod L: the comb wants k < L */
    sc_reduce64(a, h);
    ed25519_wipe(h, sizeof h);
}

NOINLINE
static void scalar_base_encode(uint8_t out[32], const uint8_t k[32])
{
    point p;
    comb_mul(&p, k, 0);
    pt_encode(out, &p);
    ed25519_wipe(&p, sizeof p);
}

int ed25519_public_key(uint8_t pub[ED25519_PUB_LEN], const uint8_t *seed, size_t seed_len)
{
    uint8_t a[32], prefix[32];
    if (seed_len != ED25519_SEED_LEN) {
        return ED25519_ERR_SEED_LEN;
    }
    expand_seed(a, prefix, seed);
    scalar_base_encode(pub, a);
    DECLASSIFY(pub, ED25519_PUB_LEN);
    ed25519_wipe(a, sizeof a);
    ed25519_wipe(prefix, sizeof prefix);
    burn_stack(BURN_PUBLIC);
    return ED25519_OK;
}

/* h = SHA-512(p1 || p2 || msg); its own frame, so the hash state and the
 * reduction's digits are never on the stack together */
NOINLINE
static void hash3(uint8_t h[64], const uint8_t *p1, const uint8_t *p2, const uint8_t *msg, size_t msg_len)
{
    sha512_ctx c;
    sha512_init(&c);
    sha512_update(&c, p1, 32);
    if (p2) {
        sha512_update(&c, p2, 32);
    }
    sha512_update(&c, msg, msg_len);
    sha512_final(&c, h);
    ed25519_wipe(&c, sizeof c);
}

/* r = SHA-512(p1 || p2 || msg) mod L */
NOINLINE
static void hash_mod_l(uint8_t r[32], const uint8_t *p1, const uint8_t *p2, const uint8_t *msg,
                       size_t msg_len)
{
    uint8_t h[64];
    hash3(h, p1, p2, msg, msg_len);
    sc_reduce64(r, h);
    ed25519_wipe(h, sizeof h);
}

/* out = the encoding of (x/z, y/z) given zi = 1/z */
NOINLINE
static void encode_affine(uint8_t out[32], const fe x_, const fe y_, const fe zi)
{
    fe x, y;
    uint8_t xb[32];
    fe_mul(x, x_, zi);
    fe_mul(y, y_, zi);
    fe_to_bytes(out, y);
    fe_to_bytes(xb, x);
    out[31] |= (uint8_t)((xb[0] & 1) << 7);
    ed25519_wipe(xb, sizeof xb);
    ed25519_wipe(x, sizeof x);
}

/* pub = [a]B and rb = [r]B encoded, with one inversion for both
 * (Montgomery's trick: 1/Za = Zr / (Za Zr), 1/Zr = Za / (Za Zr)) */
NOINLINE
static void two_base_encode(uint8_t pub[32], uint8_t rb[32], const uint8_t a[32], const uint8_t r[32])
{
    point p;
    fe ax, ay, az, t;
    comb_mul(&p, a, 0);
    fe_copy(ax, p.x);
    fe_copy(ay, p.y);
    fe_copy(az, p.z);
    comb_mul(&p, r, 0);
    fe_mul(t, az, p.z);
    fe_inv(p.t, t); /* T is not needed to encode: it holds 1/(Za Zr) */
    fe_mul(t, p.t, p.z);
    encode_affine(pub, ax, ay, t);
    fe_mul(t, p.t, az);
    encode_affine(rb, p.x, p.y, t);
    ed25519_wipe(&p, sizeof p);
    ed25519_wipe(ax, sizeof ax);
    ed25519_wipe(ay, sizeof ay);
    ed25519_wipe(az, sizeof az);
    ed25519_wipe(t, sizeof t);
}

int ed25519_sign(uint8_t sig[ED25519_SIG_LEN], const uint8_t *seed, size_t seed_len,
                 const uint8_t *msg, size_t msg_len)
{
    uint8_t a[32], prefix[32], pub[32], r[32];
    uint8_t *k = prefix; /* the prefix is dead once r is made */
    if (seed_len != ED25519_SEED_LEN) {
        return ED25519_ERR_SEED_LEN;
    }
    expand_seed(a, prefix, seed);
    hash_mod_l(r, prefix, 0, msg, msg_len);      /* r = H(prefix || M) */
    two_base_encode(pub, sig, a, r);             /* A = [a]B, R = [r]B */
    DECLASSIFY(pub, sizeof pub);
    DECLASSIFY(sig, 32);
    hash_mod_l(k, sig, pub, msg, msg_len);       /* k = H(R || A || M) */
    sc_muladd(sig + 32, k, a, r);                /* S = r + k a */
    DECLASSIFY(sig + 32, 32);
    ed25519_wipe(a, sizeof a);
    ed25519_wipe(prefix, sizeof prefix);
    ed25519_wipe(r, sizeof r);
    burn_stack(BURN_SIGN);
    return ED25519_OK;
}

/* 1 if [S]B - [k]A encodes to R (sig = R || S, S < L checked by the
 * caller), 0 if not or if A does not decode. Its own frame: the points
 * are never on the stack with the hash state. */
NOINLINE
static int verify_points(const uint8_t *pub, const uint8_t *sig, const uint8_t k[32])
{
    point a, q;
    uint8_t enc[32];
    if (!pt_decode_vartime(&a, pub)) {
        return 0;
    }
    var_mul_vartime(&q, k, &a);
    /* -Q as (Y - X, Y + X, -2 d T) over Z, in q's own fields */
    fe_add(q.y, q.y, q.x);     /* Y + X */
    fe_add(q.x, q.x, q.x);
    fe_sub(q.x, q.y, q.x);     /* (Y + X) - 2 X */
    fe_mul(q.t, q.t, D2);
    fe_cneg(q.t, q.t, ~(limb_t)0);
    comb_mul(&a, sig + 32, 1);
    pt_add(&a, &a, q.x, q.y, q.t, q.z, 0);
    pt_encode(enc, &a);
    int diff = 0;
    for (int i = 0; i < 32; i++) {
        diff |= enc[i] ^ sig[i];
    }
    return diff == 0;
}

int ed25519_verify(int *valid, const uint8_t *pub, size_t pub_len,
                   const uint8_t *msg, size_t msg_len,
                   const uint8_t *sig, size_t sig_len)
{
    uint8_t k[32];
    *valid = 0;
    if (pub_len != ED25519_PUB_LEN) {
        return ED25519_ERR_PUB_LEN;
    }
    if (sig_len != ED25519_SIG_LEN) {
        return ED25519_ERR_SIG_LEN;
    }
    if (!sc_is_canonical(sig + 32)) {
        return ED25519_OK;
    }
    hash_mod_l(k, sig, pub, msg, msg_len);
    *valid = verify_points(pub, sig, k);
    return ED25519_OK;
}
