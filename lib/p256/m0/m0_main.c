/*
 * m0_main.c - bare-metal Cortex-M0+ harness for lib/p256, run on rp2040js
 * by tools/node/run_p256_m0.mjs: m0_harness.h (shared with lib/ed25519)
 * with lib/p256's operations.
 */
#include "m0_harness.h"
#include "p256.h"

enum { OP_KEYGEN = 1, OP_PUBLIC_KEY, OP_SIGN, OP_VERIFY, OP_ECDH };

static void run(struct mailbox *m)
{
    int valid = 0;
    size_t n0 = m->in_len[0], n1 = m->in_len[1], n2 = m->in_len[2];
    m->out_len[0] = m->out_len[1] = 0;
    switch (m->op) {
    case OP_KEYGEN:
        m->rc = p256_keygen(m->out[0], m->out[1], m->in[0], n0);
        m->out_len[0] = P256_PRIV_LEN;
        m->out_len[1] = P256_PUB_LEN;
        break;
    case OP_PUBLIC_KEY:
        m->rc = p256_public_key(m->out[0], m->in[0], n0);
        m->out_len[0] = P256_PUB_LEN;
        break;
    case OP_SIGN:
        m->rc = p256_sign(m->out[0], m->in[0], n0, m->in[1], n1, m->in[2], n2);
        m->out_len[0] = P256_SIG_LEN;
        break;
    case OP_VERIFY:
        m->rc = p256_verify(&valid, m->in[0], n0, m->in[1], n1, m->in[2], n2);
        m->out[0][0] = (uint8_t)valid;
        m->out_len[0] = 1;
        break;
    case OP_ECDH:
        m->rc = p256_ecdh(m->out[0], m->in[0], n0, m->in[1], n1);
        m->out_len[0] = P256_SECRET_LEN;
        break;
    default:
        m->rc = -1;
    }
}

