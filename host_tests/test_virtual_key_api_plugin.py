"""boards/host/pytest_plugin.py: the fixtures an RP's suite gets, in a pytest run of its own.

(The example relying party runs on the installed plugin in test_package.py;
here the checkout's plugin runs with -p, for what the example does not show:
option precedence, the command-line switch, keys stopped after a failing test.)
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.join(REPO, p) for p in ("build/host", "boards/host", "lib", "")))

SUITE = '''
import json, os
import pytest
from fido2.ctap2 import Ctap2

pytestmark = pytest.mark.virtual_key(pin="1111")
ADDRESSES = os.environ["ADDRESSES"]


@pytest.fixture
def virtual_key_options():
    return {"aaguid": "000000000000000000000000000000aa", "pin": "0000"}


def note(key):
    with open(ADDRESSES, "a") as f:
        f.write(key.address + "\\n")


def test_module_marker_over_the_options_fixture(virtual_key):
    note(virtual_key)
    assert virtual_key.pin == "1111"
    info = Ctap2(virtual_key.device).get_info()
    assert info.aaguid.hex() == "000000000000000000000000000000aa" and info.options["clientPin"]


@pytest.mark.virtual_key(pin="2222", presence=3)
def test_function_marker_over_the_module_marker(virtual_key):
    note(virtual_key)
    assert virtual_key.pin == "2222"


def test_the_command_line_switch_picks_the_mode(virtual_key, request):
    note(virtual_key)
    assert virtual_key.process is request.config.getoption("virtual_key_process")


def test_fido2_client_acts_for_the_origin(fido2_client, fido2_origin, virtual_key):
    note(virtual_key)
    assert fido2_origin == "https://localhost"
    assert fido2_client.info.options["clientPin"] is True


def test_factory_keys_and_a_failing_test(virtual_key_factory):
    for _ in range(2):
        note(virtual_key_factory(pin=None))
    assert False, "this test fails on purpose"


@pytest.mark.virtual_key("positional")
def test_positional_marker_arguments_are_an_error(virtual_key):
    pass
'''


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_plugin_fixtures_in_a_suite_of_their_own(tmp_path, process):
    (tmp_path / "test_suite.py").write_text(SUITE)
    addresses = tmp_path / "addresses"
    cmd = [sys.executable, "-m", "pytest", "-p", "boards.host.pytest_plugin", "-p", "no:cacheprovider", "-q",
           "--junitxml", str(tmp_path / "junit.xml"), str(tmp_path / "test_suite.py")]
    if process:
        cmd.append("--virtual-key-process")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
                       env=dict(ENV, ADDRESSES=str(addresses)))
    assert r.returncode == 1, r.stdout + r.stderr  # the two failures below, nothing else
    outcomes = {}
    for case in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[case.get("name")] = "failed" if failed else "passed"
    assert outcomes == {
        "test_module_marker_over_the_options_fixture": "passed",
        "test_function_marker_over_the_module_marker": "passed",
        "test_the_command_line_switch_picks_the_mode": "passed",
        "test_fido2_client_acts_for_the_origin": "passed",
        "test_factory_keys_and_a_failing_test": "failed",
        "test_positional_marker_arguments_are_an_error": "failed",
    }
    assert "keyword options only" in r.stdout
    # every key was stopped: its temporary directory (socket, log) is gone
    used = addresses.read_text().split()
    assert len(used) == 6  # four tests, and two keys of the factory
    assert not [a for a in used if os.path.exists(os.path.dirname(a))]
