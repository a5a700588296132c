// `multirobust serve`: the browser page (src/serve/), on 127.0.0.1 by default.
//
//   multirobust serve [--checkpoint runs/start/last.safetensors | model.onnx] [--port 8080] [--host 127.0.0.1]
//
// Prints the page's address on stdout and serves until SIGINT/SIGTERM. Bad input (a checkpoint that
// is not a readable .safetensors file, a bad or busy port) is one line on stderr and exit 2.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createAppServer, PACKAGE_ROOT } from '../serve/server.ts';
import { intFlag, UsageError } from './flags.ts';

type Values = Record<string, string | boolean | undefined>;

export const serveCommand = {
  summary: 'serve the browser page: the engine in the page (worker threads when cross-origin isolated), attacks on a checkpoint, the URL contract ?checkpoint=…&attacks=…&run=1',
  usage: 'multirobust serve [--checkpoint FILE] [--port 8080] [--host 127.0.0.1]',
  options: {
    checkpoint: { type: 'string' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'log-requests': { type: 'boolean', default: false },
  },
  descriptions: {
    checkpoint: 'the model the page uses when its URL names none: a safetensors checkpoint of the paper\'s CNN (PyTorch names) or an ONNX model (.onnx)',
    port: 'TCP port; 0 picks a free one (default 8080)',
    host: 'address to listen on (default 127.0.0.1: this machine only; the page can read any .safetensors file the server can)',
    'log-requests': 'one line per request on stderr',
  },
  async run(values: Values) {
    const port = intFlag('port', values.port as string, { min: 0, max: 65535 })!;
    const checkpoint = values.checkpoint as string | undefined;
    if (checkpoint !== undefined) {
      if (!checkpoint.endsWith('.safetensors') && !checkpoint.endsWith('.onnx')) throw new UsageError(`--checkpoint ${checkpoint}: not a .safetensors or .onnx file`);
      if (!existsSync(checkpoint) || !statSync(checkpoint).isFile()) throw new UsageError(`--checkpoint ${checkpoint}: no such file`);
    }
    if (!existsSync(join(PACKAGE_ROOT, 'dist', 'serve', 'app_worker.js'))) throw new UsageError('the compiled modules (dist/) are missing: run npm run build');
    const server = createAppServer({ checkpoint, log: values['log-requests'] ? (s) => process.stderr.write(`${s}\n`) : undefined });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new UsageError(`--port ${port}: already in use`) : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' ? new UsageError(`--host ${values.host}: cannot listen there (${err.code})`) : err));
      server.listen(port, values.host as string, () => resolve());
    });
    const address = server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    const shown = String(values.host).includes(':') ? `[${values.host}]` : values.host;
    console.log(`multirobust serve: http://${shown}:${actual}/${checkpoint ? ` (checkpoint ${checkpoint})` : ''}`);
    console.log(`  evaluate on load: http://${shown}:${actual}/?checkpoint=PATH&attacks=linf:0.3,l2:2&n=100&seed=0&threads=2&run=1`);
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
