# lib/ed25519 as a MicroPython user C module, make-based ports (unix, ...)
# and CircuitPython (which scans lib/*/micropython.mk):
#   make -C ports/unix USER_C_MODULES=/path/to/repo/lib
# The binding is scanned for QSTRs; the core has none.
ED25519_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += $(ED25519_MOD_DIR)/ed25519_mpy.c
SRC_USERMOD_LIB_C += $(ED25519_MOD_DIR)/ed25519.c
CFLAGS_USERMOD += -I$(ED25519_MOD_DIR)
