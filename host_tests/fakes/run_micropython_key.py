"""Run boards/micropython/app.main() against the fakes until the simulated host is done.

Used by host_tests/test_board_micropython.py, test_board_presence.py and
test_board_wasm.py, on CPython and on MicroPython. _main() is the one place
that knows how the adapter starts.
"""

import fakehw
from ctaphid_host import CtapHidHost


def run(chip_config, messages, settings_file, maintenance_flag, random=None, max_turns=5000, on_turn=None):
    """The host afterwards (host.board: the key's Board) and what app.main() returned.

    on_turn(n), if given, is called on every turn of the key's main loop.
    """
    return fakehw.with_settings(settings_file, maintenance_flag, _run, chip_config, messages, random, max_turns, on_turn)


def _main(chip_config, host, random, stop, clock=None):
    """/boot.py's app.boot() then /main.py's app.main(stop) on the fakes, as MicroPython runs them.

    The Board they build is handed to host.board; returns main()'s result.
    """
    from boards.micropython import app
    import usb.device.core

    app.chip_config = lambda: chip_config
    if random is not None:
        app._urandom = random
    if clock is not None:
        app.Clock = lambda: clock
    build = app.build

    def build_and_watch(settings, hid=None):
        board = build(settings, hid)
        host.board = board
        return board

    host.board = None
    app.build = build_and_watch
    usb.device.core._forget()
    fakehw.HOST = host
    try:
        app.boot()
        return app.main(stop)
    finally:
        app.build = build


def _run(chip_config, messages, random, max_turns, on_turn):
    import usb.device

    host = CtapHidHost(messages)
    turns = [0]

    def stop():
        usb.device.get().pump()
        turns[0] += 1
        if on_turn is not None:
            on_turn(turns[0])
        if turns[0] > max_turns:
            raise AssertionError("the key did not finish in %d loop turns: %r" % (max_turns, (host.cid, host.responses, host.keepalives[-3:], fakehw.EVENTS[-5:])))
        return host.done

    result = _main(chip_config, host, random, stop)
    return host, result


def run_timed(chip_config, requests, presses, settings_file, maintenance_flag, random=None, poll_ms=100, end_ms=10000):
    """Run app.main() on simulated time against a timed_host.TimedHost until end_ms or a reset.

    Returns the host's record (timed_host.TimedHost.result) plus what the
    board did: errors (exceptions the main loop logged), wdt_longest_gap (ms
    between two watchdog feeds, up to the end) and maintenance (the flag
    file written).
    """
    return fakehw.with_settings(
        settings_file, maintenance_flag, _run_timed, chip_config, requests, presses, random, poll_ms, end_ms, maintenance_flag
    )


def _run_timed(chip_config, requests, presses, random, poll_ms, end_ms, maintenance_flag):
    import os

    import machine
    import usb.device
    from timed_host import TimedHost

    clock = fakehw.SimClock()
    fakehw.CLOCK = clock
    host = TimedHost(requests, presses, poll_ms, end_ms)

    def stop():
        usb.device.get().pump()
        return host.done

    try:
        _main(chip_config, host, random, stop, clock)
    except machine.ResetCalled:
        host.reset_at = host.now()  # the clock stands still between reset() and here
    result = host.result()
    wdt = fakehw.WATCHDOG
    if wdt is not None:
        wdt.gap()
    result["wdt_longest_gap"] = None if wdt is None else wdt.longest_gap
    result["errors"] = host.board.errors
    try:
        os.stat(maintenance_flag)
        result["maintenance"] = True
    except OSError:
        result["maintenance"] = False
    return result
