// Tape autodiff (micrograd's rules): each op applied with gradients enabled records a TapeNode on
// its output; backward() sorts the graph topologically from the root and applies the vjps in
// reverse. Gradients accumulate (+=) into leaves' .grad; intermediate gradients live only during
// one backward call. An op's vjp is told which inputs need a gradient and skips the others.
import { Tensor } from './tensor.ts';
import type { OpContext, OpDef } from './ops/registry.ts';

export interface TapeNode {
  op: OpDef<any>;
  inputs: (Tensor | null)[];
  needs: boolean[];
  ctx: OpContext<any>;
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording a tape (evaluation, the value-only parts of attacks). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Tensors reachable from root through recorded nodes, inputs before outputs. */
function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    if (t.node) for (const inp of t.node.inputs) if (inp && inp.requiresGrad && !visited.has(inp)) stack.push([inp, false]);
  }
  return order;
}

const sameShape = (a: Tensor, b: Tensor) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

function addInto(dst: Tensor, src: Tensor): void {
  const d = dst.view(), s = src.view();
  for (let i = 0; i < d.length; i++) d[i] += s[i];
}

/** The tensors of `order` (topological) from which some tensor of `wrt` is reachable. */
function leadingTo(order: Tensor[], wrt: ReadonlySet<Tensor>): Set<Tensor> {
  const leads = new Set<Tensor>();
  for (const t of order) {
    if (wrt.has(t) || (t.node && t.node.inputs.some((inp) => inp !== null && leads.has(inp)))) leads.add(t);
  }
  return leads;
}

/**
 * Back-propagates from `root`. `seed` is ∂L/∂root (default 1 for a one-element root). Leaves
 * (tensors with requiresGrad and no node) receive `.grad += ∂L/∂leaf`.
 * With `wrt`, only those leaves receive a gradient and only the paths leading to them are
 * differentiated: an attack asking for ∂L/∂x runs no filter-gradient kernel and leaves the
 * parameters' .grad untouched.
 */
export function backward(root: Tensor, seed?: Tensor, wrt?: ReadonlySet<Tensor>): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root} does not require a gradient (no input requires one, or it was computed under noGrad)`);
  if (!seed) {
    if (root.size !== 1) throw new Error(`backward: ${root} has ${root.size} elements; pass a seed gradient of the same shape`);
    seed = Tensor.full(root.engine, root.shape, 1);
  } else if (seed.size !== root.size) {
    throw new RangeError(`backward: seed has ${seed.size} elements, root ${root} has ${root.size}`);
  }
  const order = topoSort(root);
  const grads = new Map<Tensor, Tensor>();
  // Buffers the map owns (freed once consumed). A vjp's fresh result is taken as is (no copy); one
  // that aliases an owned buffer (a vjp passing dy through, or one result for two inputs), the
  // seed, a persistent tensor or a tensor of the forward graph is copied, so that accumulating into
  // it or freeing it cannot touch anything else.
  const owned = new Set<number>();
  const graphBuffers = new Set(order.map((t) => t.buf.ptr));
  const accumulate = (t: Tensor, g: Tensor): void => {
    if (g.size !== t.size) throw new Error(`backward: gradient of ${t} has ${g.size} elements (op bug)`);
    const have = grads.get(t);
    if (have) {
      addInto(have, g);
      return;
    }
    const ptr = g.buf.ptr;
    const shared = owned.has(ptr) || graphBuffers.has(ptr) || g.persistent || g === seed;
    const mine = shared ? Tensor.from(t.engine, g.view(), t.shape) : sameShape(g, t) ? g : new Tensor(t.engine, g.buf, t.shape);
    owned.add(mine.buf.ptr);
    grads.set(t, mine);
  };
  const release = (t: Tensor, g: Tensor): void => {
    grads.delete(t);
    owned.delete(g.buf.ptr);
    t.engine.arena.free(g.buf.ptr);
  };
  accumulate(root, seed);
  const wanted = wrt ? leadingTo(order, wrt) : null;
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = grads.get(t);
    if (!g) continue;
    const node = t.node;
    if (wanted && !wanted.has(t)) {
      // Off every path to `wrt` (a parameter, say): its gradient is not wanted.
      release(t, g);
      continue;
    }
    if (!node) {
      // A leaf: accumulate into .grad, or adopt g's buffer as .grad (the map owns it alone, see
      // accumulate): no copy, which for fc1's 3.2 M weights was ~1 ms of serial time per step.
      if (t.grad) {
        addInto(t.grad, g);
        release(t, g);
      } else {
        grads.delete(t);
        owned.delete(g.buf.ptr);
        if (t.persistent) t.engine.arena.unscope(g.buf.ptr);
        t.grad = new Tensor(t.engine, g.buf, t.shape, { persistent: t.persistent });
      }
      continue;
    }
    const needs = wanted ? node.needs.map((n, i) => n && wanted.has(node.inputs[i]!)) : node.needs;
    const inGrads = node.op.vjp(node.ctx, g, needs);
    for (let i = 0; i < node.inputs.length; i++) {
      const inp = node.inputs[i];
      if (!needs[i] || !inp) continue;
      const gi = inGrads[i];
      if (!gi) throw new Error(`backward: op '${node.op.name}' returned no gradient for input '${node.op.inputs[i]}' that needs one`);
      accumulate(inp, gi);
    }
    // This node's gradient is consumed: free it now to keep the peak memory down.
    release(t, g);
  }
}

/**
 * Gradients of a scalar f(...inputs) with respect to `inputs` only (fresh tensors, not accumulated):
 * other leaves, such as a model's parameters, get no gradient and cost no backward kernels.
 *
 *   const [gx] = grad(() => mean(marginLoss(model.call(x), labels)), [x]);   // one PGD step
 */
export function grad(f: () => Tensor, inputs: Tensor[]): Tensor[] {
  const saved = inputs.map((t) => [t.grad, t.requiresGrad] as const);
  for (const t of inputs) {
    t.grad = null;
    t.requiresGrad = true;
  }
  try {
    backward(f(), undefined, new Set(inputs));
    return inputs.map((t) => t.grad ?? Tensor.zeros(t.engine, t.shape));
  } finally {
    inputs.forEach((t, i) => {
      t.grad = saved[i][0];
      t.requiresGrad = saved[i][1];
    });
  }
}
