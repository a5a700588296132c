import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // npm run test:browser sets MULTIROBUST_BROWSER: the Chromium tests (test/browser/*.browser.ts) only.
    include: process.env.MULTIROBUST_BROWSER ? ['test/browser/**/*.browser.ts'] : ['test/**/*.test.ts'],
    // Kernel sweeps are CPU-bound; two forks match the 2-core CI machine.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
