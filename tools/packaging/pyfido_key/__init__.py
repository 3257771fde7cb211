"""PyFIDO virtual key: a real CTAP 2.2 authenticator for relying-party tests.

    from pyfido_key import VirtualKey
    with VirtualKey(pin="123456") as key:
        ...  # key.device: a python-fido2 CtapHidDevice; key.credentials(): the passkeys it holds

The authenticator is the PyFIDO key's firmware core (the code that runs on
the boards), served over real CTAPHID on a local socket from a thread or a
child process. pytest fixtures (`virtual_key`, `fido2_client`) come with
the package; `pyfido-key serve` runs a key from the command line.
Not a secure element: never keep real secrets in it.

This file is the installed package's root (tools/packaging/pyfido_key in the
repository); the key itself is in pyfido_key._core, made at build time.
"""

from pyfido_key._core.boards.host.api import (  # noqa: F401
    AttestationError,
    Credential,
    VirtualKey,
    create_credential_json,
    get_assertion_json,
    key_interaction,
    load_attestation,
    read_credentials,
)
from pyfido_key._core.firmware.device import FIRMWARE_VERSION

__version__ = ".".join(str(v) for v in FIRMWARE_VERSION)
__all__ = ["VirtualKey", "Credential", "AttestationError", "load_attestation", "read_credentials",
           "key_interaction", "create_credential_json", "get_assertion_json"]
