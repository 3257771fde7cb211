"""A stand-in for the `mpremote` command: records what tools/provision.py runs, plays a board.

    FAKE_MPREMOTE_BOARD=board.json FAKE_MPREMOTE_LOG=log.jsonl python fake_mpremote.py ARGS...

board.json describes the board (what PROBE reports, free bytes, whether one
is connected, what the self-test prints) and is updated as commands change
it; each command (split at "+", as mpremote does) is appended to the log as
a JSON list. Exit status and messages follow mpremote's: "no device found",
the board's OSError text when a copy fails, and pyserial's error when a
following `exec` resets the board under it (`exec --no-follow` returns at once).
"""

import ast
import json
import os
import re
import sys


def main(argv):
    board_path = os.environ["FAKE_MPREMOTE_BOARD"]
    with open(board_path) as f:
        board = json.load(f)
    log = open(os.environ["FAKE_MPREMOTE_LOG"], "a")
    commands, cur = [], []
    for a in argv:
        if a == "+":
            commands.append(cur)
            cur = []
        else:
            cur.append(a)
    commands.append(cur)
    rc = 0
    try:
        for cmd in commands:
            log.write(json.dumps(cmd) + "\n")
            if cmd and cmd[0] == "connect":
                cmd = cmd[2:]
            if cmd and cmd[0] == "resume":
                cmd = cmd[1:]
            if not board.get("present", True):
                print("mpremote: no device found")
                return 1
            if not cmd:
                continue
            if cmd[0] == "exec":
                follow = cmd[1] != "--no-follow"
                code = cmd[1] if follow else cmd[2]
                rc = run_exec(board, code)
                if follow and "microcontroller.reset()" in code:
                    # mpremote exec waits for the output; the board's port goes
                    # away with the reset, and pyserial says so.
                    print("Traceback (most recent call last):\nserial.serialutil.SerialException: device reports "
                          "readiness to read but returned no data (device disconnected or multiple access on port?)")
                    rc = 1
            elif cmd[:2] == ["fs", "cp"]:
                size = os.path.getsize(cmd[2])
                board["used"] = board.get("used", 0) + size
                if board["used"] > board["probe"]["free"]:
                    print("cp %s %s" % (cmd[2], cmd[3]))
                    print("Traceback (most recent call last):\nOSError: [Errno 28] ENOSPC")
                    return 1
                board.setdefault("files", {})[cmd[3][1:]] = open(cmd[2], "rb").read().hex()
            elif cmd[:2] == ["mip", "install"]:
                print("Install %s\nDone" % cmd[2])
                board["probe"]["usb_device_hid"] = True
            elif cmd[0] == "reset":
                board["resets"] = board.get("resets", 0) + 1
            else:
                print("mpremote: unknown command %r" % cmd)
                return 1
            if rc:
                return rc
        return 0
    finally:
        log.close()
        with open(board_path, "w") as f:
            json.dump(board, f)


def run_exec(board, code):
    probe = board["probe"]
    if "PYFIDO-PROBE" in code:
        out = dict(probe)
        out["version"] = tuple(out["version"])
        # Like the real probe: the paths of the probe's _STALE list present on
        # the filesystem, reported only when the frozen build marker is there.
        stale = ast.literal_eval(re.search(r"^_STALE = (.*)$", code, re.M).group(1))
        files = board.get("files", {})
        out["stale"] = [p for p in stale if out.get("build") and any(f == p or f.startswith(p + "/") for f in files)]
        print("PYFIDO-PROBE", repr(out))
    elif "PYFIDO-REMOVED" in code:
        paths = ast.literal_eval(re.search(r"in (\[.*\])\)\)$", code, re.M).group(1))
        files = board.get("files", {})
        gone = [f for f in files if any(f == p or f.startswith(p + "/") for p in paths)]
        for f in gone:
            board["used"] = max(0, board.get("used", 0) - len(files.pop(f)) // 2)
        print("PYFIDO-REMOVED", len(gone))
    elif "p.init()" in code:
        print(board.get("init") or "PYFIDO-INIT %s" % ("kept" if probe["provisioned"] else "new"))
        probe["provisioned"] = True
    elif "p.wipe()" in code:
        print("PYFIDO-WIPED", probe["passkeys"] + 1)
        probe["provisioned"] = False
        probe["passkeys"] = 0
    elif "selftest.run()" in code:
        print(board.get("selftest", "PYFIDO-SELFTEST OK"))
    elif "attestation_keygen()" in code:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        pub = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        board["attestation_public_key"] = pub.hex()
        print("PYFIDO-ATTPUB", pub.hex())
    elif "attestation_install(" in code:
        board["attestation_certificate"] = code.split("attestation_install(")[1].strip("')\n")
        print("PYFIDO-ATT installed")
    elif "microcontroller.reset()" in code:
        board["resets"] = board.get("resets", 0) + 1
        probe["readonly"] = False  # boot.py hid the drive and remounted
    elif "os.mkdir" in code:
        pass
    else:
        print("Traceback (most recent call last):\nNameError: fake board cannot run %r" % code[:60])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
