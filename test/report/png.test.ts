// encodePng: a valid PNG (signature, IHDR, CRCs) whose IDAT inflates (node:zlib) to exactly the pixels
// given. imageGridPng: the expected size, each image's pixels in its cell, the signed colour map, the
// row label's glyph where the label is drawn, captions under the cells, and errors naming the problem.
import { inflateSync } from 'node:zlib';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { encodePng, imageGridLayout, imageGridPng, type ImageGrid } from '../../src/report/png.ts';

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Parses a PNG independently of the encoder: checks every CRC, inflates the IDATs and undoes the filters. */
function parsePng(png: Uint8Array) {
  expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  const idat: Uint8Array[] = [];
  let ihdr: Uint8Array | undefined;
  for (let at = 8; at < png.length; ) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    expect(view.getUint32(at + 8 + len), `CRC of ${type}`).toBe(crc32(png.subarray(at + 4, at + 8 + len)));
    types.push(type);
    if (type === 'IHDR') ihdr = data;
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  expect(types[0]).toBe('IHDR');
  expect(types.at(-1)).toBe('IEND');
  const h = new DataView(ihdr!.buffer, ihdr!.byteOffset, 13);
  const [width, height, depth, colorType, interlace] = [h.getUint32(0), h.getUint32(4), ihdr![8], ihdr![9], ihdr![12]];
  expect(depth).toBe(8);
  expect(interlace).toBe(0);
  const channels = ({ 0: 1, 2: 3, 6: 4 } as Record<number, number>)[colorType];
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  expect(raw.length).toBe(height * (stride + 1));
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? out[y * stride + i - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? out[(y - 1) * stride + i - channels] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][filter];
      out[y * stride + i] = (x + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels: out, types };
}

function randomBytes(n: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
}

/** RGB at (x, y) of a decoded 3-channel PNG. */
const at = (img: { width: number; data: ArrayLike<number> }, x: number, y: number) => {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
};

describe('encodePng', () => {
  for (const channels of [1, 3, 4] as const) {
    it(`round-trips ${channels}-channel pixels exactly, with valid chunks and CRCs`, () => {
      const [w, h] = [7, 5];
      const pixels = randomBytes(w * h * channels, channels);
      const png = encodePng(w, h, channels, pixels);
      const parsed = parsePng(png);
      expect([parsed.width, parsed.height, parsed.channels]).toEqual([w, h, channels]);
      expect(parsed.pixels).toEqual(pixels);
      const decoded = decode(png);
      expect(decoded.channels).toBe(channels);
      expect(new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.length)).toEqual(pixels);
      expect(encodePng(w, h, channels, pixels)).toEqual(png); // same pixels, same bytes
    });
  }

  it('rejects bad sizes, channel counts and buffers, naming the problem', () => {
    expect(() => encodePng(2, 2, 3, new Uint8Array(11))).toThrow(/pixels has 11 bytes, expected .* = 12/);
    expect(() => encodePng(0, 2, 1, new Uint8Array(0))).toThrow(/width must be an integer/);
    expect(() => encodePng(2, 1.5, 1, new Uint8Array(3))).toThrow(/height must be an integer/);
    expect(() => encodePng(2, 2, 2 as 1, new Uint8Array(8))).toThrow(/channels must be 1, 3 or 4/);
    expect(() => encodePng(2, 2, 1, [1, 2, 3, 4] as unknown as Uint8Array)).toThrow(/must be a Uint8Array/);
  });
});

describe('imageGridPng', () => {
  it('has the expected size and puts each image pixel, scaled, inside a gray frame', () => {
    // 2×3 gray images at scale 2, no label, no captions: cells are 6×4 inside a 1-pixel frame,
    // 4-pixel margins and gaps: width 4 + 8 + 4 + 8 + 4 = 28, height 4 + 6 + 4 = 14.
    const a = Float32Array.from([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const b = Float32Array.from([1, 0.9, 0.5, 0.25, 0.1, 0]);
    const grid: ImageGrid = { height: 2, width: 3, channels: 1, rows: [{ label: '', images: [a, b] }] };
    const img = decode(imageGridPng(grid));
    expect([img.width, img.height, img.channels]).toEqual([28, 14, 3]);
    expect(imageGridLayout(grid).cells).toEqual([[{ x: 5, y: 5 }, { x: 17, y: 5 }]]);
    for (const [image, x0] of [[a, 5], [b, 17]] as const) {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 6; x++) {
          const g = Math.round(image[Math.floor(y / 2) * 3 + Math.floor(x / 2)] * 255);
          expect(at(img, x0 + x, 5 + y), `pixel (${x}, ${y})`).toEqual([g, g, g]);
        }
      }
      expect(at(img, x0 - 1, 4)).toEqual([176, 176, 176]); // frame corner
      expect(at(img, x0 + 6, 9)).toEqual([176, 176, 176]);
    }
    expect(at(img, 0, 0)).toEqual([255, 255, 255]);
    expect(at(img, 14, 7)).toEqual([255, 255, 255]); // the gap between the cells
  });

  it('shows RGB images in colour and signed rows blue / white / red scaled by the row max', () => {
    const rgb = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5]); // 2×2 RGB
    const d1 = Float32Array.from([-0.5, 0, 0, 0.25, 0, 0, 0.5, 0.5, 0.5, 0, 0, 0]); // pixel means: −1/6, 1/12, 1/2, 0
    const d2 = Float32Array.from([0.1, 0.1, 0.1, -0.25, -0.25, -0.25, 0, 0, 0, 0, 0, 0]); // 0.1, -0.25, 0, 0
    const grid: ImageGrid = { height: 2, width: 2, channels: 3, scale: 1, rows: [{ label: '', images: [rgb] }, { label: '', images: [d1, d2], kind: 'signed' }] };
    const img = decode(imageGridPng(grid));
    const { cells } = imageGridLayout(grid);
    const c0 = cells[0][0];
    expect([at(img, c0.x, c0.y), at(img, c0.x + 1, c0.y), at(img, c0.x, c0.y + 1), at(img, c0.x + 1, c0.y + 1)]).toEqual([
      [255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128],
    ]);
    const fade = (t: number) => Math.round((1 - Math.abs(t)) * 255);
    const [s1, s2] = cells[1];
    expect(at(img, s1.x, s1.y)).toEqual([fade(1 / 3), fade(1 / 3), 255]); // −1/6 of max 1/2: light blue
    expect(at(img, s1.x + 1, s1.y)).toEqual([255, fade(1 / 6), fade(1 / 6)]);
    expect(at(img, s1.x, s1.y + 1)).toEqual([255, 0, 0]); // the row max: pure red
    expect(at(img, s1.x + 1, s1.y + 1)).toEqual([255, 255, 255]); // zero: white
    expect(at(img, s2.x + 1, s2.y)).toEqual([fade(0.5), fade(0.5), 255]);
  });

  it('draws the row label glyph where the label goes, and captions under their cells', () => {
    // 'H' at font scale 1, left margin 4; cells 10×10 at scale 2 → label 5 + (20 − 7) / 2 = 11 down.
    const H = ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'];
    const x = new Float32Array(100).fill(0.5);
    const grid: ImageGrid = { height: 10, width: 10, channels: 1, rows: [{ label: 'H', images: [x, x] }, { label: 'H', images: [x] }], captions: [['y=7 p=3', 'L∞ 0.3'], ['']] };
    const layout = imageGridLayout(grid);
    expect(layout.labels[0]).toEqual({ x: 4, y: 11 });
    const img = decode(imageGridPng(grid));
    for (let gy = 0; gy < 7; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        const ink = H[gy][gx] === '#';
        expect(at(img, 4 + gx, 11 + gy), `label pixel (${gx}, ${gy})`).toEqual(ink ? [0, 0, 0] : [255, 255, 255]);
      }
    }
    // label column: 4 + 5 + 2·4 = 17. Column 0 is as wide as 'y=7 p=3' (7·6 − 1 = 41) plus one advance
    // (6), more than the 22-pixel framed cell; the cell is centred in it: 17 + (47 − 22) / 2 + 1 = 30.
    // Column 1 starts at 17 + 47 + 4 = 68, as wide as 'L∞ 0.3' (35) + 6: 68 + (41 − 22) / 2 + 1 = 78.
    expect(layout.cells[0][0]).toEqual({ x: 30, y: 5 });
    expect(layout.cells[0][1]).toEqual({ x: 78, y: 5 });
    expect(img.width).toBe(68 + 41 + 4);
    // the captions' ink lies in a band just under the cells, centred under each cell
    for (const c of [0, 1]) {
      const cell = layout.cells[0][c];
      const inked: [number, number][] = [];
      for (let y = cell.y + 20; y < cell.y + 20 + 12; y++) {
        for (let xx = cell.x - 12; xx < cell.x + 32; xx++) if (at(img, xx, y)[0] === 0) inked.push([xx, y]);
      }
      expect(inked.length, `caption ${c} ink`).toBeGreaterThan(20);
      const ys = inked.map((p) => p[1]), xs = inked.map((p) => p[0]);
      expect(Math.min(...ys)).toBeGreaterThan(cell.y + 20); // below the frame
      expect(Math.abs((Math.min(...xs) + Math.max(...xs)) / 2 - (cell.x + 10))).toBeLessThanOrEqual(3);
    }
    // the second row has no captions: no caption band, so the image stays 20 + 2 + 4 below row 0's band
    expect(layout.cells[1][0].y).toBe(5 + 22 + 2 + 7 + 4);
    expect(img.height).toBe(layout.height);
    expect(layout.height).toBe(4 + (22 + 2 + 7) + 4 + 22 + 4);
  });

  it('doubles the font at scale ≥ 3 and is deterministic', () => {
    const x = new Float32Array(4).fill(1);
    const grid: ImageGrid = { height: 2, width: 2, channels: 1, scale: 4, rows: [{ label: 'adv', images: [x] }] };
    expect(imageGridLayout(grid).fontScale).toBe(2);
    expect(imageGridLayout({ ...grid, scale: 3 }).fontScale).toBe(2);
    expect(imageGridLayout({ ...grid, scale: 2 }).fontScale).toBe(1);
    expect(imageGridPng(grid)).toEqual(imageGridPng(grid));
  });

  it('makes a row as tall as its label when the images are smaller, and draws doubled glyphs as 2×2 blocks', () => {
    // a 1×1 image at scale 3 (framed: 5 pixels) next to a 14-pixel 'H': the row band is 14 tall
    const grid: ImageGrid = { height: 1, width: 1, channels: 1, scale: 3, rows: [{ label: 'H', images: [Float32Array.of(1)] }] };
    const layout = imageGridLayout(grid);
    expect(layout.labels[0]).toEqual({ x: 4, y: 4 });
    expect(layout.cells[0][0].y).toBe(4 + 4 + 1);
    expect(layout.height).toBe(4 + 14 + 4);
    const img = decode(imageGridPng(grid));
    for (const [x, y] of [[4, 4], [5, 5], [4, 17], [12, 4], [13, 5], [6, 10], [10, 11]]) expect(at(img, x, y), `ink at (${x}, ${y})`).toEqual([0, 0, 0]);
    for (const [x, y] of [[6, 4], [11, 5], [6, 8], [14, 4], [4, 18]]) expect(at(img, x, y), `paper at (${x}, ${y})`).toEqual([255, 255, 255]);
  });

  it('rejects bad input with a message naming the problem', () => {
    const ok = (): ImageGrid => ({ height: 2, width: 2, channels: 1, rows: [{ label: 'clean', images: [new Float32Array(4)] }] });
    const nan = Float32Array.from([0, 0, 0, NaN]);
    expect(() => imageGridPng({ ...ok(), rows: [{ label: 'adv', images: [new Float32Array(4), nan] }] })).toThrow(/row 0 \("adv"\) image 1: value 3 is NaN/);
    expect(() => imageGridPng({ ...ok(), rows: [{ label: 'a', images: [new Float32Array(5)] }] })).toThrow(/image 0 has 5 values, expected .* = 4/);
    expect(() => imageGridPng({ ...ok(), rows: [{ label: 'a', images: [Float32Array.from([0, 2, 0, 0])] }] })).toThrow(/value 1 is 2, outside \[0, 1\]/);
    expect(() => imageGridPng({ ...ok(), rows: [{ label: 'a', images: [Float32Array.from([0, -2, 0, 0])], kind: 'signed' }] })).not.toThrow();
    expect(() => imageGridPng({ ...ok(), rows: [] })).toThrow(/rows must be a non-empty array/);
    expect(() => imageGridPng({ ...ok(), rows: [{ label: 'a', images: [] }] })).toThrow(/no images/);
    expect(() => imageGridPng({ ...ok(), captions: [['a', 'b']] })).toThrow(/captions\[0\] must have one string per image of row 0 \(1\), got 2/);
    expect(() => imageGridPng({ ...ok(), captions: [] })).toThrow(/captions must have one array per row \(1\), got 0/);
    expect(() => imageGridPng({ ...ok(), scale: 0 })).toThrow(/scale must be an integer/);
    expect(() => imageGridPng({ ...ok(), channels: 4 as 3 })).toThrow(/channels must be 1 or 3/);
    expect(() => imageGridPng({ ...ok(), width: 2.5 })).toThrow(/width must be an integer/);
    expect(() => imageGridPng({ ...ok(), rows: [{ label: 'a', images: [new Float64Array(4) as unknown as Float32Array] }] })).toThrow(/must be a Float32Array/);
  });
});
