"""The device's half of tools/provision.py, run on the board through `mpremote exec`.

Secrets are made here, by the key's DRBG (firmware/crypto.py) seeded from
the board's own source (os.urandom; on an ESP32-S3 under MicroPython read
with the radio on, as the key's adapter reads it) and the store's flash
seed, and never printed: the master secret (at the store's first start)
and, when asked for, an attestation key whose *public* half goes to the
host to be certified. Each function prints one "PYFIDO-..." line for the
host to parse.
"""

import os
import sys

from boards.common import settings as st
from boards.common.vfs_storage import VfsStorage

_PENDING = "att.pending"  # attestation private key waiting for its certificate


def _storage():
    return VfsStorage(st.load({})["store"])


def _set_rng():
    """The DRBG's source and personalization as the key's board adapter gives them."""
    from firmware import crypto

    source, unique_id = os.urandom, b""
    try:
        import machine  # MicroPython
    except ImportError:
        try:
            import microcontroller  # CircuitPython

            unique_id = bytes(microcontroller.cpu.uid)
        except (ImportError, AttributeError):  # neither (CPython: Blinka's microcontroller has no cpu)
            pass
    else:
        if hasattr(machine, "unique_id"):  # the unix port's machine has none
            unique_id = machine.unique_id()
        if sys.platform == "esp32":
            from boards.micropython.app import radio_on

            source = radio_on(os.urandom)
    crypto.set_rng(source, unique_id)


def init():
    """Open (or create) the key's store; the master secret is made on first start."""
    from firmware import store

    _set_rng()
    storage = _storage()
    existed = storage.read(store.REC_STATE) is not None
    s = st.load({})
    opened = store.Store(storage, s["max_resident_credentials"])
    if opened.damaged is not None:
        # Never replaced here either: the host says how to reset it.
        print("PYFIDO-INIT damaged", opened.damaged)
        return
    print("PYFIDO-INIT", "kept" if existed else "new")


def wipe():
    """Remove every record of the key (tools/provision.py --force)."""
    storage = _storage()
    n = 0
    for name in storage.list():
        storage.remove(name)
        n += 1
    print("PYFIDO-WIPED", n)


def attestation_keygen():
    """A fresh attestation key pair; prints the public key, keeps the private one pending."""
    from firmware import crypto, store

    _set_rng()
    storage = _storage()
    store.refresh_seed(storage)  # the DRBG seeded as at a boot of the key
    private_key, public_key = crypto.p256_keygen()
    storage.write(_PENDING, store.encode_record({1: private_key}))
    print("PYFIDO-ATTPUB", "".join("%02x" % b for b in public_key))


def attestation_install(certificate_hex):
    """Store the pending key with its certificate as the attestation record."""
    import binascii

    from firmware import store

    storage = _storage()
    pending = store.decode_record(storage.read(_PENDING))
    if not isinstance(pending, dict) or 1 not in pending:
        print("PYFIDO-ERROR no pending attestation key")
        return
    record = {store.ATT_PRIVATE_KEY: pending[1], store.ATT_CERTIFICATES: [binascii.unhexlify(certificate_hex)]}
    storage.write(store.REC_ATTESTATION + ".new", store.encode_record(record))
    storage.rename(store.REC_ATTESTATION + ".new", store.REC_ATTESTATION)
    storage.remove(_PENDING)
    print("PYFIDO-ATT installed")
