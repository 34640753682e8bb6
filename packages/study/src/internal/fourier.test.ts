import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { Fourier2D } from "./fourier.js";

/** The DFT straight from its definition, X[k,l] = Σ x[m,n] e^{-2πi(km/H + ln/W)}. */
function naiveDft(data: Float64Array, height: number, width: number): Float64Array {
  const out = new Float64Array(data.length);
  for (let k = 0; k < height; k++) {
    for (let l = 0; l < width; l++) {
      let re = 0;
      let im = 0;
      for (let m = 0; m < height; m++) {
        for (let n = 0; n < width; n++) {
          const angle = -2 * Math.PI * ((k * m) / height + (l * n) / width);
          const xr = data[2 * (m * width + n)]!;
          const xi = data[2 * (m * width + n) + 1]!;
          re += xr * Math.cos(angle) - xi * Math.sin(angle);
          im += xr * Math.sin(angle) + xi * Math.cos(angle);
        }
      }
      out[2 * (k * width + l)] = re;
      out[2 * (k * width + l) + 1] = im;
    }
  }
  return out;
}

function randomComplex(height: number, width: number, seed: number): Float64Array {
  const random = new SeededRandom(seed);
  return Float64Array.from({ length: 2 * height * width }, () => random.nextNormal());
}

describe("Fourier2D", () => {
  it.each([
    [8, 8],
    [4, 16],
    [6, 10],
    [7, 5],
  ])("forward matches the DFT definition for %i×%i and inverse undoes it", (height, width) => {
    const input = randomComplex(height, width, height * 100 + width);
    const data = Float64Array.from(input);
    const transform = new Fourier2D(height, width);
    transform.forward(data);
    const expected = naiveDft(input, height, width);
    for (let index = 0; index < data.length; index++) expect(data[index]).toBeCloseTo(expected[index]!, 9);
    transform.inverse(data);
    for (let index = 0; index < data.length; index++) expect(data[index]).toBeCloseTo(input[index]!, 12);
  });
});
