"""What the key says of itself before any command: its firmware version and CTAPHID capabilities.

Kept apart from firmware/authenticator.py so the main loop can answer CTAPHID
INIT (CTAP 2.1 §11.2.9.1.3) before the authenticator and its command modules
are imported (firmware/main_loop.py).
"""

from firmware.ctaphid import CAPABILITY_CBOR, CAPABILITY_NMSG, CAPABILITY_WINK

# Firmware version: CTAPHID INIT device version bytes, getInfo
# firmwareVersion (major * 10000 + minor * 100 + build), USB bcdDevice.
FIRMWARE_VERSION = (0, 1, 0)


def capabilities(ctap1_off):
    """CTAPHID INIT capability flags: only what is implemented.

    NMSG clear: CTAPHID_MSG carries CTAP1/U2F (firmware/ctap1.py), except
    when `ctap1_off`: under alwaysUv, where CTAP 2.1 §7.2.4 requires CTAP1
    off for a key without built-in user verification, and while the store
    is damaged (firmware/store.py: whether alwaysUv is on is unknown then).
    """
    if ctap1_off:
        return CAPABILITY_CBOR | CAPABILITY_WINK | CAPABILITY_NMSG
    return CAPABILITY_CBOR | CAPABILITY_WINK
