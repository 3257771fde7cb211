# The MicroPython unix port as a second real MicroPython (issue 12): the
# MicroPython-tagged test files against its 64- and 32-bit binaries. Needs a
# MicroPython source tree, so `make test` (the WebAssembly build, no tree)
# never runs these. Included by the top Makefile, after lib/p256/p256.mk,
# whose firmware-p256-unix builds the binaries (P256_UNIX_BUILD-<bits>).
#
#   make test-micropython-unix MICROPY_DIR=...   build both, then run
#       MPY_UNIX_TESTS against each (PYFIDO_MICROPYTHON=<binary>); the
#       32-bit run includes the full flow in 48 KB of heap and the
#       micropython.heap_lock() proofs of CTAPHID
#   make bench-micropython-unix MICROPY_DIR=...  least heap for the full flow
#       (32 and 64-bit), and heap per request on the 32-bit binary

MPY_UNIX_TESTS ?= host_tests/test_mpy_unix.py host_tests/test_mpy_key.py \
  host_tests/test_e2e_micropython.py host_tests/test_e2e_micropython_hid.py \
  host_tests/test_e2e_micropython_ctap2.py host_tests/test_e2e_micropython_fuzz.py \
  host_tests/test_e2e_micropython_clock.py host_tests/test_board_wasm.py \
  host_tests/test_cbor_micropython.py host_tests/test_heap_micropython.py \
  host_tests/test_heap_lock_micropython.py host_tests/test_p256_micropython_wipe.py \
  host_tests/test_ed25519_micropython_wipe.py

# test_p256_micropython_wipe.py and test_ed25519_micropython_wipe.py also
# load lib/p256 and lib/ed25519 as native modules built for the binary's own
# arch (x64 for 64-bit, x86 for 32-bit).
P256_UNIX_NATMOD_ARCHS = $(patsubst 64,x64,$(patsubst 32,x86,$(P256_UNIX_BITS)))

.PHONY: test-micropython-unix bench-micropython-unix

# pytest exits 5 when it collected nothing: a failure here too.
test-micropython-unix: firmware-p256-unix deps p256-host
	$(MAKE) --no-print-directory firmware-p256-natmod P256_NATMOD_ARCHS="$(P256_UNIX_NATMOD_ARCHS)"
	$(MAKE) --no-print-directory firmware-ed25519-natmod ED25519_NATMOD_ARCHS="$(P256_UNIX_NATMOD_ARCHS)"
	@set -o pipefail; for bits in $(P256_UNIX_BITS); do \
	  echo "== MicroPython unix port, $$bits-bit: $(P256_UNIX_BUILD)-$$bits/micropython"; \
	  PYFIDO_MICROPYTHON=$(P256_UNIX_BUILD)-$$bits/micropython $(PY) -m pytest $(MPY_UNIX_TESTS) $(PYTEST_ARGS) \
	    || exit 1; \
	done

bench-micropython-unix: firmware-p256-unix deps p256-host
	$(PY) tools/bench_unix_heap.py $(foreach bits,$(P256_UNIX_BITS),$(P256_UNIX_BUILD)-$(bits)/micropython)
	PYFIDO_MICROPYTHON=$(P256_UNIX_BUILD)-32/micropython $(PY) tools/bench_mpy.py
