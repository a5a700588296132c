// Learning-rate schedules: functions of the step (0-based) → learning rate.
export type Schedule = (step: number) => number;

/** The paper's schedule: [[0, 1e-3], [3000, 1e-4]] means 1e-3 from step 0, 1e-4 from step 3000. */
export function piecewiseConstant(points: [step: number, lr: number][]): Schedule {
  if (!points.length || points[0][0] !== 0) throw new RangeError('piecewiseConstant: the first point must start at step 0');
  for (let i = 1; i < points.length; i++) {
    if (!(points[i][0] > points[i - 1][0])) throw new RangeError(`piecewiseConstant: steps must increase, got ${points.map((p) => p[0]).join(', ')}`);
  }
  return (step) => {
    let lr = points[0][1];
    for (const [s, v] of points) if (step >= s) lr = v;
    return lr;
  };
}

/**
 * Piecewise linear through the points [(step, lr)…] (MSD's triangular/cyclic schedule, e.g.
 * [[0, 0], [E/2·S, max], [E·S, 0]]); constant before the first and after the last point.
 */
export function piecewiseLinear(points: [step: number, lr: number][]): Schedule {
  if (!points.length) throw new RangeError('piecewiseLinear: needs at least one point');
  return (step) => {
    if (step <= points[0][0]) return points[0][1];
    for (let i = 1; i < points.length; i++) {
      const [s0, v0] = points[i - 1], [s1, v1] = points[i];
      if (step <= s1) return v0 + ((v1 - v0) * (step - s0)) / (s1 - s0);
    }
    return points[points.length - 1][1];
  };
}

/** Triangular cycle: lrMin → lrMax over the first half of totalSteps, back to lrMin over the second. */
export function triangular(totalSteps: number, lrMax: number, lrMin = 0): Schedule {
  return piecewiseLinear([[0, lrMin], [totalSteps / 2, lrMax], [totalSteps, lrMin]]);
}

/** Cosine decay from lrMax to lrMin over totalSteps (after an optional linear warm-up). */
export function cosine(totalSteps: number, lrMax: number, lrMin = 0, warmupSteps = 0): Schedule {
  return (step) => {
    if (step < warmupSteps) return (lrMax * (step + 1)) / warmupSteps;
    const t = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return lrMin + 0.5 * (lrMax - lrMin) * (1 + Math.cos(Math.PI * t));
  };
}

export const constant = (lr: number): Schedule => () => lr;
