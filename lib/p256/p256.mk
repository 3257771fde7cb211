# lib/p256/p256.mk - build, check and measure lib/p256 (included by the
# top-level Makefile, which defines VENV, PY, BUILD and the targets venv and
# node-deps). Every target installs the Debian packages it needs itself.

P256_DIR := lib/p256
P256_CORE := $(P256_DIR)/p256.c $(P256_DIR)/p256.h $(P256_DIR)/p256_table.h
P256_WARN := -Wall -Wextra -Werror
APT := sh tools/ensure_apt.sh

# --- 1. CPython extension: build/host/p256.so --------------------------------
P256_HOST_SO := $(BUILD)/host/p256.so

.PHONY: p256-host
p256-host: $(P256_HOST_SO)

# Rebuilt when a source changes or the venv's interpreter is replaced.
$(P256_HOST_SO): $(P256_CORE) $(P256_DIR)/p256_cpython.c $(wildcard $(PY)) | venv
	@mkdir -p $(@D)
	$(CC) -std=c99 -O2 -g $(P256_WARN) -fPIC -shared -fvisibility=hidden \
	  -I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
	  -o $@ $(P256_DIR)/p256.c $(P256_DIR)/p256_cpython.c
