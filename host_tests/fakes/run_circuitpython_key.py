"""Run boards/circuitpython (boot.py, then code.py) against the fakes until the simulated host is done.

Used by host_tests/test_board_circuitpython.py on CPython and on MicroPython.
"""

import fakehw
from ctaphid_host import CtapHidHost


def run(chip_config, messages, settings_file, maintenance_flag, random=None, max_turns=5000):
    return fakehw.with_settings(settings_file, maintenance_flag, _run, chip_config, messages, random, max_turns)


def _run(chip_config, messages, random, max_turns):
    from boards.circuitpython import app, setup
    import usb_hid

    setup.boot(chip_config)
    usb_hid._start_code_py()
    if random is not None:
        app._urandom = random
    host = CtapHidHost(messages)
    fakehw.HOST = host
    turns = [0]

    def stop():
        turns[0] += 1
        if turns[0] > max_turns:
            raise AssertionError("the key did not finish in %d loop turns: %r" % (max_turns, (host.cid, host.responses, fakehw.EVENTS[-5:])))
        return host.done

    result = app.main(stop, chip_config)
    return host, result
