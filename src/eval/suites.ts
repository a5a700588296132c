// Evaluation suites (issue 26): for each threat model, the attacks that run in order, each only on
// the points every earlier attack of that threat model left standing (evaluate's cascade).
//
//   standard   AutoAttack's 'standard' version per threat model (paper.md §6.1): APGD-CE (L1: 5
//              restarts, large reps), APGD-T (targeted DLR, 9 targets; L1: 5), Square (5,000
//              queries); RT: first-order RT PGD, then the full 775-transform grid. FAB-T is not run:
//              measured with AutoAttack's own code on a multi-perturbation MNIST CNN (200 images) it
//              broke 0, 0 and 1 of the points APGD-CE and APGD-T left standing (L∞, L2, L1);
//              docs/evaluation.md.
//   reference  MultiRobustness's MNIST evaluation (paper.md §1.6, §6.3): PGD L∞ and L2 and SLIDE
//              with 100 steps × 40 restarts at the reference's step rules; Boundary (L2) and
//              Pointwise (L1) at the reference's budgets; the RT grid.
//   quick      the standard suite's attacks at small budgets, for quick looks and npm start: APGD-CE
//              and APGD-T (3 targets) with 50 steps, Square with 1,000 queries, RT PGD (3 restarts)
//              and a 5 × 5 × 11 grid. Weaker than standard: never quote it as the final figure.
//
// A threat model is written as a token without options: linf:EPS, l2:EPS, l1:EPS, rt or rt:PX:DEG.
import { parseEps } from '../attacks/attack.ts';

export type SuiteName = 'standard' | 'reference' | 'quick';
export const SUITES: readonly SuiteName[] = ['standard', 'reference', 'quick'];

export const SUITE_SUMMARY: Record<SuiteName, string> = {
  standard: "AutoAttack's standard per threat model: APGD-CE, APGD-T (9 targets; L1: 5 restarts and 5 targets, large reps), Square 5,000 queries; RT: RT PGD then the 775-transform grid",
  reference: "MultiRobustness's: PGD/SLIDE 100 steps × 40 restarts, Boundary and Pointwise at the reference's budgets, the RT grid",
  quick: 'standard\'s attacks at small budgets: APGD-CE and APGD-T (3 targets) 50 steps, Square 1,000 queries, RT PGD and a 5×5×11 grid',
};

/** The default threat models of `multirobust eval`. */
export const DEFAULT_THREATS = ['linf:0.3', 'l2:2', 'l1:10', 'rt'];

type Norm = 'linf' | 'l2' | 'l1';

function normTokens(suite: SuiteName, norm: Norm, eps: string): string[] {
  switch (suite) {
    case 'standard':
      return norm === 'l1'
        ? [`apgd-l1:${eps}:restarts=5`, `apgdt-l1:${eps}`, `square-l1:${eps}`]
        : [`apgd-${norm}:${eps}`, `apgdt-${norm}:${eps}`, `square-${norm}:${eps}`];
    case 'quick':
      return [`apgd-${norm}:${eps}:steps=50`, `apgdt-${norm}:${eps}:steps=50:targets=3`, `square-${norm}:${eps}:queries=1000`];
    case 'reference':
      // The reference's step rules: L∞ a = 2.5·ε/k (margin), L2 a = 2.5·ε/k (margin, constant),
      // SLIDE a = 0.5 at ε = 10 (relstep 0.05), perc 99; the exact L1 ∩ box projection (project decision).
      if (norm === 'linf') return [`linf:${eps}:steps=100:restarts=40`];
      if (norm === 'l2') return [`l2:${eps}:steps=100:restarts=40:loss=margin:relstep=0.025:schedule=constant`, `boundary:${eps}:budget=reference`];
      return [`l1:${eps}:steps=100:restarts=40:relstep=0.05`, `pointwise:${eps}:budget=reference`];
  }
}

function rtTokens(suite: SuiteName, box: string): string[] {
  if (suite === 'reference') return [`rt${box}`];
  if (suite === 'quick') return [`rtpgd${box}:restarts=3`, `rt${box}:grid=5x5x11`];
  return [`rtpgd${box}`, `rt${box}`];
}

/** Throws unless `name` is a suite. */
export function checkSuite(name: string): SuiteName {
  if (!(SUITES as readonly string[]).includes(name)) throw new RangeError(`suite must be one of ${SUITES.join(', ')}, got '${name}'`);
  return name as SuiteName;
}

/** The attack tokens of `suite` for the threat models `threats` (e.g. ['linf:0.3', 'rt']), in order. */
export function suiteTokens(suite: string, threats: string[] = DEFAULT_THREATS): string[] {
  const s = checkSuite(suite);
  if (!threats.length) throw new RangeError('threat models: give at least one (e.g. linf:0.3,l2:2,l1:10,rt)');
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of threats) {
    const t = raw.trim();
    const m = /^(linf|l2|l1):([^:]+)$/.exec(t);
    const rt = /^rt(:[^:]+:[^:]+)?$/.exec(t);
    let kind: string;
    if (m) {
      parseEps(m[2], `threat model '${t}': eps`);
      kind = m[1];
      out.push(...normTokens(s, m[1] as Norm, m[2]));
    } else if (rt) {
      const parts = (rt[1] ?? '').split(':').filter(Boolean);
      parts.forEach((v, i) => parseEps(v, `threat model '${t}': ${i ? 'degrees' : 'pixels'}`));
      kind = 'rt';
      out.push(...rtTokens(s, rt[1] ?? ''));
    } else throw new RangeError(`threat model '${t}': expected linf:EPS, l2:EPS, l1:EPS, rt or rt:PX:DEG`);
    if (seen.has(kind)) throw new RangeError(`threat model '${t}': ${kind} given twice`);
    seen.add(kind);
  }
  return out;
}
