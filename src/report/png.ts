// PNG output: an encoder for 8-bit pixels (fast-png, pure JS) and image grids of examples, e.g. clean,
// adversarial and perturbation rows with labels and predictions under each cell.
//
// encodePng: pixels are row-major, `channels` bytes per pixel (1 gray, 3 RGB, 4 RGBA), no padding
// between rows; the PNG is 8-bit, non-interlaced, with no ancillary chunks (the same pixels give the
// same bytes).
//
// imageGridPng: each image is a Float32Array of height × width × channels values in HWC order (one
// NHWC example). A grid row holds one row of images: 'image' rows show values in [0, 1] as gray (or
// RGB); 'signed' rows (perturbations) map each pixel's value v (the mean over channels for RGB) to
// blue (−) / white (0) / red (+), scaled so that the largest |v| in the row is full colour. Each image
// pixel becomes a scale × scale block, framed by a one-pixel gray border. Row labels are drawn on the
// left, captions under the cells, in a 5×7 bitmap font (font.ts; at scale ≥ 3 the text is doubled).
// The output is an RGB PNG on white; `imageGridLayout` gives the geometry it uses.
import { encode } from 'fast-png';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, drawText, textWidth } from './font.ts';

/** Encodes 8-bit grayscale (channels 1), RGB (3) or RGBA (4) pixels, row-major. */
export function encodePng(width: number, height: number, channels: 1 | 3 | 4, pixels: Uint8Array): Uint8Array {
  checkDimension('encodePng', 'width', width);
  checkDimension('encodePng', 'height', height);
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new RangeError(`encodePng: channels must be 1, 3 or 4, got ${channels}`);
  if (!(pixels instanceof Uint8Array)) throw new TypeError('encodePng: pixels must be a Uint8Array');
  const expected = width * height * channels;
  if (pixels.length !== expected) {
    throw new RangeError(`encodePng: pixels has ${pixels.length} bytes, expected width × height × channels = ${width} × ${height} × ${channels} = ${expected}`);
  }
  return encode({ width, height, channels, depth: 8, data: pixels });
}

export interface GridRow {
  label: string;
  images: Float32Array[];
  /** 'image': values in [0,1] shown as gray; 'signed': perturbations, shown blue(−)/white(0)/red(+), scaled so max |v| of the row maps to full colour */
  kind?: 'image' | 'signed';
}

export interface ImageGrid {
  height: number;
  width: number;
  channels: 1 | 3;
  rows: GridRow[];
  /** optional text under each column's cells, e.g. 'y=7 p=3' per row: captions[row][col] */
  captions?: string[][];
  /** integer upscaling, default 2 */
  scale?: number;
}

/** Where imageGridPng draws everything, in output pixels (x right, y down, top-left corners). */
export interface ImageGridLayout {
  width: number;
  height: number;
  /** size of one drawn image: the image's width and height times scale */
  cellWidth: number;
  cellHeight: number;
  /** scale of the 5×7 font (1, or 2 when the grid's scale is ≥ 3) */
  fontScale: number;
  /** cells[row][col]: top-left of the image's first pixel block (the border is one pixel outside) */
  cells: { x: number; y: number }[][];
  /** labels[row]: top-left of the row label's text */
  labels: { x: number; y: number }[];
  /** captions[row][col]: top-left of the caption's text (absent when the grid has no captions) */
  captions?: { x: number; y: number }[][];
}

const MARGIN = 4;
const GAP = 4;
const MAX_SIDE = 16384;
const WHITE = 255;
const BORDER: [number, number, number] = [176, 176, 176];
const INK: [number, number, number] = [0, 0, 0];
/** 'image' values may exceed [0, 1] by this much (rounding) and are clamped; more is an error. */
const RANGE_TOLERANCE = 1e-3;

/** Renders the grid (row labels on the left, captions under cells) as PNG bytes. */
export function imageGridPng(grid: ImageGrid): Uint8Array {
  const layout = imageGridLayout(grid);
  const { width: W, height: H, cellWidth, cellHeight, fontScale } = layout;
  const scale = grid.scale ?? 2;
  const rgb = new Uint8Array(W * H * 3).fill(WHITE);
  grid.rows.forEach((row, r) => {
    const maxAbs = row.kind === 'signed' ? rowMaxAbs(row, grid.channels) : 0;
    row.images.forEach((img, c) => {
      const { x, y } = layout.cells[r][c];
      fillRect(rgb, W, x - 1, y - 1, cellWidth + 2, cellHeight + 2, BORDER);
      for (let iy = 0; iy < grid.height; iy++) {
        for (let ix = 0; ix < grid.width; ix++) {
          const color = row.kind === 'signed' ? signedColor(img, (iy * grid.width + ix) * grid.channels, grid.channels, maxAbs) : imageColor(img, (iy * grid.width + ix) * grid.channels, grid.channels);
          fillRect(rgb, W, x + ix * scale, y + iy * scale, scale, scale, color);
        }
      }
    });
    drawText(rgb, W, layout.labels[r].x, layout.labels[r].y, row.label, fontScale, INK);
    if (layout.captions) grid.captions![r].forEach((text, c) => drawText(rgb, W, layout.captions![r][c].x, layout.captions![r][c].y, text, fontScale, INK));
  });
  return encodePng(W, H, 3, rgb);
}

/** The geometry of a grid (validating it first): output size, cell, label and caption positions. */
export function imageGridLayout(grid: ImageGrid): ImageGridLayout {
  validateGrid(grid);
  const scale = grid.scale ?? 2;
  const fontScale = scale >= 3 ? 2 : 1;
  const textHeight = GLYPH_HEIGHT * fontScale;
  const cellWidth = grid.width * scale;
  const cellHeight = grid.height * scale;
  const nCols = Math.max(...grid.rows.map((row) => row.images.length));
  const captions = grid.captions;

  // Column widths: the framed cell, or the widest caption of the column plus one character's advance
  // if wider (so neighbouring captions stay further apart than the words within one).
  const colWidth = Array.from({ length: nCols }, (_, c) => {
    let w = cellWidth + 2;
    if (captions) for (const row of captions) if (row[c]) w = Math.max(w, textWidth(row[c], fontScale) + GLYPH_ADVANCE * fontScale);
    return w;
  });
  const labelWidth = Math.max(...grid.rows.map((row) => textWidth(row.label, fontScale)));
  const colX: number[] = [];
  let x = MARGIN + (labelWidth > 0 ? labelWidth + 2 * GAP : 0);
  for (const w of colWidth) {
    colX.push(x);
    x += w + GAP;
  }
  const width = x - GAP + MARGIN;

  const cells: { x: number; y: number }[][] = [];
  const labels: { x: number; y: number }[] = [];
  const captionAt: { x: number; y: number }[][] = [];
  let y = MARGIN;
  grid.rows.forEach((row, r) => {
    // The band of framed cells is at least as tall as the label (tiny images), both centred in it.
    const band = Math.max(cellHeight + 2, row.label === '' ? 0 : textHeight);
    const cellY = y + Math.floor((band - cellHeight - 2) / 2) + 1;
    cells.push(row.images.map((_, c) => ({ x: colX[c] + Math.floor((colWidth[c] - cellWidth - 2) / 2) + 1, y: cellY })));
    labels.push({ x: MARGIN, y: y + Math.floor((band - textHeight) / 2) });
    y += band;
    if (captions) {
      const texts = captions[r];
      captionAt.push(texts.map((t, c) => ({ x: colX[c] + Math.floor((colWidth[c] - textWidth(t, fontScale)) / 2), y: y + 2 })));
      if (texts.some((t) => t !== '')) y += 2 + textHeight;
    }
    y += GAP;
  });
  const height = y - GAP + MARGIN;
  if (width > MAX_SIDE || height > MAX_SIDE) throw new RangeError(`imageGridPng: the grid would be ${width} × ${height} pixels, more than ${MAX_SIDE} on a side`);
  return { width, height, cellWidth, cellHeight, fontScale, cells, labels, ...(captions ? { captions: captionAt } : {}) };
}

function validateGrid(grid: ImageGrid): void {
  if (grid === null || typeof grid !== 'object') throw new TypeError('imageGridPng: grid must be an object');
  checkDimension('imageGridPng', 'height', grid.height);
  checkDimension('imageGridPng', 'width', grid.width);
  if (grid.channels !== 1 && grid.channels !== 3) throw new RangeError(`imageGridPng: channels must be 1 or 3, got ${grid.channels}`);
  const scale = grid.scale ?? 2;
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw new RangeError(`imageGridPng: scale must be an integer in [1, 64], got ${grid.scale}`);
  if (!Array.isArray(grid.rows) || grid.rows.length === 0) throw new RangeError('imageGridPng: rows must be a non-empty array');
  const size = grid.height * grid.width * grid.channels;
  grid.rows.forEach((row, r) => {
    if (row === null || typeof row !== 'object' || typeof row.label !== 'string') throw new TypeError(`imageGridPng: rows[${r}].label must be a string`);
    if (row.kind !== undefined && row.kind !== 'image' && row.kind !== 'signed') throw new RangeError(`imageGridPng: rows[${r}].kind must be 'image' or 'signed', got ${String(row.kind)}`);
    if (!Array.isArray(row.images)) throw new TypeError(`imageGridPng: rows[${r}].images must be an array`);
    row.images.forEach((img, c) => {
      const where = `imageGridPng: row ${r} ("${row.label}") image ${c}`;
      if (!(img instanceof Float32Array)) throw new TypeError(`${where} must be a Float32Array`);
      if (img.length !== size) throw new RangeError(`${where} has ${img.length} values, expected height × width × channels = ${grid.height} × ${grid.width} × ${grid.channels} = ${size}`);
      for (let i = 0; i < img.length; i++) {
        const v = img[i];
        if (!Number.isFinite(v)) throw new RangeError(`${where}: value ${i} is ${v}`);
        if (row.kind !== 'signed' && (v < -RANGE_TOLERANCE || v > 1 + RANGE_TOLERANCE)) {
          throw new RangeError(`${where}: value ${i} is ${v}, outside [0, 1] (use kind 'signed' for perturbations)`);
        }
      }
    });
  });
  if (grid.rows.every((row) => row.images.length === 0)) throw new RangeError('imageGridPng: the grid has no images');
  if (grid.captions !== undefined) {
    const caps = grid.captions;
    if (!Array.isArray(caps) || caps.length !== grid.rows.length) throw new RangeError(`imageGridPng: captions must have one array per row (${grid.rows.length}), got ${Array.isArray(caps) ? caps.length : typeof caps}`);
    caps.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== grid.rows[r].images.length) {
        throw new RangeError(`imageGridPng: captions[${r}] must have one string per image of row ${r} (${grid.rows[r].images.length}), got ${Array.isArray(row) ? row.length : typeof row}`);
      }
      row.forEach((t, c) => {
        if (typeof t !== 'string') throw new TypeError(`imageGridPng: captions[${r}][${c}] must be a string`);
      });
    });
  }
}

function checkDimension(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) throw new RangeError(`${fn}: ${name} must be an integer in [1, ${MAX_SIDE}], got ${v}`);
}

function rowMaxAbs(row: GridRow, channels: number): number {
  let m = 0;
  for (const img of row.images) {
    for (let p = 0; p < img.length; p += channels) m = Math.max(m, Math.abs(pixelMean(img, p, channels)));
  }
  return m;
}

function pixelMean(img: Float32Array, p: number, channels: number): number {
  if (channels === 1) return img[p];
  return (img[p] + img[p + 1] + img[p + 2]) / 3;
}

const toByte = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);

function imageColor(img: Float32Array, p: number, channels: number): [number, number, number] {
  if (channels === 1) {
    const g = toByte(img[p]);
    return [g, g, g];
  }
  return [toByte(img[p]), toByte(img[p + 1]), toByte(img[p + 2])];
}

/** White at 0, pure red at +maxAbs, pure blue at −maxAbs, linear in between. */
function signedColor(img: Float32Array, p: number, channels: number, maxAbs: number): [number, number, number] {
  const t = maxAbs > 0 ? pixelMean(img, p, channels) / maxAbs : 0;
  const fade = toByte(1 - Math.abs(t));
  return t >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

function fillRect(rgb: Uint8Array, W: number, x: number, y: number, w: number, h: number, color: [number, number, number]): void {
  for (let yy = y; yy < y + h; yy++) {
    for (let xx = x; xx < x + w; xx++) rgb.set(color, (yy * W + xx) * 3);
  }
}
