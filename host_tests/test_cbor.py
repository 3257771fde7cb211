"""lib/cbor.py on CPython: known answers, every rejection, and differential
property tests against cbor2 and python-fido2's fido2.cbor.

The MicroPython side of the same vectors is test_cbor_micropython.py.
"""

import struct

import cbor2
import fido2.cbor
import pytest
from hypothesis import assume, event, example, given
from hypothesis import strategies as st

import cbor
from cbor_vectors import ENCODE_ONLY, ENCODE_REJECTS, KNOWN_ANSWERS, REJECTS, unhex

# ---------------------------------------------------------------------------
# Helpers


def same(a, b):
    """Equality that also compares types (so True != 1, b"" != bytearray(), [] != ())."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def as_decoded(v):
    """What loads(dumps(v)) must give: tuples become lists, buffers bytes."""
    if isinstance(v, (list, tuple)):
        return [as_decoded(x) for x in v]
    if isinstance(v, dict):
        return {k: as_decoded(x) for k, x in v.items()}
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return v


def ctap2_ordered(v):
    """v with every dict rebuilt in CTAP2 canonical key order.

    The order comes from python-fido2's `_sort_keys` applied to cbor2's
    encoding of each key, so this oracle shares no code with lib/cbor.py.
    cbor2.dumps without canonical=True keeps dict order.
    """
    if isinstance(v, (list, tuple)):
        return [ctap2_ordered(x) for x in v]
    if isinstance(v, dict):
        entries = sorted(((cbor2.dumps(k), k) for k in v), key=fido2.cbor._sort_keys)
        return {k: ctap2_ordered(v[k]) for _, k in entries}
    return v


def has_none(v):
    if v is None:
        return True
    if isinstance(v, (list, tuple)):
        return any(has_none(x) for x in v)
    if isinstance(v, dict):
        return any(has_none(x) for x in v.values())
    return False


def key_types_uniform(v):
    """True if every map's keys share one CBOR major type (then cbor2's
    length-first canonical order equals CTAP2's)."""
    if isinstance(v, (list, tuple)):
        return all(key_types_uniform(x) for x in v)
    if isinstance(v, dict):
        majors = {cbor2.dumps(k)[0] >> 5 for k in v}
        return len(majors) <= 1 and all(key_types_uniform(x) for x in v.values())
    return True


def cbor2_strict_loads(data):
    return cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False)


# ---------------------------------------------------------------------------
# Known answers


@pytest.mark.parametrize("value,hexstr", KNOWN_ANSWERS, ids=[h[:24] for _, h in KNOWN_ANSWERS])
def test_known_answer(value, hexstr):
    data = unhex(hexstr)
    assert cbor.dumps(value) == data
    assert same(cbor.loads(data), value)
    # Both oracles agree with the vector (fido2.cbor has no None).
    assert same(cbor2.loads(data), value)
    if not has_none(value):
        assert fido2.cbor.encode(value) == data


@pytest.mark.parametrize("source,hexstr", ENCODE_ONLY)
def test_encode_only_inputs(source, hexstr):
    assert cbor.dumps(eval(source)) == unhex(hexstr)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_loads_accepts_any_buffer_and_returns_bytes(kind):
    value = cbor.loads(kind(unhex("a2 01 4401020304 02 8141ff")))
    assert same(value, {1: b"\x01\x02\x03\x04", 2: [b"\xff"]})


def test_loads_of_a_memoryview_slice():
    buf = memoryview(b"\xff\x82\x01\x02\xff")
    assert cbor.loads(buf[1:4]) == [1, 2]


def test_dumps_memoryview_counts_bytes_not_items():
    import array

    mv = memoryview(array.array("H", [1, 2]))
    assert cbor.dumps(mv) == b"\x44" + mv.tobytes()


def test_ctap2_order_differs_from_cbor2_canonical():
    # Why the oracle needs ctap2_ordered(): cbor2 sorts by length across
    # major types (RFC 7049 §3.9), CTAP2 by major type first.
    value = {1000: 1, "a": 2}
    assert cbor.dumps(value) == unhex("a2 1903e801 616102")
    assert cbor2.dumps(value, canonical=True) == unhex("a2 616102 1903e801")
    assert fido2.cbor.encode(value) == cbor.dumps(value)


def test_dumps_sorts_regardless_of_insertion_order():
    a = {"b": 1, 2: 2, -1: 3, b"\x00": 4}
    b = dict(reversed(list(a.items())))
    assert cbor.dumps(a) == cbor.dumps(b) == fido2.cbor.encode(a)


def test_errors_are_value_errors():
    # authenticator.py maps these to CTAP2_ERR_INVALID_CBOR / CTAP1_ERR_OTHER.
    assert issubclass(cbor.CBORDecodeError, ValueError)
    assert issubclass(cbor.CBOREncodeError, ValueError)


# ---------------------------------------------------------------------------
# Rejections


@pytest.mark.parametrize("hexstr,message", REJECTS, ids=[h[:24] or "empty" for h, _ in REJECTS])
def test_rejects(hexstr, message):
    with pytest.raises(cbor.CBORDecodeError, match=message):
        cbor.loads(unhex(hexstr))


@pytest.mark.parametrize("source,message", ENCODE_REJECTS)
def test_encode_rejects(source, message):
    with pytest.raises(cbor.CBOREncodeError, match=message):
        cbor.dumps(eval(source))


def test_encode_rejects_cycles():
    a = []
    a.append(a)
    with pytest.raises(cbor.CBOREncodeError, match="nesting too deep"):
        cbor.dumps(a)


def test_max_depth_is_four_levels():
    # CTAP 2.1 §8: four levels of maps/arrays, the outermost counted.
    assert cbor.MAX_DEPTH == 4
    assert cbor.loads(unhex("81818181 00")) == [[[[0]]]]
    with pytest.raises(cbor.CBORDecodeError, match="nesting too deep"):
        cbor.loads(unhex("8181818181 00"))
    assert cbor.loads(unhex("8181818181 00"), max_depth=5) == [[[[[0]]]]]
    assert cbor.dumps([[[[[0]]]]], max_depth=5) == unhex("8181818181 00")
    with pytest.raises(cbor.CBORDecodeError, match="nesting too deep"):
        cbor.loads(b"\x80", max_depth=0)


@pytest.mark.parametrize("opener", [b"\x81", b"\xa1\x00", b"\x9f"])
def test_attacker_nesting_rejected_without_deep_recursion(opener):
    # A million levels: rejected by the depth check (or the indefinite-length
    # check), never RecursionError, and quickly.
    with pytest.raises(cbor.CBORDecodeError):
        cbor.loads(opener * 1000000 + b"\x00")


def test_depth_checked_before_descending(monkeypatch):
    # The limit must stop recursion *before* the next level is entered:
    # count the frames of _decode that ever exist at once.
    calls = {"depth": 0, "max": 0}
    real = cbor._decode

    def counting(buf, at, depth, max_depth):
        calls["depth"] += 1
        calls["max"] = max(calls["max"], calls["depth"])
        try:
            return real(buf, at, depth, max_depth)
        finally:
            calls["depth"] -= 1

    monkeypatch.setattr(cbor, "_decode", counting)
    with pytest.raises(cbor.CBORDecodeError):
        cbor.loads(b"\x81" * 100 + b"\x00")
    # One frame per accepted container (4) plus the one that refuses the 5th.
    assert calls["max"] == cbor.MAX_DEPTH + 1


def test_forged_huge_length_does_not_allocate():
    # 2**64-1 byte string claimed in 10 bytes: rejected before slicing.
    with pytest.raises(cbor.CBORDecodeError, match="truncated"):
        cbor.loads(b"\x5b" + b"\xff" * 8 + b"\x00")
    with pytest.raises(cbor.CBORDecodeError, match="truncated"):
        cbor.loads(b"\x9b" + b"\xff" * 8 + b"\x00")


def test_canonical_input_strictness():
    # CTAP 2.1 §8: decoders SHOULD reject non-canonical CBOR; we do, while a
    # lenient decoder (cbor2) reads the same bytes as the same value.
    for hexstr, value in [("1817", 23), ("a2 0200 0100", {1: 0, 2: 0}), ("5800", b"")]:
        assert cbor2.loads(unhex(hexstr)) == value
        with pytest.raises(cbor.CBORDecodeError):
            cbor.loads(unhex(hexstr))


# ---------------------------------------------------------------------------
# Property tests (profile "ci": 2,000 examples, derandomized; see conftest.py)

INT64 = st.integers(min_value=-(2**64), max_value=2**64 - 1)
SMALL_INT = st.integers(min_value=-30, max_value=300)  # near the width boundaries
KEYS = st.one_of(INT64, SMALL_INT, st.text(max_size=6), st.binary(max_size=6))
LEAVES = st.one_of(
    INT64, SMALL_INT, st.booleans(), st.none(),
    st.binary(max_size=40), st.text(max_size=20),
)


def values(depth=cbor.MAX_DEPTH):
    """Every supported value up to `depth` levels of containers."""
    if depth == 0:
        return LEAVES
    inner = values(depth - 1)
    return st.one_of(
        LEAVES,
        st.lists(inner, max_size=5),
        st.dictionaries(KEYS, inner, max_size=5),
    )


VALUES = values()


@given(VALUES)
@example({1000: 1, "a": 2, -1: 3, b"x": 4, 1: 5})
@example({"aa": 0, "b": 0, 24: 0, -25: 0})
def test_dumps_matches_oracles(value):
    ours = cbor.dumps(value)
    # cbor2 with dicts put in CTAP2 order by fido2's _sort_keys.
    assert ours == cbor2.dumps(ctap2_ordered(value))
    if key_types_uniform(value):
        assert ours == cbor2.dumps(value, canonical=True)
    if not has_none(value):
        assert ours == fido2.cbor.encode(value)
    # dump_into appends the same bytes to what the buffer already holds.
    out = bytearray(b"\x00")
    cbor.dump_into(out, value)
    assert out == b"\x00" + ours


@given(VALUES)
def test_round_trip_and_cbor2_reads_the_same(value):
    data = cbor.dumps(value)
    assert same(cbor.loads(data), as_decoded(value))
    assert same(cbor2_strict_loads(data), as_decoded(value))


def _check_decoders_agree(data):
    try:
        ours = cbor.loads(data)
    except cbor.CBORDecodeError as e:
        event("rejected: %s" % e)  # the only exception loads may raise on any input
        return False
    event("accepted")
    # Whatever we accept, cbor2 (strict mode) accepts as the same value, and
    # it was canonical: re-encoding gives back the very same bytes.
    assert same(cbor2_strict_loads(data), ours)
    assert cbor.dumps(ours) == data
    return True


@given(st.binary(max_size=64))
@example(b"\xa1\x01\x02")
def test_random_bytes_differential(data):
    _check_decoders_agree(data)


MUTATIONS = st.sampled_from(["flip", "set", "insert", "delete", "truncate", "append"])


@given(VALUES, st.lists(st.tuples(MUTATIONS, st.integers(0, 10**6), st.integers(0, 255)),
                        min_size=1, max_size=3))
def test_mutated_encodings_differential(value, mutations):
    # Valid encodings with a few bytes changed reach the deep rejection paths
    # that random bytes rarely do.
    data = bytearray(cbor.dumps(value))
    for kind, where, byte in mutations:
        i = where % (len(data) + 1)
        if kind == "flip" and i < len(data):
            data[i] ^= 1 << (byte % 8)
        elif kind == "set" and i < len(data):
            data[i] = byte
        elif kind == "insert":
            data.insert(i, byte)
        elif kind == "delete" and i < len(data):
            del data[i]
        elif kind == "truncate":
            del data[i:]
        elif kind == "append":
            data.append(byte)
    _check_decoders_agree(bytes(data))


def _noncanonical(value, target, choice):
    """An encoding of value that is valid CBOR but breaks one CTAP2 canonical
    rule at site number `target`: a head with a longer argument than needed,
    or a map with two neighbouring entries swapped. Returns (bytes, number of
    sites); with target >= sites the encoding is the canonical one."""
    sites = [0]

    def here():
        sites[0] += 1
        return sites[0] - 1 == target

    def head(major, n):
        shortest = 0 if n < 24 else 1 if n < 0x100 else 2 if n < 0x10000 else 4 if n < 2**32 else 8
        width = shortest
        if shortest < 8 and here():
            wider = [w for w in (1, 2, 4, 8) if w > shortest]
            width = wider[choice % len(wider)]
        if width == 0:
            return bytes([major << 5 | n])
        return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[width]]) + n.to_bytes(width, "big")

    def enc(v):
        if v is None or isinstance(v, bool):
            return cbor.dumps(v)
        if isinstance(v, int):
            return head(0, v) if v >= 0 else head(1, -1 - v)
        if isinstance(v, bytes):
            return head(2, len(v)) + v
        if isinstance(v, str):
            raw = v.encode()
            return head(3, len(raw)) + raw
        if isinstance(v, list):
            return head(4, len(v)) + b"".join(enc(x) for x in v)
        entries = [(cbor.dumps(k), k) for k in v]
        entries.sort(key=fido2.cbor._sort_keys)
        if len(entries) > 1 and here():
            i = choice % (len(entries) - 1)
            entries[i], entries[i + 1] = entries[i + 1], entries[i]
        return head(5, len(v)) + b"".join(enc(k) + enc(v[k]) for _, k in entries)

    return enc(value), sites[0]


@given(VALUES, st.integers(0, 2**16), st.integers(0, 2**16))
@example(300, 0, 2)
@example({1: 0, 2: 0}, 1, 0)
def test_noncanonical_encodings_rejected(value, target, choice):
    _, n_sites = _noncanonical(value, -1, 0)
    assume(n_sites > 0)
    encoded, _ = _noncanonical(value, target % n_sites, choice)
    # A lenient decoder reads the intended value; we refuse it (CTAP 2.1 §8).
    assert same(cbor2_strict_loads(encoded), as_decoded(value))
    with pytest.raises(cbor.CBORDecodeError,
                       match="non-canonical integer or length encoding|not in canonical order"):
        cbor.loads(encoded)


UTF8_BYTES = st.sampled_from(
    [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
     0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF])


@given(st.one_of(
    st.lists(UTF8_BYTES, max_size=12).map(bytes),
    st.text(max_size=8).map(lambda s: s.encode()),
    st.binary(max_size=12),
))
@example(b"\xed\xa0\x80")
@example(b"\xf4\x90\x80\x80")
def test_utf8_validator_matches_cpython(raw):
    # MicroPython relies on _check_utf8 for everything its str() lets
    # through; CPython's strict decoder is the reference.
    assert _utf8_verdicts_agree(raw)


def _utf8_verdicts_agree(raw):
    """Whether _check_utf8 accepts exactly what CPython's strict decoder accepts."""
    try:
        raw.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    try:
        cbor._check_utf8(raw, 0, len(raw))
        ours = True
    except cbor.CBORDecodeError:
        ours = False
    return ours == valid


def utf8_cases():
    """Every lead byte with every second byte (padded with continuation bytes
    to each possible length), and every third byte after a valid start:
    exercises each range decision of RFC 3629's table."""
    for lead in range(256):
        for second in range(256):
            for tail in (b"", b"\x80", b"\x80\x80"):
                yield bytes((lead, second)) + tail
    for start in (b"\xe0\xa0", b"\xed\x9f", b"\xef\xbf", b"\xf0\x90", b"\xf4\x8f"):
        for third in range(256):
            yield start + bytes((third,))
            yield start + bytes((third, 0x80))
            yield start + b"\x80" + bytes((third,))


def test_utf8_validator_exhaustive():
    wrong = []
    for raw in utf8_cases():
        if not _utf8_verdicts_agree(raw):
            wrong.append(raw.hex())
    assert not wrong, wrong[:20]


@given(st.integers(min_value=-(2**64), max_value=2**64 - 1))
def test_integers_exactly_like_fido2(n):
    assert cbor.dumps(n) == fido2.cbor.encode(n)
    assert cbor.loads(cbor.dumps(n)) == n


@given(st.one_of(st.integers(min_value=2**64), st.integers(max_value=-(2**64) - 1)))
def test_integers_outside_64_bits_rejected(n):
    with pytest.raises(cbor.CBOREncodeError):
        cbor.dumps(n)


def test_struct_free_head_encoding_matches_struct():
    # _write_head shifts bytes out by hand (MicroPython-friendly); check it
    # against struct for each width.
    for n, fmt, ai in [(200, ">B", 24), (60000, ">H", 25), (2**31, ">I", 26), (2**63, ">Q", 27)]:
        out = bytearray()
        cbor._write_head(out, 2, n)
        assert bytes(out) == bytes([0x40 | ai]) + struct.pack(fmt, n)
