// The paper's MNIST models of experiment:mnist (src/experiments/mnist.ts): their training
// strategies and attacks (the reference's configuration, ../shared/spec/paper.md §1.3–§1.5), the
// threat models of each table, and the accuracy-with-interval record every result uses. A plain
// module (no script), so that other experiments (masking.ts) can import it.
import { wilson, type Interval } from '../eval/report.ts';
import type { Strategy } from '../train/strategies.ts';

/** The reference's training attacks (paper.md §1.3, §1.5): 10 steps, its step sizes, margin-loss steps. */
export const TRAIN_TOKENS = {
  linf: 'linf:0.3:steps=10:stepsize=0.01:loss=margin:schedule=constant',
  l2: 'l2:2:steps=10:stepsize=0.1:loss=margin:schedule=constant',
  // SLIDE: γ = a·x_max = 1.0, the 99th percentile, the reference's ball-then-clip projection.
  l1: 'l1:10:steps=10:stepsize=1:perc=99:projection=l1-then-clip',
  // RT training: 10 uniform random transforms in the ±3 px, ±30° box, the worst kept.
  rt: 'rtrandom:3:30:tries=10',
} as const;

export type Table = 'lp' | 'rt';

export interface MnistModel {
  name: string;
  /** The paper's row name. */
  label: string;
  strategy: Strategy;
  attacks: string[];
  /** The tables the model is a row of. */
  tables: Table[];
}

const T = TRAIN_TOKENS;
const LP = [T.linf, T.l2, T.l1];
const LINF_RT = [T.linf, T.rt];

export const MODELS: MnistModel[] = [
  { name: 'nat', label: 'Nat', strategy: 'none', attacks: [], tables: ['lp', 'rt'] },
  { name: 'linf', label: 'Adv∞', strategy: 'single', attacks: [T.linf], tables: ['lp', 'rt'] },
  { name: 'l1', label: 'Adv1', strategy: 'single', attacks: [T.l1], tables: ['lp'] },
  { name: 'l2', label: 'Adv2', strategy: 'single', attacks: [T.l2], tables: ['lp'] },
  { name: 'avg', label: 'Adv_avg', strategy: 'avg', attacks: LP, tables: ['lp'] },
  { name: 'max', label: 'Adv_max', strategy: 'max', attacks: LP, tables: ['lp'] },
  { name: 'msd', label: 'MSD (ours)', strategy: 'msd', attacks: LP, tables: ['lp'] },
  { name: 'sampled', label: 'sampled (ours)', strategy: 'sampled', attacks: LP, tables: ['lp'] },
  { name: 'rt', label: 'AdvRT', strategy: 'single', attacks: [T.rt], tables: ['rt'] },
  { name: 'rt-avg', label: 'Adv_avg (L∞, RT)', strategy: 'avg', attacks: LINF_RT, tables: ['rt'] },
  { name: 'rt-max', label: 'Adv_max (L∞, RT)', strategy: 'max', attacks: LINF_RT, tables: ['rt'] },
];

/** The threat models a table evaluates (the standard suite's --threats). */
export const TABLE_THREATS: Record<Table, string[]> = { lp: ['linf:0.3', 'l2:2', 'l1:10'], rt: ['linf:0.3', 'rt'] };

/** A figure: accuracy k/n with its 95 % Wilson interval. */
export interface Figure {
  accuracy: number;
  interval: Interval;
  correct: number;
  n: number;
}

export const figure = (k: number, n: number): Figure => ({ accuracy: n ? k / n : 0, interval: wilson(k, n), correct: k, n });

