"""CTAP 2.1 §8 canonical CBOR: the device's codec (RFC 8949 subset).

API follows cbor2: `dumps(obj) -> bytes`, `loads(data) -> obj`, and the
exceptions `CBORDecodeError` / `CBOREncodeError` (both `ValueError`).
firmware/authenticator.py maps `CBORDecodeError` to CTAP2_ERR_INVALID_CBOR.

Supported data model (everything CTAP sends):
  unsigned and negative integers (-2**64 .. 2**64-1), byte strings (bytes
  out; bytes, bytearray or memoryview in), text strings, arrays (list or
  tuple in, list out), maps (dict, keys int, str or bytes), False, True,
  None.

Encoding is the "CTAP2 canonical CBOR encoding form" (CTAP 2.1 §8):
shortest integer and length arguments, definite lengths only, no tags, and
map keys sorted by major type, then by length of the encoded key, then by
its bytes (the order of python-fido2's fido2/cbor.py `_sort_keys`; note it
is NOT cbor2's `canonical=True` order, which sorts by length first across
major types).

Decoding is strict. CTAP 2.1 §8: "All decoders SHOULD reject CBOR that is
not validly encoded in the CTAP2 canonical CBOR encoding form and SHOULD
reject messages with duplicate map keys", and authenticators SHOULD answer
such input with CTAP2_ERR_INVALID_CBOR. We follow the SHOULD (as OpenSK's
sk-cbor reader does): a non-shortest argument, a map key out of order or
repeated is an error, so every accepted message has exactly one encoding
and `dumps(loads(x)) == x`. The same section says all encoders MUST
produce that form, and the clients we test against (python-fido2, libfido2)
do, so strictness costs a conforming platform nothing.

Also rejected, each with its own message: truncated input, trailing bytes,
indefinite lengths (additional info 31), reserved additional info 28-30,
tags (major type 6), floats and every simple value except false, true and
null (nothing in CTAP uses them; sk-cbor rejects floats too; the one cost:
a float inside an unknown extension, which §8 says to ignore, fails the
whole request), invalid UTF-8
(RFC 3629: overlong forms, surrogates and code points above U+10FFFF
included; MicroPython's own decoder lets those through, so text is checked
here), map keys that are not int, text or bytes (a bool key would collide
with 1 or 0 in a Python dict), and nesting deeper than MAX_DEPTH.

Nesting, CTAP 2.1 §8: "the depth of nested CBOR structures used by all
message encodings is limited to at most four (4) levels of any combination
of CBOR maps and/or CBOR arrays. Authenticators MUST support at least 4
levels of CBOR nesting." So MAX_DEPTH = 4 containers, the outermost one
counted as level 1: {1: [{"a": [0]}]} is the deepest accepted shape, as in
a getAssertion allowList entry with transports (request map, allowList
array, descriptor map, transports array). Both loads and dumps check it;
callers with deeper private data (store records) pass max_depth. The
decoder recurses once per container and checks the limit before it
descends, so input can never drive the recursion deeper than max_depth.
"""

from micropython import const

# CTAP 2.1 §8 Message Encoding: at most four levels of maps and/or arrays.
MAX_DEPTH = const(4)

# RFC 8949 §3.1 major types.
_MT_UINT = const(0)
_MT_NINT = const(1)
_MT_BYTES = const(2)
_MT_TEXT = const(3)
_MT_ARRAY = const(4)
_MT_MAP = const(5)
_MT_TAG = const(6)
_MT_SIMPLE = const(7)

# RFC 8949 §3.3 simple values (major type 7).
_SIMPLE_FALSE = const(20)
_SIMPLE_TRUE = const(21)
_SIMPLE_NULL = const(22)

# RFC 8949 §3 additional information: 24..27 = 1, 2, 4, 8 argument bytes.
_AI_1BYTE = const(24)
_AI_8BYTES = const(27)
_AI_INDEFINITE = const(31)

_UINT64_LIMIT = const(0x10000000000000000)  # 2**64

# Built once: MicroPython would build an inline (a, b, c) tuple on every call.
_BUFFER_TYPES = (bytes, bytearray, memoryview)
_ARRAY_TYPES = (list, tuple)


class CBORDecodeError(ValueError):
    """Input is not CTAP2 canonical CBOR of a supported type (-> CTAP2_ERR_INVALID_CBOR)."""


class CBOREncodeError(ValueError):
    """The object has a type, value or depth that CTAP2 CBOR cannot carry."""


# ---------------------------------------------------------------------------
# Encoding


def _write_head(out, major, n):
    """Append a head (major type + shortest argument n) to bytearray out."""
    mt = major << 5
    if n < 24:
        out.append(mt | n)
        return
    if n < 0x100:
        size = 1
        ai = 24
    elif n < 0x10000:
        size = 2
        ai = 25
    elif n < 0x100000000:
        size = 4
        ai = 26
    elif n < _UINT64_LIMIT:
        size = 8
        ai = 27
    else:
        raise CBOREncodeError("integer out of 64-bit range")
    out.append(mt | ai)
    shift = (size - 1) * 8
    while shift >= 0:
        out.append((n >> shift) & 0xFF)
        shift -= 8


def _sort_entry(key):
    """(major type, length, comparable, key): sorts map keys in CTAP2 order.

    CTAP 2.1 §8 orders keys by major type, then encoded length, then encoded
    bytes. Within one major type that is the order of the argument for ints
    (the encoded length grows with it) and of (length, content bytes) for
    strings, so plain tuples sort right without encoding the keys twice.
    """
    if key is True or key is False or key is None:
        raise CBOREncodeError("unsupported map key type")
    if isinstance(key, int):
        if key >= 0:
            return (_MT_UINT, 0, key, key)
        return (_MT_NINT, 0, -1 - key, key)
    if isinstance(key, str):
        raw = key.encode("utf-8")
        return (_MT_TEXT, len(raw), raw, key)
    if isinstance(key, bytes):
        return (_MT_BYTES, len(key), key, key)
    raise CBOREncodeError("unsupported map key type")


def _encode_int(out, n):
    if n < 0:
        if n < -_UINT64_LIMIT:
            raise CBOREncodeError("integer out of 64-bit range")
        _write_head(out, _MT_NINT, -1 - n)
    else:
        _write_head(out, _MT_UINT, n)


def _encode(out, obj, depth, max_depth):
    # Checks bool before int: on CPython bool is an int.
    if obj is False:
        out.append(0xF4)
    elif obj is True:
        out.append(0xF5)
    elif obj is None:
        out.append(0xF6)
    elif isinstance(obj, int):
        _encode_int(out, obj)
    elif isinstance(obj, _BUFFER_TYPES):
        if isinstance(obj, memoryview):
            obj = bytes(obj)  # len() of a memoryview counts items, not bytes
        _write_head(out, _MT_BYTES, len(obj))
        out.extend(obj)
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        _write_head(out, _MT_TEXT, len(raw))
        out.extend(raw)
    elif isinstance(obj, _ARRAY_TYPES) or isinstance(obj, dict):
        # The limit is checked before descending, so a cycle or a deep object
        # raises here instead of exhausting the (small) MicroPython stack.
        if depth >= max_depth:
            raise CBOREncodeError("nesting too deep")
        depth += 1
        if isinstance(obj, dict):
            _encode_map(out, obj, depth, max_depth)
        else:
            _write_head(out, _MT_ARRAY, len(obj))
            for item in obj:
                _encode(out, item, depth, max_depth)
    else:
        raise CBOREncodeError("unsupported type: " + type(obj).__name__)


def _encode_map(out, obj, depth, max_depth):
    _write_head(out, _MT_MAP, len(obj))
    keys = list(obj)
    for k in keys:
        if not isinstance(k, int) or k is True or k is False:
            break
    else:
        # All keys are ints (CTAP's commands, responses and COSE keys): the
        # CTAP2 order is the unsigned keys ascending, then the negative ones
        # by growing argument (-1, -2, ...). Sorting plain ints needs no
        # encoded copies of the keys and no sort-key tuples.
        keys.sort()
        split = 0
        while split < len(keys) and keys[split] < 0:
            split += 1
        for i in range(split, len(keys)):
            _encode_int(out, keys[i])
            _encode(out, obj[keys[i]], depth, max_depth)
        for i in range(split - 1, -1, -1):
            _encode_int(out, keys[i])
            _encode(out, obj[keys[i]], depth, max_depth)
        return
    # Mixed or string keys: decorate once, then sort plain tuples (a key=
    # function would be called on every comparison by MicroPython's sort).
    for i in range(len(keys)):
        keys[i] = _sort_entry(keys[i])
    keys.sort()
    for major, _, raw, key in keys:
        if major <= _MT_NINT:
            _encode_int(out, key)
        else:
            _write_head(out, major, len(raw))
            out.extend(raw)
        _encode(out, obj[key], depth, max_depth)


def dumps(obj, max_depth=MAX_DEPTH):
    """Encode obj as CTAP2 canonical CBOR; raises CBOREncodeError."""
    out = bytearray()
    _encode(out, obj, 0, max_depth)
    return bytes(out)


def dump_into(out, obj, max_depth=MAX_DEPTH):
    """Append obj's CTAP2 canonical CBOR to the bytearray out; raises CBOREncodeError.

    For a message that starts with other bytes (a status byte) or is used
    as a bytearray anyway: no bytes copy of the whole encoding, as dumps
    makes. On an error out holds a partial encoding.
    """
    _encode(out, obj, 0, max_depth)


# ---------------------------------------------------------------------------
# Decoding


def _check_utf8(buf, i, end):
    """Raise unless buf[i:end] is well-formed UTF-8 (RFC 3629 §4 table)."""
    while i < end:
        c = buf[i]
        i += 1
        if c < 0x80:
            continue
        # Second byte range depends on the lead byte: this excludes overlong
        # forms (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and
        # code points above U+10FFFF (F4 90.., F5..FF).
        lo = 0x80
        hi = 0xBF
        if c < 0xC2:
            raise CBORDecodeError("invalid UTF-8")
        elif c < 0xE0:
            n = 1
        elif c < 0xF0:
            n = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F
        elif c < 0xF5:
            n = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        else:
            raise CBORDecodeError("invalid UTF-8")
        if i + n > end:
            raise CBORDecodeError("invalid UTF-8")
        c = buf[i]
        if c < lo or c > hi:
            raise CBORDecodeError("invalid UTF-8")
        for j in range(i + 1, i + n):
            if buf[j] & 0xC0 != 0x80:
                raise CBORDecodeError("invalid UTF-8")
        i += n


def _decode_utf8(buf, pos, stop):
    try:
        text = str(buf[pos:stop], "utf-8")
    except UnicodeError:
        raise CBORDecodeError("invalid UTF-8")
    if len(text) != stop - pos:
        # Not pure ASCII: MicroPython's str() accepts overlong forms,
        # surrogates and values above U+10FFFF, so check by hand. An
        # accepted str with one character per byte is ASCII: MicroPython's
        # own check (MICROPY_PY_BUILTINS_STR_UNICODE_CHECK, on with unicode
        # strings on rp2, esp32 and CircuitPython) refuses lone lead and
        # continuation bytes, and each multi-byte sequence is one character.
        _check_utf8(buf, pos, stop)
    return text


def decode_utf8(data):
    """Strict UTF-8 (RFC 3629) bytes -> str on every runtime; CBORDecodeError
    (a ValueError) otherwise. For text that arrives outside CBOR, such as a
    new PIN: `data.decode()` is strict on CPython only."""
    return _decode_utf8(data, 0, len(data))


def _decode(buf, at, depth, max_depth):
    """Decode the item at buf[at[0]:] and leave at[0] just after it.

    The position lives in a one-element list rather than being returned in
    a tuple: on MicroPython that saves one heap tuple per item.
    """
    pos = at[0]
    end = len(buf)
    if pos >= end:
        raise CBORDecodeError("truncated input")
    initial = buf[pos]
    pos += 1
    at[0] = pos
    if initial < _AI_1BYTE:
        return initial  # an unsigned integer 0..23 (major type 0): the commonest item
    if _MT_NINT << 5 <= initial < (_MT_NINT << 5) + _AI_1BYTE:
        return (_MT_NINT << 5) - 1 - initial  # -1..-24 (COSE algorithm identifiers)
    major = initial >> 5
    ai = initial & 0x1F

    if major == _MT_SIMPLE:
        if ai == _SIMPLE_FALSE:
            return False
        if ai == _SIMPLE_TRUE:
            return True
        if ai == _SIMPLE_NULL:
            return None
        if 25 <= ai <= 27:
            raise CBORDecodeError("floating-point values are not supported")
        if ai == _AI_INDEFINITE:
            raise CBORDecodeError("unexpected break")
        if 28 <= ai <= 30:
            raise CBORDecodeError("reserved additional information")
        raise CBORDecodeError("unsupported simple value")
    if major == _MT_TAG:
        raise CBORDecodeError("tags are not supported")

    # Argument: the value (ints), the length (strings) or the count (containers).
    if ai < _AI_1BYTE:
        arg = ai
    elif ai <= _AI_8BYTES:
        size = 1 << (ai - _AI_1BYTE)
        if pos + size > end:
            raise CBORDecodeError("truncated input")
        arg = 0
        for i in range(pos, pos + size):
            arg = (arg << 8) | buf[i]
        pos += size
        at[0] = pos
        # CTAP2 canonical: the shortest form. 24 needs >= 24, 25 needs >= 2**8,
        # 26 needs >= 2**16, 27 needs >= 2**32.
        if arg < (24 if size == 1 else 1 << (4 * size)):
            raise CBORDecodeError("non-canonical integer or length encoding")
    elif ai == _AI_INDEFINITE:
        raise CBORDecodeError("indefinite lengths are not supported")
    else:
        raise CBORDecodeError("reserved additional information")

    if major == _MT_UINT:
        return arg
    if major == _MT_NINT:
        return -1 - arg
    if major == _MT_BYTES or major == _MT_TEXT:
        # Compare against what is left before slicing: a forged length must
        # not make us allocate or read past the buffer.
        if arg > end - pos:
            raise CBORDecodeError("truncated input")
        stop = pos + arg
        at[0] = stop
        if major == _MT_BYTES:
            return bytes(buf[pos:stop])
        return _decode_utf8(buf, pos, stop)

    # Arrays and maps. Depth is checked before descending (CTAP 2.1 §8).
    if depth >= max_depth:
        raise CBORDecodeError("nesting too deep")
    depth += 1
    if major == _MT_ARRAY:
        # Each item takes at least one byte: reject a forged count before
        # allocating the list (sized once: no regrowth).
        if arg > end - pos:
            raise CBORDecodeError("truncated input")
        items = [None] * arg
        for i in range(arg):
            items[i] = _decode(buf, at, depth, max_depth)
        return items

    # major == _MT_MAP
    if arg > (end - pos) // 2:
        raise CBORDecodeError("truncated input")
    result = {}
    prev_major = -1
    prev_len = 0
    prev_key = None
    for _ in range(arg):
        key_start = at[0]
        if key_start >= end:
            raise CBORDecodeError("truncated input")
        head = buf[key_start]
        key_major = head >> 5
        # The keys CTAP uses most are decoded here rather than by a call:
        # unsigned integers 0..23 (every command's parameters) and text of
        # fewer than 24 bytes (WebAuthn's members: "id", "name", "type", ...),
        # exactly as _decode would (one head byte, canonical by construction).
        if head < _AI_1BYTE:
            key = head
            key_len = 1
            at[0] = key_start + 1
        elif _MT_TEXT << 5 <= head < (_MT_TEXT << 5) + _AI_1BYTE:
            stop = key_start + 1 + (head & 0x1F)
            if stop > end:
                raise CBORDecodeError("truncated input")
            key = _decode_utf8(buf, key_start + 1, stop)
            key_len = stop - key_start
            at[0] = stop
        else:
            if key_major > _MT_TEXT:
                raise CBORDecodeError("unsupported map key type")
            key = _decode(buf, at, depth, max_depth)
            key_len = at[0] - key_start
        # CTAP 2.1 §8 key order: major type, then encoded length, then the
        # encoded bytes. At equal major type and length the heads agree, so
        # the bytes order is the value order (uint), its reverse (nint: the
        # argument is -1 - value) or the content order (bytes; text too,
        # since UTF-8 byte order is code point order). No re-encoding.
        if key_major != prev_major:
            if key_major < prev_major:
                raise CBORDecodeError("map keys not in canonical order")
        elif key_len < prev_len:
            raise CBORDecodeError("map keys not in canonical order")
        elif key_len == prev_len:
            if key == prev_key:
                raise CBORDecodeError("duplicate map key")
            if (key < prev_key) != (key_major == _MT_NINT):
                raise CBORDecodeError("map keys not in canonical order")
        prev_major = key_major
        prev_len = key_len
        prev_key = key
        # The value: small unsigned integers, booleans and short byte and text
        # strings here too (as _decode would), anything else by a call.
        pos = at[0]
        if pos < end:
            head = buf[pos]
            if head < _AI_1BYTE:
                at[0] = pos + 1
                result[key] = head
                continue
            if head == 0xF4 or head == 0xF5:
                at[0] = pos + 1
                result[key] = head == 0xF5
                continue
            if _MT_BYTES << 5 <= head < (_MT_TEXT << 5) + _AI_1BYTE and head & 0x1F < _AI_1BYTE:
                stop = pos + 1 + (head & 0x1F)
                if stop > end:
                    raise CBORDecodeError("truncated input")
                at[0] = stop
                if head < _MT_TEXT << 5:
                    result[key] = bytes(buf[pos + 1 : stop])
                else:
                    result[key] = _decode_utf8(buf, pos + 1, stop)
                continue
        result[key] = _decode(buf, at, depth, max_depth)
    return result


def loads(data, max_depth=MAX_DEPTH):
    """Decode exactly one CTAP2 canonical CBOR item; raises CBORDecodeError."""
    buf = memoryview(data)
    at = [0]
    value = _decode(buf, at, 0, max_depth)
    if at[0] != len(buf):
        raise CBORDecodeError("trailing bytes")
    return value
