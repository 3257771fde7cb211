"""The test's side of the fake hardware: what the fakes record and the hooks they call.

EVENTS  every call an adapter made that a test may check, in order
HOST    the simulated USB host (a ctaphid_host.CtapHidHost or None)
BUTTON  the physical button: pressed or not
"""

EVENTS = []
HOST = None
BUTTON = {"pressed": False}
USB_INIT_HOOK = None  # called with no argument when the FIDO device goes on the bus


def button():
    """The button's contact now (the simulated person gets a turn first)."""
    if HOST is not None:
        HOST.tick()
    return BUTTON["pressed"]


def log(*event):
    EVENTS.append(event)


def names():
    return [e[0] for e in EVENTS]


def reset():
    global HOST, USB_INIT_HOOK
    del EVENTS[:]
    HOST = None
    USB_INIT_HOOK = None
    BUTTON["pressed"] = False


def with_settings(settings_file, maintenance_flag, fn, *args):
    """Call fn(*args) with the board settings read from the given files."""
    from boards.common import settings

    saved = (settings.SETTINGS_FILE, settings.MAINTENANCE_FLAG)
    settings.SETTINGS_FILE = settings_file
    settings.MAINTENANCE_FLAG = maintenance_flag
    try:
        return fn(*args)
    finally:
        settings.SETTINGS_FILE, settings.MAINTENANCE_FLAG = saved
