/*
 * p256_cpython.c - the CPython build of lib/p256 (module `p256`).
 *
 * Same functions, arguments and exceptions as the MicroPython binding in
 * p256_mpy.c: positional bytes-like arguments only, bytes results,
 * TypeError for a non-buffer argument (from the "y*" converter) and
 * ValueError carrying p256_error_message() for anything the core rejects.
 * The GIL is released while the curve arithmetic runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "p256.h"

static PyObject *fail(int err)
{
    PyErr_SetString(PyExc_ValueError, p256_error_message(err));
    return NULL;
}

#define LEN(b) ((size_t)(b).len)
#define BUF(b) ((const uint8_t *)(b).buf)

static PyObject *py_keygen(PyObject *self, PyObject *args)
{
    Py_buffer seed;
    uint8_t priv[P256_PRIV_LEN], pub[P256_PUB_LEN];
    int err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:keygen", &seed)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = p256_keygen(priv, pub, BUF(seed), LEN(seed));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&seed);
    PyObject *res = err ? fail(err) : Py_BuildValue("(y#y#)", priv, (Py_ssize_t)sizeof priv,
                                                     pub, (Py_ssize_t)sizeof pub);
    p256_wipe(priv, sizeof priv);
    return res;
}

static PyObject *py_public_key(PyObject *self, PyObject *args)
{
    Py_buffer priv;
    uint8_t pub[P256_PUB_LEN];
    int err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:public_key", &priv)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = p256_public_key(pub, BUF(priv), LEN(priv));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&priv);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)pub, sizeof pub);
}

static PyObject *py_sign(PyObject *self, PyObject *args)
{
    Py_buffer priv, digest, extra;
    uint8_t sig[P256_SIG_LEN];
    int err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*:sign", &priv, &digest, &extra)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = p256_sign(sig, BUF(priv), LEN(priv), BUF(digest), LEN(digest), BUF(extra), LEN(extra));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&priv);
    PyBuffer_Release(&digest);
    PyBuffer_Release(&extra);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)sig, sizeof sig);
}

static PyObject *py_verify(PyObject *self, PyObject *args)
{
    Py_buffer pub, digest, sig;
    int err, valid;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*:verify", &pub, &digest, &sig)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = p256_verify(&valid, BUF(pub), LEN(pub), BUF(digest), LEN(digest), BUF(sig), LEN(sig));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&pub);
    PyBuffer_Release(&digest);
    PyBuffer_Release(&sig);
    if (err) {
        return fail(err);
    }
    return PyBool_FromLong(valid);
}

static PyObject *py_ecdh(PyObject *self, PyObject *args)
{
    Py_buffer priv, peer;
    uint8_t secret[P256_SECRET_LEN];
    int err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*:ecdh", &priv, &peer)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = p256_ecdh(secret, BUF(priv), LEN(priv), BUF(peer), LEN(peer));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&priv);
    PyBuffer_Release(&peer);
    PyObject *res = err ? fail(err) : PyBytes_FromStringAndSize((const char *)secret, sizeof secret);
    p256_wipe(secret, sizeof secret);
    return res;
}

static PyObject *py_sig_to_der(PyObject *self, PyObject *args)
{
    Py_buffer sig;
    uint8_t der[P256_DER_MAX];
    size_t n = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:sig_to_der", &sig)) {
        return NULL;
    }
    int err = p256_sig_to_der(der, &n, BUF(sig), LEN(sig));
    PyBuffer_Release(&sig);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)der, (Py_ssize_t)n);
}

static PyObject *py_sig_from_der(PyObject *self, PyObject *args)
{
    Py_buffer der;
    uint8_t sig[P256_SIG_LEN];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:sig_from_der", &der)) {
        return NULL;
    }
    int err = p256_sig_from_der(sig, BUF(der), LEN(der));
    PyBuffer_Release(&der);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)sig, sizeof sig);
}

static PyObject *py_compress(PyObject *self, PyObject *args)
{
    Py_buffer pub;
    uint8_t out[P256_PUB_COMP_LEN];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:compress", &pub)) {
        return NULL;
    }
    int err = p256_compress(out, BUF(pub), LEN(pub));
    PyBuffer_Release(&pub);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)out, sizeof out);
}

static PyObject *py_decompress(PyObject *self, PyObject *args)
{
    Py_buffer pub;
    uint8_t out[P256_PUB_LEN];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:decompress", &pub)) {
        return NULL;
    }
    int err = p256_decompress(out, BUF(pub), LEN(pub));
    PyBuffer_Release(&pub);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)out, sizeof out);
}

static PyObject *py_validate_public_key(PyObject *self, PyObject *args)
{
    Py_buffer pub;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:validate_public_key", &pub)) {
        return NULL;
    }
    int ok = p256_validate_public_key(BUF(pub), LEN(pub));
    PyBuffer_Release(&pub);
    return PyBool_FromLong(ok);
}

static PyMethodDef p256_methods[] = {
    {"keygen", py_keygen, METH_VARARGS,
     "keygen(seed40) -> (private_key32, public_key65): private key = seed mod (n-1) + 1."},
    {"public_key", py_public_key, METH_VARARGS, "public_key(private_key32) -> 0x04||X||Y."},
    {"sign", py_sign, METH_VARARGS,
     "sign(private_key32, digest32, extra) -> r||s. extra: 32 random bytes (hedged RFC 6979) "
     "or b'' (plain RFC 6979)."},
    {"verify", py_verify, METH_VARARGS,
     "verify(public_key65or33, digest32, signature64) -> bool."},
    {"ecdh", py_ecdh, METH_VARARGS, "ecdh(private_key32, peer_public_key) -> X coordinate (32)."},
    {"sig_to_der", py_sig_to_der, METH_VARARGS, "sig_to_der(r||s) -> DER SEQUENCE."},
    {"sig_from_der", py_sig_from_der, METH_VARARGS, "sig_from_der(der) -> r||s (strict DER)."},
    {"compress", py_compress, METH_VARARGS, "compress(public_key65) -> 33 bytes."},
    {"decompress", py_decompress, METH_VARARGS, "decompress(public_key33) -> 65 bytes."},
    {"validate_public_key", py_validate_public_key, METH_VARARGS,
     "validate_public_key(pub) -> True if pub is a valid 33/65-byte SEC1 point."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef p256_module = {
    PyModuleDef_HEAD_INIT, "p256",
    "Compact constant-time NIST P-256 (lib/p256), the code that ships on the key.", -1,
    p256_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_p256(void)
{
    return PyModule_Create(&p256_module);
}
