// Op registry: every op is defined once, forward and vector-Jacobian product side by side.
//
// An op validates its arguments, computes shapes, allocates its output and calls kernels. `save`
// names what the vjp needs (input names, or 'out'); `needs[i]` tells the vjp whether input i
// wants a gradient, and it returns null for the others, so e.g. an attack step (∂/∂x only)
// never runs conv2d's filter-gradient kernel.
import { isGradEnabled, type TapeNode } from '../autograd.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';

export interface OpContext<A> {
  engine: Engine;
  attrs: A;
  /** Tensors named in `save`, filled after forward when a gradient is needed. */
  saved: Record<string, Tensor>;
  /** Anything else forward computes for the vjp (shapes, geometry). */
  extra: Record<string, unknown>;
}

export interface OpDef<A> {
  name: string;
  /** Input names, in call order; inputs named with a trailing '?' may be null. */
  inputs: readonly string[];
  save: readonly string[];
  forward(ctx: OpContext<A>, inputs: (Tensor | null)[], attrs: A): Tensor;
  vjp(ctx: OpContext<A>, dy: Tensor, needs: boolean[]): (Tensor | null)[];
}

export type OpFn<A> = (inputs: (Tensor | null)[], attrs: A) => Tensor;

const ops = new Map<string, { def: OpDef<any>; apply: OpFn<any> }>();

export function defineOp<A = Record<string, never>>(def: OpDef<A>): OpFn<A> {
  if (ops.has(def.name)) throw new Error(`defineOp: op '${def.name}' is already defined`);
  const names = def.inputs.map((n) => n.replace(/\?$/, ''));
  for (const s of def.save) {
    if (s !== 'out' && !names.includes(s)) throw new Error(`defineOp '${def.name}': save names unknown input '${s}'`);
  }
  const apply: OpFn<A> = (inputs, attrs) => {
    if (inputs.length !== def.inputs.length) throw new RangeError(`${def.name}: expected ${def.inputs.length} inputs (${def.inputs.join(', ')}), got ${inputs.length}`);
    let engine: Engine | null = null;
    inputs.forEach((t, i) => {
      if (t === null || t === undefined) {
        if (!def.inputs[i].endsWith('?')) throw new TypeError(`${def.name}: input '${names[i]}' is required`);
        return;
      }
      if (!(t instanceof Tensor)) throw new TypeError(`${def.name}: input '${names[i]}' must be a Tensor`);
      if (engine && t.engine !== engine) throw new Error(`${def.name}: input '${names[i]}' lives on a different engine`);
      engine = t.engine;
    });
    if (!engine) throw new Error(`${def.name}: no tensor input`);
    const ctx: OpContext<A> = { engine, attrs, saved: {}, extra: {} };
    const grads = isGradEnabled();
    const needs = inputs.map((t) => grads && !!t && t.requiresGrad);
    const out = def.forward(ctx, inputs.map((t) => t ?? null), attrs);
    if (needs.some(Boolean)) {
      for (const s of def.save) ctx.saved[s] = s === 'out' ? out : inputs[names.indexOf(s)]!;
      out.requiresGrad = true;
      out.node = { op: def, inputs: inputs.map((t) => t ?? null), needs, ctx } satisfies TapeNode;
    }
    return out;
  };
  ops.set(def.name, { def, apply });
  return apply;
}

export function getOp(name: string): { def: OpDef<any>; apply: OpFn<any> } {
  const op = ops.get(name);
  if (!op) throw new Error(`unknown op '${name}' (known: ${listOps().join(', ')})`);
  return op;
}

export function listOps(): string[] {
  return [...ops.keys()].sort();
}

const checked = new Set<string>();

/**
 * Records that op `name` passed a forward and gradient check against its float64 reference
 * (test/_helpers/gradcheck.ts checkOp calls it last): test/registry.test.ts requires every op here.
 */
export function markChecked(name: string): void {
  getOp(name);
  checked.add(name);
}

/** The ops recorded by markChecked in this process, sorted. */
export function checkedOps(): string[] {
  return [...checked].sort();
}
