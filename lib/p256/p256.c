/*
 * p256.c - compact, constant-time NIST P-256 (see p256.h for the API).
 *
 * Map of this file:
 *   1. limbs, constant-time helpers, constants
 *   2. SHA-256 and HMAC-SHA-256 (only for the RFC 6979 nonce)
 *   3. arithmetic mod p: schoolbook product + Solinas reduction
 *   4. arithmetic mod n: Montgomery multiplication
 *   4b. inversion mod p and mod n: Bernstein-Yang safegcd
 *   5. points: complete projective formulas (Renes-Costello-Batina 2016),
 *      and Jacobian ones (a = -3 doubling, mixed addition) for k P
 *   6. scalar multiplication: signed multi-comb for G, signed odd-digit
 *      windows over an affine table for any P (ECDH, constant time), a
 *      width-4 NAF for verification's u2 Q (public data)
 *   7. encodings, ECDSA, ECDH, DER
 *
 * Limbs are 64-bit where the compiler has unsigned __int128, else 32-bit.
 * Everything is portable C; optional fast paths use the CPU's carry flag,
 * which C cannot name: inline asm for ARMv6-M (Cortex-M0+: a 32x32->64
 * multiply-add, add/sub chains, and the column sums and folds of the
 * reduction mod p) and GCC's ADC/SBB builtins on x86-64. -DP256_NO_ASM
 * turns the asm off, -DP256_NO_INT128 forces 32-bit limbs (how the tests
 * cover the board's limb size on the host).
 *
 * Constant time: no branch and no memory address depends on a secret. Table
 * lookups read every entry and keep the wanted one with a mask; carries are
 * computed with wide additions or the carry flag, never with comparisons.
 * Loops and branches depend only on public values (lengths, bit positions).
 * host_tests/test_p256_ct.py checks this under valgrind, and
 * host_tests/test_p256_m0.py checks that M0+ cycle counts do not vary with
 * the secret.
 */
#include "p256.h"

#if defined(__GNUC__) && !defined(__clang__)
/* Keep small copy/zero loops as loops: at -Os GCC would turn them into
 * memcpy/memset calls, which cost more than the loop here and which a
 * MicroPython native module would have to provide. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#if defined(__thumb__) && !defined(__thumb2__)
/* Thumb-1 (Cortex-M0/M0+), seen with GCC 12.2 at -Os: a function that
 * reserves stack with "push {r0, r1, r2, ...}" and later pops into those
 * registers returns garbage in r0, while interprocedural register
 * allocation tells its callers r0 survived the call. sha256_update was
 * such a function and the signature crashed on the M0+. Without ipa-ra
 * every call follows the plain AAPCS. */
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

#ifdef P256_VALGRIND
/* Constant-time test build: a value derived from secrets that we decide to
 * reveal must be marked defined, or memcheck reports the branch on it. */
#include <valgrind/memcheck.h>
#define DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define DECLASSIFY(p, n) ((void)(p), (void)(n))
#endif

/* ------------------------------------------------------------------------ */
/* 1. Limbs and constant-time helpers                                        */

/* 64-bit limbs where the compiler has a 128-bit type (x86-64, aarch64),
 * else 32-bit limbs (Cortex-M0+, Xtensa LX7, 32-bit hosts). */
#if defined(__SIZEOF_INT128__) && !defined(P256_NO_INT128)
typedef uint64_t limb_t;
typedef unsigned __int128 dlimb_t;
#define LIMB_BITS 64
#define P256_W2(lo, hi) (((uint64_t)(hi) << 32) | (uint64_t)(lo))
#else
typedef uint32_t limb_t;
typedef uint64_t dlimb_t;
#define LIMB_BITS 32
#define P256_W2(lo, hi) (lo), (hi)
#endif
#define NLIMBS (256 / LIMB_BITS)

/* The ARMv6-M (Cortex-M0/M0+) inline asm paths, 32-bit limbs only */
#if LIMB_BITS == 32 && defined(__ARM_ARCH_6M__) && defined(__GNUC__) && !defined(P256_NO_ASM)
#define P256_ASM_ARMV6M 1
#endif

typedef limb_t fe[NLIMBS]; /* mod p, fully reduced, little-endian limbs */
typedef limb_t sc[NLIMBS]; /* mod n, same layout */

/* Hide a value from the optimiser so masks stay masks and never turn back
 * into branches. */
static inline limb_t barrier(limb_t x)
{
#if defined(__GNUC__)
    __asm__("" : "+r"(x));
#endif
    return x;
}

static inline uint32_t barrier32(uint32_t x)
{
#if defined(__GNUC__)
    __asm__("" : "+r"(x));
#endif
    return x;
}

/* all-ones if bit == 1, zero if bit == 0 */
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

/* x * y + z + t as a double limb (it cannot overflow: (2^w - 1)^2 + 2 (2^w - 1)
 * = 2^2w - 1). This is the only multiplication primitive.
 *
 * ARMv6-M (Cortex-M0/M0+) only has MULS, 32x32->32; GCC would call a 64x64
 * library routine and spill every double word. So there it is four 16x16
 * products combined with ADDS/ADCS, 22 instructions without branches: the
 * RP2040's single-cycle multiplier makes it constant time. MOVS #0 leaves
 * the carry flag alone, which the sequence relies on. */
#if defined(P256_ASM_ARMV6M)
/* x and y are overwritten before z and t are read, so they must not share
 * a register with them ("+&"). At -O0 the seven operands plus the frame
 * pointer exceed the eight low registers with that constraint; without
 * optimisation GCC never merges distinct variables into one register, so
 * plain "+" is equally safe there. */
#ifdef __OPTIMIZE__
#define MULADD_INOUT "+&l"
#else
#define MULADD_INOUT "+l"
#endif
#endif

static INLINE dlimb_t muladd(limb_t x, limb_t y, limb_t z, limb_t t)
{
#if defined(P256_ASM_ARMV6M)
    uint32_t u, v, w;
    __asm__(".syntax unified\n\t"
            "lsrs  %[u], %[x], #16\n\t"   /* u = xh */
            "uxth  %[x], %[x]\n\t"        /* x = xl */
            "lsrs  %[v], %[y], #16\n\t"   /* v = yh */
            "uxth  %[y], %[y]\n\t"        /* y = yl */
            "movs  %[w], %[x]\n\t"
            "muls  %[w], %[y]\n\t"        /* w = xl yl       (low)  */
            "muls  %[y], %[u]\n\t"        /* y = xh yl       (mid)  */
            "muls  %[x], %[v]\n\t"        /* x = xl yh       (mid)  */
            "muls  %[v], %[u]\n\t"        /* v = xh yh       (high) */
            "adds  %[x], %[x], %[y]\n\t"  /* x = mid, C = its bit 32 */
            "movs  %[u], #0\n\t"
            "adcs  %[u], %[u], %[u]\n\t"  /* u = C */
            "lsls  %[u], %[u], #16\n\t"
            "adds  %[v], %[v], %[u]\n\t"  /* high += C << 16 */
            "lsls  %[u], %[x], #16\n\t"
            "lsrs  %[x], %[x], #16\n\t"
            "adds  %[w], %[w], %[u]\n\t"  /* low += mid << 16 */
            "adcs  %[v], %[v], %[x]\n\t"  /* high += mid >> 16 + C */
            "movs  %[u], #0\n\t"
            "adds  %[w], %[w], %[z]\n\t"
            "adcs  %[v], %[v], %[u]\n\t"  /* + z */
            "adds  %[w], %[w], %[t]\n\t"
            "adcs  %[v], %[v], %[u]\n\t"  /* + t */
            : [x] MULADD_INOUT(x), [y] MULADD_INOUT(y), [u] "=&l"(u), [v] "=&l"(v), [w] "=&l"(w)
            : [z] "l"(z), [t] "l"(t)
            : "cc");
    return (uint64_t)v << 32 | w;
#else
    return (dlimb_t)x * y + z + t;
#endif
}

void p256_wipe(void *p, size_t n)
{
    /* volatile stores cannot be dropped as dead; whole words when we can */
    if (((uintptr_t)p | n) % sizeof(limb_t) == 0) {
        volatile limb_t *w = (volatile limb_t *)p;
        for (n /= sizeof(limb_t); n; n--) {
            *w++ = 0;
        }
    } else {
        volatile uint8_t *v = (volatile uint8_t *)p;
        while (n--) {
            *v++ = 0;
        }
    }
}

/*
 * The arithmetic helpers keep products of secrets in their stack frames
 * and do not clear them one by one (they run thousands of times per
 * operation). Instead every API function that touches a secret ends with
 * burn_stack(n), which zeroes the n bytes just below its own frame: the
 * region its callees used. n must cover the deepest callee chain of that
 * function, which depends on the core, the compiler and the optimisation
 * level, so there are three sets: for the M0+ builds that ship (Thumb-1,
 * -Os) the call graph rounded up, so that the stack stays under 1 KB; for
 * Thumb-1 at -O1 to -O3 likewise; for everything else (hosts, other cores)
 * a bound above every GCC 12 call graph of x86-64 from -Os to -O3 (its
 * frames are the larger). host_tests/test_p256_stack.py compiles those
 * builds and checks each set against their call graphs (-fcallgraph-info).
 * Buffers that live across calls (nonce, keys, HMAC state, lookup tables)
 * are also wiped where they die.
 */
#if defined(__thumb__) && !defined(__thumb2__) && defined(__OPTIMIZE_SIZE__)
#define BURN_SIGN 704   /* HMAC, or nonce_x, comb_mul and below */
#define BURN_PUBLIC 672 /* public_from_scalar and below */
#define BURN_ECDH 432   /* the inversions (var_table, pt_to_affine), var_mul and below */
#elif defined(__thumb__) && !defined(__thumb2__)
#define BURN_SIGN 928
#define BURN_PUBLIC 992
#define BURN_ECDH 576
#else
#define BURN_SIGN 1088
#define BURN_PUBLIC 1152
#define BURN_ECDH 1280
#endif
NOINLINE
static void burn_stack(size_t n)
{
    limb_t buf[n / sizeof(limb_t)];
    volatile limb_t *w = buf; /* volatile stores: never dropped as dead */
    for (size_t i = 0; i < n / sizeof(limb_t); i++) {
        w[i] = 0;
    }
}

static void limbs_copy(limb_t *r, const limb_t *a)
{
    for (int i = 0; i < NLIMBS; i++) {
        r[i] = a[i];
    }
}

/* r = mask ? a : r */
static void limbs_cmov(limb_t *r, const limb_t *a, limb_t mask)
{
    for (int i = 0; i < NLIMBS; i++) {
        r[i] ^= (r[i] ^ a[i]) & mask;
    }
}

static limb_t limbs_is_zero(const limb_t *a)
{
    limb_t acc = 0;
    for (int i = 0; i < NLIMBS; i++) {
        acc |= a[i];
    }
    return ct_eq(acc, 0);
}

static limb_t limbs_eq(const limb_t *a, const limb_t *b)
{
    limb_t acc = 0;
    for (int i = 0; i < NLIMBS; i++) {
        acc |= a[i] ^ b[i];
    }
    return ct_eq(acc, 0);
}

#if defined(P256_ASM_ARMV6M)
/* ARMv6-M: one ADDS/ADCS (SUBS/SBCS) chain through the carry flag; LDM,
 * STM and MOVS #0 leave the carry alone. The C below compiles to
 * double-word spills on this core, about three times slower. One register
 * per LDM/STM: a register list is transferred in register-number order,
 * not in the order written, and the compiler picks the registers. Five
 * low registers, so it also builds at -O0 (where r7 is the frame pointer). */
#define ADDSUB_STEP(op) \
    "ldm %[a]!, {%[x]}\n\t" \
    "ldm %[b]!, {%[y]}\n\t" \
    op " %[x], %[x], %[y]\n\t" \
    "stm %[r]!, {%[x]}\n\t"
#define ADDSUB_CHAIN(op1, opn, r, a, b, ret)                                        \
    do {                                                                             \
        uint32_t x, y;                                                               \
        __asm__ volatile(".syntax unified\n\t"                                       \
                         ADDSUB_STEP(op1) ADDSUB_STEP(opn) ADDSUB_STEP(opn)          \
                         ADDSUB_STEP(opn) ADDSUB_STEP(opn) ADDSUB_STEP(opn)          \
                         ADDSUB_STEP(opn) ADDSUB_STEP(opn)                           \
                         "movs %[x], #0\n\t"                                         \
                         opn " %[x], %[x], %[x]\n\t"                                 \
                         : [r] "+l"(r), [a] "+l"(a), [b] "+l"(b), [x] "=&l"(x),      \
                           [y] "=&l"(y)                                              \
                         :                                                           \
                         : "cc", "memory");                                          \
        ret = x;                                                                     \
    } while (0)

/* r = a + b, returns the carry (0 or 1). r may alias a or b. */
static limb_t limbs_add(limb_t *r, const limb_t *a, const limb_t *b)
{
    limb_t c;
    ADDSUB_CHAIN("adds", "adcs", r, a, b, c); /* x = 0 + 0 + C */
    return c;
}

/* r = a - b, returns the borrow (0 or 1). r may alias a or b. */
static limb_t limbs_sub(limb_t *r, const limb_t *a, const limb_t *b)
{
    limb_t c;
    ADDSUB_CHAIN("subs", "sbcs", r, a, b, c); /* x = 0 - 0 - !C: 0 or -1 */
    return c & 1;
}
#elif LIMB_BITS == 64 && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* x86-64: GCC's carry builtins give plain ADC/SBB chains; the double-limb
 * C below costs about three times as many instructions. */
static INLINE limb_t limbs_add(limb_t *r, const limb_t *a, const limb_t *b)
{
    unsigned char c = 0;
#pragma GCC unroll 4
    for (int i = 0; i < NLIMBS; i++) {
        unsigned long long t;
        c = __builtin_ia32_addcarryx_u64(c, a[i], b[i], &t);
        r[i] = t;
    }
    return c;
}

static INLINE limb_t limbs_sub(limb_t *r, const limb_t *a, const limb_t *b)
{
    unsigned char c = 0;
#pragma GCC unroll 4
    for (int i = 0; i < NLIMBS; i++) {
        unsigned long long t;
        c = __builtin_ia32_sbb_u64(c, a[i], b[i], &t);
        r[i] = t;
    }
    return c;
}
#else
/* r = a + b, returns the carry (0 or 1). r may alias a or b. */
static limb_t limbs_add(limb_t *r, const limb_t *a, const limb_t *b)
{
    dlimb_t acc = 0;
    for (int i = 0; i < NLIMBS; i++) {
        acc += (dlimb_t)a[i] + b[i];
        r[i] = (limb_t)acc;
        acc >>= LIMB_BITS;
    }
    return (limb_t)acc;
}

/* r = a - b, returns the borrow (0 or 1). r may alias a or b. */
static limb_t limbs_sub(limb_t *r, const limb_t *a, const limb_t *b)
{
    limb_t borrow = 0;
    for (int i = 0; i < NLIMBS; i++) {
        dlimb_t d = (dlimb_t)a[i] - b[i] - borrow;
        r[i] = (limb_t)d;
        borrow = (limb_t)(d >> LIMB_BITS) & 1; /* high half is 0 or all-ones */
    }
    return borrow;
}
#endif

/* Big-endian 32 bytes <-> limbs. */
static void limbs_from_bytes(limb_t *r, const uint8_t in[32])
{
    for (int i = 0; i < NLIMBS; i++) {
        limb_t w = 0;
        for (int j = 0; j < LIMB_BITS / 8; j++) {
            w = (w << 8) | in[32 - (i + 1) * (LIMB_BITS / 8) + j];
        }
        r[i] = w;
    }
}

static void limbs_to_bytes(uint8_t out[32], const limb_t *a)
{
    for (int i = 0; i < NLIMBS; i++) {
        for (int j = 0; j < LIMB_BITS / 8; j++) {
            out[32 - 1 - i * (LIMB_BITS / 8) - j] = (uint8_t)(a[i] >> (8 * j));
        }
    }
}

/* bit i (public position) of a 256-bit number, 0 beyond the ends */
static inline limb_t limbs_bit(const limb_t *a, int i)
{
    if (i < 0 || i >= 256) {
        return 0;
    }
    return (a[i / LIMB_BITS] >> (i % LIMB_BITS)) & 1;
}

/* p = 2^256 - 2^224 + 2^192 + 2^96 - 1 */
static const fe P256_P = {
    P256_W2(0xffffffff, 0xffffffff), P256_W2(0xffffffff, 0x00000000),
    P256_W2(0x00000000, 0x00000000), P256_W2(0x00000001, 0xffffffff)};
/* the curve is y^2 = x^3 - 3x + b */
static const fe P256_B = {
    P256_W2(0x27d2604b, 0x3bce3c3e), P256_W2(0xcc53b0f6, 0x651d06b0),
    P256_W2(0x769886bc, 0xb3ebbd55), P256_W2(0xaa3a93e7, 0x5ac635d8)};
/* group order n */
static const sc P256_N = {
    P256_W2(0xfc632551, 0xf3b9cac2), P256_W2(0xa7179e84, 0xbce6faad),
    P256_W2(0xffffffff, 0xffffffff), P256_W2(0x00000000, 0xffffffff)};
/* n - 1, the modulus of keygen's reduction */
static const sc P256_N_MINUS_1 = {
    P256_W2(0xfc632550, 0xf3b9cac2), P256_W2(0xa7179e84, 0xbce6faad),
    P256_W2(0xffffffff, 0xffffffff), P256_W2(0x00000000, 0xffffffff)};
/* R^2 mod n with R = 2^256: to_mont(a) = mont_mul(a, R^2) */
static const sc P256_N_RR = {
    P256_W2(0xbe79eea2, 0x83244c95), P256_W2(0x49bd6fa6, 0x4699799c),
    P256_W2(0x2b6bec59, 0x2845b239), P256_W2(0xf3d95620, 0x66e12d94)};
/* -1/n mod R (Montgomery reduction) */
static const sc P256_N_NEG_INV = {
    P256_W2(0xee00bc4f, 0xccd1c8aa), P256_W2(0x7d74d2e4, 0x48c94408),
    P256_W2(0xc588c6f6, 0x50fe77ec), P256_W2(0xa9d6281c, 0x60d06633)};

/* ------------------------------------------------------------------------ */
/* 2. SHA-256 (FIPS 180-4) and HMAC (RFC 2104), just enough for RFC 6979      */

typedef struct {
    uint32_t h[8];
    uint8_t buf[64];
    uint32_t len; /* bytes so far; our messages are short */
} sha256_ctx;

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t SHA256_H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static inline uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

#define S0(x) (ror(x, 2) ^ ror(x, 13) ^ ror(x, 22))
#define S1(x) (ror(x, 6) ^ ror(x, 11) ^ ror(x, 25))
#define s0(x) (ror(x, 7) ^ ror(x, 18) ^ ((x) >> 3))
#define s1(x) (ror(x, 17) ^ ror(x, 19) ^ ((x) >> 10))
/* One round with the working variables renamed instead of moved: eight
 * rounds in a row bring them back to their places. w is a 16-word ring. */
#define ROUND(a, b, c, d, e, f, g, h, i)                                     \
    do {                                                                     \
        uint32_t t1 = h + S1(e) + ((e & f) ^ (~e & g)) + SHA256_K[i] + w[(i) & 15]; \
        d += t1;                                                             \
        h = t1 + S0(a) + ((a & b) ^ (a & c) ^ (b & c));                      \
    } while (0)

static void sha256_block(uint32_t h[8], const uint8_t p[64])
{
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    }
#if defined(__OPTIMIZE_SIZE__)
    /* -Os (the board builds): one round in a loop, 1 KB less Thumb code */
    for (int i = 0; i < 64; i++) {
        if (i >= 16) {
            w[i & 15] += s1(w[(i - 2) & 15]) + w[(i - 7) & 15] + s0(w[(i - 15) & 15]);
        }
        uint32_t t = k;
        ROUND(a, b, c, d, e, f, g, t, i);
        k = g;
        g = f;
        f = e;
        e = d;
        d = c;
        c = b;
        b = a;
        a = t;
    }
#else
    for (int i = 0; i < 64; i += 8) {
        if (i >= 16) { /* message schedule for rounds i .. i+7 */
            for (int j = i; j < i + 8; j++) {
                w[j & 15] += s1(w[(j - 2) & 15]) + w[(j - 7) & 15] + s0(w[(j - 15) & 15]);
            }
        }
        ROUND(a, b, c, d, e, f, g, k, i);
        ROUND(k, a, b, c, d, e, f, g, i + 1);
        ROUND(g, k, a, b, c, d, e, f, i + 2);
        ROUND(f, g, k, a, b, c, d, e, i + 3);
        ROUND(e, f, g, k, a, b, c, d, i + 4);
        ROUND(d, e, f, g, k, a, b, c, i + 5);
        ROUND(c, d, e, f, g, k, a, b, i + 6);
        ROUND(b, c, d, e, f, g, k, a, i + 7);
    }
#endif
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}
#undef ROUND

static void sha256_init(sha256_ctx *c)
{
    for (int i = 0; i < 8; i++) {
        c->h[i] = SHA256_H0[i];
    }
    c->len = 0;
}

static void sha256_update(sha256_ctx *c, const uint8_t *p, size_t n)
{
    while (n >= 64 && (c->len & 63) == 0) {
        sha256_block(c->h, p);
        c->len += 64;
        p += 64;
        n -= 64;
    }
    while (n--) {
        c->buf[c->len++ & 63] = *p++;
        if ((c->len & 63) == 0) {
            sha256_block(c->h, c->buf);
        }
    }
}

static void sha256_final(sha256_ctx *c, uint8_t out[32])
{
    uint32_t bits = c->len * 8;
    uint8_t pad = 0x80;
    sha256_update(c, &pad, 1);
    pad = 0;
    while ((c->len & 63) != 56) {
        sha256_update(c, &pad, 1);
    }
    uint8_t lenbuf[8] = {0, 0, 0, 0, (uint8_t)(bits >> 24), (uint8_t)(bits >> 16),
                         (uint8_t)(bits >> 8), (uint8_t)bits};
    sha256_update(c, lenbuf, 8);
    for (int i = 0; i < 32; i++) {
        out[i] = (uint8_t)(c->h[i / 4] >> (24 - 8 * (i % 4)));
    }
}

/* HMAC-SHA-256 with a 32-byte key. The states after hashing key^ipad and
 * key^opad are computed once per key (RFC 6979 uses each K two or three
 * times), so one HMAC of a short message costs about three blocks. */
typedef struct {
    sha256_ctx inner, outer;
} hmac_key;

static void hmac_pad(sha256_ctx *c, const uint8_t key[32], uint8_t pad)
{
    uint8_t b[64];
    for (int i = 0; i < 64; i++) {
        b[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ pad);
    }
    sha256_init(c);
    sha256_update(c, b, 64);
    p256_wipe(b, sizeof b);
}

static void hmac_set_key(hmac_key *hk, const uint8_t key[32])
{
    hmac_pad(&hk->inner, key, 0x36);
    hmac_pad(&hk->outer, key, 0x5c);
}

/* out = HMAC(key, m1 || tag || m2 || m3 || m4); NULL parts are skipped */
static void hmac(uint8_t out[32], const hmac_key *hk, const uint8_t *m1, const uint8_t *tag,
                 const uint8_t *m2, const uint8_t *m3, const uint8_t *m4, size_t m4_len)
{
    sha256_ctx c = hk->inner;
    uint8_t ih[32];
    sha256_update(&c, m1, 32);
    if (tag) {
        sha256_update(&c, tag, 1);
    }
    if (m2) {
        sha256_update(&c, m2, 32);
        sha256_update(&c, m3, 32);
        sha256_update(&c, m4, m4_len);
    }
    sha256_final(&c, ih);
    c = hk->outer;
    sha256_update(&c, ih, 32);
    sha256_final(&c, out);
    p256_wipe(&c, sizeof c);
    p256_wipe(ih, sizeof ih);
}

/* ------------------------------------------------------------------------ */
/* 3. Arithmetic mod p                                                       */

/* r = a + b mod m and r = a - b mod m for inputs in [0, m): one masked
 * correction each. Used for both p and n. */
static void mod_add(limb_t *r, const limb_t *a, const limb_t *b, const limb_t *m)
{
    limb_t t[NLIMBS];
    limb_t carry = limbs_add(r, a, b);
    limb_t borrow = limbs_sub(t, r, m);
    /* a + b >= m exactly when the sum carried out or r - m did not borrow */
    limbs_cmov(r, t, mask_of(carry | (borrow ^ 1)));
}

#if !defined(P256_ASM_ARMV6M) /* (ARMv6-M has its own fe_sub, and n needs no subtraction) */
static void mod_sub(limb_t *r, const limb_t *a, const limb_t *b, const limb_t *m)
{
    limb_t t[NLIMBS];
    limb_t mask = mask_of(limbs_sub(r, a, b));
    for (int i = 0; i < NLIMBS; i++) {
        t[i] = m[i] & mask;
    }
    limbs_add(r, r, t); /* add m back after a borrow; the carry out is expected */
}
#endif

#if defined(P256_ASM_ARMV6M)
/* ARMv6-M: the correction by p in carry chains that use p's words as
 * they are (0xffffffff three times, 0, 0, 0, 1, 0xffffffff) instead of
 * loading them, and no copy: fe_fix compares r with p without storing
 * (one SBCS chain), then subtracts p & mask in place; fe_sub adds p & mask
 * in place. The point formulas run a few thousand additions per ECDH, and
 * every reduction ends with fe_fix: together 0.67 M of an ECDH's cycles
 * on the M0+ (9.37 M -> 8.70 M) against the generic mod_add/mod_sub and
 * limbs_sub + limbs_cmov. */
#define FE_FIX_STEP(i, op, w) \
    "ldr %[x], [%[r], #4*" #i "]\n\t" op " %[x], %[" w "]\n\t" "str %[x], [%[r], #4*" #i "]\n\t"
#define FE_FIX(op1, op)                                                                   \
    "ldr %[x], [%[r]]\n\t" op1 " %[x], %[x], %[m]\n\t" "str %[x], [%[r]]\n\t"        \
    FE_FIX_STEP(1, op, "m") FE_FIX_STEP(2, op, "m") FE_FIX_STEP(3, op, "z")               \
    FE_FIX_STEP(4, op, "z") FE_FIX_STEP(5, op, "z") FE_FIX_STEP(6, op, "o")               \
    FE_FIX_STEP(7, op, "m")

/* r = r - p if carry or r >= p, for r < 2p (carry: bit 256 of r) */
static INLINE void fe_fix(uint32_t *r, uint32_t carry)
{
    uint32_t x, m, z, o;
    /* m = all ones if r < p (the chain r - p borrows) */
    __asm__ volatile(".syntax unified\n\t"
                     "movs %[z], #0\n\t"
                     "mvns %[m], %[z]\n\t"
                     "movs %[o], #1\n\t"
                     "ldr %[x], [%[r]]\n\tsubs %[x], %[x], %[m]\n\t"
                     "ldr %[x], [%[r], #4]\n\tsbcs %[x], %[m]\n\t"
                     "ldr %[x], [%[r], #8]\n\tsbcs %[x], %[m]\n\t"
                     "ldr %[x], [%[r], #12]\n\tsbcs %[x], %[z]\n\t"
                     "ldr %[x], [%[r], #16]\n\tsbcs %[x], %[z]\n\t"
                     "ldr %[x], [%[r], #20]\n\tsbcs %[x], %[z]\n\t"
                     "ldr %[x], [%[r], #24]\n\tsbcs %[x], %[o]\n\t"
                     "ldr %[x], [%[r], #28]\n\tsbcs %[x], %[m]\n\t"
                     "sbcs %[m], %[m]\n\t"
                     : [x] "=&l"(x), [m] "=&l"(m), [z] "=&l"(z), [o] "=&l"(o)
                     : [r] "l"(r)
                     : "cc", "memory");
    m = ~m | (0 - carry);
    o = m & 1;
    __asm__ volatile(".syntax unified\n\t" FE_FIX("subs", "sbcs")
                     : [x] "=&l"(x)
                     : [r] "l"(r), [m] "l"(m), [z] "l"(z), [o] "l"(o)
                     : "cc", "memory");
}

NOINLINE
static void fe_add(fe r, const fe a, const fe b)
{
    fe_fix(r, limbs_add(r, a, b));
}

NOINLINE
static void fe_sub(fe r, const fe a, const fe b)
{
    uint32_t m = 0 - limbs_sub(r, a, b), o = m & 1, z = 0, x;
    /* add p back after a borrow */
    __asm__ volatile(".syntax unified\n\t" FE_FIX("adds", "adcs")
                     : [x] "=&l"(x)
                     : [r] "l"(r), [m] "l"(m), [z] "l"(z), [o] "l"(o)
                     : "cc", "memory");
}
#else
static void fe_add(fe r, const fe a, const fe b)
{
    mod_add(r, a, b, P256_P);
}

static void fe_sub(fe r, const fe a, const fe b)
{
    mod_sub(r, a, b, P256_P);
}
#endif

/* c[0..N-1] += a[0..N-1] * b, returns the carry out (one limb). Unrolled:
 * on the M0+ this loop is about half of all the time spent. */
static INLINE limb_t mac_row(limb_t *c, const limb_t *a, limb_t b)
{
    limb_t carry = 0;
#pragma GCC unroll 8
    for (int j = 0; j < NLIMBS; j++) {
        dlimb_t p = muladd(a[j], b, c[j], carry);
        c[j] = (limb_t)p;
        carry = (limb_t)(p >> LIMB_BITS);
    }
    return carry;
}

/* c = a * b, 2*NLIMBS limbs, row by row (operand scanning). The one
 * multiprecision product of the file: field and scalar multiplications
 * and (on ARMv6-M) squarings all go through it, so at -Os it is kept out
 * of line and its unrolled row exists once. */
#if defined(__GNUC__) && defined(__OPTIMIZE_SIZE__)
__attribute__((noinline))
#endif
static void mul_wide(limb_t c[2 * NLIMBS], const limb_t *a, const limb_t *b)
{
    for (int j = 0; j < NLIMBS; j++) {
        c[j] = 0;
    }
    for (int i = 0; i < NLIMBS; i++) {
        c[i + NLIMBS] = mac_row(c + i, a, b[i]);
    }
}

/* c = a^2: the cross products a[i]*a[j] (i < j) once, then doubled and
 * the squares a[i]^2 added on the diagonal in one pass: N(N+1)/2
 * products, not N^2. */
#if !defined(P256_ASM_ARMV6M)
#if defined(__GNUC__) && defined(__OPTIMIZE_SIZE__)
__attribute__((noinline))
#endif
static void sqr_wide(limb_t c[2 * NLIMBS], const limb_t *a)
{
    limb_t carry, top = 0;
    for (int j = 0; j < NLIMBS; j++) {
        c[j] = 0;
    }
    for (int i = 0; i < NLIMBS - 1; i++) {
        carry = 0;
        for (int j = i + 1; j < NLIMBS; j++) {
            dlimb_t p = muladd(a[i], a[j], c[i + j], carry);
            c[i + j] = (limb_t)p;
            carry = (limb_t)(p >> LIMB_BITS);
        }
        c[i + NLIMBS] = carry;
    }
    c[2 * NLIMBS - 1] = 0;
    carry = 0;
    for (int i = 0; i < NLIMBS; i++) {
        limb_t lo = c[2 * i], hi = c[2 * i + 1];
        dlimb_t p = muladd(a[i], a[i], (lo << 1) | top, carry); /* + low limb doubled */
        top = hi >> (LIMB_BITS - 1);
        c[2 * i] = (limb_t)p;
        p = (p >> LIMB_BITS) + ((hi << 1) | (lo >> (LIMB_BITS - 1)));
        c[2 * i + 1] = (limb_t)p;
        carry = (limb_t)(p >> LIMB_BITS);
    }
}
#endif

#if defined(P256_ASM_ARMV6M)
/*
 * c = a^2 on ARMv6-M, 36 products instead of the general product's 64:
 * the cross products a[i] a[j] (i < j) row by row, the whole doubled in
 * one ADCS chain, then the squares a[i]^2 added on the diagonal. A
 * function of its own in asm because the row loop needs all eight low
 * registers (b and the loop end wait in r8, r9): 34 cycles a product
 * against the general product's 31, which is unrolled. Same 32x32->64
 * step as muladd, no branch on data (the loops' counts are fixed), so
 * constant time. Its stack: the nine saved registers (36 bytes), less
 * than mul_wide's frame, so fe_mul stays the deepest chain the call-graph
 * checks see.
 */
void p256_sqr_m0(uint32_t c[16], const uint32_t a[8]);
__asm__(".syntax unified\n"
        ".pushsection .text.p256_sqr_m0,\"ax\",%progbits\n"
        ".balign 2\n"
        ".global p256_sqr_m0\n"
        ".hidden p256_sqr_m0\n"
        ".thumb_func\n"
        ".type p256_sqr_m0, %function\n"
        "p256_sqr_m0:\n"
        "    push {r4, r5, r6, r7, lr}\n"
        "    mov r4, r8\n"
        "    mov r5, r9\n"
        "    mov r6, r10\n"
        "    mov r7, r11\n"
        "    push {r4, r5, r6, r7}\n"
        "    mov r10, r0\n"               /* c */
        "    mov r11, r1\n"               /* a */
        "    movs r3, r1\n"
        "    adds r3, #32\n"
        "    mov r9, r3\n"                /* end of a */
        "    movs r2, #0\n"
        "    movs r3, #64\n"
        "1:  subs r3, #4\n"               /* c = 0 */
        "    str r2, [r0, r3]\n"
        "    bne 1b\n"
        "    mov r12, r3\n"               /* 4 i = 0 */
        /* row i: c[2i+1 .. i+7] += a[i] a[i+1 .. 7], c[i+8] = carry */
        "2:  mov r3, r12\n"
        "    mov r1, r11\n"
        "    ldr r4, [r1, r3]\n"
        "    mov r8, r4\n"                /* b = a[i] */
        "    adds r1, r1, r3\n"
        "    adds r1, #4\n"               /* a + i + 1 */
        "    mov r0, r10\n"
        "    adds r0, r0, r3\n"
        "    adds r0, r0, r3\n"
        "    adds r0, #4\n"               /* c + 2i + 1 */
        "    movs r2, #0\n"               /* carry */
        "3:  ldm r1!, {r3}\n"             /* x = a[j] */
        "    mov r4, r8\n"
        "    lsrs r5, r3, #16\n"
        "    uxth r3, r3\n"
        "    lsrs r6, r4, #16\n"
        "    uxth r4, r4\n"
        "    movs r7, r3\n"
        "    muls r7, r4\n"               /* xl bl */
        "    muls r4, r5\n"               /* xh bl */
        "    muls r3, r6\n"               /* xl bh */
        "    muls r6, r5\n"               /* xh bh */
        "    adds r3, r3, r4\n"
        "    movs r5, #0\n"
        "    adcs r5, r5\n"
        "    lsls r5, r5, #16\n"
        "    adds r6, r6, r5\n"
        "    lsls r5, r3, #16\n"
        "    lsrs r3, r3, #16\n"
        "    adds r7, r7, r5\n"
        "    adcs r6, r3\n"               /* (r6:r7) = x b */
        "    ldr r3, [r0]\n"
        "    movs r5, #0\n"
        "    adds r7, r7, r3\n"
        "    adcs r6, r5\n"
        "    adds r7, r7, r2\n"
        "    adcs r6, r5\n"
        "    stm r0!, {r7}\n"
        "    movs r2, r6\n"
        "    cmp r1, r9\n"
        "    bne 3b\n"
        "    str r2, [r0]\n"
        "    mov r3, r12\n"
        "    adds r3, #4\n"
        "    mov r12, r3\n"
        "    cmp r3, #28\n"
        "    bne 2b\n"
        /* c = 2 c: one carry chain (LDM/STM leave the flags alone) */
        "    mov r0, r10\n"
        "    mov r1, r10\n"
        "    ldm r0!, {r3, r4, r5, r6}\n"
        "    adds r3, r3, r3\n"
        "    adcs r4, r4\n"
        "    adcs r5, r5\n"
        "    adcs r6, r6\n"
        "    stm r1!, {r3, r4, r5, r6}\n"
        "    ldm r0!, {r3, r4, r5, r6}\n"
        "    adcs r3, r3\n"
        "    adcs r4, r4\n"
        "    adcs r5, r5\n"
        "    adcs r6, r6\n"
        "    stm r1!, {r3, r4, r5, r6}\n"
        "    ldm r0!, {r3, r4, r5, r6}\n"
        "    adcs r3, r3\n"
        "    adcs r4, r4\n"
        "    adcs r5, r5\n"
        "    adcs r6, r6\n"
        "    stm r1!, {r3, r4, r5, r6}\n"
        "    ldm r0!, {r3, r4, r5, r6}\n"
        "    adcs r3, r3\n"
        "    adcs r4, r4\n"
        "    adcs r5, r5\n"
        "    adcs r6, r6\n"
        "    stm r1!, {r3, r4, r5, r6}\n"
        /* c += a[i]^2 at word 2i, the carry kept in r2 */
        "    mov r0, r10\n"
        "    mov r1, r11\n"
        "    movs r2, #0\n"
        "4:  ldm r1!, {r3}\n"
        "    lsrs r5, r3, #16\n"
        "    uxth r3, r3\n"
        "    movs r7, r3\n"
        "    muls r7, r3\n"               /* xl^2 */
        "    muls r3, r5\n"               /* xl xh */
        "    muls r5, r5\n"               /* xh^2 */
        "    lsrs r6, r3, #15\n"
        "    lsls r3, r3, #17\n"
        "    adds r7, r7, r3\n"
        "    adcs r5, r6\n"               /* (r5:r7) = x^2 */
        "    ldr r3, [r0]\n"
        "    ldr r4, [r0, #4]\n"
        "    movs r6, #0\n"
        "    adds r7, r7, r2\n"
        "    adcs r5, r6\n"
        "    adds r3, r3, r7\n"
        "    adcs r4, r5\n"
        "    movs r2, #0\n"
        "    adcs r2, r2\n"
        "    stm r0!, {r3, r4}\n"
        "    cmp r1, r9\n"
        "    bne 4b\n"
        "    pop {r4, r5, r6, r7}\n"
        "    mov r8, r4\n"
        "    mov r9, r5\n"
        "    mov r10, r6\n"
        "    mov r11, r7\n"
        "    pop {r4, r5, r6, r7, pc}\n"
        ".size p256_sqr_m0, . - p256_sqr_m0\n"
        ".popsection\n");
#endif

#if LIMB_BITS == 64
/*
 * r = c mod p for c < p^2 with 64-bit limbs: Solinas' reduction as in the
 * 32-bit version below, but each of the nine terms s1..s9 is assembled
 * directly as four 64-bit limbs (W(hi, lo) joins two 32-bit words c_hi,
 * c_lo of the product) and they are added and subtracted with carry
 * chains, counting the carries out of 2^256 in one word. That carry is
 * folded back twice with 2^256 = 2^224 - 2^192 - 2^96 + 1 (mod p), then
 * one masked subtraction of p.
 */
#define LO(x) ((x) & 0xffffffffu)
#define HI(x) ((x) >> 32)
#define W(h, l) (((h) << 32) | (l))

static INLINE __int128 fold64(limb_t r[4], __int128 top)
{
    __int128 acc = (__int128)r[0] + top;
    r[0] = (limb_t)acc;
    acc >>= 64;
    acc += (__int128)r[1] - (top << 32);
    r[1] = (limb_t)acc;
    acc >>= 64;
    acc += r[2];
    r[2] = (limb_t)acc;
    acc >>= 64;
    acc += (__int128)r[3] + (top << 32) - top;
    r[3] = (limb_t)acc;
    return acc >> 64;
}

static void fe_reduce(fe r, const limb_t c[8])
{
    /* the product's 32-bit words c8..c15 (c0..c7 are used as whole limbs) */
    limb_t c8 = LO(c[4]), c9 = HI(c[4]), c10 = LO(c[5]), c11 = HI(c[5]);
    limb_t c12 = LO(c[6]), c13 = HI(c[6]), c14 = LO(c[7]), c15 = HI(c[7]);
    /* the terms, from FIPS 186-4 D.2.3, as little-endian 64-bit limbs */
    const limb_t s2[4] = {0, W(c11, 0), c[6], c[7]};
    const limb_t s3[4] = {0, W(c12, 0), W(c14, c13), c15};
    const limb_t s4[4] = {c[4], c10, 0, c[7]};
    const limb_t s5[4] = {W(c10, c9), W(c13, c11), c[7], W(c8, c13)};
    const limb_t s6[4] = {W(c12, c11), c13, 0, W(c10, c8)};
    const limb_t s7[4] = {c[6], c[7], 0, W(c11, c9)};
    const limb_t s8[4] = {W(c14, c13), W(c8, c15), W(c10, c9), W(c12, 0)};
    const limb_t s9[4] = {c[7], W(c9, 0), c[5], W(c13, 0)};
    limb_t t[NLIMBS];
    /* r = s1 + 2 s2 + 2 s3 + s4 + s5 - s6 - s7 - s8 - s9, carry in [-4, 6] */
    limb_t carry = limbs_add(r, c, s2);
    carry += limbs_add(r, r, s2);
    carry += limbs_add(r, r, s3);
    carry += limbs_add(r, r, s3);
    carry += limbs_add(r, r, s4);
    carry += limbs_add(r, r, s5);
    carry -= limbs_sub(r, r, s6);
    carry -= limbs_sub(r, r, s7);
    carry -= limbs_sub(r, r, s8);
    carry -= limbs_sub(r, r, s9);
    fold64(r, fold64(r, (__int128)(int64_t)carry));
    limb_t borrow = limbs_sub(t, r, P256_P);
    limbs_cmov(r, t, mask_of(borrow ^ 1));
}
#undef LO
#undef HI
#undef W
#else
/* 32-bit word i of the 512-bit product, as a signed 64-bit value */
#define CW(i) ((int64_t)c[i])

/* w += top * (2^256 mod p) = top * (2^224 - 2^192 - 2^96 + 1); returns the
 * new signed carry out of 2^256. |top| is small (at most 6). */
#if defined(P256_ASM_ARMV6M)
/* ARMv6-M: one carry chain with the accumulator in two registers, as in
 * fe_reduce; out of line, since it runs twice per reduction. */
#define FD_W(i) "movs %[lo], %[hi]\n\tasrs %[hi], %[hi], #31\n\t" \
    "ldr %[t], [%[w], #4*" #i "]\n\tadds %[lo], %[lo], %[t]\n\tadcs %[hi], %[hi], %[z]\n\t"
#define FD_ST(i) "str %[lo], [%[w], #4*" #i "]\n\t"
#define FD_ADD "adds %[lo], %[lo], %[top]\n\tadcs %[hi], %[hi], %[s]\n\t"
#define FD_SUB "subs %[lo], %[lo], %[top]\n\tsbcs %[hi], %[hi], %[s]\n\t"
NOINLINE static int32_t fold(uint32_t w[8], int32_t top)
{
    uint32_t lo, hi, t, z, s;
    __asm__ volatile(".syntax unified\n\t"
                     "asrs %[s], %[top], #31\n\t"
                     "movs %[z], #0\n\t"
                     "movs %[hi], #0\n\t"
                     "ldr %[lo], [%[w]]\n\t" FD_ADD FD_ST(0)
                     FD_W(1) FD_ST(1)
                     FD_W(2) FD_ST(2)
                     FD_W(3) FD_SUB FD_ST(3)
                     FD_W(4) FD_ST(4)
                     FD_W(5) FD_ST(5)
                     FD_W(6) FD_SUB FD_ST(6)
                     FD_W(7) FD_ADD FD_ST(7)
                     : [lo] "=&l"(lo), [hi] "=&l"(hi), [t] "=&l"(t), [z] "=&l"(z), [s] "=&l"(s)
                     : [w] "l"(w), [top] "l"(top)
                     : "cc", "memory");
    return (int32_t)hi; /* the accumulator >> 32; it fits one word */
}
#undef FD_W
#undef FD_ST
#undef FD_ADD
#undef FD_SUB
#else
static INLINE int32_t fold(uint32_t w[8], int32_t top)
{
    int64_t acc = (int64_t)w[0] + top;
    w[0] = (uint32_t)acc;
    acc >>= 32;
    acc += w[1];
    w[1] = (uint32_t)acc;
    acc >>= 32;
    acc += w[2];
    w[2] = (uint32_t)acc;
    acc >>= 32;
    acc += (int64_t)w[3] - top;
    w[3] = (uint32_t)acc;
    acc >>= 32;
    acc += w[4];
    w[4] = (uint32_t)acc;
    acc >>= 32;
    acc += w[5];
    w[5] = (uint32_t)acc;
    acc >>= 32;
    acc += (int64_t)w[6] - top;
    w[6] = (uint32_t)acc;
    acc >>= 32;
    acc += (int64_t)w[7] + top;
    w[7] = (uint32_t)acc;
    return (int32_t)(acc >> 32);
}
#endif

/*
 * r = c mod p for c < p^2, Solinas' reduction (FIPS 186-4 D.2.3): with
 * c = (c15..c0) in 32-bit words, c = s1 + 2 s2 + 2 s3 + s4 + s5 - s6 - s7 -
 * s8 - s9 (mod p), where each s_i is 8 words picked from c. Summed column
 * by column in a signed 64-bit accumulator this gives 8 words plus a carry
 * in [-4, 6]; two folds of 2^256 = 2^224 - 2^192 - 2^96 + 1 (mod p) bring
 * it into [0, 2^256) (the first leaves a carry in {-1, 0, 1}, the second
 * none), and one masked subtraction of p into [0, p).
 * Only additions: no multiplication by p at all. c is clobbered (it is the
 * caller's scratch product); r may not alias c.
 */
static void fe_reduce(fe r, limb_t c[2 * NLIMBS])
{
    uint32_t *w = r; /* 32-bit limbs: the words are the limbs */
    int64_t acc;
#if defined(P256_ASM_ARMV6M)
    /* ARMv6-M: the same column sums, straight-line, with the signed 64-bit
     * accumulator in two registers (ADDS/ADCS, SUBS/SBCS against a zero
     * register): 4 cycles a term, half the time and size of what GCC
     * makes of the C below. Column j's sum is stored in w[j]; then the
     * accumulator shifts down one word (arithmetic shift of the high
     * half). */
#define RD_LD(i) "ldr %[t], [%[c], #4*" #i "]\n\t"
#define RD_ADD "adds %[lo], %[lo], %[t]\n\tadcs %[hi], %[hi], %[z]\n\t"
#define RD_SUB "subs %[lo], %[lo], %[t]\n\tsbcs %[hi], %[hi], %[z]\n\t"
#define RD_P(i) RD_LD(i) RD_ADD
#define RD_P2(i) RD_LD(i) RD_ADD RD_ADD
#define RD_P3(i) RD_LD(i) RD_ADD RD_ADD RD_ADD
#define RD_M(i) RD_LD(i) RD_SUB
#define RD_COL(j) "str %[lo], [%[w], #4*" #j "]\n\tmovs %[lo], %[hi]\n\tasrs %[hi], %[hi], #31\n\t"
    uint32_t lo, hi, t, z;
    __asm__ volatile(".syntax unified\n\t"
                     "movs %[z], #0\n\t"
                     "movs %[hi], #0\n\t"
                     "ldr %[lo], [%[c]]\n\t"
                     RD_P(8) RD_P(9) RD_M(11) RD_M(12) RD_M(13) RD_M(14) RD_COL(0)
                     RD_P(1) RD_P(9) RD_P(10) RD_M(12) RD_M(13) RD_M(14) RD_M(15) RD_COL(1)
                     RD_P(2) RD_P(10) RD_P(11) RD_M(13) RD_M(14) RD_M(15) RD_COL(2)
                     RD_P(3) RD_P2(11) RD_P2(12) RD_P(13) RD_M(15) RD_M(8) RD_M(9) RD_COL(3)
                     RD_P(4) RD_P2(12) RD_P2(13) RD_P(14) RD_M(9) RD_M(10) RD_COL(4)
                     RD_P(5) RD_P2(13) RD_P2(14) RD_P(15) RD_M(10) RD_M(11) RD_COL(5)
                     RD_P(6) RD_P3(14) RD_P2(15) RD_P(13) RD_M(8) RD_M(9) RD_COL(6)
                     RD_P(7) RD_P3(15) RD_P(8) RD_M(10) RD_M(11) RD_M(12) RD_M(13) RD_COL(7)
                     : [lo] "=&l"(lo), [hi] "=&l"(hi), [t] "=&l"(t), [z] "=&l"(z)
                     : [c] "l"(c), [w] "l"(w)
                     : "cc", "memory");
    acc = (int32_t)lo; /* the carry out of 2^256, in [-4, 6] */
#undef RD_LD
#undef RD_ADD
#undef RD_SUB
#undef RD_P
#undef RD_P2
#undef RD_P3
#undef RD_M
#undef RD_COL
#else
    acc = CW(0) + CW(8) + CW(9) - CW(11) - CW(12) - CW(13) - CW(14);
    w[0] = (uint32_t)acc;
    acc >>= 32;
    acc += CW(1) + CW(9) + CW(10) - CW(12) - CW(13) - CW(14) - CW(15);
    w[1] = (uint32_t)acc;
    acc >>= 32;
    acc += CW(2) + CW(10) + CW(11) - CW(13) - CW(14) - CW(15);
    w[2] = (uint32_t)acc;
    acc >>= 32;
    acc += CW(3) + 2 * (CW(11) + CW(12)) + CW(13) - CW(15) - CW(8) - CW(9);
    w[3] = (uint32_t)acc;
    acc >>= 32;
    acc += CW(4) + 2 * (CW(12) + CW(13)) + CW(14) - CW(9) - CW(10);
    w[4] = (uint32_t)acc;
    acc >>= 32;
    acc += CW(5) + 2 * (CW(13) + CW(14)) + CW(15) - CW(10) - CW(11);
    w[5] = (uint32_t)acc;
    acc >>= 32;
    acc += CW(6) + 2 * (CW(14) + CW(15)) + CW(14) + CW(13) - CW(8) - CW(9);
    w[6] = (uint32_t)acc;
    acc >>= 32;
    acc += CW(7) + 2 * CW(15) + CW(15) + CW(8) - CW(10) - CW(11) - CW(12) - CW(13);
    w[7] = (uint32_t)acc;
    acc >>= 32;
#endif
    fold(w, fold(w, (int32_t)acc));
#if defined(P256_ASM_ARMV6M)
    fe_fix(w, 0);
#else
    /* every column has been read: reuse the product as scratch */
    limb_t borrow = limbs_sub(c, r, P256_P);
    limbs_cmov(r, c, mask_of(borrow ^ 1));
#endif
}
#undef CW

#endif

/* With 32-bit limbs (the boards) out of line even at -O2: inlined into
 * the point formulas it would put its 64-byte product into their frames. */
#if LIMB_BITS == 32
NOINLINE
#endif
static void fe_mul(fe r, const fe a, const fe b)
{
    limb_t c[2 * NLIMBS];
    mul_wide(c, a, b);
    fe_reduce(r, c);
}

#if LIMB_BITS == 32
NOINLINE /* as fe_mul */
#endif
static void fe_sqr(fe r, const fe a)
{
    limb_t c[2 * NLIMBS];
#if defined(P256_ASM_ARMV6M)
    p256_sqr_m0(c, a);
#else
    sqr_wide(c, a);
#endif
    fe_reduce(r, c);
}

/* r = r^(2^n) * a */
static void fe_sqr_n_mul(fe r, int n, const fe a)
{
    while (n-- > 0) {
        fe_sqr(r, r);
    }
    fe_mul(r, r, a);
}

/* r = a^((p+1)/4), a square root of a when one exists (p = 3 mod 4); the
 * caller checks r^2 = a. (p+1)/4 = [32 ones][31 zeros][1][95 zeros][1][94 zeros],
 * done bit by bit over the leading ones: 253 squarings and 33
 * multiplications, 24 more than an addition chain, in a few instructions.
 * Used only on public data (point decompression). */
static void fe_sqrt(fe r, const fe a)
{
    limbs_copy(r, a);
    for (int i = 1; i < 32; i++) {
        fe_sqr_n_mul(r, 1, a);
    }
    fe_sqr_n_mul(r, 32, a);
    fe_sqr_n_mul(r, 96, a);
    for (int i = 0; i < 94; i++) {
        fe_sqr(r, r);
    }
}

/* ------------------------------------------------------------------------ */
/* 4. Arithmetic mod n (Montgomery, R = 2^256)                               */

/*
 * r = a * b / R mod n for a, b < n: Montgomery multiplication with the
 * reduction done as two more full products (Montgomery 1985): t = a b,
 * m = t * (-1/n) mod R, then t + m n is divisible by R and (t + m n) / R
 * < 2n, so one masked subtraction of n finishes. Three products where a
 * word-by-word reduction needs two, but it is rare (a few calls per
 * signature) and needs no loop of its own next to mul_wide.
 */
static void sc_mont_mul(sc r, const sc a, const sc b)
{
    limb_t t[2 * NLIMBS], m[2 * NLIMBS], mn[2 * NLIMBS];
    mul_wide(t, a, b);
    mul_wide(m, t, P256_N_NEG_INV); /* m = low half */
    mul_wide(mn, m, P256_N);
    /* the low halves sum to 0 or R: carry 1 exactly when t's is not 0 */
    limb_t carry = limbs_add(m, t, mn);
    for (int i = 0; i < NLIMBS; i++) {
        m[i] = 0;
    }
    m[0] = carry;
    carry = limbs_add(t + NLIMBS, t + NLIMBS, m);
    carry += limbs_add(t + NLIMBS, t + NLIMBS, mn + NLIMBS);
    limb_t borrow = limbs_sub(r, t + NLIMBS, P256_N);
    /* keep the sum if it is < n: the subtraction borrowed and no carry */
    limbs_cmov(r, t + NLIMBS, mask_of(borrow & (carry ^ 1)));
}

/* a mod n for a < 2^256 (< 2n): one masked subtraction */
static void sc_reduce_once(sc r, const sc a)
{
    sc t;
    limb_t borrow = limbs_sub(t, a, P256_N);
    limbs_copy(r, a);
    limbs_cmov(r, t, mask_of(borrow ^ 1));
}

/* 1 if 0 < a < n, in constant time */
static limb_t sc_in_range(const sc a)
{
    sc t;
    return limbs_sub(t, a, P256_N) & (limbs_is_zero(a) ^ 1);
}

/* ------------------------------------------------------------------------ */
/* 4b. Inversion mod p and mod n: safegcd                                    */

/*
 * Constant-time modular inversion by Bernstein and Yang, "Fast constant-time
 * gcd computation and modular inversion" (2019), in the batched form that
 * libsecp256k1 documents. A divstep maps (delta, f, g), f odd, to
 *
 *   (1 - delta, g, (g - f)/2)        if delta > 0 and g is odd,
 *   (1 + delta, f, (g + (g mod 2) f)/2)   otherwise.
 *
 * Starting from (1, M, x), g reaches 0 and f = +-gcd = +-1 after at most
 * floor((49*256 + 57)/17) = 741 divsteps for 256-bit inputs (their Theorem
 * 11.2); we always do 25 batches of 30 = 750. A batch looks only at the low
 * 30 bits of f and g and yields a 2x2 integer matrix T (scaled by 2^30)
 * with (f', g') = T (f, g) / 2^30; the same T applied to (d, e), started
 * at (0, 1), tracks f = d x (mod M), with the division by 2^30 done mod M
 * by adding a multiple of M that clears the low 30 bits. At the end f = +-1
 * and d = +-1/x. Numbers are 9 signed limbs of 30 bits; the matrix entries
 * stay below 2^30 in size, so every product fits 64 bits. The number of
 * steps is fixed and every step is masked: no branch depends on x.
 * One inversion costs about 0.22 M cycles on the M0+ (as much as 75
 * field multiplications), 3.5 times less than Fermat's x^(M-2) with its
 * ~270 multiplications; on x86-64 about 2.7 times less.
 */
#define S30_MASK 0x3fffffff

typedef struct {
    int32_t v[9]; /* value = sum v[i] 2^(30 i); v[0..7] in [0, 2^30), v[8] signed */
} s30;

typedef struct {
    s30 m;
    uint32_t m_inv30; /* 1/m mod 2^30 */
} modinv_info;

static const modinv_info MODINV_P = {
    {{0x3fffffff, 0x3fffffff, 0x3fffffff, 0x0000003f, 0, 0, 0x00001000, 0x3fffc000, 0x0000ffff}},
    0x3fffffff};
static const modinv_info MODINV_N = {
    {{0x3c632551, 0x0ee72b0b, 0x3179e84f, 0x39beab69, 0x3fffffbc, 0x3fffffff, 0x00000fff,
      0x3fffc000, 0x0000ffff}},
    0x11ff43b1};

/* (int64_t)a * b. On ARMv6-M GCC calls libgcc's __aeabi_lmul, whose time
 * depends on the operands; use the constant-time unsigned product and
 * correct for the signs: a b = ua ub - 2^32 (ua [b < 0] + ub [a < 0]). */
#if defined(P256_ASM_ARMV6M)
#define SMUL_INLINE NOINLINE /* many call sites: keep one copy */
#else
#define SMUL_INLINE INLINE
#endif
static SMUL_INLINE int64_t smul(int32_t a, int32_t b)
{
#if defined(P256_ASM_ARMV6M)
    uint32_t sa = (uint32_t)(a >> 31), sb = (uint32_t)(b >> 31);
    uint64_t p = muladd((uint32_t)a, (uint32_t)b, 0, 0);
    uint32_t corr = ((uint32_t)a & sb) + ((uint32_t)b & sa);
    return (int64_t)(p - ((uint64_t)corr << 32));
#else
    return (int64_t)a * b;
#endif
}

/* 32-bit word j of a 256-bit number */
static inline uint32_t word32(const limb_t *a, int j)
{
    return (uint32_t)(a[j / (LIMB_BITS / 32)] >> (32 * (j % (LIMB_BITS / 32))));
}

/* 30 divsteps on the low bits of f (odd) and g; returns delta, fills t. */
static int32_t divsteps30(int32_t delta, uint32_t f, uint32_t g, int32_t t[4])
{
    uint32_t u = 1, v = 0, q = 0, r = 1, x;
    for (int i = 0; i < 30; i++) {
        /* c1: delta > 0 and g odd. Then (f, g, u, v, q, r, delta) becomes
         * (g, -f, q, r, -u, -v, -delta), which makes the common step below
         * produce the first case of the divstep. */
        uint32_t c1 = barrier32((uint32_t)0 - (((uint32_t)0 - (uint32_t)delta) >> 31 & g & 1));
        x = (f ^ g) & c1;
        f ^= x;
        g ^= x;
        g = (g ^ c1) - c1;
        x = (u ^ q) & c1;
        u ^= x;
        q ^= x;
        q = (q ^ c1) - c1;
        x = (v ^ r) & c1;
        v ^= x;
        r ^= x;
        r = (r ^ c1) - c1;
        delta = (int32_t)(((uint32_t)delta ^ c1) - c1);
        /* g odd: g += f (and its row follows) */
        uint32_t c2 = barrier32((uint32_t)0 - (g & 1));
        g += f & c2;
        q += u & c2;
        r += v & c2;
        /* halve g; the other row doubles so that T stays scaled by 2^i */
        delta++;
        g >>= 1;
        u <<= 1;
        v <<= 1;
    }
    t[0] = (int32_t)u;
    t[1] = (int32_t)v;
    t[2] = (int32_t)q;
    t[3] = (int32_t)r;
    return delta;
}

/* out = (ta a + tb b) / 2^30, one row of the transition matrix applied
 * to (a, b); out may be a. Without mi the division is exact (f and g).
 * With mi it is done mod m, for d and e: first add m times the
 * coefficients of the negative inputs, which keeps the result in
 * (-2m, m), then the multiple k m that clears the low 30 bits
 * (k = -(ta a + tb b)/m mod 2^30). */
static void s30_row(s30 *out, const s30 *a, const s30 *b, int32_t ta, int32_t tb,
                    const modinv_info *mi)
{
    int32_t k = 0;
    int64_t c = smul(ta, a->v[0]) + smul(tb, b->v[0]);
    if (mi) {
        k = (ta & (a->v[8] >> 31)) + (tb & (b->v[8] >> 31));
        k -= (int32_t)((mi->m_inv30 * (uint32_t)c + (uint32_t)k) & S30_MASK);
        c += smul(mi->m.v[0], k);
    }
    c >>= 30; /* the low 30 bits are zero by construction */
    for (int i = 1; i < 9; i++) {
        c += smul(ta, a->v[i]) + smul(tb, b->v[i]);
        if (mi) {
            c += smul(mi->m.v[i], k);
        }
        out->v[i - 1] = (int32_t)c & S30_MASK;
        c >>= 30;
    }
    out->v[8] = (int32_t)c;
}

/* (a, b) = T (a, b) / 2^30 (mod m with mi) */
static void s30_update(s30 *a, s30 *b, const int32_t t[4], const modinv_info *mi)
{
    s30 nb;
    s30_row(&nb, a, b, t[2], t[3], mi);
    s30_row(a, a, b, t[0], t[1], mi);
    *b = nb;
}

/* carry each limb into the next: v[0..7] in [0, 2^30), v[8] signed */
static void s30_carry(s30 *a)
{
    for (int i = 0; i < 8; i++) {
        a->v[i + 1] += a->v[i] >> 30;
        a->v[i] &= S30_MASK;
    }
}

/* a += m if a < 0 */
static void s30_add_if_negative(s30 *a, const modinv_info *mi)
{
    int32_t neg = a->v[8] >> 31;
    for (int i = 0; i < 9; i++) {
        a->v[i] += mi->m.v[i] & neg;
    }
    s30_carry(a);
}

/* r = 1/x mod m (0 for x = 0), x < m */
static void mod_inv(limb_t *r, const limb_t *x, const modinv_info *mi)
{
    s30 d = {{0}}, e = {{1}}, f = mi->m, g;
    int32_t t[4], delta = 1;
    for (int i = 0; i < 9; i++) {
        int bit = 30 * i, j = bit / 32, sh = bit % 32;
        uint32_t w = word32(x, j) >> sh;
        if (sh > 2 && j < 7) {
            w |= word32(x, j + 1) << (32 - sh);
        }
        g.v[i] = (int32_t)(w & S30_MASK);
    }
    for (int i = 0; i < 25; i++) {
        delta = divsteps30(delta, (uint32_t)f.v[0], (uint32_t)g.v[0], t);
        s30_update(&d, &e, t, mi);
        s30_update(&f, &g, t, NULL);
    }
    /* f = +-1 and d in (-2m, m): bring d into (-m, m), multiply by the sign
     * of f, then into [0, m) */
    s30_add_if_negative(&d, mi);
    int32_t fneg = f.v[8] >> 31;
    for (int i = 0; i < 9; i++) {
        d.v[i] = (d.v[i] ^ fneg) - fneg;
    }
    s30_carry(&d);
    s30_add_if_negative(&d, mi);
    for (int i = 0; i < NLIMBS; i++) {
        r[i] = 0;
    }
    for (int i = 0; i < 9; i++) {
        /* limb i covers bits 30i .. 30i+29 of a value below 2^256 */
        int bit = 30 * i;
        r[bit / LIMB_BITS] |= (limb_t)d.v[i] << (bit % LIMB_BITS);
        if (bit % LIMB_BITS > LIMB_BITS - 30 && bit / LIMB_BITS + 1 < NLIMBS) {
            r[bit / LIMB_BITS + 1] |= (limb_t)d.v[i] >> (LIMB_BITS - bit % LIMB_BITS);
        }
    }
}

static void fe_inv(fe r, const fe a)
{
    mod_inv(r, a, &MODINV_P);
}

/* ------------------------------------------------------------------------ */
/* 5. Points                                                                 */

/* Projective (X : Y : Z) with x = X/Z, y = Y/Z; the point at infinity is
 * (0 : 1 : 0). The formulas are the complete ones for a = -3 by Renes,
 * Costello and Batina, "Complete addition formulas for prime order
 * elliptic curves" (2016), algorithms 5 and 6: correct for every input,
 * including doubling through the add formula, P + (-P) and the point at
 * infinity, so the ladders below need no special cases and no
 * secret-dependent branches. Step numbers follow the paper. Only the
 * mixed addition (the second point affine) is needed: every table, fixed
 * or per call, is kept affine. */
typedef struct {
    fe x, y, z;
} point;

typedef struct {
    fe x, y;
} affine;

static void pt_set_infinity(point *r)
{
    for (int i = 0; i < NLIMBS; i++) {
        r->x[i] = 0;
        r->y[i] = 0;
        r->z[i] = 0;
    }
    r->y[0] = 1;
}

/* Algorithm 5: p += q with q affine (Z = 1), in place. Complete for every
 * p, including infinity; q must be a real point (our table entries are).
 * 11M + 2 mul-by-b. In place: each coordinate of p is overwritten only
 * after its last use; 3 Z1 (steps 19-20 of the paper) is computed before
 * step 12 overwrites Z1. Not inlined into comb_mul, so that its
 * temporaries and pt_dbl's never share one stack frame. */
NOINLINE
static void pt_add_affine(point *p, const affine *q)
{
    fe t0, t1, t2, t3, t4;
    fe_mul(t0, p->x, q->x);  /* 1 */
    fe_mul(t1, p->y, q->y);  /* 2 */
    fe_add(t3, q->x, q->y);  /* 3 */
    fe_add(t4, p->x, p->y);  /* 4 */
    fe_mul(t3, t3, t4);      /* 5 */
    fe_add(t4, t0, t1);      /* 6 */
    fe_sub(t3, t3, t4);      /* 7 */
    fe_mul(t4, q->y, p->z);  /* 8 */
    fe_add(t4, t4, p->y);    /* 9: last use of Y1 */
    fe_mul(p->y, q->x, p->z); /* 10 */
    fe_add(p->y, p->y, p->x); /* 11: last use of X1 */
    fe_add(t2, p->z, p->z);  /* 19 */
    fe_add(t2, t2, p->z);    /* 20 */
    fe_mul(p->z, P256_B, p->z); /* 12: last use of Z1 */
    fe_sub(p->x, p->y, p->z); /* 13 */
    fe_add(p->z, p->x, p->x); /* 14 */
    fe_add(p->x, p->x, p->z); /* 15 */
    fe_sub(p->z, t1, p->x);  /* 16 */
    fe_add(p->x, t1, p->x);  /* 17 */
    fe_mul(p->y, P256_B, p->y); /* 18 */
    fe_sub(p->y, p->y, t2);  /* 21 */
    fe_sub(p->y, p->y, t0);  /* 22 */
    fe_add(t1, p->y, p->y);  /* 23 */
    fe_add(p->y, t1, p->y);  /* 24 */
    fe_add(t1, t0, t0);      /* 25 */
    fe_add(t0, t1, t0);      /* 26 */
    fe_sub(t0, t0, t2);      /* 27 */
    fe_mul(t1, t4, p->y);    /* 28 */
    fe_mul(t2, t0, p->y);    /* 29 */
    fe_mul(p->y, p->x, p->z); /* 30 */
    fe_add(p->y, p->y, t2);  /* 31 */
    fe_mul(p->x, t3, p->x);  /* 32 */
    fe_sub(p->x, p->x, t1);  /* 33 */
    fe_mul(p->z, t4, p->z);  /* 34 */
    fe_mul(t1, t3, t0);      /* 35 */
    fe_add(p->z, p->z, t1);  /* 36 */
}

/* Algorithm 6: r = 2p; r may be p (in place: Y Z, step 28 of the paper,
 * is computed before step 6 overwrites Z). 8M + 3S + 2 mul-by-b. */
NOINLINE
static void pt_dbl(point *r, const point *p)
{
    fe t0, t1, t2, t3, t4;
    fe_sqr(t0, p->x);        /* 1 */
    fe_sqr(t1, p->y);        /* 2 */
    fe_sqr(t2, p->z);        /* 3 */
    fe_mul(t3, p->x, p->y);  /* 4 */
    fe_add(t3, t3, t3);      /* 5 */
    fe_mul(t4, p->y, p->z);  /* 28: last use of Y */
    fe_mul(r->z, p->x, p->z); /* 6: last use of X and Z */
    fe_add(r->z, r->z, r->z); /* 7 */
    fe_mul(r->y, P256_B, t2); /* 8 */
    fe_sub(r->y, r->y, r->z); /* 9 */
    fe_add(r->x, r->y, r->y); /* 10 */
    fe_add(r->y, r->x, r->y); /* 11 */
    fe_sub(r->x, t1, r->y);  /* 12 */
    fe_add(r->y, t1, r->y);  /* 13 */
    fe_mul(r->y, r->x, r->y); /* 14 */
    fe_mul(r->x, r->x, t3);  /* 15 */
    fe_add(t3, t2, t2);      /* 16 */
    fe_add(t2, t2, t3);      /* 17 */
    fe_mul(r->z, P256_B, r->z); /* 18 */
    fe_sub(r->z, r->z, t2);  /* 19 */
    fe_sub(r->z, r->z, t0);  /* 20 */
    fe_add(t3, r->z, r->z);  /* 21 */
    fe_add(r->z, r->z, t3);  /* 22 */
    fe_add(t3, t0, t0);      /* 23 */
    fe_add(t0, t3, t0);      /* 24 */
    fe_sub(t0, t0, t2);      /* 25 */
    fe_mul(t0, t0, r->z);    /* 26 */
    fe_add(r->y, r->y, t0);  /* 27 */
    fe_add(t4, t4, t4);      /* 29 */
    fe_mul(r->z, t4, r->z);  /* 30 */
    fe_sub(r->x, r->x, r->z); /* 31 */
    fe_mul(r->z, t4, t1);    /* 32 */
    fe_add(r->z, r->z, r->z); /* 33 */
    fe_add(r->z, r->z, r->z); /* 34 */
}

/* Jacobian coordinates (X : Y : Z) with x = X/Z^2, y = Y/Z^3, for the
 * variable-base ladder only. These formulas are NOT complete: the ladder
 * (var_mul) calls them only where the operands are proven distinct and
 * finite, and does its one possibly exceptional addition with the complete
 * projective pt_add_affine above. */

/* r = a / 2 mod p: a + p if a is odd (masked), then one shift right
 * with the carry as the top bit. */
static void fe_half(fe r, const fe a)
{
    limb_t t[NLIMBS];
    limb_t mask = mask_of(a[0] & 1);
    for (int i = 0; i < NLIMBS; i++) {
        t[i] = P256_P[i] & mask;
    }
    limb_t carry = limbs_add(r, a, t);
    for (int i = 0; i < NLIMBS - 1; i++) {
        r[i] = (r[i] >> 1) | (r[i + 1] << (LIMB_BITS - 1));
    }
    r[NLIMBS - 1] = (r[NLIMBS - 1] >> 1) | (carry << (LIMB_BITS - 1));
}

/* p = 2p in place, a = -3: dbl-2001-b of the Explicit-Formulas Database
 * (Bernstein-Lange) with the result scaled by 1/2 (the same Jacobian
 * point): L = 3 (X - Z^2)(X + Z^2) / 2, B = X Y^2, X3 = L^2 - 2B,
 * Y3 = L (B - X3) - Y^4, Z3 = Y Z. 4M + 4S, seven additions and a
 * halving where the unscaled formula needs fourteen additions; two
 * temporaries. For p finite with y != 0 (every point of P-256 but
 * infinity: the group order is an odd prime). */
NOINLINE
static void jac_dbl(point *p)
{
    fe t0, t1;
    fe_sqr(t0, p->z);         /* Z^2 */
    fe_sub(t1, p->x, t0);
    fe_add(t0, p->x, t0);
    fe_mul(t1, t1, t0);       /* (X - Z^2)(X + Z^2) */
    fe_half(t0, t1);
    fe_add(t1, t1, t0);       /* L */
    fe_mul(p->z, p->z, p->y); /* Z3 = Y Z */
    fe_sqr(p->y, p->y);       /* Y^2 */
    fe_mul(t0, p->x, p->y);   /* B = X Y^2 */
    fe_sqr(p->x, t1);
    fe_sub(p->x, p->x, t0);
    fe_sub(p->x, p->x, t0);   /* X3 = L^2 - 2B */
    fe_sub(t0, t0, p->x);
    fe_mul(t0, t0, t1);       /* L (B - X3) */
    fe_sqr(p->y, p->y);       /* Y^4 */
    fe_sub(p->y, t0, p->y);   /* Y3 = L (B - X3) - Y^4 */
}

/* p += q with q affine, in place (madd-2004-hmv, Hankerson-Menezes-
 * Vanstone): 8M + 3S. For p finite and p != +-q (then H = 0 and the result
 * is garbage). q is clobbered: once read, its coordinates are the scratch
 * that keeps this frame at one temporary. If ratio is not NULL it
 * receives H = Z3 / Z1. With check (public data only: it branches) p = q
 * and p = -q are detected instead: p is left alone and the return value
 * is 1 (p = q: the caller doubles) or 2 (p = -q: the sum is infinity);
 * else 0. */
NOINLINE
static int jac_add_affine(point *p, affine *q, limb_t *ratio, int check)
{
    fe t;
    fe_sqr(t, p->z);              /* Z1^2 */
    fe_mul(q->x, q->x, t);        /* U2 = X2 Z1^2 */
    fe_mul(t, t, p->z);           /* Z1^3 */
    fe_mul(q->y, q->y, t);        /* S2 = Y2 Z1^3 */
    fe_sub(q->x, q->x, p->x);     /* H = U2 - X1 */
    fe_sub(q->y, q->y, p->y);     /* R = S2 - Y1 */
    if (ratio) {
        limbs_copy(ratio, q->x);
    }
    if (check && limbs_is_zero(q->x)) {
        return limbs_is_zero(q->y) ? 1 : 2;
    }
    fe_mul(p->z, p->z, q->x);     /* Z3 = Z1 H */
    fe_sqr(t, q->x);              /* H^2 */
    fe_mul(p->x, p->x, t);        /* X1 H^2 */
    fe_mul(t, t, q->x);           /* H^3 */
    fe_sqr(q->x, q->y);
    fe_sub(q->x, q->x, t);
    fe_sub(q->x, q->x, p->x);
    fe_sub(q->x, q->x, p->x);     /* X3 = R^2 - H^3 - 2 X1 H^2 */
    fe_sub(p->x, p->x, q->x);
    fe_mul(p->x, p->x, q->y);     /* R (X1 H^2 - X3) */
    fe_mul(t, t, p->y);           /* Y1 H^3 */
    fe_sub(p->y, p->x, t);        /* Y3 = R (X1 H^2 - X3) - Y1 H^3 */
    limbs_copy(p->x, q->x);
    return 0;
}

/* y = mask ? -y : y */
static void fe_cneg(fe y, limb_t mask)
{
    static const fe zero = {0};
    fe t;
    fe_sub(t, zero, y);
    limbs_cmov(y, t, mask);
}

/* (x, y) = (X/Z, Y/Z); returns 0 for the point at infinity */
static limb_t pt_to_affine(fe x, fe y, const point *p)
{
    fe zi;
    fe_inv(zi, p->z);
    fe_mul(x, p->x, zi);
    fe_mul(y, p->y, zi);
    return limbs_is_zero(p->z) ^ 1;
}

/* r = x^3 - 3x + b */
static void fe_curve_rhs(fe r, const fe x)
{
    fe t;
    fe_sqr(r, x);
    fe_mul(r, r, x);
    fe_add(t, x, x);
    fe_add(t, t, x);
    fe_sub(r, r, t);
    fe_add(r, r, P256_B);
}

/* ------------------------------------------------------------------------ */
/* 6. Scalar multiplication                                                  */

/*
 * Both multiplications use signed digits that are never zero (the comb of
 * libsecp256k1's ecmult_gen, Hedabou et al.'s signed bits; the same idea
 * as its ecmult_const for any point):
 *
 * - Make k odd: k' = k if k is odd, else n - k (then k'P = -kP and the
 *   result is negated at the end; both selections are masked).
 * - Every odd k' < 2^L is sum_{i<L} b_i 2^i with all b_i = +-1: take
 *   m = (k' >> 1) | 2^(L-1) and b_i = 2 m_i - 1.
 * - A digit is T of these signed bits ("teeth"); its value, up to sign,
 *   is a table entry: entry idx stands for the sign pattern with the top
 *   tooth +1 and tooth t < T-1 equal to +1 exactly when bit t of idx is
 *   set. A digit whose top tooth is -1 is the negation of the entry for
 *   the flipped pattern.
 *
 * So every step adds a real point: no zero digit, no point at infinity in
 * a table, nothing to special-case. Each lookup reads every entry.
 */
#include "p256_table.h"

/* bit i of m = (k' >> 1) | 2^(L-1) */
static inline limb_t recoded_bit(const sc k, int i, int l)
{
    return i == l - 1 ? 1 : limbs_bit(k, i + 1);
}

/* k = n - k if k is even, in place, for 0 <= k < n; returns the mask of
 * that choice (all ones if negated). */
NOINLINE
static limb_t sc_make_odd(sc k)
{
    sc nk;
    limb_t neg = mask_of((k[0] & 1) ^ 1);
    limbs_sub(nk, P256_N, k);
    limbs_cmov(k, nk, neg);
    p256_wipe(nk, sizeof nk);
    return neg;
}

/* e = the digit whose teeth are the signed bits pos, pos + stride, ...,
 * pos + (teeth-1) stride of the recoded k (L = l), looked up in tab
 * (2^(teeth-1) entries), sign included. The entry is copied out with
 * masks, so neither a branch nor a memory address depends on k. */
NOINLINE
static void lookup_teeth(affine *e, const sc k, int l, int pos, int stride, int teeth,
                         const affine *tab)
{
    limb_t raw = 0;
    for (int t = 0; t < teeth; t++) {
        raw |= recoded_bit(k, pos + t * stride, l) << t;
    }
    /* top tooth -1: use the entry for the flipped signs, negated */
    limb_t flip = mask_of((raw >> (teeth - 1)) ^ 1);
    limb_t idx = (raw ^ flip) & (((limb_t)1 << (teeth - 1)) - 1);
    for (int i = 0; i < NLIMBS; i++) {
        e->x[i] = 0;
        e->y[i] = 0;
    }
    for (int j = 0; j < 1 << (teeth - 1); j++) {
        limb_t m = mask_of(ct_eq((limb_t)j, idx));
        for (int i = 0; i < NLIMBS; i++) {
            e->x[i] |= tab[j].x[i] & m;
            e->y[i] |= tab[j].y[i] & m;
        }
    }
    fe_cneg(e->y, flip);
}

/* r += that digit's point (complete addition). Its own frame: the entry
 * never shares a stack frame with the caller's table or pt_dbl's
 * temporaries. Not wiped here: the API function's burn_stack covers it. */
NOINLINE
static void add_teeth(point *r, const sc k, int l, int pos, int stride, int teeth,
                      const affine *tab)
{
    affine e;
    lookup_teeth(&e, k, l, pos, stride, teeth, tab);
    pt_add_affine(r, &e);
}

/*
 * r = 2^(S-1) r + k G by the signed multi-comb: with L = B*T*S bits, bit
 * i = (blk*T + t)*S + s of the recoded k is tooth t of block blk in
 * column s, and k'G = sum_s 2^s sum_blk C_blk(s) where C_blk(s) is block
 * blk's table entry for column s (gen_table.py). S-1 doublings and B*S
 * mixed additions. For k G pass r = infinity; ECDSA verification passes
 * u2 Q / 2^(S-1) to get u1 G + u2 Q with no second point. k is
 * overwritten (made odd).
 */
#define COMB_L (P256_COMB_BLOCKS * P256_COMB_TEETH * P256_COMB_SPACING)

NOINLINE static void comb_mul(point *r, sc k)
{
    limb_t neg = sc_make_odd(k);
    /* the whole result is negated at the end, so negate what r brings in */
    fe_cneg(r->y, neg);
    for (int s = P256_COMB_SPACING - 1; s >= 0; s--) {
        if (s != P256_COMB_SPACING - 1) {
            pt_dbl(r, r);
        }
        for (int blk = 0; blk < P256_COMB_BLOCKS; blk++) {
            add_teeth(r, k, COMB_L, blk * P256_COMB_TEETH * P256_COMB_SPACING + s,
                      P256_COMB_SPACING, P256_COMB_TEETH, comb_table[blk]);
        }
    }
    fe_cneg(r->y, neg);
}

/*
 * k P for any point P: ECDH, and the u2 Q of verification.
 *
 * Fixed windows of w signed bits (w = 4 for ECDH; 3 for verification,
 * whose comb_mul afterwards needs the stack): each window is an odd digit
 * in [-(2^w - 1), 2^w - 1], and the table holds P, 3P, ..., (2^w - 1) P in
 * affine coordinates (entry idx = (2 idx + 1) P). The accumulator is in
 * Jacobian coordinates: w doublings (jac_dbl, a = -3) and one mixed
 * addition (jac_add_affine) per window.
 *
 * Those two formulas are not complete, so where can they fail? Let
 * A_j = sum_{i >= j} d_i 2^(w (i - j)) be the scalar of the accumulator
 * after window j (d_i the digits, A_0 = k', the odd k < n made odd).
 * The lower windows sum to an odd number of absolute value below 2^(w j),
 * so A_j is odd and 0 < A_j < k' / 2^(w j) + 1. Then:
 * - no doubling meets infinity or a point of order 2: 2^i A_j is never
 *   0 mod n (n is an odd prime and 0 < A_j < n);
 * - the addition at window j adds d_j P to 2^w A_(j+1) P, which fails
 *   exactly when 2^w A_(j+1) = +-d_j (mod n). As integers never: the
 *   left side is at least 2^w > |d_j|. For j >= 1 the left side is below
 *   n / 2^w + 2^w, so there is no wrap mod n either;
 * - for j = 0 it can wrap: k' = n + 2 d_0 (k = 2, 6, ..., n - 2, ...)
 *   makes 2^w A_1 P = d_0 P, a doubling. So the last addition, and only
 *   it, uses the complete projective formula (Jacobian (X, Y, Z) is
 *   projective (X Z, Y, Z^3)), in the caller's frame (var_finish).
 * Every branch and loop bound is public; the lookups read every entry.
 *
 * ECDH costs 252 doublings (4M + 4S) and 63 mixed additions (8M + 3S);
 * the old projective ladder with complete formulas (3-bit windows) did 255
 * doublings and 86 additions at 13 multiplications each.
 */
#define VAR_TEETH_ECDH 4
#define VAR_ENTRIES(w) (1 << ((w) - 1))
#define VAR_WINDOWS(w) ((256 + (w) - 1) / (w))

/* What var_mul leaves for the last, complete addition (and, for ECDH, the
 * affine result): it overlays the dead table in the caller's frame. */
typedef struct {
    point p;
    affine e;
    fe x, y;
} var_out;

static void pt_from_affine(point *r, const affine *a)
{
    pt_set_infinity(r); /* Y = 1 */
    limbs_copy(r->z, r->y);
    limbs_copy(r->x, a->x);
    limbs_copy(r->y, a->y);
}

/* Entries a[0..n-1] (Jacobian X, Y with a common Z) rescaled to the common
 * Z r: X r^2, Y r^3. With r = 1/Z this makes them affine. */
NOINLINE
static void var_rescale(affine *a, int n, const fe r)
{
    fe t;
    fe_sqr(t, r);
    for (int i = 0; i < n; i++) {
        fe_mul(a[i].x, a[i].x, t);
    }
    fe_mul(t, t, r);
    for (int i = 0; i < n; i++) {
        fe_mul(a[i].y, a[i].y, t);
    }
}

/*
 * tab[1..n-1] = (2i + 1) P in Jacobian coordinates with one common Z,
 * whose value is returned in zf; tab[0] = P (affine) is left alone.
 * 2P = (X2, Y2, Z2) is affine on the isomorphic curve E' (scaled by Z2:
 * (x, y) -> (x Z2^2, y Z2^3); the addition formula does not involve the
 * curve's coefficients), so (2i + 1) P = (2i - 1) P + 2P are mixed
 * additions on E' starting from P' = (x Z2^2, y Z2^3). Each addition
 * multiplies Z by a ratio, and the entries already made are rescaled to
 * the new Z, so that one inversion of Z Z2 at the end makes them all
 * affine on E. 2P' waits in the last entry until that entry's turn, and
 * each addition works on a copy of it in its own entry. No addition is
 * exceptional: (2i - 1) P = +-2P would need 2i - 1 = +-2 (mod n).
 */
NOINLINE
static void var_chain(affine *tab, int n, fe zf)
{
    point acc;
    fe r;
    pt_from_affine(&acc, &tab[0]);
    jac_dbl(&acc);
    limbs_copy(tab[n - 1].x, acc.x);
    limbs_copy(tab[n - 1].y, acc.y);
    limbs_copy(zf, acc.z);
    fe_sqr(r, zf);
    fe_mul(acc.x, tab[0].x, r);
    fe_mul(r, r, zf);
    fe_mul(acc.y, tab[0].y, r);
    for (int i = 0; i < NLIMBS; i++) {
        acc.z[i] = 0;
    }
    acc.z[0] = 1;
    for (int i = 1; i < n; i++) {
        if (i < n - 1) {
            tab[i] = tab[n - 1];
        }
        jac_add_affine(&acc, &tab[i], r, 0);
        var_rescale(tab + 1, i - 1, r);
        limbs_copy(tab[i].x, acc.x);
        limbs_copy(tab[i].y, acc.y);
    }
    fe_mul(zf, zf, acc.z);
}

/* tab[0] = P on entry (public); fills tab[i] = (2i + 1) P, affine, with
 * one inversion. */
NOINLINE
static void var_table(affine *tab, int n)
{
    fe zi;
    var_chain(tab, n, zi);
    fe_inv(zi, zi);
    var_rescale(tab + 1, n - 1, zi);
}

/* +-k P with the table of P for w-bit windows (var_table): every window
 * but the last, that window's doublings, and its entry, for the caller's
 * last, complete addition out->p += out->e (pt_add_affine); out overlays
 * the table, which is dead by then. k < n is overwritten (made odd, so
 * the result is k P or -k P: the same x, which is all ECDH needs). */
NOINLINE
static void var_mul(var_out *out, sc k, const affine *tab, int w, int windows)
{
    point acc;
    affine e;
    int l = w * windows;
    (void)sc_make_odd(k);
    lookup_teeth(&e, k, l, (windows - 1) * w, 1, w, tab);
    pt_from_affine(&acc, &e);
    for (int j = windows - 2; j >= 0; j--) {
        for (int i = 0; i < w; i++) {
            jac_dbl(&acc);
        }
        lookup_teeth(&e, k, l, j * w, 1, w, tab);
        if (j > 0) {
            jac_add_affine(&acc, &e, NULL, 0);
        }
    }
    /* Jacobian -> projective for pt_add_affine: (X Z, Y, Z^3) */
    fe_mul(acc.x, acc.x, acc.z);
    fe_sqr(e.x, acc.z);
    fe_mul(acc.z, acc.z, e.x);
    lookup_teeth(&e, k, l, 0, 1, w, tab);
    out->p = acc;
    out->e = e; /* acc and e: the API function's burn_stack wipes them */
}

/*
 * k P for verification, where k and P are public so the time may depend on
 * them: a width-4 NAF of k over the table P, 3P, 5P, 7P. Its digits are
 * odd, |d| <= 7, with at least three zeros after each, so about 256 / 5 =
 * 51 additions instead of the 85 of 3-bit fixed windows, on the same
 * 256-byte table. Additions that meet p = q or p = -q are detected
 * (jac_add_affine's check) and become a doubling or infinity.
 */
#define WNAF_ENTRIES 4 /* P, 3P, 5P, 7P */
#define WNAF_MAX 66     /* nonzero digits of a 257-digit width-4 NAF: <= 1 in 4 */

/* nz[] = the nonzero digits of the width-4 NAF of k, lowest first, each
 * as position << 4 | (digit + 8); returns their number. */
NOINLINE
static int wnaf_recode(uint16_t nz[WNAF_MAX], const sc k)
{
    sc t, d;
    int count = 0;
    limbs_copy(t, k);
    for (int pos = 0; !limbs_is_zero(t); pos++) {
        if (t[0] & 1) {
            int v = (int)(t[0] & 15);
            for (int i = 0; i < NLIMBS; i++) {
                d[i] = 0;
            }
            if (v > 8) { /* v - 16 in [-7, -1]: t + (16 - v), t stays below 2^256 */
                v -= 16;
                d[0] = (limb_t)-v;
                limbs_add(t, t, d);
            } else {
                d[0] = (limb_t)v;
                limbs_sub(t, t, d);
            }
            nz[count++] = (uint16_t)(pos << 4 | (v + 8));
        }
        for (int i = 0; i < NLIMBS - 1; i++) {
            t[i] = (t[i] >> 1) | (t[i + 1] << (LIMB_BITS - 1));
        }
        t[NLIMBS - 1] >>= 1;
    }
    return count;
}

/* e = digit * P from the table of odd multiples */
static void wnaf_entry(affine *e, const affine *tab, uint16_t code)
{
    int v = (code & 15) - 8;
    *e = tab[((v < 0 ? -v : v) - 1) / 2];
    fe_cneg(e->y, mask_of(v < 0));
}

/* out->p = k P, projective (infinity as (0 : 1 : 0)), for public k and P
 * with tab = P, 3P, 5P, 7P (var_table); out overlays the table. */
NOINLINE
static void wnaf_mul(var_out *out, const sc k, const affine *tab)
{
    uint16_t nz[WNAF_MAX];
    point acc;
    affine e;
    int inf = 1, count = wnaf_recode(nz, k);
    for (int i = count - 1; i >= 0; i--) {
        wnaf_entry(&e, tab, nz[i]);
        if (inf) {
            pt_from_affine(&acc, &e);
            inf = 0;
        } else {
            int c = jac_add_affine(&acc, &e, NULL, 1);
            if (c == 1) {
                jac_dbl(&acc);
            }
            inf = c == 2;
        }
        for (int g = (nz[i] >> 4) - (i ? nz[i - 1] >> 4 : 0); g > 0 && !inf; g--) {
            jac_dbl(&acc);
        }
    }
    if (inf) {
        pt_set_infinity(&out->p);
        return;
    }
    /* Jacobian -> projective: (X Z, Y, Z^3) */
    fe_mul(out->p.x, acc.x, acc.z);
    limbs_copy(out->p.y, acc.y);
    fe_sqr(e.x, acc.z);
    fe_mul(out->p.z, acc.z, e.x);
}

/* ------------------------------------------------------------------------ */
/* 7. Encodings and the API                                                  */

/* Parse a SEC1 point (65 bytes 04||X||Y or 33 bytes 02/03||X) and check it:
 * coordinates below p, on the curve (infinity has no such encoding). A
 * compressed point gets its y from the square root and then the same
 * on-curve check. Public data, so early returns are fine. */
static int pt_decode(affine *q, const uint8_t *in, size_t len)
{
    fe t;
    int compressed = len == P256_PUB_COMP_LEN && (in[0] == 0x02 || in[0] == 0x03);
    if (!compressed && !(len == P256_PUB_LEN && in[0] == 0x04)) {
        return len == P256_PUB_LEN || len == P256_PUB_COMP_LEN ? P256_ERR_PUB : P256_ERR_PUB_LEN;
    }
    limbs_from_bytes(q->x, in + 1);
    if (!limbs_sub(t, q->x, P256_P)) {
        return P256_ERR_PUB;
    }
    if (compressed) {
        /* the root of x^3 - 3x + b with the requested parity; if that is
         * not a square, the check below fails on the non-root */
        fe_curve_rhs(t, q->x);
        fe_sqrt(q->y, t);
        fe_cneg(q->y, mask_of((q->y[0] ^ in[0]) & 1));
        if ((q->y[0] ^ in[0]) & 1) {
            return P256_ERR_PUB; /* y = 0 has no odd twin (cannot happen on P-256) */
        }
    } else {
        limbs_from_bytes(q->y, in + 33);
        if (!limbs_sub(t, q->y, P256_P)) {
            return P256_ERR_PUB;
        }
    }
    /* on the curve: y^2 = x^3 - 3x + b */
    fe y2;
    fe_curve_rhs(t, q->x);
    fe_sqr(y2, q->y);
    return limbs_eq(y2, t) ? P256_OK : P256_ERR_PUB;
}

static void pt_encode(uint8_t out[P256_PUB_LEN], const fe x, const fe y)
{
    out[0] = 0x04;
    limbs_to_bytes(out + 1, x);
    limbs_to_bytes(out + 33, y);
}

/* Load a private key and check 1 <= d < n. Whether a key is valid is the
 * one fact about it we let out (as an error code). */
static int load_private(sc d, const uint8_t *priv, size_t len)
{
    if (len != P256_PRIV_LEN) {
        return P256_ERR_PRIV_LEN;
    }
    limbs_from_bytes(d, priv);
    limb_t ok = sc_in_range(d);
    DECLASSIFY(&ok, sizeof ok);
    return ok ? P256_OK : P256_ERR_PRIV;
}

/* pub = d*G */
static int public_from_scalar(uint8_t pub[P256_PUB_LEN], const sc d)
{
    point r;
    fe x, y;
    limbs_copy(x, d); /* comb_mul overwrites its scalar */
    pt_set_infinity(&r);
    comb_mul(&r, x);
    limb_t ok = pt_to_affine(x, y, &r);
    pt_encode(pub, x, y);
    DECLASSIFY(pub, P256_PUB_LEN);
    DECLASSIFY(&ok, sizeof ok);
    p256_wipe(&r, sizeof r);
    return ok ? P256_OK : P256_ERR_INTERNAL;
}

int p256_public_key(uint8_t pub[P256_PUB_LEN], const uint8_t *priv, size_t priv_len)
{
    sc d;
    int err = load_private(d, priv, priv_len);
    if (err == P256_OK) {
        err = public_from_scalar(pub, d);
    }
    p256_wipe(d, sizeof d);
    burn_stack(BURN_PUBLIC);
    return err;
}

/*
 * d = (seed mod (n-1)) + 1 for a 320-bit seed: the bias from the 64 extra
 * bits is about 2^-64. Reduction bit by bit, most significant first
 * (r = 2r + bit; subtract n-1 when r >= n-1), with masked subtractions.
 */
int p256_keygen(uint8_t priv[P256_PRIV_LEN], uint8_t pub[P256_PUB_LEN],
                const uint8_t *seed, size_t seed_len)
{
    sc r, t;
    if (seed_len != P256_SEED_LEN) {
        return P256_ERR_SEED_LEN;
    }
    for (int i = 0; i < NLIMBS; i++) {
        r[i] = 0;
    }
    for (int i = 8 * P256_SEED_LEN - 1; i >= 0; i--) {
        limb_t in = (seed[P256_SEED_LEN - 1 - i / 8] >> (i % 8)) & 1;
        limb_t carry = r[NLIMBS - 1] >> (LIMB_BITS - 1);
        for (int j = NLIMBS - 1; j > 0; j--) {
            r[j] = (r[j] << 1) | (r[j - 1] >> (LIMB_BITS - 1));
        }
        r[0] = (r[0] << 1) | in;
        limb_t borrow = limbs_sub(t, r, P256_N_MINUS_1);
        limbs_cmov(r, t, mask_of(carry | (borrow ^ 1)));
    }
    for (int i = 0; i < NLIMBS; i++) {
        t[i] = 0;
    }
    t[0] = 1;
    limbs_add(r, r, t); /* r <= n-2, so r + 1 <= n-1 */
    limbs_to_bytes(priv, r);
    int err = public_from_scalar(pub, r);
    p256_wipe(r, sizeof r);
    p256_wipe(t, sizeof t);
    burn_stack(BURN_PUBLIC);
    return err;
}

/* RFC 6979 section 3.2 steps d-g (and h.3 with x = NULL):
 *   K = HMAC_K(V || tag || x || h1 || extra);  V = HMAC_K(V)
 * hk holds K's HMAC midstates and is re-keyed here. */
static void rfc6979_step(hmac_key *hk, uint8_t key[32], uint8_t v[32], uint8_t tag,
                         const uint8_t x[32], const uint8_t h[32],
                         const uint8_t *extra, size_t extra_len)
{
    hmac(key, hk, v, &tag, x, h, extra, extra_len);
    hmac_set_key(hk, key);
    hmac(v, hk, v, NULL, NULL, NULL, NULL, 0);
}

/* The first candidate nonce T (in v): steps b-g and h.2. With extra the
 * additional data of section 3.6. The HMAC state lives only in this frame
 * (and rfc6979_retry's), never beside the scalar multiplication. */
NOINLINE
static void rfc6979_first(uint8_t key[32], uint8_t v[32], const uint8_t x[32],
                          const uint8_t h1[32], const uint8_t *extra, size_t extra_len)
{
    hmac_key hk;
    for (int i = 0; i < 32; i++) {
        v[i] = 0x01;
        key[i] = 0x00;
    }
    hmac_set_key(&hk, key);
    rfc6979_step(&hk, key, v, 0x00, x, h1, extra, extra_len);
    rfc6979_step(&hk, key, v, 0x01, x, h1, extra, extra_len);
    hmac(v, &hk, v, NULL, NULL, NULL, NULL, 0); /* h.2: V = HMAC_K(V), T = V */
    p256_wipe(&hk, sizeof hk);
}

/* The next candidate after a rejected one: step h.3, then h.2 again. */
NOINLINE
static void rfc6979_retry(uint8_t key[32], uint8_t v[32])
{
    hmac_key hk;
    hmac_set_key(&hk, key);
    rfc6979_step(&hk, key, v, 0x00, NULL, NULL, NULL, 0);
    hmac(v, &hk, v, NULL, NULL, NULL, NULL, 0);
    p256_wipe(&hk, sizeof hk);
}

/* x(k G) for the nonce k given as the RFC 6979 output bytes T. Its frame
 * holds only k and the point, not the signature's scalars. */
NOINLINE
static void nonce_x(fe x, const uint8_t t[32])
{
    sc k;
    point pk;
    limbs_from_bytes(k, t);
    pt_set_infinity(&pk);
    comb_mul(&pk, k);
    fe_inv(x, pk.z);
    fe_mul(x, pk.x, x); /* X / Z */
    p256_wipe(k, sizeof k);
    p256_wipe(&pk, sizeof pk);
}

/* r = x mod n and s = (z + r d) / k for the nonce T, private key d and
 * reduced digest z. Returns 0 if r or s is zero (the caller then draws the
 * next nonce). */
NOINLINE
static limb_t sign_finish(uint8_t sig[P256_SIG_LEN], const sc d, const sc z,
                          const uint8_t t_bytes[32], const fe x)
{
    sc k, r, s, t;
    limbs_from_bytes(k, t_bytes);
    sc_reduce_once(r, x);               /* r = x mod n (x < p < 2n) */
    sc_mont_mul(t, d, P256_N_RR);       /* d R */
    sc_mont_mul(t, r, t);               /* r d */
    mod_add(t, t, z, P256_N);           /* z + r d */
    sc_mont_mul(t, t, P256_N_RR);       /* (z + r d) R */
    mod_inv(s, k, &MODINV_N);           /* 1/k */
    sc_mont_mul(s, t, s);               /* (z + r d) / k */
    limb_t ok = (limbs_is_zero(r) | limbs_is_zero(s)) ^ 1;
    limbs_to_bytes(sig, r);
    limbs_to_bytes(sig + 32, s);
    p256_wipe(k, sizeof k);
    p256_wipe(t, sizeof t);
    return ok;
}

/* 1 if the candidate T gives a usable nonce 1 <= k < n */
NOINLINE
static limb_t nonce_in_range(const uint8_t t[32])
{
    sc k;
    limbs_from_bytes(k, t);
    limb_t ok = sc_in_range(k);
    p256_wipe(k, sizeof k);
    return ok;
}

int p256_sign(uint8_t sig[P256_SIG_LEN], const uint8_t *priv, size_t priv_len,
              const uint8_t *digest, size_t digest_len,
              const uint8_t *extra, size_t extra_len)
{
    sc d, z;
    fe x;
    uint8_t key[32], v[32], h1[32];
    int err = load_private(d, priv, priv_len);
    if (err != P256_OK) {
        return err;
    }
    if (digest_len != P256_DIGEST_LEN) {
        p256_wipe(d, sizeof d);
        return P256_ERR_DIGEST_LEN;
    }
    if (extra_len != 0 && extra_len != P256_EXTRA_LEN) {
        p256_wipe(d, sizeof d);
        return P256_ERR_EXTRA_LEN;
    }
    limbs_from_bytes(z, digest);
    sc_reduce_once(z, z);
    limbs_to_bytes(h1, z);

    rfc6979_first(key, v, priv, h1, extra, extra_len);
    for (;;) {
        /* T = V, k = bits2int(T). Reject k = 0 or k >= n (probability
         * < 2^-32) and r = 0 or s = 0 (about 2^-256): only the fact of a
         * retry is revealed. */
        limb_t ok = nonce_in_range(v);
        DECLASSIFY(&ok, sizeof ok);
        if (ok) {
            nonce_x(x, v);
            ok = sign_finish(sig, d, z, v, x);
            DECLASSIFY(&ok, sizeof ok);
            if (ok) {
                break;
            }
        }
        rfc6979_retry(key, v);
    }
    DECLASSIFY(sig, P256_SIG_LEN);
    p256_wipe(d, sizeof d);
    p256_wipe(x, sizeof x);
    p256_wipe(key, sizeof key);
    p256_wipe(v, sizeof v);
    p256_wipe(h1, sizeof h1);
    burn_stack(BURN_SIGN);
    return P256_OK;
}

/* The two scalars of ECDSA verification, for r and s in [1, n-1] (else 0
 * is returned): u1 = z / s and u2 = r / (2^(S-1) s) mod n, with S the comb
 * spacing, because comb_mul doubles the u2 Q it is handed S-1 times. The
 * factor goes into the one inversion: w = 1 / (2^(S-1) s), u1 = 2^(S-1) z w.
 * Public data only; its own frame keeps r, s and w out of the ladders'. */
NOINLINE
static int verify_scalars(sc u1, sc u2, const uint8_t digest[32], const uint8_t sig[64])
{
    sc r, s, w;
    limbs_from_bytes(r, sig);
    limbs_from_bytes(s, sig + 32);
    if (!sc_in_range(r) || !sc_in_range(s)) {
        return 0;
    }
    limbs_from_bytes(u1, digest);
    sc_reduce_once(u1, u1);
    for (int i = 1; i < P256_COMB_SPACING; i++) {
        mod_add(s, s, s, P256_N);
        mod_add(u1, u1, u1, P256_N);
    }
    mod_inv(w, s, &MODINV_N);
    sc_mont_mul(w, w, P256_N_RR); /* R / (2^(S-1) s) */
    sc_mont_mul(u1, u1, w);
    sc_mont_mul(u2, r, w);
    return 1;
}

/*
 * ECDSA verification (SEC1 4.1.4). Everything here is public: u2 Q goes
 * through a variable-time width-4 NAF (wnaf_mul), u1 G through the same
 * constant-time comb as signing. u1 G + u2 Q is one running point:
 * wnaf_mul gives u2 Q / 2^(S-1) and comb_mul, which doubles its input
 * S-1 times, adds u1 G to it. The final check avoids an
 * inversion: x(R) = X/Z, and x(R) mod n = r exactly when X = r Z or, if
 * r + n < p, X = (r + n) Z.
 */
int p256_verify(int *valid, const uint8_t *pub, size_t pub_len,
                const uint8_t *digest, size_t digest_len,
                const uint8_t *sig, size_t sig_len)
{
    union {
        affine tab[WNAF_ENTRIES];
        var_out fin;
    } vb;
    sc u1, u2;
    *valid = 0;
    if (pub_len != P256_PUB_LEN && pub_len != P256_PUB_COMP_LEN) {
        return P256_ERR_PUB_LEN;
    }
    if (digest_len != P256_DIGEST_LEN) {
        return P256_ERR_DIGEST_LEN;
    }
    if (sig_len != P256_SIG_LEN) {
        return P256_ERR_SIG_LEN;
    }
    int err = pt_decode(&vb.tab[0], pub, pub_len);
    if (err != P256_OK || !verify_scalars(u1, u2, digest, sig)) {
        return err;
    }
    var_table(vb.tab, WNAF_ENTRIES);
    wnaf_mul(&vb.fin, u2, vb.tab);
    point *acc = &vb.fin.p;
    comb_mul(acc, u1);
    if (limbs_is_zero(acc->z)) {
        return P256_OK;
    }
    /* the entry is dead: its coordinates are the scratch of the final check */
    limb_t *r = vb.fin.e.x, *t = vb.fin.e.y, *rn = vb.fin.x;
    limbs_from_bytes(r, sig);
    fe_mul(t, r, acc->z);
    if (limbs_eq(t, acc->x)) {
        *valid = 1;
    } else if (limbs_add(rn, r, P256_N) == 0 && limbs_sub(t, rn, P256_P) == 1) {
        fe_mul(t, rn, acc->z);
        *valid = (int)limbs_eq(t, acc->x);
    }
    return P256_OK;
}

/* Shared secret = x(d Q) (SEC1 3.3.1), Q validated first, straight into
 * the first entry of var_mul's table. */
int p256_ecdh(uint8_t secret[P256_SECRET_LEN], const uint8_t *priv, size_t priv_len,
              const uint8_t *peer, size_t peer_len)
{
    sc d;
    union {
        affine tab[VAR_ENTRIES(VAR_TEETH_ECDH)];
        var_out fin;
    } vb;
    int err = load_private(d, priv, priv_len);
    if (err != P256_OK) {
        return err;
    }
    err = pt_decode(&vb.tab[0], peer, peer_len);
    if (err == P256_OK) {
        var_table(vb.tab, VAR_ENTRIES(VAR_TEETH_ECDH));
        var_mul(&vb.fin, d, vb.tab, VAR_TEETH_ECDH, VAR_WINDOWS(VAR_TEETH_ECDH));
        pt_add_affine(&vb.fin.p, &vb.fin.e);
        limb_t ok = pt_to_affine(vb.fin.x, vb.fin.y, &vb.fin.p);
        DECLASSIFY(&ok, sizeof ok);
        limbs_to_bytes(secret, vb.fin.x);
        DECLASSIFY(secret, P256_SECRET_LEN);
        err = ok ? P256_OK : P256_ERR_INTERNAL; /* unreachable: prime order */
    }
    p256_wipe(d, sizeof d);
    p256_wipe(&vb, sizeof vb);
    burn_stack(BURN_ECDH);
    return err;
}

int p256_validate_public_key(const uint8_t *pub, size_t pub_len)
{
    affine q;
    return pt_decode(&q, pub, pub_len) == P256_OK;
}

int p256_compress(uint8_t out[P256_PUB_COMP_LEN], const uint8_t *pub, size_t pub_len)
{
    affine q;
    if (pub_len != P256_PUB_LEN) {
        return P256_ERR_PUB65_LEN;
    }
    int err = pt_decode(&q, pub, pub_len);
    if (err != P256_OK) {
        return err;
    }
    out[0] = (uint8_t)(0x02 | (q.y[0] & 1));
    limbs_to_bytes(out + 1, q.x);
    return P256_OK;
}

int p256_decompress(uint8_t out[P256_PUB_LEN], const uint8_t *pub, size_t pub_len)
{
    affine q;
    if (pub_len != P256_PUB_COMP_LEN) {
        return P256_ERR_PUB33_LEN;
    }
    int err = pt_decode(&q, pub, pub_len);
    if (err == P256_OK) {
        pt_encode(out, q.x, q.y);
    }
    return err;
}

/* One DER INTEGER from a 32-byte unsigned big-endian value: no leading zero
 * bytes, except one when the top bit is set (else it would be negative). */
static size_t der_put_int(uint8_t *out, const uint8_t in[32])
{
    int i = 0;
    while (i < 31 && in[i] == 0) {
        i++;
    }
    int pad = in[i] >> 7;
    size_t n = (size_t)(32 - i + pad);
    out[0] = 0x02;
    out[1] = (uint8_t)n;
    out[2] = 0;
    for (int j = i; j < 32; j++) {
        out[2 + pad + (j - i)] = in[j];
    }
    return n + 2;
}

int p256_sig_to_der(uint8_t der[P256_DER_MAX], size_t *der_len,
                    const uint8_t *sig, size_t sig_len)
{
    if (sig_len != P256_SIG_LEN) {
        return P256_ERR_SIG_LEN;
    }
    size_t n = der_put_int(der + 2, sig);
    n += der_put_int(der + 2 + n, sig + 32);
    der[0] = 0x30;
    der[1] = (uint8_t)n; /* <= 70: always the short length form */
    *der_len = n + 2;
    return P256_OK;
}

/* Strict DER INTEGER -> 32 bytes: short-form length, non-empty, not
 * negative, minimal (a leading zero only before a byte with the top bit
 * set), value below 2^256. Returns the bytes consumed, 0 on error. */
static size_t der_get_int(uint8_t out[32], const uint8_t *in, size_t avail)
{
    if (avail < 3 || in[0] != 0x02) {
        return 0;
    }
    size_t n = in[1];
    if (n == 0 || n > avail - 2 || n > 33) {
        return 0; /* also rejects every long form (0x81..) */
    }
    const uint8_t *v = in + 2;
    if (v[0] & 0x80) {
        return 0; /* negative */
    }
    if (n > 1 && v[0] == 0 && !(v[1] & 0x80)) {
        return 0; /* non-minimal */
    }
    if (v[0] == 0 && n > 1) {
        v++;
        n--;
    }
    if (n > 32) {
        return 0;
    }
    for (size_t i = 0; i < 32; i++) {
        out[i] = i < 32 - n ? 0 : v[i - (32 - n)];
    }
    return (size_t)(v - in) + n;
}

int p256_sig_from_der(uint8_t sig[P256_SIG_LEN], const uint8_t *der, size_t der_len)
{
    if (der_len < 2 || der[0] != 0x30 || der[1] >= 0x80 || der[1] != der_len - 2) {
        return P256_ERR_DER;
    }
    size_t a = der_get_int(sig, der + 2, der_len - 2);
    if (a == 0) {
        return P256_ERR_DER;
    }
    size_t b = der_get_int(sig + 32, der + 2 + a, der_len - 2 - a);
    if (b == 0 || 2 + a + b != der_len) {
        return P256_ERR_DER;
    }
    return P256_OK;
}
