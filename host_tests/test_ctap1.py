"""firmware/ctap1.py: APDU parsing, U2F commands and status words (FIDO U2F raw message formats v1.2).

Three layers: parse_apdu() alone (every ISO 7816-4 case and length edge),
the handlers through ctap1.process() with the host board (no transport), and
raw CTAPHID packets to show that CTAPHID_MSG never reaches the CBOR path.
Expected values come from the U2F spec and python-fido2's fido2.ctap1, never
from firmware constants.
"""

import datetime
import hashlib
import os
import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fido2.ctap1 import APDU
from fido2.hid import CTAPHID
from hypothesis import given, settings, strategies as st_

import ctap2_helpers as ctap2
from boards.host.memory_storage import MemoryStorage
from firmware import ctap1
from firmware import store as st
from firmware.credential import CRED_PROTECT_UV_OPTIONAL_WITH_LIST, CRED_PROTECT_UV_REQUIRED
from firmware.ctaphid import CTAPHID_MSG
from hidpackets import init_packet, packets
from test_ctaphid import Key

# Status words (U2F raw message formats §3.3; python-fido2 names three of them)
SW_NO_ERROR = APDU.OK  # 0x9000
SW_CONDITIONS_NOT_SATISFIED = APDU.USE_NOT_SATISFIED  # 0x6985
SW_WRONG_DATA = APDU.WRONG_DATA  # 0x6A80
SW_WRONG_LENGTH = 0x6700
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_INS_NOT_SUPPORTED = 0x6D00

REGISTER, AUTHENTICATE, VERSION = 0x01, 0x02, 0x03
ENFORCE, CHECK_ONLY, DONT_ENFORCE = 0x03, 0x07, 0x08

APP = hashlib.sha256(b"https://u2f.example.com").digest()
OTHER_APP = hashlib.sha256(b"https://other.example.com").digest()


def ext_apdu(ins, p1=0, data=b"", cla=0, p2=0):
    """Extended encoding exactly as python-fido2's Ctap1.send_apdu builds it."""
    return struct.pack(">BBBBBH", cla, ins, p1, p2, 0, len(data)) + data + b"\0\0"


def short_apdu(ins, p1=0, data=b"", le=None):
    out = bytes([0, ins, p1, 0])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le])
    return out


def call(auth, apdu):
    resp = bytes(ctap1.process(auth, apdu))  # a bytearray: the status word is appended in place
    return resp[:-2], struct.unpack(">H", resp[-2:])[0]


def verify(public_key, signature, message):
    """ECDSA P-256 / SHA-256 by `cryptography`; raises InvalidSignature."""
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(public_key))
    key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def parse_registration(data):
    """U2F §4.3 response: 0x05 | pubkey(65) | L | key handle | cert | signature."""
    assert data[0] == 0x05
    public_key = data[1:66]
    kh_len = data[66]
    key_handle = data[67 : 67 + kh_len]
    rest = data[67 + kh_len :]
    # The certificate is one DER SEQUENCE; its length is in its header.
    assert rest[0] == 0x30
    if rest[1] < 0x80:
        cert_len = 2 + rest[1]
    else:
        n = rest[1] & 0x7F
        cert_len = 2 + n + int.from_bytes(rest[2 : 2 + n], "big")
    return public_key, key_handle, rest[:cert_len], rest[cert_len:]


def register(auth, app=APP, challenge=None):
    challenge = challenge or os.urandom(32)
    data, sw = call(auth, ext_apdu(REGISTER, 0, challenge + app))
    assert sw == SW_NO_ERROR
    return (challenge,) + parse_registration(data)


def authenticate(auth, key_handle, app=APP, p1=ENFORCE, challenge=None):
    challenge = challenge or os.urandom(32)
    body = challenge + app + bytes([len(key_handle)]) + key_handle
    data, sw = call(auth, ext_apdu(AUTHENTICATE, p1, body))
    return challenge, data, sw


def make_auth(mode="auto", storage=None):
    auth = ctap2.make_auth(mode, storage)

    def log_exception(e):
        raise e  # an internal fault fails the test instead of becoming 0x6F00

    auth.board.log_exception = log_exception
    return auth


@pytest.fixture
def auth():
    return make_auth()


@pytest.fixture
def manual():
    return make_auth("manual")


# -- parse_apdu: ISO 7816-4 cases, short and extended -----------------------------------


H = bytes([0x00, 0x01, 0x02, 0x03])  # CLA INS P1 P2


@pytest.mark.parametrize(
    "apdu, data, ne",
    [
        (H, b"", 0),  # case 1: no Lc, no Le
        (H + b"\x10", b"", 16),  # case 2S
        (H + b"\x00", b"", 256),  # case 2S, Le = 00 -> 256
        (H + b"\xff", b"", 255),
        (H + b"\x02ab", b"ab", 0),  # case 3S: Le absent
        (H + b"\x01a", b"a", 0),
        (H + b"\xff" + bytes(255), bytes(255), 0),  # largest short Lc
        (H + b"\x02ab\x05", b"ab", 5),  # case 4S
        (H + b"\x02ab\x00", b"ab", 256),  # case 4S, Le = 00 -> 256
        (H + b"\x00\x01\x00", b"", 256),  # case 2E
        (H + b"\x00\x00\x00", b"", 65536),  # case 2E, Le = 0000 -> 65536
        (H + b"\x00\xff\xff", b"", 65535),
        (H + b"\x00\x00\x01a", b"a", 0),  # case 3E
        (H + b"\x00\x01\x00" + bytes(256), bytes(256), 0),  # beyond short Lc
        (H + b"\x00\x00\x02ab\x00\x00", b"ab", 65536),  # case 4E, Le = 0000
        (H + b"\x00\x00\x02ab\x01\x23", b"ab", 0x123),
        # the U2F clients' encoding of a command without data: "00 0000" + Le
        (H + b"\x00\x00\x00\x00\x00", b"", 65536),
        (H + b"\x00\x00\x00\x00\x10", b"", 16),
    ],
)
def test_parse_apdu_cases(apdu, data, ne):
    assert ctap1.parse_apdu(apdu) == (0x00, 0x01, 0x02, 0x03, data, ne)


@pytest.mark.parametrize(
    "apdu",
    [
        b"",
        b"\x00",
        b"\x00\x01",
        b"\x00\x01\x02",  # shorter than a header
        H + b"\x00\x05",  # "00" then one byte: neither 2E nor 3E
        H + b"\x03ab",  # short Lc longer than the data (truncated)
        H + b"\x01abc",  # short Lc shorter than the data: two bytes left over
        H + b"\x02ab\x00\x00",  # case 4S with a two-byte Le
        H + b"\x00\x00\x40" + bytes(63),  # extended Lc 64, 63 bytes (truncated)
        H + b"\x00\x00\x02ab\x00",  # extended Lc with a one-byte Le (mixed)
        H + b"\x00\x00\x02ab\x00\x00\x00",  # three bytes after the data
        H + b"\x00\x00\x00\x00",  # "00 0000" + one byte
        H + b"\x00\x00\x00\x00\x00\x00",  # "00 0000" + three bytes
        H + b"\x00\x00\x00a\x00\x00",  # "00 0000" cannot carry data
        H + b"\x00\xff\xff" + bytes(100),  # Lc 65535, 100 bytes present
    ],
)
def test_parse_apdu_wrong_length(apdu):
    with pytest.raises(ctap1.ApduError) as e:
        ctap1.parse_apdu(apdu)
    assert e.value.sw == SW_WRONG_LENGTH


def _encode(header, data, le, extended):
    """Reference ISO 7816-4 encoder (le: None absent, else Ne 1..65536)."""
    out = bytes(header)
    if extended:
        if data:
            out += b"\x00" + struct.pack(">H", len(data)) + data
        if le is not None:
            out += (b"" if data else b"\x00") + struct.pack(">H", le % 65536)
    else:
        if data:
            out += bytes([len(data)]) + data
        if le is not None:
            out += bytes([le % 256])
    return out


@settings(max_examples=300, deadline=None)
@given(
    header=st_.binary(min_size=4, max_size=4),
    extended=st_.booleans(),
    data=st_.binary(max_size=300),
    le=st_.one_of(st_.none(), st_.integers(1, 65536)),
)
def test_parse_apdu_round_trips_every_iso_encoding(header, extended, data, le):
    if not extended:
        data = data[:255]
        le = None if le is None else (le - 1) % 256 + 1
    apdu = _encode(header, data, le, extended)
    assert ctap1.parse_apdu(apdu) == (header[0], header[1], header[2], header[3], data, le or 0)


@settings(max_examples=500, deadline=None)
@given(st_.binary(max_size=400))
def test_process_answers_every_byte_string_with_a_status_word(apdu):
    """Fuzz: never an exception, always data || SW, and only the spec's status words."""
    resp = ctap1.process(make_auth("manual"), apdu)
    sw = struct.unpack(">H", resp[-2:])[0]
    assert sw in (
        SW_NO_ERROR,
        SW_CONDITIONS_NOT_SATISFIED,
        SW_WRONG_DATA,
        SW_WRONG_LENGTH,
        SW_CLA_NOT_SUPPORTED,
        SW_INS_NOT_SUPPORTED,
    )
    assert sw == SW_NO_ERROR or len(resp) == 2


# -- status words of process() ------------------------------------------------------------


@pytest.mark.parametrize("cla", [0x01, 0x80, 0x84, 0xFF])
def test_bad_class(auth, cla):
    assert call(auth, ext_apdu(VERSION, cla=cla)) == (b"", SW_CLA_NOT_SUPPORTED)
    # the class is checked before anything else the command would check
    assert call(auth, ext_apdu(REGISTER, cla=cla, data=b"x")) == (b"", SW_CLA_NOT_SUPPORTED)


@pytest.mark.parametrize("ins", [0x00, 0x04, 0x10, 0x40, 0xA4, 0xBF, 0xC0, 0xFF])
def test_unknown_instruction(auth, ins):
    assert call(auth, ext_apdu(ins)) == (b"", SW_INS_NOT_SUPPORTED)
    assert call(auth, bytes([0, ins, 0, 0])) == (b"", SW_INS_NOT_SUPPORTED)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_shorter_than_a_header(auth, n):
    assert call(auth, bytes(n)[:n]) == (b"", SW_WRONG_LENGTH)


@pytest.mark.parametrize(
    "apdu",
    [
        ext_apdu(VERSION),  # python-fido2
        bytes([0, VERSION, 0, 0]),  # case 1
        bytes([0, VERSION, 0, 0, 0]),  # case 2S, Le = 256
        bytes([0, VERSION, 0, 0, 0, 0, 0]),  # case 2E, Le = 65536 (Chrome)
        bytes([0, VERSION, 0x12, 0x34, 0x00]),  # P1 P2 are ignored
    ],
)
def test_version(auth, apdu):
    assert call(auth, apdu) == (b"U2F_V2", SW_NO_ERROR)


@pytest.mark.parametrize(
    "apdu",
    [
        ext_apdu(VERSION, data=b"x"),
        short_apdu(VERSION, data=b"x"),
        bytes([0, VERSION, 0, 0, 0, 0]),  # "00" then one byte
    ],
)
def test_version_with_data_is_wrong_length(auth, apdu):
    assert call(auth, apdu) == (b"", SW_WRONG_LENGTH)


@pytest.mark.parametrize("n", [0, 32, 63, 65, 128])
def test_register_data_must_be_64_bytes(manual, n):
    assert call(manual, ext_apdu(REGISTER, data=bytes(n))) == (b"", SW_WRONG_LENGTH)
    # refused before the board is asked for a touch
    assert manual.board.presence.requests == 0


def test_register_truncated_and_wrong_lc(auth):
    full = ext_apdu(REGISTER, data=os.urandom(64))
    assert call(auth, full[:40]) == (b"", SW_WRONG_LENGTH)  # Lc 64, 33 data bytes
    wrong_lc = full[:5] + b"\x00\x41" + full[7:]  # Lc 65, 64 data bytes + Le
    assert call(auth, wrong_lc) == (b"", SW_WRONG_LENGTH)
    oversize = full[:-2] + b"\x00\x00\x00"  # one byte more than Lc and Le allow
    assert call(auth, oversize) == (b"", SW_WRONG_LENGTH)


def test_register_in_short_encoding(auth):
    data, sw = call(auth, short_apdu(REGISTER, data=os.urandom(64), le=0))
    assert sw == SW_NO_ERROR and data[0] == 0x05


@pytest.mark.parametrize("n", [0, 64, 65 + 1, 65 + 81 - 1, 65 + 81 + 1])
def test_authenticate_lengths(auth, n):
    """challenge(32) | application(32) | L | key handle(L): L = 81 here."""
    body = bytearray(os.urandom(n))
    if n > 64:
        body[64] = 81
    assert call(auth, ext_apdu(AUTHENTICATE, ENFORCE, bytes(body))) == (b"", SW_WRONG_LENGTH)


@pytest.mark.parametrize("p1", [0x00, 0x01, 0x02, 0x04, 0x09, 0x83, 0xFF])
def test_authenticate_unknown_control_byte(auth, p1):
    _, _, key_handle, _, _ = register(auth)
    assert authenticate(auth, key_handle, p1=p1)[1:] == (b"", SW_WRONG_DATA)


def test_internal_fault_is_logged_and_answered(auth, monkeypatch):
    logged = []
    auth.board.log_exception = logged.append

    def broken(a, p1, data):
        raise KeyError("bug")

    monkeypatch.setitem(ctap1._COMMANDS, VERSION, broken)
    assert call(auth, ext_apdu(VERSION)) == (b"", 0x6F00)
    assert isinstance(logged[0], KeyError)


# -- U2F_REGISTER -----------------------------------------------------------------------------


def test_register_response_and_signature(auth):
    challenge, public_key, key_handle, certificate, signature = register(auth)
    assert len(public_key) == 65 and public_key[0] == 0x04
    assert 81 <= len(key_handle) <= 113
    cert = x509.load_der_x509_certificate(certificate)
    # §4.3: signed by the attestation key over 0x00 | app | challenge | KH | pubkey
    cert.public_key().verify(
        signature,
        b"\x00" + APP + challenge + key_handle + public_key,
        ec.ECDSA(hashes.SHA256()),
    )


def test_self_signed_attestation_certificate(auth):
    challenge, public_key, key_handle, certificate, signature = register(auth)
    cert = x509.load_der_x509_certificate(certificate)
    assert cert.version == x509.Version.v3
    assert isinstance(cert.public_key().curve, ec.SECP256R1)
    assert cert.signature_hash_algorithm.name == "sha256"
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)  # self-signed: its own key signed it
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    assert 0 < cert.serial_number < 2**159
    assert cert.not_valid_after_utc.year == 9999
    # DER as `cryptography` re-encodes it: canonical
    assert cert.public_bytes(serialization.Encoding.DER) == certificate
    # the key it certifies is the registration's new key, which signed the registration
    point = cert.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert point == public_key
    verify(public_key, signature, b"\x00" + APP + challenge + key_handle + public_key)


def test_each_registration_has_its_own_certificate_and_writes_nothing():
    storage = MemoryStorage()
    auth = make_auth(storage=storage)
    writes = storage.writes
    certificates = [register(auth)[3] for _ in range(3)]
    assert storage.writes == writes  # no identity kept on flash
    parsed = [x509.load_der_x509_certificate(c) for c in certificates]
    assert len(set(certificates)) == 3
    assert len({c.serial_number for c in parsed}) == 3
    assert len({c.public_key().public_numbers() for c in parsed}) == 3
    again = make_auth(storage=storage)
    assert register(again)[3] not in certificates


def test_an_old_self_signed_identity_is_removed_and_never_used():
    """A key updated from firmware that kept one U2F attestation identity per device ("u2fatt")."""
    storage = MemoryStorage()
    make_auth(storage=storage)
    old_key, old_public = b"\x11" * 32, None
    from firmware import crypto

    old_public = crypto.p256_public_key(old_key)
    storage.write("u2fatt", st.encode_record({1: old_key, 2: b"\x30\x03\x02\x01\x01", 3: b"epoc"}))
    auth = make_auth(storage=storage)  # boot
    assert "u2fatt" not in storage.list()
    challenge, public_key, key_handle, certificate, signature = register(auth)
    point = x509.load_der_x509_certificate(certificate).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert point == public_key != old_public


def _batch_attestation():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)

    def cert(subject, issuer, key, signer):
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(signer, hashes.SHA256())
        )

    ca = cert("Test CA", "Test CA", ca_key, ca_key)
    leaf = cert("Test batch", "Test CA", leaf_key, ca_key)
    der = serialization.Encoding.DER
    private = leaf_key.private_numbers().private_value.to_bytes(32, "big")
    return private, leaf.public_bytes(der), ca.public_bytes(der)


def test_register_uses_the_provisioned_batch_attestation(auth):
    private, leaf, ca = _batch_attestation()
    auth.store.save(st.REC_ATTESTATION, {st.ATT_PRIVATE_KEY: private, st.ATT_CERTIFICATES: [leaf, ca]})
    challenge, public_key, key_handle, certificate, signature = register(auth)
    assert certificate == leaf  # the leaf only: U2F carries one certificate
    x509.load_der_x509_certificate(leaf).public_key().verify(
        signature, b"\x00" + APP + challenge + key_handle + public_key, ec.ECDSA(hashes.SHA256())
    )
    auth.reset_state()  # the batch identity survives a reset
    assert register(auth)[3] == leaf


def test_each_registration_has_a_new_key_and_handle(auth):
    a, b = register(auth), register(auth)
    assert a[1] != b[1] and a[2] != b[2]


# -- presence: never blocking ---------------------------------------------------------------------


def test_register_without_touch_answers_at_once(manual):
    t0 = manual.board.clock.now
    writes = manual.board.storage.writes
    assert call(manual, ext_apdu(REGISTER, data=os.urandom(64))) == (b"", SW_CONDITIONS_NOT_SATISFIED)
    assert manual.board.clock.now == t0  # no waiting at all
    assert manual.board.storage.writes == writes  # nothing made
    assert manual.board.led_events[-1] == "touch"
    manual.board.presence.press()
    register(manual)
    assert manual.board.led_events[-1] == "idle"


def test_one_touch_approves_one_operation(manual):
    manual.board.presence.press()
    register(manual)
    assert call(manual, ext_apdu(REGISTER, data=os.urandom(64)))[1] == SW_CONDITIONS_NOT_SATISFIED


def test_refused_touch_is_no_touch():
    auth = make_auth("deny")
    assert call(auth, ext_apdu(REGISTER, data=os.urandom(64)))[1] == SW_CONDITIONS_NOT_SATISFIED


def test_authenticate_waits_for_a_touch_without_blocking(manual):
    manual.board.presence.press()
    _, public_key, key_handle, _, _ = register(manual)
    assert authenticate(manual, key_handle)[1:] == (b"", SW_CONDITIONS_NOT_SATISFIED)
    manual.board.presence.press()
    challenge, data, sw = authenticate(manual, key_handle)
    assert sw == SW_NO_ERROR and data[0] == 0x01
    verify(public_key, data[5:], APP + data[:5] + challenge)


def test_a_bad_key_handle_does_not_spend_the_touch(manual):
    manual.board.presence.press()
    key_handle = register(manual)[2]
    manual.board.presence.press()
    assert authenticate(manual, key_handle, app=OTHER_APP)[1:] == (b"", SW_WRONG_DATA)
    assert authenticate(manual, key_handle)[2] == SW_NO_ERROR  # the touch was still there


def test_dont_enforce_signs_without_presence(manual):
    manual.board.presence.press()
    _, public_key, key_handle, _, _ = register(manual)
    requests = manual.board.presence.requests
    challenge, data, sw = authenticate(manual, key_handle, p1=DONT_ENFORCE)
    assert sw == SW_NO_ERROR
    assert data[0] == 0x00  # user presence not verified
    verify(public_key, data[5:], APP + data[:5] + challenge)
    assert manual.board.presence.requests == requests  # the board was not asked


# -- U2F_AUTHENTICATE ------------------------------------------------------------------------------


def test_authenticate_signature_and_counter(auth):
    _, public_key, key_handle, _, _ = register(auth)
    counters = []
    for _ in range(3):
        challenge, data, sw = authenticate(auth, key_handle)
        assert sw == SW_NO_ERROR
        assert len(data) > 5 and data[0] == 0x01
        counter = struct.unpack(">I", data[1:5])[0]
        counters.append(counter)
        # §5.4: application | user presence | counter | challenge
        verify(public_key, data[5:], APP + data[0:1] + data[1:5] + challenge)
    assert counters == sorted(set(counters))
    assert counters[0] < 2**16  # a fresh key starts low: far from any wrap


def test_check_only(auth):
    key_handle = register(auth)[2]
    # "test-of-user-presence-required" means the key handle is ours
    assert authenticate(auth, key_handle, p1=CHECK_ONLY)[1:] == (b"", SW_CONDITIONS_NOT_SATISFIED)
    assert authenticate(auth, key_handle, app=OTHER_APP, p1=CHECK_ONLY)[1:] == (b"", SW_WRONG_DATA)


def test_check_only_spends_no_counter_value(auth):
    key_handle = register(auth)[2]
    c1 = struct.unpack(">I", authenticate(auth, key_handle)[1][1:5])[0]
    for _ in range(3):
        authenticate(auth, key_handle, p1=CHECK_ONLY)
    c2 = struct.unpack(">I", authenticate(auth, key_handle)[1][1:5])[0]
    assert c2 == c1 + 1


def _flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize("p1", [ENFORCE, CHECK_ONLY, DONT_ENFORCE])
def test_bad_key_handles(auth, p1):
    key_handle = register(auth)[2]
    other_key = make_auth()
    foreign = register(other_key)[2]
    for bad in (
        _flip(key_handle, 0),  # version byte
        _flip(key_handle, 20),  # inside the ciphertext
        _flip(key_handle, len(key_handle) - 1),  # the tag
        key_handle[:-1],
        key_handle + b"\x00",
        b"",
        os.urandom(81),
        os.urandom(255),
        foreign,  # made by another key
    ):
        assert authenticate(auth, bad, p1=p1)[1:] == (b"", SW_WRONG_DATA)
    assert authenticate(auth, key_handle, app=OTHER_APP, p1=p1)[1:] == (b"", SW_WRONG_DATA)


def test_reset_kills_key_handles(auth):
    key_handle = register(auth)[2]
    auth.reset_state()
    for p1 in (ENFORCE, CHECK_ONLY, DONT_ENFORCE):
        assert authenticate(auth, key_handle, p1=p1)[1:] == (b"", SW_WRONG_DATA)


def test_cred_protect_uv_required_is_not_usable_over_u2f(auth):
    from firmware import crypto

    private_key, _ = crypto.p256_keygen()
    required = auth.wrapper.wrap(APP, private_key, 0, CRED_PROTECT_UV_REQUIRED)
    with_list = auth.wrapper.wrap(APP, private_key, 0, CRED_PROTECT_UV_OPTIONAL_WITH_LIST)
    assert authenticate(auth, required, p1=CHECK_ONLY)[2] == SW_WRONG_DATA
    assert authenticate(auth, required)[2] == SW_WRONG_DATA
    # level 2 only needs the credential ID to be listed, which U2F always does
    assert authenticate(auth, with_list)[2] == SW_NO_ERROR


# -- shared with CTAP2 --------------------------------------------------------------------------------


def test_ctap2_non_discoverable_credential_works_over_u2f(auth):
    credential_id, public_key, _ = ctap2.make_credential(auth)
    challenge, data, sw = authenticate(auth, credential_id, app=ctap2.RP_ID_HASH)
    assert sw == SW_NO_ERROR
    ctap2.verify_signature(public_key, data[5:], ctap2.RP_ID_HASH + data[:5] + challenge)


def test_ctap2_discoverable_credential_is_not_usable_over_u2f(auth):
    credential_id, _, _ = ctap2.make_credential(auth, rk=True)
    for p1 in (ENFORCE, CHECK_ONLY, DONT_ENFORCE):
        assert authenticate(auth, credential_id, app=ctap2.RP_ID_HASH, p1=p1)[1:] == (b"", SW_WRONG_DATA)


@pytest.mark.parametrize("alg", [ctap2.EDDSA, ctap2.ED25519])
def test_u2f_stays_p256_an_ed25519_credential_is_not_a_key_handle(auth, alg):
    """U2F signs with ECDSA P-256 only: a CTAP2 EdDSA credential is refused
    like a foreign key handle (and nothing is signed, no touch asked)."""
    code, resp = ctap2.call(auth, ctap2.MC, ctap2.mc_request() | {4: ctap2.params_for(alg)})
    assert code == 0
    credential_id = ctap2.parse_auth_data(resp[2])["credential_id"]
    touches = auth.board.presence.requests
    for p1 in (ENFORCE, CHECK_ONLY, DONT_ENFORCE):
        assert authenticate(auth, credential_id, app=ctap2.RP_ID_HASH, p1=p1)[1:] == (b"", SW_WRONG_DATA)
    assert auth.board.presence.requests == touches


def test_an_esp256_credential_signs_over_u2f_as_es256(auth):
    """ESP256 (-9) is ECDSA on P-256 with SHA-256: the same signature U2F makes."""
    code, resp = ctap2.call(auth, ctap2.MC, ctap2.mc_request() | {4: ctap2.params_for(ctap2.ESP256)})
    assert code == 0
    ad = ctap2.parse_auth_data(resp[2])
    challenge, data, sw = authenticate(auth, ad["credential_id"], app=ctap2.RP_ID_HASH)
    assert sw == SW_NO_ERROR
    ctap2.cose_key(ad["public_key"]).verify(ctap2.RP_ID_HASH + data[:5] + challenge, data[5:])


def test_u2f_key_handle_works_in_get_assertion_with_one_counter(auth):
    _, public_key, key_handle, _, _ = register(auth, app=ctap2.RP_ID_HASH)
    c1 = struct.unpack(">I", authenticate(auth, key_handle, app=ctap2.RP_ID_HASH)[1][1:5])[0]
    status, resp = ctap2.call(auth, ctap2.GA, ctap2.ga_request(allow=[key_handle]))
    assert status == 0 and resp[1]["id"] == key_handle
    auth_data = ctap2.parse_auth_data(resp[2])
    assert auth_data["rp_id_hash"] == ctap2.RP_ID_HASH
    verify(public_key, resp[3], resp[2] + ctap2.CDH)
    c3 = struct.unpack(">I", authenticate(auth, key_handle, app=ctap2.RP_ID_HASH)[1][1:5])[0]
    assert c1 < auth_data["counter"] < c3


def test_u2f_ends_get_next_assertion_state(auth):
    auth.assertion_state = object()
    auth.handle(CTAPHID_MSG, ext_apdu(VERSION), auth.transport)
    assert auth.assertion_state is None


def test_versions_and_capabilities(auth):
    from fido2.hid import CAPABILITY

    assert "U2F_V2" in auth.versions()
    assert not auth.capabilities & CAPABILITY.NMSG


# -- through CTAPHID: MSG never reaches the CBOR path --------------------------------------------------


class RawKey(Key):
    """test_ctaphid's in-memory key (manual presence, fake clock), plus U2F messages."""

    def msg(self, cid, apdu):
        ((rcid, cmd, payload),) = self.send(*packets(cid, CTAPHID.MSG, apdu))
        assert (rcid, cmd) == (cid, CTAPHID.MSG)
        return payload[:-2], struct.unpack(">H", payload[-2:])[0]


@pytest.fixture
def raw(monkeypatch):
    key = RawKey()

    def no_cbor(*args):
        raise AssertionError("CTAPHID_MSG reached the CBOR path")

    monkeypatch.setattr(key.hid.app, "process_cbor", no_cbor)
    return key


@pytest.mark.parametrize(
    "apdu, sw",
    [
        (b"\x04", SW_WRONG_LENGTH),  # authenticatorGetInfo as CBOR would be
        (b"\x01\xa1\x01\x40", SW_CLA_NOT_SUPPORTED),  # a CBOR makeCredential
        (ext_apdu(VERSION, cla=0x80), SW_CLA_NOT_SUPPORTED),
        (ext_apdu(0x10), SW_INS_NOT_SUPPORTED),  # CTAPHID_CBOR's number as INS
        (ext_apdu(REGISTER, data=bytes(64))[:30], SW_WRONG_LENGTH),  # truncated
        (ext_apdu(REGISTER, data=bytes(65)), SW_WRONG_LENGTH),  # oversize
        (ext_apdu(VERSION)[:7] + b"\x00", SW_WRONG_LENGTH),  # wrong Lc/Le layout
        (ext_apdu(REGISTER, data=bytes(64)), SW_CONDITIONS_NOT_SATISFIED),  # no touch yet
        (ext_apdu(AUTHENTICATE, ENFORCE, bytes(64) + b"\x51" + bytes(81)), SW_WRONG_DATA),
        (ext_apdu(VERSION), SW_NO_ERROR),
    ],
)
def test_msg_status_words_through_ctaphid(raw, apdu, sw):
    cid = raw.init()
    assert raw.msg(cid, apdu)[1] == sw


def test_large_msg_through_ctaphid(raw):
    """An APDU spread over continuation packets (extended Lc, 7000 bytes of data)."""
    cid = raw.init()
    assert raw.msg(cid, ext_apdu(AUTHENTICATE, ENFORCE, bytes(7000))) == (b"", SW_WRONG_LENGTH)


def test_cbor_never_reaches_ctap1(monkeypatch):
    key = RawKey()

    def no_ctap1(*args):
        raise AssertionError("CTAPHID_CBOR reached ctap1")

    monkeypatch.setattr(ctap1, "process", no_ctap1)
    cid = key.init()
    ((rcid, cmd, payload),) = key.send(init_packet(cid, CTAPHID.CBOR, ext_apdu(VERSION)))
    assert (rcid, cmd) == (cid, CTAPHID.CBOR) and len(payload) == 1  # a CTAP2 status byte


def test_u2f_over_ctaphid_does_not_hold_the_channel(raw):
    """A register waiting for a touch leaves the key free for other channels."""
    a, b = raw.init(), raw.init()
    assert raw.msg(a, ext_apdu(REGISTER, data=bytes(64)))[1] == SW_CONDITIONS_NOT_SATISFIED
    assert raw.send(init_packet(b, CTAPHID.PING, b"hi")) == [(b, CTAPHID.PING, b"hi")]
    raw.board.presence.press()
    data, sw = raw.msg(a, ext_apdu(REGISTER, data=bytes(64)))
    assert sw == SW_NO_ERROR and data[0] == 0x05


def test_slow_register_sends_keepalive_processing(raw, monkeypatch):
    """While a U2F command computes for more than 100 ms the host hears KEEPALIVE(PROCESSING)."""
    from firmware import crypto

    keygen = crypto.p256_keygen

    def slow_keygen():
        raw.clock.advance(150)  # a board whose P-256 is slow
        return keygen()

    monkeypatch.setattr(crypto, "p256_keygen", slow_keygen)
    cid = raw.init()
    raw.board.presence.press()
    msgs = raw.send(*packets(cid, CTAPHID.MSG, ext_apdu(REGISTER, data=bytes(64))))
    assert (cid, CTAPHID.KEEPALIVE, b"\x01") in msgs[:-1]
    assert msgs[-1][:2] == (cid, CTAPHID.MSG) and msgs[-1][2][-2:] == b"\x90\x00"
