# boards/boards.mk -- board targets (included by the top-level Makefile, which
# defines PY, BUILD, APT and the venv/node-deps targets).
#
#   make firmware BOARD=rp2040 MICROPY_DIR=~/src/micropython [picotool_DIR=...]
#       MicroPython firmware with the key frozen in and lib/p256 built in as a
#       user C module -> build/firmware/<BOARD>/pyfido-<BOARD>.uf2 (.bin on
#       esp32s3). BOARD: rp2040 (Raspberry Pi Pico, the default), rp2040w
#       (Pico W), esp32s3. Needs a MicroPython source tree at a release tag
#       (v1.23.0 or later) with its submodules (fetched here with the port's
#       `make submodules` when missing); rp2: the Debian packages below
#       (installed when missing) and, from MicroPython v1.24 on (pico-sdk
#       2.x), picotool 2.x (picotool_DIR=<dir with picotoolConfig.cmake>, or
#       on PATH); esp32s3: ESP-IDF set up (IDF_PATH). See boards/README.md.
#   make firmware RUNTIME=circuitpython BOARD=raspberry_pi_pico CIRCUITPY_DIR=~/src/circuitpython
#       [CIRCUITPY_PYTHON=~/cp-venv/bin/python3] [CIRCUITPY_MIN_GCC_VERSION=N]
#       The same for CircuitPython: tools/mk/circuitpython_firmware.mk.
#   make boards-test-deps
#       Debian packages the board tests need (a C compiler and the kernel's
#       uapi headers, to check the UHID layout against linux/uhid.h).

BOARD ?= rp2040
# micropython (the default) or circuitpython (tools/mk/circuitpython_firmware.mk)
RUNTIME ?= micropython
MICROPY_DIR ?=
# An installed picotool (the directory holding picotoolConfig.cmake), for
# pico-sdk 2.x; from the command line or the environment, as pico-sdk takes it.
picotool_DIR ?=
FIRMWARE_OUT := $(BUILD)/firmware/$(BOARD)
FIRMWARE_BOARD_DIR = $(abspath $(FIRMWARE_OUT))/board/PYFIDO_$(MPY_BOARD)
# The user C modules (CMake, as rp2 and esp32 build with them): lib/p256 and
# lib/ed25519, both included by lib/micropython.cmake
P256_USERMOD ?= $(CURDIR)/lib/micropython.cmake
BOARDS_APT_PACKAGES := gcc linux-libc-dev
# What the rp2 port's build runs: CMake, Python, the host compilers (mpy-cross,
# pico-sdk's pioasm in C++), the Arm compiler with its C and C++ libraries.
FIRMWARE_RP2_APT_PACKAGES := cmake python3 gcc g++ gcc-arm-none-eabi libnewlib-arm-none-eabi \
  libstdc++-arm-none-eabi-newlib

# BOARD -> MicroPython port and board (the same table as tools/firmware_manifest.py's)
ifeq ($(BOARD),rp2040)
  MPY_PORT := rp2
  MPY_BOARD := RPI_PICO
  FIRMWARE_IMAGE := firmware.uf2
else ifeq ($(BOARD),rp2040w)
  MPY_PORT := rp2
  MPY_BOARD := RPI_PICO_W
  FIRMWARE_IMAGE := firmware.uf2
else ifeq ($(BOARD),esp32s3)
  MPY_PORT := esp32
  MPY_BOARD := ESP32_GENERIC_S3
  FIRMWARE_IMAGE := firmware.bin
endif

# MAJOR.MINOR of the MicroPython tree (py/mpconfig.h), when there is one.
MICROPY_VERSION := $(if $(MICROPY_DIR),$(shell awk '/^\#define MICROPY_VERSION_(MAJOR|MINOR) /{printf "%s%s", s, $$3; s="."}' \
  "$(MICROPY_DIR)/py/mpconfig.h" 2>/dev/null))
MICROPY_VERSION_WORDS := $(subst ., ,$(MICROPY_VERSION))
MPY_CROSS_BIN = $(MICROPY_DIR)/mpy-cross/build/mpy-cross
# Passed to the port's make both times: its make exports it, and pico-sdk's
# find_package(picotool) reads it from the environment (CMAKE_ARGS here would
# replace the port's own, USER_C_MODULES included).
FIRMWARE_PICOTOOL_ARG = $(if $(picotool_DIR),picotool_DIR=$(abspath $(picotool_DIR)))
# make -n runs the lines naming $(MAKE); the mpy-cross line drops MAKEFLAGS,
# so it passes -n on by itself (GNU make's own test for -n).
FIRMWARE_DRY_RUN := $(if $(findstring n,$(firstword -$(MAKEFLAGS))),-n)

# Submodules the board's build reads, each named by a file it holds: when all
# are there, `make submodules` (git submodule update, network) is skipped.
FIRMWARE_SUBMODULE_FILES_rp2 := lib/pico-sdk/README.md lib/tinyusb/README.rst lib/mbedtls/README.md \
  lib/micropython-lib/README.md
FIRMWARE_SUBMODULE_FILES_RPI_PICO_W := lib/cyw43-driver/src/cyw43.h lib/lwip/README lib/btstack/README.md
FIRMWARE_SUBMODULE_FILES := $(FIRMWARE_SUBMODULE_FILES_$(MPY_PORT)) $(FIRMWARE_SUBMODULE_FILES_$(MPY_BOARD))

.PHONY: firmware firmware-check firmware-sysdeps boards-test-deps

boards-test-deps:
	@$(APT) $(BOARDS_APT_PACKAGES)

firmware-sysdeps:
	@if [ "$(MPY_PORT)" = rp2 ]; then $(APT) $(FIRMWARE_RP2_APT_PACKAGES); fi

ifeq ($(RUNTIME),circuitpython)
include tools/mk/circuitpython_firmware.mk
else ifneq ($(RUNTIME),micropython)
$(error RUNTIME=$(RUNTIME): use RUNTIME=micropython (the default) or RUNTIME=circuitpython)
else

# Everything that can be known before building, checked first, each failure
# saying what to do.
firmware-check:
	@if [ -z "$(MPY_PORT)" ]; then \
	  echo "make firmware: unknown BOARD=$(BOARD); use BOARD=rp2040 (Pico), BOARD=rp2040w (Pico W) or BOARD=esp32s3" >&2; exit 2; fi
	@if [ -z "$(MICROPY_DIR)" ]; then \
	  echo "make firmware: set MICROPY_DIR to a MicroPython source tree at a release tag, e.g." >&2; \
	  echo "  git clone -b v1.28.0 https://github.com/micropython/micropython ~/src/micropython" >&2; \
	  echo "  make firmware BOARD=$(BOARD) MICROPY_DIR=~/src/micropython" >&2; exit 2; fi
	@if [ ! -f "$(MICROPY_DIR)/ports/$(MPY_PORT)/Makefile" ] || [ ! -f "$(MICROPY_DIR)/py/mpconfig.h" ]; then \
	  echo "make firmware: $(MICROPY_DIR) is not a MicroPython source tree (no ports/$(MPY_PORT)/Makefile)" >&2; exit 2; fi
	@if [ ! -f "$(P256_USERMOD)" ]; then \
	  echo "make firmware: the user C modules file is missing ($(P256_USERMOD)); lib/micropython.cmake comes with lib/" >&2; exit 2; fi
	@if [ "$(MPY_PORT)" = esp32 ] && [ -z "$$IDF_PATH" ]; then \
	  echo "make firmware: BOARD=esp32s3 needs ESP-IDF: source its export.sh first (IDF_PATH is not set)" >&2; exit 2; fi
	@# pico-sdk 2.x (MicroPython >= 1.24) runs picotool at build time and, when
	@# it finds none, downloads and builds one (fails offline). Refuse early.
	@set -- $(MICROPY_VERSION_WORDS); \
	if [ $$# -ne 2 ]; then echo "make firmware: no MicroPython version in $(MICROPY_DIR)/py/mpconfig.h" >&2; exit 2; fi; \
	if [ "$$1" -eq 1 ] && [ "$$2" -lt 23 ]; then \
	  echo "make firmware: MicroPython $$1.$$2 is too old: the key needs v1.23.0 or later (machine.USBDevice)" >&2; exit 2; fi; \
	if [ "$(MPY_PORT)" = rp2 ] && { [ "$$1" -gt 1 ] || [ "$$2" -ge 24 ]; }; then \
	  how="get picotool 2.x from https://github.com/raspberrypi/picotool, build and install it (cmake -S picotool -B picotool/build -DPICO_SDK_PATH=$(abspath $(MICROPY_DIR))/lib/pico-sdk -DPICOTOOL_FLAT_INSTALL=1 -DCMAKE_INSTALL_PREFIX=DIR; cmake --build picotool/build --target install; boards/README.md has the steps) and give picotool_DIR=DIR/picotool, or put picotool 2.x on PATH"; \
	  if [ -n "$(picotool_DIR)" ]; then \
	    if [ ! -f "$(abspath $(picotool_DIR))/picotoolConfig.cmake" ]; then \
	      echo "make firmware: picotool_DIR=$(picotool_DIR) has no picotoolConfig.cmake: give the directory of an installed picotool 2.x (the one holding picotool and picotoolConfig.cmake)" >&2; exit 2; fi; \
	  elif ! command -v picotool >/dev/null 2>&1; then \
	    echo "make firmware: MicroPython $$1.$$2 builds rp2 with pico-sdk 2.x, which needs picotool at build time, and none was found (no picotool_DIR, no picotool on PATH): $$how" >&2; exit 2; \
	  else \
	    pv=$$(picotool version 2>/dev/null | sed -n 's/^picotool v\([0-9]*\)\..*/\1/p' | head -n1); \
	    if [ -z "$$pv" ] || [ "$$pv" -lt 2 ]; then \
	      echo "make firmware: the picotool on PATH ($$(command -v picotool)) is not picotool 2.x, which pico-sdk 2.x needs: $$how" >&2; exit 2; fi; \
	  fi; \
	fi

firmware: firmware-check firmware-sysdeps venv
	@mkdir -p $(FIRMWARE_OUT)
	$(PY) tools/firmware_manifest.py $(BOARD) $(abspath $(FIRMWARE_OUT))/manifest.py
	@# mpy-cross, unless the tree has its own version's: built here, as
	@# MicroPython's CI does, because the port's CMake would build a missing
	@# one inside this make's environment, whose BUILD is the firmware's.
	@if $(MPY_CROSS_BIN) --version 2>/dev/null | grep -q "^MicroPython v$(MICROPY_VERSION)\."; then \
	  echo "firmware: $(MPY_CROSS_BIN) is MicroPython $(MICROPY_VERSION)'s"; \
	else \
	  echo "env -u MAKEFLAGS -u MFLAGS -u BUILD $(MAKE) -C $(MICROPY_DIR)/mpy-cross"; \
	  env -u MAKEFLAGS -u MFLAGS -u BUILD $(MAKE) $(FIRMWARE_DRY_RUN) -C $(MICROPY_DIR)/mpy-cross || exit $$?; \
	fi
	@missing=""; for f in $(FIRMWARE_SUBMODULE_FILES); do [ -e "$(MICROPY_DIR)/$$f" ] || missing="$$missing $$f"; done; \
	if [ "$(MPY_PORT)" = esp32 ] || [ -n "$$missing" ]; then \
	  echo "$(MAKE) -C $(MICROPY_DIR)/ports/$(MPY_PORT) BOARD=$(MPY_BOARD) submodules"; \
	  $(MAKE) -C $(MICROPY_DIR)/ports/$(MPY_PORT) BOARD=$(MPY_BOARD) $(FIRMWARE_PICOTOOL_ARG) \
	    BUILD=$(abspath $(FIRMWARE_OUT))/build submodules || exit $$?; \
	else echo "firmware: $(MICROPY_DIR) has the submodules BOARD=$(BOARD) needs; not running make submodules"; fi
	@# rp2: MicroPython's board at 200 MHz from reset (tools/firmware_board.py)
	$(if $(filter rp2,$(MPY_PORT)),$(PY) tools/firmware_board.py $(MPY_BOARD) $(MICROPY_DIR) $(FIRMWARE_BOARD_DIR))
	$(MAKE) -C $(MICROPY_DIR)/ports/$(MPY_PORT) BOARD=$(MPY_BOARD) $(FIRMWARE_PICOTOOL_ARG) \
	  $(if $(filter rp2,$(MPY_PORT)),BOARD_DIR=$(FIRMWARE_BOARD_DIR)) \
	  BUILD=$(abspath $(FIRMWARE_OUT))/build \
	  FROZEN_MANIFEST=$(abspath $(FIRMWARE_OUT))/manifest.py \
	  USER_C_MODULES=$(P256_USERMOD)
	cp $(FIRMWARE_OUT)/build/$(FIRMWARE_IMAGE) $(FIRMWARE_OUT)/pyfido-$(BOARD)$(suffix $(FIRMWARE_IMAGE))
	@# the ELF beside the image: debuggers, and tools/bench_firmware.py's heap figure
	$(if $(filter rp2,$(MPY_PORT)),cp $(FIRMWARE_OUT)/build/firmware.elf $(FIRMWARE_OUT)/pyfido-$(BOARD).elf)
	@echo "firmware: $(FIRMWARE_OUT)/pyfido-$(BOARD)$(suffix $(FIRMWARE_IMAGE))"
endif  # RUNTIME
