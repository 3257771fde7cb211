# lib/p256/p256.mk - build, check and measure lib/p256.
#
# Included by the top-level Makefile, which defines VENV, PY, BUILD and the
# targets `venv` (the .venv from requirements.txt) and `node-deps` (npm ci
# in tools/node). Every target installs the Debian packages it needs with
# tools/ensure_apt.sh, so a fresh machine needs nothing by hand.
#
#   p256-host             CPython extension build/host/p256.so (file target)
#   p256-host32           the same with 32-bit limbs, build/host32/p256.so
#   p256-m0               Cortex-M0+ build: size and stack report, then an
#                         rp2040js run checked against p256-host, with cycles
#   p256-ct               valgrind constant-time check, with negative controls
#   bench-p256            tools/bench_p256.py: this vs OpenSSL vs mbedtls, M0+
#   bench-p256-compare    the same next to another version of lib/p256
#                         (P256_BASE_REF=main by default), in one run
#   p256-table-check      the committed comb table matches gen_table.py
#   firmware-p256-natmod  MICROPY_DIR=...: native p256.mpy for the boards'
#                         architectures (armv6m, xtensawin) whose compiler is
#                         on PATH, or P256_NATMOD_ARCHS="..." exactly
#   firmware-p256-unix    MICROPY_DIR=...: unix port, 64- and 32-bit, with the
#                         user C module and the core frozen in, into
#                         build/micropython-unix-{64,32}/; the smoke test on each
# (rp2/esp32 firmware with the user C module: `make firmware`, boards/boards.mk)

P256_DIR := lib/p256
P256_CORE := $(P256_DIR)/p256.c $(P256_DIR)/p256.h $(P256_DIR)/p256_table.h
P256_WARN := -Wall -Wextra -Werror
# Host builds: GCC 12 auto-vectorises at -O2, and on x86-64 that turns the
# limb loops (masked selects, copies) into 128-bit loads of words just
# stored one by one; the store-forwarding stalls made the field addition
# three times slower and ECDH 1.7 times slower. The code is carry chains
# and gains nothing from SIMD. (Thumb-1 and Xtensa have no vector unit.)
P256_HOST_OPT := -O2 -fno-tree-vectorize
P256_APT := sh tools/ensure_apt.sh

.PHONY: p256-host p256-host32 p256-m0 p256-m0-build p256-ct p256-ct-build bench-p256 bench-p256-compare \
        p256-table-check p256-arm-tools p256-valgrind p256-mbedtls p256-need-micropython \
        firmware-p256-natmod p256-natmod-deps firmware-p256-unix

# --- CPython extension -------------------------------------------------------
P256_HOST_SO := $(BUILD)/host/p256.so

p256-host: $(P256_HOST_SO)

# Rebuilt when a source changes or the venv's interpreter is replaced.
$(P256_HOST_SO): $(P256_CORE) $(P256_DIR)/p256_cpython.c $(wildcard $(PY)) | venv
	@mkdir -p $(@D)
	$(CC) -std=c99 $(P256_HOST_OPT) -g $(P256_WARN) -fPIC -shared -fvisibility=hidden \
	  -I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
	  -o $@ $(P256_DIR)/p256.c $(P256_DIR)/p256_cpython.c

# The same extension with 32-bit limbs (-DP256_NO_INT128): the C paths the
# boards run (the ESP32-S3 uses exactly these; the M0+ adds its asm), so
# the full differential and vector suites also run against them.
P256_HOST32_SO := $(BUILD)/host32/p256.so

p256-host32: $(P256_HOST32_SO)

$(P256_HOST32_SO): $(P256_CORE) $(P256_DIR)/p256_cpython.c $(wildcard $(PY)) | venv
	@mkdir -p $(@D)
	$(CC) -std=c99 $(P256_HOST_OPT) -g $(P256_WARN) -DP256_NO_INT128 -fPIC -shared -fvisibility=hidden \
	  -I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
	  -o $@ $(P256_DIR)/p256.c $(P256_DIR)/p256_cpython.c

p256-table-check: | venv
	$(PY) $(P256_DIR)/gen_table.py --check

# --- Cortex-M0+ (RP2040) -----------------------------------------------------
P256_M0 := $(BUILD)/m0
P256_ARM_CC := arm-none-eabi-gcc
P256_ARM_CFLAGS := -mcpu=cortex-m0plus -mthumb -std=c99 $(P256_WARN) \
  -ffunction-sections -fdata-sections

p256-arm-tools:
	@$(P256_APT) gcc-arm-none-eabi libnewlib-arm-none-eabi

# One image per optimisation level: -Os is the one measured (what a size-
# conscious firmware uses); -O2 is MicroPython's rp2 default, and inline
# asm or code generation can differ between the two, so both are run.
# -fcallgraph-info=su writes p256.ci next to the object: the static stack bound.
define P256_M0_IMAGE
$(1)/p256.o: $$(P256_CORE) | p256-arm-tools
	@mkdir -p $$(@D)
	$$(P256_ARM_CC) $$(P256_ARM_CFLAGS) $(2) -fstack-usage -fcallgraph-info=su -c $$(P256_DIR)/p256.c -o $$@

$(1)/m0_main.o: $$(P256_DIR)/m0/m0_main.c $$(P256_DIR)/m0/m0_harness.h $$(P256_DIR)/p256.h | p256-arm-tools
	@mkdir -p $$(@D)
	$$(P256_ARM_CC) $$(P256_ARM_CFLAGS) $(2) -I$$(P256_DIR) -c $$< -o $$@

$(1)/p256_m0.bin: $(1)/m0_main.o $(1)/p256.o $$(P256_DIR)/m0/link.ld
	$$(P256_ARM_CC) -mcpu=cortex-m0plus -mthumb -nostartfiles -Wl,--gc-sections \
	  -T $$(P256_DIR)/m0/link.ld -Wl,-Map=$(1)/p256_m0.map \
	  $(1)/m0_main.o $(1)/p256.o -lc -lgcc -o $(1)/p256_m0.elf
	arm-none-eabi-objcopy -O binary $(1)/p256_m0.elf $$@
endef
$(eval $(call P256_M0_IMAGE,$(P256_M0),-Os))
$(eval $(call P256_M0_IMAGE,$(P256_M0)-O2,-O2))

p256-m0-build: $(P256_M0)/p256_m0.bin $(P256_M0)-O2/p256_m0.bin

p256-m0: $(P256_M0)/p256_m0.bin $(P256_M0)-O2/p256_m0.bin $(P256_HOST_SO) | node-deps
	$(PY) $(P256_DIR)/m0/m0tool.py report --obj $(P256_M0)/p256.o --ci $(P256_M0)/p256.ci
	$(PY) $(P256_DIR)/m0/m0tool.py check --bin $(P256_M0)/p256_m0.bin --cases 3
	@echo "-O2 image:"
	$(PY) $(P256_DIR)/m0/m0tool.py check --bin $(P256_M0)-O2/p256_m0.bin --cases 2

# --- constant time under valgrind --------------------------------------------
# The same harness against three builds of the core: -O2 and -Os with the
# 64-bit limbs of this host, and -O2 with the 32-bit limbs the boards use.
P256_CT := $(BUILD)/ct
P256_CT_BINS := $(P256_CT)/ct_check_O2 $(P256_CT)/ct_check_Os $(P256_CT)/ct_check_32

p256-valgrind:
	@$(P256_APT) valgrind

$(P256_CT)/ct_check_%: $(P256_CORE) $(P256_DIR)/ct/ct_check.c | p256-valgrind
	@mkdir -p $(@D)
	$(CC) -std=c99 -g $(P256_WARN) -DP256_VALGRIND -I$(P256_DIR) \
	  $(if $(filter 32,$*),$(P256_HOST_OPT) -DP256_NO_INT128,$(if $(filter O2,$*),$(P256_HOST_OPT),-$*)) \
	  -o $@ $(P256_DIR)/ct/ct_check.c $(P256_DIR)/p256.c

p256-ct-build: $(P256_CT_BINS)

# Clean runs must pass; each negative control must be caught (exit 99).
p256-ct: $(P256_CT_BINS)
	@for b in $(P256_CT_BINS); do \
	  valgrind -q --error-exitcode=99 $$b clean || { echo "FAIL: $$b leaks secrets"; exit 1; }; \
	done
	@for m in leaky-branch leaky-index; do \
	  valgrind -q --error-exitcode=99 $(P256_CT)/ct_check_O2 $$m >/dev/null 2>&1; rc=$$?; \
	  test $$rc = 99 || { echo "FAIL: negative control $$m not caught (rc $$rc)"; exit 1; }; \
	  echo "negative control $$m: caught"; \
	done

# --- benchmark ---------------------------------------------------------------
P256_BENCH := $(BUILD)/bench/bench_c

p256-mbedtls:
	@$(P256_APT) libmbedtls-dev

$(P256_BENCH): $(P256_CORE) $(P256_DIR)/bench/bench_c.c | p256-mbedtls
	@mkdir -p $(@D)
	$(CC) -std=c99 $(P256_HOST_OPT) $(P256_WARN) -I$(P256_DIR) -o $@ \
	  $(P256_DIR)/bench/bench_c.c $(P256_DIR)/p256.c -lmbedcrypto

bench-p256: $(P256_HOST_SO) $(P256_BENCH) $(P256_M0)/p256_m0.bin $(P256_M0)-O2/p256_m0.bin | node-deps
	$(PY) tools/bench_p256.py --build $(BUILD)

# The same, with another version of lib/p256 (a git ref, main by default)
# measured in the same run: its lib/p256 is exported to $(P256_BASE), given
# this tree's measuring harnesses (bench/, m0/) so only the core differs,
# and built there by these very rules, so with the same compiler flags
# (P256_BASE_MAKEFLAGS="P256_HOST_OPT=-O2" builds it as before that flag).
P256_BASE_REF ?= main
P256_BASE := $(BUILD)/p256-base
bench-p256-compare: $(P256_HOST_SO) $(P256_BENCH) $(P256_M0)/p256_m0.bin $(P256_M0)-O2/p256_m0.bin | node-deps
	rm -rf $(P256_BASE) && mkdir -p $(P256_BASE)
	git archive $(P256_BASE_REF) $(P256_DIR) | tar -x -C $(P256_BASE)
	cp -r $(P256_DIR)/bench $(P256_DIR)/m0 $(P256_BASE)/$(P256_DIR)/
	$(MAKE) --no-print-directory P256_DIR=$(P256_BASE)/$(P256_DIR) BUILD=$(P256_BASE)/build $(P256_BASE_MAKEFLAGS) \
	  $(P256_BASE)/build/host/p256.so $(P256_BASE)/build/bench/bench_c $(P256_BASE)/build/m0/p256_m0.bin
	@echo "baseline: lib/p256 of $(P256_BASE_REF) ($$(git rev-parse --short $(P256_BASE_REF)))"
	$(PY) tools/bench_p256.py --build $(BUILD) --baseline $(P256_BASE)/build

# --- MicroPython builds (need a MicroPython checkout) ------------------------
# Not buildable without MICROPY_DIR; see lib/p256/README.md.
p256-need-micropython:
	@test -n "$(MICROPY_DIR)" && test -f "$(MICROPY_DIR)/py/dynruntime.mk" || { \
	  echo "error: set MICROPY_DIR to a MicroPython source checkout (v1.22 or later)," >&2; \
	  echo "       e.g. make $(MAKECMDGOALS) MICROPY_DIR=~/src/micropython" >&2; \
	  echo "       ('$(MICROPY_DIR)' has no py/dynruntime.mk)" >&2; exit 1; }

# Architectures of the boards: armv6m (RP2040), xtensawin (ESP32-S3). By
# default those whose compiler is on PATH are built and the others skipped,
# saying why; P256_NATMOD_ARCHS="..." builds exactly those (any arch of
# MicroPython's py/dynruntime.mk) and fails when a compiler is missing.
P256_NATMOD_BOARD_ARCHS := armv6m xtensawin
P256_NATMOD_ARCHS ?=
# The compiler py/dynruntime.mk runs for each arch ($(CROSS)gcc there), and
# where it comes from.
P256_NATMOD_CC = $(strip \
  $(if $(filter armv6m armv7m armv7emsp armv7emdp,$(1)),arm-none-eabi-gcc, \
  $(if $(filter xtensawin,$(1)),xtensa-esp32-elf-gcc, \
  $(if $(filter xtensa,$(1)),xtensa-lx106-elf-gcc, \
  $(if $(filter rv32imc rv64imc,$(1)),riscv64-unknown-elf-gcc, \
  $(if $(filter x64 x86,$(1)),gcc,))))))
P256_NATMOD_CC_HINT_arm-none-eabi-gcc := Debian gcc-arm-none-eabi and libnewlib-arm-none-eabi
P256_NATMOD_CC_HINT_xtensa-esp32-elf-gcc := ESP-IDF: source its export.sh
P256_NATMOD_CC_HINT_xtensa-lx106-elf-gcc := the ESP8266 toolchain (esp-open-sdk)
P256_NATMOD_CC_HINT_riscv64-unknown-elf-gcc := Debian gcc-riscv64-unknown-elf and picolibc-riscv64-unknown-elf
P256_NATMOD_CC_HINT_gcc := Debian gcc (gcc-multilib for x86)
# The arm compiler is installed when an Arm arch is wanted (Debian).
P256_NATMOD_WANTS_ARM := $(filter armv6m armv7m armv7emsp armv7emdp,$(or $(P256_NATMOD_ARCHS),$(P256_NATMOD_BOARD_ARCHS)))

# (This recipe runs under make -n too, as every line naming $(MAKE) does:
# nothing in it may destroy a build.)
# Each arch is built in build/natmod/<arch>/, through a Makefile there that
# includes lib/p256/natmod/Makefile (py/dynruntime.mk wants one in its
# directory): p256.mpy and mpy_ld.py's .mpy_ld_cache land there, not in the
# source tree, and two builds never share a directory.
# MicroPython's tools/mpy_ld.py (run by py/dynruntime.mk with $(PY)) reads ELF
# with pyelftools and, for LINK_RUNTIME=1, libgcc.a through PyPI `ar`.
P256_NATMOD_REQUIREMENTS := requirements-natmod.txt
$(VENV)/.installed-natmod: $(P256_NATMOD_REQUIREMENTS) | venv
	$(PY) -m pip install --quiet -r $(P256_NATMOD_REQUIREMENTS)
	@touch $@

p256-natmod-deps: $(VENV)/.installed-natmod $(if $(P256_NATMOD_WANTS_ARM),p256-arm-tools)

firmware-p256-natmod: p256-need-micropython p256-natmod-deps
	@explicit="$(strip $(P256_NATMOD_ARCHS))"; build=""; \
	$(foreach a,$(or $(strip $(P256_NATMOD_ARCHS)),$(P256_NATMOD_BOARD_ARCHS)), \
	  cc="$(call P256_NATMOD_CC,$(a))"; \
	  if [ -z "$$cc" ]; then \
	    echo "firmware-p256-natmod: unknown arch $(a) (py/dynruntime.mk knows armv6m armv7m armv7emsp armv7emdp xtensa xtensawin rv32imc rv64imc x64 x86)" >&2; exit 2; \
	  elif command -v $$cc >/dev/null 2>&1; then build="$$build $(a)"; \
	  elif [ -n "$$explicit" ]; then \
	    echo "firmware-p256-natmod: P256_NATMOD_ARCHS asks for $(a), whose compiler $$cc is not on PATH (from $(P256_NATMOD_CC_HINT_$(call P256_NATMOD_CC,$(a))))" >&2; exit 2; \
	  else \
	    echo "firmware-p256-natmod: skipping $(a): its compiler $$cc is not on PATH (from $(P256_NATMOD_CC_HINT_$(call P256_NATMOD_CC,$(a))); then P256_NATMOD_ARCHS=$(a))"; \
	  fi;) \
	if [ -z "$$build" ]; then echo "firmware-p256-natmod: no architecture to build" >&2; exit 2; fi; \
	for arch in $$build; do \
	  out=$(abspath $(BUILD))/natmod/$$arch; mkdir -p $$out && \
	  echo "include $(abspath $(P256_DIR))/natmod/Makefile" > $$out/Makefile && \
	  $(MAKE) -C $$out MPY_DIR=$(abspath $(MICROPY_DIR)) ARCH=$$arch BUILD=$$out/obj \
	    PYTHON=$(abspath $(PY)) || exit 1; \
	  echo "built $(BUILD)/natmod/$$arch/$(notdir $(P256_DIR)).mpy ($$(wc -c < $$out/$(notdir $(P256_DIR)).mpy) bytes)"; \
	done

# The unix port, 64- and 32-bit (P256_UNIX_BITS), each built as a board's
# firmware is: lib/p256 as a user C module and the key's core frozen in
# (tools/micropython_unix.py writes the manifest), into
# $(BUILD)/micropython-unix-<bits>/ -- never the MicroPython tree's own
# build directories; its mpy-cross goes to $(BUILD)/mpy-cross. Off: btree
# and ffi, whose submodule (berkeley-db) or system library (libffi, for
# -m32 too) the key does not need. On: ssl with mbedtls (lib/mbedtls), which
# the port's real cryptolib (AES-CBC) is built on. 32-bit is the port's own
# MICROPY_FORCE_32BIT=1 (-m32; Debian gcc-multilib), with the C stack limit of
# the 64-bit build (the port checks 40,000 bytes on 32-bit, 80,000 on 64): the
# tests import board adapters and fakes from source, a dozen deep, and each
# import compiles (about 4 KB of C stack); a board has them frozen or as .mpy.
P256_UNIX_BITS ?= 64 32
P256_UNIX_BUILD = $(abspath $(BUILD))/micropython-unix
P256_MPY_CROSS = $(abspath $(BUILD))/mpy-cross/mpy-cross

firmware-p256-unix: p256-need-micropython | venv
	@test -f "$(MICROPY_DIR)/lib/mbedtls/include/mbedtls/aes.h" && test -f "$(MICROPY_DIR)/lib/micropython-lib/README.md" || { \
	  echo "error: $(MICROPY_DIR) lacks the submodules this build needs: lib/mbedtls (cryptolib's AES)" >&2; \
	  echo "       and lib/micropython-lib (the port's frozen modules); fetch them with" >&2; \
	  echo "       git -C $(MICROPY_DIR) submodule update --init lib/mbedtls lib/micropython-lib" >&2; exit 1; }
	@$(if $(filter 32,$(P256_UNIX_BITS)),$(P256_APT) gcc-multilib)
	$(MAKE) -C $(MICROPY_DIR)/mpy-cross BUILD=$(dir $(P256_MPY_CROSS))
	@set -e; for bits in $(P256_UNIX_BITS); do \
	  out=$(P256_UNIX_BUILD)-$$bits; \
	  $(PY) tools/micropython_unix.py manifest $$out; \
	  echo "building $$out/micropython"; \
	  $(MAKE) -C $(MICROPY_DIR)/ports/unix BUILD=$$out FROZEN_MANIFEST=$$out/manifest.py \
	    USER_C_MODULES=$(abspath $(P256_DIR)/..) MICROPY_MPYCROSS=$(P256_MPY_CROSS) \
	    MICROPY_PY_BTREE=0 MICROPY_PY_FFI=0 \
	    $$(test $$bits = 32 && echo MICROPY_FORCE_32BIT=1 CFLAGS_EXTRA=-DUNIX_STACK_MULTIPLIER=2); \
	  $$out/micropython $(P256_DIR)/tests/smoke_mpy.py; \
	done
