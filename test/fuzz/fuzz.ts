// `npm run fuzz -- [--runs N] [--seed S] [--kinds a,b] [--case K] [--timeout MS] [--slow MS] [--json]`
//
// Runs cases 0..N-1 of test/fuzz/cases.ts (kinds take turns) in a child process and watches it: a
// case with no result within --timeout ms is a hang (the child is killed with SIGKILL and a new one
// goes on with the next case), a child that dies is a crash, a case slower than --slow ms is a
// failure too. Prints how many cases of each kind ran and failed, and every failure with its index
// (`--case K` replays one case). With --json the last stdout line is the summary as JSON. Exit code:
// 0 when every case kept the rule, 1 otherwise, 2 on bad flags. Failures listed in cases.ts KNOWN
// (rule violations in files outside test/fuzz, reported on the issue) are counted apart.
// The watchdog's own test sets FUZZ_HANG_AT=K / FUZZ_CRASH_AT=K: case K then spins forever / kills
// its process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { intFlag, parseOrExit, UsageError } from '../../src/cli/flags.ts';
import { caseAt, KINDS, knownIssue, naming, type Kind } from './cases.ts';

interface Result {
  index: number;
  kind: Kind;
  name: string;
  problem: string | null;
  ms: number;
}

type Msg = { start: number; name: string } | { named: string } | ({ done: number } & Result) | { end: true };

const here = dirname(fileURLToPath(import.meta.url));
const viteNode = join(here, '..', '..', 'node_modules', 'vite-node', 'vite-node.mjs');

/** node's parseArgs, its errors as one-line UsageErrors (its message for '--runs -3' spans three lines). */
function parseFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        runs: { type: 'string', default: '10000' },
        seed: { type: 'string', default: '1' },
        kinds: { type: 'string', default: KINDS.join(',') },
        case: { type: 'string' },
        timeout: { type: 'string', default: '30000' },
        slow: { type: 'string', default: '10000' },
        json: { type: 'boolean', default: false },
        child: { type: 'boolean', default: false },
        from: { type: 'string', default: '0' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}

function options(argv: string[]) {
  const { values } = parseFlags(argv);
  const kinds = String(values.kinds).split(',') as Kind[];
  for (const k of kinds) if (!KINDS.includes(k)) throw new UsageError(`--kinds: unknown kind '${k}' (kinds: ${KINDS.join(', ')})`);
  const only = intFlag('case', values.case, { min: 0 });
  return {
    runs: only !== undefined ? only + 1 : intFlag('runs', values.runs, { min: 1 })!,
    from: only ?? intFlag('from', values.from, { min: 0 })!,
    seed: intFlag('seed', values.seed, { min: 0 })!,
    kinds,
    timeout: intFlag('timeout', values.timeout, { min: 100 })!,
    slow: intFlag('slow', values.slow, { min: 1 })!,
    json: !!values.json,
    child: !!values.child,
  };
}
type Options = ReturnType<typeof options>;

/** The child: runs cases from..runs-1 and reports each over IPC. */
async function child(o: Options): Promise<void> {
  const send = (m: Msg) => new Promise<void>((res) => process.send!(m, () => res()));
  naming.onName = (name) => process.send!({ named: name });
  for (let i = o.from; i < o.runs; i++) {
    const c = caseAt(o.seed, i, o.kinds);
    // Fixtures shared by many cases (the CLI's files, built once) are not part of a case's time.
    if (c.prepare) await c.prepare();
    await send({ start: i, name: c.name });
    if (process.env.FUZZ_HANG_AT === String(i)) for (;;);
    if (process.env.FUZZ_CRASH_AT === String(i)) process.kill(process.pid, 'SIGKILL');
    const t0 = performance.now();
    let problem: string | null;
    try {
      problem = await c.exec();
    } catch (err) {
      problem = `the check itself threw: ${(err as Error).stack}`;
    }
    const ms = performance.now() - t0;
    if (!problem && ms > o.slow) problem = `took ${ms.toFixed(0)} ms (limit ${o.slow} ms)`;
    await send({ done: i, index: i, kind: c.kind, name: c.name, problem, ms });
  }
  await send({ end: true });
  process.exit(0);
}

/** Runs one child from case `from`; resolves with the case the next child starts at. */
function runChild(o: Options, from: number, results: Result[]): Promise<number> {
  return new Promise((resolve) => {
    const args = [viteNode, fileURLToPath(import.meta.url), '--child', '--from', String(from), '--runs', String(o.runs), '--seed', String(o.seed), '--kinds', o.kinds.join(','), '--slow', String(o.slow)];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let started = -1, next = from, ended = false, hung = false, name = '', timer: NodeJS.Timeout | undefined;
    const fail = (index: number, problem: string) => {
      results.push({ index, kind: o.kinds[index % o.kinds.length], name: index === started ? name : `case ${index}`, problem, ms: NaN });
    };
    proc.on('message', (m: Msg) => {
      if ('named' in m) name = m.named;
      else if ('start' in m) {
        started = m.start;
        name = m.name;
        clearTimeout(timer);
        timer = setTimeout(() => {
          hung = true;
          fail(started, `hang: no result within ${o.timeout} ms`);
          proc.kill('SIGKILL');
        }, o.timeout);
      } else if ('done' in m) {
        clearTimeout(timer);
        results.push({ index: m.index, kind: m.kind, name: m.name, problem: m.problem, ms: m.ms });
        next = m.index + 1;
      } else ended = true;
    });
    // 'close', not 'exit': it comes after every message the child sent has been delivered.
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (ended) return resolve(o.runs);
      // Killed or died inside case `started` (or before its first case): go on after it.
      const at = started >= next ? started : next;
      if (!hung) fail(at, `the process died during the case (exit ${code}, signal ${signal})`);
      resolve(at + 1);
    });
  });
}

async function parent(o: Options): Promise<number> {
  const t0 = performance.now();
  const results: Result[] = [];
  let at = o.from;
  while (at < o.runs) at = await runChild(o, at, results);
  const seconds = (performance.now() - t0) / 1000;
  const byKind: Record<string, { cases: number; failures: number; known: number; maxMs: number }> = {};
  for (const k of o.kinds) byKind[k] = { cases: 0, failures: 0, known: 0, maxMs: 0 };
  const failures: Result[] = [];
  const known: Record<string, number> = {};
  for (const r of results) {
    byKind[r.kind].cases++;
    const where = r.problem ? knownIssue(r.problem) : undefined;
    if (where) {
      byKind[r.kind].known++;
      known[where] = (known[where] ?? 0) + 1;
    } else if (r.problem) {
      byKind[r.kind].failures++;
      failures.push(r);
    }
    if (r.ms > byKind[r.kind].maxMs) byKind[r.kind].maxMs = Math.round(r.ms);
  }
  console.log(`fuzz: ${results.length} cases (seed ${o.seed}) in ${seconds.toFixed(1)} s, ${failures.length} failures`);
  for (const [k, v] of Object.entries(byKind)) console.log(`  ${k.padEnd(12)} ${String(v.cases).padStart(6)} cases  ${String(v.failures).padStart(4)} failures  ${String(v.known).padStart(4)} known  slowest ${v.maxMs} ms`);
  for (const [where, count] of Object.entries(known)) console.log(`known (not counted): ${count} × ${where}`);
  for (const f of failures) console.log(`FAIL case ${f.index} [${f.kind}] ${f.name}\n     ${f.problem}`);
  if (o.json) console.log(JSON.stringify({ cases: results.length, seconds, byKind, known, failures }));
  return failures.length ? 1 : 0;
}

const o = parseOrExit('fuzz', () => options(process.argv.slice(2)));
if (o.child) await child(o);
else process.exitCode = await parent(o);
