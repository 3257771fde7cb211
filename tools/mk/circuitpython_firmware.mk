# make firmware RUNTIME=circuitpython -- a CircuitPython image with the key inside
# (included by boards/boards.mk when RUNTIME=circuitpython).
#
#   make firmware RUNTIME=circuitpython BOARD=raspberry_pi_pico CIRCUITPY_DIR=~/src/circuitpython
#       -> build/firmware/circuitpython-raspberry_pi_pico/pyfido-circuitpython-raspberry_pi_pico.uf2
#
# BOARD: raspberry_pi_pico (or rp2040), espressif_esp32s3_devkitc_1_n8 (or
# esp32s3; needs ESP-IDF, see below). The image is CircuitPython's own board,
# built from the tree the user gives, with:
#   - lib/p256 built in as a user C module (USER_C_MODULES=lib: CircuitPython's
#     py/py.mk includes lib/*/micropython.mk);
#   - the key's core, the shared board code, the CircuitPython adapter, the
#     chip's config, adafruit_hid and the build marker pyfido_build frozen in
#     (FROZEN_MPY_DIRS, staged by tools/circuitpython_firmware.py);
#   - raspberrypi: no USB host port (CIRCUITPY_USB_HOST=0: PIO-USB host, which a
#     key has no use for, and whose source does not compile warning-free with
#     GCC before 14);
#   - no safe-mode wait at start-up (CIRCUITPY_SKIP_SAFE_MODE_WAIT=1): CircuitPython
#     otherwise blinks for a second at every power-up, waiting for a button press
#     that would start it in safe mode -- without boot.py, so with the CIRCUITPY
#     drive (the key's records) on USB --, and a key must answer the host's first
#     INIT as soon as it can.
# /boot.py, /code.py and the settings stay on the filesystem: CircuitPython runs
# those only from there; tools/provision.py writes them.
#
# What it needs (each checked first, each failure saying what to do):
#   CIRCUITPY_DIR  a CircuitPython source tree at a release tag (built here:
#                  10.2.1) with the submodules the port pins
#                  (`make -C $CIRCUITPY_DIR/ports/raspberrypi fetch-port-submodules`)
#   CIRCUITPY_PYTHON  a Python with CircuitPython's build requirements
#                  (its requirements-dev.txt; the build needs cascadetoml,
#                  jinja2, typer, click<8.2.0), in a virtual environment of its
#                  own: its bin/ goes first on PATH for the build
#   arm-none-eabi-gcc 14 or later (CircuitPython refuses older ones: "known to
#                  miscompile"); CIRCUITPY_MIN_GCC_VERSION=N lowers that
#                  floor, at the user's word, as CircuitPython's own build allows
#   espressif:     ESP-IDF as CircuitPython's port pins it (its esp-idf
#                  submodule: install.sh, then `source export.sh`, so IDF_PATH is set)

CIRCUITPY_DIR ?=
CIRCUITPY_PYTHON ?= python3
CIRCUITPY_MIN_GCC_VERSION ?=
# The GCC major CircuitPython (10.x) requires: py/circuitpy_mpconfig.mk CIRCUITPY_MIN_GCC_VERSION.
CIRCUITPY_GCC_FLOOR := 14
# (the project's Python when there is one: the tool needs nothing beyond the standard library)
CP_TOOL_PY := $(if $(wildcard $(PY)),$(PY),python3)
CP_BOARD_INFO := $(shell $(CP_TOOL_PY) tools/circuitpython_firmware.py board $(BOARD) 2>/dev/null)
CP_BOARD := $(word 1,$(CP_BOARD_INFO))
CP_PORT := $(word 2,$(CP_BOARD_INFO))
CP_IMAGE := $(word 4,$(CP_BOARD_INFO))
CP_OUT := $(BUILD)/firmware/circuitpython-$(CP_BOARD)
CP_MPY_CROSS = $(CIRCUITPY_DIR)/mpy-cross/build/mpy-cross
# A file of each submodule the board's build reads: missing ones are named.
CP_SUBMODULE_FILES_raspberrypi := ports/raspberrypi/sdk/src/rp2040/hardware_regs/include/hardware/regs/addressmap.h \
  lib/tinyusb/src/tusb.h lib/micropython-lib/README.md lib/mbedtls/include/mbedtls/sha256.h lib/tlsf/tlsf.c \
  extmod/ulab/code/ulab.c lib/mp3/src/mp3dec.c lib/protomatter/src/core.c lib/quirc/lib/quirc.h \
  lib/adafruit_floppy/src/mfm_impl.h data/nvm.toml/flash/flash.toml ports/raspberrypi/lib/PicoDVI/software/libdvi/dvi.c \
  ports/raspberrypi/lib/cyw43-driver/src/cyw43.h \
  tools/huffman/huffman/__init__.py tools/python-semver/semver.py tools/uf2/utils/uf2conv.py \
  tools/bitmap_font/adafruit_bitmap_font/bitmap_font.py
CP_SUBMODULE_FILES_espressif := ports/espressif/esp-idf/export.sh lib/tinyusb/src/tusb.h tools/huffman/huffman/__init__.py
CP_SUBMODULE_FILES := $(CP_SUBMODULE_FILES_$(CP_PORT))
CP_FLAGS := CIRCUITPY_SKIP_SAFE_MODE_WAIT=1
CP_PORT_FLAGS_raspberrypi := CIRCUITPY_USB_HOST=0
CP_PATH = $(if $(findstring /,$(CIRCUITPY_PYTHON)),$(abspath $(dir $(CIRCUITPY_PYTHON))):)$$PATH
CP_GCC_ARG = $(if $(CIRCUITPY_MIN_GCC_VERSION),CIRCUITPY_MIN_GCC_VERSION=$(CIRCUITPY_MIN_GCC_VERSION))

.PHONY: firmware firmware-circuitpython-check firmware-circuitpython-sysdeps

firmware-circuitpython-check:
	@if [ -z "$(CP_BOARD)" ]; then $(CP_TOOL_PY) tools/circuitpython_firmware.py board $(BOARD); exit 2; fi
	@if [ -z "$(CIRCUITPY_DIR)" ]; then \
	  echo "make firmware RUNTIME=circuitpython: set CIRCUITPY_DIR to a CircuitPython source tree at a release tag, e.g." >&2; \
	  echo "  git clone -b 10.2.1 https://github.com/adafruit/circuitpython ~/src/circuitpython" >&2; \
	  echo "  make -C ~/src/circuitpython/ports/$(CP_PORT) fetch-port-submodules" >&2; \
	  echo "  make firmware RUNTIME=circuitpython BOARD=$(CP_BOARD) CIRCUITPY_DIR=~/src/circuitpython" >&2; exit 2; fi
	@if [ ! -f "$(CIRCUITPY_DIR)/py/circuitpy_mpconfig.mk" ] || [ ! -f "$(CIRCUITPY_DIR)/ports/$(CP_PORT)/boards/$(CP_BOARD)/mpconfigboard.mk" ]; then \
	  echo "make firmware RUNTIME=circuitpython: $(CIRCUITPY_DIR) is not a CircuitPython source tree with the board $(CP_BOARD) (no ports/$(CP_PORT)/boards/$(CP_BOARD)/mpconfigboard.mk)" >&2; exit 2; fi
	@if [ "$(CP_PORT)" = espressif ] && [ -z "$$IDF_PATH" ]; then \
	  echo "make firmware RUNTIME=circuitpython: BOARD=$(CP_BOARD) needs ESP-IDF as CircuitPython pins it (its submodule ports/espressif/esp-idf): run its install.sh, then 'source $(CIRCUITPY_DIR)/ports/espressif/esp-idf/export.sh' (IDF_PATH is not set). Not built by this project so far." >&2; exit 2; fi
	@missing=""; for f in $(CP_SUBMODULE_FILES); do [ -e "$(CIRCUITPY_DIR)/$$f" ] || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make firmware RUNTIME=circuitpython: $(CIRCUITPY_DIR) lacks submodules the $(CP_PORT) port builds with (missing:$$missing); fetch them at the commits the tree pins: make -C $(CIRCUITPY_DIR)/ports/$(CP_PORT) fetch-port-submodules" >&2; exit 2; fi
	@if ! PATH="$(CP_PATH)" python3 -c "import cascadetoml, jinja2, typer" 2>/dev/null; then \
	  echo "make firmware RUNTIME=circuitpython: the Python that CircuitPython's build runs lacks its requirements (cascadetoml, jinja2, typer). Put them in a virtual environment of their own, e.g." >&2; \
	  echo "  python3 -m venv ~/cp-venv && ~/cp-venv/bin/pip install cascadetoml jinja2 typer 'click<8.2.0'" >&2; \
	  echo "  (or -r $(CIRCUITPY_DIR)/requirements-dev.txt), then give CIRCUITPY_PYTHON=~/cp-venv/bin/python3" >&2; exit 2; fi
	@if [ "$(CP_PORT)" = raspberrypi ]; then \
	  v=$$(arm-none-eabi-gcc -dumpversion 2>/dev/null | cut -d. -f1); \
	  if [ -z "$$v" ]; then echo "make firmware RUNTIME=circuitpython: no arm-none-eabi-gcc on PATH" >&2; exit 2; fi; \
	  floor="$(if $(CIRCUITPY_MIN_GCC_VERSION),$(CIRCUITPY_MIN_GCC_VERSION),$(CIRCUITPY_GCC_FLOOR))"; \
	  if [ "$$v" -lt "$$floor" ]; then \
	    echo "make firmware RUNTIME=circuitpython: arm-none-eabi-gcc $$(arm-none-eabi-gcc -dumpversion) is older than the $(CIRCUITPY_GCC_FLOOR) CircuitPython 10 requires (its CI builds with Arm GNU Toolchain 15.2.Rel1, developer.arm.com). Put that on PATH, or build with this one at your own risk with CIRCUITPY_MIN_GCC_VERSION=$$v (boards/README.md says what such an image was tested for)." >&2; exit 2; fi; \
	fi

# rp2: what MicroPython's rp2 build needs (boards.mk), and gettext (CircuitPython's translations).
firmware-circuitpython-sysdeps:
	@if [ "$(CP_PORT)" = raspberrypi ]; then $(APT) $(FIRMWARE_RP2_APT_PACKAGES) gettext; fi

firmware: firmware-circuitpython-check firmware-circuitpython-sysdeps venv
	@mkdir -p $(CP_OUT)
	$(PY) tools/circuitpython_firmware.py frozen $(CP_BOARD) $(abspath $(CP_OUT))/frozen
	@# CircuitPython's mpy-cross, built first and apart: the port's make would
	@# build a missing one inside its own environment, whose BUILD is the image's.
	@if [ -x "$(CP_MPY_CROSS)" ]; then echo "firmware: $(CP_MPY_CROSS) is there"; else \
	  echo "env -u MAKEFLAGS -u MFLAGS -u BUILD $(MAKE) -C $(CIRCUITPY_DIR)/mpy-cross"; \
	  PATH="$(CP_PATH)" env -u MAKEFLAGS -u MFLAGS -u BUILD $(MAKE) $(FIRMWARE_DRY_RUN) -C $(CIRCUITPY_DIR)/mpy-cross || exit $$?; fi
	PATH="$(CP_PATH)" $(MAKE) -C $(CIRCUITPY_DIR)/ports/$(CP_PORT) BOARD=$(CP_BOARD) \
	  BUILD=$(abspath $(CP_OUT))/build \
	  USER_C_MODULES=$(CURDIR)/lib \
	  FROZEN_MPY_DIRS=$(abspath $(CP_OUT))/frozen \
	  $(CP_FLAGS) $(CP_PORT_FLAGS_$(CP_PORT)) $(CP_GCC_ARG)
	cp $(CP_OUT)/build/firmware.$(CP_IMAGE) $(CP_OUT)/pyfido-circuitpython-$(CP_BOARD).$(CP_IMAGE)
	cp $(CP_OUT)/build/firmware.elf $(CP_OUT)/pyfido-circuitpython-$(CP_BOARD).elf
	@echo "firmware: $(CP_OUT)/pyfido-circuitpython-$(CP_BOARD).$(CP_IMAGE)"
