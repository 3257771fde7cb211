// Test-only services for MicroPython running under Node (tools/mpy_wasm.mjs).
//
// Registered in MicroPython as the JS module `testcrypto`; used by the
// bridges in host_tests/mpy_wasm/ (p256.py, ed25519.py, cryptolib.py), never
// on a board.
//
// Calling convention: bytes arrive as Python proxies and are copied with
// Uint8Array.from(x). Results are Uint8Array (bytes(r) on the Python side),
// booleans, or a *string* holding an error message. Nothing here throws: a
// JS exception would escape Python's try/except and abort the script, so
// every entry point catches and returns the message instead.
//
// ECDSA takes a ready-made digest, which Node's crypto.sign/verify cannot
// (they hash the message themselves), so sign/verify use the small BigInt
// P-256 below. Key derivation and ECDH use Node's crypto, and selfTest()
// checks the two against each other.

import crypto from "node:crypto";

// SEC 2 / FIPS 186-4 curve P-256 (secp256r1).
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

function mod(a, m) {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function modpow(b, e, m) {
  let r = 1n;
  b = mod(b, m);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

const inv = (a, m) => modpow(a, m - 2n, m); // m is prime

function bytesToInt(u8) {
  let v = 0n;
  for (const b of u8) v = (v << 8n) | BigInt(b);
  return v;
}

function intToBytes(v, len) {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

// Jacobian coordinates [X, Y, Z]; Z == 0 is the point at infinity. a = -3.
const INF = [1n, 1n, 0n];

function dbl([x1, y1, z1]) {
  if (z1 === 0n || y1 === 0n) return INF;
  const delta = (z1 * z1) % P;
  const gamma = (y1 * y1) % P;
  const beta = (x1 * gamma) % P;
  const alpha = mod(3n * (x1 - delta) * (x1 + delta), P);
  const x3 = mod(alpha * alpha - 8n * beta, P);
  const z3 = mod((y1 + z1) * (y1 + z1) - gamma - delta, P);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, P);
  return [x3, y3, z3];
}

function add(p1, p2) {
  const [x1, y1, z1] = p1;
  const [x2, y2, z2] = p2;
  if (z1 === 0n) return p2;
  if (z2 === 0n) return p1;
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (y1 * z2 * z2z2) % P;
  const s2 = (y2 * z1 * z1z1) % P;
  const h = mod(u2 - u1, P);
  const r = mod(2n * (s2 - s1), P);
  if (h === 0n) return r === 0n ? dbl(p1) : INF;
  const i = (4n * h * h) % P;
  const j = (h * i) % P;
  const v = (u1 * i) % P;
  const x3 = mod(r * r - j - 2n * v, P);
  const y3 = mod(r * (v - x3) - 2n * s1 * j, P);
  const z3 = mod(((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h, P);
  return [x3, y3, z3];
}

function mul(k, pt) {
  let r = INF;
  for (let i = BigInt(k.toString(2).length) - 1n; i >= 0n; i--) {
    r = dbl(r);
    if ((k >> i) & 1n) r = add(r, pt);
  }
  return r;
}

function affine([x, y, z]) {
  if (z === 0n) return null;
  const zi = inv(z, P);
  const zi2 = (zi * zi) % P;
  return [(x * zi2) % P, (y * zi2 * zi) % P];
}

const G = [GX, GY, 1n];

function onCurve(x, y) {
  return mod(y * y - (x * x * x - 3n * x + B), P) === 0n;
}

// SEC 1 §2.3.4: uncompressed (04||x||y) or compressed (02/03||x) -> [x, y]; throws.
function decodePoint(u8) {
  if (u8.length === 65 && u8[0] === 4) {
    const x = bytesToInt(u8.subarray(1, 33));
    const y = bytesToInt(u8.subarray(33));
    if (x >= P || y >= P || !onCurve(x, y)) throw new Error("invalid point");
    return [x, y];
  }
  if (u8.length === 33 && (u8[0] === 2 || u8[0] === 3)) {
    const x = bytesToInt(u8.subarray(1));
    if (x >= P) throw new Error("invalid point");
    const c = mod(x * x * x - 3n * x + B, P);
    let y = modpow(c, (P + 1n) / 4n, P); // P = 3 mod 4
    if ((y * y) % P !== c) throw new Error("invalid point");
    if (Number(y & 1n) !== (u8[0] & 1)) y = P - y;
    return [x, y];
  }
  throw new Error("invalid point encoding");
}

function encodePoint([x, y], compressed) {
  if (compressed) {
    const out = new Uint8Array(33);
    out[0] = 2 + Number(y & 1n);
    out.set(intToBytes(x, 32), 1);
    return out;
  }
  const out = new Uint8Array(65);
  out[0] = 4;
  out.set(intToBytes(x, 32), 1);
  out.set(intToBytes(y, 32), 33);
  return out;
}

function scalar(u8) {
  if (u8.length !== 32) throw new Error("private key must be 32 bytes");
  const d = bytesToInt(u8);
  if (d === 0n || d >= N) throw new Error("private key out of range");
  return d;
}

function hmac(key, ...parts) {
  const h = crypto.createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

// ECDSA with the nonce of RFC 6979 §3.2 (HMAC-SHA-256), `extra` being the
// additional data k' of §3.6. With empty `extra` the signature equals any
// RFC 6979 deterministic signer's (e.g. `cryptography`'s deterministic_signing).
function ecdsaSign(privU8, digest, extra) {
  const d = scalar(privU8);
  if (digest.length !== 32) throw new Error("digest must be 32 bytes");
  const z = bytesToInt(digest);
  const x = intToBytes(d, 32);
  const h1 = intToBytes(z % N, 32);
  let v = new Uint8Array(32).fill(1);
  let k = new Uint8Array(32);
  k = hmac(k, v, Uint8Array.of(0), x, h1, extra);
  v = hmac(k, v);
  k = hmac(k, v, Uint8Array.of(1), x, h1, extra);
  v = hmac(k, v);
  for (;;) {
    v = hmac(k, v);
    const kk = bytesToInt(v);
    if (kk >= 1n && kk < N) {
      const r = affine(mul(kk, G))[0] % N;
      if (r !== 0n) {
        const s = (inv(kk, N) * (z + r * d)) % N;
        if (s !== 0n) {
          const sig = new Uint8Array(64);
          sig.set(intToBytes(r, 32), 0);
          sig.set(intToBytes(s, 32), 32);
          return sig;
        }
      }
    }
    k = hmac(k, v, Uint8Array.of(0));
    v = hmac(k, v);
  }
}

function ecdsaVerify(pubU8, digest, sig) {
  const q = decodePoint(pubU8); // throws on a bad key: the caller's error
  if (digest.length !== 32) throw new Error("digest must be 32 bytes");
  if (sig.length !== 64) throw new Error("signature must be 64 bytes");
  const r = bytesToInt(sig.subarray(0, 32));
  const s = bytesToInt(sig.subarray(32));
  if (r === 0n || r >= N || s === 0n || s >= N) return false;
  const w = inv(s, N);
  const z = bytesToInt(digest);
  const pt = affine(add(mul((z * w) % N, G), mul((r * w) % N, [q[0], q[1], 1n])));
  return pt !== null && pt[0] % N === r;
}

function publicKey(privU8) {
  scalar(privU8);
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.setPrivateKey(Buffer.from(privU8));
  return new Uint8Array(ecdh.getPublicKey(null, "uncompressed"));
}

const u8 = (x) => Uint8Array.from(x);

// Wrap so that nothing throws into MicroPython: errors become strings.
function safe(fn) {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      return (e && e.message) ? e.message : String(e);
    }
  };
}

function aes(mode, key, iv, data, encrypt) {
  const bits = key.length * 8;
  if (bits !== 128 && bits !== 256) throw new Error("key must be 16 or 32 bytes");
  if (data.length % 16) throw new Error("data length must be a multiple of 16");
  const name = "aes-" + bits + "-" + mode;
  const c = encrypt
    ? crypto.createCipheriv(name, key, mode === "ecb" ? null : iv)
    : crypto.createDecipheriv(name, key, mode === "ecb" ? null : iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

// Ed25519 (lib/ed25519's API) with Node's crypto, which is OpenSSL's:
// the seed goes in as PKCS#8, public keys as SPKI (RFC 8410 prefixes).
const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");
const ED25519_SPKI = Buffer.from("302a300506032b6570032100", "hex");

function ed25519Private(seed) {
  if (seed.length !== 32) throw new Error("seed must be 32 bytes");
  return crypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: "der", type: "pkcs8" });
}

function ed25519Verify(pub, msg, sig) {
  if (pub.length !== 32) throw new Error("public key must be 32 bytes");
  if (sig.length !== 64) throw new Error("signature must be 64 bytes");
  let key;
  try {
    key = crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI, pub]), format: "der", type: "spki" });
  } catch (e) {
    return false; // not a point: verify() says False, as lib/ed25519 does
  }
  return crypto.verify(null, msg, key, sig);
}

export const services = {
  random_bytes: safe((n) => new Uint8Array(crypto.randomBytes(n))),
  aes_cbc_encrypt: safe((key, iv, data) => aes("cbc", u8(key), u8(iv), u8(data), true)),
  aes_cbc_decrypt: safe((key, iv, data) => aes("cbc", u8(key), u8(iv), u8(data), false)),
  aes_ecb_encrypt: safe((key, data) => aes("ecb", u8(key), null, u8(data), true)),
  aes_ecb_decrypt: safe((key, data) => aes("ecb", u8(key), null, u8(data), false)),
  // keygen: private key = seed mod (n - 1) + 1 (FIPS 186-4 B.4.1 with a
  // 40-byte seed); returns priv32 || pub65.
  p256_keygen: safe((seed) => {
    const s = u8(seed);
    if (s.length !== 40) throw new Error("seed must be 40 bytes");
    const priv = intToBytes((bytesToInt(s) % (N - 1n)) + 1n, 32);
    const out = new Uint8Array(97);
    out.set(priv, 0);
    out.set(publicKey(priv), 32);
    return out;
  }),
  p256_public_key: safe((priv) => publicKey(u8(priv))),
  p256_sign: safe((priv, digest, extra) => ecdsaSign(u8(priv), u8(digest), u8(extra))),
  p256_verify: safe((pub, digest, sig) => ecdsaVerify(u8(pub), u8(digest), u8(sig))),
  p256_ecdh: safe((priv, peer) => {
    const d = u8(priv);
    scalar(d);
    const q = u8(peer);
    decodePoint(q); // Node refuses these too, but with varying messages: one check, one message
    const ecdh = crypto.createECDH("prime256v1");
    ecdh.setPrivateKey(Buffer.from(d));
    return new Uint8Array(ecdh.computeSecret(Buffer.from(q)));
  }),
  ed25519_public_key: safe((seed) => new Uint8Array(
    crypto.createPublicKey(ed25519Private(u8(seed))).export({ format: "der", type: "spki" }).subarray(-32))),
  ed25519_sign: safe((seed, msg) => new Uint8Array(crypto.sign(null, u8(msg), ed25519Private(u8(seed))))),
  ed25519_verify: safe((pub, msg, sig) => ed25519Verify(u8(pub), u8(msg), u8(sig))),
  p256_compress: safe((pub) => encodePoint(decodePoint(u8(pub)), true)),
  p256_decompress: safe((pub) => encodePoint(decodePoint(u8(pub)), false)),
  p256_validate: safe((pub) => {
    try {
      decodePoint(u8(pub));
      return true;
    } catch (e) {
      return false;
    }
  }),
};

// Cross-checks of the BigInt code against Node's crypto; returns a list of
// failures (empty when all is well). Run by `node tools/mpy_wasm.mjs --selftest`.
export function selfTest() {
  const failures = [];
  const check = (cond, what) => cond || failures.push(what);
  for (let i = 0; i < 8; i++) {
    const { privateKey, publicKey: pk } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const jwk = privateKey.export({ format: "jwk" });
    const priv = new Uint8Array(Buffer.from(jwk.d, "base64url"));
    const pub = new Uint8Array(pk.export({ format: "der", type: "spki" }).subarray(-65));
    check(Buffer.from(publicKey(priv)).equals(Buffer.from(pub)), "public key (Node ECDH) != SPKI");
    check(Buffer.from(encodePoint(affine(mul(bytesToInt(priv), G)), false)).equals(Buffer.from(pub)),
      "BigInt scalar mult != Node public key");
    const msg = crypto.randomBytes(50);
    const digest = new Uint8Array(crypto.createHash("sha256").update(msg).digest());
    const sig = ecdsaSign(priv, digest, new Uint8Array(0));
    check(crypto.verify("sha256", msg, { key: pk, dsaEncoding: "ieee-p1363" }, sig), "Node rejects our signature");
    const nodeSig = crypto.sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
    check(ecdsaVerify(pub, digest, new Uint8Array(nodeSig)), "we reject Node's signature");
    const bad = Uint8Array.from(nodeSig);
    bad[10] ^= 1;
    check(!ecdsaVerify(pub, digest, bad), "we accept a corrupted signature");
    check(Buffer.from(encodePoint(decodePoint(encodePoint(decodePoint(pub), true)), false)).equals(Buffer.from(pub)),
      "compress/decompress round trip");
  }
  return failures;
}

// -- keyio: a framed pipe between a test and a key running on MicroPython --
//
// Registered as the JS module `keyio` by `tools/mpy_wasm.mjs --key`; the
// test-only board host_tests/mpy_board/pipe_key.py is its only user. Frames in
// both directions: KIND (1 ASCII byte) LENGTH (4 bytes, big-endian) PAYLOAD.
// The test (host_tests/mpy_key.py) writes them to the child's stdin, a pipe
// whose read end it made O_NONBLOCK before spawning Node (the flag belongs to
// the shared file description), so readSync(0) throws EAGAIN when nothing is
// there: recv() never blocks, as a board's USB endpoint poll must not.
// Payloads cross into MicroPython as hex strings (binascii.unhexlify there):
// one string is far cheaper than a proxied byte array (measured: ~15 us
// against ~40-370 us per 64-byte report).
//
//   recv()            next frame as KIND + hex payload; null when none has
//                     come; "" once the test closed its end (end of file)
//   wait(ms)          sleep until a frame is ready or ms have passed (Atomics.wait
//                     in 1 ms steps between reads); true when one is ready
//   send(kind, hex)   write one frame to stdout (blocking; stdout carries
//                     nothing else in --key mode)

const FRAME_HEADER = 5;

export function keyIo(fs, fdIn = 0, fdOut = 1) {
  let pending = Buffer.alloc(0);
  const chunk = Buffer.alloc(1 << 16);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let eof = false;

  const sleep = (ms) => Atomics.wait(sleeper, 0, 0, ms);

  function fill() {
    if (eof) return;
    let n;
    try {
      n = fs.readSync(fdIn, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === "EAGAIN" || e.code === "EWOULDBLOCK") return;
      n = 0; // anything else: the test is gone, as at end of file
    }
    if (n === 0) eof = true;
    else pending = Buffer.concat([pending, chunk.subarray(0, n)]);
  }

  const ready = () =>
    pending.length >= FRAME_HEADER && pending.length >= FRAME_HEADER + pending.readUInt32BE(1);

  function writeAll(buf) {
    let off = 0;
    while (off < buf.length) {
      try {
        off += fs.writeSync(fdOut, buf, off, buf.length - off);
      } catch (e) {
        if (e.code !== "EAGAIN") throw e;
        sleep(1);
      }
    }
  }

  return {
    recv: safe(() => {
      if (!ready()) fill();
      if (!ready()) return eof ? "" : null;
      const n = pending.readUInt32BE(1);
      const frame = String.fromCharCode(pending[0]) +
        pending.subarray(FRAME_HEADER, FRAME_HEADER + n).toString("hex");
      pending = pending.subarray(FRAME_HEADER + n);
      return frame;
    }),
    wait: safe((ms) => {
      const end = Date.now() + ms;
      for (;;) {
        if (!ready()) fill();
        if (ready() || eof) return true;
        const left = end - Date.now();
        if (left <= 0) return false;
        sleep(Math.min(left, 1));
      }
    }),
    send: safe((kind, hex) => {
      const payload = Buffer.from(hex, "hex");
      const head = Buffer.alloc(FRAME_HEADER);
      head[0] = kind.charCodeAt(0);
      head.writeUInt32BE(payload.length, 1);
      writeAll(Buffer.concat([head, payload]));
      return true;
    }),
  };
}
