// The decision-based attacks (pointwise.ts, boundary.ts) as evaluator attacks: they look for the
// smallest adversarial perturbation they can, and an example counts as broken only when that
// perturbation lies within ε (the reference's rule for Pointwise/Boundary, paper.md §1.6). The
// wrapper's enforce() projects their result onto the ε-ball ∩ box; a point that was adversarial
// only outside the ball is then re-scored, so it is not counted.
// They use no gradient, so they see through gradient masking (paper.md §2.2).
import { Tensor } from '../tensor.ts';
import { checkCount, parseEps, type Attack } from './attack.ts';
import { boundaryAttack, type BoundaryOptions } from './boundary.ts';
import { logitsAt, type AttackBatch, type WorstCase } from './core.ts';
import type { DecisionAttackResult, ImageShape } from './decision.ts';
import { enforceNorm, l2Threat, slideThreat } from './pgd.ts';
import { pointwiseAttack, type PointwiseOptions } from './pointwise.ts';

type Runner = (b: AttackBatch, shape: ImageShape, seed: number) => DecisionAttackResult;

abstract class DecisionAttack implements Attack {
  readonly eps: number;
  readonly restarts = 1;
  readonly auxWidth = 0;
  readonly seed: number;
  abstract readonly threat: 'L1' | 'L2';

  constructor(readonly name: string, opts: { eps: number | string; seed?: number }) {
    this.eps = parseEps(opts.eps);
    this.seed = checkCount(`${name}: seed`, opts.seed, 0, 0);
  }

  protected abstract runner: Runner;
  abstract cost(): { gradEvals: number; forwards: number };

  runOnce(b: AttackBatch, track: WorstCase, _restart: number, rows: Int32Array): { gradEvals: number; forwards: number } {
    const shape = b.x0.shape as unknown as ImageShape;
    const res = this.runner(b, shape, this.seed);
    b.engine.arena.scope(() => {
      const adv = Tensor.from(b.engine, res.adv, b.x0.shape);
      track.offer(adv, logitsAt(b.model, adv), b.y, rows);
    });
    return { gradEvals: 0, forwards: res.queries + b.y.length };
  }

  enforce(b: AttackBatch, track: WorstCase): void {
    enforceNorm(b, track, this.threat === 'L1' ? slideThreat(99, 'exact') : l2Threat, this.eps);
  }
}

/** foolbox's Pointwise attack (L0, hence L1), counted within the L1 budget ε. */
export class Pointwise extends DecisionAttack {
  readonly threat = 'L1';
  readonly maxQueries: number | undefined;
  readonly batch: number | undefined;

  constructor(opts: { eps: number | string; seed?: number; maxQueries?: number; batch?: number }, name = `pointwise:${opts.eps}`) {
    super(name, opts);
    this.maxQueries = opts.maxQueries;
    this.batch = opts.batch;
  }

  protected runner: Runner = (b, shape, seed) => {
    const o: PointwiseOptions = { seed, ids: b.ids, ...(this.maxQueries ? { maxQueries: this.maxQueries } : {}), ...(this.batch ? { batch: this.batch } : {}) };
    return pointwiseAttack(b.engine, b.model, b.x0.toArray(), b.y, shape, o);
  };

  cost(): { gradEvals: number; forwards: number } {
    // Measured: ≈ 673 queries per image with the defaults (src/attacks/pointwise.ts header).
    return { gradEvals: 0, forwards: this.maxQueries ?? 673 };
  }
}

/** The Boundary attack (L2), counted within the L2 budget ε. */
export class Boundary extends DecisionAttack {
  readonly threat = 'L2';
  readonly steps: number | undefined;
  readonly candidates: number | undefined;
  readonly batch: number | undefined;

  constructor(opts: { eps: number | string; seed?: number; steps?: number; candidates?: number; batch?: number }, name = `boundary:${opts.eps}`) {
    super(name, opts);
    this.steps = opts.steps;
    this.candidates = opts.candidates;
    this.batch = opts.batch;
  }

  protected runner: Runner = (b, shape, seed) => {
    const o: BoundaryOptions = { seed, ids: b.ids, ...(this.steps ? { steps: this.steps } : {}), ...(this.candidates ? { candidates: this.candidates } : {}), ...(this.batch ? { batch: this.batch } : {}) };
    return boundaryAttack(b.engine, b.model, b.x0.toArray(), b.y, shape, o);
  };

  cost(): { gradEvals: number; forwards: number } {
    // Measured: ≈ 653 queries per image with the defaults (src/attacks/boundary.ts header).
    return { gradEvals: 0, forwards: Math.round(653 * (this.steps ?? 400) / 400 * (this.candidates ?? 1)) };
  }
}
