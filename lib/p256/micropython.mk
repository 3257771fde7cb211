# lib/p256 as a MicroPython user C module, make-based ports (unix, ...):
#   make -C ports/unix USER_C_MODULES=/path/to/repo/lib
# The binding is scanned for QSTRs; the core has none.
P256_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += $(P256_MOD_DIR)/p256_mpy.c
SRC_USERMOD_LIB_C += $(P256_MOD_DIR)/p256.c
CFLAGS_USERMOD += -I$(P256_MOD_DIR)
