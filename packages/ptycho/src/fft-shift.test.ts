import { describe, expect, it } from "vitest";
import { fftshiftReal, ifftshiftReal } from "./fft-shift.js";

describe("fftshift / ifftshift", () => {
  it("fftshift moves the zero frequency to (⌊h/2⌋, ⌊w/2⌋) like numpy, odd sizes included", () => {
    // numpy.fft.fftshift(np.arange(15).reshape(3, 5))
    const source = Float64Array.from({ length: 15 }, (_, index) => index);
    const target = new Float64Array(15);
    fftshiftReal(source, target, 3, 5);
    expect(Array.from(target)).toEqual([13, 14, 10, 11, 12, 3, 4, 0, 1, 2, 8, 9, 5, 6, 7]);
  });

  it("ifftshift matches numpy's for odd sizes (where it is not fftshift) and scales", () => {
    // numpy.fft.ifftshift(np.arange(15).reshape(3, 5))
    const source = Float64Array.from({ length: 15 }, (_, index) => index);
    const target = new Float64Array(15);
    ifftshiftReal(source, target, 3, 5);
    expect(Array.from(target)).toEqual([7, 8, 9, 5, 6, 12, 13, 14, 10, 11, 2, 3, 4, 0, 1]);
    ifftshiftReal(source, target, 3, 5, 2);
    expect(Array.from(target)).toEqual([14, 16, 18, 10, 12, 24, 26, 28, 20, 22, 4, 6, 8, 0, 2]);
  });
});
