"""User presence on a real board: the button, the LED and U2F's polling, on simulated time.

The key runs as on a Pico: boards/micropython/app.py builds the real
boards.common.ui.Button and Led and boards.common.board_base.Board over the
fakes (host_tests/fakes/), with the real core behind them (make_key,
CTAPHID, U2F and CTAP2). A simulated host (fakes/timed_host.py) polls
U2F_REGISTER / U2F_AUTHENTICATE every 100 ms over CTAPHID_MSG as U2F clients
do, or sends CTAP2 commands; a simulated person holds the button when the
script says. Time is a fakehw.SimClock: it moves only when the key sleeps,
starts 1.5 s before MicroPython's ticks wrap, and every run is the same.
python-fido2 and `cryptography` check the signatures.

Each script runs on CPython and on real MicroPython (WebAssembly), with the
same checks.
"""

import hashlib
import json

import pytest
from fido2 import cbor
from fido2.ctap1 import RegistrationData, SignatureData
from fido2.ctap2 import AssertionResponse, AttestationResponse

import boardkit
from boardkit import hw  # noqa: F401  (fixture)
from boards.common.board_base import TOUCH_LATCH_MS
from boards.common.ui import DEBOUNCE_MS, LONG_PRESS_MS
from test_board_wasm import board_files

POLL_MS = 100  # how often the simulated U2F client asks again
SW_NO_ERROR = 0x9000
SW_CONDITIONS_NOT_SATISFIED = 0x6985
APP = hashlib.sha256(b"example.com").digest()
# Slack for "at once": a request or a press edge is handled within a few turns
# of the main loop, each 1 ms of simulated time.
TURN_MS = 3


def challenge(n):
    return hashlib.sha256(b"challenge %d" % n).digest()


def register(n, at=None, give_up=None):
    r = {"kind": "u2f_register", "challenge": challenge(n).hex(), "app": APP.hex(), "at": at}
    if give_up is not None:
        r["give_up"] = give_up
    return r


def authenticate(n, at=None):
    return {"kind": "u2f_authenticate", "challenge": challenge(n).hex(), "app": APP.hex(), "at": at}


def ctap2(payload, at=None):
    return {"kind": "cbor", "payload": payload.hex(), "at": at}


def tap_script(press_ms):
    """A press of press_ms between two polls of U2F_REGISTER, then a second one for U2F_AUTHENTICATE."""
    first = 250  # between the polls at 200 and 300
    second = first + press_ms + 1000
    return {
        "requests": [register(1, at=0), authenticate(2)],
        "presses": [(first, press_ms), (second, press_ms)],
        "end_ms": second + press_ms + 500,
    }


SCRIPTS = {
    # A tap between two polls approves the next poll: the board latched it.
    "tap-150ms": tap_script(150),
    "tap-300ms": tap_script(300),
    # A 2 s press approves U2F_REGISTER only; U2F_AUTHENTICATE, polled while
    # it is still held, waits for the next press.
    "tap-2s": tap_script(2000),
    # A press 5 s before the request approves nothing. The client gives up
    # after 1 s: the LED stops asking 2 s after its last poll. A press then
    # (nothing asking) is not latched either, though the next request comes
    # 500 ms later.
    "stale-press": {
        "requests": [register(1, at=5000, give_up=1000), register(2, at=9000)],
        "presses": [(0, 150), (8500, 150), (9550, 150)],
        "end_ms": 10000,
    },
    # A client that pauses: a press 800 ms after its last poll is latched and
    # approves its next request; a latched press nobody takes within 2 s
    # is forgotten.
    "late-poll": {
        "requests": [
            register(1, at=0, give_up=300),
            register(2, at=1800),
            register(3, at=5000, give_up=200),
            register(4, at=7500),
        ],
        "presses": [(1000, 150), (5300, 150), (7650, 150)],
        "end_ms": 8500,
    },
    # A button held down before the request began approves nothing, and is
    # not a maintenance press either though held past 5 s: it was down
    # while a request asked. Let go and pressed again, it approves.
    "held-before": {
        "requests": [register(1, at=1000, give_up=1000), register(2, at=6500)],
        "presses": [(0, 6000), (7000, 150)],
        "end_ms": 8000,
    },
    # A press that approved a request, held 7 s, never asks for maintenance.
    "approved-then-held": {
        "requests": [register(1, at=0), authenticate(2)],
        "presses": [(250, 7000), (8000, 150)],
        "end_ms": 9000,
    },
    # Held 5 s while idle: maintenance mode, but the reset waits until the
    # button is let go (an RP2040 reset with BOOTSEL down starts the USB
    # bootloader), the LED off meanwhile, the watchdog (8 s) fed.
    "maintenance": {
        "requests": [],
        "presses": [(500, 14000)],
        "end_ms": 20000,
    },
    # CTAP2 waits inside the request (wait_touch in 10 ms slices): one press,
    # one operation, even a long one. A press latched for a U2F client that
    # paused counts for the next request, a CTAP2 one too.
    "ctap2": {
        "requests": [
            register(1, at=0, give_up=300),
            ctap2(boardkit.make_credential_request(), at=1500),
            ctap2(boardkit.get_assertion_request()),
            ctap2(boardkit.get_assertion_request()),
        ],
        "presses": [(1000, 150), (2500, 2000), (5000, 150)],
        "end_ms": 6000,
    },
}


# -- the checks, the same for both runtimes -------------------------------------------------


def polls_of(request):
    return [tuple(p) for p in request["polls"]]


def check_approved_after_press(request, press_at):
    """Every poll before the press was refused (6985); the first poll after its edge was approved."""
    polls = polls_of(request)
    assert polls, "never sent"
    *refused, (t, sw) = polls
    assert sw == SW_NO_ERROR, polls
    assert all(s == SW_CONDITIONS_NOT_SATISFIED for _, s in refused), polls
    edge = press_at + DEBOUNCE_MS
    # approved by the first poll after the edge, not later
    assert edge <= t + TURN_MS and (not refused or refused[-1][0] < edge + TURN_MS), (press_at, polls)
    assert t < edge + POLL_MS + TURN_MS, (press_at, polls)


def check_refused(request):
    polls = polls_of(request)
    assert polls and all(sw == SW_CONDITIONS_NOT_SATISFIED for _, sw in polls), polls
    assert request["answer"] is None or request["answer"].endswith("6985")


def u2f_answer(request):
    return bytes.fromhex(request["answer"])[:-2]


def check_register(request, n):
    reg = RegistrationData(u2f_answer(request))
    reg.verify(APP, challenge(n))  # the attestation signature over it
    return reg


def check_authenticate(request, n, reg):
    sig = SignatureData(u2f_answer(request))
    assert sig.user_presence & 1
    sig.verify(APP, challenge(n), reg.public_key)
    return sig


def check_no_reset(result):
    assert result["reset_at"] is None and not result["maintenance"]
    assert result["errors"] == 0


def check_tap(result, press_ms):
    script = tap_script(press_ms)
    (first, _), (second, _) = script["presses"]
    reg_req, auth_req = result["requests"]
    check_approved_after_press(reg_req, first)
    reg = check_register(reg_req, 1)
    # The same press never approves U2F_AUTHENTICATE, however long it is held.
    check_approved_after_press(auth_req, second)
    assert polls_of(auth_req)[0][0] <= reg_req["answered_at"] + TURN_MS  # asked at once
    check_authenticate(auth_req, 2, reg)
    check_no_reset(result)


def led_at(result, t):
    """The LED pattern shown at time t."""
    shown = None
    for when, pattern in result["led"]:
        if when > t:
            break
        shown = pattern
    return shown


def check_stale_press(result):
    first, second = result["requests"]
    check_refused(first)
    last_poll = polls_of(first)[-1][0]
    assert last_poll >= 5000 + 1000 - POLL_MS  # it did poll for its whole second
    # The LED asked while the client polled, and stopped TOUCH_LATCH_MS after its last poll.
    assert led_at(result, 4999) == "idle" and led_at(result, 5000 + TURN_MS) == "touch"
    assert led_at(result, last_poll + TOUCH_LATCH_MS - 1) == "touch"
    assert led_at(result, last_poll + TOUCH_LATCH_MS + TURN_MS) == "idle"
    # The press at 8500 (LED steady, nothing asking) did not approve the request at 9000.
    check_approved_after_press(second, 9550)
    assert polls_of(second)[0] == (9000, SW_CONDITIONS_NOT_SATISFIED)
    check_register(second, 2)
    check_no_reset(result)


def check_late_poll(result):
    r1, r2, r3, r4 = result["requests"]
    check_refused(r1)
    # Latched at 1000 (the LED still asked: last poll at 200), taken by the first poll at 1800.
    assert polls_of(r2) == [(1800, SW_NO_ERROR)]
    check_register(r2, 2)
    check_refused(r3)
    # Latched at 5300, forgotten TOUCH_LATCH_MS later: the request at 7500 waits for a new press.
    assert 5300 + DEBOUNCE_MS + TOUCH_LATCH_MS < 7500
    check_approved_after_press(r4, 7650)
    check_register(r4, 4)
    check_no_reset(result)


def check_held_before(result):
    r1, r2 = result["requests"]
    check_refused(r1)  # held since 0: no edge while it asked
    assert len(polls_of(r1)) == 1000 // POLL_MS
    check_approved_after_press(r2, 7000)
    assert polls_of(r2)[0] == (6500, SW_CONDITIONS_NOT_SATISFIED)
    check_register(r2, 2)
    check_no_reset(result)  # held 6 s, but it met a request: no maintenance


def check_approved_then_held(result):
    reg_req, auth_req = result["requests"]
    check_approved_after_press(reg_req, 250)
    reg = check_register(reg_req, 1)
    check_approved_after_press(auth_req, 8000)
    check_authenticate(auth_req, 2, reg)
    assert "off" not in [p for _, p in result["led"]]
    check_no_reset(result)


def check_maintenance(result):
    (press_at, held_ms), = SCRIPTS["maintenance"]["presses"]
    release = press_at + held_ms
    assert result["maintenance"] and result["errors"] == 0
    # Not while held: after the (debounced) release, at once.
    assert release + DEBOUNCE_MS <= result["reset_at"] <= release + DEBOUNCE_MS + TURN_MS
    # The LED went off when the press became a long press, and stayed off.
    long_press = press_at + LONG_PRESS_MS
    assert led_at(result, long_press - 1) == "idle"
    assert [p for t, p in result["led"] if t >= long_press] == ["off"]
    assert led_at(result, long_press + TURN_MS) == "off"
    # 14 s held, 8 s watchdog: it was fed all along.
    assert 0 <= result["wdt_longest_gap"] <= TURN_MS


def check_ctap2(result):
    u2f, mc, ga1, ga2 = result["requests"]
    check_refused(u2f)
    statuses = [polls_of(r)[0][1] for r in (mc, ga1, ga2)]
    assert statuses == [0, 0, 0], statuses
    # makeCredential took the press latched at 1000 at once.
    assert 1500 <= mc["answered_at"] <= 1500 + TURN_MS
    # getAssertion: the 2 s press at 2500; the second, sent while it was held, the press at 5000.
    assert 2500 + DEBOUNCE_MS <= ga1["answered_at"] <= 2500 + DEBOUNCE_MS + TURN_MS
    assert polls_of(ga2)[0][0] < 2500 + 2000
    assert 5000 + DEBOUNCE_MS <= ga2["answered_at"] <= 5000 + DEBOUNCE_MS + TURN_MS
    responses = [(0x10, bytes.fromhex(r["answer"])) for r in (mc, ga1)]
    att, first = boardkit.check_ceremony(responses)
    second = AssertionResponse.from_dict(cbor.decode(bytes.fromhex(ga2["answer"])[1:]))
    second.verify(boardkit.CLIENT_DATA_HASH, att.auth_data.credential_data.public_key)
    assert second.auth_data.is_user_present() and second.auth_data.counter > first.auth_data.counter
    assert AttestationResponse.from_dict(cbor.decode(bytes.fromhex(mc["answer"])[1:])).auth_data.is_user_present()
    check_no_reset(result)


CHECKS = {
    "tap-150ms": lambda r: check_tap(r, 150),
    "tap-300ms": lambda r: check_tap(r, 300),
    "tap-2s": lambda r: check_tap(r, 2000),
    "stale-press": check_stale_press,
    "late-poll": check_late_poll,
    "held-before": check_held_before,
    "approved-then-held": check_approved_then_held,
    "maintenance": check_maintenance,
    "ctap2": check_ctap2,
}
assert set(CHECKS) == set(SCRIPTS)


# -- CPython ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rp2_idle", [False, True], ids=["sleep", "rp2-idle"])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_presence_on_cpython(hw, name, rp2_idle, monkeypatch):
    """Every script on CPython; rp2_idle idles as on an RP2040: FidoInterface.pause()
    (machine.idle) instead of sleep_ms."""
    from run_micropython_key import run_timed
    from boards.micropython import usb_fido
    from boards.rp2040 import config

    if rp2_idle:
        # as sys.platform == "rp2"; the fake machine.idle() lets 1 ms pass
        monkeypatch.setattr(usb_fido, "_SLEEPING_IDLE", True)
    script = SCRIPTS[name]
    result = run_timed(
        config,
        script["requests"],
        script["presses"],
        boardkit.write_settings(hw),
        str(hw / "pyfido.maintenance"),
        poll_ms=POLL_MS,
        end_ms=script["end_ms"],
    )
    CHECKS[name](json.loads(json.dumps(result)))  # as plain as MicroPython's


# -- MicroPython (WebAssembly): every script in one run ------------------------------------------

WASM_SCRIPT = """
import sys
sys.path.insert(0, "/fakes")
import json
import fakehw
import testcrypto
from boards.rp2040 import config
from run_micropython_key import run_timed

def random(n):
    return bytes(testcrypto.random_bytes(n))

scripts = json.loads(%(scripts)r)
for i, name in enumerate(sorted(scripts)):
    script = scripts[name]
    fakehw.reset()
    settings = "/pyfido-%%d.json" %% i
    with open(settings, "w") as f:
        f.write(json.dumps({"store": "/pyfido-%%d" %% i}))
    result = run_timed(config, script["requests"], script["presses"], settings,
                       "/pyfido-%%d.maintenance" %% i, random=random,
                       poll_ms=%(poll_ms)d, end_ms=script["end_ms"])
    print("RESULT", name, json.dumps(result))
"""


@pytest.fixture(scope="module")
def wasm_results():
    from mpy import run_micropython

    script = WASM_SCRIPT % {"scripts": json.dumps(SCRIPTS), "poll_ms": POLL_MS}
    out = run_micropython(script, extra_files=board_files(), timeout=600).stdout
    results = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            _, name, data = line.split(" ", 2)
            results[name] = json.loads(data)
    return results


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_presence_on_micropython(wasm_results, name):
    assert name in wasm_results, "the MicroPython run did not finish this script"
    CHECKS[name](wasm_results[name])


# -- the board alone: the LED when a wink covers the end of a request ------------------------------


def test_a_client_that_gives_up_during_a_wink_leaves_the_led_steady(hw):
    import fakehw
    from boards.common.board_base import Board
    from boards.common.ui import WINK_MS, Button, Led

    clock = fakehw.SimClock()

    class Hid:
        def service(self):
            pass

    board = Board(
        Hid(), clock, Button(lambda: False, clock.ticks_ms, clock.ticks_diff),
        Led(lambda on: None, clock.ticks_ms, clock.ticks_diff), None, None, {},
    )
    shown = board._led

    def idle_for(ms):
        for _ in range(ms):
            board.idle()

    board.wait_touch(0)  # a U2F poll found no press ...
    board.led("touch")  # ... and asked for one; the client then gives up
    idle_for(TOUCH_LATCH_MS - 500)
    board.led("wink")  # CTAPHID_WINK meanwhile
    idle_for(500 + 1)
    assert shown.pattern == "wink"  # the wink goes on ...
    idle_for(WINK_MS)
    assert shown.pattern == "idle"  # ... and ends on "idle", not on a "touch" nothing uses


# -- CTAP 2.2 longTouchForReset (CPython; the board's wait_long_touch) --------------------------

LONG_TOUCH_SCRIPT = {
    # getInfo says a long touch; a reset answered by a short press is
    # refused; the next reset takes a press held past LONG_TOUCH_MS (and a
    # press that long, made while a request asks, is no maintenance press).
    "requests": [
        ctap2(bytes([0x04]), at=0),
        ctap2(bytes([0x07]), at=200),
        ctap2(bytes([0x07]), at=1500),
    ],
    "presses": [(500, 300), (2000, 6500)],
    "end_ms": 9500,
}


@pytest.mark.parametrize("long_touch", [True, False], ids=["long-touch", "no-long-touch"])
def test_reset_with_a_long_touch(hw, long_touch):
    from run_micropython_key import run_timed
    from boards.common.ui import LONG_TOUCH_MS
    from boards.rp2040 import config

    result = run_timed(
        config,
        LONG_TOUCH_SCRIPT["requests"],
        LONG_TOUCH_SCRIPT["presses"],
        boardkit.write_settings(hw, long_touch_for_reset=long_touch),
        str(hw / "pyfido.maintenance"),
        poll_ms=POLL_MS,
        end_ms=LONG_TOUCH_SCRIPT["end_ms"],
    )
    result = json.loads(json.dumps(result))
    info, short, held = result["requests"]
    info = cbor.decode(bytes.fromhex(info["answer"])[1:])
    if not long_touch:
        assert 0x18 not in info
        # Without the setting, the short press resets the key at once.
        assert polls_of(short)[0][1] == 0
        assert 500 + DEBOUNCE_MS <= short["answered_at"] <= 500 + DEBOUNCE_MS + TURN_MS
        return
    assert info[0x18] is True and info[0x1A] == ["usb"]
    # The short press: OPERATION_DENIED as soon as it is let go.
    assert polls_of(short)[0][1] == 0x27
    assert 800 <= short["answered_at"] <= 800 + DEBOUNCE_MS + TURN_MS
    # The long one: answered once held LONG_TOUCH_MS (from the contact), while still held.
    assert polls_of(held)[0][1] == 0
    assert 2000 + LONG_TOUCH_MS <= held["answered_at"] <= 2000 + DEBOUNCE_MS + LONG_TOUCH_MS + TURN_MS
    check_no_reset(result)
