# The firmware-in-the-loop tool's own tests (tools/node/pico/test/,
# host_tests/test_pico_emulator.py), part of `make test`: they need neither
# a MicroPython image nor the real boot ROM. What they run on is built here
# from tools/node/pico/test/fixtures/ with the Cortex-M0+ cross compiler:
#
#   bootrom.bin       a synthetic 16 KB boot ROM: the function table with
#                     the flash routines rom.mjs traps, rom_table_lookup
#   flash_writer.bin  an SRAM program that erases and programs flash
#                     through those routines as pico-sdk does
#   blink.bin/.elf    a bare-metal Pico image: LED, BOOTSEL, a boot counter
#                     in flash, USB pull-up, watchdog resets
#   mp_state_*.elf    MicroPython's mp_state_ctx nesting, two configurations,
#                     for tools/firmware_heap.py
#
# Included by the top Makefile (needs BUILD and p256-arm-tools).

PICO_TEST_SRC := tools/node/pico/test/fixtures
PICO_TEST := $(BUILD)/pico-test
# -fno-ipa-ra: GCC 12.2 miscompiles Thumb-1 code with it (see DESIGN.md).
PICO_TEST_CFLAGS := -mcpu=cortex-m0plus -mthumb -Os -std=c99 -Wall -Wextra -Werror -ffreestanding \
  -fno-tree-loop-distribute-patterns -fno-ipa-ra -nostdlib -nostartfiles
PICO_TEST_IMAGES := $(PICO_TEST)/bootrom.bin $(PICO_TEST)/flash_writer.bin $(PICO_TEST)/blink.bin \
  $(PICO_TEST)/mp_state_min.elf $(PICO_TEST)/mp_state_full.elf $(PICO_TEST)/mp_state_dwarf2.elf

.PHONY: pico-test-images

pico-test-images: $(PICO_TEST_IMAGES)

$(PICO_TEST)/%.bin: $(PICO_TEST)/%.elf
	arm-none-eabi-objcopy -O binary $< $@

$(PICO_TEST)/bootrom.elf: $(PICO_TEST_SRC)/rom.S $(PICO_TEST_SRC)/rom.ld | p256-arm-tools
	@mkdir -p $(@D)
	arm-none-eabi-gcc $(PICO_TEST_CFLAGS) -T $(PICO_TEST_SRC)/rom.ld $< -o $@

$(PICO_TEST)/flash_writer.elf: $(PICO_TEST_SRC)/flash_writer.c $(PICO_TEST_SRC)/rom_call.h $(PICO_TEST_SRC)/sram.ld | p256-arm-tools
	@mkdir -p $(@D)
	arm-none-eabi-gcc $(PICO_TEST_CFLAGS) -T $(PICO_TEST_SRC)/sram.ld $< -o $@

$(PICO_TEST)/blink.elf: $(PICO_TEST_SRC)/boot2.S $(PICO_TEST_SRC)/blink.c $(PICO_TEST_SRC)/rom_call.h $(PICO_TEST_SRC)/flash.ld | p256-arm-tools
	@mkdir -p $(@D)
	arm-none-eabi-gcc $(PICO_TEST_CFLAGS) -T $(PICO_TEST_SRC)/flash.ld $(PICO_TEST_SRC)/boot2.S $(PICO_TEST_SRC)/blink.c -o $@

# Two layouts of mp_state_ctx (no options / every option that moves mem.area's
# members), in the DWARF versions GCC emits by default (5) and before (4),
# and DWARF 2, where member offsets are location expressions.
MP_STATE_FULL := -DMICROPY_MEM_STATS=1 -DMICROPY_GC_SPLIT_HEAP=1 -DMICROPY_ENABLE_FINALISER=1 -DMICROPY_PY_WEAKREF=1
$(PICO_TEST)/mp_state_min.elf: GFLAGS := -gdwarf-4
$(PICO_TEST)/mp_state_full.elf: GFLAGS := -g $(MP_STATE_FULL)
$(PICO_TEST)/mp_state_dwarf2.elf: GFLAGS := -gdwarf-2 $(MP_STATE_FULL)
$(PICO_TEST)/mp_state_%.elf: $(PICO_TEST_SRC)/mp_state.c $(PICO_TEST_SRC)/sram.ld | p256-arm-tools
	@mkdir -p $(@D)
	arm-none-eabi-gcc $(PICO_TEST_CFLAGS) $(GFLAGS) -T $(PICO_TEST_SRC)/sram.ld $< -o $@
