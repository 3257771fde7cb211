// profile.mjs - where the emulated chip's time goes: cycles per instruction, calls, Python functions.
//
// While a Profile is installed on a Pico (fil.mjs "profile" command) every
// executed instruction is counted at its address (a flat profile), and a
// shadow call stack follows BL/BLX calls, their returns (any POP {PC}, BX
// or MOV PC that brings the stack pointer back to where it was at the call:
// MicroPython's nlr jumps too) and exceptions, so that each function gets
// its inclusive time: simulated nanoseconds from call to return, sleep
// included. Calls of MicroPython's fun_bc_call (its address is given) are
// also keyed by the bytecode of the Python function called (the frozen
// `fun_data_<module>_<name>` array the fun_bc object points at), and every
// instruction's cycles are also counted per (innermost Python function, C
// function): "memmove under CtapHid._send_message" (interrupt handlers
// apart, under bytecode address 1).
// tools/profile_firmware.py turns the addresses into names from the ELF.
// Nothing here changes what the chip does.

const INTERRUPTS = 0x7fffffff; // pyId of interrupt handlers' cycles (reported as bytecode address 1)
const FUN_BC_BYTECODE = 12; // py/objfun.h mp_obj_fun_bc_t: base, context, child_table, bytecode

export class Profile {
  /**
   * @param {object} mcu the RP2040 (rp2040js)
   * @param {object} o funBcCall: the address of fun_bc_call in the image (0: no Python keys)
   */
  constructor(mcu, o = {}) {
    this.mcu = mcu;
    this.core = mcu.core;
    this.funBcCall = o.funBcCall || 0;
    // Calls of these addresses (e.g. mp_obj_exception_make_new) are reported
    // with the call stack they came from (the first `watchMax` of them).
    this.watch = new Set(o.watch || []);
    this.watchMax = o.watchMax || 20;
    this.watched = [];
    this.flat = new Map(); // pc -> cycles
    this.inclusive = new Map(); // key -> [ns, calls]
    this.byPy = new Map(); // pyId * 2^32 + C function -> cycles
    this.pyIds = new Map(); // bytecode address -> small number (keys stay exact doubles)
    this.pyId = 0;
    this.active = new Map(); // key -> frames on the stack
    this.stack = [];
    this.pyKey = 0; // bytecode address of the innermost Python function (0: none)
    this.fn = 0; // entry address of the innermost C function called while profiling
    this.sleptNs = 0;
    this.other = 0;
    this.startNs = mcu.clock.nanos;
    this.excPending = false;
  }

  /** Called by the emulator's loop after each instruction; pc: where it was fetched. */
  step(pc, cycles) {
    const core = this.core;
    this.flat.set(pc, (this.flat.get(pc) || 0) + cycles);
    const k = this.pyId * 4294967296 + this.fn;
    this.byPy.set(k, (this.byPy.get(k) || 0) + cycles);
    if (this.excPending) {
      this.excPending = false; // an exception entry or return: the frames are already right
      return;
    }
    const next = core.PC;
    if (next === pc + 2 || next === pc + 4) return;
    const op1 = this.mcu.readUint16(pc);
    if ((op1 & 0xf800) === 0xf000 && (this.mcu.readUint16(pc + 2) & 0xd000) === 0xd000) {
      this._push(pc + 4, next); // BL
    } else if ((op1 & 0xff87) === 0x4780) {
      this._push(pc + 2, next); // BLX Rm
    } else if ((op1 & 0xff00) === 0xbd00 || (op1 & 0xff87) === 0x4700 || (op1 & 0xff87) === 0x4687) {
      // POP {..., PC}, BX Rm, MOV PC, Rm: a return -- or a non-local one
      // (nlr_jump), or a tail call through a veneer. Every frame whose
      // caller's stack pointer is back ends (the stack grows down).
      const sp = core.SP >>> 0;
      const stack = this.stack;
      while (stack.length) {
        const top = stack[stack.length - 1];
        if (top.exc || top.sp > sp) break;
        this._popFrame();
      }
    }
  }

  _push(ret, fn) {
    let py = this.pyKey;
    if (fn === this.funBcCall && this.funBcCall) {
      const obj = this.core.registers[0];
      py = this.mcu.readUint32(obj + FUN_BC_BYTECODE);
    }
    const frame = { ret, sp: this.core.SP >>> 0, fn, py, outerPy: this.pyKey, outerPyId: this.pyId, outerFn: this.fn,
      t: this.mcu.clock.nanos };
    this.stack.push(frame);
    this._enter(fn);
    if (py !== this.pyKey) this._enter(-py); // Python keys are negative
    if (this.watch.has(fn) && this.watched.length < this.watchMax) {
      this.watched.push({ t_ns: this.mcu.clock.nanos, fn, stack: this.stack.map((f) => [f.fn, f.py]) });
    }
    frame.ownPy = py !== this.pyKey;
    if (frame.ownPy) {
      let id = this.pyIds.get(py);
      if (id === undefined) {
        id = this.pyIds.size + 1;
        this.pyIds.set(py, id);
      }
      this.pyId = id;
    }
    this.pyKey = py;
    this.fn = fn;
  }

  _enter(key) {
    this.active.set(key, (this.active.get(key) || 0) + 1);
  }

  _leave(key, dt) {
    const n = this.active.get(key) - 1;
    this.active.set(key, n);
    const acc = this.inclusive.get(key) || [0, 0];
    acc[1]++;
    if (n === 0) acc[0] += dt; // recursion: only the outermost call counts
    this.inclusive.set(key, acc);
  }

  _popFrame() {
    const f = this.stack.pop();
    const dt = this.mcu.clock.nanos - f.t;
    this._leave(f.fn, dt);
    if (f.ownPy) this._leave(-f.py, dt);
    this.pyKey = f.outerPy;
    this.pyId = f.outerPyId;
    this.fn = f.outerFn;
    return f;
  }

  /** The core took an exception: a frame that ends with its exception return. */
  exceptionEntered(handler, exceptionNumber) {
    this.excPending = true;
    const frame = { ret: null, exc: true, fn: handler, py: this.pyKey, outerPy: this.pyKey, outerPyId: this.pyId, outerFn: this.fn,
      t: this.mcu.clock.nanos };
    this.stack.push(frame);
    this._enter(handler);
    frame.ownPy = false;
    this.fn = handler;
    this.pyId = INTERRUPTS; // not the Python function it interrupted
    void exceptionNumber;
  }

  exceptionReturned() {
    this.excPending = true;
    while (this.stack.length) {
      const f = this._popFrame();
      if (f.exc) return;
    }
  }

  /** Close the frames still open (for the report), as if they returned now. */
  finish() {
    while (this.stack.length) this._popFrame();
  }

  report(clkSys) {
    this.finish();
    const bytecodeOf = new Map([[0, 0], [INTERRUPTS, 1]]);
    for (const [py, id] of this.pyIds) bytecodeOf.set(id, py);
    const byPy = [];
    for (const [k, c] of this.byPy) byPy.push([bytecodeOf.get(Math.floor(k / 4294967296)), k % 4294967296, c]);
    return {
      ns: this.mcu.clock.nanos - this.startNs, slept_ns: this.sleptNs, clk_sys: clkSys, other_cycles: this.other,
      pcs: [...this.flat.entries()],
      inclusive: [...this.inclusive.entries()].map(([k, [ns, calls]]) => [k, ns, calls]),
      by_py: byPy, watched: this.watched,
    };
  }
}

/** Let a Pico's core report exception entries and returns to the profile installed on it. */
export function hookExceptions(core, getProfile) {
  const entry = core.exceptionEntry.bind(core);
  core.exceptionEntry = (n) => {
    entry(n);
    const p = getProfile();
    if (p) p.exceptionEntered(core.PC, n);
  };
  const ret = core.exceptionReturn.bind(core);
  core.exceptionReturn = (r) => {
    const p = getProfile();
    if (p) p.exceptionReturned();
    ret(r);
  };
}
