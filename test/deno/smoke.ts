// Run by test/deno.test.ts under Deno: load the engine from the TS sources, run one convolution with
// the SIMD and the scalar kernels, print a JSON summary on stdout.
import { conv2dForward, conv2dGeometry } from '../../src/kernels/conv2d.ts';
import { loadEngine } from '../../src/wasm/load.ts';

const g = conv2dGeometry({ batch: 2, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' });
const outputs: Float32Array[] = [];
let build = '';
for (const kernels of ['simd', 'scalar'] as const) {
  const engine = await loadEngine({ kernels });
  build = engine.build;
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const x = engine.fromF32(Float32Array.from({ length: g.xSize }, rand));
  const w = engine.fromF32(Float32Array.from({ length: g.wSize }, rand));
  const y = engine.arena.allocF32(g.ySize);
  conv2dForward(engine, { x, w, y, geom: g, relu: true });
  outputs.push(engine.toF32(y));
}
let maxDiff = 0, nonzero = 0;
for (let i = 0; i < g.ySize; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(outputs[0][i] - outputs[1][i]));
  if (outputs[0][i] !== 0) nonzero++;
}
console.log(JSON.stringify({ runtime: 'deno', version: (globalThis as { Deno?: { version: { deno: string } } }).Deno?.version.deno, build, maxDiff, nonzero, size: g.ySize }));
