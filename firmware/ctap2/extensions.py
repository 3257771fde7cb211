"""CTAP 2.1 §12 authenticator extensions, for makeCredential and getAssertion.

No extension is implemented yet: extension inputs are ignored, as the spec
requires for extensions an authenticator does not support (§6.1.2 step 15,
§6.2.2 step 10), and getInfo lists none.
"""


class MakeCredentialExtensions:
    """What makeCredential's extension processing decided."""

    def __init__(self):
        self.cred_protect = 0
        self.cred_blob = b""
        self.large_blob_key = None
        self.outputs = None  # the authData extensions map

    def add_make_credential_response(self, resp):
        pass


def make_credential(auth, extensions, rk, uv, rp_id):
    return MakeCredentialExtensions()


def get_assertion(auth, extensions, credential, uv):
    """The authData extensions map for one assertion (None when empty)."""
    return None
