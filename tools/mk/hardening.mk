# Hardening (issue 9): power-cut injection, fuzzing, libfido2 as a second
# client, benchmarks. Included by the top Makefile; also usable on its own:
#   make -f tools/mk/hardening.mk libfido2-harness
#
#   make libfido2-harness  build/libfido2-harness (C, against Debian libfido2-dev);
#                          host_tests/test_libfido2.py builds it through this target
#   make fuzz              long fuzzing run (hypothesis + atheris); prints the counts
#   make bench-e2e         makeCredential/getAssertion per second, time profile
#   make bench-wear        flash operations per command, power-cut points
#   make bench-size        .mpy bytes of the core per module
#   make bench-mpy         peak heap and allocations under MicroPython (WebAssembly)
#
# Wiring in the top Makefile: `test` depends on libfido2-harness; `bench` on
# bench-e2e bench-wear bench-size bench-mpy. fuzz, bench-e2e and bench-wear
# import the core, so they also need the venv and p256-host (the C P-256 for
# CPython); bench-mpy needs node-deps.

PY ?= .venv/bin/python
BUILD ?= build
APT ?= tools/ensure_apt.sh
CC ?= cc

LIBFIDO2_HARNESS := $(BUILD)/libfido2-harness

.PHONY: libfido2-harness

$(LIBFIDO2_HARNESS): tools/libfido2/harness.c
	@$(APT) gcc libfido2-dev
	@mkdir -p $(BUILD)
	@# built under a temporary name: parallel test workers may ask at once
	$(CC) -O2 -Wall -Wextra -Werror -o $@.tmp$$$$ $< -lfido2 && mv -f $@.tmp$$$$ $@

libfido2-harness: $(LIBFIDO2_HARNESS)

# -- fuzzing ---------------------------------------------------------------------
# The in-suite fuzzing (host_tests/test_fuzz*.py) is bounded and derandomized;
# this is the long run: FUZZ_EXAMPLES hypothesis cases per target, then
# FUZZ_ATHERIS_RUNS coverage-guided inputs over FUZZ_WORKERS processes.
FUZZ_EXAMPLES ?= 20000
FUZZ_ATHERIS_RUNS ?= 1000000
FUZZ_WORKERS ?= 2

.PHONY: fuzz
fuzz:
	$(PY) tools/fuzz.py --examples $(FUZZ_EXAMPLES) --atheris-runs $(FUZZ_ATHERIS_RUNS) --workers $(FUZZ_WORKERS)

# -- benchmarks (numbers and ratios, never pass/fail) ------------------------------
.PHONY: bench-e2e bench-wear bench-size bench-mpy
bench-e2e:
	$(PY) tools/bench_e2e.py
bench-wear:
	$(PY) tools/bench_wear.py
bench-size:
	$(PY) tools/bench_size.py
bench-mpy:  # needs tools/node (the top Makefile's node-deps)
	$(PY) tools/bench_mpy.py
