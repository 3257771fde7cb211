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
    GET_ASSERTION,
    MAKE_CREDENTIAL,
    PERM_GA,
    PERM_MC,
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


if __name__ == "__main__":
    main()
