"""RAM storage for the host board: the five storage operations over a dict.

For tests and throwaway keys; boards/common/vfs_storage.py is the one that
persists. Counts writes so tests and benchmarks can measure flash wear.
"""


class MemoryStorage:
    def __init__(self, files=None):
        self.files = dict(files or {})
        self.writes = 0

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        self.writes += 1
        self.files[name] = bytes(data)

    def rename(self, old, new):
        self.writes += 1
        self.files[new] = self.files.pop(old)

    def remove(self, name):
        if self.files.pop(name, None) is not None:
            self.writes += 1

    def list(self):
        return list(self.files)
