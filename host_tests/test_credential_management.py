"""firmware/ctap2/credential_management.py: authenticatorCredentialManagement (0x0A, 0x41), protocols 1 and 2."""

import hashlib
import os

import pytest
from fido2 import cbor
from fido2.cose import CoseKey
from fido2.ctap import CtapError

from ctap2_helpers import rk_reads
from firmware import crypto
from firmware import store as st
from firmware.credential import CRED_PROTECT_UV_REQUIRED, FLAG_RESIDENT
from pinhelpers import auth, pinned, plat, protocol  # noqa: F401 (pytest fixtures)
from pinhelpers import (
    PIN,
    CLIENT_PIN,
    CRED_MGMT,
    CRED_MGMT_PRE,
    GET_ASSERTION,
    GET_INFO,
    MAKE_CREDENTIAL,
    PERM_CM,
    PERM_GA,
    PERM_MC,
    call,
    code_of,
    credential_id_of,
    ga_request,
    mc_request,
    mc_with_token,
)

ERR = CtapError.ERR


def rp_hash(rp_id):
    return hashlib.sha256(rp_id.encode()).digest()


class Manager:
    """The platform side of credential management: MACs what python-fido2's CredentialManagement._call MACs."""

    def __init__(self, pinned, permissions=PERM_CM, rp_id=None, cmd=CRED_MGMT, legacy=False):
        self.pinned = pinned
        self.cmd = cmd
        self.token = pinned.token(PIN, permissions, rp_id, legacy=legacy)

    def request(self, sub, params=None, auth=True):
        req = {1: sub}
        if params is not None:
            req[2] = params
        if auth:
            msg = bytes([sub]) + (cbor.encode(params) if params is not None else b"")
            req[3] = self.pinned.version
            req[4] = self.pinned.mac(self.token, msg)
        return req

    def __call__(self, sub, params=None, auth=True):
        return call(self.pinned.auth, self.cmd, self.request(sub, params, auth))

    def err(self, sub, params=None, auth=True, req=None):
        with pytest.raises(CtapError) as e:
            call(self.pinned.auth, self.cmd, req if req is not None else self.request(sub, params, auth))
        return code_of(e)


def make_rk(pinned, rp_id, user_id, name):
    token = pinned.token(PIN, PERM_MC, rp_id)
    resp = call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rp_id=rp_id, user_id=user_id, rk=True, name=name))
    return credential_id_of(resp), resp[2]


@pytest.fixture
def populated(pinned):
    """Three RPs: a.example (2 users), b.example (1), c.example (1)."""
    creds = {}
    for rp_id, user_id, name in [
        ("a.example", b"u1", "alice"),
        ("a.example", b"u2", "bob"),
        ("b.example", b"u3", "carol"),
        ("c.example", b"u4", "dave"),
    ]:
        creds[user_id] = make_rk(pinned, rp_id, user_id, name)
    return pinned, creds


def descriptor(cred_id):
    return {"id": cred_id, "type": "public-key"}


# -- metadata and enumeration ---------------------------------------------------------------------


def test_metadata(populated):
    pinned, _ = populated
    resp = Manager(pinned)(1)
    assert resp == {1: 4, 2: pinned.auth.store.max_resident - 4}


def test_metadata_empty(pinned):
    assert Manager(pinned)(1) == {1: 0, 2: pinned.auth.store.max_resident}


def test_enumerate_rps(populated):
    pinned, _ = populated
    m = Manager(pinned)
    first = m(2)
    assert first[5] == 3
    rps = [first] + [m(3) for _ in range(2)]
    assert sorted(r[3]["id"] for r in rps) == ["a.example", "b.example", "c.example"]
    for r in rps:
        assert r[4] == rp_hash(r[3]["id"])
        assert 5 not in r or r is first
    assert m.err(3, auth=False) == ERR.NOT_ALLOWED  # past the end


def test_a_long_rp_id_is_listed_truncated_with_its_full_hash(pinned):
    """CTAP 2.1 §6.8.3 and §6.8.7: the id shown may be truncated; rpIDHash is the real one."""
    long_rp_id = "ssh:" + "k" * 400 + ".example"
    make_rk(pinned, long_rp_id, b"u1", "alice")
    m = Manager(pinned)
    rp = m(2)
    assert rp[3] == {"id": "ssh:\u2026" + long_rp_id[-246:]} and rp[4] == rp_hash(long_rp_id)
    assert m(4, {1: rp_hash(long_rp_id)})[6]["id"] == b"u1"


def test_enumerate_rps_empty(pinned):
    assert Manager(pinned).err(2) == ERR.NO_CREDENTIALS


def test_enumerate_credentials(populated):
    pinned, creds = populated
    m = Manager(pinned)
    first = m(4, {1: rp_hash("a.example")})
    assert first[9] == 2
    second = m(5, auth=False)
    assert 9 not in second
    by_user = {r[6]["id"]: r for r in (first, second)}
    assert set(by_user) == {b"u1", b"u2"}
    r = by_user[b"u1"]
    assert r[6] == {"id": b"u1", "name": "alice", "displayName": "Alice"}
    assert r[7] == descriptor(creds[b"u1"][0])
    assert r[10] == 1  # made without credProtect: userVerificationOptional
    # The public key is the one makeCredential attested.
    auth_data = creds[b"u1"][1]
    n = int.from_bytes(auth_data[53:55], "big")
    attested = cbor.decode_from(auth_data[55 + n :])[0]
    assert r[8] == attested
    CoseKey.parse(r[8])  # a well-formed COSE key
    assert m.err(5, auth=False) == ERR.NOT_ALLOWED


def test_enumerate_credentials_reports_cred_protect(populated):
    pinned, creds = populated
    auth = pinned.auth
    # A credential made with credProtect 3 (the extension's own tests live
    # with the extension; here the level is written the way makeCredential does).
    rp = rp_hash("d.example")
    priv, _ = crypto.p256_keygen()
    cred_id = auth.wrapper.wrap(rp, priv, FLAG_RESIDENT, CRED_PROTECT_UV_REQUIRED)
    auth.store.rk_put(
        {
            st.RK_CREDENTIAL_ID: cred_id,
            st.RK_RP_ID: "d.example",
            st.RK_RP_ID_HASH: rp,
            st.RK_USER_ID: b"u9",
            st.RK_CRED_PROTECT: CRED_PROTECT_UV_REQUIRED,
        }
    )
    r = Manager(pinned)(4, {1: rp})
    assert r[10] == CRED_PROTECT_UV_REQUIRED and r[7]["id"] == cred_id
    assert r[6] == {"id": b"u9"}


def test_enumeration_reads_one_record_per_answer(populated):
    """The RPs and an RP's credentials are counted and walked on the store's
    index; each answer reads the one record it returns (issue 14: the heap
    of an enumeration does not grow with the passkeys of a site). Newest
    first, as before."""
    pinned, _ = populated
    for i in range(5, 11):
        make_rk(pinned, "a.example", b"u%d" % i, "user %d" % i)
    m = Manager(pinned)
    reads = rk_reads(pinned.auth)
    first = m(2)
    assert first[5] == 3 and first[3]["id"] == "a.example" and len(reads) == 1
    rps = [first[3]["id"]]
    for _ in range(2):
        del reads[:]
        rps.append(m(3, auth=False)[3]["id"])
        assert len(reads) == 1
    assert rps == ["a.example", "c.example", "b.example"]
    assert m.err(3, auth=False) == ERR.NOT_ALLOWED
    del reads[:]
    first = m(4, {1: rp_hash("a.example")})
    assert first[9] == 8 and len(reads) == 1
    users = [first[6]["id"]]
    for _ in range(7):
        del reads[:]
        users.append(m(5, auth=False)[6]["id"])
        assert len(reads) == 1
    assert users == [b"u%d" % i for i in range(10, 4, -1)] + [b"u2", b"u1"]
    assert m.err(5, auth=False) == ERR.NOT_ALLOWED


def test_delete_and_update_read_the_record_they_name_alone(populated):
    """The store's index finds the credential a descriptor names (24 bits
    of its ID): one record read, not every record of the key."""
    pinned, creds = populated
    for i in range(5, 11):
        make_rk(pinned, "a.example", b"u%d" % i, "user %d" % i)
    m = Manager(pinned)
    reads = rk_reads(pinned.auth)
    user = {"id": b"u3", "name": "carol2"}
    assert m(7, {2: descriptor(creds[b"u3"][0]), 3: user}) is None
    assert len(reads) == 1
    del reads[:]
    assert m(6, {2: descriptor(creds[b"u1"][0])}) is None
    assert len(reads) == 1
    assert m(1)[1] == 9


def test_enumerate_credentials_unknown_rp(populated):
    pinned, _ = populated
    assert Manager(pinned).err(4, {1: rp_hash("nobody.example")}) == ERR.NO_CREDENTIALS


@pytest.mark.parametrize(
    "params, code",
    [
        (None, ERR.MISSING_PARAMETER),
        ({}, ERR.MISSING_PARAMETER),
        ({1: "a.example"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({2: descriptor(b"x")}, ERR.MISSING_PARAMETER),
    ],
)
def test_enumerate_credentials_bad_params(populated, params, code):
    pinned, _ = populated
    assert Manager(pinned).err(4, params) == code


def test_get_next_without_begin(pinned):
    m = Manager(pinned)
    assert m.err(3, auth=False) == ERR.NOT_ALLOWED
    assert m.err(5, auth=False) == ERR.NOT_ALLOWED


def test_any_other_command_ends_the_enumeration(populated):
    pinned, _ = populated
    m = Manager(pinned)
    m(2)
    call(pinned.auth, GET_INFO)
    assert m.err(3, auth=False) == ERR.NOT_ALLOWED
    m(4, {1: rp_hash("a.example")})
    call(pinned.auth, CLIENT_PIN, {1: pinned.version, 2: 1})
    assert m.err(5, auth=False) == ERR.NOT_ALLOWED
    # An RP cursor does not continue a credential enumeration, nor the reverse.
    m(2)
    assert m.err(5, auth=False) == ERR.NOT_ALLOWED
    m(4, {1: rp_hash("a.example")})
    assert m.err(3, auth=False) == ERR.NOT_ALLOWED


def test_malformed_cbor_also_ends_the_enumeration(populated):
    pinned, _ = populated
    m = Manager(pinned)
    m(2)
    assert pinned.auth.process_cbor(b"\x0a\xa1") == bytes([ERR.INVALID_CBOR])
    assert m.err(3, auth=False) == ERR.NOT_ALLOWED


# -- deleteCredential / updateUserInformation -------------------------------------------------------


def test_delete_credential(populated):
    pinned, creds = populated
    auth = pinned.auth
    cred_id = creds[b"u1"][0]
    files_before = set(auth.board.storage.files)
    m = Manager(pinned)
    assert m(6, {2: descriptor(cred_id)}) is None
    assert m(1)[1] == 3
    # exactly one record is gone, nothing else touched
    gone = files_before - set(auth.board.storage.files)
    assert len(gone) == 1 and next(iter(gone)).startswith("rk")
    assert set(auth.board.storage.files) - files_before == set()
    # The ID names nothing any more, with or without allowList.
    with pytest.raises(CtapError) as e:
        call(auth, GET_ASSERTION, ga_request(rp_id="a.example", allow=[cred_id]))
    assert code_of(e) == ERR.NO_CREDENTIALS
    assert [r[6]["id"] for r in [m(4, {1: rp_hash("a.example")})]] == [b"u2"]
    assert m.err(6, {2: descriptor(cred_id)}) == ERR.NO_CREDENTIALS


def test_a_deleted_credential_is_not_excluded_any_more(populated):
    """CTAP 2.1 §6.1.2 step 11: excludeList matches credentials that exist, not IDs that still unwrap."""
    pinned, creds = populated
    auth = pinned.auth
    deleted, kept = creds[b"u1"][0], creds[b"u2"][0]
    non_discoverable = credential_id_of(call(auth, MAKE_CREDENTIAL, mc_request(rp_id="a.example", user_id=b"u9")))
    Manager(pinned)(6, {2: descriptor(deleted)})
    touches = auth.board.presence.requests
    resp = call(auth, MAKE_CREDENTIAL, mc_request(rp_id="a.example", user_id=b"u1", extra={5: [descriptor(deleted)]}))
    assert resp[2][32] & 0x41 == 0x41  # made: UP | AT
    assert auth.board.presence.requests == touches + 1
    # Credentials that exist are still excluded, discoverable or not.
    for cred_id in (kept, non_discoverable):
        with pytest.raises(CtapError) as e:
            call(auth, MAKE_CREDENTIAL, mc_request(rp_id="a.example", user_id=b"u8", extra={5: [descriptor(cred_id)]}))
        assert code_of(e) == ERR.CREDENTIAL_EXCLUDED


def test_delete_last_credential_of_an_rp_drops_the_rp(populated):
    pinned, creds = populated
    m = Manager(pinned)
    m(6, {2: descriptor(creds[b"u3"][0])})
    rps = [m(2)] + [m(3)]
    assert sorted(r[3]["id"] for r in rps) == ["a.example", "c.example"]


@pytest.mark.parametrize(
    "params, code",
    [
        (None, ERR.MISSING_PARAMETER),
        ({1: rp_hash("a.example")}, ERR.MISSING_PARAMETER),
        ({2: b"raw-id"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({2: {"type": "public-key"}}, ERR.MISSING_PARAMETER),
        ({2: {"id": os.urandom(80), "type": "public-key"}}, ERR.NO_CREDENTIALS),
    ],
)
def test_delete_bad_params(populated, params, code):
    pinned, _ = populated
    assert Manager(pinned).err(6, params) == code
    assert pinned.auth.store.rk_count() == 4


def test_delete_other_credential_type(populated):
    pinned, creds = populated
    assert Manager(pinned).err(6, {2: {"id": creds[b"u1"][0], "type": "other"}}) == ERR.NO_CREDENTIALS


def test_update_user_information(populated):
    pinned, creds = populated
    m = Manager(pinned)
    cred_id = creds[b"u1"][0]
    m(7, {2: descriptor(cred_id), 3: {"id": b"u1", "name": "alice2"}})
    users = {r[6]["id"]: r[6] for r in [m(4, {1: rp_hash("a.example")}), m(5, auth=False)]}
    assert users[b"u1"] == {"id": b"u1", "name": "alice2"}  # displayName absent -> removed
    assert users[b"u2"]["name"] == "bob"
    m(7, {2: descriptor(cred_id), 3: {"id": b"u1", "name": "", "displayName": "A" * 100}})
    r = m(4, {1: rp_hash("a.example")})
    r = r if r[6]["id"] == b"u1" else m(5, auth=False)
    assert r[6] == {"id": b"u1", "displayName": "A" * 64}
    # the credential still works, under the same ID
    resp = call(pinned.auth, GET_ASSERTION, ga_request(rp_id="a.example", allow=[cred_id]))
    assert resp[1]["id"] == cred_id


def test_update_user_information_other_user_id(populated):
    pinned, creds = populated
    m = Manager(pinned)
    params = {2: descriptor(creds[b"u1"][0]), 3: {"id": b"u2", "name": "mallory"}}
    assert m.err(7, params) == ERR.INVALID_PARAMETER


@pytest.mark.parametrize(
    "params, code",
    [
        (None, ERR.MISSING_PARAMETER),
        ("USER_ONLY", ERR.MISSING_PARAMETER),
        ("CRED_ONLY", ERR.MISSING_PARAMETER),
        ("USER_NO_ID", ERR.MISSING_PARAMETER),
        ("USER_NAME_TYPE", ERR.CBOR_UNEXPECTED_TYPE),
        ("UNKNOWN", ERR.NO_CREDENTIALS),
    ],
)
def test_update_user_information_bad_params(populated, params, code):
    pinned, creds = populated
    d = descriptor(creds[b"u1"][0])
    params = {
        None: None,
        "USER_ONLY": {3: {"id": b"u1"}},
        "CRED_ONLY": {2: d},
        "USER_NO_ID": {2: d, 3: {"name": "x"}},
        "USER_NAME_TYPE": {2: d, 3: {"id": b"u1", "name": 5}},
        "UNKNOWN": {2: descriptor(os.urandom(81)), 3: {"id": b"u1"}},
    }[params]
    assert Manager(pinned).err(7, params) == code


# -- authorization ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sub, params", [(1, None), (2, None), (4, {1: rp_hash("a.example")}), (6, {2: descriptor(b"x" * 81)})])
def test_every_begin_needs_a_pin_uv_auth_param(populated, sub, params):
    pinned, _ = populated
    m = Manager(pinned)
    assert m.err(sub, params, auth=False) == ERR.PUAT_REQUIRED
    req = m.request(sub, params)
    del req[3]
    assert m.err(sub, req=req) == ERR.MISSING_PARAMETER
    req = m.request(sub, params)
    req[3] = 3
    assert m.err(sub, req=req) == ERR.INVALID_PARAMETER
    req = m.request(sub, params)
    req[4] = os.urandom(len(req[4]))
    assert m.err(sub, req=req) == ERR.PIN_AUTH_INVALID


def test_mac_covers_the_sub_command_params(populated):
    pinned, creds = populated
    m = Manager(pinned)
    req = m.request(6, {2: descriptor(creds[b"u1"][0])})
    req[2] = {2: descriptor(creds[b"u2"][0])}
    assert m.err(6, req=req) == ERR.PIN_AUTH_INVALID
    assert pinned.auth.store.rk_count() == 4


def test_mac_covers_the_sub_command(populated):
    pinned, _ = populated
    m = Manager(pinned)
    req = m.request(1)
    req[1] = 2
    assert m.err(2, req=req) == ERR.PIN_AUTH_INVALID


def test_needs_cm_permission(populated):
    pinned, _ = populated
    assert Manager(pinned, PERM_MC | PERM_GA).err(1) == ERR.PIN_AUTH_INVALID


def test_no_token_at_all(pinned):
    req = {1: 1, 3: pinned.version, 4: pinned.mac(os.urandom(32), b"\x01")}
    with pytest.raises(CtapError) as e:
        call(pinned.auth, CRED_MGMT, req)
    assert code_of(e) == ERR.PIN_AUTH_INVALID


def test_cm_token_survives_use(populated):
    pinned, creds = populated
    m = Manager(pinned)
    m(1)
    m(2)
    m(6, {2: descriptor(creds[b"u4"][0])})
    assert m(1)[1] == 3


def test_expired_token(populated):
    pinned, _ = populated
    m = Manager(pinned)
    pinned.auth.board.clock.advance(30001)
    assert m.err(1) == ERR.PIN_AUTH_INVALID


def test_token_bound_to_an_rp(populated):
    pinned, creds = populated
    m = Manager(pinned, PERM_CM, "a.example")
    # Nothing that spans RPs.
    assert m.err(1) == ERR.PIN_AUTH_INVALID
    assert m.err(2) == ERR.PIN_AUTH_INVALID
    # Its own RP, yes; another, no.
    assert m(4, {1: rp_hash("a.example")})[9] == 2
    assert m.err(4, {1: rp_hash("b.example")}) == ERR.PIN_AUTH_INVALID
    assert m.err(6, {2: descriptor(creds[b"u3"][0])}) == ERR.PIN_AUTH_INVALID
    assert m.err(7, {2: descriptor(creds[b"u3"][0]), 3: {"id": b"u3"}}) == ERR.PIN_AUTH_INVALID
    m(7, {2: descriptor(creds[b"u1"][0]), 3: {"id": b"u1", "name": "al"}})
    m(6, {2: descriptor(creds[b"u1"][0])})
    assert pinned.auth.store.rk_count() == 3


@pytest.mark.parametrize(
    "req, code",
    [
        ({}, ERR.MISSING_PARAMETER),
        ({1: 0}, ERR.INVALID_SUBCOMMAND),
        ({1: 8}, ERR.INVALID_SUBCOMMAND),
        ({1: "1"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: [1]}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 3: "2"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 4: "mac"}, ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_malformed(pinned, req, code):
    with pytest.raises(CtapError) as e:
        call(pinned.auth, CRED_MGMT, req)
    assert code_of(e) == code


# -- the CTAP 2.1-PRE command ------------------------------------------------------------------------


# libfido2 up to 1.14 sends every credential-management request as 0x41, with
# a token it asked for with the cm permission: the same rules as 0x0A.

ALL_SUBCOMMANDS = [(1, None), (2, None), (4, {1: rp_hash("a.example")}), (7, None), (6, None)]


def test_preview_command_with_a_cm_token(populated):
    pinned, creds = populated
    m = Manager(pinned, cmd=CRED_MGMT_PRE)
    assert m(1)[1] == 4
    first = m(2)
    assert first[5] == 3 and m(3)[4]
    assert m(4, {1: rp_hash("a.example")})[9] == 2
    assert m(6, {2: descriptor(creds[b"u3"][0])}) is None
    assert m(1)[1] == 3


@pytest.mark.parametrize("cmd", [CRED_MGMT, CRED_MGMT_PRE], ids=["0x0a", "0x41"])
@pytest.mark.parametrize("sub, params", ALL_SUBCOMMANDS, ids=["metadata", "rps", "creds", "update", "delete"])
def test_a_get_pin_token_token_manages_nothing(populated, cmd, sub, params):
    """getPinToken grants mc and ga only (CTAP 2.1 §6.5.5.7.1): PIN_AUTH_INVALID, nothing changed."""
    pinned, creds = populated
    if sub in (6, 7):
        params = {2: descriptor(creds[b"u1"][0])}
        if sub == 7:
            params[3] = {"id": b"u1", "name": "mallory"}
    m = Manager(pinned, permissions=None, cmd=cmd, legacy=True)
    assert m.err(sub, params) == ERR.PIN_AUTH_INVALID
    assert pinned.auth.store.rk_count() == 4


@pytest.mark.parametrize("cmd", [CRED_MGMT, CRED_MGMT_PRE], ids=["0x0a", "0x41"])
def test_a_get_pin_token_token_manages_nothing_after_it_was_used(populated, cmd):
    """Used by a makeCredential (its permissions then cleared, §6.1.2 step 14) or not: no cm."""
    pinned, creds = populated
    m = Manager(pinned, permissions=None, cmd=cmd, legacy=True)
    call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, m.token, rp_id="a.example", user_id=b"u5", rk=True))
    assert pinned.auth.store.rk_count() == 5
    for sub, params in [(1, None), (2, None), (6, {2: descriptor(creds[b"u1"][0])})]:
        assert m.err(sub, params) == ERR.PIN_AUTH_INVALID
    assert pinned.auth.store.rk_count() == 5


def test_preview_command_still_needs_the_pin(populated):
    pinned, _ = populated
    m = Manager(pinned, cmd=CRED_MGMT_PRE)
    assert m.err(1, auth=False) == ERR.PUAT_REQUIRED
    pinned.auth.pin_uv.stop_using()
    assert m.err(1) == ERR.PIN_AUTH_INVALID


def test_get_info_advertises_cred_mgmt(pinned):
    assert call(pinned.auth, GET_INFO)[4]["credMgmt"] is True
    assert "credentialMgmtPreview" not in call(pinned.auth, GET_INFO)[4]


# -- CTAP 2.2 read-only management with the persistentPinUvAuthToken (pcmr) -----------------------

PERM_PCMR = 0x40


def test_persistent_token_reads(populated):
    pinned, creds = populated
    m = Manager(pinned, PERM_PCMR)
    assert m(1) == {1: 4, 2: pinned.auth.store.max_resident - 4}
    first = m(2)
    assert first[5] == 3
    assert sorted([first[3]["id"]] + [m(3, auth=False)[3]["id"] for _ in range(2)]) == ["a.example", "b.example", "c.example"]
    begin = m(4, {1: rp_hash("a.example")})
    assert begin[9] == 2
    users = {begin[6]["id"], m(5, auth=False)[6]["id"]}
    assert users == {b"u1", b"u2"}


def test_persistent_token_survives_a_power_cycle(populated):
    from pinhelpers import Platform, power_cycle

    pinned, _ = populated
    m = Manager(pinned, PERM_PCMR)
    auth = power_cycle(pinned.auth)
    m.pinned = Platform(auth, pinned.version)
    assert m(1)[1] == 4


def test_persistent_token_writes_nothing(populated):
    pinned, creds = populated
    m = Manager(pinned, PERM_PCMR)
    cid = creds[b"u1"][0]
    assert m.err(6, {2: descriptor(cid)}) == ERR.PIN_AUTH_INVALID
    assert m.err(7, {2: descriptor(cid), 3: {"id": b"u1", "name": "x"}}) == ERR.PIN_AUTH_INVALID
    assert pinned.auth.store.rk_count() == 4


def test_persistent_token_is_no_cm_token_elsewhere_and_vice_versa(populated):
    pinned, _ = populated
    m = Manager(pinned, PERM_PCMR)
    # A wrong MAC with it, a missing protocol, an unsupported one: the usual errors.
    req = m.request(1)
    req[4] = bytes(len(req[4]))
    assert m.err(1, req=req) == ERR.PIN_AUTH_INVALID
    req = m.request(1)
    del req[3]
    assert m.err(1, req=req) == ERR.MISSING_PARAMETER
    req = m.request(1)
    req[3] = 3
    assert m.err(1, req=req) == ERR.INVALID_PARAMETER
    # The pinUvAuthToken in use is untouched by pcmr, and bound to an RP it still
    # cannot list RPs, while the persistent one can.
    bound = Manager(pinned, PERM_CM, rp_id="a.example")
    assert bound.err(2) == ERR.PIN_AUTH_INVALID
    assert m(2)[5] == 3


def test_persistent_token_ends_with_a_pin_change(populated):
    pinned, _ = populated
    m = Manager(pinned, PERM_PCMR)
    pinned.change_pin(PIN, "5678")
    assert m.err(1) == ERR.PIN_AUTH_INVALID


def test_enumerate_credentials_lists_each_algorithm(pinned):
    """Every passkey's public key under its own algorithm (EdDSA and Ed25519
    as OKP keys, ESP256 as -9), exactly as makeCredential attested it."""
    algs = [entry["alg"] for entry in call(pinned.auth, GET_INFO)[0x0A]]
    attested = {}
    for i, alg in enumerate(algs):
        token = pinned.token(PIN, PERM_MC, "e.example")
        req = mc_with_token(pinned, token, rp_id="e.example", user_id=b"alg%d" % i, rk=True,
                            extra={4: [{"alg": alg, "type": "public-key"}]})
        auth_data = call(pinned.auth, MAKE_CREDENTIAL, req)[2]
        n = int.from_bytes(auth_data[53:55], "big")
        attested[auth_data[55 : 55 + n]] = cbor.decode_from(auth_data[55 + n :])[0]
    m = Manager(pinned)
    listed = [m(4, {1: rp_hash("e.example")})]
    listed += [m(5, auth=False) for _ in algs[1:]]
    assert {r[7]["id"]: r[8] for r in listed} == attested
    assert sorted(r[8][3] for r in listed) == sorted(algs)
    for r in listed:
        assert CoseKey.parse(r[8]).ALGORITHM == r[8][3]
