"""Where a firmware request spends its cycles: a flat C profile from the emulated Pico.

    python tools/profile_firmware.py --firmware build/firmware/rp2040/pyfido-rp2040.uf2 \\
        --bootrom B1.bin [--mhz 125] [--request getInfo] [--top 40]

Provisions the image on an erased emulated Pico (as tools/bench_firmware.py
does), then, for each request named, turns the emulator's profile on
(tools/node/pico/fil.mjs "profile": cycles per instruction address), sends
the request once and prints the functions of the image (symbols from its
.elf, next to the .uf2) that the cycles went to, with the time the chip
slept (WFI/WFE) apart. A flat profile of C functions: Python code shows up
as the interpreter's own functions (mp_execute_bytecode, mp_map_lookup,
gc_alloc, ...), library code (hashlib, cryptolib, p256) by name. For the
split of a request between Python functions, time them on the chip with
time.ticks_us() over the REPL instead.

Numbers, never pass/fail; simulated time, rp2040js's M0+ cycle model (one
cycle per flash read: no XIP cache misses).
"""

import argparse
import bisect
import hashlib
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (REPO, os.path.join(REPO, "tools"), os.path.join(REPO, "lib"), os.path.join(REPO, "build", "host"),
          os.path.join(REPO, "host_tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

from pico_emulator import BUTTONS, EmulatedPico, firmware_runtime  # noqa: E402


class Symbols:
    """Function symbols of an ELF file (address -> name), and the frozen Python functions' bytecode."""

    def __init__(self, elf_path):
        from elftools.elf.elffile import ELFFile

        funcs = {}
        self.bytecode = {}  # address of a frozen fun_data_<module>_<name> array -> "module.name"
        with open(elf_path, "rb") as f:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            for sym in symtab.iter_symbols():
                kind = sym["st_info"]["type"]
                if kind == "STT_OBJECT" and sym.name.startswith("fun_data_"):
                    self.bytecode[sym["st_value"]] = sym.name[len("fun_data_"):].replace("__lt_module_gt_", "<module>")
                if kind != "STT_FUNC" or not sym.name:
                    continue
                addr = sym["st_value"] & ~1
                size = sym["st_size"]
                if addr not in funcs or funcs[addr][0] < size:
                    funcs[addr] = (size, sym.name)
        self._starts = sorted(funcs)
        self._funcs = funcs
        self.addresses = {name: addr for addr, (size, name) in funcs.items()}

    def name(self, address):
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            start = self._starts[i]
            size, name = self._funcs[start]
            if address < start + max(size, 2):
                return name
        if address < 0x4000:
            return "(boot ROM)"
        return "(0x%08x)" % address

    def python(self, bytecode):
        if bytecode == 0:
            return "(no Python)"
        if bytecode == 1:
            return "(interrupt handlers)"
        name = self.bytecode.get(bytecode)
        return ("py " + name) if name else "py (bytecode at 0x%08x)" % bytecode


def summarize(profile, symbols):
    """{function: cycles}, most first."""
    by_func = {}
    for address, cycles in profile["pcs"]:
        name = symbols.name(address)
        by_func[name] = by_func.get(name, 0) + cycles
    return sorted(by_func.items(), key=lambda kv: -kv[1])


def print_profile(title, profile, symbols, top, python_top=8):
    mhz = profile["clk_sys"] / 1e6
    busy = sum(c for _, c in profile["pcs"]) + profile["other_cycles"]
    print("%s: %.2f ms in all at %g MHz: %.2f ms running (%d cycles), %.2f ms asleep" % (
        title, profile["ns"] / 1e6, mhz, busy / mhz / 1e3, busy, profile["slept_ns"] / 1e6))
    print(" self time by C function:")
    for name, cycles in summarize(profile, symbols)[:top]:
        print("  %8.3f ms %5.1f%%  %s" % (cycles / mhz / 1e3, 100.0 * cycles / busy, name))
    inclusive = []
    for key, ns, calls in profile.get("inclusive", ()):
        name = symbols.python(-key) if key < 0 else symbols.name(key)
        inclusive.append((ns, calls, name))
    inclusive.sort(reverse=True)
    print(" inclusive time (call to return, sleep included) by function:")
    for ns, calls, name in inclusive[:top]:
        print("  %8.3f ms %6d calls  %s" % (ns / 1e6, calls, name))
    by_py = {}
    for py, fn, cycles in profile.get("by_py", ()):
        entry = by_py.setdefault(py, [0, {}])
        entry[0] += cycles
        cname = symbols.name(fn) if fn else "(interpreter)"
        entry[1][cname] = entry[1].get(cname, 0) + cycles
    print(" self time by Python function (its own bytecode and the C it calls, not the Python it calls):")
    for py, (cycles, fns) in sorted(by_py.items(), key=lambda kv: -kv[1][0])[:top]:
        parts = sorted(fns.items(), key=lambda kv: -kv[1])[:python_top]
        print("  %8.3f ms  %s" % (cycles / mhz / 1e3, symbols.python(py)))
        print("             " + ", ".join("%s %.3f" % (n, c / mhz / 1e3) for n, c in parts))


def profiled(pico, fn, symbols):
    """Run fn() with the emulator's profile on; the profile event."""
    m = pico.mark()
    pico.command("profile", action="start", fun_bc_call=symbols.addresses.get("fun_bc_call", 0))
    pico.status()  # the start is in effect once the emulator answered a later command
    fn()
    pico.command("profile", action="stop")
    return pico.wait_event("profile", since=m, timeout=60)


def requests(ctap, dev):
    from fido2.hid import CTAPHID

    cdh = hashlib.sha256(b"profile").digest()
    rp = {"id": "example.com", "name": "Example"}
    user = {"id": b"profile-user", "name": "profile"}
    es256 = [{"type": "public-key", "alg": -7}]
    state = {}

    def make_credential():
        state["cred"] = ctap.make_credential(cdh, rp, user, es256)

    def get_assertion():
        cred_id = state["cred"].auth_data.credential_data.credential_id
        ctap.get_assertion(rp["id"], cdh, [{"type": "public-key", "id": cred_id}], options={"up": False})

    def pin_token():
        from fido2.ctap2 import ClientPin
        from fido2.ctap2.pin import PinProtocolV2

        client_pin = ClientPin(ctap, PinProtocolV2())
        if not ctap.get_info().options.get("clientPin"):
            client_pin.set_pin("12345678")
        state["pin"] = client_pin
        # the profile covers getKeyAgreement and getPinUvAuthTokenUsingPinWithPermissions
        state["token"] = client_pin.get_pin_token("12345678", ClientPin.PERMISSION.GET_ASSERTION
                                                  | ClientPin.PERMISSION.MAKE_CREDENTIAL, rp["id"])

    def hmac_secret():
        client_pin, proto = state["pin"], state["pin"].protocol
        if "hmac_cred" not in state:
            att = ctap.make_credential(cdh, rp, user, es256, extensions={"hmac-secret": True},
                                       pin_uv_param=proto.authenticate(state["token"], cdh),
                                       pin_uv_protocol=proto.VERSION)
            state["hmac_cred"] = att.auth_data.credential_data.credential_id
        key_agreement, shared_secret = client_pin._get_shared_secret()
        salt_enc = proto.encrypt(shared_secret, hashlib.sha256(b"salt").digest())
        ctap.get_assertion(rp["id"], cdh, [{"type": "public-key", "id": state["hmac_cred"]}], extensions={
            "hmac-secret": {1: key_agreement, 2: salt_enc, 3: proto.authenticate(shared_secret, salt_enc),
                            4: proto.VERSION}})

    return [("PING 8 B", lambda: dev.call(CTAPHID.PING, b"12345678")), ("getInfo", ctap.get_info),
            ("makeCredential", make_credential), ("getAssertion", get_assertion), ("PIN token", pin_token),
            ("hmac-secret getAssertion", hmac_secret)]


# What a request needs done before it: getAssertion a credential, hmac-secret a token.
NEEDED = {"getAssertion": ("makeCredential",), "hmac-secret getAssertion": ("PIN token",)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--firmware", required=True)
    ap.add_argument("--bootrom", required=True)
    ap.add_argument("--elf", help="the image's .elf (default: next to the .uf2)")
    ap.add_argument("--mhz", type=int, default=125)
    ap.add_argument("--flash", help="a provisioned flash image to start from, the firmware flashed over it "
                    "(default: provision one)")
    ap.add_argument("--request", action="append", help="PING 8 B, getInfo, makeCredential, getAssertion, PIN token, "
                    "hmac-secret getAssertion (default: all)")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args(argv)
    from fido2.ctap2 import Ctap2
    from firmware_key import provision_template

    elf = args.elf or os.path.splitext(args.firmware)[0] + ".elf"
    symbols = Symbols(elf)
    tmp = tempfile.mkdtemp(prefix="profile-firmware-")
    flash = os.path.join(tmp, "flash.bin")
    if args.flash:
        with open(args.flash, "rb") as src, open(flash, "wb") as dst:
            dst.write(src.read())
    else:
        provision_template(args.firmware, args.bootrom, flash, ["--cpu-mhz", str(args.mhz)])
    # A given flash image may come from another build: the image goes on top
    # (its sectors only; the filesystem, with the settings, stays).
    pico = EmulatedPico(firmware=args.firmware if args.flash else None, bootrom=args.bootrom, flash=flash,
                        button=BUTTONS[firmware_runtime(args.firmware)]).start()
    try:
        pico.wait_event("fido-ready", timeout=300)
        pico.command("presence", mode="auto")
        dev = pico.open_device()
        ctap = Ctap2(dev)
        wanted = args.request
        for name, fn in requests(ctap, dev):
            if wanted and name not in wanted and name not in NEEDED.get(tuple(wanted), ()) and not any(
                    name in NEEDED.get(w, ()) for w in wanted):
                continue
            profile = profiled(pico, fn, symbols)
            if not wanted or name in wanted:
                print_profile(name, profile, symbols, args.top)
                print()
        dev.close()
    finally:
        pico.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
