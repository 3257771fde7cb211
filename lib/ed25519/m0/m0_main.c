/*
 * m0_main.c - bare-metal Cortex-M0+ harness for lib/ed25519, run on
 * rp2040js by tools/node/run_p256_m0.mjs: lib/p256/m0/m0_harness.h with
 * lib/ed25519's operations (opcodes as in m0tool.py's OPCODES).
 */
#include "m0_harness.h"
#include "ed25519.h"

enum { OP_PUBLIC_KEY = 1, OP_SIGN, OP_VERIFY, OP_TEST_FE };

#ifdef ED25519_TEST_HOOKS
void ed25519_test_fe(uint8_t out[32], int op, const uint8_t a[32], const uint8_t b[32]);
#endif

static void run(struct mailbox *m)
{
    int valid = 0;
    size_t n0 = m->in_len[0], n1 = m->in_len[1], n2 = m->in_len[2];
    m->out_len[0] = m->out_len[1] = 0;
    switch (m->op) {
    case OP_PUBLIC_KEY:
        m->rc = ed25519_public_key(m->out[0], m->in[0], n0);
        m->out_len[0] = ED25519_PUB_LEN;
        break;
    case OP_SIGN:
        m->rc = ed25519_sign(m->out[0], m->in[0], n0, m->in[1], n1);
        m->out_len[0] = ED25519_SIG_LEN;
        break;
    case OP_VERIFY:
        m->rc = ed25519_verify(&valid, m->in[0], n0, m->in[1], n1, m->in[2], n2);
        m->out[0][0] = (uint8_t)valid;
        m->out_len[0] = 1;
        break;
#ifdef ED25519_TEST_HOOKS
    case OP_TEST_FE: /* in[0] = op byte, in[1] = a, in[2] = b */
        ed25519_test_fe(m->out[0], m->in[0][0], m->in[1], m->in[2]);
        m->rc = 0;
        m->out_len[0] = 32;
        break;
#endif
    default:
        m->rc = -1;
    }
}
