// One worker of the kernel pool (pool.ts): its own instance of the kernel module on the engine's
// shared memory. Plain JavaScript on purpose: Node 20 cannot start a worker from a .ts file.
// It waits on the control block in shared memory (layout: pool.ts; spinning briefly, then asleep), runs its chunk of each call,
// reports errors in its slot and counts the call done. It never returns to its event loop.
import { instantiate } from '@assemblyscript/loader';

// Node and Deno start it with worker_threads (its init in workerData); a browser as a module Web
// Worker (its init in the first message; pool.ts). Both get 'ready' once the module is instantiated.
// The listener goes first, before any await: a browser may deliver the init while the import runs.
const webWorker = typeof WorkerGlobalScope === 'function' && typeof self === 'object';
const firstMessage = webWorker ? new Promise((resolve) => self.addEventListener('message', (e) => resolve(e.data), { once: true })) : null;
const threads = await import('node:worker_threads').catch(() => null);
const nodeLike = threads !== null && threads.workerData != null;
const init = nodeLike ? threads.workerData : await firstMessage;
const post = nodeLike ? (m) => threads.parentPort.postMessage(m) : (m) => self.postMessage(m);
const { module, memory, control, slot, names, isa, gen: startGen, layout: L, spinMs } = init;
const ctl = new Int32Array(memory.buffer, control, L.totalInts);
const base = L.header + slot * L.slotInts;

function report(status, message) {
  const bytes = new TextEncoder().encode(message.slice(0, L.messageBytes / 4));
  const n = Math.min(bytes.length, L.messageBytes);
  new Uint8Array(memory.buffer, control + (base + L.message) * 4, n).set(bytes.subarray(0, n));
  ctl[base + L.messageLength] = n;
  Atomics.store(ctl, base + L.status, status);
}

function done() {
  if (Atomics.sub(ctl, L.pending, 1) === 1) Atomics.notify(ctl, L.pending);
}

let inCall = false;
let closing = false;
// A worker that dies (process.exit, uncaught error) says so, so the caller never waits for it.
// (A browser worker has no exit event: a death there shows as a hang, which the caller detects.)
if (nodeLike) {
  globalThis.process.on('exit', (code) => {
    if (!closing && Atomics.load(ctl, base + L.status) !== L.dead) {
      report(L.dead, `worker ${slot} exited with code ${code}`);
      if (inCall) done();
      else Atomics.notify(ctl, L.pending);
    }
  });
}

const { exports } = await instantiate(module, { env: { memory } });
const kernels = names.map((name) => exports[`${name}__${isa}`]);
post('ready');

/**
 * The next call's generation: spins on the control block for up to spinMs first, then sleeps in
 * Atomics.wait. Kernel calls come in bursts (a training step makes ~40 split calls a few µs apart),
 * and waking a sleeping worker costs far more than that (pool.ts, SPIN_MS).
 */
function nextGen(seen) {
  const t0 = performance.now();
  for (let i = 1; spinMs > 0; i++) {
    const gen = Atomics.load(ctl, L.gen);
    if (gen !== seen) return gen;
    // The clock is read every 1024 turns only (each read allocates a heap number).
    if ((i & 1023) === 0 && performance.now() - t0 > spinMs) break;
  }
  for (;;) {
    Atomics.wait(ctl, L.gen, seen);
    const gen = Atomics.load(ctl, L.gen);
    if (gen !== seen) return gen;
  }
}

let seen = startGen;
for (;;) {
  seen = nextGen(seen);
  const command = ctl[L.command];
  if (command === L.exit) {
    closing = true;
    break;
  }
  inCall = true;
  // Test-only: a simulated death, and a simulated hang (blocks for a minute).
  if (command === L.crash && ctl[L.crashSlot] === slot) globalThis.process.exit(70);
  if (command === L.hang && ctl[L.crashSlot] === slot) Atomics.wait(ctl, L.crashSlot, slot, 60_000);
  if (command === L.run && Atomics.load(ctl, L.delaySlot) === slot) {
    Atomics.store(ctl, L.delaySlot, 0);
    Atomics.wait(ctl, L.delaySlot, 0, ctl[L.delayMs]);
  }
  const begin = ctl[base + L.begin], end = ctl[base + L.end];
  const grains = ctl[L.grains];
  if (command === L.run && (grains > 0 || begin < end)) {
    const fn = kernels[ctl[L.kernel]];
    const params = ctl[L.params], scratch = ctl[base + L.scratch];
    try {
      if (ctl[L.reduce]) fn(params, begin, end, scratch, ctl[base + L.partial]);
      else if (grains > 0) {
        // Grains in turn from the shared counter (pool.ts), chunked exactly as pool.ts `chunk` does.
        const total = ctl[L.total];
        for (let g = Atomics.add(ctl, L.nextGrain, 1); g < grains; g = Atomics.add(ctl, L.nextGrain, 1)) {
          fn(params, Math.floor((total * g) / grains), Math.floor((total * (g + 1)) / grains), scratch);
        }
      } else fn(params, begin, end, scratch);
    } catch (err) {
      report(L.error, err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
  }
  inCall = false;
  done();
}
