"""`make firmware-demo`: `make demo`'s browser session against the real firmware on the emulated Pico.

    python tools/firmware_demo.py --firmware build/firmware/rp2040/pyfido-rp2040.uf2 --bootrom B1.bin

The image is flashed onto an erased emulated Pico and provisioned by
tools/provision.py over its USB serial port, as a board is; the emulated
Pico then runs as a key (tools/node/pico/fil.mjs), BOOTSEL pressed whenever
the key asks, and tools/demo.py's session runs against it: INIT, PING,
getInfo, a passkey registered with python-fido2's Fido2Server, and a
sign-in. The emulator's timing of each request (simulated time, first
report in to last report out) is printed at the end.
"""

import argparse
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (REPO, os.path.join(REPO, "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

import demo  # noqa: E402
from pico_emulator import BUTTONS, EmulatedPico, firmware_runtime, provision_template  # noqa: E402

NAMES = {0x01: "PING", 0x06: "INIT", 0x10: "CBOR"}
CBOR_COMMANDS = {0x01: "makeCredential", 0x02: "getAssertion", 0x04: "getInfo"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--firmware", required=True)
    ap.add_argument("--bootrom", required=True)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        print("[pico]   flashing %s and provisioning it with tools/provision.py ..." % args.firmware, flush=True)
        flash = provision_template(args.firmware, args.bootrom, os.path.join(tmp, "flash.bin"))
        pico = EmulatedPico(bootrom=args.bootrom, flash=flash, button=BUTTONS[firmware_runtime(args.firmware)]).start()
        try:
            pico.command("presence", mode="auto")
            ready = pico.wait_event("fido-ready", timeout=180)
            configured = [e for e in pico.events if e["event"] == "usb-configured"][-1]
            print("[pico]   powered up: enumerated as %04x:%04x %r, first CTAPHID INIT answered %.1f ms after power-up"
                  % (configured["vid"], configured["pid"], configured["product"], ready["t_ms"]))
            demo.session(pico.address, demo.Touch("the emulator presses BOOTSEL"))
            print("[pico]   the requests as the emulated USB host timed them (simulated ms, first report in to last out):")
            for r in pico.requests():
                print("           %-6s %6.1f ms" % (NAMES.get(r["cmd"], "0x%02x" % r["cmd"]), r["tLastOut"] - r["tFirstIn"]))
        finally:
            pico.stop()
    print("firmware demo finished")


if __name__ == "__main__":
    main()
