"""Readers for the test vectors: cryptography-vectors (NIST CAVP, RFCs) and Wycheproof."""

import json
import os

import cryptography_vectors
import pytest

from conftest import wycheproof_dir

CRYPTOGRAPHY_VECTORS = os.path.dirname(cryptography_vectors.__file__)


def nist_blocks(relpath):
    """Key = value blocks of a CAVP .rsp/.txt file, each tagged with its [SECTION]."""
    section = None
    block = {}
    out = []
    with open(os.path.join(CRYPTOGRAPHY_VECTORS, relpath)) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                if block:
                    out.append(block)
                    block = {}
                section = line[1:-1]
                continue
            if not line:
                if block:
                    out.append(block)
                    block = {}
                continue
            if "=" in line:
                k, _, v = line.partition("=")
                block[k.strip().upper()] = v.strip()
                block.setdefault("_section", section)
    if block:
        out.append(block)
    return out


def wycheproof_file(name):
    """A whole Wycheproof file (its JSON), or a skip with the reason stated."""
    d = wycheproof_dir()
    path = d and os.path.join(d, name)
    if not path or not os.path.exists(path):
        pytest.skip("Wycheproof vectors not found (%s): set WYCHEPROOF_DIR to the directory "
                    "holding %s" % (path or "no ../shared/vectors/wycheproof", name))
    with open(path) as f:
        return json.load(f)


def wycheproof(name):
    """The test groups of a Wycheproof file, or a skip with the reason stated."""
    return wycheproof_file(name)["testGroups"]
