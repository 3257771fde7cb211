"""Benchmark: what the PIN costs on the virtual key.

Prints numbers and ratios against references measured in the same run, never
pass/fail:

  token        getPinUvAuthTokenUsingPinWithPermissions (ECDH, KDF, AES, the
               PIN check with its two flash writes) per protocol, against a
               getAssertion with an allowList (one ECDSA signature)
  mc/ga        makeCredential / getAssertion with a pinUvAuthParam against the
               same command without one: the price of checking the token
  flash wear   storage operations per PIN check (the retry counter written
               before and after the comparison), against one signature-
               counter reservation, the key's other routine write
  CTAP 2.2     getInfo under a persistentPinUvAuthToken (two fresh IVs and
               AES blocks over the cached answer) against getInfo without a
               PIN; getInfo rebuilt after a change with 64 passkeys
               (encCredStoreState hashes the index); the pcmr token against
               a cm token; getCredsMetadata with each

Runs the core on CPython (handlers through the router, RAM storage), so the
absolute times are the host's; the ratios say what PIN/UV adds.

    .venv/bin/python tools/bench_pin.py
"""

import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("build/host", "boards/host", "lib", "host_tests", ""):
    sys.path.insert(0, os.path.join(REPO, sub))

from pinhelpers import (  # noqa: E402
    CRED_MGMT,
    GET_ASSERTION,
    GET_INFO,
    MAKE_CREDENTIAL,
    PERM_CM,
    PERM_GA,
    PERM_MC,
    PERM_PCMR,
    Platform,
    call,
    credential_id_of,
    ga_request,
    ga_with_token,
    make_auth,
    mc_request,
    mc_with_token,
)

ROUNDS = 200
PIN = "271828"


def median_ms(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2] * 1e3


def timed(prepare, run, rounds=ROUNDS):
    """Median milliseconds of run(prepare(i)); prepare (the platform's side) is not timed."""
    samples = []
    for i in range(rounds):
        arg = prepare(i)
        t0 = time.perf_counter()
        run(arg)
        samples.append(time.perf_counter() - t0)
    return median_ms(samples)


def main():
    auth = make_auth()
    Platform(auth, 2).set_pin(PIN)
    cred = credential_id_of(call(auth, MAKE_CREDENTIAL, mc_request()))
    ga_plain = timed(lambda i: ga_request(allow=[cred]), lambda r: call(auth, GET_ASSERTION, r))
    mc_plain = timed(lambda i: mc_request(user_id=b"u%d" % i), lambda r: call(auth, MAKE_CREDENTIAL, r))
    print("reference    getAssertion (allowList, no PIN)   %7.3f ms" % ga_plain)
    print("reference    makeCredential (no PIN)            %7.3f ms" % mc_plain)

    for version in (2, 1):
        plat = Platform(auth, version)
        token = timed(lambda i: plat.token_request(PIN, PERM_MC | PERM_GA), lambda r: call(auth, 0x06, r))
        print(
            "protocol %d   token with permissions             %7.3f ms  (x%.2f a getAssertion)"
            % (version, token, token / ga_plain)
        )
        # A token is consumed by each ceremony: a fresh one per request, minted untimed.
        mc_pin = timed(
            lambda i: mc_with_token(plat, plat.token(PIN, PERM_MC), user_id=b"v%d" % i),
            lambda r: call(auth, MAKE_CREDENTIAL, r),
        )
        ga_pin = timed(
            lambda i: ga_with_token(plat, plat.token(PIN, PERM_GA), allow=[cred]),
            lambda r: call(auth, GET_ASSERTION, r),
        )
        print(
            "protocol %d   makeCredential with PIN token      %7.3f ms  (x%.2f without)" % (version, mc_pin, mc_pin / mc_plain)
        )
        print(
            "protocol %d   getAssertion with PIN token        %7.3f ms  (x%.2f without)" % (version, ga_pin, ga_pin / ga_plain)
        )

    storage = auth.board.storage
    req = Platform(auth, 2).token_request(PIN, PERM_GA)
    before = storage.writes
    call(auth, 0x06, req)
    per_pin = storage.writes - before
    # The signature counter reserves 64 values per write + rename.
    before = storage.writes
    for _ in range(64):
        call(auth, GET_ASSERTION, ga_request(allow=[cred]))
    per_64_sigs = storage.writes - before
    print(
        "flash wear   storage ops per PIN check          %7d     (x%.1f one counter reservation: %d ops per 64 signatures)"
        % (per_pin, per_pin / max(per_64_sigs, 1), per_64_sigs)
    )
    ctap22(auth)


def ctap22(auth):
    """CTAP 2.2: what the persistent token and the encrypted getInfo members cost."""
    fresh = make_auth()
    info_plain = timed(lambda i: None, lambda r: call(fresh, GET_INFO))
    print("reference    getInfo (no PIN, cached)           %7.3f ms" % info_plain)
    info_enc = timed(lambda i: None, lambda r: call(auth, GET_INFO))
    print("CTAP 2.2     getInfo, persistent token          %7.3f ms  (x%.2f without)" % (info_enc, info_enc / info_plain))
    plat = Platform(auth, 2)
    for i in range(64):
        call(auth, MAKE_CREDENTIAL, mc_with_token(plat, plat.token(PIN, PERM_MC), user_id=b"rk%d" % i, rk=True))
    store = auth.store

    def touch_store(i):
        store.changes += 1  # as any record write does: the next getInfo is built anew

    rebuilt = timed(touch_store, lambda r: call(auth, GET_INFO), rounds=50)
    print("CTAP 2.2     getInfo rebuilt, 64 passkeys       %7.3f ms  (x%.2f the cached one)" % (rebuilt, rebuilt / info_enc))
    cm = timed(lambda i: plat.token_request(PIN, PERM_CM), lambda r: call(auth, 0x06, r), rounds=50)
    pcmr = timed(lambda i: plat.token_request(PIN, PERM_PCMR), lambda r: call(auth, 0x06, r), rounds=50)
    print("CTAP 2.2     pcmr token                         %7.3f ms  (x%.2f a cm token)" % (pcmr, pcmr / cm))
    cm_token = plat.token(PIN, PERM_CM)
    p_token = plat.token(PIN, PERM_PCMR)
    meta_cm = timed(lambda i: {1: 1, 3: 2, 4: plat.mac(cm_token, b"\x01")}, lambda r: call(auth, CRED_MGMT, r))
    meta_p = timed(lambda i: {1: 1, 3: 2, 4: plat.mac(p_token, b"\x01")}, lambda r: call(auth, CRED_MGMT, r))
    print("CTAP 2.2     getCredsMetadata, persistent token %7.3f ms  (x%.2f with a cm token)" % (meta_p, meta_p / meta_cm))


if __name__ == "__main__":
    main()
