# lib/ed25519/ed25519.mk - build, check and measure lib/ed25519.
#
# Included by the top-level Makefile after lib/p256/p256.mk, whose helpers
# (P256_HOST_OPT, P256_WARN, P256_APT, p256-arm-tools, p256-valgrind,
# p256-need-micropython, p256-natmod-deps) it reuses so both C libraries
# are built the same way.
#
#   ed25519-host        CPython extension build/host/ed25519.so (file target)
#   ed25519-host32      the same with 32-bit limbs, build/host32/ed25519.so
#   ed25519-table-check the committed comb table matches gen_table.py
#   ed25519-ct          valgrind constant-time check, with negative controls
#   ed25519-m0          Cortex-M0+ build: size and stack report, then an
#                       rp2040js run checked against ed25519-host, with cycles
#   bench-ed25519       tools/bench_ed25519.py: this vs OpenSSL, M0+ cycles

ED25519_DIR := lib/ed25519
ED25519_CORE := $(ED25519_DIR)/ed25519.c $(ED25519_DIR)/ed25519.h $(ED25519_DIR)/ed25519_table.h

.PHONY: ed25519-host ed25519-host32 ed25519-table-check ed25519-ct ed25519-ct-build ed25519-m0 ed25519-m0-build \
        bench-ed25519

# --- CPython extension -------------------------------------------------------
ED25519_HOST_SO := $(BUILD)/host/ed25519.so
ED25519_HOST32_SO := $(BUILD)/host32/ed25519.so

ed25519-host: $(ED25519_HOST_SO)
ed25519-host32: $(ED25519_HOST32_SO)

# Rebuilt when a source changes or the venv's interpreter is replaced.
# host32: -DED25519_NO_INT128, the 32-bit limbs and C paths the boards run.
$(BUILD)/host/ed25519.so $(BUILD)/host32/ed25519.so: $(ED25519_CORE) $(ED25519_DIR)/ed25519_cpython.c $(wildcard $(PY)) | venv
	@mkdir -p $(@D)
	$(CC) -std=c99 $(P256_HOST_OPT) -g $(P256_WARN) -fPIC -shared -fvisibility=hidden \
	  $(if $(findstring host32,$@),-DED25519_NO_INT128) \
	  -I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
	  -o $@ $(ED25519_DIR)/ed25519.c $(ED25519_DIR)/ed25519_cpython.c

ed25519-table-check: | venv
	$(PY) $(ED25519_DIR)/gen_table.py --check

# Everything the test modules build through make, built once before pytest
# starts its workers (two workers must never run the same compile at once).
.PHONY: ed25519-build-for-tests
ed25519-build-for-tests: $(ED25519_HOST_SO) $(ED25519_HOST32_SO) ed25519-m0-build ed25519-ct-build

# --- Cortex-M0+ (RP2040) -----------------------------------------------------
# lib/p256's harness (m0/m0_harness.h, link.ld, the rp2040js runner) with
# this library's m0/m0_main.c; -Os is the build measured, -O2 is MicroPython
# rp2's default, both run. -fcallgraph-info=su: the static stack bound.
ED25519_M0 := $(BUILD)/ed25519/m0

define ED25519_M0_IMAGE
$(1)/ed25519.o: $$(ED25519_CORE) | p256-arm-tools
	@mkdir -p $$(@D)
	$$(P256_ARM_CC) $$(P256_ARM_CFLAGS) $(2) -fstack-usage -fcallgraph-info=su -c $$(ED25519_DIR)/ed25519.c -o $$@

$(1)/m0_main.o: $$(ED25519_DIR)/m0/m0_main.c $$(P256_DIR)/m0/m0_harness.h $$(ED25519_DIR)/ed25519.h | p256-arm-tools
	@mkdir -p $$(@D)
	$$(P256_ARM_CC) $$(P256_ARM_CFLAGS) $(2) -I$$(ED25519_DIR) -I$$(P256_DIR)/m0 -c $$< -o $$@

$(1)/ed25519_m0.bin: $(1)/m0_main.o $(1)/ed25519.o $$(P256_DIR)/m0/link.ld
	$$(P256_ARM_CC) -mcpu=cortex-m0plus -mthumb -nostartfiles -Wl,--gc-sections \
	  -T $$(P256_DIR)/m0/link.ld -Wl,-Map=$(1)/ed25519_m0.map \
	  $(1)/m0_main.o $(1)/ed25519.o -lc -lgcc -o $(1)/ed25519_m0.elf
	arm-none-eabi-objcopy -O binary $(1)/ed25519_m0.elf $$@
endef
$(eval $(call ED25519_M0_IMAGE,$(ED25519_M0),-Os))
$(eval $(call ED25519_M0_IMAGE,$(ED25519_M0)-O2,-O2))
# with the field-arithmetic test hook (test_ed25519_m0.py: asm vs Python)
$(eval $(call ED25519_M0_IMAGE,$(ED25519_M0)-hooks,-Os -DED25519_TEST_HOOKS))

ed25519-m0-build: $(ED25519_M0)/ed25519_m0.bin $(ED25519_M0)-O2/ed25519_m0.bin $(ED25519_M0)-hooks/ed25519_m0.bin

ed25519-m0: ed25519-m0-build $(ED25519_HOST_SO) | node-deps
	$(PY) $(ED25519_DIR)/m0/m0tool.py report --obj $(ED25519_M0)/ed25519.o --ci $(ED25519_M0)/ed25519.ci
	$(PY) $(ED25519_DIR)/m0/m0tool.py check --bin $(ED25519_M0)/ed25519_m0.bin --cases 3
	@echo "-O2 image:"
	$(PY) $(ED25519_DIR)/m0/m0tool.py check --bin $(ED25519_M0)-O2/ed25519_m0.bin --cases 2

# --- benchmark ---------------------------------------------------------------
bench-ed25519: $(ED25519_HOST_SO) ed25519-m0-build | node-deps
	$(PY) tools/bench_ed25519.py --build $(BUILD)

# --- constant time under valgrind --------------------------------------------
# As p256-ct: -O2 and -Os with the host's 64-bit limbs, -O2 with the boards'
# 32-bit limbs; clean runs must pass, each negative control must be caught.
ED25519_CT := $(BUILD)/ed25519/ct
ED25519_CT_BINS := $(ED25519_CT)/ct_check_O2 $(ED25519_CT)/ct_check_Os $(ED25519_CT)/ct_check_32

$(ED25519_CT)/ct_check_%: $(ED25519_CORE) $(ED25519_DIR)/ct/ct_check.c | p256-valgrind
	@mkdir -p $(@D)
	$(CC) -std=c99 -g $(P256_WARN) -DED25519_VALGRIND -I$(ED25519_DIR) \
	  $(if $(filter 32,$*),$(P256_HOST_OPT) -DED25519_NO_INT128,$(if $(filter O2,$*),$(P256_HOST_OPT),-$*)) \
	  -o $@ $(ED25519_DIR)/ct/ct_check.c $(ED25519_DIR)/ed25519.c

ed25519-ct-build: $(ED25519_CT_BINS)

ed25519-ct: $(ED25519_CT_BINS)
	@for b in $(ED25519_CT_BINS); do \
	  valgrind -q --error-exitcode=99 $$b clean || { echo "FAIL: $$b leaks secrets"; exit 1; }; \
	done
	@for m in leaky-branch leaky-index; do \
	  valgrind -q --error-exitcode=99 $(ED25519_CT)/ct_check_O2 $$m >/dev/null 2>&1; rc=$$?; \
	  test $$rc = 99 || { echo "FAIL: negative control $$m not caught (rc $$rc)"; exit 1; }; \
	  echo "negative control $$m: caught"; \
	done

# --- MicroPython builds (need a MicroPython checkout) ------------------------
#   firmware-ed25519-natmod  MICROPY_DIR=...: native ed25519.mpy into
#                            build/ed25519/natmod/<arch>/, for the boards'
#                            architectures whose compiler is on PATH, or
#                            ED25519_NATMOD_ARCHS="..." exactly (x64: the
#                            unix port)
#   firmware-ed25519-unix    MICROPY_DIR=...: the unix port(s) of
#                            firmware-p256-unix (USER_C_MODULES=lib takes in
#                            every lib/*/micropython.mk, so lib/ed25519 too;
#                            the port compiles with -Werror), then
#                            tests/smoke_mpy.py on each, and on the x64
#                            native module loaded by the 64-bit port
# (rp2/esp32 firmware: `make firmware`, boards/boards.mk, whose
# lib/micropython.cmake includes lib/ed25519/micropython.cmake.)
ED25519_NATMOD_ARCHS ?=

.PHONY: firmware-ed25519-natmod firmware-ed25519-unix

# lib/p256's recipe, run on this directory with its own build root.
firmware-ed25519-natmod:
	$(MAKE) --no-print-directory firmware-p256-natmod P256_DIR=$(ED25519_DIR) BUILD=$(BUILD)/ed25519 \
	  P256_NATMOD_ARCHS="$(ED25519_NATMOD_ARCHS)"

firmware-ed25519-unix: firmware-p256-unix
	@set -e; for bits in $(P256_UNIX_BITS); do \
	  echo "$(P256_UNIX_BUILD)-$$bits/micropython $(ED25519_DIR)/tests/smoke_mpy.py"; \
	  $(P256_UNIX_BUILD)-$$bits/micropython $(ED25519_DIR)/tests/smoke_mpy.py; \
	done
	@# the native module under another name: the port's built-in ed25519
	@# would shadow it; sys.modules makes the smoke test's import find it
	@if echo " $(P256_UNIX_BITS) " | grep -q " 64 "; then \
	  $(MAKE) --no-print-directory firmware-ed25519-natmod ED25519_NATMOD_ARCHS=x64 && \
	  cp $(BUILD)/ed25519/natmod/x64/ed25519.mpy $(BUILD)/ed25519/natmod/x64/ed25519nat.mpy && \
	  echo "the x64 native module on the 64-bit port:" && \
	  cd $(BUILD)/ed25519/natmod/x64 && $(P256_UNIX_BUILD)-64/micropython -c \
	    "import sys; sys.path.insert(0, '.'); import ed25519nat; sys.modules['ed25519'] = ed25519nat; import ed25519; assert ed25519 is ed25519nat; exec(open('$(abspath $(ED25519_DIR))/tests/smoke_mpy.py').read())"; \
	fi
