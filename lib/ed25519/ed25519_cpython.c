/*
 * ed25519_cpython.c - the CPython build of lib/ed25519 (module `ed25519`).
 *
 * Same functions, arguments and exceptions as the MicroPython binding in
 * ed25519_mpy.c: positional bytes-like arguments only, bytes results,
 * TypeError for a non-buffer argument (from the "y*" converter) and
 * ValueError carrying ed25519_error_message() for a wrong length. The GIL
 * is released while the curve arithmetic runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ed25519.h"

static PyObject *fail(int err)
{
    PyErr_SetString(PyExc_ValueError, ed25519_error_message(err));
    return NULL;
}

#define LEN(b) ((size_t)(b).len)
#define BUF(b) ((const uint8_t *)(b).buf)

static PyObject *py_public_key(PyObject *self, PyObject *args)
{
    Py_buffer seed;
    uint8_t pub[ED25519_PUB_LEN];
    int err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:public_key", &seed)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = ed25519_public_key(pub, BUF(seed), LEN(seed));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&seed);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)pub, sizeof pub);
}

static PyObject *py_sign(PyObject *self, PyObject *args)
{
    Py_buffer seed, msg;
    uint8_t sig[ED25519_SIG_LEN];
    int err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*:sign", &seed, &msg)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = ed25519_sign(sig, BUF(seed), LEN(seed), BUF(msg), LEN(msg));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&seed);
    PyBuffer_Release(&msg);
    return err ? fail(err) : PyBytes_FromStringAndSize((const char *)sig, sizeof sig);
}

static PyObject *py_verify(PyObject *self, PyObject *args)
{
    Py_buffer pub, msg, sig;
    int err, valid;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*:verify", &pub, &msg, &sig)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    err = ed25519_verify(&valid, BUF(pub), LEN(pub), BUF(msg), LEN(msg), BUF(sig), LEN(sig));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&pub);
    PyBuffer_Release(&msg);
    PyBuffer_Release(&sig);
    return err ? fail(err) : PyBool_FromLong(valid);
}

static PyMethodDef ed25519_methods[] = {
    {"public_key", py_public_key, METH_VARARGS,
     "public_key(seed32) -> public key (32 bytes), RFC 8032 5.1.5."},
    {"sign", py_sign, METH_VARARGS,
     "sign(seed32, message) -> R||S (64 bytes), PureEdDSA Ed25519, RFC 8032 5.1.6."},
    {"verify", py_verify, METH_VARARGS,
     "verify(public_key32, message, signature64) -> bool, RFC 8032 5.1.7 (cofactorless; "
     "S >= L and undecodable keys are False)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef ed25519_module = {
    PyModuleDef_HEAD_INIT, "ed25519",
    "Compact constant-time Ed25519 (lib/ed25519), the code that ships on the key.", -1,
    ed25519_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_ed25519(void)
{
    return PyModule_Create(&ed25519_module);
}
