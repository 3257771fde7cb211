"""CPython stand-in for MicroPython's `micropython` module.

Lets the core's `from micropython import const` run unchanged on the host.
"""


def const(value):
    return value


def heap_lock():
    return 0


def heap_unlock():
    return 0


def mem_info(*_args):
    pass


def kbd_intr(chr):
    """MicroPython: set (or with -1 disable) the character that raises KeyboardInterrupt."""
    return None
