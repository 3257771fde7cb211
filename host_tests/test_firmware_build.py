"""make firmware (boards/boards.mk), make firmware-p256-natmod (lib/p256/p256.mk) and the
frozen manifest, against a fake MicroPython source tree.

The fake tree's Makefiles record how they were called (arguments and the
environment pico-sdk reads) and produce an image, so the command lines, the
frozen manifest and build marker, the prerequisite checks and every refusal
are checked here without MicroPython; the real builds (boards/README.md
gives the commands and the sizes they made) need a MicroPython tree.

The make targets run with a PATH of their own (tools linked into a
directory, plus fakes of picotool and the cross compilers), so what is or is
not "on PATH" is what each test says, whatever this machine has installed.
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
_spec = importlib.util.spec_from_file_location("firmware_manifest", os.path.join(REPO, "tools", "firmware_manifest.py"))
fm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fm)
_spec = importlib.util.spec_from_file_location("provision", os.path.join(REPO, "tools", "provision.py"))
provision = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provision)

# A port Makefile: logs its goal, BOARD, FROZEN_MANIFEST, USER_C_MODULES, BUILD
# and the picotool_DIR its environment gives CMake; writes an image.
RECORDER = """
all submodules:
\t@echo "$(notdir $(CURDIR)) $(MAKECMDGOALS) BOARD=$(BOARD) FROZEN_MANIFEST=$(FROZEN_MANIFEST) USER_C_MODULES=$(USER_C_MODULES) BUILD=$(BUILD) BOARD_DIR=$(BOARD_DIR) env-picotool_DIR=$$picotool_DIR" >> $(LOG)
\t@if [ -n "$(BUILD)" ] && [ "$(MAKECMDGOALS)" != submodules ]; then mkdir -p $(BUILD) && echo image-$(BOARD) > $(BUILD)/firmware.uf2 && echo elf-$(BOARD) > $(BUILD)/firmware.elf; fi
"""
# mpy-cross/Makefile: logs the BUILD it sees, makes an mpy-cross that names the tree's version.
MPY_CROSS = """
V := $(shell awk '/^\\#define MICROPY_VERSION_(MAJOR|MINOR) /{printf "%s%s", s, $$3; s="."}' ../py/mpconfig.h)
all:
\t@echo "mpy-cross build BUILD=$(BUILD)" >> $(LOG)
\t@mkdir -p build && printf '#!/bin/sh\\necho "MicroPython v$(V).0 on 2026-01-01; mpy-cross emitting mpy v6.3"\\n' > build/mpy-cross
\t@chmod +x build/mpy-cross
"""
# py/dynruntime.mk as lib/p256/natmod/Makefile includes it: logs and writes $(MOD).mpy in its directory.
DYNRUNTIME = """
all:
\t@echo "natmod ARCH=$(ARCH) MOD=$(MOD) LINK_RUNTIME=$(LINK_RUNTIME) BUILD=$(BUILD) cwd=$(CURDIR)" >> $(LOG)
\t@echo mpy-$(ARCH) > $(MOD).mpy
"""
MPCONFIG = "#define MICROPY_VERSION_MAJOR %d\n#define MICROPY_VERSION_MINOR %d\n#define MICROPY_VERSION_MICRO 0\n"
# What the recipes run, linked into the test's PATH (no compilers, no picotool).
TOOLS = ("make", "sh", "bash", "mkdir", "chmod", "mv", "cp", "rm", "wc", "cat", "sed", "awk", "tr", "head",
         "touch", "env", "dirname", "basename", "grep", "printf", "git")
SUBMODULE_FILES = ("lib/pico-sdk/README.md", "lib/tinyusb/README.rst", "lib/mbedtls/README.md",
                   "lib/micropython-lib/README.md")
PICO_W_SUBMODULE_FILES = ("lib/cyw43-driver/src/cyw43.h", "lib/lwip/README", "lib/btstack/README.md")


def _script(path, text):
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class Tree:
    def __init__(self, tmp):
        self.tmp = tmp
        self.mp = tmp / "micropython"
        for d in ("ports/rp2", "ports/esp32"):
            (self.mp / d).mkdir(parents=True)
            (self.mp / d / "Makefile").write_text(RECORDER)
        for board in ("RPI_PICO", "RPI_PICO_W"):  # the stock boards tools/firmware_board.py builds on
            b = self.mp / "ports" / "rp2" / "boards" / board
            b.mkdir(parents=True)
            (b / "mpconfigboard.cmake").write_text('set(PICO_BOARD "%s")\n' % board.lower())
            (b / "mpconfigboard.h").write_text('#define MICROPY_HW_BOARD_NAME "%s"\n' % board)
            (b / "pins.csv").write_text("LED,GPIO25\n")
        (self.mp / "mpy-cross").mkdir()
        (self.mp / "mpy-cross" / "Makefile").write_text(MPY_CROSS)
        (self.mp / "py" / "dynruntime.mk").parent.mkdir(parents=True)
        (self.mp / "py" / "dynruntime.mk").write_text(DYNRUNTIME)
        self.version(1, 28)
        self.usermod = tmp / "micropython.cmake"
        self.usermod.write_text("# fake p256 user module\n")
        self.picotool_dir = tmp / "picotool-install" / "picotool"
        self.picotool_dir.mkdir(parents=True)
        (self.picotool_dir / "picotoolConfig.cmake").write_text("# fake\n")
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for tool in TOOLS:
            found = shutil.which(tool)
            if found:
                os.symlink(found, self.bin / tool)
        _script(self.bin / "apt-recorder", 'echo "apt $*" >> %s\n' % (tmp / "log"))
        self.venv = tmp / "venv"
        self.venv.mkdir()
        (self.venv / ".installed-natmod").write_text("")  # requirements-natmod.txt "installed"
        # The top Makefile's includes, in its order: a variable one file
        # defines with ?= before another does is the first file's.
        with open(os.path.join(REPO, "Makefile")) as f:
            includes = [l for l in f.read().splitlines() if l.startswith("include ")]
        assert "include lib/p256/p256.mk" in includes and "include boards/boards.mk" in includes
        self.wrapper = tmp / "Makefile"
        self.wrapper.write_text("SHELL := /bin/bash\nPY := %s\nVENV := %s\nBUILD := %s\nAPT := %s\nvenv:\n%s\n" % (
            sys.executable, self.venv, tmp / "build", self.bin / "apt-recorder", "\n".join(includes)))

    def version(self, major, minor):
        (self.mp / "py" / "mpconfig.h").write_text(MPCONFIG % (major, minor))

    def on_path(self, name, text):
        _script(self.bin / name, text)

    def submodules(self, files):
        for f in files:
            (self.mp / f).parent.mkdir(parents=True, exist_ok=True)
            (self.mp / f).write_text("")

    def make(self, *args, env=None):
        # Nothing from the caller's environment that these makefiles read.
        e = {k: v for k, v in os.environ.items() if k not in (
            "picotool_DIR", "IDF_PATH", "MAKEFLAGS", "MFLAGS", "BOARD", "BUILD", "MICROPY_DIR", "P256_NATMOD_ARCHS",
            "P256_USERMOD")}
        e["PATH"] = str(self.bin)
        e.update(env or {})
        return subprocess.run(
            [shutil.which("make"), "--no-print-directory", "-f", str(self.wrapper), "-C", REPO,
             "LOG=%s" % (self.tmp / "log"), "P256_APT=true"] + list(args),
            capture_output=True, text=True, timeout=300, env=e)

    @property
    def log(self):
        p = self.tmp / "log"
        return p.read_text().splitlines() if p.exists() else []


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


def rp2040(tree, *args, **kw):
    return tree.make("firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % tree.mp, "P256_USERMOD=%s" % tree.usermod,
                     *args, **kw)


# -- refusals ------------------------------------------------------------------------


def test_firmware_needs_micropy_dir(tree):
    r = tree.make("firmware", "BOARD=rp2040")
    assert r.returncode != 0 and "set MICROPY_DIR" in r.stderr


def test_firmware_refuses_a_tree_that_is_not_micropython(tree):
    r = tree.make("firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % tree.tmp)
    assert r.returncode != 0 and "not a MicroPython source tree" in r.stderr


def test_firmware_refuses_an_unknown_board(tree):
    r = tree.make("firmware", "BOARD=stm32", "MICROPY_DIR=%s" % tree.mp)
    assert r.returncode != 0 and "unknown BOARD=stm32" in r.stderr
    assert "rp2040w" in r.stderr


def test_firmware_names_a_missing_p256_module(tree):
    r = tree.make("firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % tree.mp, "P256_USERMOD=%s" % (tree.tmp / "nope"))
    assert r.returncode != 0 and "user C modules file is missing" in r.stderr


def test_esp32s3_needs_esp_idf(tree):
    r = tree.make("firmware", "BOARD=esp32s3", "MICROPY_DIR=%s" % tree.mp, "P256_USERMOD=%s" % tree.usermod)
    assert r.returncode != 0 and "ESP-IDF" in r.stderr and "IDF_PATH is not set" in r.stderr
    assert not tree.log  # nothing ran


def test_micropython_older_than_1_23_is_refused(tree):
    tree.version(1, 22)
    r = rp2040(tree)
    assert r.returncode != 0 and "MicroPython 1.22 is too old" in r.stderr
    assert not tree.log


def test_missing_picotool_is_refused_before_building(tree):
    """MicroPython >= 1.24 (pico-sdk 2.x): no picotool_DIR and none on PATH -> how to get one."""
    r = rp2040(tree)
    assert r.returncode != 0
    assert "needs picotool" in r.stderr and "picotool_DIR" in r.stderr
    assert "https://github.com/raspberrypi/picotool" in r.stderr
    assert not any(l.startswith("rp2") for l in tree.log)  # the port's build never started


def test_picotool_dir_without_a_picotool_config_is_refused(tree):
    r = rp2040(tree, "picotool_DIR=%s" % tree.tmp)
    assert r.returncode != 0 and "has no picotoolConfig.cmake" in r.stderr


def test_picotool_1_on_path_is_refused(tree):
    tree.on_path("picotool", 'echo "picotool v1.1.1 (Linux, GNU-12.2.0, Release)"\n')
    r = rp2040(tree)
    assert r.returncode != 0 and "not picotool 2.x" in r.stderr


def test_micropython_1_23_needs_no_picotool(tree):
    """pico-sdk 1.5.1 (MicroPython 1.23) has no picotool step."""
    tree.version(1, 23)
    r = rp2040(tree)
    assert r.returncode == 0, r.stderr
    assert "env-picotool_DIR= " in tree.log[-1] + " "


# -- builds --------------------------------------------------------------------------


def test_rp2040_build_command_lines_image_manifest_and_marker(tree):
    r = rp2040(tree, "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0, r.stderr
    out = tree.tmp / "build" / "firmware" / "rp2040"
    assert tree.log[1] == "mpy-cross build BUILD="  # after apt; never the firmware's BUILD
    ports = [l for l in tree.log if l.startswith("rp2")]
    assert ports[0].startswith("rp2 submodules BOARD=RPI_PICO ")  # the fake tree has none
    assert "BUILD=%s/build" % out in ports[0]  # never a build directory inside MicroPython's tree
    assert " BOARD_DIR=%s/board/PYFIDO_RPI_PICO " % out in ports[1]  # MicroPython's board at 200 MHz
    assert (out / "pyfido-rp2040.elf").read_text() == "elf-RPI_PICO\n"
    assert ports[1].startswith("rp2  BOARD=RPI_PICO FROZEN_MANIFEST=%s/manifest.py USER_C_MODULES=%s BUILD=%s/build" % (
        out, tree.usermod, out))
    assert ports[0].endswith("env-picotool_DIR=%s" % tree.picotool_dir)
    assert ports[1].endswith("env-picotool_DIR=%s" % tree.picotool_dir)
    assert len(ports) == 2
    assert (out / "pyfido-rp2040.uf2").read_text() == "image-RPI_PICO\n"
    assert (out / "manifest.py").read_text() == fm.manifest("rp2040", str(out))
    marker = (out / "pyfido_build.py").read_text()
    values = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(marker).body if isinstance(n, ast.Assign)}
    assert values["BOARD"] == "rp2040" and values["MICROPYTHON_BOARD"] == "RPI_PICO" and values["ADAPTER"] == "rp2040"
    assert values["FIRMWARE_VERSION"] == fm.firmware_version() and len(values["FIRMWARE_VERSION"]) == 3
    describe = subprocess.run(["git", "-C", REPO, "describe", "--tags", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip()
    assert values["GIT_DESCRIBE"] == describe


def test_mpy_cross_is_built_once_per_micropython_version_outside_the_firmware_build(tree):
    """The port's CMake would build a missing mpy-cross with the port make's BUILD (the
    firmware's): a mpy-cross linked from the port's objects. Built first, in a clean make."""
    args = ("picotool_DIR=%s" % tree.picotool_dir, "BUILD=%s" % (tree.tmp / "elsewhere"))
    assert rp2040(tree, *args).returncode == 0
    assert rp2040(tree, *args).returncode == 0
    assert [l for l in tree.log if l.startswith("mpy-cross")] == ["mpy-cross build BUILD="]
    tree.version(1, 27)  # the tree moved to another release: its mpy-cross is rebuilt
    r = rp2040(tree, *args)
    assert r.returncode == 0, r.stderr
    assert [l for l in tree.log if l.startswith("mpy-cross")] == ["mpy-cross build BUILD="] * 2
    assert "is MicroPython 1.27's" not in r.stdout
    assert "is MicroPython 1.27's" in rp2040(tree, *args).stdout


def test_dry_run_builds_nothing(tree):
    """make -n runs every recipe line naming $(MAKE); the mpy-cross one drops MAKEFLAGS."""
    r = rp2040(tree, "-n", "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0, r.stderr
    assert not (tree.mp / "mpy-cross" / "build").exists()
    assert not any(l.startswith(("mpy-cross", "rp2")) for l in tree.log)


def test_rp2040_installs_its_debian_prerequisites(tree):
    assert rp2040(tree, "picotool_DIR=%s" % tree.picotool_dir).returncode == 0
    apt = [l for l in tree.log if l.startswith("apt ")]
    assert len(apt) == 1
    for pkg in ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "libstdc++-arm-none-eabi-newlib", "cmake", "python3"):
        assert pkg in apt[0].split()


def test_bare_make_firmware_builds_the_pico(tree):
    """No BOARD: rp2040, also with lib/p256/p256.mk included first (it once set BOARD ?= RPI_PICO)."""
    r = tree.make("firmware", "MICROPY_DIR=%s" % tree.mp, "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0, r.stderr
    assert (tree.tmp / "build" / "firmware" / "rp2040" / "pyfido-rp2040.uf2").exists()
    assert "BOARD=RPI_PICO " in tree.log[-1]


def test_rp2040w_builds_the_pico_w_with_the_pico_adapter(tree):
    r = tree.make("firmware", "BOARD=rp2040w", "MICROPY_DIR=%s" % tree.mp, "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0, r.stderr
    out = tree.tmp / "build" / "firmware" / "rp2040w"
    assert "BOARD=RPI_PICO_W " in tree.log[-1]
    assert (out / "pyfido-rp2040w.uf2").read_text() == "image-RPI_PICO_W\n"
    text = (out / "manifest.py").read_text()
    assert 'include("$(PORT_DIR)/boards/manifest.py")' in text and "$(BOARD_DIR)" not in text
    assert "'boards/rp2040/config.py'" in text
    assert "BOARD = 'rp2040w'" in (out / "pyfido_build.py").read_text()


def test_picotool_dir_from_the_environment_and_relative_paths_reach_cmake(tree):
    r = rp2040(tree, env={"picotool_DIR": str(tree.picotool_dir)})
    assert r.returncode == 0, r.stderr
    assert tree.log[-1].endswith("env-picotool_DIR=%s" % tree.picotool_dir)
    rel = os.path.relpath(tree.picotool_dir, REPO)  # relative to where make runs
    r = rp2040(tree, "picotool_DIR=%s" % rel)
    assert r.returncode == 0, r.stderr
    assert tree.log[-1].endswith("env-picotool_DIR=%s" % tree.picotool_dir)  # made absolute


def test_picotool_2_on_path_is_accepted(tree):
    tree.on_path("picotool", 'echo "picotool v2.2.0 (Linux, GNU-12.2.0, Release)"\n')
    r = rp2040(tree)
    assert r.returncode == 0, r.stderr


def test_submodules_already_there_are_left_alone(tree):
    """A tree with the board's submodules: no `make submodules` (git, network)."""
    tree.submodules(SUBMODULE_FILES)
    assert rp2040(tree, "picotool_DIR=%s" % tree.picotool_dir).returncode == 0
    assert not any(l.startswith("rp2 submodules") for l in tree.log)
    # the Pico W needs more of them (cyw43-driver, lwip, btstack)
    r = tree.make("firmware", "BOARD=rp2040w", "MICROPY_DIR=%s" % tree.mp, "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0 and any(l.startswith("rp2 submodules BOARD=RPI_PICO_W") for l in tree.log)
    tree.submodules(PICO_W_SUBMODULE_FILES)
    n = len(tree.log)
    r = tree.make("firmware", "BOARD=rp2040w", "MICROPY_DIR=%s" % tree.mp, "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0 and not any(l.startswith("rp2 submodules") for l in tree.log[n:])


def test_default_user_c_modules_are_lib_p256_and_lib_ed25519(tree):
    """Without P256_USERMOD the build uses lib/micropython.cmake, which
    includes lib/p256's and lib/ed25519's own micropython.cmake."""
    r = tree.make("firmware", "BOARD=rp2040", "MICROPY_DIR=%s" % tree.mp, "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0, r.stderr
    assert "USER_C_MODULES=%s/lib/micropython.cmake" % REPO in tree.log[-1]
    with open(os.path.join(REPO, "lib", "micropython.cmake")) as f:
        includes = [l.strip() for l in f if l.startswith("include(")]
    assert includes == ["include(${CMAKE_CURRENT_LIST_DIR}/p256/micropython.cmake)",
                        "include(${CMAKE_CURRENT_LIST_DIR}/ed25519/micropython.cmake)"]
    for lib in ("p256", "ed25519"):
        assert os.path.isfile(os.path.join(REPO, "lib", lib, "micropython.cmake"))


# -- the manifest and the build marker ---------------------------------------------------


@pytest.mark.parametrize("board", sorted(fm.BOARDS))
def test_manifest_freezes_the_core_and_the_adapter(board, tmp_path):
    text = fm.manifest(board, str(tmp_path))
    # The port's manifest (_boot.py mounts the filesystem, rp2.py has
    # bootsel_button); the boards have no board-level one.
    assert text.splitlines()[1] == 'include("$(PORT_DIR)/boards/manifest.py")'
    assert "$(BOARD_DIR)" not in text and 'require("usb-device-hid")' in text
    assert "freeze(%r, (\n    'pyfido_build.py',\n))" % str(tmp_path) in text
    frozen = [os.path.join(root, f) for root, files in fm.frozen_modules(board) for f in files]
    rel = {os.path.relpath(p, REPO) for p in frozen}
    adapter = fm.BOARDS[board][2]
    assert "firmware/ctaphid.py" in rel and "firmware/ctap2/make_credential.py" in rel
    assert "lib/cbor.py" in rel and "boards/micropython/usb_fido.py" in rel
    assert "boards/%s/config.py" % adapter in rel
    assert not any(r.startswith(("boards/host", "boards/circuitpython")) for r in rel)
    assert "boards/micropython/main.py" not in rel  # /main.py stays on the filesystem
    core = {os.path.relpath(p, REPO) for p in __import__("glob").glob(os.path.join(REPO, "firmware", "**", "*.py"), recursive=True)}
    assert core <= rel  # nothing of the core left out
    for path in frozen:
        assert os.path.exists(path), path
        r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", os.devnull, path], capture_output=True, text=True)
        assert r.returncode == 0, (path, r.stderr)


@pytest.mark.parametrize("board", sorted(fm.BOARDS))
def test_frozen_modules_are_what_provision_copies_to_stock_firmware(board):
    """One set of modules for both routes: a module only one of them ships breaks the other."""
    adapter = fm.BOARDS[board][2]
    frozen = set()
    for root, files in fm.frozen_modules(board):
        frozen |= {f[:-3].replace("/", ".") for f in files}
    copied = {dest.lstrip("/")[:-3].replace("/", ".") for _, dest in provision.core_sources(adapter, "micropython", False)}
    copied = {m[len("lib."):] if m.startswith("lib.") else m for m in copied}  # /lib is on sys.path
    assert frozen == copied
    assert provision.core_sources(adapter, "micropython", True) == []


def test_marker_is_micropython_source_naming_the_build(tmp_path):
    src = fm.marker("rp2040w", describe="v0.1-3-gabc1234-dirty")
    ns = {}
    exec(compile(src, "pyfido_build.py", "exec"), ns)
    assert (ns["BOARD"], ns["MICROPYTHON_BOARD"], ns["ADAPTER"]) == ("rp2040w", "RPI_PICO_W", "rp2040")
    assert ns["GIT_DESCRIBE"] == "v0.1-3-gabc1234-dirty"
    path = tmp_path / "pyfido_build.py"
    path.write_text(src)
    r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", os.devnull, str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # what provision's probe reads from it
    for name in re.findall(r"_b\.(\w+)", provision.PROBE):
        assert name in ns, name


def test_firmware_version_is_the_core_s():
    from firmware.authenticator import FIRMWARE_VERSION

    assert fm.firmware_version() == FIRMWARE_VERSION


# -- make firmware-p256-natmod -------------------------------------------------------


def natmod(tree, *args):
    return tree.make("firmware-p256-natmod", "MICROPY_DIR=%s" % tree.mp, *args)


def test_natmod_builds_the_archs_whose_compiler_is_on_path_and_says_which_it_skipped(tree):
    tree.on_path("arm-none-eabi-gcc", "exit 0\n")
    r = natmod(tree)
    assert r.returncode == 0, r.stderr
    assert "skipping xtensawin: its compiler xtensa-esp32-elf-gcc is not on PATH" in r.stdout
    assert "ESP-IDF" in r.stdout
    out = tree.tmp / "build" / "natmod" / "armv6m"
    assert (out / "p256.mpy").read_text() == "mpy-armv6m\n"
    calls = [l for l in tree.log if l.startswith("natmod ")]
    assert calls == ["natmod ARCH=armv6m MOD=p256 LINK_RUNTIME=1 BUILD=%s/obj cwd=%s" % (out, out)]
    assert not (tree.tmp / "build" / "natmod" / "xtensawin").exists()


def test_natmod_dry_run_keeps_what_was_built(tree):
    tree.on_path("arm-none-eabi-gcc", "exit 0\n")
    assert natmod(tree).returncode == 0
    built = tree.tmp / "build" / "natmod" / "armv6m" / "p256.mpy"
    r = natmod(tree, "-n")
    assert r.returncode == 0, r.stderr
    assert built.read_text() == "mpy-armv6m\n"


def test_natmod_builds_every_board_arch_when_both_compilers_are_there(tree):
    tree.on_path("arm-none-eabi-gcc", "exit 0\n")
    tree.on_path("xtensa-esp32-elf-gcc", "exit 0\n")
    r = natmod(tree)
    assert r.returncode == 0, r.stderr
    assert "skipping" not in r.stdout
    for arch in ("armv6m", "xtensawin"):
        assert (tree.tmp / "build" / "natmod" / arch / "p256.mpy").read_text() == "mpy-%s\n" % arch


def test_natmod_arch_asked_for_without_its_compiler_fails(tree):
    tree.on_path("arm-none-eabi-gcc", "exit 0\n")
    r = natmod(tree, "P256_NATMOD_ARCHS=armv6m xtensawin")
    assert r.returncode != 0
    assert "P256_NATMOD_ARCHS asks for xtensawin, whose compiler xtensa-esp32-elf-gcc is not on PATH" in r.stderr
    assert not any(l.startswith("natmod ") for l in tree.log)  # checked before building anything


def test_natmod_explicit_arch_is_built_alone(tree):
    tree.on_path("arm-none-eabi-gcc", "exit 0\n")
    r = natmod(tree, "P256_NATMOD_ARCHS=armv6m")
    assert r.returncode == 0, r.stderr
    assert "skipping" not in r.stdout
    assert [l.split()[1] for l in tree.log if l.startswith("natmod ")] == ["ARCH=armv6m"]


def test_natmod_with_no_compiler_at_all_fails(tree):
    r = natmod(tree)
    assert r.returncode != 0 and "no architecture to build" in r.stderr


def test_natmod_unknown_arch_is_refused(tree):
    r = natmod(tree, "P256_NATMOD_ARCHS=armv9")
    assert r.returncode != 0 and "unknown arch armv9" in r.stderr


def test_natmod_makefile_links_the_runtime():
    """armv6m: without libgcc, mpy_ld.py stops at `undefined symbol: __gnu_thumb1_case_uqi`."""
    with open(os.path.join(REPO, "lib", "p256", "natmod", "Makefile")) as f:
        assert re.search(r"^LINK_RUNTIME = 1$", f.read(), re.M)


def test_natmod_python_tools_are_pinned():
    with open(os.path.join(REPO, "requirements-natmod.txt")) as f:
        pins = dict(l.split("#")[0].strip().split("==") for l in f if l.split("#")[0].strip())
    assert set(pins) == {"pyelftools", "ar"}


def test_mpy_ld_caches_are_ignored_by_git():
    for path in ("lib/p256/natmod/.mpy_ld_cache/ar_x", "lib/p256/natmod/.mpy_ld_cache-armv6m/ar_x"):
        r = subprocess.run(["git", "-C", REPO, "check-ignore", "-q", path])
        assert r.returncode == 0, path


def test_the_rp2_board_is_micropythons_at_the_fastest_supported_clock(tree):
    """tools/firmware_board.py: the stock board's settings, header and pins, plus pico-sdk's 200 MHz from reset."""
    tree.submodules(SUBMODULE_FILES)
    r = rp2040(tree, "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0, r.stderr
    board = tree.tmp / "build" / "firmware" / "rp2040" / "board" / "PYFIDO_RPI_PICO"
    stock = tree.mp / "ports" / "rp2" / "boards" / "RPI_PICO"
    cmake = (board / "mpconfigboard.cmake").read_text()
    assert "include(%s/mpconfigboard.cmake)" % stock in cmake
    assert "list(APPEND MICROPY_DEF_BOARD PICO_USE_FASTEST_SUPPORTED_CLOCK=1)" in cmake
    assert '#include "%s/mpconfigboard.h"' % stock in (board / "mpconfigboard.h").read_text()
    assert (board / "pins.csv").read_text() == "LED,GPIO25\n"


def test_the_esp32s3_build_has_no_board_of_ours(tree):
    tree.make("firmware", "BOARD=esp32s3", "MICROPY_DIR=%s" % tree.mp, "P256_USERMOD=%s" % tree.usermod,
              env={"IDF_PATH": str(tree.tmp)})
    builds = [l for l in tree.log if l.startswith("esp32  ")]
    assert builds and " BOARD=ESP32_GENERIC_S3 " in builds[-1] and " BOARD_DIR= " in builds[-1]


def test_the_pico_w_board_slows_the_wireless_chips_clock_for_200_mhz(tree):
    tree.submodules(SUBMODULE_FILES + PICO_W_SUBMODULE_FILES)
    r = tree.make("firmware", "BOARD=rp2040w", "MICROPY_DIR=%s" % tree.mp, "P256_USERMOD=%s" % tree.usermod,
                  "picotool_DIR=%s" % tree.picotool_dir)
    assert r.returncode == 0, r.stderr
    cmake = (tree.tmp / "build" / "firmware" / "rp2040w" / "board" / "PYFIDO_RPI_PICO_W" / "mpconfigboard.cmake").read_text()
    assert "PICO_USE_FASTEST_SUPPORTED_CLOCK=1 CYW43_PIO_CLOCK_DIV_INT=3" in cmake


def test_the_entry_points_are_frozen_under_their_own_names():
    """MicroPython runs a frozen "boot.py"/"main.py" before the filesystem's: nothing read from littlefs."""
    text = fm.manifest("rp2040", "/out")
    entry = "freeze(%r, (\n    'boot.py',\n    'main.py',\n))" % os.path.join(REPO, "boards", "micropython")
    assert entry in text
    assert "'boards/micropython/boot.py'" not in text and "'boards/micropython/main.py'" not in text
    assert "ENTRY_POINTS = ('boot.py', 'main.py')" in fm.marker("rp2040", describe="x")
