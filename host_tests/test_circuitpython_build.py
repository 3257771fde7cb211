"""make firmware RUNTIME=circuitpython (tools/mk/circuitpython_firmware.mk) and what it freezes
(tools/circuitpython_firmware.py), against a fake CircuitPython source tree.

The fake tree's Makefiles record how they were called and produce an image,
so the command line, the frozen tree and its build marker, each
prerequisite check and its message are checked here without CircuitPython;
the real build (boards/README.md gives the command, the tree it was built
from and the size) needs a CircuitPython tree with its submodules.

As in test_firmware_build.py, the make targets run with a PATH of their own:
a few tools, plus fakes of arm-none-eabi-gcc and of the Python CircuitPython's
build runs, so what is "on PATH" is what each test says.
"""

import ast
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MK = os.path.join(REPO, "tools", "mk", "circuitpython_firmware.mk")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cpf = _load("circuitpython_firmware")
fm = _load("firmware_manifest")
provision = _load("provision")

# A port Makefile: logs its goal and what the key's build passes, and the
# python3 its PATH finds (CircuitPython's build runs `python3`); writes an image.
PORT = """
all:
\t@echo "$(notdir $(CURDIR)) BOARD=$(BOARD) BUILD=$(BUILD) USER_C_MODULES=$(USER_C_MODULES) FROZEN_MPY_DIRS=$(FROZEN_MPY_DIRS) USB_HOST=$(CIRCUITPY_USB_HOST) SKIP_SAFE_MODE_WAIT=$(CIRCUITPY_SKIP_SAFE_MODE_WAIT) MIN_GCC=$(CIRCUITPY_MIN_GCC_VERSION) python3=$$(command -v python3)" >> $(LOG)
\t@mkdir -p $(BUILD) && echo image-$(BOARD) > $(BUILD)/firmware.uf2 && echo bin-$(BOARD) > $(BUILD)/firmware.bin && echo elf-$(BOARD) > $(BUILD)/firmware.elf
"""
MPY_CROSS = """
all:
\t@echo "mpy-cross BUILD=$(BUILD)" >> $(LOG)
\t@mkdir -p build && printf '#!/bin/sh\\necho "CircuitPython 10.2.1; mpy-cross emitting mpy v6.3"\\n' > build/mpy-cross
\t@chmod +x build/mpy-cross
"""
TOOLS = ("make", "sh", "bash", "mkdir", "chmod", "mv", "cp", "rm", "cat", "sed", "awk", "tr", "head", "cut",
         "touch", "env", "dirname", "basename", "grep", "printf", "git")


def submodule_files(port):
    """The files the .mk names as proof of each submodule of a port (CP_SUBMODULE_FILES_<port>)."""
    with open(MK) as f:
        text = f.read().replace("\\\n", " ")
    m = re.search(r"^CP_SUBMODULE_FILES_%s := (.*)$" % port, text, re.M)
    return m.group(1).split()


def _script(path, text):
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class Tree:
    def __init__(self, tmp):
        self.tmp = tmp
        self.cp = tmp / "circuitpython"
        (self.cp / "py").mkdir(parents=True)
        (self.cp / "py" / "circuitpy_mpconfig.mk").write_text("CIRCUITPY_MIN_GCC_VERSION ?= 14\n")
        for port, board in (("raspberrypi", "raspberry_pi_pico"), ("espressif", "espressif_esp32s3_devkitc_1_n8")):
            b = self.cp / "ports" / port / "boards" / board
            b.mkdir(parents=True)
            (b / "mpconfigboard.mk").write_text("# fake\n")
            (self.cp / "ports" / port / "Makefile").write_text(PORT)
        (self.cp / "mpy-cross").mkdir()
        (self.cp / "mpy-cross" / "Makefile").write_text(MPY_CROSS)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for tool in TOOLS:
            found = shutil.which(tool)
            if found:
                os.symlink(found, self.bin / tool)
        _script(self.bin / "apt-recorder", 'echo "apt $*" >> %s\n' % (tmp / "log"))
        self.gcc("14.2.1")
        # The Python CircuitPython's build runs: a virtual environment's bin/
        self.cp_venv = tmp / "cp-venv" / "bin"
        self.cp_venv.mkdir(parents=True)
        self.build_python(has_requirements=True)
        with open(os.path.join(REPO, "Makefile")) as f:
            includes = [l for l in f.read().splitlines() if l.startswith("include ")]
        self.wrapper = tmp / "Makefile"
        self.wrapper.write_text("SHELL := /bin/bash\nPY := %s\nVENV := %s\nBUILD := %s\nAPT := %s\nvenv:\n%s\n" % (
            sys.executable, tmp / "venv", tmp / "build", self.bin / "apt-recorder", "\n".join(includes)))

    def gcc(self, version):
        _script(self.bin / "arm-none-eabi-gcc", 'test "$1" = -dumpversion && echo %s\n' % version)

    def build_python(self, has_requirements):
        # `python3 -c "import cascadetoml, jinja2, typer"` is how the .mk asks
        _script(self.cp_venv / "python3", "exit %d\n" % (0 if has_requirements else 1))

    def submodules(self, port="raspberrypi", leave_out=()):
        for f in submodule_files(port):
            if f in leave_out:
                continue
            (self.cp / f).parent.mkdir(parents=True, exist_ok=True)
            (self.cp / f).write_text("")

    def make(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if k not in (
            "IDF_PATH", "MAKEFLAGS", "MFLAGS", "BOARD", "BUILD", "CIRCUITPY_DIR", "CIRCUITPY_PYTHON",
            "CIRCUITPY_MIN_GCC_VERSION", "RUNTIME")}
        e["PATH"] = str(self.bin)
        e.update(env or {})
        return subprocess.run(
            [shutil.which("make"), "--no-print-directory", "-f", str(self.wrapper), "-C", REPO,
             "LOG=%s" % (self.tmp / "log"), "RUNTIME=circuitpython"] + list(args),
            capture_output=True, text=True, timeout=300, env=e)

    def pico(self, *args, **kw):
        return self.make("firmware", "BOARD=raspberry_pi_pico", "CIRCUITPY_DIR=%s" % self.cp,
                         "CIRCUITPY_PYTHON=%s" % (self.cp_venv / "python3"), *args, **kw)

    @property
    def log(self):
        p = self.tmp / "log"
        return p.read_text().splitlines() if p.exists() else []

    def ports(self):
        return [l for l in self.log if l.startswith(("raspberrypi ", "espressif "))]


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


# -- refusals: each says what to do, and nothing is built ------------------------------


def test_needs_circuitpy_dir(tree):
    r = tree.make("firmware", "BOARD=raspberry_pi_pico")
    assert r.returncode != 0 and "set CIRCUITPY_DIR" in r.stderr
    assert "git clone -b 10.2.1 https://github.com/adafruit/circuitpython" in r.stderr
    assert "fetch-port-submodules" in r.stderr
    assert not tree.log


def test_refuses_a_tree_that_is_not_circuitpython(tree):
    r = tree.make("firmware", "BOARD=raspberry_pi_pico", "CIRCUITPY_DIR=%s" % tree.tmp)
    assert r.returncode != 0 and "is not a CircuitPython source tree" in r.stderr
    assert not tree.log


def test_refuses_an_unknown_board_naming_the_choices(tree):
    r = tree.make("firmware", "BOARD=feather_m4", "CIRCUITPY_DIR=%s" % tree.cp)
    assert r.returncode != 0 and "unknown BOARD=feather_m4" in r.stderr
    assert "raspberry_pi_pico" in r.stderr and "espressif_esp32s3_devkitc_1_n8" in r.stderr


def test_names_the_missing_submodules_and_how_to_fetch_them(tree):
    tree.submodules(leave_out=("lib/tinyusb/src/tusb.h",))
    r = tree.pico()
    assert r.returncode != 0
    assert "missing: lib/tinyusb/src/tusb.h" in r.stderr
    assert "make -C %s/ports/raspberrypi fetch-port-submodules" % tree.cp in r.stderr
    assert not tree.ports() and not [l for l in tree.log if l.startswith("mpy-cross")]


def test_a_build_python_without_circuitpythons_requirements_is_refused(tree):
    tree.submodules()
    tree.build_python(has_requirements=False)
    r = tree.pico()
    assert r.returncode != 0
    assert "lacks its requirements (cascadetoml, jinja2, typer)" in r.stderr
    assert "CIRCUITPY_PYTHON=" in r.stderr and "click<8.2.0" in r.stderr
    assert not tree.ports()


def test_gcc_older_than_circuitpythons_floor_is_refused_unless_the_user_lowers_it(tree):
    tree.submodules()
    tree.gcc("12.2.1")
    r = tree.pico()
    assert r.returncode != 0
    assert "arm-none-eabi-gcc 12.2.1 is older than the 14 CircuitPython 10 requires" in r.stderr
    assert "CIRCUITPY_MIN_GCC_VERSION=12" in r.stderr
    assert not tree.ports()
    r = tree.pico("CIRCUITPY_MIN_GCC_VERSION=12")  # at the user's word, as CircuitPython's build allows
    assert r.returncode == 0, r.stderr
    assert " MIN_GCC=12 " in tree.ports()[0]


def test_esp32s3_without_esp_idf_fails_first_and_says_it_was_never_built(tree):
    r = tree.make("firmware", "BOARD=esp32s3", "CIRCUITPY_DIR=%s" % tree.cp,
                  "CIRCUITPY_PYTHON=%s" % (tree.cp_venv / "python3"))
    assert r.returncode != 0
    assert "needs ESP-IDF as CircuitPython pins it" in r.stderr and "IDF_PATH is not set" in r.stderr
    assert "Not built by this project so far" in r.stderr
    assert not tree.log  # nothing ran, not even apt


# -- the build ---------------------------------------------------------------------------


def test_pico_build_command_line_and_image(tree):
    tree.submodules()
    r = tree.pico()
    assert r.returncode == 0, r.stderr
    out = tree.tmp / "build" / "firmware" / "circuitpython-raspberry_pi_pico"
    assert tree.log[0] == "apt cmake python3 gcc g++ gcc-arm-none-eabi libnewlib-arm-none-eabi " \
                          "libstdc++-arm-none-eabi-newlib gettext"
    # CircuitPython's own mpy-cross, built first and never with the image's BUILD
    assert tree.log[1] == "mpy-cross BUILD="
    (port,) = tree.ports()
    assert port.startswith("raspberrypi BOARD=raspberry_pi_pico BUILD=%s/build " % out)
    assert " USER_C_MODULES=%s/lib " % REPO in port  # lib/p256/micropython.mk
    assert " FROZEN_MPY_DIRS=%s/frozen " % out in port
    assert " USB_HOST=0 " in port and " SKIP_SAFE_MODE_WAIT=1 " in port and " MIN_GCC= " in port
    assert port.endswith("python3=%s" % (tree.cp_venv / "python3"))  # the build Python first on PATH
    assert (out / "pyfido-circuitpython-raspberry_pi_pico.uf2").read_text() == "image-raspberry_pi_pico\n"
    assert (out / "pyfido-circuitpython-raspberry_pi_pico.elf").read_text() == "elf-raspberry_pi_pico\n"
    assert (out / "frozen" / "pyfido_build.py").exists()
    assert r.stdout.splitlines()[-1] == "firmware: %s/pyfido-circuitpython-raspberry_pi_pico.uf2" % out


def test_rp2040_is_the_picos_other_name_and_mpy_cross_is_built_once(tree):
    tree.submodules()
    assert tree.make("firmware", "BOARD=rp2040", "CIRCUITPY_DIR=%s" % tree.cp,
                     "CIRCUITPY_PYTHON=%s" % (tree.cp_venv / "python3")).returncode == 0
    assert tree.pico().returncode == 0
    assert [l for l in tree.log if l.startswith("mpy-cross")] == ["mpy-cross BUILD="]
    assert [p.split()[1] for p in tree.ports()] == ["BOARD=raspberry_pi_pico"] * 2


# -- what the image freezes ---------------------------------------------------------------


def test_the_frozen_tree_is_what_provision_copies_to_a_stock_circuitpython(tmp_path):
    out = tmp_path / "frozen"
    cpf.write_frozen("raspberry_pi_pico", str(out))
    frozen = sorted(str(p.relative_to(out)) for p in out.rglob("*.py"))
    expected = set()
    for _local, dest in provision.core_sources("rp2040", "circuitpython", frozen_core=False):
        dest = dest.lstrip("/")
        expected.add(dest[len("lib/"):] if dest.startswith("lib/") else dest)
    expected |= {"adafruit_hid/__init__.py", "pyfido_build.py"}
    assert set(frozen) == expected
    for must in ("firmware/ctaphid.py", "firmware/crypto.py", "cbor.py", "boards/circuitpython/app.py",
                 "boards/circuitpython/setup.py", "boards/rp2040/config.py", "boards/common/board_base.py"):
        assert must in frozen
    # CircuitPython runs these only from its filesystem: provision.py writes them there
    assert not {"boot.py", "code.py", "safemode.py", "boards/circuitpython/boot.py"} & set(frozen)
    # no line git describe would be run for (tools/preprocess_frozen_modules.py)
    assert not [p for p in out.rglob("*.py") if any(l.startswith("__version__") for l in p.read_text().splitlines())]


def test_the_marker_names_the_runtime_board_and_build(tmp_path):
    text = cpf.marker("rp2040", describe="v0-test")
    values = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(text).body if isinstance(n, ast.Assign)}
    assert values["RUNTIME"] == "circuitpython" and values["BOARD"] == "raspberry_pi_pico"
    assert values["ADAPTER"] == "rp2040" and values["GIT_DESCRIBE"] == "v0-test"
    assert values["FIRMWARE_VERSION"] == fm.firmware_version()
    esp = cpf.board("esp32s3")
    assert esp == ("espressif_esp32s3_devkitc_1_n8", "espressif", "esp32s3", "bin")
