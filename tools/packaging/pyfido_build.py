"""In-tree build backend of the `pyfido-key` distribution (pyproject.toml).

setuptools' own PEP 517 backend, plus two commands:

  BuildPy  copies the core into pyfido_key/_core and rewrites its absolute
           imports, as pip's `vendoring` tool does: `import cbor` becomes
           `from pyfido_key._core import cbor`, `from firmware.x import y`
           becomes `from pyfido_key._core.firmware.x import y`, and so on for
           every name in rewrite_map(). So the installed package adds no
           top-level `firmware`, `boards`, `cbor`, `cryptolib`, `micropython`
           or `p256` module, and needs nothing on sys.path.
  EggInfo  keeps pyfido_key.egg-info in build/egg-info, out of the
           repository root: there importlib.metadata would find its entry
           points (the pytest plugin) in every process that has the checkout
           on sys.path -- the test suite's own pytest included.
  Sdist    adds the files BuildPy and the C extensions read, so a wheel
           built from the sdist (what `python -m build` does) is complete.

The C modules are the ext-modules of pyproject.toml, the one list of them;
each one's last name part is rewritten like the others.
"""

import ast
import os

from setuptools.build_meta import *  # noqa: F401,F403  (the PEP 517 hooks)
from setuptools.command.build_py import build_py as _build_py
from setuptools.command.egg_info import egg_info as _egg_info
from setuptools.command.sdist import sdist as _sdist

PACKAGE = "pyfido_key"
CORE = PACKAGE + "._core"

# What goes into pyfido_key/_core: (file in the repository, path under _core).
# The core entire; the host board but run.py (a checkout script that puts
# the repository on sys.path); of boards/common only what the host imports.
# build_vendored() fails when a copied module imports one not listed here.
_HOST_SKIP = ("run.py",)
_COMMON = ("__init__.py", "fido_hid.py", "vfs_storage.py")
_LIB = ("cbor.py", "cryptolib.py")


def vendored_files(root="."):
    """[(source path, destination under _core)], relative paths with '/'."""
    out = []
    for d, _dirs, files in sorted(os.walk(os.path.join(root, "firmware"))):
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                out.append((rel, rel))
    out.append(("boards/__init__.py", "boards/__init__.py"))
    for f in sorted(os.listdir(os.path.join(root, "boards", "host"))):
        if f.endswith(".py") and f not in _HOST_SKIP:
            out.append(("boards/host/" + f, "boards/host/" + f))
    for f in _COMMON:
        out.append(("boards/common/" + f, "boards/common/" + f))
    for f in _LIB:
        out.append(("lib/" + f, f))
    return out


def rewrite_map(ext_names=()):
    """Top-level names the core imports -> their names in the package."""
    mapping = {
        "firmware": CORE + ".firmware",
        "boards": CORE + ".boards",
        "cbor": CORE + ".cbor",
        "cryptolib": CORE + ".cryptolib",
        # boards/host/micropython.py: the host's stand-in for MicroPython's module
        "micropython": CORE + ".boards.host.micropython",
    }
    for name in ext_names:
        mapping[name.rsplit(".", 1)[-1]] = name
    return mapping


class VendorError(Exception):
    pass


def _target(name, mapping):
    top, _, rest = name.partition(".")
    return mapping[top] + ("." + rest if rest else "")


def _alias(name, asname):
    return name + (" as " + asname if asname and asname != name else "")


def rewrite_imports(source, mapping, filename="<source>"):
    """`source` with every absolute import of a name in `mapping` rewritten.

    Line numbers stay as they were (tracebacks point at the same lines as
    in the repository). Raises VendorError for an import that cannot be
    rewritten without changing what the code binds (`import firmware.x`).
    """
    tree = ast.parse(source, filename)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level or node.module.split(".")[0] not in mapping:
                continue
            names = ", ".join(_alias(a.name, a.asname) for a in node.names)
            text = "from %s import " % _target(node.module, mapping)
            lines = node.end_lineno - node.lineno
            text += "(%s%s)" % (names, "\n" * lines) if lines else names
            edits.append((node, text))
        elif isinstance(node, ast.Import):
            if not any(a.name.split(".")[0] in mapping for a in node.names):
                continue
            parts = []
            for a in node.names:
                if a.name.split(".")[0] not in mapping:
                    parts.append("import " + _alias(a.name, a.asname))
                    continue
                if "." in a.name and not a.asname:
                    raise VendorError("%s:%d: `import %s` binds the top-level name; write `from ... import ...`"
                                      % (filename, node.lineno, a.name))
                parent, _, last = _target(a.name, mapping).rpartition(".")
                parts.append("from %s import %s" % (parent, _alias(last, a.asname or a.name)))
            if node.end_lineno != node.lineno:
                raise VendorError("%s:%d: an import continued over lines" % (filename, node.lineno))
            edits.append((node, "; ".join(parts)))
    if not edits:
        return source
    lines = source.splitlines(keepends=True)
    # Offsets are in UTF-8 bytes of a line; edit from the end so earlier ones stay valid.
    edits.sort(key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True)
    for node, text in edits:
        first = lines[node.lineno - 1].encode()
        last = lines[node.end_lineno - 1].encode()
        new = first[: node.col_offset] + text.encode() + last[node.end_col_offset :]
        lines[node.lineno - 1 : node.end_lineno] = [new.decode()]
    return "".join(lines)


def imported_modules(source, filename="<source>"):
    """Absolute module names `source` imports (for from-imports also module.name)."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.append(node.module)
            out.extend(node.module + "." + a.name for a in node.names)
    return out


def build_vendored(root, out_dir, ext_names):
    """Write pyfido_key/_core under out_dir; the list of files written."""
    mapping = rewrite_map(ext_names)
    files = vendored_files(root)
    modules = set(ext_names) | {CORE}
    for _src, dest in files:
        mod = CORE + "." + dest[: -len(".py")].replace("/", ".")
        modules.add(mod[: -len(".__init__")] if mod.endswith(".__init__") else mod)
    written = []
    core_dir = os.path.join(out_dir, *CORE.split("."))
    init = os.path.join(core_dir, "__init__.py")
    os.makedirs(core_dir, exist_ok=True)
    with open(init, "w") as f:
        f.write('"""The PyFIDO key\'s core and host board, vendored by tools/packaging/pyfido_build.py."""\n')
    written.append(init)
    for src, dest in files:
        with open(os.path.join(root, src), encoding="utf-8") as f:
            source = f.read()
        new = rewrite_imports(source, mapping, src)
        for name in imported_modules(new, src):
            top = name.split(".")[0]
            if top in mapping and name not in mapping:
                raise VendorError("%s: import of %s was not rewritten" % (src, name))
            if name.startswith(CORE + ".") and name not in modules:
                # `from pkg import name` lists module.name too: a name in a module is fine
                parent = name.rpartition(".")[0]
                if parent not in modules:
                    raise VendorError("%s imports %s, which the package does not contain: add it to "
                                      "tools/packaging/pyfido_build.py vendored_files()" % (src, name))
        path = os.path.join(core_dir, *dest.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        written.append(path)
    return written


class BuildPy(_build_py):
    """build_py, then the vendored core into the build directory."""

    def run(self):
        super().run()
        ext_names = [e.name for e in (self.distribution.ext_modules or [])]
        written = build_vendored(os.getcwd(), self.build_lib, ext_names)
        self._vendored = written
        if self.compile:
            self.byte_compile(written)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + list(getattr(self, "_vendored", []))


class EggInfo(_egg_info):
    def initialize_options(self):
        super().initialize_options()
        self.egg_base = os.path.join("build", "egg-info")

    def finalize_options(self):
        if self.egg_base:
            os.makedirs(self.egg_base, exist_ok=True)
        super().finalize_options()


def sdist_files(distribution, root="."):
    """What a wheel built from the sdist needs beyond setuptools' defaults."""
    files = [src for src, _dest in vendored_files(root)]
    for d, _dirs, names in os.walk(os.path.join(root, "tools", "packaging")):
        if "__pycache__" in d:
            continue
        files.extend(os.path.relpath(os.path.join(d, n), root) for n in names if n.endswith(".py"))
    for ext in distribution.ext_modules or []:
        files.extend(ext.sources)
        files.extend(ext.depends or [])
    return sorted(set(f.replace(os.sep, "/") for f in files))


class Sdist(_sdist):
    def make_release_tree(self, base_dir, files):
        # build/ holds setuptools' egg-info (EggInfo) and the checkout's C builds: never shipped
        files = [f for f in files if not f.replace(os.sep, "/").startswith("build/")]
        extra = [f for f in sdist_files(self.distribution) if f not in files]
        super().make_release_tree(base_dir, files + extra)
