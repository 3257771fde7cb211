"""Known-answer and rejection vectors for lib/cbor.py, shared by the CPython
tests (test_cbor.py) and the MicroPython ones (test_cbor_micropython.py).

Hex strings may contain spaces for readability.
"""

# RFC 8949 Appendix A examples within the supported data model, plus CTAP
# shapes. (value, canonical encoding): loads(hex) == value and
# dumps(value) == hex, with types compared strictly.
KNOWN_ANSWERS = [
    # RFC 8949 Appendix A
    (0, "00"),
    (1, "01"),
    (10, "0a"),
    (23, "17"),
    (24, "1818"),
    (25, "1819"),
    (100, "1864"),
    (1000, "1903e8"),
    (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"),
    (-10, "29"),
    (-100, "3863"),
    (-1000, "3903e7"),
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    (b"", "40"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ("\"\\", "62225c"),
    ("\u00fc", "62c3bc"),
    ("\u6c34", "63e6b0b4"),
    ("\U00010151", "64f0908591"),
    ([], "80"),
    ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"),
    ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    ({"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"},
     "a56161614161626142616361436164614461656145"),
    # Boundaries of each argument width.
    (255, "18ff"),
    (256, "190100"),
    (65535, "19ffff"),
    (65536, "1a00010000"),
    (4294967295, "1affffffff"),
    (4294967296, "1b0000000100000000"),
    (-24, "37"),
    (-25, "3818"),
    (-256, "38ff"),
    (-257, "390100"),
    (b"\x00" * 24, "5818" + "00" * 24),
    ("x" * 256, "790100" + "78" * 256),
    # CTAP 2.1 §8 key order: major type first, then encoded length, then bytes
    # (cbor2's canonical=True would put "a" (2 bytes) before 1000 (3 bytes)).
    ({1000: 1, "a": 2, -1: 3, b"x": 4, 1: 5}, "a5 0105 1903e801 2003 417804 616102"),
    # COSE_Key as in authenticatorClientPIN keyAgreement: 1, 3, -1, -2, -3.
    ({1: 2, 3: -25, -1: 1, -2: b"\x11" * 32, -3: b"\x22" * 32},
     "a5 0102 0338 18 2001 215820" + "11" * 32 + " 225820" + "22" * 32),
    ({"b": 0, "a": 0, "aa": 0, 24: 0, 23: 0, -24: 0, -25: 0},
     "a7 1700 181800 3700 381800 616100 616200 62616100"),
    # Deepest nesting allowed (CTAP 2.1 §8: four levels), e.g. a getAssertion
    # allowList entry with transports.
    ({3: [{"id": b"\x01", "type": "public-key", "transports": ["usb"]}]},
     "a1 03 81 a3 626964 4101 6474797065 6a7075626c69632d6b6579"
     " 6a7472616e73706f727473 81 63757362"),
    ([[[[0]]]], "81818181 00"),
]

# Inputs dumps() takes that decode to something else (tuple, bytearray,
# memoryview in; list, bytes out). Value given as Python source.
ENCODE_ONLY = [
    ("(1, 2)", "820102"),
    ("bytearray(b'ab')", "426162"),
    ("memoryview(b'ab')", "426162"),
    ("{'k': (b'', ())}", "a1616b824080"),
]

# (input hex, substring of the CBORDecodeError message).
REJECTS = [
    # Truncated input, and lengths or counts the buffer cannot hold.
    ("", "truncated input"),
    ("18", "truncated input"),
    ("1901", "truncated input"),
    ("1a000100", "truncated input"),
    ("1b00000001000000", "truncated input"),
    ("41", "truncated input"),
    ("6261", "truncated input"),
    ("82 01", "truncated input"),
    ("a1 01", "truncated input"),
    ("a2 01 02 03", "truncated input"),
    # ... also where lib/cbor.py decodes map keys and values without a call
    # (small unsigned integers, booleans, strings of fewer than 24 bytes)
    ("a1 63 6162", "truncated input"),  # a text key
    ("a1 01 63 6162", "truncated input"),  # a text value
    ("a1 01 43 0102", "truncated input"),  # a byte-string value
    ("a2 01 f5", "truncated input"),  # a boolean value, then nothing
    ("a1 6180 01", "invalid UTF-8"),  # a text key
    ("a1 01 62c080", "invalid UTF-8"),  # a text value
    ("a2 6161 01 6161 02", "duplicate map key"),
    ("a2 6162 01 6161 02", "map keys not in canonical order"),
    ("a2 01 f4 00 f5", "map keys not in canonical order"),
    ("5b ffffffffffffffff 00", "truncated input"),
    ("7b 0000000100000000 00", "truncated input"),
    ("9b ffffffffffffffff 00", "truncated input"),
    ("bb ffffffffffffffff 00", "truncated input"),
    # Trailing bytes after the one item.
    ("0000", "trailing bytes"),
    ("a0 00", "trailing bytes"),
    ("820102 03", "trailing bytes"),
    # Indefinite lengths (RFC 8949 Appendix A examples among them).
    ("5f42010243030405ff", "indefinite lengths are not supported"),
    ("7f657374726561646d696e67ff", "indefinite lengths are not supported"),
    ("9fff", "indefinite lengths are not supported"),
    ("9f018202039f0405ffff", "indefinite lengths are not supported"),
    ("bf61610161629f0203ffff", "indefinite lengths are not supported"),
    ("826161bf61626163ff", "indefinite lengths are not supported"),
    ("1f", "indefinite lengths are not supported"),
    ("ff", "unexpected break"),
    # Tags (RFC 8949 Appendix A examples, bignums included).
    ("c074323031332d30332d32315432303a30343a30305a", "tags are not supported"),
    ("c11a514b67b0", "tags are not supported"),
    ("c249010000000000000000", "tags are not supported"),
    ("c349010000000000000000", "tags are not supported"),
    ("d74401020304", "tags are not supported"),
    ("d818456449455446", "tags are not supported"),
    ("dc", "tags are not supported"),
    # Floats (Appendix A half, single and double precision).
    ("f90000", "floating-point values are not supported"),
    ("f93c00", "floating-point values are not supported"),
    ("f97c00", "floating-point values are not supported"),
    ("fa47c35000", "floating-point values are not supported"),
    ("fb3ff199999999999a", "floating-point values are not supported"),
    ("f9", "floating-point values are not supported"),
    # Simple values other than false, true, null.
    ("f7", "unsupported simple value"),
    ("f0", "unsupported simple value"),
    ("e0", "unsupported simple value"),
    ("f818", "unsupported simple value"),
    ("f8ff", "unsupported simple value"),
    # Reserved additional information 28..30.
    ("1c", "reserved additional information"),
    ("3d", "reserved additional information"),
    ("5e", "reserved additional information"),
    ("7c", "reserved additional information"),
    ("9d", "reserved additional information"),
    ("be", "reserved additional information"),
    ("fc", "reserved additional information"),
    ("fe", "reserved additional information"),
    # Invalid UTF-8 (RFC 3629): stray continuation, bad lead bytes, overlong,
    # surrogates, beyond U+10FFFF, cut-off and broken sequences.
    ("6180", "invalid UTF-8"),
    ("61ff", "invalid UTF-8"),
    ("62c080", "invalid UTF-8"),
    ("62c1bf", "invalid UTF-8"),
    ("63e08080", "invalid UTF-8"),
    ("63e09fbf", "invalid UTF-8"),
    ("63eda080", "invalid UTF-8"),
    ("63edbfbf", "invalid UTF-8"),
    ("64f0808080", "invalid UTF-8"),
    ("64f08fbfbf", "invalid UTF-8"),
    ("64f4908080", "invalid UTF-8"),
    ("64f5808080", "invalid UTF-8"),
    ("65f888808080", "invalid UTF-8"),
    ("61c3", "invalid UTF-8"),
    ("62e282", "invalid UTF-8"),
    ("62c328", "invalid UTF-8"),
    ("63e228a1", "invalid UTF-8"),
    ("626180", "invalid UTF-8"),
    ("63c3a980", "invalid UTF-8"),
    ("6261c3", "invalid UTF-8"),
    ("a1 6180 00", "invalid UTF-8"),
    # Duplicate map keys.
    ("a2 0100 0100", "duplicate map key"),
    ("a2 2000 2000", "duplicate map key"),
    ("a2 616100 616100", "duplicate map key"),
    ("a2 410000 410000", "duplicate map key"),
    ("a2 190100 00 190100 00", "duplicate map key"),
    # Keys out of CTAP2 canonical order.
    ("a2 0200 0100", "map keys not in canonical order"),
    ("a2 2000 0100", "map keys not in canonical order"),
    ("a2 2100 2000", "map keys not in canonical order"),
    ("a2 181800 1700", "map keys not in canonical order"),
    ("a2 616200 616100", "map keys not in canonical order"),
    ("a2 62616100 616200", "map keys not in canonical order"),
    ("a2 616100 410000", "map keys not in canonical order"),
    ("a2 410000 2000", "map keys not in canonical order"),
    ("a2 616100 1903e800", "map keys not in canonical order"),
    ("a3 0100 0300 0200", "map keys not in canonical order"),
    # Map keys of unsupported types.
    ("a1 f5 00", "unsupported map key type"),
    ("a1 f4 00", "unsupported map key type"),
    ("a1 f6 00", "unsupported map key type"),
    ("a1 80 00", "unsupported map key type"),
    ("a1 a0 00", "unsupported map key type"),
    ("a1 c0 00", "unsupported map key type"),
    ("a1 f93c00 00", "unsupported map key type"),
    # Not the shortest argument (CTAP2 canonical form).
    ("1800", "non-canonical integer or length encoding"),
    ("1817", "non-canonical integer or length encoding"),
    ("1900ff", "non-canonical integer or length encoding"),
    ("1a0000ffff", "non-canonical integer or length encoding"),
    ("1b00000000ffffffff", "non-canonical integer or length encoding"),
    ("3817", "non-canonical integer or length encoding"),
    ("5800", "non-canonical integer or length encoding"),
    ("780161", "non-canonical integer or length encoding"),
    ("980100", "non-canonical integer or length encoding"),
    ("b8 01 0100", "non-canonical integer or length encoding"),
    ("a1 1801 00", "non-canonical integer or length encoding"),
    ("a1 01 1900 00", "non-canonical integer or length encoding"),
    # Nesting deeper than CTAP 2.1 §8 allows (four levels).
    ("8181818180", "nesting too deep"),
    ("81818181a0", "nesting too deep"),
    ("a101 a101 a101 a101 a0", "nesting too deep"),
    ("a1 03 81 a3 626964 4101 6474797065 6a7075626c69632d6b6579"
     " 6a7472616e73706f727473 81 81 63757362", "nesting too deep"),
]

# Python source of values dumps() must refuse with CBOREncodeError.
ENCODE_REJECTS = [
    ("2**64", "integer out of 64-bit range"),
    ("-2**64 - 1", "integer out of 64-bit range"),
    ("[2**70]", "integer out of 64-bit range"),
    ("{2**64: 0}", "integer out of 64-bit range"),
    ("1.5", "unsupported type"),
    ("[1, 0.0]", "unsupported type"),
    ("set()", "unsupported type"),
    ("object()", "unsupported type"),
    ("{True: 1}", "unsupported map key type"),
    ("{False: 1}", "unsupported map key type"),
    ("{None: 1}", "unsupported map key type"),
    ("{(1,): 1}", "unsupported map key type"),
    ("{1.5: 1}", "unsupported map key type"),
    ("[[[[[]]]]]", "nesting too deep"),
    ("{1: {2: {3: {4: {}}}}}", "nesting too deep"),
]


def unhex(h):
    return bytes.fromhex(h.replace(" ", ""))
