// Where Chromium is, for `npm run test:browser` (and the browser tests): $MULTIROBUST_CHROMIUM, or
// Debian's chromium-headless-shell or chromium. Run as a script it checks that one exists and
// otherwise prints one line saying how to install it (exit 1).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CANDIDATES = ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function findChromium() {
  const env = process.env.MULTIROBUST_CHROMIUM;
  if (env) return existsSync(env) ? env : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const INSTALL_HINT = 'no Chromium found: install it with `apt-get install -y chromium-headless-shell` (Debian), or point MULTIROBUST_CHROMIUM at a Chromium binary';

/** Launch flags for a root user on a closed network (no sandbox, no background connections). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!findChromium()) {
    console.error(`npm run test:browser: ${INSTALL_HINT}`);
    process.exit(1);
  }
}
