"""pytest fixtures for relying-party test suites (the `pyfido_key` pytest11 plugin).

Installed with the pyfido-key package, these fixtures need no set-up:

    def test_sign_up(fido2_client, virtual_key):
        result = fido2_client.make_credential(my_rp.registration_options())
        my_rp.finish_registration(result)
        assert virtual_key.credentials()[0].user_name == "alice"

    @pytest.mark.virtual_key(pin="123456")          # any VirtualKey option
    def test_with_uv(fido2_client): ...

virtual_key          a started VirtualKey (boards/host/api.py), stopped after
                     the test; options from `virtual_key_options` (a fixture
                     to override in a conftest.py) updated by the
                     `@pytest.mark.virtual_key(...)` marker
fido2_client         a python-fido2 Fido2Client on that key for `fido2_origin`;
                     it enters the key's PIN when asked
fido2_origin         the origin the client acts for (default
                     "https://localhost"; override the fixture)
virtual_key_factory  start more keys: virtual_key_factory(**options)

`--virtual-key-process` runs every key in a child process instead of a thread.
"""

import pytest

from boards.host.api import VirtualKey


def pytest_addoption(parser):
    group = parser.getgroup("pyfido_key", "PyFIDO virtual key")
    group.addoption(
        "--virtual-key-process",
        action="store_true",
        default=False,
        help="run the virtual_key fixture's keys in child processes (default: a thread of the test process)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "virtual_key(**options): options of the test's virtual_key (presence, pin, store, attestation, "
        "aaguid, process), over those of the virtual_key_options fixture",
    )


@pytest.fixture
def virtual_key_options():
    """Options every virtual key of a test starts with; override in a conftest.py."""
    return {}


@pytest.fixture
def virtual_key_factory(request, virtual_key_options):
    """Start virtual keys: virtual_key_factory(**options) -> a started VirtualKey.

    Every key started is stopped when the test ends, also when it fails.
    """
    keys = []
    default_process = request.config.getoption("virtual_key_process")

    def start(**options):
        opts = {"process": default_process}
        opts.update(options)
        key = VirtualKey(**opts)
        key.start()
        keys.append(key)
        return key

    try:
        yield start
    finally:
        for key in reversed(keys):
            key.stop()


@pytest.fixture
def virtual_key(request, virtual_key_factory, virtual_key_options):
    """A started VirtualKey: virtual_key_options updated by @pytest.mark.virtual_key(...)."""
    options = dict(virtual_key_options)
    for marker in reversed(list(request.node.iter_markers("virtual_key"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.virtual_key takes keyword options only (pin=..., presence=...)")
        options.update(marker.kwargs)
    return virtual_key_factory(**options)


@pytest.fixture
def fido2_origin():
    """The origin fido2_client acts for; override to match your relying party's."""
    return "https://localhost"


@pytest.fixture
def fido2_client(virtual_key, fido2_origin):
    """A python-fido2 Fido2Client on virtual_key for fido2_origin (enters the key's PIN when asked)."""
    return virtual_key.client(fido2_origin)
