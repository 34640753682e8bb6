import { describe, expect, it } from "vitest";
import type { ComplexImage } from "./complex-image.js";
import { objectError } from "./object-error.js";

function fromPolar(amplitudes: number[], phases: number[]): ComplexImage {
  const data = new Float64Array(2 * amplitudes.length);
  amplitudes.forEach((amplitude, index) => {
    data[2 * index] = amplitude * Math.cos(phases[index]!);
    data[2 * index + 1] = amplitude * Math.sin(phases[index]!);
  });
  return { height: 1, width: amplitudes.length, data };
}

describe("objectError", () => {
  it("ignores a global phase offset (the diffraction cannot see it)", () => {
    const truth = fromPolar([1, 0.8, 0.5, 0.9], [0.1, -0.7, 1.2, 3.0]);
    const shifted = fromPolar([1, 0.8, 0.5, 0.9], [2.1, 1.3, 3.2, 5.0]);
    const error = objectError(truth, shifted, [1, 1, 1, 1]);
    expect(error.phaseMae).toBeLessThan(1e-12);
    expect(error.phaseOffset).toBeCloseTo(2, 12);
  });

  it("averages wrapped phase and amplitude differences over the masked pixels only", () => {
    const truth = fromPolar([1, 1, 1, 1], [3.1, 0, 0, 0]);
    // Pixel 0: −3.1 is 0.083 rad from 3.1 across ±π; pixel 2 is off by 0.4 but unmasked; pixels 1, 3 agree.
    const reconstruction = fromPolar([1, 0.5, 1, 1], [-3.1, 0, 0.4, 0]);
    const mask = [1, 1, 0, 1];
    const error = objectError(truth, reconstruction, mask);
    expect(error.pixels).toBe(3);
    const offset = error.phaseOffset;
    const wrap = (value: number) => value - 2 * Math.PI * Math.round(value / (2 * Math.PI));
    const expected = (Math.abs(wrap(-3.1 - offset - 3.1)) + 2 * Math.abs(offset)) / 3;
    expect(error.phaseMae).toBeCloseTo(expected, 12);
    expect(error.phaseMae).toBeLessThan(0.1);
    expect(error.amplitudeMae).toBeCloseTo(0.5 / 3, 12);
  });

  it("refuses images of different shapes with a code", () => {
    expect(() => objectError(fromPolar([1], [0]), fromPolar([1, 1], [0, 0]), [1])).toThrow(expect.objectContaining({ code: "E_PTYCHO_SHAPE" }));
  });
});
