# Firmware in the loop (issue 12): a built RP2040 image booted on rp2040js
# (tools/node/pico/), offered as a key on the virtual key's socket format.
# Included by the top Makefile. Not part of `make test`: these need a
# firmware image (make firmware BOARD=rp2040 MICROPY_DIR=...) and the RP2040
# boot ROM image, which the user supplies by path (never in this repository).
#
#   make firmware-e2e FIRMWARE=build/firmware/rp2040/pyfido-rp2040.uf2 BOOTROM=/path/to/b1.bin
#       the end-to-end scenarios (python-fido2, libfido2, U2F with button
#       presses, PIN, credential management, large blobs, power cycles)
#       against the firmware, provisioned once by tools/provision.py
#   make firmware-demo FIRMWARE=... BOOTROM=...
#       make demo's browser session against the provisioned firmware
#   make bench-firmware FIRMWARE=... BOOTROM=... [FIRMWARE_MHZ=125,200]
#       per-request times and heap at each CPU clock (tools/bench_firmware.py)
#   FIRMWARE_E2E_ARGS  more pytest arguments (-k ..., -x)
#   PROVISION_ARGS     more tools/provision.py options for the provisioned key

FIRMWARE ?= $(BUILD)/firmware/rp2040/pyfido-rp2040.uf2
BOOTROM ?=
FIRMWARE_MHZ ?= 125,200
FIRMWARE_E2E_ARGS ?=
PROVISION_ARGS ?=

.PHONY: firmware-e2e bench-firmware firmware-loop-inputs

firmware-loop-inputs:
	@test -n "$(BOOTROM)" || { echo "set BOOTROM to the RP2040 boot ROM image (16384 bytes, revision B1;" >&2; \
	  echo "  github.com/raspberrypi/pico-bootrom, or rp2040js's demo/bootrom.ts as binary)" >&2; exit 2; }
	@test -f "$(BOOTROM)" || { echo "BOOTROM=$(BOOTROM): no such file" >&2; exit 2; }
	@test -f "$(FIRMWARE)" || { echo "FIRMWARE=$(FIRMWARE): no such file; build one with" >&2; \
	  echo "  make firmware BOARD=rp2040 MICROPY_DIR=..." >&2; exit 2; }

# pytest exits 5 when it collected nothing: a failure here too.
firmware-e2e: deps p256-host firmware-loop-inputs
	@set -o pipefail; PYFIDO_FIRMWARE="$(abspath $(FIRMWARE))" PYFIDO_BOOTROM="$(abspath $(BOOTROM))" \
	  PYFIDO_PROVISION_ARGS="$(PROVISION_ARGS)" \
	  $(PY) -m pytest host_tests/test_firmware_*.py -rs --timeout 600 $(FIRMWARE_E2E_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make firmware-e2e: pytest collected no tests -- failing"; exit 1; fi; \
	exit $$rc

bench-firmware: deps p256-host p256-m0-build firmware-loop-inputs
	$(PY) tools/bench_firmware.py --firmware "$(FIRMWARE)" --bootrom "$(BOOTROM)" --mhz $(FIRMWARE_MHZ)

.PHONY: firmware-demo
# make demo's session (register a passkey, sign in) against the firmware.
firmware-demo: sysdeps venv node-deps firmware-loop-inputs
	$(PY) tools/firmware_demo.py --firmware "$(FIRMWARE)" --bootrom "$(BOOTROM)"
