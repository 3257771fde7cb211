"""The relying party's own fixtures; the key's (virtual_key, fido2_client) come from pyfido-key's plugin."""

import pytest

from rp import RelyingParty


@pytest.fixture
def rp():
    # https://localhost is also the plugin's default fido2_origin; a site on
    # another origin overrides the `fido2_origin` fixture here.
    return RelyingParty(rp_id="localhost", origin="https://localhost")


@pytest.fixture
def uv_rp():
    return RelyingParty(rp_id="localhost", origin="https://localhost", require_uv=True)
