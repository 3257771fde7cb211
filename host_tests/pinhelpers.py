"""Shared helpers for the PIN/UV handler tests: an in-process key and a platform.

`call()` goes through Authenticator.process_cbor (the router, its gates and
the status byte), encoding with python-fido2's canonical CBOR. `Platform`
is the platform side of authenticatorClientPIN, built on python-fido2's
PinProtocolV1/V2, so every MAC and ciphertext the tests send is made the way
a real client makes it; its *_request() methods return the raw request map
so a test can break one member at a time.
"""

import hashlib
import os

import pytest
from fido2.ctap import CtapError
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2

import ctap2_helpers

CLIENT_PIN = 0x06
MAKE_CREDENTIAL = 0x01
GET_ASSERTION = 0x02
GET_INFO = 0x04
RESET = 0x07
CRED_MGMT = 0x0A
CRED_MGMT_PRE = 0x41
CONFIG = 0x0D

PERM_MC = 0x01
PERM_GA = 0x02
PERM_CM = 0x04
PERM_BE = 0x08
PERM_LBW = 0x10
PERM_ACFG = 0x20
PERM_PCMR = 0x40  # CTAP 2.2 persistentCredentialManagementReadOnly

HOST_PROTOCOLS = {1: PinProtocolV1, 2: PinProtocolV2}
RP_ID = "example.com"
PIN = "1234"


def make_auth(storage=None, presence="auto", clock=None):
    """A fresh Authenticator on the host board (a 'power-up'), fake clock by default."""
    return ctap2_helpers.make_auth(presence, storage, clock)


def power_cycle(auth):
    """A new Authenticator on the same flash: RAM state gone, records kept."""
    return make_auth(auth.board.storage, auth.board.presence.mode, auth.board.clock)


def call(auth, cmd, params=None):
    """One CTAP2 command through the router; the decoded response, or raises CtapError.

    Members whose value is None are left out, as a platform leaves them out.
    """
    if params is not None:
        params = {k: v for k, v in params.items() if v is not None}
    status, resp = ctap2_helpers.call(auth, cmd, params)
    if status != 0:
        raise CtapError(status)
    return resp


def info(auth):
    return call(auth, GET_INFO)


def pad_pin(pin):
    data = pin.encode() if isinstance(pin, str) else pin
    return data + bytes(64 - len(data))


class Platform:
    """The platform half of authenticatorClientPIN for one pinUvAuthProtocol."""

    def __init__(self, auth, version):
        self.auth = auth
        self.version = version
        self.proto = HOST_PROTOCOLS[version]()

    def shared(self):
        """getKeyAgreement + encapsulate: (our keyAgreement COSE key, shared secret)."""
        resp = call(self.auth, CLIENT_PIN, {1: self.version, 2: 0x02})
        return self.proto.encapsulate(resp[1])

    # -- raw requests ------------------------------------------------------------------

    def set_pin_request(self, pin, padded=None):
        ka, secret = self.shared()
        new_pin_enc = self.proto.encrypt(secret, padded if padded is not None else pad_pin(pin))
        return {1: self.version, 2: 0x03, 3: ka, 4: self.proto.authenticate(secret, new_pin_enc), 5: new_pin_enc}

    def change_pin_request(self, old, new, padded=None):
        ka, secret = self.shared()
        pin_hash_enc = self.proto.encrypt(secret, hashlib.sha256(old.encode()).digest()[:16])
        new_pin_enc = self.proto.encrypt(secret, padded if padded is not None else pad_pin(new))
        mac = self.proto.authenticate(secret, new_pin_enc + pin_hash_enc)
        return {1: self.version, 2: 0x04, 3: ka, 4: mac, 5: new_pin_enc, 6: pin_hash_enc}

    def token_request(self, pin, permissions=None, rp_id=None, legacy=False):
        ka, secret = self.shared()
        self._secret = secret
        pin_hash_enc = self.proto.encrypt(secret, hashlib.sha256(pin.encode()).digest()[:16])
        req = {1: self.version, 2: 0x05 if legacy else 0x09, 3: ka, 6: pin_hash_enc}
        if not legacy:
            req[9] = permissions
            req[10] = rp_id
        return req

    # -- whole operations ------------------------------------------------------------

    def set_pin(self, pin):
        call(self.auth, CLIENT_PIN, self.set_pin_request(pin))

    def change_pin(self, old, new):
        call(self.auth, CLIENT_PIN, self.change_pin_request(old, new))

    def token(self, pin, permissions=PERM_MC | PERM_GA, rp_id=None, legacy=False):
        """A pinUvAuthToken (decrypted) from getPinUvAuthTokenUsingPinWithPermissions or getPinToken."""
        resp = call(self.auth, CLIENT_PIN, self.token_request(pin, permissions, rp_id, legacy))
        return self.proto.decrypt(self._secret, resp[2])

    def retries(self):
        resp = call(self.auth, CLIENT_PIN, {1: self.version, 2: 0x01})
        return resp[3], resp.get(4)

    def mac(self, token, message):
        return self.proto.authenticate(token, message)


# -- makeCredential / getAssertion requests -------------------------------------------------


def mc_request(rp_id=RP_ID, user_id=b"user-1", rk=False, name="alice", client_data_hash=None, options=None, extra=None):
    """A makeCredential request map; `options` go into 0x07, `extra` adds members."""
    req = {
        1: client_data_hash or os.urandom(32),
        2: {"id": rp_id, "name": rp_id},
        3: {"id": user_id, "name": name, "displayName": name.title()},
        4: [{"alg": -7, "type": "public-key"}],
    }
    opts = dict(options or {})
    if rk:
        opts["rk"] = True
    if opts:
        req[7] = opts
    req.update(extra or {})
    return req


def ga_request(rp_id=RP_ID, allow=None, client_data_hash=None, options=None, extra=None):
    """A getAssertion request map; `options` go into 0x05, `extra` adds members."""
    req = {1: rp_id, 2: client_data_hash or os.urandom(32)}
    if allow:
        req[3] = [{"id": c, "type": "public-key"} for c in allow]
    if options:
        req[5] = dict(options)
    req.update(extra or {})
    return req


def with_pin_auth(platform, token, req, cdh_key):
    """Add pinUvAuthParam/pinUvAuthProtocol over the request's clientDataHash."""
    cdh = req[cdh_key]
    key = 8 if cdh_key == 1 else 6
    req[key] = platform.mac(token, cdh)
    req[key + 1] = platform.version
    return req


def mc_with_token(platform, token, **kw):
    return with_pin_auth(platform, token, mc_request(**kw), 1)


def ga_with_token(platform, token, **kw):
    return with_pin_auth(platform, token, ga_request(**kw), 2)


def credential_id_of(mc_response):
    """The credential ID in a makeCredential response's authenticator data."""
    auth_data = mc_response[2]
    n = int.from_bytes(auth_data[53:55], "big")
    return auth_data[55 : 55 + n]


def flags_of(auth_data):
    return auth_data[32]


def code_of(excinfo):
    return excinfo.value.code


# -- fixtures (import them into a test module to use them) --------------------------------------


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def protocol(request):
    """Each test that uses it runs once for pinUvAuthProtocol 1 and once for 2."""
    return request.param


@pytest.fixture
def auth():
    return make_auth()


@pytest.fixture
def plat(auth, protocol):
    """The platform side for `protocol`, on a key without a PIN."""
    return Platform(auth, protocol)


@pytest.fixture
def pinned(plat):
    """The platform side for `protocol`, on a key whose PIN is PIN."""
    plat.set_pin(PIN)
    return plat
