// The `multirobust` command line. Subcommands are plain functions in COMMANDS; flags are parsed
// with node:util parseArgs (strict: an unknown flag is an error naming it). A command with
// subcommands (`multirobust experiment mep …`) hands each its own arguments. Results go to
// stdout, progress and diagnostics to stderr. Exit codes: 0 done, 2 bad input (an InputError,
// src/errors.ts, UsageError included: one line on stderr), 1 anything else.
import { parseArgs } from 'node:util';
import { InputError } from '../errors.ts';
import { loadEngine, missingFeatures, supportsRelaxed } from '../wasm/load.ts';
import { attackCommand, evalCommand, mergeCommand } from './eval.ts';
import { EXPERIMENTS } from './experiment.ts';
import { UsageError } from './flags.ts';
import { exportCommand } from './export.ts';
import { serveCommand } from './serve.ts';
import { trainCommand } from './train.ts';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  /** One line per flag for --help. */
  descriptions?: Record<string, string>;
  /** Printed after the flags by --help (e.g. the attack kinds and their options). */
  epilog?: () => string;
  /** Takes positional arguments (files). */
  positionals?: boolean;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<void>;
}

/** A command made of subcommands that parse their own flags and print their own --help. */
interface Group {
  summary: string;
  subcommands: Record<string, { summary: string; main(argv: string[]): Promise<number> }>;
}

const GROUPS: Record<string, Group> = {
  experiment: { summary: 'the paper\'s and the talk\'s experiments: mep, nonrobust, invariance, mnist, masking', subcommands: EXPERIMENTS },
};

const COMMANDS: Record<string, Command> = {
  info: {
    summary: 'print the engine: module build, kernel variants, WebAssembly features, memory',
    usage: 'multirobust info [--kernels simd|scalar] [--json]',
    options: {
      kernels: { type: 'string', default: 'simd' },
      json: { type: 'boolean', default: false },
    },
    async run(values) {
      if (values.kernels !== 'simd' && values.kernels !== 'scalar') throw new UsageError(`--kernels must be 'simd' or 'scalar', got '${values.kernels}'`);
      const engine = await loadEngine({ kernels: values.kernels });
      const info = {
        build: engine.build,
        kernels: engine.isa,
        relaxedSimd: await supportsRelaxed(),
        missingFeatures: missingFeatures(),
        kernelCount: engine.kernelNames().length,
        kernelNames: engine.kernelNames(),
        memory: engine.arena.stats(),
        runtime: typeof (globalThis as { Deno?: unknown }).Deno === 'object' ? 'deno' : `node ${process.version}`,
      };
      if (values.json) console.log(JSON.stringify(info, null, 2));
      else {
        console.log(`multirobust engine: build ${info.build}, ${info.kernels} kernels, relaxed SIMD ${info.relaxedSimd ? 'available' : 'not available'}, ${info.runtime}`);
        console.log(`kernels (${info.kernelCount}): ${info.kernelNames.join(', ')}`);
        console.log(`memory: ${(info.memory.memoryBytes / 2 ** 20).toFixed(0)} MiB reserved, limit ${(info.memory.limitBytes / 2 ** 20).toFixed(0)} MiB`);
      }
    },
  },
  eval: evalCommand as Command,
  merge: mergeCommand as Command,
  attack: attackCommand as Command,
  train: trainCommand as Command,
  serve: serveCommand as Command,
  export: exportCommand as Command,
};

function help(): string {
  const lines = ['usage: multirobust <command> [flags]', '', 'commands:'];
  for (const [name, c] of [...Object.entries(COMMANDS), ...Object.entries(GROUPS)]) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'run `multirobust <command> --help` for its flags.');
  return lines.join('\n');
}

function commandHelp(name: string, c: Command): string {
  const lines = [`usage: ${c.usage}`, '', c.summary, '', 'flags:'];
  for (const [flag, o] of Object.entries(c.options ?? {})) {
    const what = c.descriptions?.[flag];
    lines.push(`  --${flag.padEnd(12)} ${o.type === 'boolean' ? '' : 'VALUE '}${what ? `${what}` : o.type}${o.default !== undefined ? ` (default ${o.default})` : ''}`);
  }
  if (c.epilog) lines.push('', c.epilog());
  return lines.join('\n');
}

function groupHelp(name: string, g: Group): string {
  const lines = [`usage: multirobust ${name} <name> [flags]`, '', g.summary, '', `${name}s:`];
  for (const [sub, s] of Object.entries(g.subcommands)) lines.push(`  ${sub.padEnd(12)} ${s.summary}`);
  lines.push('', `run \`multirobust ${name} <name> --help\` for its flags.`);
  return lines.join('\n');
}

/** Runs `work`; an error is one line on stderr after `label`, exit code 2 for bad input (InputError), 1 otherwise. */
async function exitCode(label: string, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (err) {
    console.error(`${label}: ${(err as Error).message}`);
    return err instanceof InputError ? 2 : 1;
  }
}

function runGroup(name: string, g: Group, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const names = Object.keys(g.subcommands).join(', ');
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(groupHelp(name, g));
    return Promise.resolve(0);
  }
  if (!sub || !Object.hasOwn(g.subcommands, sub)) {
    console.error(`multirobust ${name}: ${sub ? `unknown ${name} '${sub}'` : `no ${name} given`} (${name}s: ${names}; see multirobust ${name} --help)`);
    return Promise.resolve(2);
  }
  return exitCode(`multirobust ${name} ${sub}`, () => g.subcommands[sub].main(rest));
}

/** Runs the CLI on `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  if (!name) {
    console.error(`multirobust: no command given (commands: ${[...Object.keys(COMMANDS), ...Object.keys(GROUPS)].join(', ')}; see multirobust --help)`);
    return 2;
  }
  if (Object.hasOwn(GROUPS, name)) return runGroup(name, GROUPS[name], rest);
  const command = COMMANDS[name];
  if (!command) {
    console.error(`multirobust: unknown command '${name}' (commands: ${[...Object.keys(COMMANDS), ...Object.keys(GROUPS)].join(', ')}; see multirobust --help)`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(name, command));
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: !!command.positionals });
  } catch (err) {
    // node's parseArgs may explain over several lines ("… is ambiguous …"): the first names the problem.
    console.error(`multirobust ${name}: ${(err as Error).message.split('\n')[0]} (see multirobust ${name} --help)`);
    return 2;
  }
  return exitCode(`multirobust ${name}`, async () => {
    await command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
    return 0;
  });
}
