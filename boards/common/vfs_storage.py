"""The board's `storage`: flat named records in a directory of the filesystem.

One implementation for MicroPython (littlefs or FAT), CircuitPython (FAT) and
CPython (the host board's directory). firmware/store.py builds power-loss
safety on top of exactly these five operations:

  read(name)          -> bytes, or None when there is no such record
  write(name, data)   create or replace; may be torn by a power cut
  rename(old, new)    replace `new` by `old` (atomic on littlefs and POSIX;
                      on FAT the target is removed first, which the store
                      recovers from at boot)
  remove(name)        a missing record is not an error
  list()              the names present
"""

import os

_fsync = getattr(os, "fsync", None)  # CPython: make each record durable
# MicroPython/CircuitPython: flush the filesystem's caches (no fsync there)
_sync = None if _fsync is not None else getattr(os, "sync", None)


class VfsStorage:
    """:param feed: called before each flash operation (a board's watchdog
        feed), so a long run of them -- a reset wiping every record -- is
        never mistaken for a wedged loop."""

    def __init__(self, root, feed=None):
        self.root = root.rstrip("/") or "/"
        self._feed = feed
        try:
            os.mkdir(self.root)
        except OSError:
            pass  # exists
        self.writes = 0  # write/rename/remove operations, for wear figures

    def _touch(self):
        if self._feed is not None:
            self._feed()

    def _path(self, name):
        return self.root + "/" + name

    def read(self, name):
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        self._touch()
        self.writes += 1
        with open(self._path(name), "wb") as f:
            f.write(data)
            if _fsync is not None:
                f.flush()
                _fsync(f.fileno())
        if _sync is not None:
            _sync()

    def rename(self, old, new):
        self._touch()
        self.writes += 1
        try:
            os.rename(self._path(old), self._path(new))
        except OSError:
            # FAT (CircuitPython) refuses to rename onto an existing file.
            self.remove(new)
            os.rename(self._path(old), self._path(new))
        self._sync_dir()

    def _sync_dir(self):
        if _sync is not None:
            _sync()
        elif _fsync is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                _fsync(fd)
            finally:
                os.close(fd)

    def remove(self, name):
        self._touch()
        try:
            os.remove(self._path(name))
        except OSError:
            return
        self.writes += 1
        self._sync_dir()

    def list(self):
        try:
            return os.listdir(self.root)
        except OSError:
            return []
