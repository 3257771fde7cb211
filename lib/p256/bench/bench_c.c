/*
 * bench_c.c - operations per second of lib/p256 and of mbedtls (Debian's
 * libmbedtls-dev, its default ECP code) on this machine, both called from
 * C so the comparison carries no interpreter overhead. Run by
 * tools/bench_p256.py (make bench-p256); a benchmark, never a test.
 *
 * Output, one line per measurement:  <impl> <op> <ops_per_second>
 * Each figure is the best of `rounds` runs of about `ms` milliseconds of CPU
 * time, which damps interference from other processes on a shared machine.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/version.h>

#include "p256.h"

/* CPU time of this (single-threaded) process: time spent waiting for a
 * core on a busy machine does not count */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* a fast deterministic generator: mbedtls wants one for blinding */
static int xorshift_rng(void *state, unsigned char *out, size_t n)
{
    unsigned long long *s = state;
    while (n--) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *out++ = (unsigned char)*s;
    }
    return 0;
}

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;
static int rounds = 3;
static double ms = 300;

enum { SIGN, VERIFY, ECDH, KEYGEN };
static const char *const OP_NAMES[] = {"sign", "verify", "ecdh", "keygen"};

/* ours */
static uint8_t o_priv[32], o_pub[65], o_peer[65], o_sig[64], o_digest[32], o_extra[32], o_seed[40];

static int ours(int op)
{
    uint8_t out[65];
    int valid;
    switch (op) {
    case SIGN: return p256_sign(o_sig, o_priv, 32, o_digest, 32, o_extra, 32);
    case VERIFY: return p256_verify(&valid, o_pub, 65, o_digest, 32, o_sig, 64) || !valid;
    case ECDH: return p256_ecdh(out, o_priv, 32, o_peer, 65);
    default: o_seed[0]++; return p256_keygen(out, o_pub, o_seed, 40);
    }
}

/* mbedtls */
static mbedtls_ecp_group grp;
static mbedtls_mpi m_d, m_r, m_s, m_z, m_d2;
static mbedtls_ecp_point m_q, m_peer, m_q2;

static int mbed(int op)
{
    switch (op) {
    case SIGN:
        return mbedtls_ecdsa_sign_det_ext(&grp, &m_r, &m_s, &m_d, o_digest, 32, MBEDTLS_MD_SHA256,
                                          xorshift_rng, &rng_state);
    case VERIFY: return mbedtls_ecdsa_verify(&grp, o_digest, 32, &m_q, &m_r, &m_s);
    case ECDH: return mbedtls_ecdh_compute_shared(&grp, &m_z, &m_peer, &m_d, xorshift_rng, &rng_state);
    default: return mbedtls_ecp_gen_keypair(&grp, &m_d2, &m_q2, xorshift_rng, &rng_state);
    }
}

static double measure(int (*fn)(int), int op)
{
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        long n = 0;
        double t0 = now(), t;
        do {
            for (int i = 0; i < 16; i++, n++) {
                if (fn(op)) {
                    fprintf(stderr, "%s failed\n", OP_NAMES[op]);
                    exit(1);
                }
            }
            t = now() - t0;
        } while (t < ms / 1000);
        if (n / t > best) {
            best = n / t;
        }
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        ms = atof(argv[1]);
    }
    if (argc > 2) {
        rounds = atoi(argv[2]);
    }
    xorshift_rng(&rng_state, o_seed, sizeof o_seed);
    xorshift_rng(&rng_state, o_digest, sizeof o_digest);
    xorshift_rng(&rng_state, o_extra, sizeof o_extra);
    uint8_t peer_seed[40], peer_priv[32];
    xorshift_rng(&rng_state, peer_seed, sizeof peer_seed);
    if (p256_keygen(o_priv, o_pub, o_seed, 40) || p256_keygen(peer_priv, o_peer, peer_seed, 40) ||
        ours(SIGN)) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }

    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&m_d), mbedtls_mpi_init(&m_r), mbedtls_mpi_init(&m_s);
    mbedtls_mpi_init(&m_z), mbedtls_mpi_init(&m_d2);
    mbedtls_ecp_point_init(&m_q), mbedtls_ecp_point_init(&m_peer), mbedtls_ecp_point_init(&m_q2);
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) ||
        mbedtls_mpi_read_binary(&m_d, o_priv, 32) ||
        mbedtls_ecp_point_read_binary(&grp, &m_q, o_pub, 65) ||
        mbedtls_ecp_point_read_binary(&grp, &m_peer, o_peer, 65) || mbed(SIGN)) {
        fprintf(stderr, "mbedtls setup failed\n");
        return 1;
    }
    printf("mbedtls-version %s\n", MBEDTLS_VERSION_STRING);
    for (int op = 0; op < 4; op++) {
        printf("p256-c %s %.1f\n", OP_NAMES[op], measure(ours, op));
        printf("mbedtls %s %.1f\n", OP_NAMES[op], measure(mbed, op));
        fflush(stdout);
    }
    return 0;
}
