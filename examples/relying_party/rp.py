"""A small WebAuthn relying party (py_webauthn), the kind of code pyfido-key tests.

Four calls, one per HTTP endpoint a real site would have, all speaking the
JSON that WebAuthn's browser API sends and takes (PublicKeyCredential
toJSON / parseCreationOptionsFromJSON):

    session, options = rp.begin_registration("alice")        # POST /register/options
    rp.finish_registration(session, credential_json)         # POST /register
    session, options = rp.begin_sign_in()                    # POST /signin/options
    username = rp.finish_sign_in(session, credential_json)   # POST /signin

Users and passkeys live in memory. With require_uv=True the site wants user
verification (a PIN or biometric on the key) at sign-up and at every sign-in.
"""

import base64
import json
import secrets

import webauthn
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)


def _b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignInError(Exception):
    """A registration or sign-in the site refuses (the message says why)."""


class StoredCredential:
    def __init__(self, credential_id, public_key, sign_count, user_verified, aaguid):
        self.credential_id = credential_id
        self.public_key = public_key
        self.sign_count = sign_count
        self.user_verified = user_verified
        self.aaguid = aaguid


class User:
    def __init__(self, username):
        self.username = username
        self.handle = secrets.token_bytes(16)  # the WebAuthn user.id: random, never the name
        self.credentials = {}  # credential id -> StoredCredential


class RelyingParty:
    def __init__(self, rp_id="localhost", origin="https://localhost", name="Example RP", require_uv=False,
                 algorithms=None):
        # algorithms: the COSE algorithms offered, most preferred first
        # (None: py_webauthn's default list, which starts with EdDSA).
        self.algorithms = algorithms
        self.rp_id = rp_id
        self.origin = origin
        self.name = name
        self.require_uv = require_uv
        self.users = {}  # username -> User
        self._sessions = {}  # session id -> (kind, challenge, username)

    def _uv(self):
        # "discouraged" otherwise: python-fido2's client (like some browsers)
        # refuses "preferred" on a key that could verify but has no PIN yet.
        return UserVerificationRequirement.REQUIRED if self.require_uv else UserVerificationRequirement.DISCOURAGED

    def _session(self, kind, challenge, username=None):
        sid = secrets.token_urlsafe(16)
        self._sessions[sid] = (kind, challenge, username)
        return sid

    def _take_session(self, sid, kind):
        # A challenge is good for one answer: replaying a response finds no session.
        entry = self._sessions.pop(sid, None)
        if entry is None or entry[0] != kind:
            raise SignInError("no such %s in progress (expired, or answered already)" % kind)
        return entry

    # -- sign-up ---------------------------------------------------------------

    def begin_registration(self, username):
        user = self.users.get(username) or User(username)
        options = webauthn.generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.name,
            user_id=user.handle,
            user_name=username,
            user_display_name=username,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED, user_verification=self._uv()
            ),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in user.credentials],
            **({"supported_pub_key_algs": self.algorithms} if self.algorithms else {}),
        )
        self.users.setdefault(username, user)
        return self._session("registration", options.challenge, username), webauthn.options_to_json(options)

    def finish_registration(self, sid, credential_json):
        _, challenge, username = self._take_session(sid, "registration")
        try:
            verified = webauthn.verify_registration_response(
                credential=credential_json,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=self.require_uv,
                **({"supported_pub_key_algs": self.algorithms} if self.algorithms else {}),
            )
        except Exception as e:  # py_webauthn's InvalidRegistrationResponse and parse errors
            raise SignInError("registration refused: %s" % e) from e
        self.users[username].credentials[verified.credential_id] = StoredCredential(
            verified.credential_id,
            verified.credential_public_key,
            verified.sign_count,
            verified.user_verified,
            verified.aaguid,
        )
        return verified

    # -- sign-in (usernameless: the key finds the passkey) ---------------------------

    def begin_sign_in(self):
        options = webauthn.generate_authentication_options(rp_id=self.rp_id, user_verification=self._uv())
        return self._session("sign-in", options.challenge), webauthn.options_to_json(options)

    def _find(self, credential_id):
        for user in self.users.values():
            if credential_id in user.credentials:
                return user, user.credentials[credential_id]
        raise SignInError("unknown credential")

    def finish_sign_in(self, sid, credential_json):
        _, challenge, _ = self._take_session(sid, "sign-in")
        response = json.loads(credential_json)
        user, stored = self._find(_b64url_decode(response["rawId"]))
        handle = response.get("response", {}).get("userHandle")
        if handle and _b64url_decode(handle) != user.handle:
            raise SignInError("the passkey answered for another user")
        try:
            verified = webauthn.verify_authentication_response(
                credential=credential_json,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=stored.public_key,
                credential_current_sign_count=stored.sign_count,
                require_user_verification=self.require_uv,
            )
        except Exception as e:  # bad signature, counter went back, UV missing, wrong origin...
            raise SignInError("sign-in refused: %s" % e) from e
        stored.sign_count = verified.new_sign_count
        return user.username
