/*
 * ed25519_mpy.c - the MicroPython binding of lib/ed25519 (module `ed25519`).
 *
 * One file for both MicroPython builds and CircuitPython's, as
 * lib/p256/p256_mpy.c:
 *  - the user C module frozen into firmware (micropython.mk for make-based
 *    ports and CircuitPython's USER_C_MODULES, micropython.cmake for rp2
 *    and esp32), using py/runtime.h;
 *  - the native .mpy module (natmod/Makefile), where dynruntime.mk defines
 *    MICROPY_ENABLE_DYNRUNTIME and py/dynruntime.h maps the same calls
 *    onto mp_fun_table.
 *
 * The Python-visible API is ed25519_cpython.c's: positional bytes-like
 * arguments, bytes results, TypeError for a non-buffer argument (str
 * included, as in CPython), ValueError with the core's message for a
 * wrong length.
 *
 * Secrets: no function returns one (a public key and a signature are
 * public), and each result is allocated before the core runs, so a
 * MemoryError (a longjmp) never skips the core's own stack wiping
 * (ed25519.c burn_stack).
 */
#if defined(MICROPY_ENABLE_DYNRUNTIME) && MICROPY_ENABLE_DYNRUNTIME
#define ED25519_NATMOD 1
#include "py/dynruntime.h"
#else
#define ED25519_NATMOD 0
#include "py/runtime.h"
#endif

#include "ed25519.h"

#if ED25519_NATMOD && !defined(__linux__)
/* A native module links no libc; the compiler may still emit these. */
void *memcpy(void *dst, const void *src, size_t n)
{
    return mp_fun_table.memmove_(dst, src, n);
}
void *memset(void *s, int c, size_t n)
{
    return mp_fun_table.memset_(s, c, n);
}
#endif

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

static mp_obj_t fail(int err)
{
    switch (err) {
    case ED25519_ERR_SEED_LEN: mp_raise_ValueError(MP_ERROR_TEXT(ED25519_MSG_SEED_LEN)); break;
    case ED25519_ERR_PUB_LEN: mp_raise_ValueError(MP_ERROR_TEXT(ED25519_MSG_PUB_LEN)); break;
    default: mp_raise_ValueError(MP_ERROR_TEXT(ED25519_MSG_SIG_LEN)); break;
    }
    return mp_const_none;
}

/* MicroPython's bytes object (py/objstr.h mp_obj_str_t); see p256_mpy.c */
typedef struct {
    mp_obj_base_t base;
    size_t hash;
    size_t len;
    const byte *data;
} bytes_obj_t;

static const uint8_t ed25519_zeros[ED25519_SIG_LEN] = {0};

/* A new bytes object of n zero bytes, filled in place by the core before
 * anyone sees it; its hash is reset once filled. */
static mp_obj_t new_bytes_to_fill(size_t n, uint8_t **data)
{
    mp_obj_t obj = mp_obj_new_bytes(ed25519_zeros, n);
    *data = (uint8_t *)((bytes_obj_t *)MP_OBJ_TO_PTR(obj))->data;
    return obj;
}

static mp_obj_t filled(mp_obj_t obj, int err)
{
    if (err) {
        return fail(err);
    }
    ((bytes_obj_t *)MP_OBJ_TO_PTR(obj))->hash = 0;
    return obj;
}

static mp_obj_t mod_public_key(mp_obj_t seed_in)
{
    size_t n;
    const uint8_t *seed = arg_bytes(seed_in, &n);
    uint8_t *pub;
    mp_obj_t res = new_bytes_to_fill(ED25519_PUB_LEN, &pub);
    return filled(res, ed25519_public_key(pub, seed, n));
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_public_key_obj, mod_public_key);

static mp_obj_t mod_sign(mp_obj_t seed_in, mp_obj_t msg_in)
{
    size_t n, m;
    const uint8_t *seed = arg_bytes(seed_in, &n);
    const uint8_t *msg = arg_bytes(msg_in, &m);
    uint8_t *sig;
    mp_obj_t res = new_bytes_to_fill(ED25519_SIG_LEN, &sig);
    return filled(res, ed25519_sign(sig, seed, n, msg, m));
}
static MP_DEFINE_CONST_FUN_OBJ_2(mod_sign_obj, mod_sign);

static mp_obj_t mod_verify(mp_obj_t pub_in, mp_obj_t msg_in, mp_obj_t sig_in)
{
    size_t n, m, s;
    const uint8_t *pub = arg_bytes(pub_in, &n);
    const uint8_t *msg = arg_bytes(msg_in, &m);
    const uint8_t *sig = arg_bytes(sig_in, &s);
    int valid;
    int err = ed25519_verify(&valid, pub, n, msg, m, sig, s);
    if (err) {
        return fail(err);
    }
    return mp_obj_new_bool(valid);
}
static MP_DEFINE_CONST_FUN_OBJ_3(mod_verify_obj, mod_verify);

#if ED25519_NATMOD

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args)
{
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_public_key, MP_OBJ_FROM_PTR(&mod_public_key_obj));
    mp_store_global(MP_QSTR_sign, MP_OBJ_FROM_PTR(&mod_sign_obj));
    mp_store_global(MP_QSTR_verify, MP_OBJ_FROM_PTR(&mod_verify_obj));
    MP_DYNRUNTIME_INIT_EXIT
}

#else

static const mp_rom_map_elem_t ed25519_module_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_ed25519)},
    {MP_ROM_QSTR(MP_QSTR_public_key), MP_ROM_PTR(&mod_public_key_obj)},
    {MP_ROM_QSTR(MP_QSTR_sign), MP_ROM_PTR(&mod_sign_obj)},
    {MP_ROM_QSTR(MP_QSTR_verify), MP_ROM_PTR(&mod_verify_obj)},
};
static MP_DEFINE_CONST_DICT(ed25519_module_globals, ed25519_module_globals_table);

const mp_obj_module_t ed25519_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&ed25519_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_ed25519, ed25519_user_cmodule);

#endif
