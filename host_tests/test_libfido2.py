"""libfido2 (Yubico's C library, Debian libfido2-dev) as a second real client.

tools/libfido2/harness.c drives the virtual key through libfido2's own
CTAPHID and CTAP2 code over the socket transport (fido_dev_set_io_functions)
and prints what libfido2 parsed; attestations are checked with
fido_cred_verify_self / fido_cred_verify and assertions with
fido_assert_verify. The harness is built by `make libfido2-harness`
(tools/mk/hardening.mk), which this module runs: a missing compiler or
library fails the tests, it never skips them.
"""

import os
import subprocess

import pytest
from fido2.ctap2 import Ctap2

from firmware.authenticator import AAGUID

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(REPO, "build", "libfido2-harness")

# libfido2 error codes (fido/err.h) the tests expect
FIDO_ERR_CREDENTIAL_EXCLUDED = 0x19
FIDO_ERR_NO_CREDENTIALS = 0x2E
FIDO_ERR_NOT_ALLOWED = 0x30
# authenticator data flags
UP, AT = 0x01, 0x40


@pytest.fixture(scope="session")
def harness():
    r = subprocess.run(
        ["make", "-s", "-f", "tools/mk/hardening.mk", "libfido2-harness"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 or not os.access(HARNESS, os.X_OK):
        pytest.fail("could not build the libfido2 harness:\n" + r.stdout + r.stderr)
    return HARNESS


class Result(dict):
    """name=value lines; a name given several times maps to a list."""

    def all(self, name):
        v = self.get(name, [])
        return v if isinstance(v, list) else [v]


def run(harness, key, *args, expect_error=None):
    p = subprocess.run([harness, key.address] + list(args), capture_output=True, text=True, timeout=120)
    out = Result()
    for line in p.stdout.splitlines():
        name, _, value = line.partition("=")
        if name in out:
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[name] = value
    if expect_error is None:
        assert p.returncode == 0, "harness %s failed (%d):\n%s%s" % (args, p.returncode, p.stdout, p.stderr)
    else:
        assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
        assert int(out["error"].split("code=")[1]) == expect_error, out
    return out


def make(harness, key, rp, user, rk=True, *extra, **kw):
    out = run(harness, key, "make", rp, user.hex(), "rk" if rk else "plain", *extra, **kw)
    return out


def test_cbor_info(harness, virtual_key):
    out = run(harness, virtual_key, "info")
    auth = virtual_key.authenticator
    assert out["ctaphid.protocol"] == "2"
    assert out["ctaphid.version"] == "%d.%d.%d" % auth.firmware_version
    assert int(out["ctaphid.flags"]) == auth.capabilities
    assert out["is_fido2"] == "1"
    assert out.all("version") == auth.versions()
    assert out["aaguid"] == AAGUID.hex()
    assert int(out["maxmsgsiz"]) == auth.max_msg_size
    assert int(out["maxcredcntlst"]) == auth.max_credential_count_in_list
    assert out.all("transport") == auth.transports
    assert out.all("algorithm") == ["public-key:-7"]
    options = {k[len("option.") :]: v == "1" for k, v in out.items() if k.startswith("option.")}
    assert options == auth.options()
    assert int(out["rk_remaining"]) == auth.store.rk_remaining()
    # what the key does not do, libfido2 must not believe it does
    assert out["supports_pin"] == ("1" if "clientPin" in auth.options() else "0")
    assert out["supports_credman"] == ("1" if "credMgmt" in auth.options() else "0")


@pytest.mark.parametrize("rk", [True, False])
def test_make_credential_and_verify_attestation(harness, virtual_key, rk):
    out = make(harness, virtual_key, "example.com", b"\x01\x02", rk)
    assert out["fmt"] == "packed"
    assert out["attestation_verify"] == "ok"
    assert out["aaguid"] == AAGUID.hex()
    assert int(out["flags"]) == UP | AT
    assert len(bytes.fromhex(out["pubkey"])) == 64  # ES256 x || y
    assert virtual_key.authenticator.store.rk_count() == (1 if rk else 0)


@pytest.mark.parametrize("rk", [True, False])
def test_get_assertion_with_allow_list_verifies(harness, virtual_key, rk):
    cred = make(harness, virtual_key, "example.com", b"u", rk)
    pair = "%s:%s" % (cred["id"], cred["pubkey"])
    counters = [int(cred["sigcount"])]
    for _ in range(3):
        out = run(harness, virtual_key, "assert", "example.com", "--allow", cred["id"], "--cred", pair)
        assert out["count"] == "1"
        assert out["assertion.0.id"] == cred["id"]
        assert out["assertion.0.verify"] == "ok"
        assert int(out["assertion.0.flags"]) & UP
        counters.append(int(out["assertion.0.sigcount"]))
    assert counters == sorted(set(counters)), counters  # strictly increasing


def test_assertion_against_the_wrong_key_fails_verification(harness, virtual_key):
    a = make(harness, virtual_key, "example.com", b"a", False)
    b = make(harness, virtual_key, "example.com", b"b", False)
    p = subprocess.run(
        [harness, virtual_key.address, "assert", "example.com", "--allow", a["id"], "--cred", "%s:%s" % (a["id"], b["pubkey"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 3 and "assertion.0.verify=FIDO_ERR_INVALID_SIG" in p.stdout, p.stdout


def test_discoverable_credentials_come_newest_first_via_get_next_assertion(harness, virtual_key):
    creds = [make(harness, virtual_key, "example.com", bytes([i]) * 4, True) for i in range(1, 4)]
    make(harness, virtual_key, "other.example", b"zz", True)
    pairs = []
    for c in creds:
        pairs += ["--cred", "%s:%s" % (c["id"], c["pubkey"])]
    out = run(harness, virtual_key, "assert", "example.com", *pairs)
    assert out["count"] == "3"
    ids = [out["assertion.%d.id" % i] for i in range(3)]
    assert ids == [c["id"] for c in reversed(creds)]
    assert [out["assertion.%d.user_id" % i] for i in range(3)] == [(bytes([i]) * 4).hex() for i in (3, 2, 1)]
    assert all(out["assertion.%d.verify" % i] == "ok" for i in range(3))


def test_replacing_the_same_user_keeps_one_credential(harness, virtual_key):
    old = make(harness, virtual_key, "example.com", b"same", True)
    new = make(harness, virtual_key, "example.com", b"same", True)
    out = run(harness, virtual_key, "assert", "example.com", "--cred", "%s:%s" % (new["id"], new["pubkey"]))
    assert out["count"] == "1" and out["assertion.0.id"] == new["id"] != old["id"]
    assert out["assertion.0.verify"] == "ok"


def test_no_credentials(harness, virtual_key):
    run(harness, virtual_key, "assert", "nothing.example", expect_error=FIDO_ERR_NO_CREDENTIALS)
    cred = make(harness, virtual_key, "example.com", b"u", False)
    # an ID made for another RP names nothing here
    run(harness, virtual_key, "assert", "other.example", "--allow", cred["id"], expect_error=FIDO_ERR_NO_CREDENTIALS)


def test_exclude_list(harness, virtual_key):
    cred = make(harness, virtual_key, "example.com", b"u", False)
    make(harness, virtual_key, "example.com", b"v", True, "--exclude", cred["id"], expect_error=FIDO_ERR_CREDENTIAL_EXCLUDED)
    assert virtual_key.authenticator.store.rk_count() == 0


def test_credentials_cross_between_python_fido2_and_libfido2(harness, virtual_key, device):
    """Registered by python-fido2, asserted by libfido2 -- and the reverse."""
    ctap2 = Ctap2(device)
    r = ctap2.make_credential(os.urandom(32), {"id": "example.com"}, {"id": b"py"}, [{"type": "public-key", "alg": -7}])
    cd = r.auth_data.credential_data
    pk = cd.public_key[-2] + cd.public_key[-3]
    out = run(harness, virtual_key, "assert", "example.com", "--allow", cd.credential_id.hex(), "--cred", "%s:%s" % (cd.credential_id.hex(), pk.hex()))
    assert out["assertion.0.verify"] == "ok" and int(out["assertion.0.sigcount"]) > r.auth_data.counter

    cred = make(harness, virtual_key, "example.com", b"c", True)
    cdh = os.urandom(32)
    a = ctap2.get_assertion("example.com", cdh, [{"type": "public-key", "id": bytes.fromhex(cred["id"])}])
    from fido2.cose import ES256

    raw = bytes.fromhex(cred["pubkey"])
    ES256({1: 2, 3: -7, -1: 1, -2: raw[:32], -3: raw[32:]}).verify(bytes(a.auth_data) + cdh, a.signature)


def test_reset(harness, key_factory):
    key = key_factory()
    cred = make(harness, key, "example.com", b"u", True)
    run(harness, key, "reset")
    assert key.authenticator.store.rk_count() == 0
    run(harness, key, "assert", "example.com", "--allow", cred["id"], expect_error=FIDO_ERR_NO_CREDENTIALS)


def test_reset_refused_after_the_boot_window(harness, tmp_path):
    from boards.host.board import FakeClock
    from boards.host.virtual_key import VirtualKey

    clock = FakeClock()
    key = VirtualKey(str(tmp_path / "late.sock"), clock=clock).start()
    try:
        clock.advance(10_001)
        run(harness, key, "reset", expect_error=FIDO_ERR_NOT_ALLOWED)
    finally:
        key.stop()
