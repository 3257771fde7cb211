"""The firmware-in-the-loop emulator's own parts (tools/node/pico), on rp2040js without firmware or boot ROM.

tools/node/pico/check_tools.mjs drives them on a bare emulated RP2040:
  - usb_host.mjs hands the packets of a multi-packet IN transfer on in the
    order the controller sends them: rp2040js queues buffer 1 of a
    double-buffered endpoint before buffer 0, and CTAPHID's answers of
    several reports in one transfer (firmware/ctaphid.py _send_batch)
    reached the host swapped;
  - profile.mjs (tools/profile_firmware.py) follows calls and returns: each
    function's calls and inclusive time, and an empty call stack once
    everything has returned.
"""

import json
import os
import shutil
import subprocess

import pytest

from mpy import REPO

SCRIPT = os.path.join(REPO, "tools", "node", "pico", "check_tools.mjs")
SRAM = 0x20000000


@pytest.fixture(scope="module")
def results():
    if shutil.which("node") is None:
        pytest.fail("node is not installed: `make node-deps` installs it")
    if not os.path.isdir(os.path.join(REPO, "tools", "node", "node_modules", "rp2040js")):
        subprocess.run(["make", "node-deps"], cwd=REPO, check=True)
    r = subprocess.run(["node", SCRIPT], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return {d["case"]: d for d in map(json.loads, r.stdout.splitlines())}


def test_a_double_buffered_in_transfer_reaches_the_host_in_order(results):
    assert results["usb-in-order"]["double"] == [1, 2]  # buffer 0 (the first packet) first
    assert results["usb-in-order"]["single"] == [1]


def test_profile_follows_calls_and_returns(results):
    p = results["profile"]
    # main: BL f; B .   f (0x10): PUSH {LR}; BL g; POP {PC}   g (0x20): NOP; NOP; BX LR
    assert p["open"] == 0  # every frame ended with its return
    inclusive = {fn - SRAM: (ns, calls) for fn, ns, calls in p["inclusive"]}
    assert sorted(inclusive) == [0x10, 0x20]
    assert inclusive[0x10][1] == 1 and inclusive[0x20][1] == 1
    assert inclusive[0x10][0] > inclusive[0x20][0] > 0  # f's time includes g's
    flat = {pc - SRAM: cycles for pc, cycles in p["pcs"]}
    assert set(flat) == {0x00, 0x04, 0x10, 0x12, 0x16, 0x20, 0x22, 0x24}
    assert all(c > 0 for c in flat.values())
