"""The virtual key as a test double for relying-party test suites (`pyfido_key.VirtualKey`).

    from pyfido_key import VirtualKey
    with VirtualKey(pin="123456") as key:
        client = fido2.client.Fido2Client(key.device, ...)   # key.device: a CtapHidDevice
        ...
        assert key.credentials()[0].rp_id == "example.com"

The key is the real core (CTAP 2.2 behind CTAPHID, the same code a board
runs), served on a local socket from a thread of this process or from a
child process. Everything below the socket is the firmware; nothing fakes a
response. This module is host-board code (CPython only): the core does not
import it.
"""

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from boards.host.board import Presence
from firmware import crypto, store as st
from firmware.credential import Wrapper
from firmware.presence import TOUCH_DECLINED, TOUCH_OK

# Files of the directory tools/make_attestation.py --out DIR writes that the
# key itself loads: the store records, written into the store before it starts.
ATTESTATION_RECORDS = (("att.rec", st.REC_ATTESTATION, True), ("eatt.rec", st.REC_ENTERPRISE_ATTESTATION, False))
ATTESTATION_CA = "attestation-ca.pem"


class AttestationError(ValueError):
    """An attestation directory the key cannot use; the message says what to do."""


def load_attestation(directory):
    """{record name: record bytes} from a tools/make_attestation.py output directory.

    att.rec (batch attestation) is required, eatt.rec (enterprise) optional.
    Each is checked with the store's own decoder before the key sees it.
    """
    if not os.path.isdir(directory):
        raise AttestationError(
            "attestation directory %s does not exist: make one with "
            "`python tools/make_attestation.py --out %s`" % (directory, directory)
        )
    records = {}
    for filename, name, required in ATTESTATION_RECORDS:
        path = os.path.join(directory, filename)
        if not os.path.exists(path):
            if required:
                raise AttestationError(
                    "%s has no %s: give the directory `python tools/make_attestation.py --out DIR` wrote"
                    % (directory, filename)
                )
            continue
        with open(path, "rb") as f:
            data = f.read()
        rec = st.decode_record(data)
        if not isinstance(rec, dict) or not rec.get(st.ATT_PRIVATE_KEY) or not rec.get(st.ATT_CERTIFICATES):
            raise AttestationError(
                "%s is not an attestation record (damaged, or not written by tools/make_attestation.py)" % path
            )
        records[name] = data
    return records


def install_attestation(storage, records):
    """Write attestation records into a board's storage (before the key starts)."""
    for name in records:
        storage.write(name, records[name])


def parse_aaguid(value):
    """16 bytes from bytes, a uuid.UUID or text (32 hex digits, dashes allowed)."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        try:
            raw = uuid.UUID(str(value)).bytes
        except ValueError:
            raise ValueError("an AAGUID is 16 bytes: 32 hex digits, dashes allowed (got %r)" % (value,)) from None
    if len(raw) != 16:
        raise ValueError("an AAGUID is 16 bytes, not %d" % len(raw))
    return raw


# -- user presence ------------------------------------------------------------


class ScriptedPresence(Presence):
    """Presence decided once per request by `decide()`: True (touch), False (refuse).

    Counts the requests in `requests`, as every Presence does.
    """

    def __init__(self, decide):
        super().__init__("scripted")
        self._decide = decide

    def wait(self, timeout_ms, clock):
        self.requests += 1
        return TOUCH_OK if self._decide() else TOUCH_DECLINED


class CountedPresence(ScriptedPresence):
    """A person who touches the key `touches` times, then refuses every request."""

    def __init__(self, touches):
        if isinstance(touches, bool) or not isinstance(touches, int) or touches < 0:
            raise ValueError("presence as a count of touches is an int >= 0, not %r" % (touches,))
        self.touches_left = touches
        super().__init__(self._take)

    def _take(self):
        if self.touches_left > 0:
            self.touches_left -= 1
            return True
        return False


def make_presence(spec):
    """A host-board Presence from "auto", "deny", a count of touches or a callback.

    "auto": every request is approved at once; "deny": refused
    (CTAP2_ERR_OPERATION_DENIED); an int N: the first N requests are
    approved, the ones after refused; a callable: called once per request,
    a true result approves, a false one refuses.
    """
    if isinstance(spec, Presence):
        return spec
    if spec in ("auto", "deny"):
        return Presence(spec)
    if isinstance(spec, int) and not isinstance(spec, bool):
        return CountedPresence(spec)
    if callable(spec):
        return ScriptedPresence(spec)
    raise ValueError("presence is 'auto', 'deny', a count of touches (int) or a callable, not %r" % (spec,))


# -- what the key holds ---------------------------------------------------------


class Credential:
    """A discoverable credential (passkey) the key holds, as read from its store.

    rp_id, rp_id_hash, user_id (the user handle), user_name,
    user_display_name, credential_id, alg (the COSE algorithm the relying
    party chose: -7 ES256, -8 EdDSA, -9 ESP256, -19 Ed25519), public_key
    (a 65-byte uncompressed P-256 point, or the 32-byte Ed25519 key),
    cose_key (the COSE_Key map makeCredential attested), cred_protect (1..3),
    has_cred_blob, has_large_blob_key, created (the key's creation sequence
    number: higher is newer).
    """

    __slots__ = (
        "rp_id", "rp_id_hash", "user_id", "user_name", "user_display_name", "credential_id",
        "alg", "public_key", "cose_key", "cred_protect", "has_cred_blob", "has_large_blob_key", "created",
    )

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def user(self):
        """The user entity as WebAuthn has it: {"id", "name", "displayName"} (present ones)."""
        out = {"id": self.user_id}
        if self.user_name is not None:
            out["name"] = self.user_name
        if self.user_display_name is not None:
            out["displayName"] = self.user_display_name
        return out

    def __eq__(self, other):
        return isinstance(other, Credential) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self):
        return "Credential(rp_id=%r, user_id=%r, user_name=%r, credential_id=%s...)" % (
            self.rp_id, self.user_id, self.user_name, self.credential_id.hex()[:16])


def read_credentials(storage):
    """The discoverable credentials in a key's storage, newest first.

    Reads only (read and list): safe on the store of a running key, whose
    records are replaced by rename, never rewritten in place. Records of an
    earlier master secret (left by a reset cut short) are not the key's and
    are left out, as the key itself leaves them out.
    """
    state = st.decode_twin(storage.read(st.REC_STATE))[0]
    if not isinstance(state, dict) or st.STATE_MASTER_SECRET not in state:
        return []
    master_secret = state[st.STATE_MASTER_SECRET]
    epoch = crypto.sha256(b"rk-epoch" + master_secret)[:4]
    wrapper = Wrapper(master_secret)
    out = []
    for name in storage.list():
        if not name.startswith("rk") or name.endswith(".new") or not name[2:].isdigit():
            continue
        rec = st.decode_record(storage.read(name))
        if not isinstance(rec, dict) or rec.get(st.RK_EPOCH) != epoch:
            continue
        cred_id = bytes(rec[st.RK_CREDENTIAL_ID])
        rp_id_hash = bytes(rec[st.RK_RP_ID_HASH])
        unwrapped = wrapper.unwrap(rp_id_hash, cred_id)
        out.append(
            Credential(
                rp_id=rec.get(st.RK_RP_ID),
                rp_id_hash=rp_id_hash,
                user_id=bytes(rec[st.RK_USER_ID]),
                user_name=rec.get(st.RK_USER_NAME),
                user_display_name=rec.get(st.RK_USER_DISPLAY_NAME),
                credential_id=cred_id,
                alg=unwrapped.alg if unwrapped is not None else None,
                public_key=unwrapped.public_key() if unwrapped is not None else None,
                cose_key=unwrapped.cose_key() if unwrapped is not None else None,
                cred_protect=rec.get(st.RK_CRED_PROTECT) or 1,
                has_cred_blob=bool(rec.get(st.RK_CRED_BLOB)),
                has_large_blob_key=st.RK_LARGE_BLOB_KEY in rec,
                created=rec.get(st.RK_CREATED, 0),
            )
        )
    out.sort(key=lambda c: c.created, reverse=True)
    return out


class _ReadOnlyDir:
    """read and list over a store directory, for read_credentials (never writes)."""

    def __init__(self, root):
        self.root = root

    def read(self, name):
        try:
            with open(os.path.join(self.root, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def list(self):
        try:
            return os.listdir(self.root)
        except FileNotFoundError:
            return []


# -- PIN ----------------------------------------------------------------------


def set_pin(device, pin):
    """Give the key a PIN through its own authenticatorClientPIN (setPIN).

    A key that already has one (a store directory used before) keeps it if
    it is `pin` (checked with getPinToken: a wrong guess costs one of the
    key's retries, as on a real key), else ValueError.
    """
    from fido2.ctap import CtapError
    from fido2.ctap2 import ClientPin, Ctap2

    ctap2 = Ctap2(device)
    client_pin = ClientPin(ctap2)
    if not ctap2.info.options.get("clientPin"):
        client_pin.set_pin(pin)
        return
    try:
        client_pin.get_pin_token(pin)
    except CtapError as e:
        raise ValueError(
            "the key's store already has a PIN and it is not the one given (%s); use a fresh store "
            "or the same PIN" % e.code.name
        ) from None


# -- a client wired to the key ---------------------------------------------------


def _user_interaction_class():
    from fido2.client import UserInteraction

    class KeyInteraction(UserInteraction):
        """What the person at the browser does: gives the PIN when asked, allows UV.

        `prompts` counts the client's "touch the key now" prompts.
        """

        def __init__(self, pin=None):
            self.pin = pin
            self.prompts = 0

        def prompt_up(self):
            self.prompts += 1

        def request_pin(self, permissions, rp_id):
            return self.pin

        def request_uv(self, permissions, rp_id):
            return True

    return KeyInteraction


def key_interaction(pin=None):
    """A python-fido2 UserInteraction that answers with `pin` (see KeyInteraction)."""
    return _user_interaction_class()(pin)


def create_credential_json(client, options):
    """navigator.credentials.create() as a page calls it with an RP's JSON options.

    `options`: PublicKeyCredentialCreationOptionsJSON (text or dict: what
    py_webauthn's options_to_json and most RP libraries send, with or
    without the {"publicKey": ...} wrapper). Returns the
    RegistrationResponseJSON text (PublicKeyCredential.toJSON()) the page
    would post back.
    """
    import json

    from fido2.webauthn import PublicKeyCredentialCreationOptions

    options = _options_dict(options)
    return json.dumps(dict(client.make_credential(PublicKeyCredentialCreationOptions.from_dict(options))))


def get_assertion_json(client, options, choose=0):
    """navigator.credentials.get() with an RP's JSON options; AuthenticationResponseJSON text.

    When the key finds several passkeys (no allowCredentials), `choose` is
    the one the person picks (newest first).
    """
    import json

    from fido2.webauthn import PublicKeyCredentialRequestOptions

    options = _options_dict(options)
    selection = client.get_assertion(PublicKeyCredentialRequestOptions.from_dict(options))
    return json.dumps(dict(selection.get_response(choose)))


def _options_dict(options):
    import json

    if isinstance(options, (str, bytes)):
        options = json.loads(options)
    return options.get("publicKey", options)


# -- the key ---------------------------------------------------------------------


def _unix_sockets():
    return hasattr(socket, "AF_UNIX")


class VirtualKey:
    """A virtual FIDO2 key for tests: `with VirtualKey(...) as key:`.

    :param presence: "auto" (default: every touch request approved), "deny",
        an int (that many touches, then every request refused) or a callable
        (called once per request: true approves, false refuses; thread mode only).
    :param pin: a PIN to set up front through the key's authenticatorClientPIN.
    :param store: a directory for the key's records (kept after the key
        stops, so a later key continues with the same passkeys), or None for
        a fresh key that forgets everything when it stops.
    :param attestation: a directory written by tools/make_attestation.py:
        the key then attests with that batch identity (packed, x5c) instead
        of self attestation; `attestation_ca` is then its CA certificate (PEM).
    :param aaguid: the AAGUID the key reports (bytes, uuid.UUID or hex text);
        default: the firmware's.
    :param process: False (default): the key runs in a thread of this
        process; True: in a child process (its own interpreter and GIL).
    :param start_timeout: seconds a child process may take to come up.

    Attributes once started: `device` (a python-fido2 CtapHidDevice,
    CTAPHID INIT done), `address` (the socket, for other clients such as
    libfido2), `pin`, `aaguid`. `credentials()` lists the passkeys it holds.
    Stopping (leaving the `with`, also on an exception) closes every device
    it opened, the socket, the thread or process and any temporary directory.
    """

    def __init__(self, *, presence="auto", pin=None, store=None, attestation=None, aaguid=None, process=False,
                 start_timeout=30):
        self.process = bool(process)
        counted = isinstance(presence, int) and not isinstance(presence, bool)
        if self.process and not (counted or presence in ("auto", "deny")):
            raise ValueError("a key in a child process takes presence 'auto', 'deny' or a count of touches; "
                             "a callback needs process=False")
        self._presence_spec = presence
        presence_object = make_presence(presence)  # checks the option in both modes
        self.presence = None if self.process else presence_object
        self.pin = pin
        self.store = None if store is None else os.fspath(store)
        self.aaguid = parse_aaguid(aaguid)
        self._attestation_dir = None if attestation is None else os.fspath(attestation)
        self._attestation = None if attestation is None else load_attestation(self._attestation_dir)
        self.attestation_ca = None
        if self._attestation_dir is not None:
            ca = os.path.join(self._attestation_dir, ATTESTATION_CA)
            if os.path.exists(ca):
                with open(ca, "rb") as f:
                    self.attestation_ca = f.read()
        self.start_timeout = start_timeout
        self.address = None
        self._tmp = None
        self._key = None  # thread mode: boards.host.virtual_key.VirtualKey
        self._proc = None  # process mode: the child
        self._devices = []
        self._device = None

    # -- life cycle ---------------------------------------------------------------

    def start(self):
        if self._tmp is not None:
            raise RuntimeError("this VirtualKey is already started")
        self._tmp = tempfile.mkdtemp(prefix="pyfido-key-")
        try:
            address = os.path.join(self._tmp, "key.sock") if _unix_sockets() else "127.0.0.1:0"
            if self.process:
                self._start_process(address)
            else:
                self._start_thread(address)
            if self.pin is not None:
                set_pin(self.device, self.pin)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_thread(self, address):
        from boards.common.vfs_storage import VfsStorage
        from boards.host.memory_storage import MemoryStorage
        from boards.host.virtual_key import VirtualKey as _Key

        if self.store is not None:
            os.makedirs(self.store, mode=0o700, exist_ok=True)
            storage = VfsStorage(self.store)
        else:
            storage = MemoryStorage()
        if self._attestation:
            install_attestation(storage, self._attestation)
        config = {"aaguid": self.aaguid} if self.aaguid is not None else None
        self._key = _Key(address, storage=storage, presence=self.presence, config=config).start()
        self.address = self._key.address

    def _start_process(self, address):
        from boards.host import cli

        store = self.store if self.store is not None else os.path.join(self._tmp, "store")
        cmd = [sys.executable, "-m", cli.__name__, "serve", "--socket", address, "--store", store,
               "--exit-on-stdin-eof"]
        if isinstance(self._presence_spec, int):
            cmd += ["--touches", str(self._presence_spec)]
        else:
            cmd += ["--presence", self._presence_spec]
        if self._attestation_dir is not None:
            cmd += ["--attestation", self._attestation_dir]
        if self.aaguid is not None:
            cmd += ["--aaguid", self.aaguid.hex()]
        # The child imports what this process imports (a checkout's paths, or
        # the installed package): the same sys.path.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._log_path = os.path.join(self._tmp, "key.log")
        with open(self._log_path, "wb") as log:
            # stdin: a pipe only the child reads; when this process ends, however
            # it ends, the child sees end-of-file and stops (no orphaned keys).
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                          env=env, close_fds=True)
        line = self._read_ready_line()
        # "virtual key listening on ADDRESS" (a socket path or HOST:PORT)
        self.address = line.rsplit(" on ", 1)[1] if " on " in line else address

    def _read_ready_line(self):
        deadline = time.monotonic() + self.start_timeout
        buf = b""
        fd = self._proc.stdout.fileno()
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("the virtual key process did not start within %s s%s"
                                   % (self.start_timeout, self._child_log()))
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self._proc.wait(5)
                    raise RuntimeError("the virtual key process exited with status %s%s"
                                       % (self._proc.returncode, self._child_log()))
                buf += chunk
        return buf.split(b"\n", 1)[0].decode(errors="replace").strip()

    def _child_log(self):
        try:
            with open(self._log_path, "rb") as f:
                text = f.read().decode(errors="replace").strip()
        except OSError:
            return ""
        return (": " + text[-2000:]) if text else ""

    def stop(self):
        """Stop the key and release everything it holds; safe to call twice."""
        for dev in self._devices:
            try:
                dev.close()
            except Exception:
                pass
        self._devices = []
        self._device = None
        try:
            if self._key is not None:
                key, self._key = self._key, None
                key.stop()
            if self._proc is not None:
                proc, self._proc = self._proc, None
                proc.stdin.close()
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                proc.stdout.close()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self):
        return self._tmp is not None

    # -- clients --------------------------------------------------------------------

    def open_device(self, timeout=60):
        """A new python-fido2 CtapHidDevice on this key (closed when the key stops)."""
        if not self.running:
            raise RuntimeError("the virtual key is not started: use `with VirtualKey() as key:` or key.start()")
        from boards.host.client import open_device

        dev = open_device(self.address, timeout)
        self._devices.append(dev)
        return dev

    def client(self, origin, pin=None, **kwargs):
        """A python-fido2 Fido2Client for `origin` on this key, as a browser at that origin.

        It enters the key's PIN when one is needed (`pin`, default the key's
        own). Extra keyword arguments go to Fido2Client (extensions=...).
        """
        from fido2.client import DefaultClientDataCollector, Fido2Client

        return Fido2Client(
            self.device,
            client_data_collector=DefaultClientDataCollector(origin),
            user_interaction=key_interaction(self.pin if pin is None else pin),
            **kwargs,
        )

    @property
    def device(self):
        """The key's python-fido2 CtapHidDevice (one, opened on first use)."""
        if self._device is None:
            self._device = self.open_device()
        return self._device

    # -- what the key holds -------------------------------------------------------------

    def credentials(self, rp_id=None):
        """The discoverable credentials (passkeys) on the key, newest first (of one RP, if given)."""
        if self._key is not None:
            storage = self._key.board.storage
        elif self.process and self._tmp is not None:
            storage = _ReadOnlyDir(self.store if self.store is not None else os.path.join(self._tmp, "store"))
        elif self.store is not None:
            storage = _ReadOnlyDir(self.store)  # a stopped key with a directory: still readable
        else:
            raise RuntimeError("the key is stopped and kept its records in memory: nothing to read")
        creds = read_credentials(storage)
        if rp_id is not None:
            creds = [c for c in creds if c.rp_id == rp_id]
        return creds

    @property
    def presence_requests(self):
        """How many times the key asked for user presence (thread mode)."""
        if self.presence is None:
            raise RuntimeError("presence requests are counted for a key in a thread (process=False) only")
        return self.presence.requests

    @property
    def authenticator(self):
        """The core's Authenticator object (thread mode), for white-box checks."""
        if self._key is None:
            raise RuntimeError("the authenticator object exists in this process for a running thread-mode key only")
        return self._key.authenticator
