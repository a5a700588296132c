// Our engine as a peer of the end-to-end bench (bench/peers/ours.ts): logits and input gradient
// against the float64 reference of bench/peers/model.ts on a batch of 2, the input gradient without
// the filter-gradient kernel, and an Adam train step that starts from the shared weights.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBatch, makeWeights, maxRelDiff, referenceForwardBackward } from '../../bench/peers/model.ts';
import { ourPeer, type OursPeer } from '../../bench/peers/ours.ts';

const N = 2;
const W = makeWeights(1);
const { x, y } = makeBatch(N, 2);
const ref = referenceForwardBackward(W, x, N, y);
const TOL = 1e-4; // float32 vs float64

const calls = (peer: OursPeer, kernel: string) => peer.engine.calls.get(kernel) ?? 0;

describe.each([1, 2])('our peer, %i thread(s)', (threads) => {
  let peer: OursPeer;
  beforeAll(async () => void (peer = await ourPeer(W, { threads })));
  afterAll(() => peer?.dispose());

  it('runs on the requested threads', () => expect(peer.threads).toBe(threads));

  it('logits match the float64 reference', async () => {
    expect(maxRelDiff(await peer.forward(x), ref.logits)).toBeLessThan(TOL);
  });

  it('input gradient matches the float64 reference without calling the filter-gradient kernel', async () => {
    const filterBefore = calls(peer, 'f32_conv2d_bwd_filter'), inputBefore = calls(peer, 'f32_conv2d_bwd_input');
    const dx = await peer.inputGrad(x, y);
    expect(dx.length).toBe(x.length);
    expect(maxRelDiff(dx, ref.dx!)).toBeLessThan(TOL);
    expect(calls(peer, 'f32_conv2d_bwd_filter')).toBe(filterBefore);
    expect(calls(peer, 'f32_conv2d_bwd_input')).toBe(inputBefore + 2); // conv2 and conv1
  });

  it('train step (Adam) returns the reference loss, then a lower one; the filter gradients run; forward stays frozen', async () => {
    const filterBefore = calls(peer, 'f32_conv2d_bwd_filter');
    const l1 = await peer.trainStep(x, y);
    expect(Math.abs(l1 - ref.loss!)).toBeLessThan(1e-5 * ref.loss!);
    expect(calls(peer, 'f32_conv2d_bwd_filter')).toBe(filterBefore + 2);
    expect(await peer.trainStep(x, y)).toBeLessThan(l1);
    expect(maxRelDiff(await peer.forward(x), ref.logits)).toBeLessThan(TOL);
  });

  it('frees everything but the parameters, gradients and Adam moments between calls', async () => {
    const before = peer.engine.arena.stats().inUseBytes;
    await peer.forward(x);
    await peer.inputGrad(x, y);
    await peer.trainStep(x, y);
    expect(peer.engine.arena.stats().inUseBytes).toBe(before);
  });

  it('rejects an input that is not a whole number of images', async () => {
    await expect(peer.forward(new Float32Array(100))).rejects.toThrow(/x: length 100/);
  });
});
