// Child of test/io/kill.test.ts (run by Deno on the TypeScript sources): rewrites two files forever,
// a safetensors checkpoint through writeSafetensors and a JSON report through writeFileAtomic, each
// version self-describing (every value equals the version number; the JSON carries a checksum).
// Prints "start K" before and "done K" after writing version K, so the parent knows whether its
// SIGKILL landed during a write.
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';

const [dir, first] = Deno.args;
const N = 1 << 18; // 1 MiB of float32 per checkpoint
const enc = new TextEncoder();
const say = (s: string) => Deno.stdout.writeSync(enc.encode(`${s}\n`));
for (let k = Number(first); ; k++) {
  say(`start ${k}`);
  writeSafetensors(`${dir}/model.safetensors`, { w: { dtype: 'F32', shape: [N], data: new Float32Array(N).fill(k) } }, { version: String(k) });
  const payload = 'x'.repeat(200_000 + (k % 7) * 1000);
  writeFileAtomic(`${dir}/report.json`, JSON.stringify({ version: k, length: payload.length, payload }));
  say(`done ${k}`);
}
