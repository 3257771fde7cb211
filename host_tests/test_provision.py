"""tools/provision.py against a fake mpremote that records the commands and plays the board."""

import ast
import importlib.util
import json
import os
import re
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(REPO, "host_tests", "fake_mpremote.py")

_spec = importlib.util.spec_from_file_location("provision", os.path.join(REPO, "tools", "provision.py"))
provision = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provision)

PICO = {
    "runtime": "micropython", "version": [1, 27, 0], "platform": "rp2",
    "machine": "Raspberry Pi Pico with RP2040", "free": 800 * 1024, "p256": True, "hashlib": True,
    "usb_device_hid": False, "build": None, "provisioned": False, "passkeys": 0, "readonly": False,
}
# What pyfido_build (frozen by `make firmware`) tells the probe.
BUILD = {"board": "rp2040", "adapter": "rp2040", "firmware_version": [0, 1, 0], "git": "v0.1-2-gabcdef0"}


class Rig:
    def __init__(self, tmp_path, monkeypatch, **probe):
        self.board_path = tmp_path / "board.json"
        self.log_path = tmp_path / "log.jsonl"
        self.tmp = tmp_path
        board = {"probe": dict(PICO, **probe)}
        self.board_path.write_text(json.dumps(board))
        self.log_path.write_text("")
        monkeypatch.setenv("FAKE_MPREMOTE_BOARD", str(self.board_path))
        monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(self.log_path))

    def set(self, **changes):
        board = self.board
        board.update(changes)
        self.board_path.write_text(json.dumps(board))

    @property
    def board(self):
        return json.loads(self.board_path.read_text())

    @property
    def log(self):
        return [json.loads(l) for l in self.log_path.read_text().splitlines()]

    def run(self, *args):
        return provision.main(["--mpremote", "%s %s" % (sys.executable, FAKE), "--port", "/dev/ttyACM9"] + list(args))


@pytest.fixture
def rig(tmp_path, monkeypatch):
    return Rig(tmp_path, monkeypatch)


def copied(rig):
    return rig.board.get("files", {})


def test_fresh_pico_gets_compiled_core_adapter_and_dependencies(rig, capsys):
    assert rig.run() == 0
    files = copied(rig)
    assert "/main.py" in files and "/boot.py" in files and "/pyfido.json" in files
    assert "/firmware/ctaphid.mpy" in files and "/firmware/ctap2/make_credential.mpy" in files
    assert "/lib/cbor.mpy" in files and "/boards/micropython/usb_fido.mpy" in files
    assert "/boards/rp2040/config.mpy" in files and "/boards/esp32s3/config.mpy" not in files
    assert not any(f.startswith("/boards/circuitpython") or f.startswith("/boards/host") for f in files)
    assert not any(f.endswith(".py") and f not in ("/main.py", "/boot.py") for f in files)  # compiled
    # .mpy files really are mpy-cross output (magic 'M', version 6)
    assert bytes.fromhex(files["/firmware/ctaphid.mpy"])[:2] == b"M\x06"
    settings = json.loads(bytes.fromhex(files["/pyfido.json"]))
    assert settings["repl"] is False  # locked by default
    log = rig.log
    assert ["connect", "/dev/ttyACM9", "resume", "mip", "install", "usb-device-hid"] in log
    execs = [c[4] for c in log if c[3:4] == ["exec"]]
    assert any("p.init()" in e for e in execs) and any("selftest.run()" in e for e in execs)
    # init and self-test come after the copy, the reset last
    assert log[-1] == ["connect", "/dev/ttyACM9", "resume", "reset"]
    assert rig.board["resets"] == 1
    assert "self-test passed" in capsys.readouterr().out


def test_usb_identity_and_pins_go_into_the_settings(rig):
    assert rig.run("--vid", "0x1234", "--pid", "0x00ab", "--product", "Key", "--button", "GP15", "--repl") == 0
    settings = json.loads(bytes.fromhex(copied(rig)["/pyfido.json"]))
    assert settings == {"vid": 0x1234, "pid": 0xAB, "product": "Key", "button": "GP15", "repl": True}


def test_long_touch_for_reset_goes_into_the_settings(rig):
    assert rig.run("--button", "GP15", "--long-touch-for-reset") == 0
    settings = json.loads(bytes.fromhex(copied(rig)["/pyfido.json"]))
    assert settings["long_touch_for_reset"] is True


def test_no_board_found(rig, capsys):
    rig.set(present=False)
    assert rig.run() == 1
    err = capsys.readouterr().err
    assert "No board found" in err and "hold its button for 5 seconds" in err


def test_wrong_runtime(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, runtime="cpython", platform="linux")
    assert rig.run() == 1
    assert "not MicroPython or CircuitPython" in capsys.readouterr().err
    assert not copied(rig)


def test_micropython_too_old(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, version=[1, 22, 2])
    assert rig.run() == 1
    assert "1.22.2 on rp2040 is too old: the adapter needs 1.23.0" in capsys.readouterr().err


def test_esp32_without_s3_is_refused(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, platform="esp32", machine="Generic ESP32 module with ESP32")
    assert rig.run() == 1
    assert "needs an ESP32S3" in capsys.readouterr().err


def test_esp32s3_gets_its_own_pins_and_a_newer_minimum(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, platform="esp32", machine="ESP32S3 module with ESP32S3", version=[1, 24, 1])
    assert rig.run() == 1
    assert "needs 1.25.0" in capsys.readouterr().err
    rig.set(probe=dict(rig.board["probe"], version=[1, 27, 0]))
    assert rig.run() == 0
    assert "/boards/esp32s3/config.mpy" in copied(rig)


def test_filesystem_full_is_found_before_copying(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, free=60 * 1024)
    assert rig.run() == 1
    err = capsys.readouterr().err
    assert "filesystem is full" in err and "make firmware" in err
    assert not copied(rig)


def test_filesystem_filling_up_during_the_copy(rig, capsys):
    rig.set(used=790 * 1024)  # other files the probe's estimate did not see
    assert rig.run() == 1
    assert "filesystem is full" in capsys.readouterr().err


def test_already_provisioned_key_is_refused_and_says_what_is_lost(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, provisioned=True, passkeys=3, usb_device_hid=True)
    assert rig.run() == 1
    err = capsys.readouterr().err
    assert "already is a PyFIDO key" in err and "3 passkey(s)" in err and "master secret" in err
    assert "--force" in err
    assert not copied(rig) and not any("p.wipe()" in " ".join(c) for c in rig.log)


def test_force_wipes_then_provisions(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, provisioned=True, passkeys=3, usb_device_hid=True)
    assert rig.run("--force") == 0
    execs = [c[4] for c in rig.log if c[3:4] == ["exec"]]
    wipe = next(i for i, e in enumerate(execs) if "p.wipe()" in e)
    init = next(i for i, e in enumerate(execs) if "p.init()" in e)
    assert wipe < init
    assert not any(c[3:5] == ["mip", "install"] for c in rig.log)  # already there
    assert "erasing the existing key" in capsys.readouterr().out


def test_missing_p256_module_is_explained(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, p256=False)
    monkeypatch.setattr(provision, "NATMOD_BUILD", str(tmp_path / "natmod"))  # whatever build/ holds
    assert rig.run() == 1
    err = capsys.readouterr().err
    assert "no P-256 module" in err and "armv6m" in err
    assert "make firmware-p256-natmod" in err and "boards/README.md" in err


def test_p256_native_module_is_taken_from_the_natmod_build(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch, p256=False)
    monkeypatch.setattr(provision, "NATMOD_BUILD", str(tmp_path / "natmod"))
    (tmp_path / "natmod" / "armv6m").mkdir(parents=True)
    (tmp_path / "natmod" / "armv6m" / "p256.mpy").write_bytes(b"M\x06\x0a" + bytes(30))
    assert rig.run() == 0
    assert copied(rig)["/lib/p256.mpy"] == (b"M\x06\x0a" + bytes(30)).hex()


def test_p256_native_module_is_copied_when_the_firmware_lacks_it(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch, p256=False)
    natmod = tmp_path / "p256.mpy"
    natmod.write_bytes(b"M\x06\x0a" + bytes(20))
    assert rig.run("--p256-mpy", str(natmod)) == 0
    assert copied(rig)["/lib/p256.mpy"] == natmod.read_bytes().hex()


def frozen_image(tmp_path, monkeypatch, **probe):
    """A board running a `make firmware` image: core, adapter, usb-device-hid and p256 inside."""
    return Rig(tmp_path, monkeypatch, build=dict(BUILD), usb_device_hid=True, p256=True, **probe)


def test_frozen_core_copies_only_the_entry_point_and_the_settings(tmp_path, monkeypatch, capsys):
    rig = frozen_image(tmp_path, monkeypatch)
    assert rig.run() == 0
    assert sorted(copied(rig)) == ["/boot.py", "/main.py", "/pyfido.json"]
    assert not any(c[3:5] == ["mip", "install"] for c in rig.log)
    out = capsys.readouterr().out
    assert "found a frozen core: a `make firmware` image for rp2040, key firmware 0.1.0, built from v0.1-2-gabcdef0" in out
    assert "copying only the entry points and the settings" in out
    assert "note:" not in out  # same key firmware as this checkout
    # the store and the self-test still run on the board, with the frozen core
    execs = [c[4] for c in rig.log if c[3:4] == ["exec"]]
    assert any("p.init()" in e for e in execs) and any("selftest.run()" in e for e in execs)


def test_frozen_core_is_told_by_the_build_marker_not_by_file(tmp_path, monkeypatch):
    """Frozen modules have __file__ (MicroPython 1.27+): the probe looks for pyfido_build instead."""
    assert "'__file__'" not in provision.PROBE
    assert "_frozen('pyfido_build')" in provision.PROBE
    rig = Rig(tmp_path, monkeypatch, usb_device_hid=True)  # stock firmware: no marker
    assert rig.run() == 0
    assert "/firmware/ctaphid.mpy" in copied(rig)


def test_copies_a_stock_install_left_are_removed_under_a_frozen_core(tmp_path, monkeypatch, capsys):
    """'' is before '.frozen' on sys.path: /firmware and /boards would be imported instead."""
    rig = frozen_image(tmp_path, monkeypatch)
    left = {"/firmware/ctaphid.mpy": "00", "/firmware/ctap2/get_info.mpy": "00", "/boards/common/ui.mpy": "00",
            "/lib/cbor.mpy": "00", "/lib/p256.mpy": "00", "/lib/usb/device/hid.mpy": "00", "/main.py": "00"}
    rig.set(files=dict(left))
    assert rig.run() == 0
    assert sorted(copied(rig)) == ["/boot.py", "/lib/usb/device/hid.mpy", "/main.py", "/pyfido.json"]
    assert "removing the core's copies left on the filesystem" in capsys.readouterr().out
    execs = [c[4] for c in rig.log if c[3:4] == ["exec"]]
    removed = next(i for i, e in enumerate(execs) if "PYFIDO-REMOVED" in e)
    assert removed < next(i for i, e in enumerate(execs) if "p.init()" in e)  # before the core is imported


def test_stock_firmware_keeps_what_is_on_the_filesystem(tmp_path, monkeypatch):
    rig = Rig(tmp_path, monkeypatch, usb_device_hid=True)
    rig.set(files={"/lib/usb/device/hid.mpy": "00"})
    assert rig.run() == 0
    assert not any("PYFIDO-REMOVED" in " ".join(c) for c in rig.log)


def test_frozen_core_of_another_key_firmware_version_is_noted(tmp_path, monkeypatch, capsys):
    rig = frozen_image(tmp_path, monkeypatch)
    rig.set(probe=dict(rig.board["probe"], build=dict(BUILD, firmware_version=[0, 0, 9])))
    assert rig.run() == 0
    out = capsys.readouterr().out
    assert "note: this checkout is key firmware" in out and "keeps running 0.0.9" in out


def test_error_messages_point_at_documents_in_the_repository():
    for doc in set(re.findall(r"\b[\w/-]+\.md\b", open(os.path.join(REPO, "tools", "provision.py")).read())):
        assert os.path.exists(os.path.join(REPO, doc)), doc


def test_a_damaged_store_stops_provisioning_and_says_how_to_reset(rig, capsys):
    rig.set(init="PYFIDO-INIT damaged state: no copy of the record passes its check value")
    assert rig.run() == 1
    err = capsys.readouterr().err
    assert "damaged (state: no copy of the record passes its check value)" in err and "--force" in err
    assert "resets" not in rig.board


def test_the_boards_half_reports_a_damaged_store_and_keeps_it(monkeypatch, capsys):
    from boards.common import provision_device
    from boards.host.memory_storage import MemoryStorage

    damaged = {"state": bytes(40), "rk000": bytes(40)}
    storage = MemoryStorage(damaged)
    monkeypatch.setattr(provision_device, "_storage", lambda: storage)
    monkeypatch.setattr(provision_device.st, "load", lambda d: {"store": "/pyfido", "max_resident_credentials": 8})
    provision_device.init()
    # the last line: CPython may first print Blinka's board warnings (provision_device looks for
    # CircuitPython's microcontroller module, which Blinka provides here)
    assert capsys.readouterr().out.splitlines()[-1] == "PYFIDO-INIT damaged state: no copy of the record passes its check value"
    assert storage.files == damaged


def test_selftest_failure_stops_before_the_reset(rig, capsys):
    rig.set(selftest="PYFIDO-SELFTEST FAIL p256 verify (known answer)\nPYFIDO-SELFTEST FAILED 1")
    assert rig.run() == 1
    assert "self-test failed" in capsys.readouterr().err
    assert "resets" not in rig.board


def test_attestation_key_made_on_the_board_is_certified_by_the_ca(rig, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca_dir = tmp_path / "ca"
    spec = importlib.util.spec_from_file_location("make_attestation", os.path.join(REPO, "tools", "make_attestation.py"))
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    mk.main(["--out", str(ca_dir)])
    assert rig.run("--attestation-ca", str(ca_dir)) == 0
    board = rig.board
    cert = x509.load_der_x509_certificate(bytes.fromhex(board["attestation_certificate"]))
    pub = cert.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert pub.hex() == board["attestation_public_key"]  # the board's key; its private half never left
    ca = x509.load_pem_x509_certificate((ca_dir / "attestation-ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ou = cert.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert ou == "Authenticator Attestation"


def test_circuitpython_first_install_goes_through_the_drive(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, runtime="circuitpython", version=[9, 2, 1], platform="RP2040",
              machine="Raspberry Pi Pico with rp2040", readonly=True, hashlib=False)
    monkeypatch.setattr(provision, "wait_for_board", lambda board: board.probe())
    assert rig.run() == 1
    assert "--circuitpy-drive" in capsys.readouterr().err
    drive = tmp_path / "CIRCUITPY"
    drive.mkdir()
    assert rig.run("--circuitpy-drive", str(drive)) == 0
    for name in ("boot.py", "code.py", "safemode.py", "pyfido.json", "firmware/ctaphid.py",
                 "boards/circuitpython/setup.py", "lib/adafruit_hid/__init__.py", "lib/hashlib.py",
                 "lib/_pyfido_sha256.py", "lib/cbor.py"):
        assert (drive / name).exists(), name
    assert json.loads((drive / "pyfido.json").read_text())["repl"] is True  # console kept for the install
    # After the reset: init and self-test over the console, then the final settings, then reset.
    assert json.loads(bytes.fromhex(copied(rig)["/pyfido.json"]))["repl"] is False
    assert all(c[2] == "resume" for c in rig.log if c[0] == "connect")  # never a soft reset
    assert rig.board["resets"] == 2
    # Each reset is sent without following: the port goes away with the board.
    resets = [c for c in rig.log if any("microcontroller.reset()" in a for a in c)]
    assert len(resets) == 2 and all(c[3:5] == ["exec", "--no-follow"] for c in resets)


def test_a_following_exec_that_resets_fails_like_mpremote(tmp_path, monkeypatch, capsys):
    """The fake plays what made the first CircuitPython install abort ("mpremote exec failed"):
    `mpremote exec` that resets the board exits non-zero when its port goes away."""
    rig = Rig(tmp_path, monkeypatch, runtime="circuitpython", version=[10, 2, 1], platform="RP2040")
    board = provision.Board(["%s" % sys.executable, FAKE], "/dev/ttyACM9")
    with pytest.raises(provision.ProvisionError, match="(?s)mpremote exec .*failed:.*device disconnected"):
        board.exec(provision.CIRCUITPYTHON_RESET)
    board.reset_circuitpython()
    assert rig.board["resets"] == 2


def test_circuitpython_drive_files_can_be_staged(tmp_path, monkeypatch, capsys):
    """--stage-drive: the first install's files for the CIRCUITPY drive, written into a folder
    (a drive mounted elsewhere, or the emulated Pico's FAT); nothing is run on the board."""
    rig = Rig(tmp_path, monkeypatch, runtime="circuitpython", version=[10, 2, 1], platform="RP2040",
              machine="Raspberry Pi Pico with rp2040", readonly=True,
              build=dict(BUILD, board="raspberry_pi_pico"))
    stage = tmp_path / "stage"
    assert rig.run("--stage-drive", str(stage)) == 0
    names = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file())
    assert names == ["boot.py", "code.py", "pyfido.json", "safemode.py"]  # the core is frozen in
    assert json.loads((stage / "pyfido.json").read_text())["repl"] is True
    assert "copy them onto the CIRCUITPY drive" in capsys.readouterr().out
    assert [c for c in rig.log if "exec" in c and "PYFIDO-PROBE" not in c[-1]] == []
    assert rig.board.get("resets", 0) == 0


def test_circuitpython_without_p256_is_refused_before_anything_is_copied(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path, monkeypatch, runtime="circuitpython", version=[10, 2, 1], platform="RP2040",
              machine="Raspberry Pi Pico with rp2040", readonly=False, p256=False)
    mpy = tmp_path / "p256.mpy"
    mpy.write_bytes(b"M\x06")  # a MicroPython native module: CircuitPython refuses those
    assert rig.run("--p256-mpy", str(mpy)) == 1
    err = capsys.readouterr().err
    assert "This CircuitPython has no p256 module" in err
    assert "make firmware RUNTIME=circuitpython BOARD=raspberry_pi_pico" in err
    assert copied(rig) == {}


def test_probe_and_removal_run_on_micropython(tmp_path):
    """The probe and the removal script on real MicroPython (WebAssembly, which freezes asyncio):
    a pyfido_build.py on the filesystem is not a frozen core, a frozen module is found, sys.path
    is left as it was, and removal takes whole directories."""
    from mpy import run_micropython

    spec = importlib.util.spec_from_file_location("firmware_manifest", os.path.join(REPO, "tools", "firmware_manifest.py"))
    fm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fm)
    probe = provision.PROBE % {"store": provision.STORE_DIR, "stale": list(provision.STALE_WITH_FROZEN_CORE)}
    script = "import sys\n_before = list(sys.path)\n" + probe + (
        "print('SAME-PATH', sys.path == _before)\n"
        "print('FROZEN-ASYNCIO', _frozen('asyncio') is not None)\n"
        "import pyfido_build\n"  # the file on the filesystem is importable the ordinary way
        "print('DECOY', pyfido_build.BOARD)\n"
        "import os\n"
        "print('FIRMWARE-FILES', len([n for n in os.listdir('/firmware') if n.endswith('.py')]) + "
        "len([n for n in os.listdir('/firmware/ctap2') if n.endswith('.py')]))\n"
    ) + provision.REMOVE % (["/firmware", "/nothing-here"],) + (
        "print('LEFT', 'firmware' in os.listdir('/'))\n")
    out = run_micropython(script, extra_files={"/pyfido_build.py": fm.marker("rp2040", describe="x")}).stdout
    lines = dict(l.split(" ", 1) for l in out.splitlines() if " " in l)
    info = ast.literal_eval(lines["PYFIDO-PROBE"])
    assert info["build"] is None and info["stale"] == []
    assert lines["SAME-PATH"] == "True" and lines["FROZEN-ASYNCIO"] == "True" and lines["DECOY"] == "rp2040"
    assert int(lines["PYFIDO-REMOVED"]) == int(lines["FIRMWARE-FILES"]) > 20
    assert lines["LEFT"] == "False"


def test_micropython_entry_points_stay_inside_littlefs_directories():
    """littlefs keeps a file of up to 512 bytes inside its directory on the Pico (inline_max,
    host_tests/lfs_flash.py); a longer one takes a whole 4 KB block, one passkey fewer
    (boards/README.md, How many passkeys a board keeps)."""
    for local, dest in provision.entry_points("micropython"):
        assert os.path.getsize(local) <= 512, dest


@pytest.mark.parametrize("blocks,capacity", [(352, 256), (212, 120)])
def test_the_passkey_capacity_of_the_boards_filesystem_goes_into_the_settings(tmp_path, monkeypatch, blocks, capacity):
    """The key then needs no os.statvfs at boot (it walks the whole littlefs filesystem):
    the Pico's 1408 KiB keep 256 passkeys, the Pico W's 848 KiB 120 (boards/rp2040/config.py)."""
    rig = Rig(tmp_path, monkeypatch, blocks=blocks)
    assert rig.run() == 0
    assert json.loads(bytes.fromhex(copied(rig)["/pyfido.json"]))["max_resident_credentials"] == capacity


def test_without_the_filesystems_size_the_key_works_it_out_itself(rig):
    assert rig.run() == 0  # the probe of PICO has no "blocks"
    assert "max_resident_credentials" not in json.loads(bytes.fromhex(copied(rig)["/pyfido.json"]))


def test_an_image_with_frozen_entry_points_gets_only_the_settings(tmp_path, monkeypatch, capsys):
    """A `make firmware` image freezes boot.py and main.py too (pyfido_build.ENTRY_POINTS)."""
    rig = Rig(tmp_path, monkeypatch, build=dict(BUILD, entry_points=["boot.py", "main.py"]), usb_device_hid=True,
              p256=True)
    assert rig.run() == 0
    assert sorted(copied(rig)) == ["/pyfido.json"]
    assert "copying only the settings" in capsys.readouterr().out
