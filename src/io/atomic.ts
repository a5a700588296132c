// Crash-safe file writes: the bytes go to a temporary file next to the target, are flushed to disk
// (fsync), and the temporary file is renamed over the target; the directory is then flushed too, so
// the rename itself survives a power cut. A reader, or a run killed at any moment (SIGKILL included,
// test/io/kill.test.ts), sees either the old complete file or the new complete one, never a mix.
// A failed write leaves the target as it was and no temporary file behind, and its error names the
// target: "cannot write PATH: <reason>".
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';

function cannotWrite(path: string, err: unknown): Error {
  const e = new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  (e as NodeJS.ErrnoException).code = (err as NodeJS.ErrnoException).code;
  return e;
}

function syncDir(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot open or flush a directory; the file itself is already on disk.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may not exist
    }
    throw cannotWrite(path, err);
  }
  syncDir(path);
}

/**
 * Throws "cannot write PATH: <reason>" unless writeFileAtomic(path, …) can succeed: the path is not
 * a directory and its directory takes a new file (checked by creating and removing a probe file).
 * Commands call it on every output path before any long work.
 */
export function checkWritable(path: string): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // a new file: fine
  }
  if (isDir) throw new Error(`cannot write ${path}: it is a directory`);
  const probe = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (err) {
    throw cannotWrite(path, err);
  }
}
