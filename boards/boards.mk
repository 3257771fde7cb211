# boards/boards.mk -- board targets (included by the top-level Makefile, which
# defines PY, BUILD, APT and the venv/node-deps targets).
#
#   make firmware BOARD=rp2040 MICROPY_DIR=~/src/micropython
#       MicroPython firmware with the key frozen in and lib/p256 built in as a
#       user C module -> build/firmware/<BOARD>/pyfido-<BOARD>.uf2 (.bin on
#       esp32s3). Needs a MicroPython source tree (with its submodules and,
#       for esp32s3, ESP-IDF set up: IDF_PATH).
#   make boards-test-deps
#       Debian packages the board tests need (a C compiler and the kernel's
#       uapi headers, to check the UHID layout against linux/uhid.h).

BOARD ?= rp2040
MICROPY_DIR ?=
FIRMWARE_OUT := $(BUILD)/firmware/$(BOARD)
# lib/p256's MicroPython user C module (CMake, as rp2 and esp32 build with it)
P256_USERMOD ?= $(CURDIR)/lib/p256/micropython.cmake
BOARDS_APT_PACKAGES := gcc linux-libc-dev

ifeq ($(BOARD),rp2040)
  MPY_PORT := rp2
  MPY_BOARD := RPI_PICO
  FIRMWARE_IMAGE := firmware.uf2
else ifeq ($(BOARD),esp32s3)
  MPY_PORT := esp32
  MPY_BOARD := ESP32_GENERIC_S3
  FIRMWARE_IMAGE := firmware.bin
endif

.PHONY: firmware boards-test-deps

boards-test-deps:
	@$(APT) $(BOARDS_APT_PACKAGES)

firmware: venv
	@if [ -z "$(MPY_PORT)" ]; then \
	  echo "make firmware: unknown BOARD=$(BOARD); use BOARD=rp2040 or BOARD=esp32s3" >&2; exit 2; fi
	@if [ -z "$(MICROPY_DIR)" ]; then \
	  echo "make firmware: set MICROPY_DIR to a MicroPython source tree, e.g." >&2; \
	  echo "  git clone https://github.com/micropython/micropython ~/src/micropython" >&2; \
	  echo "  make firmware BOARD=$(BOARD) MICROPY_DIR=~/src/micropython" >&2; exit 2; fi
	@if [ ! -f "$(MICROPY_DIR)/ports/$(MPY_PORT)/Makefile" ]; then \
	  echo "make firmware: $(MICROPY_DIR) is not a MicroPython source tree (no ports/$(MPY_PORT)/Makefile)" >&2; exit 2; fi
	@if [ ! -f "$(P256_USERMOD)" ]; then \
	  echo "make firmware: the P-256 user C module is missing ($(P256_USERMOD)); it comes with lib/p256" >&2; exit 2; fi
	@if [ "$(MPY_PORT)" = esp32 ] && [ -z "$$IDF_PATH" ]; then \
	  echo "make firmware: BOARD=esp32s3 needs ESP-IDF: source its export.sh first (IDF_PATH is not set)" >&2; exit 2; fi
	@mkdir -p $(FIRMWARE_OUT)
	$(PY) tools/firmware_manifest.py $(BOARD) $(abspath $(FIRMWARE_OUT))/manifest.py
	$(MAKE) -C $(MICROPY_DIR)/mpy-cross
	$(MAKE) -C $(MICROPY_DIR)/ports/$(MPY_PORT) BOARD=$(MPY_BOARD) submodules
	$(MAKE) -C $(MICROPY_DIR)/ports/$(MPY_PORT) BOARD=$(MPY_BOARD) \
	  BUILD=$(abspath $(FIRMWARE_OUT))/build \
	  FROZEN_MANIFEST=$(abspath $(FIRMWARE_OUT))/manifest.py \
	  USER_C_MODULES=$(P256_USERMOD)
	cp $(FIRMWARE_OUT)/build/$(FIRMWARE_IMAGE) $(FIRMWARE_OUT)/pyfido-$(BOARD)$(suffix $(FIRMWARE_IMAGE))
	@echo "firmware: $(FIRMWARE_OUT)/pyfido-$(BOARD)$(suffix $(FIRMWARE_IMAGE))"
