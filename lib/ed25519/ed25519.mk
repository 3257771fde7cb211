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

ED25519_DIR := lib/ed25519
ED25519_CORE := $(ED25519_DIR)/ed25519.c $(ED25519_DIR)/ed25519.h $(ED25519_DIR)/ed25519_table.h

.PHONY: ed25519-host ed25519-host32 ed25519-table-check

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
