"""firmware/pin_protocol.py against python-fido2's PinProtocolV1/V2 (the platform side)."""

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.ctap import CtapError
from fido2.ctap2.pin import PinProtocolV1 as HostV1, PinProtocolV2 as HostV2

from firmware import crypto
from firmware import pin_protocol as pp
from firmware.status import CtapError as FwCtapError

ERR = CtapError.ERR
PROTOCOLS = [(pp.PinProtocolV1, HostV1), (pp.PinProtocolV2, HostV2)]
IDS = ["v1", "v2"]


@pytest.fixture(autouse=True)
def rng():
    crypto.set_rng(os.urandom)


class Clock:
    def __init__(self):
        self.now = 5000

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b


class Auth:
    """Just what verify_token/require_permission look at."""

    def __init__(self):
        self.clock = Clock()
        self.pin_uv = pp.PinUvAuthTokenState(self.clock)


def code(excinfo):
    return excinfo.value.code


# -- the protocols, against the platform's implementation -----------------------


@pytest.mark.parametrize("ours, host", PROTOCOLS, ids=IDS)
def test_key_agreement_gives_the_platforms_shared_secret(ours, host):
    dev = ours()
    key_agreement, shared_secret = host().encapsulate(dev.get_public_key())
    assert dev.decapsulate(dict(key_agreement)) == shared_secret
    assert len(shared_secret) == (32 if ours.VERSION == 1 else 64)


@pytest.mark.parametrize("ours, host", PROTOCOLS, ids=IDS)
def test_public_key_is_a_p256_ecdh_cose_key(ours, host):
    cose = ours().get_public_key()
    assert cose[1] == 2 and cose[3] == -25 and cose[-1] == 1
    assert crypto.p256_valid_public_key(b"\x04" + cose[-2] + cose[-3])


@pytest.mark.parametrize("ours, host", PROTOCOLS, ids=IDS)
@pytest.mark.parametrize("n", [16, 32, 64])
def test_encrypt_decrypt_both_directions(ours, host, n):
    dev, plat = ours(), host()
    _, secret = plat.encapsulate(dev.get_public_key())
    data = os.urandom(n)
    assert dev.decrypt(secret, plat.encrypt(secret, data)) == data
    assert plat.decrypt(secret, dev.encrypt(secret, data)) == data


def test_v2_encryption_uses_a_fresh_iv():
    dev = pp.PinProtocolV2()
    secret = os.urandom(64)
    a, b = dev.encrypt(secret, bytes(32)), dev.encrypt(secret, bytes(32))
    assert len(a) == 48 and a[:16] != b[:16]


def test_v1_encryption_is_deterministic_zero_iv():
    dev = pp.PinProtocolV1()
    secret = os.urandom(32)
    assert dev.encrypt(secret, bytes(32)) == HostV1().encrypt(secret, bytes(32))


@pytest.mark.parametrize("ours, host", PROTOCOLS, ids=IDS)
def test_authenticate_matches_the_platform(ours, host):
    dev, plat = ours(), host()
    _, secret = plat.encapsulate(dev.get_public_key())
    msg = os.urandom(70)
    assert dev.authenticate(secret, msg) == plat.authenticate(secret, msg)
    token = os.urandom(32)
    assert dev.authenticate(token, msg) == plat.authenticate(token, msg)
    assert dev.verify(token, msg, plat.authenticate(token, msg))


@pytest.mark.parametrize("ours, host", PROTOCOLS, ids=IDS)
def test_verify_rejects_wrong_mac_message_and_length(ours, host):
    dev = ours()
    token = os.urandom(32)
    mac = host().authenticate(token, b"msg")
    assert not dev.verify(token, b"msh", mac)
    assert not dev.verify(os.urandom(32), b"msg", mac)
    assert not dev.verify(token, b"msg", mac[:-1])
    assert not dev.verify(token, b"msg", mac + b"\x00")
    assert not dev.verify(token, b"msg", b"")
    full = pp.crypto.hmac_sha256(token, b"msg")
    # v1 takes exactly the left 16 bytes; v2 exactly all 32
    assert dev.verify(token, b"msg", full) is (ours.VERSION == 2)
    assert dev.verify(token, b"msg", full[:16]) is (ours.VERSION == 1)


# Known answers (independent of python-fido2): the MACs of message 0xAA under
# the token 0x91 * 32, and under the shared secret made from Z = 0x55 * 32.
def test_known_answer_token_macs():
    token = b"\x91" * 32
    v1 = bytes.fromhex("9c1cfe9dd7646a06b9a80f96ad504968")
    v2 = v1 + bytes.fromhex("949020530fa3d27a9ffdfa623693f784")
    assert pp.PinProtocolV1().authenticate(token, b"\xaa") == v1
    assert pp.PinProtocolV2().authenticate(token, b"\xaa") == v2


def test_known_answer_kdf():
    z = b"\x55" * 32
    k1 = pp.PinProtocolV1().kdf(z)
    k2 = pp.PinProtocolV2().kdf(z)
    assert pp.PinProtocolV1().authenticate(k1, b"\xaa") == bytes.fromhex("8b60157df344822e54347a01fb0248a6")
    assert pp.PinProtocolV2().authenticate(k2, b"\xaa") == bytes.fromhex(
        "c03f2a225cc34e05c10e729c8dd57de5989c6815ece23a95d590e1e93ff01aaf"
    )
    assert k1 == HostV1().kdf(z) and k2 == HostV2().kdf(z)


@pytest.mark.parametrize(
    "n, ok1, ok2", [(0, True, False), (15, False, False), (16, True, True), (17, False, False), (40, False, False), (48, True, True)]
)
def test_decrypt_refuses_impossible_lengths(n, ok1, ok2):
    key = os.urandom(64)
    assert (pp.PinProtocolV1().decrypt(key[:32], os.urandom(n)) is not None) is ok1
    assert (pp.PinProtocolV2().decrypt(key, os.urandom(n)) is not None) is ok2


def _good_key():
    n = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    pub = b"\x04" + n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")
    return {1: 2, 3: -25, -1: 1, -2: pub[1:33], -3: pub[33:]}


def _mutate(**kw):
    k = _good_key()
    for name, value in kw.items():
        key = {"kty": 1, "alg": 3, "crv": -1, "x": -2, "y": -3}[name]
        if value is None:
            k.pop(key)
        else:
            k[key] = value
    return k


@pytest.mark.parametrize("ours", [pp.PinProtocolV1, pp.PinProtocolV2], ids=IDS)
@pytest.mark.parametrize(
    "peer",
    [
        [1, 2],
        b"\x04" + bytes(64),
        _mutate(kty=None),
        _mutate(kty=3),
        _mutate(alg=-7),
        _mutate(alg=None),
        _mutate(crv=2),
        _mutate(crv=True),
        _mutate(x=None),
        _mutate(y=None),
        _mutate(x=bytes(31)),
        _mutate(y=b"\x01" * 33),
        _mutate(x="abc"),
        _mutate(y=bytes(32)),  # not on the curve
        _mutate(x=b"\xff" * 32, y=b"\xff" * 32),  # coordinates >= p
    ],
)
def test_decapsulate_rejects_bad_platform_keys(ours, peer):
    with pytest.raises(FwCtapError) as e:
        ours().decapsulate(peer)
    assert code(e) == ERR.INVALID_PARAMETER


@pytest.mark.parametrize("ours", [pp.PinProtocolV1, pp.PinProtocolV2], ids=IDS)
def test_regenerate_and_reset_token(ours):
    dev = ours()
    pub, token = dev.get_public_key(), dev.pin_uv_auth_token
    assert len(token) == 32
    dev.regenerate()
    assert dev.get_public_key() != pub and dev.pin_uv_auth_token == token
    dev.reset_pin_uv_auth_token()
    assert dev.pin_uv_auth_token != token


# -- token state ---------------------------------------------------------------------


def test_protocol_lookup():
    st = Auth().pin_uv
    assert st.protocol(1).VERSION == 1 and st.protocol(2).VERSION == 2
    assert pp.PinUvAuthTokenState.VERSIONS == (2, 1)
    for bad in (0, 3, -1, True, "1", None):
        with pytest.raises(FwCtapError) as e:
            st.protocol(bad)
        assert code(e) == ERR.INVALID_PARAMETER


def test_each_protocol_has_its_own_token_and_reset_renews_all():
    st = Auth().pin_uv
    t1, t2 = st.protocol(1).pin_uv_auth_token, st.protocol(2).pin_uv_auth_token
    k1, k2 = st.protocol(1).get_public_key(), st.protocol(2).get_public_key()
    assert t1 != t2
    st.begin_using(False, pp.PERMISSION_MC)
    st.reset_tokens()
    assert not st.in_use
    assert st.protocol(1).pin_uv_auth_token != t1 and st.protocol(2).pin_uv_auth_token != t2
    assert st.protocol(1).get_public_key() == k1  # key agreement stays
    st.reset()
    assert st.protocol(1).get_public_key() != k1 and st.protocol(2).get_public_key() != k2


def test_begin_and_stop_using():
    st = Auth().pin_uv
    assert not st.get_user_verified_flag_value() and not st.has_permission(pp.PERMISSION_MC)
    st.begin_using(False, pp.PERMISSION_MC | pp.PERMISSION_LBW, "example.com")
    assert st.in_use and st.rp_id == "example.com"
    assert st.get_user_verified_flag_value() and not st.get_user_present_flag_value()
    assert st.has_permission(pp.PERMISSION_MC) and not st.has_permission(pp.PERMISSION_GA)
    st.clear_user_verified_flag()
    st.clear_permissions_except_lbw()
    assert not st.get_user_verified_flag_value()
    assert not st.has_permission(pp.PERMISSION_MC) and st.has_permission(pp.PERMISSION_LBW)
    st.stop_using()
    assert not st.in_use and st.permissions == 0 and st.rp_id is None


def test_unused_token_expires_after_the_initial_usage_limit():
    a = Auth()
    st = a.pin_uv
    st.begin_using(True, pp.PERMISSION_GA)
    a.clock.now += pp.INITIAL_USAGE_TIME_LIMIT_MS
    st.observe()
    assert st.in_use and st.get_user_present_flag_value()
    a.clock.now += 1
    st.observe()
    assert not st.in_use and not st.get_user_present_flag_value()


def test_used_token_lives_until_the_max_usage_period_but_loses_presence():
    a = Auth()
    st = a.pin_uv
    st.begin_using(True, pp.PERMISSION_CM)
    msg = b"\x01"
    pp.verify_token(a, 2, msg, pp.PinProtocolV2().authenticate(st.protocol(2).pin_uv_auth_token, msg))
    a.clock.now += pp.USER_PRESENT_TIME_LIMIT_MS + 1
    st.observe()
    assert st.in_use and st.has_permission(pp.PERMISSION_CM)
    assert not st.get_user_present_flag_value()
    a.clock.now += pp.MAX_USAGE_TIME_PERIOD_MS - pp.USER_PRESENT_TIME_LIMIT_MS - 1
    st.observe()
    assert st.in_use
    a.clock.now += 1
    st.observe()
    assert not st.in_use


# -- verify_token / require_permission ------------------------------------------------


@pytest.mark.parametrize("version, host", [(1, HostV1), (2, HostV2)], ids=IDS)
def test_verify_token(version, host):
    a = Auth()
    st = a.pin_uv
    token = st.protocol(version).pin_uv_auth_token
    good = host().authenticate(token, b"cdh")
    with pytest.raises(FwCtapError) as e:  # no token in use yet
        pp.verify_token(a, version, b"cdh", good)
    assert code(e) == ERR.PIN_AUTH_INVALID
    st.begin_using(False, pp.PERMISSION_GA)
    pp.verify_token(a, version, b"cdh", good)
    assert st.used
    other = st.protocol(3 - version).pin_uv_auth_token
    for bad in (host().authenticate(other, b"cdh"), good[:-1], good + b"\x00", b"", bytes(len(good))):
        with pytest.raises(FwCtapError) as e:
            pp.verify_token(a, version, b"cdh", bad)
        assert code(e) == ERR.PIN_AUTH_INVALID
    with pytest.raises(FwCtapError) as e:
        pp.verify_token(a, 3, b"cdh", good)
    assert code(e) == ERR.INVALID_PARAMETER


def test_require_permission_and_rp_id_binding():
    a = Auth()
    st = a.pin_uv
    st.begin_using(False, pp.PERMISSION_MC | pp.PERMISSION_GA)
    with pytest.raises(FwCtapError) as e:
        pp.require_permission(a, pp.PERMISSION_CM)
    assert code(e) == ERR.PIN_AUTH_INVALID
    pp.require_permission(a, pp.PERMISSION_MC, rp_id="a.example")
    assert st.rp_id == "a.example"  # an unbound token binds to the first RP
    pp.require_permission(a, pp.PERMISSION_GA, rp_id="a.example")
    with pytest.raises(FwCtapError) as e:
        pp.require_permission(a, pp.PERMISSION_GA, rp_id="b.example")
    assert code(e) == ERR.PIN_AUTH_INVALID


def test_require_permission_by_rp_id_hash_never_binds():
    a = Auth()
    st = a.pin_uv
    st.begin_using(False, pp.PERMISSION_CM)
    h = crypto.sha256(b"a.example")
    pp.require_permission(a, pp.PERMISSION_CM, rp_id_hash=h)
    assert st.rp_id is None
    st.rp_id = "a.example"
    pp.require_permission(a, pp.PERMISSION_CM, rp_id_hash=h)
    with pytest.raises(FwCtapError) as e:
        pp.require_permission(a, pp.PERMISSION_CM, rp_id_hash=crypto.sha256(b"b.example"))
    assert code(e) == ERR.PIN_AUTH_INVALID


def test_expired_token_has_no_permissions():
    a = Auth()
    st = a.pin_uv
    st.begin_using(False, pp.PERMISSION_ACFG)
    a.clock.now += pp.INITIAL_USAGE_TIME_LIMIT_MS + 1
    st.observe()
    with pytest.raises(FwCtapError) as e:
        pp.require_permission(a, pp.PERMISSION_ACFG)
    assert code(e) == ERR.PIN_AUTH_INVALID


@pytest.mark.parametrize("ours", [pp.PinProtocolV1, pp.PinProtocolV2], ids=IDS)
def test_decapsulate_accepts_the_unmutated_key(ours):
    assert len(ours().decapsulate(_good_key())) == 32 * ours.VERSION
