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
const filterGradCalls = (peer: OursPeer) => calls(peer, 'f32_conv2d_bwd_filter') + calls(peer, 'f32_winograd_bwd_filter');

describe.each([1, 2])('our peer, %i thread(s)', (threads) => {
  let peer: OursPeer;
  beforeAll(async () => void (peer = await ourPeer(W, { threads })));
  afterAll(() => peer?.dispose());

  it('runs on the requested threads', () => expect(peer.threads).toBe(threads));

  it('logits match the float64 reference', async () => {
    expect(maxRelDiff(await peer.forward(x), ref.logits)).toBeLessThan(TOL);
  });

  it('input gradient matches the float64 reference without calling the filter-gradient kernel', async () => {
    // conv1 (one input channel) runs on the implicit GEMM, conv2 on Winograd, whose input
    // gradient is a Winograd forward pass with the flipped filter.
    const filterBefore = filterGradCalls(peer), inputBefore = calls(peer, 'f32_conv2d_bwd_input'), winoBefore = calls(peer, 'f32_winograd_fwd');
    const dx = await peer.inputGrad(x, y);
    expect(dx.length).toBe(x.length);
    expect(maxRelDiff(dx, ref.dx!)).toBeLessThan(TOL);
    expect(filterGradCalls(peer)).toBe(filterBefore);
    expect(calls(peer, 'f32_conv2d_bwd_input')).toBe(inputBefore + 1); // conv1
    expect(calls(peer, 'f32_winograd_fwd')).toBe(winoBefore + 2); // conv2 forward and input gradient
  });

  it('train step (Adam) returns the reference loss, then a lower one; the filter gradients run; forward stays frozen', async () => {
    const gemmBefore = calls(peer, 'f32_conv2d_bwd_filter'), winoBefore = calls(peer, 'f32_winograd_bwd_filter');
    const l1 = await peer.trainStep(x, y);
    expect(Math.abs(l1 - ref.loss!)).toBeLessThan(1e-5 * ref.loss!);
    expect(calls(peer, 'f32_conv2d_bwd_filter')).toBe(gemmBefore + 1); // conv1
    expect(calls(peer, 'f32_winograd_bwd_filter')).toBe(winoBefore + 1); // conv2
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
