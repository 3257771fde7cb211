# Hardening (issue 9): power-cut injection, fuzzing, libfido2 as a second
# client, benchmarks. Included by the top Makefile.
#
#   make fuzz              long fuzzing run (hypothesis + atheris); prints the counts
#   make bench-e2e         makeCredential/getAssertion per second, time profile
#   make bench-wear        flash operations per command, power-cut points
#   make bench-size        .mpy bytes of the core per module
#   make bench-mpy         peak heap and allocations under MicroPython (WebAssembly)
#
# libfido2 needs no target here: host_tests/libfido2.py loads libfido2.so.1
# through ctypes, and the top Makefile's sysdeps installs it (Debian
# libfido2-1 in APT_PACKAGES) before `make test` runs the suite.
#
# Wiring in the top Makefile: `bench` depends on bench-e2e bench-wear
# bench-size bench-mpy; `test` needs nothing from this file. fuzz, bench-e2e
# and bench-wear import the core, so they also need the venv and p256-host
# (the C P-256 for CPython); bench-mpy needs node-deps.

PY ?= .venv/bin/python

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
bench-e2e: p256-host ed25519-host
	$(PY) tools/bench_e2e.py
bench-wear:
	$(PY) tools/bench_wear.py
bench-size:
	$(PY) tools/bench_size.py
bench-mpy:  # needs tools/node (the top Makefile's node-deps)
	$(PY) tools/bench_mpy.py
