// ctaphid_watch.mjs: first report in to last report out, per channel (CTAP 2.1 §11.2.4).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CtaphidWatch, cidOf } from '../ctaphid_watch.mjs';

const CID = 0x01020304;

/** The packets of one CTAPHID message, as CTAP 2.1 §11.2.4 frames it. */
function packets(cid, cmd, payload) {
  const out = [];
  const init = new Uint8Array(64);
  init.set([cid >>> 24, (cid >> 16) & 0xff, (cid >> 8) & 0xff, cid & 0xff, 0x80 | cmd, payload.length >> 8, payload.length & 0xff]);
  init.set(payload.subarray(0, 57), 7);
  out.push(init);
  for (let off = 57, seq = 0; off < payload.length; off += 59, seq++) {
    const c = new Uint8Array(64);
    c.set([cid >>> 24, (cid >> 16) & 0xff, (cid >> 8) & 0xff, cid & 0xff, seq]);
    c.set(payload.subarray(off, off + 59), 5);
    out.push(c);
  }
  return out;
}

function clock() {
  const c = { t: 0 };
  c.now = () => c.t;
  return c;
}

test('cidOf reads the channel id big-endian, unsigned', () => {
  assert.equal(cidOf(packets(0xffffffff, 0x06, new Uint8Array(8))[0]), 0xffffffff);
  assert.equal(cidOf(packets(CID, 0x10, new Uint8Array(1))[0]), CID);
});

test('a request over several packets: from the first packet in to the last packet out', () => {
  const c = clock();
  const w = new CtaphidWatch(c.now);
  const req = packets(CID, 0x10, new Uint8Array(200)); // 57 + 59 + 59 + 25: 4 packets
  assert.equal(req.length, 4);
  req.forEach((p, i) => {
    c.t = 10 + i;
    w.taken(p);
  });
  const resp = packets(CID, 0x10, new Uint8Array(300).fill(0)); // status 0, 6 packets
  assert.equal(resp.length, 6);
  let done = null;
  resp.forEach((p, i) => {
    c.t = 50 + i;
    const r = w.sent(p);
    if (i < resp.length - 1) assert.equal(r, null, `not finished after packet ${i}`);
    else done = r;
  });
  assert.ok(done);
  assert.equal(done.cid, CID);
  assert.equal(done.cmd, 0x10);
  assert.equal(done.len, 200);
  assert.equal(done.packetsIn, 4);
  assert.equal(done.tFirstIn, 10);
  assert.equal(done.tLastIn, 13);
  assert.equal(done.tFirstOut, 50);
  assert.equal(done.tLastOut, 55);
  assert.equal(done.respLen, 300);
  assert.equal(done.status, 0);
  assert.deepEqual(w.done, [done]);
  assert.equal(w.open.size, 0);
});

test('answers of 57 and 58 bytes: one packet, and exactly one continuation', () => {
  for (const [len, n] of [[57, 1], [58, 2], [57 + 59, 2], [57 + 59 + 1, 3]]) {
    const w = new CtaphidWatch(() => 0);
    w.taken(packets(CID, 0x01, new Uint8Array(4))[0]);
    const resp = packets(CID, 0x01, new Uint8Array(len));
    assert.equal(resp.length, n);
    const results = resp.map((p) => w.sent(p));
    assert.ok(results.at(-1), `${len} bytes: finished on the last packet`);
    assert.ok(results.slice(0, -1).every((r) => r === null), `${len} bytes: not before`);
  }
});

test('keepalives are counted, not taken for the answer; UPNEEDED time is the first one with that status', () => {
  const c = clock();
  const w = new CtaphidWatch(c.now);
  w.taken(packets(CID, 0x10, Uint8Array.of(0x01))[0]);
  const ka = (status) => packets(CID, 0x3b, Uint8Array.of(status))[0];
  c.t = 100;
  assert.equal(w.sent(ka(1)), null); // PROCESSING
  c.t = 200;
  assert.equal(w.sent(ka(2)), null); // UPNEEDED
  c.t = 300;
  assert.equal(w.sent(ka(2)), null);
  c.t = 400;
  const done = w.sent(packets(CID, 0x10, Uint8Array.of(0x00, 0xa0))[0]);
  assert.equal(done.keepalives, 3);
  assert.equal(done.tUpNeeded, 200);
  assert.equal(done.tFirstOut, 400);
});

test('U2F over CTAPHID_MSG: the status word of a bare answer (6985: touch needed)', () => {
  const w = new CtaphidWatch(() => 0);
  w.taken(packets(CID, 0x03, new Uint8Array(73))[0]);
  const done = w.sent(packets(CID, 0x03, Uint8Array.of(0x69, 0x85))[0]);
  assert.equal(done.respCmd, 0x03);
  assert.equal(done.respLen, 2);
  assert.equal(done.status, 0x69);
  assert.equal(done.sw2, 0x85);
  w.taken(packets(CID, 0x03, new Uint8Array(73))[0]);
  const empty = w.sent(packets(CID, 0x3f, new Uint8Array(0))[0]);
  assert.equal(empty.status, null);
  assert.equal(empty.sw2, null);
});

test('channels are timed apart; packets of unknown channels and stray continuations are ignored', () => {
  const c = clock();
  const w = new CtaphidWatch(c.now);
  const A = 0x0a0a0a0a;
  const B = 0x0b0b0b0b;
  w.taken(packets(A, 0x10, Uint8Array.of(4))[0]);
  c.t = 5;
  w.taken(packets(B, 0x01, new Uint8Array(3))[0]);
  assert.equal(w.sent(packets(0x0c0c0c0c, 0x01, new Uint8Array(3))[0]), null, 'no request on that channel');
  const stray = packets(A, 0x10, new Uint8Array(100))[1]; // a continuation before any init answer
  assert.equal(w.sent(stray), null);
  c.t = 9;
  const b = w.sent(packets(B, 0x01, new Uint8Array(3))[0]);
  assert.equal(b.cid, B);
  assert.equal(b.tFirstIn, 5);
  c.t = 12;
  const a = w.sent(packets(A, 0x10, Uint8Array.of(0))[0]);
  assert.equal(a.cid, A);
  assert.equal(a.tFirstIn, 0);
  assert.deepEqual(w.done.map((r) => r.cid), [B, A]);
  // a continuation the host sends after the answer has started does not move tLastIn
  w.taken(packets(A, 0x10, new Uint8Array(100))[0]);
  w.sent(packets(A, 0x10, new Uint8Array(100))[0]);
  c.t = 20;
  w.taken(packets(A, 0x10, new Uint8Array(100))[1]);
  assert.equal(w.open.get(A).tLastIn, 12);
  w.reset();
  assert.equal(w.open.size, 0);
});

test('the list of finished requests is bounded', () => {
  const w = new CtaphidWatch(() => 0);
  w.maxDone = 3;
  for (let i = 0; i < 5; i++) {
    w.taken(packets(i + 1, 0x01, new Uint8Array(1))[0]);
    w.sent(packets(i + 1, 0x01, new Uint8Array(1))[0]);
  }
  assert.deepEqual(w.done.map((r) => r.cid), [3, 4, 5]);
});
