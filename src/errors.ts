// The library's error for bad input from a user, a file or a token (a flag value, a checkpoint
// that does not load, an unknown model name): library code throws InputError, and any front end
// decides what to do with it. The command line (src/cli/main.ts) prints its message on one line
// and exits with code 2; any other error is a bug or a failure of the machine (exit code 1).

/** Bad input (a value, a file, a token) rather than a failure: the CLI prints one line and exits 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
