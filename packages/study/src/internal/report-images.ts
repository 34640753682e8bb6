/**
 * PNG images for the report: real fields (amplitude, phase) mapped through a colour scheme and encoded
 * with pngjs. Colour schemes come from vega's scheme registry (the same palettes as the plots), sampled
 * once into a 256-entry lookup table.
 */
import { PNG } from "pngjs";
import * as vega from "vega";

/** Options of {@link renderFieldPng}. */
export interface FieldImageOptions {
  /** Value mapped to the first colour; values below are clamped. */
  readonly min: number;
  /** Value mapped to the last colour. */
  readonly max: number;
  /** A vega scheme name: `greys` (reversed: dark = low) for amplitude, `viridis` for phase. */
  readonly scheme: "greys" | "viridis";
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
    // greys runs white → black; reverse it so that low amplitude is dark.
    const t = name === "greys" ? 1 - level / 255 : level / 255;
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
