"""`pyfido-key`: run the virtual key, ask it what it is, reset it.

    pyfido-key serve [--socket PATH | --uhid] [--store DIR] [--attestation DIR] ...
    pyfido-key info  [--socket PATH] [--store DIR]
    pyfido-key reset [--socket PATH]

In a checkout, `python boards/host/run.py ...` is `pyfido-key serve ...`.
Errors a person can fix end the command with one line saying what to do and
exit status 2.
"""

import argparse
import os
import signal
import sys

DEFAULT_SOCKET = "/tmp/pyfido-key.sock"
UHID_HELP = (
    "load the uhid module (sudo modprobe uhid) and run as root, or give your user write access to "
    "/dev/uhid with a udev rule such as KERNEL==\"uhid\", GROUP=\"plugdev\", MODE=\"0660\""
)


class UsageError(Exception):
    """A problem the person running the command can fix; the message says how."""


def _address_text(address):
    if isinstance(address, tuple):
        return "%s:%d" % address
    return str(address)


def _default_socket():
    return os.environ.get("PYFIDO_SOCKET", DEFAULT_SOCKET)


def _socket_arg(p, what):
    p.add_argument(
        "--socket",
        metavar="ADDR",
        default=_default_socket(),
        help="%s: a Unix socket path, or HOST:PORT on loopback (default: $PYFIDO_SOCKET or %s)"
        % (what, DEFAULT_SOCKET),
    )


def build_parser(prog=None):
    ap = argparse.ArgumentParser(
        prog=prog,
        description="PyFIDO virtual key: a real CTAP 2.2 authenticator (the PyFIDO key's firmware core) "
        "behind real CTAPHID, for testing WebAuthn relying parties and FIDO2 clients. "
        "Not a secure element: never keep real secrets in it.",
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser(
        "serve",
        help="run a virtual key until Ctrl-C or SIGTERM",
        description="Run a virtual key until Ctrl-C or SIGTERM. Clients reach it on a local socket "
        "(python-fido2: boards/host/client.py open_device(ADDR); wire format in boards/host/transport.py), "
        "or, with --uhid, as a real /dev/hidrawN that browsers, ssh-keygen -t ecdsa-sk and fido2-token see. "
        "When it is ready it prints one line: 'virtual key listening on ADDR'.",
    )
    _socket_arg(s, "where clients connect")
    s.add_argument(
        "--uhid",
        action="store_true",
        help="appear as a real HID device (/dev/hidrawN) through Linux UHID instead of the socket; "
        "needs write access to /dev/uhid",
    )
    s.add_argument("--uhid-path", default="/dev/uhid", help=argparse.SUPPRESS)
    # For a parent that runs the key as its child (boards/host/api.py): stop
    # when standard input ends, i.e. when the parent has gone, killed or not.
    s.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    s.add_argument(
        "--store",
        metavar="DIR",
        help="keep the key's records (master secret, passkeys, PIN, counter) in DIR so they survive a "
        "restart (created with mode 0700); default: in memory, gone when the key stops",
    )
    s.add_argument(
        "--presence",
        choices=("auto", "prompt", "deny"),
        default="auto",
        help="user presence: approve every request (auto, the default), ask on this terminal (prompt), "
        "or refuse every request (deny)",
    )
    s.add_argument(
        "--touches",
        type=int,
        metavar="N",
        help="approve the first N presence requests, refuse the ones after (instead of --presence)",
    )
    s.add_argument(
        "--attestation",
        metavar="DIR",
        help="attest with the batch identity in DIR, as written by `python tools/make_attestation.py "
        "--out DIR` (att.rec, and eatt.rec for enterprise attestation): the records are written into "
        "the store before the key starts; give your relying party DIR/attestation-ca.pem as trust anchor. "
        "Default: self attestation",
    )
    s.add_argument("--aaguid", metavar="HEX", help="the AAGUID to report (32 hex digits; default: the firmware's)")
    s.add_argument(
        "--pin",
        help="give the key this PIN at start-up, through its own authenticatorClientPIN (socket only; "
        "a store that already has a PIN must have this one)",
    )

    i = sub.add_parser(
        "info",
        help="print what a running key reports (CTAPHID INIT, authenticatorGetInfo)",
        description="Print what a running virtual key reports: CTAPHID INIT and authenticatorGetInfo. "
        "With --store DIR, also list the passkeys kept in that store directory (read only).",
    )
    _socket_arg(i, "the running key")
    i.add_argument("--store", metavar="DIR", help="also list the passkeys in this store directory")
    i.add_argument("--no-key", action="store_true", help="do not contact a key (with --store: the store only)")

    r = sub.add_parser(
        "reset",
        help="authenticatorReset: erase every passkey and the PIN (within 10 s of the key starting)",
        description="Send authenticatorReset to a running key: a new master secret, no passkeys, no PIN, "
        "no large blobs (a batch attestation identity stays). As on a USB key, the key accepts it only "
        "within 10 s of starting and after a touch: restart the key, then run this at once.",
    )
    _socket_arg(r, "the running key")
    return ap


# -- serve ------------------------------------------------------------------------


def serve(args, out=None):
    from boards.common.vfs_storage import VfsStorage
    from boards.host import api
    from boards.host.board import Presence
    from boards.host.memory_storage import MemoryStorage
    from boards.host.virtual_key import VirtualKey

    out = out or sys.stdout
    if args.touches is not None and args.presence != "auto":
        raise UsageError("give --touches N or --presence, not both")
    if args.pin is not None and args.uhid:
        raise UsageError("--pin works with the socket only; with --uhid set the PIN from a client "
                         "(fido2-token -S /dev/hidrawN)")
    try:
        aaguid = api.parse_aaguid(args.aaguid)
        presence = api.CountedPresence(args.touches) if args.touches is not None else Presence(args.presence)
        records = api.load_attestation(args.attestation) if args.attestation else {}
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.store:
        try:
            os.makedirs(args.store, mode=0o700, exist_ok=True)
        except OSError as e:
            raise UsageError("cannot create the store directory %s (%s): give a DIR you can write"
                             % (args.store, e.strerror)) from None
        if not os.access(args.store, os.W_OK):
            raise UsageError("the store directory %s is not writable: give a DIR you can write" % args.store)
        storage = VfsStorage(args.store)
    else:
        storage = MemoryStorage()
    api.install_attestation(storage, records)
    transport = None
    if args.uhid:
        from boards.host.uhid import UhidTransport

        if not os.path.exists(args.uhid_path):
            raise UsageError("%s does not exist: %s" % (args.uhid_path, UHID_HELP))
        try:
            transport = UhidTransport.open(args.uhid_path)
        except OSError as e:
            raise UsageError("cannot open %s (%s): %s" % (args.uhid_path, os.strerror(e.errno) if e.errno else e,
                                                          UHID_HELP)) from None
    try:
        key = VirtualKey(args.socket, storage=storage, presence=presence, transport=transport,
                         config={"aaguid": aaguid} if aaguid is not None else None)
    except OSError as e:
        if transport is not None:
            transport.close()
        raise UsageError("cannot listen on %s (%s): give another --socket" % (args.socket, e.strerror or e)) from None

    def terminate(*_):
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        key.start()
        if args.exit_on_stdin_eof:
            _stop_at_stdin_eof(key)
        if args.pin is not None:
            dev = key.open_device(timeout=30)
            try:
                api.set_pin(dev, args.pin)
            except ValueError as e:
                raise UsageError(str(e)) from None
            finally:
                dev.close()
        where = "as a HID device through %s" % args.uhid_path if args.uhid else "on %s" % _address_text(key.address)
        out.write("virtual key listening %s\n" % where)
        out.flush()
        while key._thread.is_alive():
            key._thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        key.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0


def _stop_at_stdin_eof(key):
    import threading

    def watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        key._stop.set()  # the serving thread ends; serve() then stops the key

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# -- info, reset ----------------------------------------------------------------------


def _connect(address):
    from boards.host.client import open_device

    try:
        return open_device(address, timeout=30)
    except (FileNotFoundError, ConnectionRefusedError):
        raise UsageError("no virtual key at %s: start one with `pyfido-key serve --socket %s` (or give --socket)"
                         % (address, address)) from None
    except PermissionError:
        raise UsageError("no permission to connect to %s: run as the user who started the key" % address) from None


def info(args, out=None):
    from fido2.ctap2 import Ctap2

    out = out or sys.stdout
    if not args.no_key:
        dev = _connect(args.socket)
        try:
            out.write("key at %s\n" % args.socket)
            out.write("  CTAPHID: protocol %d, device version %s, capabilities 0x%02x\n"
                      % (dev.version, ".".join(str(v) for v in dev.device_version), dev.capabilities))
            gi = Ctap2(dev).get_info()
        finally:
            dev.close()
        rows = [
            ("versions", ", ".join(gi.versions)),
            ("aaguid", str(gi.aaguid)),
            ("extensions", ", ".join(gi.extensions)),
            ("options", ", ".join("%s=%s" % (k, str(v).lower()) for k, v in sorted(gi.options.items()))),
            ("pinUvAuthProtocols", ", ".join(str(p) for p in gi.pin_uv_protocols)),
            ("algorithms", ", ".join(str(a.get("alg")) for a in gi.algorithms or [])),
            ("transports", ", ".join(gi.transports)),
            ("maxMsgSize", gi.max_msg_size),
            ("remainingDiscoverableCredentials", gi.remaining_disc_creds),
            ("firmwareVersion", gi.firmware_version),
        ]
        for name, value in rows:
            out.write("  %-34s %s\n" % (name, value))
    if args.store:
        from boards.host import api

        if not os.path.isdir(args.store):
            raise UsageError("%s is not a directory: give the DIR a key was served with (--store DIR)" % args.store)
        creds = api.read_credentials(api._ReadOnlyDir(args.store))
        out.write("store %s: %d passkey%s\n" % (args.store, len(creds), "" if len(creds) == 1 else "s"))
        for c in creds:
            out.write("  %-24s user %-20s id %s\n" % (c.rp_id, c.user_name or c.user_id.hex(), c.credential_id.hex()))
    elif args.no_key:
        raise UsageError("--no-key needs --store DIR: there is nothing else to show")
    return 0


def reset(args, out=None):
    from fido2.ctap import CtapError
    from fido2.ctap2 import Ctap2

    out = out or sys.stdout
    dev = _connect(args.socket)
    try:
        Ctap2(dev).reset()
    except CtapError as e:
        if e.code == CtapError.ERR.NOT_ALLOWED:
            raise UsageError("the key refused the reset (NOT_ALLOWED): it accepts one only within 10 s of "
                             "starting; restart the key and run `pyfido-key reset` at once") from None
        if e.code in (CtapError.ERR.OPERATION_DENIED, CtapError.ERR.USER_ACTION_TIMEOUT):
            raise UsageError("the reset needs a touch and got none (%s): serve the key with --presence "
                             "auto or prompt" % e.code.name) from None
        raise UsageError("the key refused the reset: %s" % e.code.name) from None
    finally:
        dev.close()
    out.write("key at %s reset: no passkeys, no PIN, a new master secret\n" % args.socket)
    return 0


COMMANDS = {"serve": serve, "info": info, "reset": reset}


def main(argv=None, prog=None):
    args = build_parser(prog).parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as e:
        sys.stderr.write("%s %s: %s\n" % (prog or "pyfido-key", args.command, e))
        return 2


def run():
    """Console-script entry point (`pyfido-key`)."""
    sys.exit(main())


if __name__ == "__main__":
    run()
