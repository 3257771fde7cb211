"""Handler-level test helpers: an Authenticator on the host board, CBOR in and out.

Tests call the router (Authenticator.process_cbor) with requests encoded by
cbor2, so they exercise exactly what a platform sends, without CTAPHID.
"""

import hashlib
import struct

import cbor2
from fido2 import cbor as fido2_cbor
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from boards.host.board import FakeClock, HostBoard, Presence
from boards.host.memory_storage import MemoryStorage
from boards.host.transport import MemoryTransport
from firmware.authenticator import Authenticator

MC, GA, GET_INFO, CLIENT_PIN, RESET, GNA, CRED_MGMT, SELECTION, LARGE_BLOBS, CONFIG = (
    0x01, 0x02, 0x04, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C, 0x0D,
)
RP_ID = "example.com"
RP_ID_HASH = hashlib.sha256(RP_ID.encode()).digest()
CDH = bytes(range(32))


def make_auth(presence="auto", storage=None, clock=None, config=None):
    board = HostBoard(
        MemoryTransport(),
        storage=storage if storage is not None else MemoryStorage(),
        presence=Presence(presence),
        clock=clock or FakeClock(),
        config=config,
    )
    return Authenticator(board)


def call(auth, cmd, req=None):
    """(status, decoded response or None). Requests are encoded as a platform
    does (python-fido2's CTAP2 canonical encoder)."""
    data = bytes([cmd]) + (fido2_cbor.encode(req) if req is not None else b"")
    out = auth.process_cbor(data)
    return out[0], (cbor2.loads(out[1:]) if len(out) > 1 else None)


def status(auth, cmd, req=None):
    return call(auth, cmd, req)[0]


def mc_request(user_id=b"user-1", rk=False, **extra):
    req = {
        1: CDH,
        2: {"id": RP_ID, "name": "Example"},
        3: {"id": user_id, "name": "alice", "displayName": "Alice"},
        4: [{"alg": -7, "type": "public-key"}],
    }
    if rk:
        req[7] = {"rk": True}
    req.update(extra)
    return req


def ga_request(allow=None, **extra):
    req = {1: RP_ID, 2: CDH}
    if allow is not None:
        req[3] = [{"id": cid, "type": "public-key"} for cid in allow]
    req.update(extra)
    return req


def parse_auth_data(data):
    """WebAuthn authenticator data -> dict of its fields."""
    out = {"rp_id_hash": data[:32], "flags": data[32], "counter": struct.unpack(">I", data[33:37])[0]}
    rest = data[37:]
    if out["flags"] & 0x40:
        out["aaguid"] = rest[:16]
        n = struct.unpack(">H", rest[16:18])[0]
        out["credential_id"] = rest[18 : 18 + n]
        key, rest = _decode_first(rest[18 + n :])
        out["public_key"] = key
    if out["flags"] & 0x80:
        out["extensions"], rest = _decode_first(rest)
    assert rest == b"", "trailing bytes in authData"
    return out


def _decode_first(data):
    import io

    f = io.BytesIO(data)
    value = cbor2.CBORDecoder(f).decode()
    return value, data[f.tell() :]


def cose_to_public_key(cose):
    assert cose[1] == 2 and cose[3] == -7 and cose[-1] == 1
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-3], "big"), ec.SECP256R1()
    ).public_key()


def verify_signature(public_key, signature, message):
    public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def make_credential(auth, **kw):
    """Register and return (credential_id, cryptography public key, authData fields)."""
    st, resp = call(auth, MC, mc_request(**kw))
    assert st == 0, hex(st)
    ad = parse_auth_data(resp[2])
    return ad["credential_id"], cose_to_public_key(ad["public_key"]), ad


def rk_reads(auth):
    """The names of the passkey records the key reads from now on."""
    storage = auth.board.storage
    names = []
    read = storage.read

    def counting(name):
        if name.startswith("rk"):
            names.append(name)
        return read(name)

    storage.read = counting
    return names


# COSE algorithms of credentials (firmware/cose.py; RFC 9864 for -9 and -19)
ES256, EDDSA, ESP256, ED25519 = -7, -8, -9, -19
ALL_ALGS = (ES256, EDDSA, ESP256, ED25519)


def offered_algorithms(auth):
    """The credential algorithms the key says it makes (getInfo 0x0A), in its order."""
    code, info = call(auth, GET_INFO)
    assert code == 0
    return [entry["alg"] for entry in info[0x0A]]


def params_for(*algs):
    return [{"alg": alg, "type": "public-key"} for alg in algs]


def cose_key(cose):
    """python-fido2's CoseKey for a COSE_Key map (its class chosen by alg; it verifies)."""
    from fido2.cose import CoseKey

    key = CoseKey.parse(dict(cose))
    assert key.ALGORITHM == cose[3]
    return key
