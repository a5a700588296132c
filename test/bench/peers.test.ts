// The JS peers of the end-to-end bench (bench/peers/): tfjs-wasm and jax-js (both model variants)
// against the float64 reference forward/backward of bench/peers/model.ts, on a batch of 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJaxPeer, type JaxVariant } from '../../bench/peers/jaxjs.ts';
import { makeBatch, makeWeights, maxRelDiff, referenceForwardBackward, type Peer } from '../../bench/peers/model.ts';
import { createTfjsPeer } from '../../bench/peers/tfjs.ts';

const N = 2;
const W = makeWeights(1);
const { x, y } = makeBatch(N, 2);
const ref = referenceForwardBackward(W, x, N, y);
const TOL = 1e-4; // float32 peers vs float64: observed ~1e-6

describe('float64 reference', () => {
  it('input gradient matches central differences of its own loss', () => {
    const dx = ref.dx!;
    // The 4 largest-magnitude coordinates: well away from the ReLU / max-pool kinks.
    const order = Array.from(dx.keys()).sort((a, b) => Math.abs(dx[b]) - Math.abs(dx[a])).slice(0, 4);
    for (const i of order) {
      const xp = x.slice(), xm = x.slice();
      xp[i] += 1e-5; // small: a larger step crosses ReLU / max-pool switches (1e-3 is 3 % off)
      xm[i] -= 1e-5;
      const h = xp[i] - xm[i]; // the float32 step actually taken
      const fd = (referenceForwardBackward(W, xp, N, y).loss! - referenceForwardBackward(W, xm, N, y).loss!) / h;
      expect(Math.abs(fd - dx[i]), `dx[${i}] ${dx[i]} vs central difference ${fd}`).toBeLessThan(1e-3 * Math.abs(dx[i]) + 1e-7);
    }
  });
});

describe('tfjs-wasm peer', () => {
  let peer: Peer;
  beforeAll(async () => void (peer = await createTfjsPeer(W)));
  afterAll(() => peer?.dispose());

  it('runs on one thread', () => expect(peer.threads).toBe(1));
  it('logits and input gradient match the float64 reference', async () => {
    expect(maxRelDiff(await peer.forward(x), ref.logits)).toBeLessThan(TOL);
    expect(maxRelDiff(await peer.inputGrad(x, y), ref.dx!)).toBeLessThan(TOL);
  });
  it('cannot train on wasm: Conv2DBackpropFilter is not registered (tfjs 4.22)', async () => {
    await expect(peer.trainStep(x, y)).rejects.toThrow(/Conv2DBackpropFilter/);
  });
  it('rejects an input that is not a whole number of images', async () => {
    await expect(peer.forward(new Float32Array(100))).rejects.toThrow(/x: length 100/);
  });
});

const firstLosses: Record<string, number[]> = {};
describe.each(['im2col', 'conv'] as JaxVariant[])('jax-js peer (%s)', (variant) => {
  let peer: Peer;
  beforeAll(async () => void (peer = await createJaxPeer(W, { variant })));
  afterAll(() => peer?.dispose());

  it('logits and input gradient match the float64 reference', async () => {
    expect(maxRelDiff(await peer.forward(x), ref.logits)).toBeLessThan(TOL);
    expect(maxRelDiff(await peer.inputGrad(x, y), ref.dx!)).toBeLessThan(TOL);
  });
  it('train step (Adam) returns the loss before its update, then a lower one', async () => {
    const l1 = await peer.trainStep(x, y);
    const l2 = await peer.trainStep(x, y);
    expect(Math.abs(l1 - ref.loss!)).toBeLessThan(1e-5 * ref.loss!);
    expect(l2).toBeLessThan(l1);
    firstLosses[variant] = [l1, l2];
    // The forward reads the frozen weights, not the trained copy.
    expect(maxRelDiff(await peer.forward(x), ref.logits)).toBeLessThan(TOL);
  });
});

describe('jax-js variants', () => {
  it('take the same Adam step (second losses agree)', () => {
    expect(firstLosses.im2col && firstLosses.conv).toBeTruthy();
    expect(Math.abs(firstLosses.im2col[1] - firstLosses.conv[1])).toBeLessThan(1e-4 * firstLosses.conv[1]);
  });
  it('SGD train step lowers the loss', async () => {
    const peer = await createJaxPeer(W, { variant: 'im2col', optimizer: 'sgd' });
    try {
      const l1 = await peer.trainStep(x, y);
      expect(Math.abs(l1 - ref.loss!)).toBeLessThan(1e-5 * ref.loss!);
      expect(await peer.trainStep(x, y)).toBeLessThan(l1);
    } finally {
      peer.dispose();
    }
  });
});
