"""The firmware's own speed and heap: a built RP2040 image on the emulated Pico, driven over emulated USB.

    python tools/bench_firmware.py --firmware build/firmware/rp2040/pyfido-rp2040.uf2 --bootrom B1.bin
    make bench-firmware FIRMWARE=... BOOTROM=...

For each CPU clock (--mhz, default 125 and 200) the image is flashed onto an
erased emulated Pico and provisioned with tools/provision.py --cpu-mhz N,
then measured in simulated time (rp2040js's M0+ cycle model at the clock
the firmware set), each request from the first report the key takes to the
last report of its answer:

  power-up -> first INIT answered   the emulator's USB host enumerates the
                                    key as soon as it pulls D+ up and sends
                                    CTAPHID INIT at once
  heap free after start             gc.mem_free() as the firmware would say
                                    it, read from SRAM (tools/firmware_heap.py;
                                    needs the image's .elf next to the .uf2;
                                    MicroPython only: CircuitPython 10's heap
                                    is split and grows on demand from its outer
                                    heap, MICROPY_GC_SPLIT_HEAP_AUTO, and its
                                    ELF has no DWARF description of mp_state_ctx)
  getInfo, makeCredential, getAssertion (allowList, up=false),
  PIN token (getPinUvAuthTokenUsingPinWithPermissions, protocol 2),
  hmac-secret getAssertion, discoverable makeCredential

The image may be MicroPython's (`make firmware BOARD=rp2040`) or
CircuitPython's (`make firmware RUNTIME=circuitpython`; the runtime is read
from the image): the same requests, the same clocks (CircuitPython boots at
125 MHz and its key sets settings "cpu_mhz" from boot.py, as MicroPython's
does from its start).

makeCredential and hmac-secret (CTAP 2.1 §12.5) need a touch: the key's
button (BOOTSEL; GP15 for CircuitPython) is pressed the moment the key sends KEEPALIVE UPNEEDED (or, when it is still
held from the previous request, 60 ms after it was let go: the emulator's
auto presence, tools/node/pico/fil.mjs), and the figure is the total less
the time from that keepalive to the end of the debounce of the press the
key took (boards/common/ui.py DEBOUNCE_MS), i.e. the key's own work. The reference measured in the same run is lib/p256's ECDSA
signature on the same Cortex-M0+ model (the bare-metal build of
`make p256-m0`, cycles at that clock): each request is also shown as a
multiple of it. The host sends the reports of a request no closer together
than the FIDO OUT endpoint's bInterval as Linux serves it (4 ms for the
MicroPython key's 5 ms, 8 ms for CircuitPython's fixed 8 ms), so a request
of n reports takes at least (n - 1) of those. Not modelled by the emulator:
flash cache misses (every XIP read costs one cycle), the frame a transfer
waits for and the IN endpoint's polling (an answer's reports cross the bus
at once), a PC's 100 ms attach debounce; flash erase and program take the
W25Q16JV's typical times.
Numbers, never pass/fail.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (REPO, os.path.join(REPO, "tools"), os.path.join(REPO, "lib"), os.path.join(REPO, "build", "host"),
          os.path.join(REPO, "host_tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

from pico_emulator import BUTTONS, EmulatedPico, firmware_runtime  # noqa: E402

# Figures measured once on v1.28.0 before this work (issue 12), and the goals.
BEFORE = {"getInfo": 14.2, "makeCredential": 74.7, "getAssertion": 46.0, "first INIT": 242.0, "heap free": 203744}
GOALS = {"getInfo": 3.0, "makeCredential": 55.0, "getAssertion": 35.0, "first INIT": 50.0}
CBOR = 0x10
PIN = "12345678"


def p256_sign_cycles():
    """lib/p256's sign on the bare-metal M0+ build (make p256-m0), in cycles; None when not built."""
    image = os.path.join(REPO, "build", "m0", "p256_m0.bin")
    if not os.path.exists(image):
        return None
    calls = [{"op": "sign", "args": ["11" * 32, "22" * 32, ""]}]
    r = subprocess.run(["node", os.path.join(REPO, "tools", "node", "run_p256_m0.mjs"), image],
                       input=json.dumps(calls), capture_output=True, text=True, timeout=300, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError("the bare-metal P-256 run failed:\n" + r.stderr)
    result = json.loads(r.stdout)["results"][0]
    if result["rc"] != 0:
        raise RuntimeError("the bare-metal P-256 sign returned %d" % result["rc"])
    return result["cycles"]


class Bench:
    def __init__(self, firmware, bootrom, elf, mhz, runs, log):
        self.firmware = firmware
        self.bootrom = bootrom
        self.elf = elf
        self.mhz = mhz
        self.runs = runs
        self.log = log
        self.tmp = tempfile.mkdtemp(prefix="bench-firmware-")
        self.rows = {}
        self.runtime = firmware_runtime(firmware)
        self.button = BUTTONS[self.runtime]  # BOOTSEL, or CircuitPython's GP15

    def provision(self):
        from firmware_key import provision_template

        return provision_template(self.firmware, self.bootrom, os.path.join(self.tmp, "flash.bin"),
                                  ["--cpu-mhz", str(self.mhz)])

    def run(self):
        flash = self.provision()
        pico = EmulatedPico(bootrom=self.bootrom, flash=flash, button=self.button).start()
        try:
            ready = [pico.wait_event("fido-ready", timeout=300)["t_ms"]]
            self.rows["heap free"] = self.heap_free(pico)
            for _ in range(self.runs - 1):
                ready.append(pico.power_cycle(timeout=300)["t_ms"])
            self.rows["first INIT"] = ready
            self.requests(pico)
        finally:
            pico.stop()
        return self.rows

    def heap_free(self, pico):
        if not self.elf or self.runtime != "micropython":
            return None
        import firmware_heap

        layout = firmware_heap.heap_layout(self.elf)

        def read(address, length):
            return bytes.fromhex(pico.query_read(address, length))

        time.sleep(0.5)  # the main loop is idle: nothing of the INIT left but garbage collected at start
        return firmware_heap.free_bytes(layout, read)[0]

    def _timed(self, pico, fn, name, touch=False):
        pico.requests()  # forget what came before
        times = []
        for _ in range(self.runs):
            m = pico.mark()
            fn()
            reqs = [r for r in pico.requests() if r["cmd"] == CBOR]
            r = reqs[-1]
            total = r["tLastOut"] - r["tFirstIn"]
            if touch:
                from boards.common.ui import DEBOUNCE_MS

                # The press the key took: the last one before its answer
                # (a press still held from the previous request is not a
                # new press, so it can take a later one).
                taps = [e for e in pico.events[m:] if e["event"] in ("bootsel", "button") and e["pressed"]
                        and e["t_ms"] < r["tFirstOut"]]
                if r.get("tUpNeeded") is None or not taps:
                    raise RuntimeError("%s: no touch was asked for or given" % name)
                total -= taps[-1]["t_ms"] + DEBOUNCE_MS - r["tUpNeeded"]
            times.append(total)
        self.rows[name] = times
        self.rows.setdefault("reports in", {})[name] = r["packetsIn"]

    def requests(self, pico):
        from fido2.ctap2 import ClientPin, Ctap2
        from fido2.ctap2.pin import PinProtocolV2

        pico.command("presence", mode="auto")
        dev = pico.open_device()
        ctap = Ctap2(dev)
        cdh = hashlib.sha256(b"bench").digest()
        rp = {"id": "example.com", "name": "Example"}
        user = {"id": b"bench-user", "name": "bench"}
        es256 = [{"type": "public-key", "alg": -7}]
        self._timed(pico, ctap.get_info, "getInfo")
        creds = []
        self._timed(pico, lambda: creds.append(ctap.make_credential(cdh, rp, user, es256)), "makeCredential", touch=True)
        cred_id = creds[-1].auth_data.credential_data.credential_id
        allow = [{"type": "public-key", "id": cred_id}]
        self._timed(pico, lambda: ctap.get_assertion(rp["id"], cdh, allow, options={"up": False}), "getAssertion")
        self._timed(pico, lambda: ctap.make_credential(cdh, rp, user, es256, options={"rk": True}),
                    "makeCredential rk", touch=True)
        client_pin = ClientPin(ctap, PinProtocolV2())
        client_pin.set_pin(PIN)
        self._timed(pico, lambda: client_pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, rp["id"]),
                    "PIN token")
        token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION,
                                         rp["id"])
        proto = client_pin.protocol
        att = ctap.make_credential(cdh, rp, user, es256, extensions={"hmac-secret": True},
                                   pin_uv_param=proto.authenticate(token, cdh), pin_uv_protocol=proto.VERSION)
        hmac_allow = [{"type": "public-key", "id": att.auth_data.credential_data.credential_id}]

        def hmac_assertion():
            # hmac-secret's input built as a platform builds it (CTAP 2.1 §12.5)
            key_agreement, shared_secret = client_pin._get_shared_secret()
            salt = hashlib.sha256(b"salt").digest()
            salt_enc = proto.encrypt(shared_secret, salt)
            salt_auth = proto.authenticate(shared_secret, salt_enc)
            ctap.get_assertion(rp["id"], cdh, hmac_allow, extensions={
                "hmac-secret": {1: key_agreement, 2: salt_enc, 3: salt_auth, 4: proto.VERSION}})

        self._timed(pico, hmac_assertion, "hmac-secret getAssertion", touch=True)  # §12.5: needs presence
        dev.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--firmware", required=True, help="the .uf2 image (make firmware BOARD=rp2040)")
    ap.add_argument("--bootrom", required=True, help="the RP2040 B1 boot ROM image (16384 bytes)")
    ap.add_argument("--elf", help="the image's .elf (default: next to the .uf2); for the heap figure")
    ap.add_argument("--mhz", default="125,200", help="CPU clocks to measure at (comma-separated)")
    ap.add_argument("--runs", type=int, default=5, help="measurements per figure (the median is shown)")
    ap.add_argument("--json", help="also write the raw figures here")
    args = ap.parse_args(argv)
    elf = args.elf or os.path.splitext(args.firmware)[0] + ".elf"
    if not os.path.exists(elf):
        print("note: no %s, so no heap figure" % elf)
        elf = None
    sign_cycles = p256_sign_cycles()
    results = {}
    for mhz in [int(x) for x in args.mhz.split(",")]:
        print("measuring at %d MHz ..." % mhz, flush=True)
        results[mhz] = Bench(args.firmware, args.bootrom, elf, mhz, args.runs, log=print).run()
    report(results, sign_cycles, firmware_runtime(args.firmware))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "p256_sign_cycles": sign_cycles}, f, indent=1)
    return 0


def report(results, sign_cycles, runtime="micropython"):
    clocks = sorted(results)
    names = ["first INIT", "getInfo", "makeCredential", "getAssertion", "PIN token", "hmac-secret getAssertion",
             "makeCredential rk"]
    print()
    # The goals and the figures before issue 12 are MicroPython's.
    mp = runtime == "micropython"
    goals = GOALS if mp else {}
    befores = BEFORE if mp else {}
    print("%s firmware on the emulated Pico (rp2040js, simulated time; median of each figure, ms)" % (
        "MicroPython" if mp else "CircuitPython"))
    head = "%-26s" % "" + "".join("%12s" % ("%d MHz" % c) for c in clocks) + (
        "%10s%10s" % ("goal", "before") if mp else "")
    print(head)
    for name in names:
        cells = []
        for c in clocks:
            v = results[c].get(name)
            cells.append("%12.1f" % statistics.median(v) if v else "%12s" % "-")
        goal = goals.get(name)
        before = befores.get(name)
        print("%-26s" % name + "".join(cells) + ("%10s%10s" % (("<= %g" % goal) if goal else "",
                                                                ("%g" % before) if before else "") if mp else ""))
    cells = []
    for c in clocks:
        v = results[c].get("heap free")
        cells.append("%12s" % ("{:,}".format(v) if v else "-"))
    print("%-26s" % "heap free after start (B)" + "".join(cells) + (
        "%10s%10s" % ("", "{:,}".format(BEFORE["heap free"])) if mp else "  (not read on CircuitPython)"))
    reports = results[clocks[0]].get("reports in") or {}
    if reports:
        print("output reports per request: " + ", ".join("%s %d" % (n, reports[n]) for n in names if n in reports))
    if sign_cycles:
        print()
        print("Reference in this run: lib/p256 sign on the same M0+ model, %d cycles = %s" % (
            sign_cycles, ", ".join("%.1f ms at %d MHz" % (sign_cycles / (c * 1000.0), c) for c in clocks)))
        for name in ("getAssertion", "makeCredential"):
            print("  %-22s" % name + ", ".join("%.2fx sign at %d MHz" % (
                statistics.median(results[c][name]) / (sign_cycles / (c * 1000.0)), c) for c in clocks if results[c].get(name)))


if __name__ == "__main__":
    sys.exit(main())
