# tools/mk/package.mk -- the pyfido-key distribution (pyproject.toml), the
# virtual key as a package for relying parties' test suites.
#
#   make package        sdist and wheel into build/dist (python -m build: the
#                       wheel is built from the sdist)
#   make test-package   its tests alone: the build helper, the wheel in a fresh
#                       venv running examples/relying_party, the VirtualKey API,
#                       the pytest plugin and the CLI (all part of `make test`)

PACKAGE_TESTS := host_tests/test_package.py host_tests/test_virtual_key_api.py \
  host_tests/test_virtual_key_api_plugin.py host_tests/test_cli.py

.PHONY: package test-package

package: venv-test sysdeps
	$(PY) -m build --outdir $(BUILD)/dist .

test-package: venv-test sysdeps p256-host ed25519-host
	$(PY) -m pytest $(PACKAGE_TESTS) -rs

# What a key costs a test suite: start/stop per fixture, ceremonies per second.
.PHONY: bench-virtual-key
bench-virtual-key: venv-test p256-host ed25519-host
	$(PY) tools/bench_virtual_key.py

bench: bench-virtual-key
