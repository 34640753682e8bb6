/**
 * PNG images for the report: real fields (amplitude, phase) mapped through a colour scheme and encoded
 * with pngjs. Colour schemes come from vega's scheme registry (the same palettes as the plots), sampled
 * once into a 256-entry lookup table. Difference maps (reconstruction − ground truth) use a diverging
 * scheme on a scale symmetric about zero, so that white means "equal" in every map.
 */
import type { ComplexImage } from "@studykit/ptycho";
import { PNG } from "pngjs";
import * as vega from "vega";
import { globalPhaseOffset } from "../reconstruction-metrics.js";

/** Options of {@link renderFieldPng}. */
export interface FieldImageOptions {
  /** Value mapped to the first colour; values below are clamped. */
  readonly min: number;
  /** Value mapped to the last colour. */
  readonly max: number;
  /**
   * A vega scheme name: `greys` (reversed: dark = low) for amplitude, `viridis` for phase, `redblue`
   * (reversed: blue = low, near-white = middle, red = high) for difference maps.
   */
  readonly scheme: "greys" | "viridis" | "redblue";
  /** Integer upscale factor (nearest neighbour) so small regions stay readable. */
  readonly scale?: number;
  /** Pixels with mask 0 are drawn in a neutral light grey (uncovered). */
  readonly mask?: ArrayLike<number>;
}

/** Parses the `rgb(r, g, b)` or `#rrggbb` strings vega's interpolators return. */
function parseCssColour(colour: string): [number, number, number] {
  const rgb = /^rgb\(\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)\s*\)$/.exec(colour);
  if (rgb) return [Math.round(Number(rgb[1])), Math.round(Number(rgb[2])), Math.round(Number(rgb[3]))];
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  throw new Error(`cannot parse colour ${JSON.stringify(colour)} from vega's scheme`);
}

const lookupTables = new Map<string, Uint8Array>();

function lookupTable(name: string): Uint8Array {
  const cached = lookupTables.get(name);
  if (cached) return cached;
  const interpolate = vega.scheme(name) as ((t: number) => string) | undefined;
  if (typeof interpolate !== "function") throw new Error(`vega has no colour scheme ${JSON.stringify(name)}`);
  const table = new Uint8Array(256 * 3);
  for (let level = 0; level < 256; level++) {
    // greys runs white → black; reverse it so that low amplitude is dark. redblue runs red → blue;
    // reverse it so that a reconstruction below the truth is blue and one above it red.
    const t = name === "greys" || name === "redblue" ? 1 - level / 255 : level / 255;
    const [r, g, b] = parseCssColour(interpolate(t));
    table[3 * level] = r;
    table[3 * level + 1] = g;
    table[3 * level + 2] = b;
  }
  lookupTables.set(name, table);
  return table;
}

/** Encodes a `height`×`width` real field as a PNG (RGBA, 8 bit). */
export function renderFieldPng(values: ArrayLike<number>, height: number, width: number, options: FieldImageOptions): Buffer {
  const scale = Math.max(1, Math.floor(options.scale ?? 1));
  const table = lookupTable(options.scheme);
  const span = options.max - options.min || 1;
  const png = new PNG({ width: width * scale, height: height * scale });
  for (let row = 0; row < height * scale; row++) {
    const sourceRow = Math.floor(row / scale);
    for (let column = 0; column < width * scale; column++) {
      const source = sourceRow * width + Math.floor(column / scale);
      const target = 4 * (row * width * scale + column);
      if (options.mask && !options.mask[source]) {
        png.data[target] = 230;
        png.data[target + 1] = 230;
        png.data[target + 2] = 230;
      } else {
        const t = Math.min(1, Math.max(0, (values[source]! - options.min) / span));
        const level = Math.round(t * 255);
        png.data[target] = table[3 * level]!;
        png.data[target + 1] = table[3 * level + 1]!;
        png.data[target + 2] = table[3 * level + 2]!;
      }
      png.data[target + 3] = 255;
    }
  }
  return PNG.sync.write(png, { colorType: 6 });
}

/** A box of pixels: rows `top`…`bottom − 1`, columns `left`…`right − 1`. */
interface PixelBox {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/** Reconstruction − ground truth over a box, row-major, {@link differenceMaps}. */
export interface DifferenceMaps {
  /** |reconstruction| − |truth|. */
  readonly amplitude: Float64Array;
  /** Phase of the reconstruction − phase of the truth, rad, wrapped to (−π, π]. */
  readonly phase: Float64Array;
}

/** Wraps an angle to (−π, π]. */
function wrapAngle(angle: number): number {
  const wrapped = angle - 2 * Math.PI * Math.round(angle / (2 * Math.PI));
  return wrapped <= -Math.PI ? wrapped + 2 * Math.PI : wrapped;
}

/**
 * The difference maps of a reconstruction, cropped to `box`. The phase difference is taken after removing
 * the reconstruction's global phase offset over the covered pixels (`coverage` > 0) — the same alignment
 * as the metrics ({@link globalPhaseOffset}) — and wrapped, so a constant offset leaves a white map.
 */
export function differenceMaps(truth: ComplexImage, reconstruction: ComplexImage, coverage: ArrayLike<number>, box: PixelBox): DifferenceMaps {
  const offset = globalPhaseOffset(truth, reconstruction, coverage);
  const height = box.bottom - box.top;
  const width = box.right - box.left;
  const amplitude = new Float64Array(height * width);
  const phase = new Float64Array(height * width);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      const source = (box.top + row) * truth.width + box.left + column;
      const [tr, ti] = [truth.data[2 * source]!, truth.data[2 * source + 1]!];
      const [rr, ri] = [reconstruction.data[2 * source]!, reconstruction.data[2 * source + 1]!];
      amplitude[row * width + column] = Math.hypot(rr, ri) - Math.hypot(tr, ti);
      phase[row * width + column] = wrapAngle(Math.atan2(ri, rr) - offset - Math.atan2(ti, tr));
    }
  }
  return { amplitude, phase };
}

/**
 * The half-width of a symmetric colour scale shared by several difference maps: the 99th percentile of
 * |difference| over the masked-in pixels of all of them (so one outlier pixel, such as a phase wrap, does
 * not wash the others out; larger values saturate), rounded up to two significant digits so the caption
 * states the scale exactly. 1 when every difference is zero.
 */
export function symmetricScaleLimit(maps: readonly Float64Array[], mask: ArrayLike<number>): number {
  const magnitudes: number[] = [];
  for (const map of maps) map.forEach((value, index) => {
    if (mask[index]) magnitudes.push(Math.abs(value));
  });
  if (magnitudes.length === 0) return 1;
  magnitudes.sort((a, b) => a - b);
  const quantile = magnitudes[Math.min(magnitudes.length - 1, Math.ceil(0.99 * magnitudes.length) - 1)]!;
  if (!(quantile > 0)) return 1;
  const step = 10 ** (Math.floor(Math.log10(quantile)) - 1);
  // The tolerance keeps a value already on the grid (0.25) from rounding up by one step through float noise.
  return Number((Math.ceil(quantile / step - 1e-9) * step).toPrecision(2));
}

/** Encodes a difference map on the diverging scale −`limit` (blue) … 0 (near white) … +`limit` (red). */
export function renderDifferencePng(values: ArrayLike<number>, height: number, width: number, options: { readonly limit: number; readonly scale?: number; readonly mask?: ArrayLike<number> }): Buffer {
  return renderFieldPng(values, height, width, { min: -options.limit, max: options.limit, scheme: "redblue", scale: options.scale, mask: options.mask });
}
