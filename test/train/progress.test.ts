// Progress output (src/train/progress.ts): a bar redrawn in place on a TTY, plain lines every N
// steps otherwise, and the duration format of the ETA.
import { describe, expect, it } from 'vitest';
import { formatDuration, Progress } from '../../src/train/progress.ts';
import type { StepProgress } from '../../src/train/train.ts';

const at = (step: number): StepProgress => ({ epoch: 1, epochs: 2, batch: step, batches: 10, step, totalSteps: 20, loss: 0.5, cleanAcc: 0.9, advAcc: 0.4, imagesPerSec: 123, lr: 1e-3 });

describe('training progress', () => {
  it('formats durations', () => {
    expect(formatDuration(9)).toBe('0:09');
    expect(formatDuration(247)).toBe('4:07');
    expect(formatDuration(3909)).toBe('1:05:09');
    expect(formatDuration(NaN)).toBe('?');
  });

  it('on a TTY: one line redrawn with \\r (bar, epoch, step, loss, accuracies, images/s, ETA), ended by done()', () => {
    const out: string[] = [];
    const p = new Progress({ isTTY: true, columns: 200, write: (s) => out.push(s) }, 50);
    for (let s = 1; s <= 5; s++) p.step(at(s));
    expect(out).toHaveLength(5);
    expect(out.every((s) => s.startsWith('\r') && !s.includes('\n'))).toBe(true);
    expect(out[4]).toMatch(/^\r\[#{12}\.{12}\] epoch 1\/2 {2}step 5\/10 {2}loss 0\.500 {2}clean 90\.0% {2}adv 40\.0% {2}123 img\/s {2}ETA \d+:\d\d/);
    p.done();
    expect(out.at(-1)).toBe('\n');
  });

  it('not on a TTY: a plain line every N steps and at the end of each epoch', () => {
    const out: string[] = [];
    const p = new Progress({ isTTY: false, write: (s) => out.push(s) }, 4);
    for (let s = 1; s <= 10; s++) p.step(at(s));
    p.done();
    expect(out.map((l) => /step (\d+)\//.exec(l)![1])).toEqual(['4', '8', '10']);
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  });
});
