"""Shared pytest setup: import paths that mirror the board's filesystem.

On a board, `firmware/` is a package at the filesystem root and `lib/` is on
sys.path. The host board adds `boards/host` (the `micropython` stand-in) and
`build/host` (the CPython build of lib/p256).
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("build/host", "boards/host", "lib", "tools", ""):
    path = os.path.join(REPO, sub) if sub else REPO
    if path not in sys.path:
        sys.path.insert(0, path)


def wycheproof_dir():
    """Where the Wycheproof vectors are: $WYCHEPROOF_DIR, else ../shared next to the checkout."""
    env = os.environ.get("WYCHEPROOF_DIR")
    if env:
        return env
    for cand in (
        os.path.join(REPO, "..", "shared", "vectors", "wycheproof"),
        "/work/shared/vectors/wycheproof",
    ):
        if os.path.isdir(cand):
            return os.path.abspath(cand)
    return None


import pytest  # noqa: E402

# The firmware-in-the-loop tests need a built firmware image and the RP2040
# boot ROM (host_tests/firmware_key.py); `make firmware-e2e` runs them, with
# both given, and fails when either is missing. Without them they are not
# collected at all: nothing is skipped, they belong to another target.
# (test_firmware_build.py is not one of them: it builds against fake trees.)
if not (os.environ.get("PYFIDO_FIRMWARE") and os.environ.get("PYFIDO_BOOTROM")):
    collect_ignore = ["test_firmware_e2e.py", "test_firmware_libfido2.py", "test_firmware_board.py"]


@pytest.fixture
def key_factory(tmp_path):
    """Start virtual keys: key_factory(storage=..., presence=..., config=...).

    Each call starts a new key (a "power-up") on its own socket; passing the
    storage of an earlier one restarts that key. All are stopped at the end.
    """
    from boards.host.virtual_key import VirtualKey

    keys = []

    def make(**kw):
        key = VirtualKey(str(tmp_path / ("key%d.sock" % len(keys))), **kw).start()
        keys.append(key)
        return key

    try:
        yield make
    finally:
        for key in keys:
            key.stop()


@pytest.fixture
def virtual_key(key_factory):
    """A running virtual key on a Unix socket; yields the VirtualKey."""
    return key_factory()


@pytest.fixture
def device(virtual_key):
    """python-fido2's CtapHidDevice connected to the virtual key (INIT done)."""
    dev = virtual_key.open_device(timeout=60)
    try:
        yield dev
    finally:
        dev.close()


class PoweredKey:
    """A virtual key whose flash survives power cycles (power_cycle(): stop it,
    start a new VirtualKey on the same storage); .dev and .ctap are the
    python-fido2 connection of the current power-up."""

    def __init__(self, key_factory, storage=None, **kw):
        from boards.host.memory_storage import MemoryStorage

        self._factory = key_factory
        self._kw = kw
        self.storage = storage if storage is not None else MemoryStorage()
        self.dev = None
        self.power_on()

    def power_on(self):
        from fido2.ctap2 import Ctap2

        self.key = self._factory(storage=self.storage, **self._kw)
        self.dev = self.key.open_device(timeout=60)
        self.ctap = Ctap2(self.dev)

    def power_cycle(self):
        self.dev.close()
        self.key.stop()
        self.power_on()

    def client_pin(self, protocol):
        from fido2.ctap2 import ClientPin

        return ClientPin(self.ctap, protocol())


@pytest.fixture
def powered(key_factory):
    """A key that a test can power-cycle (stop, then start on the same storage)."""
    k = PoweredKey(key_factory)
    try:
        yield k
    finally:
        k.dev.close()


# -- the virtual key on MicroPython (host_tests/mpy_key.py) ------------------------


@pytest.fixture(scope="module")
def mpy_keys():
    """MicroPython key processes shared by one module's tests (see mpy_key.KeyPool)."""
    from mpy_key import KeyPool

    pool = KeyPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def mpy_key_factory(mpy_keys):
    """key_factory's twin on MicroPython: make(storage=..., presence=..., config=) -> MicroPythonKey.

    A module that defines `key_factory` as this fixture runs its key
    scenarios (virtual_key, device, powered) on MicroPython.
    """
    with mpy_keys.factory() as make:
        yield make


@pytest.fixture
def mpy_key(mpy_key_factory):
    """A running MicroPython key (fresh records, presence "auto")."""
    return mpy_key_factory()


ORIGIN = "https://example.com"
RP_ID = "example.com"


def webauthn_client(dev, origin=ORIGIN, interaction=None):
    """python-fido2's Fido2Client on a device, approving every prompt."""
    from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction

    return Fido2Client(
        dev,
        client_data_collector=DefaultClientDataCollector(origin),
        user_interaction=interaction or UserInteraction(),
    )


# -- no silent skips -------------------------------------------------------------
# A test may skip only for a reason listed here (data that lives outside the
# repository; a test that needs the other of the two MicroPython interpreters,
# which says why and how to run it: host_tests/mpy.py only_on()); any other
# skip fails the run, so a missing tool can never turn into a green CI.
ALLOWED_SKIP_PREFIXES = (
    "Wycheproof vectors not found",
    "runs on the MicroPython ",  # mpy.ONLY_ON: unix port / WebAssembly build / 32-bit builds only
    # make firmware-e2e against a CircuitPython image: a scenario that image
    # cannot pass or that does not apply to it, with the reason
    # (firmware_key.skip_on_circuitpython; never in `make test`)
    "not on CircuitPython: ",
)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    bad = []
    for rep in reporter.stats.get("skipped", []):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if not reason.startswith(ALLOWED_SKIP_PREFIXES):
            bad.append("%s: %s" % (rep.nodeid, reason))
    if bad:
        reporter.write_line("Skips that are not allowed (fix the environment or the test):", red=True)
        for line in bad:
            reporter.write_line("  " + line, red=True)
        session.exitstatus = 1

# Hypothesis profiles. "ci" (the default) is what every run uses: 2,000
# examples per property, derandomized so CI is reproducible. Raise the count
# for a long local hunt with HYPOTHESIS_PROFILE=long (HYPOTHESIS_MAX_EXAMPLES,
# default 50,000, random seeds); HYPOTHESIS_PROFILE=dev runs 100 for quick edits.
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", max_examples=2000, derandomize=True, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    settings.register_profile(
        "long", max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "50000")),
        deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is in requirements-test.txt; tolerate its absence elsewhere
    pass
