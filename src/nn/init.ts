// Seeded random numbers and named weight initialisers.
//
// Every random choice in multirobust takes an `Rng`: same seed, same numbers, on every runtime.
// The generator is xoshiro128** (four 32-bit words of state), so its state fits a checkpoint's
// metadata as a short string and training can resume bit-identically.

export class Rng {
  private s: Uint32Array;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`Rng: seed must be an integer, got ${seed}`);
    // splitmix32 expands the seed into the four state words (never all zero).
    this.s = new Uint32Array(4);
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.s[i] = (t ^ (t >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller; one draw per call, deterministic). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** The state as a string, for checkpoints. */
  getState(): string {
    return Array.from(this.s, (w) => w.toString(16).padStart(8, '0')).join('');
  }

  setState(state: string): this {
    if (!/^[0-9a-f]{32}$/.test(state)) throw new RangeError(`Rng.setState: expected 32 hex digits, got '${state}'`);
    for (let i = 0; i < 4; i++) this.s[i] = parseInt(state.slice(8 * i, 8 * i + 8), 16);
    return this;
  }

  static fromState(state: string): Rng {
    return new Rng(0).setState(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Fills `out` with an initialiser's values; `fanIn`/`fanOut` as Keras/TF count them. */
export type Initializer = (out: Float32Array, fanIn: number, fanOut: number, rng: Rng) => void;

/** Glorot/Xavier uniform: U(±sqrt(6 / (fanIn + fanOut))). TF/Keras's default (the reference's). */
export const glorotUniform: Initializer = (out, fanIn, fanOut, rng) => {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
};

/** He/Kaiming normal: N(0, 2 / fanIn). */
export const heNormal: Initializer = (out, fanIn, _fanOut, rng) => {
  const std = Math.sqrt(2 / fanIn);
  for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
};

/** He/Kaiming uniform: U(±sqrt(6 / fanIn)). */
export const heUniform: Initializer = (out, fanIn, _fanOut, rng) => {
  const limit = Math.sqrt(6 / fanIn);
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
};

export const zeros: Initializer = (out) => {
  out.fill(0);
};

export const initializers = { glorotUniform, heNormal, heUniform, zeros } as const;
export type InitializerName = keyof typeof initializers;
