// `multirobust merge`: the partial reports of a sharded evaluation (eval --shard K/N) merged into
// the report an unsharded run writes (src/eval/shard.ts).
import { readFileSync } from 'node:fs';
import { formatReport } from '../eval/evaluate.ts';
import { mergeShards } from '../eval/shard.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { UsageError } from './flags.ts';
import { asUsage, checkOutputs, type Values } from './inputs.ts';

export const mergeCommand = {
  summary: 'merge the partial reports of a sharded evaluation (eval --shard K/N) into the report an unsharded run writes',
  usage: 'multirobust merge PART.json… --out report.json',
  positionals: true,
  options: {
    out: { type: 'string' },
  },
  descriptions: {
    out: 'write the merged report as JSON (required)',
  },
  async run(values: Values, files: string[]) {
    if (!values.out) throw new UsageError('--out FILE is required');
    if (!files.length) throw new UsageError('give the partial reports of every shard (multirobust merge part1.json part2.json … --out report.json)');
    checkOutputs({ out: values.out });
    const parts = files.map((f) => asUsage(f, () => JSON.parse(readFileSync(f, 'utf8')) as unknown));
    const report = asUsage('merge', () => mergeShards(parts, files));
    console.log(formatReport(report));
    writeFileAtomic(values.out as string, `${JSON.stringify(report, null, 2)}\n`);
  },
};
