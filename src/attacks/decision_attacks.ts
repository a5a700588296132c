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
import { SEED_OPTION, type KindSpec, type OptionSpec, type Settings } from './schema.ts';

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
  abstract settings(): Settings;

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

/** Budgets of the decision-based attacks: today's cheap default, or the reference's (foolbox's). */
export type DecisionBudget = 'default' | 'reference';

function checkBudget(name: string, budget: string | undefined): DecisionBudget {
  const b = budget ?? 'default';
  if (b !== 'default' && b !== 'reference') throw new RangeError(`${name}: budget must be 'default' or 'reference', got '${b}'`);
  return b;
}

/** Pointwise's query cap under the reference budget: far above what it uses (it stops by itself). */
const POINTWISE_REFERENCE_QUERIES = 100_000;

/**
 * foolbox's Pointwise attack (L0, hence L1), counted within the L1 budget ε. Budgets: 'default'
 * caps each example at 1,500 queries (≈ 673 used); 'reference' runs it until it converges (foolbox
 * 1.8 has no cap; here 100,000, never reached on MNIST).
 */
export class Pointwise extends DecisionAttack {
  readonly threat = 'L1';
  readonly budget: DecisionBudget;
  readonly maxQueries: number;
  readonly batch: number | undefined;

  constructor(opts: { eps: number | string; seed?: number; maxQueries?: number; batch?: number; budget?: string }, name = `pointwise:${opts.eps}`) {
    super(name, opts);
    this.budget = checkBudget(name, opts.budget);
    this.maxQueries = checkCount(`${name}: queries`, opts.maxQueries, this.budget === 'reference' ? POINTWISE_REFERENCE_QUERIES : 1500);
    this.batch = opts.batch;
  }

  protected runner: Runner = (b, shape, seed) => {
    const o: PointwiseOptions = { seed, ids: b.ids, maxQueries: this.maxQueries, ...(this.batch ? { batch: this.batch } : {}) };
    return pointwiseAttack(b.engine, b.model, b.x0.toArray(), b.y, shape, o);
  };

  cost(): { gradEvals: number; forwards: number } {
    // Measured: ≈ 673 queries per image with the defaults (src/attacks/pointwise.ts header).
    return { gradEvals: 0, forwards: Math.min(this.maxQueries, 673) };
  }

  settings(): Settings {
    return { budget: this.budget, max_queries: this.maxQueries, restarts: 3, seed: this.seed };
  }
}

/**
 * The Boundary attack (L2), counted within the L2 budget ε. Budgets: 'default' 400 iterations × 1
 * candidate (≈ 653 queries per image); 'reference' foolbox's 5,000 iterations × 25 candidates
 * (the reference's evaluation; up to ~190,000 queries per image).
 */
export class Boundary extends DecisionAttack {
  readonly threat = 'L2';
  readonly budget: DecisionBudget;
  readonly steps: number;
  readonly candidates: number;
  readonly batch: number | undefined;

  constructor(opts: { eps: number | string; seed?: number; steps?: number; candidates?: number; batch?: number; budget?: string }, name = `boundary:${opts.eps}`) {
    super(name, opts);
    this.budget = checkBudget(name, opts.budget);
    this.steps = checkCount(`${name}: steps`, opts.steps, this.budget === 'reference' ? 5000 : 400, 0);
    this.candidates = checkCount(`${name}: candidates`, opts.candidates, this.budget === 'reference' ? 25 : 1);
    this.batch = opts.batch;
  }

  protected runner: Runner = (b, shape, seed) => {
    const o: BoundaryOptions = { seed, ids: b.ids, steps: this.steps, candidates: this.candidates, ...(this.batch ? { batch: this.batch } : {}) };
    return boundaryAttack(b.engine, b.model, b.x0.toArray(), b.y, shape, o);
  };

  cost(): { gradEvals: number; forwards: number } {
    // Measured: ≈ 653 queries per image with the defaults (src/attacks/boundary.ts header).
    return { gradEvals: 0, forwards: Math.round(653 * this.steps / 400 * this.candidates) };
  }

  settings(): Settings {
    return { budget: this.budget, iterations: this.steps, candidates: this.candidates, seed: this.seed };
  }
}

const BUDGET_OPTION: OptionSpec = { key: 'budget', type: 'enum', values: ['default', 'reference'], default: 'default', help: "'reference': the reference's (foolbox's) budget; see the kind's summary" };
const BATCH_OPTION: OptionSpec = { key: 'batch', type: 'int', min: 1, default: '100', help: 'examples per forward pass' };

/** Token kinds of the decision-based attacks (parse.ts). Neither takes the CLI's --steps/--restarts. */
export const DECISION_KINDS: KindSpec[] = [
  {
    kind: 'pointwise', summary: "foolbox's Pointwise (L0/L1, labels only), counted within ε; budget=reference runs it to convergence", positional: 'eps',
    options: [{ key: 'queries', field: 'maxQueries', type: 'int', min: 1, default: '1500 (reference: 100000)', help: 'query cap per example' }, BUDGET_OPTION, SEED_OPTION, BATCH_OPTION],
    build: (o, t) => new Pointwise(o as { eps: number }, t),
  },
  {
    kind: 'boundary', summary: 'Boundary attack (L2, labels only), counted within ε; budget=reference: 5,000 iterations × 25 candidates', positional: 'eps',
    options: [
      { key: 'steps', type: 'int', min: 0, default: '400 (reference: 5000)', help: 'iterations; 0: the starting point only, after its line search (the CLI\'s --steps does not reach it)' },
      { key: 'candidates', type: 'int', min: 1, default: '1 (reference: 25)', help: 'proposals per iteration' },
      BUDGET_OPTION, SEED_OPTION, BATCH_OPTION,
    ],
    build: (o, t) => new Boundary(o as { eps: number }, t),
  },
];
