#!/usr/bin/env node
// Run a Python script on real MicroPython (the WebAssembly build) under Node.
//
//   node tools/mpy_wasm.mjs [options] SCRIPT.py|-
//     --mount HOST_DIR=FS_DIR   copy the .py/.mpy files under HOST_DIR into
//                               the MicroPython filesystem at FS_DIR (repeatable)
//     --file HOST_FILE=FS_PATH  copy one file (repeatable)
//     --exclude HOST_PATH       skip this file or directory when mounting (repeatable)
//     --path FS_DIR             put FS_DIR first on sys.path (repeatable; the
//                               test-only bridges go there, ahead of /lib, as a
//                               board's built-in modules would be)
//     --heapsize BYTES          MicroPython heap (default 1 MiB)
//     --selftest                check the test crypto against Node's crypto and exit
//     --key                     stdin/stdout carry the framed pipe of a virtual key
//                               (JS module `keyio`, see tools/mpy_wasm_services.mjs);
//                               what the script prints goes to stderr; the
//                               script must be a file, as stdin is the pipe
//
// The filesystem is laid out as on a board: /firmware/... (cwd is /, which is
// sys.path[0]) and /lib on sys.path. A JS module `testcrypto` (see
// tools/mpy_wasm_services.mjs) gives scripts randomness and test-only crypto.
// Output streams to stdout as it is printed. Exit status: 0 when the script
// finishes, 1 when it raises (the traceback goes to stderr), the code of
// SystemExit, 2 for usage or setup errors.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { keyIo, services, selfTest } from "./mpy_wasm_services.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PKG = "@micropython/micropython-webassembly-pyscript";

function die(msg) {
  process.stderr.write("mpy_wasm: " + msg + "\n");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { mounts: [], files: [], excludes: [], paths: [], heapsize: 1024 * 1024, script: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die("missing value for " + a);
      return argv[++i];
    };
    const pair = (v) => {
      const eq = v.lastIndexOf("=");
      if (eq <= 0) die(a + " wants HOST=FS, got " + v);
      return [path.resolve(v.slice(0, eq)), v.slice(eq + 1)];
    };
    if (a === "--mount") opts.mounts.push(pair(val()));
    else if (a === "--file") opts.files.push(pair(val()));
    else if (a === "--exclude") opts.excludes.push(path.resolve(val()));
    else if (a === "--path") opts.paths.push(val());
    else if (a === "--heapsize") opts.heapsize = parseInt(val(), 10);
    else if (a === "--selftest") opts.selftest = true;
    else if (a === "--key") opts.key = true;
    else if (a.startsWith("--")) die("unknown option " + a);
    else if (opts.script === null) opts.script = a;
    else die("more than one script given");
  }
  return opts;
}

async function loadPackage() {
  // Resolved from tools/node (npm ci --prefix tools/node, i.e. `make node-deps`).
  const entry = path.join(HERE, "node", "node_modules", PKG, "micropython.mjs");
  if (!fs.existsSync(entry)) {
    die("missing " + entry + "\n  install it with `make node-deps` (npm ci --prefix tools/node)");
  }
  return import(pathToFileURL(entry).href);
}

function mkdirs(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    try {
      FS.mkdir(cur);
    } catch (e) {
      // exists already
    }
  }
}

function copyTree(FS, host, dest, excludes, copied) {
  if (excludes.some((x) => host === x || host.startsWith(x + path.sep))) return;
  const st = fs.statSync(host);
  if (st.isDirectory()) {
    if (path.basename(host) === "__pycache__") return;
    mkdirs(FS, dest);
    for (const name of fs.readdirSync(host).sort()) {
      copyTree(FS, path.join(host, name), dest + "/" + name, excludes, copied);
    }
  } else if (/\.(py|mpy)$/.test(host)) {
    FS.writeFile(dest, fs.readFileSync(host));
    copied.push(dest);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.selftest) {
    const failures = selfTest();
    for (const f of failures) process.stderr.write("selftest: " + f + "\n");
    process.stdout.write(failures.length ? "selftest FAILED\n" : "selftest ok\n");
    process.exit(failures.length ? 1 : 0);
  }
  if (opts.script === null) die("usage: node tools/mpy_wasm.mjs [--mount HOST=FS]... SCRIPT.py|-");
  if (opts.key && opts.script === "-") die("--key needs the script in a file: stdin is the key's pipe");
  const code = fs.readFileSync(opts.script === "-" ? 0 : opts.script, "utf8");
  const { loadMicroPython } = await loadPackage();

  // Byte-exact streaming: collect output bytes, write at each newline and at exit.
  const stream = (out) => {
    let buf = [];
    const flush = () => {
      if (buf.length) out.write(Buffer.from(buf));
      buf = [];
    };
    const put = (chunk) => {
      for (const c of chunk) {
        buf.push(c);
        if (c === 10) flush();
      }
    };
    return { put, flush };
  };
  // --key: fd 1 carries only keyio frames, so the script's output goes to stderr.
  const stdout = stream(opts.key ? process.stderr : process.stdout);
  const stderr = stream(process.stderr);

  const mp = await loadMicroPython({
    heapsize: opts.heapsize,
    linebuffer: false,
    stdout: stdout.put,
    stderr: stderr.put,
  });
  const copied = [];
  for (const [host, dest] of opts.mounts) {
    if (!fs.existsSync(host)) die("no such directory: " + host);
    copyTree(mp.FS, host, dest, opts.excludes, copied);
  }
  for (const [host, dest] of opts.files) {
    mkdirs(mp.FS, path.posix.dirname(dest));
    mp.FS.writeFile(dest, fs.readFileSync(host));
    copied.push(dest);
  }
  mp.registerJsModule("testcrypto", services);
  if (opts.key) mp.registerJsModule("keyio", keyIo(fs));

  let status = 0;
  try {
    if (opts.paths.length) {
      mp.runPython("import sys\n" + opts.paths.slice().reverse()
        .map((p) => "sys.path.insert(0, " + JSON.stringify(p) + ")\n").join(""));
    }
    mp.runPython(code);
  } catch (e) {
    if (e.name !== "PythonError") throw e;
    stdout.flush();
    if (e.type === "SystemExit") {
      const m = /SystemExit: (-?\d+)\s*$/.exec(e.message);
      status = m ? Number(m[1]) : 0;
    } else {
      process.stderr.write(e.message.endsWith("\n") ? e.message : e.message + "\n");
      status = 1;
    }
  }
  stdout.flush();
  stderr.flush();
  process.exitCode = status;
}

main().catch((e) => {
  process.stderr.write("mpy_wasm: " + (e && e.stack ? e.stack : String(e)) + "\n");
  process.exit(2);
});
