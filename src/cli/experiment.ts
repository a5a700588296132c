// `multirobust experiment <name> [flags]`: the experiments as CLI commands (the npm scripts
// `experiment:*` call them). Each is one file under src/cli/experiments/ (flags, help, printing,
// files) over its algorithm in src/experiments/; src/cli/main.ts dispatches and maps errors to
// exit codes. Their files go under runs/ (git-ignored) unless a flag names another place.
import { main as invariance } from './experiments/invariance.ts';
import { main as masking } from './experiments/masking.ts';
import { main as mep } from './experiments/mep.ts';
import { main as mnist } from './experiments/mnist.ts';
import { main as nonrobust } from './experiments/nonrobust.ts';

export const EXPERIMENTS: Record<string, { summary: string; main(argv: string[]): Promise<number> }> = {
  mep: { summary: 'mutually exclusive perturbations: the Gaussian task (L∞ vs L1) and L∞ vs rotation-translation', main: (argv) => mep(argv) },
  nonrobust: { summary: 'adversarial examples are non-robust features: train on targeted adversarial images only', main: (argv) => nonrobust(argv) },
  invariance: { summary: 'excessive invariance: in-ball points nearest another class, and which models keep their label', main: (argv) => invariance(argv) },
  mnist: { summary: "the paper's MNIST tables: train, standard suite, gradient-free cascade (resumable)", main: (argv) => mnist(argv) },
  masking: { summary: 'thresholding and gradient masking measured on the MNIST models', main: (argv) => masking(argv) },
};
