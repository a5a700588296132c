// The package version, as package.json states it (test/serve/server.test.ts checks that they agree).
// A module of its own, not a read of package.json, so that it loads in a browser as well.
export const VERSION = '0.1.0';
