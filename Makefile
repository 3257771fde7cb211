# PyFIDO key — build, test, demo and benchmarks.
#
#   make demo    virtual key + a real python-fido2 client, printing what happened
#   make test    the whole test suite, from nothing (CI runs this)
#   make bench   benchmarks (numbers and ratios, never pass/fail)
#
# Everything a target needs is created by the target itself: the virtual
# environment, npm packages, Debian packages (installed when missing; CI runs
# as root), C builds.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build
NODE_DIR := tools/node
APT := tools/ensure_apt.sh

# Debian packages the tests use: C toolchains for lib/p256 (host, Cortex-M0+),
# valgrind (constant-time check), libfido2 (second real client), mbedtls
# (benchmark reference), Node.js (MicroPython WebAssembly, rp2040js).
APT_PACKAGES := gcc libfido2-1
# pytest: both cores, and an empty selection is a failure (see `test`).
PYTEST_ARGS ?= -n 2 -rs

.PHONY: all venv venv-test venv-fuzz sysdeps node-deps deps test demo bench fuzz clean distclean

# Targets owned by parts of the tree: lib/p256 and lib/ed25519 (the C P-256
# and Ed25519: CPython builds, Cortex-M0+ proof, constant-time check,
# benchmark) and boards (firmware images, UHID checks).
include lib/p256/p256.mk
# lib/ed25519 (the C Ed25519), built and checked the same way.
include lib/ed25519/ed25519.mk
include boards/boards.mk
# Hardening: make fuzz, end-to-end/wear/size/MicroPython benchmarks.
include tools/mk/hardening.mk
# The MicroPython unix port (MICROPY_DIR=...): test-micropython-unix, bench-micropython-unix.
include tools/mk/micropython_unix.mk
# Firmware in the loop: make firmware-e2e, make bench-firmware.
include tools/mk/firmware_loop.mk
# The tool's own tests: synthetic boot ROM and bare-metal images.
include tools/mk/emulator_tests.mk
# The virtual key as a package (pyproject.toml): make package, make test-package.
include tools/mk/package.mk

all: deps

# -- dependencies -----------------------------------------------------------
# Python packages in layers, each target installing the one it imports:
# requirements.txt (provisioning, virtual key, demo) < requirements-test.txt
# (make test, make bench) < requirements-fuzz.txt (make fuzz); natmod builds
# add requirements-natmod.txt (lib/p256/p256.mk).

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-test.txt
	@touch $@

$(VENV)/.installed-fuzz: requirements-fuzz.txt $(VENV)/.installed-test
	$(PY) -m pip install --quiet -r requirements-fuzz.txt
	@touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test
venv-fuzz: $(VENV)/.installed-fuzz

sysdeps:
	@$(APT) $(APT_PACKAGES)

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@command -v npm >/dev/null || $(APT) nodejs npm  # only when Node.js is absent altogether
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-deps: $(NODE_DIR)/node_modules/.installed

deps: sysdeps venv-test node-deps

# -- the two README commands --------------------------------------------------

# The demo needs the base packages and the C P-256 for CPython (gcc).
demo: sysdeps venv p256-host ed25519-host
	$(PY) tools/demo.py

# pytest exits 5 when it collected nothing: that is a failure here, never green.
test: deps boards-test-deps p256-host ed25519-host p256-m0 p256-ct ed25519-build-for-tests pico-test-images
	@set -o pipefail; $(PY) -m pytest host_tests $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests -- failing"; exit 1; fi; \
	exit $$rc

# Benchmarks print numbers and ratios against a reference measured in the
# same run; they never pass or fail on speed.
bench: deps p256-host bench-p256 bench-ed25519 bench-e2e bench-wear bench-size bench-mpy
	$(PY) tools/bench_micropython.py
	$(PY) tools/bench_u2f.py
	$(PY) tools/bench_pin.py
	$(PY) tools/bench_extensions.py

fuzz: deps venv-fuzz p256-host ed25519-host

clean:
	rm -rf $(BUILD) .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(NODE_DIR)/node_modules
