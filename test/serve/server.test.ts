// multirobust serve's server without a browser (the browser tests are test/browser/, npm run
// test:browser): the isolation headers on every response, the module rewriting and the node:
// stubs (which must load as modules), paths that cannot leave their directory, the checkpoint
// route, the version constant, and the command's bad input (one line, exit 2).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServer, nodeImports, nodeStub, PACKAGE_ROOT, rewriteModule } from '../../src/serve/server.ts';
import { VERSION } from '../../src/version.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-'));
writeFileSync(join(dir, 'm.safetensors'), 'not really safetensors');
writeFileSync(join(dir, 'secret.txt'), 'secret');
const server = createAppServer({ cwd: dir, checkpoint: 'm.safetensors' });
let base = '';

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('the server', () => {
  it('serves the page, the modules, the kernels and the data with the isolation headers', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/dist/serve/app_worker.js', 'text/javascript'], ['/dist/wasm/worker.js', 'text/javascript'], ['/build/multirobust.wasm', 'application/wasm'], ['/node_modules/@assemblyscript/loader/index.js', 'text/javascript'], ['/@node/fs.js', 'text/javascript'], ['/data/mnist/t10k-labels-idx1-ubyte', 'application/octet-stream'], ['/checkpoint?path=m.safetensors', 'application/octet-stream']]) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(type);
      expect(res.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
      expect(res.headers.get('cross-origin-embedder-policy'), path).toBe('require-corp');
      expect(res.headers.get('cross-origin-resource-policy'), path).toBe('same-origin');
    }
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toMatch(/id="report"/);
    expect(page).toMatch(/data-checkpoint="m\.safetensors"/);
    const noIso = await fetch(`${base}/?noisolation=1`);
    expect(noIso.headers.get('cross-origin-embedder-policy')).toBeNull();
    expect((await (await fetch(`${base}/data/mnist/t10k-labels-idx1-ubyte`)).arrayBuffer()).byteLength).toBe(10008);
  });

  it('rewrites bare and node: imports of the served modules', async () => {
    const worker = await (await fetch(`${base}/dist/wasm/load.js`)).text();
    expect(worker).toMatch(/from '\/node_modules\/@assemblyscript\/loader\/index\.js'/);
    // A package's "exports" map: onnx-buf's own import of @bufbuild/protobuf/codegenv2.
    const onnxBuf = await (await fetch(`${base}/node_modules/onnx-buf/dist/onnx_pb.js`)).text();
    expect(onnxBuf).toMatch(/from "\/node_modules\/@bufbuild\/protobuf\/dist\/esm\/codegenv2\/index\.js"/);
    expect((await fetch(`${base}/node_modules/@bufbuild/protobuf/dist/esm/codegenv2/index.js`)).status).toBe(200);
    expect(worker).not.toMatch(/from ['"]@assemblyscript/);
    // The evaluation's resume state (eval/state.ts) reads its file with node:fs.
    const report = await (await fetch(`${base}/dist/eval/state.js`)).text();
    expect(report).toMatch(/from '\/@node\/fs\.js'/);
    expect(rewriteModule(`import { a } from "node:fs/promises";\nconst m = await import('node:os');`)).toBe(`import { a } from "/@node/fs/promises.js";\nconst m = await import('node:os');`);
  });

  it('node: stubs load as modules, export every imported name, and throw when used', async () => {
    const imports = nodeImports(join(PACKAGE_ROOT, 'dist'));
    expect([...imports.get('fs')!]).toEqual(expect.arrayContaining(['readFileSync', 'existsSync']));
    for (const [mod, names] of imports) {
      const m = await import(`data:text/javascript,${encodeURIComponent(nodeStub(mod, names))}`);
      for (const name of names) if (name !== '*' && name !== 'default') expect(() => m[name](), `${mod}.${name}`).toThrow(`node:${mod} ${name} is not available in a browser`);
      expect(() => m.default.anything).toThrow(/not available in a browser/);
    }
  });

  it('never serves a file outside its directory, and only .safetensors checkpoints', async () => {
    for (const path of ['/node_modules/..%2fdist%2fcli%2fbin.js', '/node_modules/@assemblyscript/loader/%2e%2e%2f%2e%2e%2f%2e%2e/package.json', '/node_modules/nope-no-such-pkg/index.js', '/dist/../package.json', '/dist/%2e%2e/package.json', '/build/..%2fpackage.json.wasm', '/data/mnist/..%2f..%2fpackage.json', '/elsewhere']) {
      expect((await fetch(base + path)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/checkpoint?path=secret.txt`)).status).toBe(400);
    expect((await fetch(`${base}/checkpoint?path=missing.onnx`)).status).toBe(404);
    expect((await fetch(`${base}/checkpoint?path=missing.safetensors`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });

  it('VERSION is package.json\'s version', () => {
    expect(VERSION).toBe(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version);
  });
});

describe('npm run test:browser without a browser', () => {
  it('fails with one line saying how to install Chromium', async () => {
    const err = await promisify(execFile)(process.execPath, [join(PACKAGE_ROOT, 'test/browser/chromium.mjs')], { env: { ...process.env, MULTIROBUST_CHROMIUM: join(dir, 'no-such-chromium') } }).then(() => null, (e) => e);
    expect(err?.code).toBe(1);
    expect(err.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^npm run test:browser: no Chromium found: install it with `apt-get install -y chromium-headless-shell`/)]);
  });
});

describe('multirobust serve', () => {
  const run = (args: string[]) => promisify(execFile)(process.execPath, [join(PACKAGE_ROOT, 'dist/cli/bin.js'), 'serve', ...args]).then(() => null, (e) => e);
  it('bad input is one line and exit 2', async () => {
    for (const [args, msg] of [[['--checkpoint', 'nope.safetensors'], /no such file/], [['--checkpoint', join(dir, 'secret.txt')], /not a \.safetensors or \.onnx file/], [['--port', '70000'], /--port/], [['--bogus'], /bogus/]] as [string[], RegExp][]) {
      const err = await run(args);
      expect(err?.code, args.join(' ')).toBe(2);
      expect(err.stderr.trim().split('\n'), args.join(' ')).toEqual([expect.stringMatching(msg)]);
    }
  });

  it('a busy port is one line and exit 2', async () => {
    const port = (server.address() as AddressInfo).port;
    const err = await run(['--port', String(port)]);
    expect(err?.code).toBe(2);
    expect(err.stderr.trim()).toMatch(/already in use/);
  });
});
