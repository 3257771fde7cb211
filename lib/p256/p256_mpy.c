/*
 * p256_mpy.c - the MicroPython binding of lib/p256 (module `p256`).
 *
 * One file for both MicroPython builds and CircuitPython's:
 *  - the user C module frozen into firmware (micropython.mk for make-based
 *    ports and for CircuitPython's USER_C_MODULES, micropython.cmake for
 *    MicroPython's rp2 and esp32), using py/runtime.h;
 *  - the native .mpy module loadable on stock firmware (natmod/Makefile),
 *    where dynruntime.mk defines MICROPY_ENABLE_DYNRUNTIME and py/dynruntime.h
 *    maps the same API calls onto mp_fun_table.
 *
 * The Python-visible API is the one of p256_cpython.c: positional
 * bytes-like arguments, bytes results, TypeError for a non-buffer argument
 * (str included, as in CPython), ValueError with the core's message for
 * whatever the core rejects. Written against MicroPython v1.22+.
 *
 * Secrets and MemoryError: an allocation that fails raises (a longjmp), so
 * nothing after it runs -- a secret left on the C stack then would stay
 * there. Functions that produce a secret (keygen's private key, ecdh's
 * shared secret) therefore allocate their results first and compute into
 * them: when the heap is full they fail before the secret exists. The
 * core burns its own stack (p256.c burn_stack); sign and public_key keep no
 * secret of their own (a signature and a public key are public).
 */
/* The native-module build passes -DMICROPY_ENABLE_DYNRUNTIME (= 1) on the
 * command line; CircuitPython's py/circuitpy_mpconfig.h defines it as (0)
 * for its own firmware, so the test is on its value, taken here, before
 * any header defines it. */
#if defined(MICROPY_ENABLE_DYNRUNTIME) && MICROPY_ENABLE_DYNRUNTIME
#define P256_NATMOD 1
#include "py/dynruntime.h"
#else
#define P256_NATMOD 0
#include "py/runtime.h"
#endif

#include "p256.h"

#if P256_NATMOD && !defined(__linux__)
/* A native module links no libc. The core avoids these calls (see the
 * pragma in p256.c), but the compiler may still emit them for copies. */
void *memcpy(void *dst, const void *src, size_t n)
{
    return mp_fun_table.memmove_(dst, src, n);
}
void *memset(void *s, int c, size_t n)
{
    return mp_fun_table.memset_(s, c, n);
}
#endif

/* Read-only bytes of a bytes-like argument. MicroPython's str also offers
 * the buffer protocol; reject it so both interpreters agree. */
static const uint8_t *arg_bytes(mp_obj_t obj, size_t *len)
{
    mp_buffer_info_t info;
    if (mp_obj_is_str(obj)) {
        mp_raise_TypeError(MP_ERROR_TEXT("a bytes-like object is required, not 'str'"));
    }
    mp_get_buffer_raise(obj, &info, MP_BUFFER_READ);
    *len = info.len;
    return (const uint8_t *)info.buf;
}

/* Raise ValueError for a core error code; each message a literal so that
 * MP_ERROR_TEXT can compress it. */
static mp_obj_t fail(int err)
{
    switch (err) {
    case P256_ERR_SEED_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_SEED_LEN)); break;
    case P256_ERR_PRIV_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_PRIV_LEN)); break;
    case P256_ERR_PRIV: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_PRIV)); break;
    case P256_ERR_DIGEST_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_DIGEST_LEN)); break;
    case P256_ERR_EXTRA_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_EXTRA_LEN)); break;
    case P256_ERR_PUB_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_PUB_LEN)); break;
    case P256_ERR_PUB65_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_PUB65_LEN)); break;
    case P256_ERR_PUB33_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_PUB33_LEN)); break;
    case P256_ERR_PUB: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_PUB)); break;
    case P256_ERR_SIG_LEN: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_SIG_LEN)); break;
    case P256_ERR_DER: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_DER)); break;
    default: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_INTERNAL)); break;
    }
    return mp_const_none;
}

static mp_obj_t bytes_or_fail(int err, const uint8_t *buf, size_t len)
{
    return err ? fail(err) : mp_obj_new_bytes(buf, len);
}

/* MicroPython's bytes object (py/objstr.h mp_obj_str_t, unchanged since
 * v1.0). A native module cannot include py/objstr.h: py/dynruntime.h
 * defines macros over names it declares. */
typedef struct {
    mp_obj_base_t base;
    size_t hash;
    size_t len;
    const byte *data;
} bytes_obj_t;

#define P256_MAX_RESULT P256_PUB_LEN
static const uint8_t p256_zeros[P256_MAX_RESULT] = {0};

/* A new bytes object of n zero bytes that the caller fills in place (at
 * *data) before anyone else sees it, then hands to filled(). */
static mp_obj_t new_bytes_to_fill(size_t n, uint8_t **data)
{
    mp_obj_t obj = mp_obj_new_bytes(p256_zeros, n);
    *data = (uint8_t *)((bytes_obj_t *)MP_OBJ_TO_PTR(obj))->data;
    return obj;
}

/* The object holds its final bytes: forget the hash of the zeros (0 means
 * "not computed yet" to MicroPython, which computes it when asked). */
static void filled(mp_obj_t obj)
{
    ((bytes_obj_t *)MP_OBJ_TO_PTR(obj))->hash = 0;
}

static mp_obj_t mod_keygen(mp_obj_t seed_in)
{
    size_t n;
    const uint8_t *seed = arg_bytes(seed_in, &n);
    uint8_t *priv, *pub;
    /* Every allocation first (see the top of this file). */
    mp_obj_t items[2];
    items[0] = new_bytes_to_fill(P256_PRIV_LEN, &priv);
    items[1] = new_bytes_to_fill(P256_PUB_LEN, &pub);
    mp_obj_t res = mp_obj_new_tuple(2, items);
    int err = p256_keygen(priv, pub, seed, n);
    if (err) {
        p256_wipe(priv, P256_PRIV_LEN);
        return fail(err);
    }
    filled(items[0]);
    filled(items[1]);
    return res;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_keygen_obj, mod_keygen);

/* No secret of its own: the result is public, p256_public_key burns its stack. */
static mp_obj_t mod_public_key(mp_obj_t priv_in)
{
    size_t n;
    const uint8_t *priv = arg_bytes(priv_in, &n);
    uint8_t pub[P256_PUB_LEN];
    return bytes_or_fail(p256_public_key(pub, priv, n), pub, sizeof pub);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_public_key_obj, mod_public_key);

/* No secret of its own: the signature is public, p256_sign burns its stack
 * (the nonce, the private scalar). */
static mp_obj_t mod_sign(mp_obj_t priv_in, mp_obj_t digest_in, mp_obj_t extra_in)
{
    size_t np, nd, ne;
    const uint8_t *priv = arg_bytes(priv_in, &np);
    const uint8_t *digest = arg_bytes(digest_in, &nd);
    const uint8_t *extra = arg_bytes(extra_in, &ne);
    uint8_t sig[P256_SIG_LEN];
    return bytes_or_fail(p256_sign(sig, priv, np, digest, nd, extra, ne), sig, sizeof sig);
}
static MP_DEFINE_CONST_FUN_OBJ_3(mod_sign_obj, mod_sign);

static mp_obj_t mod_verify(mp_obj_t pub_in, mp_obj_t digest_in, mp_obj_t sig_in)
{
    size_t np, nd, ns;
    const uint8_t *pub = arg_bytes(pub_in, &np);
    const uint8_t *digest = arg_bytes(digest_in, &nd);
    const uint8_t *sig = arg_bytes(sig_in, &ns);
    int valid = 0;
    int err = p256_verify(&valid, pub, np, digest, nd, sig, ns);
    return err ? fail(err) : mp_obj_new_bool(valid);
}
static MP_DEFINE_CONST_FUN_OBJ_3(mod_verify_obj, mod_verify);

static mp_obj_t mod_ecdh(mp_obj_t priv_in, mp_obj_t peer_in)
{
    size_t np, nq;
    const uint8_t *priv = arg_bytes(priv_in, &np);
    const uint8_t *peer = arg_bytes(peer_in, &nq);
    uint8_t *secret;
    mp_obj_t res = new_bytes_to_fill(P256_SECRET_LEN, &secret); /* first: see the top of this file */
    int err = p256_ecdh(secret, priv, np, peer, nq);
    if (err) {
        p256_wipe(secret, P256_SECRET_LEN);
        return fail(err);
    }
    filled(res);
    return res;
}
static MP_DEFINE_CONST_FUN_OBJ_2(mod_ecdh_obj, mod_ecdh);

static mp_obj_t mod_sig_to_der(mp_obj_t sig_in)
{
    size_t n, len = 0;
    const uint8_t *sig = arg_bytes(sig_in, &n);
    uint8_t der[P256_DER_MAX];
    int err = p256_sig_to_der(der, &len, sig, n);
    return bytes_or_fail(err, der, len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_sig_to_der_obj, mod_sig_to_der);

static mp_obj_t mod_sig_from_der(mp_obj_t der_in)
{
    size_t n;
    const uint8_t *der = arg_bytes(der_in, &n);
    uint8_t sig[P256_SIG_LEN];
    return bytes_or_fail(p256_sig_from_der(sig, der, n), sig, sizeof sig);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_sig_from_der_obj, mod_sig_from_der);

static mp_obj_t mod_compress(mp_obj_t pub_in)
{
    size_t n;
    const uint8_t *pub = arg_bytes(pub_in, &n);
    uint8_t out[P256_PUB_COMP_LEN];
    return bytes_or_fail(p256_compress(out, pub, n), out, sizeof out);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_compress_obj, mod_compress);

static mp_obj_t mod_decompress(mp_obj_t pub_in)
{
    size_t n;
    const uint8_t *pub = arg_bytes(pub_in, &n);
    uint8_t out[P256_PUB_LEN];
    return bytes_or_fail(p256_decompress(out, pub, n), out, sizeof out);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_decompress_obj, mod_decompress);

static mp_obj_t mod_validate_public_key(mp_obj_t pub_in)
{
    size_t n;
    const uint8_t *pub = arg_bytes(pub_in, &n);
    return mp_obj_new_bool(p256_validate_public_key(pub, n));
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_validate_public_key_obj, mod_validate_public_key);

#if P256_NATMOD

/* Native module: fill the module's globals when it is imported. */
mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args)
{
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_keygen, MP_OBJ_FROM_PTR(&mod_keygen_obj));
    mp_store_global(MP_QSTR_public_key, MP_OBJ_FROM_PTR(&mod_public_key_obj));
    mp_store_global(MP_QSTR_sign, MP_OBJ_FROM_PTR(&mod_sign_obj));
    mp_store_global(MP_QSTR_verify, MP_OBJ_FROM_PTR(&mod_verify_obj));
    mp_store_global(MP_QSTR_ecdh, MP_OBJ_FROM_PTR(&mod_ecdh_obj));
    mp_store_global(MP_QSTR_sig_to_der, MP_OBJ_FROM_PTR(&mod_sig_to_der_obj));
    mp_store_global(MP_QSTR_sig_from_der, MP_OBJ_FROM_PTR(&mod_sig_from_der_obj));
    mp_store_global(MP_QSTR_compress, MP_OBJ_FROM_PTR(&mod_compress_obj));
    mp_store_global(MP_QSTR_decompress, MP_OBJ_FROM_PTR(&mod_decompress_obj));
    mp_store_global(MP_QSTR_validate_public_key, MP_OBJ_FROM_PTR(&mod_validate_public_key_obj));
    MP_DYNRUNTIME_INIT_EXIT
}

#else

/* User C module: a constant globals table in flash. */
static const mp_rom_map_elem_t p256_module_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_p256)},
    {MP_ROM_QSTR(MP_QSTR_keygen), MP_ROM_PTR(&mod_keygen_obj)},
    {MP_ROM_QSTR(MP_QSTR_public_key), MP_ROM_PTR(&mod_public_key_obj)},
    {MP_ROM_QSTR(MP_QSTR_sign), MP_ROM_PTR(&mod_sign_obj)},
    {MP_ROM_QSTR(MP_QSTR_verify), MP_ROM_PTR(&mod_verify_obj)},
    {MP_ROM_QSTR(MP_QSTR_ecdh), MP_ROM_PTR(&mod_ecdh_obj)},
    {MP_ROM_QSTR(MP_QSTR_sig_to_der), MP_ROM_PTR(&mod_sig_to_der_obj)},
    {MP_ROM_QSTR(MP_QSTR_sig_from_der), MP_ROM_PTR(&mod_sig_from_der_obj)},
    {MP_ROM_QSTR(MP_QSTR_compress), MP_ROM_PTR(&mod_compress_obj)},
    {MP_ROM_QSTR(MP_QSTR_decompress), MP_ROM_PTR(&mod_decompress_obj)},
    {MP_ROM_QSTR(MP_QSTR_validate_public_key), MP_ROM_PTR(&mod_validate_public_key_obj)},
};
static MP_DEFINE_CONST_DICT(p256_module_globals, p256_module_globals_table);

const mp_obj_module_t p256_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&p256_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_p256, p256_user_cmodule);

#endif
