// ctaphid_watch.mjs - time CTAPHID messages as they cross the emulated USB bus.
//
// The host side sees every output report the key takes and every input report
// it sends. A request starts with the initialization packet the key takes
// (first report in) and ends with the last packet of the key's answer on that
// channel (last report out); KEEPALIVE packets in between are counted, not
// taken for the answer. Times are simulated milliseconds since power-up.
// CTAP 2.1 §11.2.4: an initialization packet is CID(4) CMD(1, bit 7 set)
// BCNT(2) DATA(57); a continuation packet is CID(4) SEQ(1, bit 7 clear) DATA(59).

const KEEPALIVE = 0x3b; // CTAPHID_KEEPALIVE (0xBB) without the initialization bit
const STATUS_UPNEEDED = 2;
const INIT_DATA = 57;
const CONT_DATA = 59;

export class CtaphidWatch {
  constructor(now) {
    this.now = now;
    this.open = new Map(); // cid -> request being timed
    this.done = [];
    this.maxDone = 10000;
  }

  reset() {
    this.open.clear();
  }

  taken(report) {
    const cid = cidOf(report);
    if (!(report[4] & 0x80)) {
      const r = this.open.get(cid);
      if (r && r.outLeft === null) {
        r.tLastIn = this.now();
        r.packetsIn++;
      }
      return;
    }
    const len = (report[5] << 8) | report[6];
    this.open.set(cid, {
      cid, cmd: report[4] & 0x7f, len, tFirstIn: this.now(), tLastIn: this.now(), packetsIn: 1,
      keepalives: 0, tUpNeeded: null, outLeft: null, tFirstOut: null, tLastOut: null, status: null,
    });
  }

  sent(report) {
    const cid = cidOf(report);
    const r = this.open.get(cid);
    if (!r) return null;
    if (report[4] & 0x80) {
      const cmd = report[4] & 0x7f;
      if (cmd === KEEPALIVE) {
        r.keepalives++;
        if (report[7] === STATUS_UPNEEDED && r.tUpNeeded === null) r.tUpNeeded = this.now();
        return null;
      }
      const len = (report[5] << 8) | report[6];
      r.respCmd = cmd;
      r.respLen = len;
      r.status = len > 0 ? report[7] : null;
      r.sw2 = len > 1 ? report[8] : null; // a U2F answer ends in SW1 SW2: with len 2, they are all of it
      r.tFirstOut = this.now();
      r.outLeft = Math.max(0, len - INIT_DATA);
    } else if (r.outLeft !== null) {
      r.outLeft = Math.max(0, r.outLeft - CONT_DATA);
    } else {
      return null;
    }
    if (r.outLeft === 0) {
      r.tLastOut = this.now();
      this.open.delete(cid);
      this.done.push(r);
      if (this.done.length > this.maxDone) this.done.shift();
      return r;
    }
    return null;
  }
}

export function cidOf(report) {
  return ((report[0] << 24) | (report[1] << 16) | (report[2] << 8) | report[3]) >>> 0;
}
