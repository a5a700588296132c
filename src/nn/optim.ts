// Optimizers over the in-place update kernels (assembly/optim.ts), with torch.optim semantics.
// State (moments, velocity) is persistent arena memory; state()/loadState() expose it by
// parameter index for checkpoints. The learning rate comes from a schedule of the step.
import { adamStep, sgdStep } from '../kernels/optim.ts';
import { Tensor } from '../tensor.ts';
import { constant, type Schedule } from './schedule.ts';

export interface Optimizer {
  readonly params: Tensor[];
  /** Updates done so far. */
  stepCount: number;
  /** Applies one update from the parameters' .grad (parameters without a gradient are skipped). */
  step(): void;
  lr(): number;
  /** Named state buffers per parameter ('m', 'v' or 'velocity'). */
  stateSlots(): string[];
  slot(name: string, i: number): Tensor;
  dispose(): void;
}

function toSchedule(lr: number | Schedule): Schedule {
  return typeof lr === 'number' ? constant(lr) : lr;
}

export class Adam implements Optimizer {
  stepCount = 0;
  private readonly schedule: Schedule;
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  constructor(readonly params: Tensor[], readonly opts: { lr: number | Schedule; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }) {
    this.schedule = toSchedule(opts.lr);
    this.m = params.map((p) => Tensor.zeros(p.engine, p.shape, { persistent: true }));
    this.v = params.map((p) => Tensor.zeros(p.engine, p.shape, { persistent: true }));
  }

  lr(): number {
    return this.schedule(this.stepCount);
  }

  step(): void {
    const lr = this.lr();
    this.stepCount++;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      adamStep(p.engine, {
        param: p.buf, grad: p.grad.buf, m: this.m[i].buf, v: this.v[i].buf, n: p.size, lr, step: this.stepCount,
        beta1: this.opts.beta1, beta2: this.opts.beta2, eps: this.opts.eps, weightDecay: this.opts.weightDecay,
      });
    });
  }

  stateSlots(): string[] {
    return ['m', 'v'];
  }

  slot(name: string, i: number): Tensor {
    if (name === 'm') return this.m[i];
    if (name === 'v') return this.v[i];
    throw new RangeError(`Adam: no state slot '${name}'`);
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

export class SGD implements Optimizer {
  stepCount = 0;
  private readonly schedule: Schedule;
  private readonly velocity: Tensor[];

  constructor(readonly params: Tensor[], readonly opts: { lr: number | Schedule; momentum?: number; weightDecay?: number; nesterov?: boolean }) {
    this.schedule = toSchedule(opts.lr);
    this.velocity = params.map((p) => Tensor.zeros(p.engine, p.shape, { persistent: true }));
  }

  lr(): number {
    return this.schedule(this.stepCount);
  }

  step(): void {
    const lr = this.lr();
    const firstStep = this.stepCount === 0;
    this.stepCount++;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      sgdStep(p.engine, {
        param: p.buf, grad: p.grad.buf, velocity: this.velocity[i].buf, n: p.size, lr, firstStep,
        momentum: this.opts.momentum, weightDecay: this.opts.weightDecay, nesterov: this.opts.nesterov,
      });
    });
  }

  stateSlots(): string[] {
    return ['velocity'];
  }

  slot(name: string, i: number): Tensor {
    if (name === 'velocity') return this.velocity[i];
    throw new RangeError(`SGD: no state slot '${name}'`);
  }

  dispose(): void {
    for (const t of this.velocity) t.dispose();
  }
}
