"""MicroPython's heap in a running firmware, read from outside: free bytes as gc.mem_free() counts them.

A locked key has no REPL to ask, so the emulator reads the heap's allocation
table straight from SRAM. Where the table lives comes from the firmware's
ELF file (its DWARF debug information, which MicroPython's rp2 build keeps):
the global `mp_state_ctx`, member `mem.area` (py/mpstate.h
mp_state_mem_area_t): gc_alloc_table_start, gc_pool_start and gc_pool_end.
The allocation table holds 2 bits per 16-byte block (py/gc.c: AT_FREE = 0),
so free bytes = 16 x the blocks whose 2 bits are 0, which is what gc_info()
and gc.mem_free() report.
"""

import struct

from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.elf.elffile import ELFFile

BYTES_PER_BLOCK = 16  # MICROPY_BYTES_PER_GC_BLOCK on 32-bit ports (4 words)
BLOCKS_PER_ATB = 4


def _attr(die, name):
    a = die.attributes.get(name)
    return a.value if a is not None else None


def _strip(die):
    """Follow typedefs and qualifiers to the struct."""
    while die.tag in ("DW_TAG_typedef", "DW_TAG_volatile_type", "DW_TAG_const_type"):
        die = die.get_DIE_from_attribute("DW_AT_type")
    return die


def _member(struct_die, name):
    for child in struct_die.iter_children():
        if child.tag == "DW_TAG_member" and _attr(child, "DW_AT_name") == name.encode():
            return _member_offset(child), child
    raise KeyError("no member %s in %s" % (name, _attr(struct_die, "DW_AT_name")))


def _member_offset(member):
    """DW_AT_data_member_location: a constant, or (DWARF 2, gcc -gdwarf-2) DW_OP_plus_uconst N."""
    loc = _attr(member, "DW_AT_data_member_location")
    if isinstance(loc, int):
        return loc
    ops = DWARFExprParser(member.cu.structs).parse_expr(loc)
    if len(ops) == 1 and ops[0].op_name == "DW_OP_plus_uconst":
        return ops[0].args[0]
    raise ValueError("member %s: location %r is not a constant offset" % (_attr(member, "DW_AT_name"), ops))


def heap_layout(elf_path):
    """{'state': address of mp_state_ctx, 'atb_start'/'pool_start'/'pool_end': addresses of those pointers}."""
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        syms = symtab.get_symbol_by_name("mp_state_ctx") if symtab else None
        if not syms:
            raise ValueError("%s has no mp_state_ctx symbol: not a MicroPython firmware ELF" % elf_path)
        state_addr = syms[0]["st_value"]
        if not elf.has_dwarf_info():
            raise ValueError("%s has no DWARF debug information" % elf_path)
        dwarf = elf.get_dwarf_info()
        for cu in dwarf.iter_CUs():
            for die in cu.iter_DIEs():
                if die.tag == "DW_TAG_variable" and _attr(die, "DW_AT_name") == b"mp_state_ctx" \
                        and "DW_AT_type" in die.attributes:
                    ctx = _strip(die.get_DIE_from_attribute("DW_AT_type"))
                    mem_off, mem = _member(ctx, "mem")
                    mem_t = _strip(mem.get_DIE_from_attribute("DW_AT_type"))
                    area_off, area = _member(mem_t, "area")
                    area_t = _strip(area.get_DIE_from_attribute("DW_AT_type"))
                    base = state_addr + mem_off + area_off
                    return {
                        "state": state_addr,
                        "atb_start": base + _member(area_t, "gc_alloc_table_start")[0],
                        "pool_start": base + _member(area_t, "gc_pool_start")[0],
                        "pool_end": base + _member(area_t, "gc_pool_end")[0],
                    }
    raise ValueError("%s: no DWARF description of mp_state_ctx" % elf_path)


def free_bytes(layout, read):
    """Free heap bytes; read(address, length) -> bytes of SRAM."""
    word = lambda a: struct.unpack("<I", read(a, 4))[0]  # noqa: E731
    atb = word(layout["atb_start"])
    pool_start = word(layout["pool_start"])
    pool_end = word(layout["pool_end"])
    blocks = (pool_end - pool_start) // BYTES_PER_BLOCK
    table = read(atb, (blocks + BLOCKS_PER_ATB - 1) // BLOCKS_PER_ATB)
    free = 0
    for block in range(blocks):
        if (table[block // BLOCKS_PER_ATB] >> (2 * (block % BLOCKS_PER_ATB))) & 3 == 0:
            free += 1
    return free * BYTES_PER_BLOCK, blocks * BYTES_PER_BLOCK
