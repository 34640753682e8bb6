/**
 * 2-D discrete Fourier transforms of any height × width for the procedural sample and the metrics (the
 * forward model's batched n×n FFT and the fftshift helpers live in @studykit/ptycho, on the addon's kernels).
 *
 * Power-of-two sizes go through fft.js (a maintained radix-4 FFT; 64×64 transforms take a few microseconds
 * each) row by row and column by column. Arbitrary sizes (a stitched test region for Fourier ring
 * correlation) use a separable direct DFT with precomputed twiddles: those regions are a few hundred pixels
 * on a side and transformed a handful of times, so O(n³) is milliseconds and needs no second library.
 */
import FFT from "fft.js";

function isPowerOfTwo(n: number): boolean {
  return n >= 2 && (n & (n - 1)) === 0;
}

/** Forward/inverse 1-D transform of length n over strided interleaved data. */
interface LineTransform {
  forward(input: Float64Array, output: Float64Array): void;
  inverse(input: Float64Array, output: Float64Array): void;
}

function fftLine(n: number): LineTransform {
  const fft = new FFT(n);
  return {
    forward: (input, output) => fft.transform(output, input),
    // fft.js's inverse divides by n, as numpy's ifft does.
    inverse: (input, output) => fft.inverseTransform(output, input),
  };
}

function dftLine(n: number): LineTransform {
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = Math.sin((2 * Math.PI * k) / n);
  }
  const run = (input: Float64Array, output: Float64Array, sign: number, scale: number): void => {
    for (let k = 0; k < n; k++) {
      let re = 0;
      let im = 0;
      for (let j = 0; j < n; j++) {
        const index = (k * j) % n;
        const c = cos[index]!;
        const s = sign * sin[index]!;
        const xr = input[2 * j]!;
        const xi = input[2 * j + 1]!;
        re += xr * c + xi * s;
        im += xi * c - xr * s;
      }
      output[2 * k] = re * scale;
      output[2 * k + 1] = im * scale;
    }
  };
  return {
    forward: (input, output) => run(input, output, 1, 1),
    inverse: (input, output) => run(input, output, -1, 1 / n),
  };
}

function lineTransform(n: number): LineTransform {
  return isPowerOfTwo(n) ? fftLine(n) : dftLine(n);
}

/**
 * A reusable 2-D transform for one image shape. `forward` matches `numpy.fft.fft2` (no normalisation);
 * `inverse` matches `numpy.fft.ifft2` (divides by height·width). Both work in place on interleaved data.
 */
export class Fourier2D {
  readonly height: number;
  readonly width: number;
  private readonly rows: LineTransform;
  private readonly columns: LineTransform;
  private readonly lineIn: Float64Array;
  private readonly lineOut: Float64Array;

  constructor(height: number, width: number) {
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
      throw new RangeError(`Fourier2D needs positive integer sizes, got ${height}×${width}`);
    }
    this.height = height;
    this.width = width;
    this.rows = lineTransform(width);
    this.columns = height === width ? this.rows : lineTransform(height);
    const longest = Math.max(height, width);
    this.lineIn = new Float64Array(2 * longest);
    this.lineOut = new Float64Array(2 * longest);
  }

  forward(data: Float64Array): void {
    this.apply(data, false);
  }

  inverse(data: Float64Array): void {
    this.apply(data, true);
  }

  private apply(data: Float64Array, inverse: boolean): void {
    const { height, width, lineIn, lineOut } = this;
    const rowIn = lineIn.subarray(0, 2 * width);
    const rowOut = lineOut.subarray(0, 2 * width);
    for (let row = 0; row < height; row++) {
      const start = 2 * row * width;
      rowIn.set(data.subarray(start, start + 2 * width));
      if (inverse) this.rows.inverse(rowIn, rowOut);
      else this.rows.forward(rowIn, rowOut);
      data.set(rowOut, start);
    }
    const columnIn = lineIn.subarray(0, 2 * height);
    const columnOut = lineOut.subarray(0, 2 * height);
    for (let column = 0; column < width; column++) {
      for (let row = 0; row < height; row++) {
        const index = 2 * (row * width + column);
        columnIn[2 * row] = data[index]!;
        columnIn[2 * row + 1] = data[index + 1]!;
      }
      if (inverse) this.columns.inverse(columnIn, columnOut);
      else this.columns.forward(columnIn, columnOut);
      for (let row = 0; row < height; row++) {
        const index = 2 * (row * width + column);
        data[index] = columnOut[2 * row]!;
        data[index + 1] = columnOut[2 * row + 1]!;
      }
    }
  }
}
