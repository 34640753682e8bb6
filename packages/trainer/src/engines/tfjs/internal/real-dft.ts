/**
 * A 2-D discrete Fourier transform out of real matrices and `matMul`, so that physics losses
 * differentiate on every TF.js back end (TF.js has no gradients for FFT/Real/Imag, and `wasm` has no
 * complex kernels at all).
 *
 * The matrices are the trainer's one `dftMatrix` (orthonormal, optionally fftshifted; the ONNX compiler
 * uses the same one), held here as float32 tensors. `F = D_H · ψ · D_Wᵀ` per image.
 */
import * as tf from "@tensorflow/tfjs-core";
import { dftMatrix } from "../../../internal/dft-matrix.js";

/** Transposed DFT matrices for one image size, as kept tensors (dispose with `disposeDft`). */
export interface DftPlan {
  readonly height: number;
  readonly width: number;
  /** `D_Hᵀ` and `D_Wᵀ`, real and imaginary parts. */
  readonly hReal: tf.Tensor2D;
  readonly hImag: tf.Tensor2D;
  readonly wReal: tf.Tensor2D;
  readonly wImag: tf.Tensor2D;
}

export function createDftPlan(height: number, width: number, fftshift: boolean): DftPlan {
  const h = dftMatrix(height, fftshift, true);
  const w = dftMatrix(width, fftshift, true);
  return {
    height,
    width,
    hReal: tf.keep(tf.tensor2d(Float32Array.from(h.real), [height, height])),
    hImag: tf.keep(tf.tensor2d(Float32Array.from(h.imag), [height, height])),
    wReal: tf.keep(tf.tensor2d(Float32Array.from(w.real), [width, width])),
    wImag: tf.keep(tf.tensor2d(Float32Array.from(w.imag), [width, width])),
  };
}

export function disposeDft(plan: DftPlan): void {
  tf.dispose([plan.hReal, plan.hImag, plan.wReal, plan.wImag]);
}

/** Complex `[rows, n] × [n, n]` product from real parts. */
function complexMatMul(ar: tf.Tensor2D, ai: tf.Tensor2D, br: tf.Tensor2D, bi: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  const real = tf.sub(tf.matMul(ar, br), tf.matMul(ai, bi)) as tf.Tensor2D;
  const imag = tf.add(tf.matMul(ar, bi), tf.matMul(ai, br)) as tf.Tensor2D;
  return [real, imag];
}

/** Orthonormal 2-D DFT of `[B, H, W]` images given as real and imaginary parts. */
export function dft2d(real: tf.Tensor3D, imag: tf.Tensor3D, plan: DftPlan): { real: tf.Tensor3D; imag: tf.Tensor3D } {
  const [b, h, w] = real.shape;
  if (h !== plan.height || w !== plan.width) throw new Error(`dft2d: images are ${h}×${w} but the plan is ${plan.height}×${plan.width}`);
  // Rows: G = ψ · D_Wᵀ over the last axis.
  const [gr, gi] = complexMatMul(tf.reshape(real, [b * h, w]), tf.reshape(imag, [b * h, w]), plan.wReal, plan.wImag);
  // Columns: Fᵀ = Gᵀ · D_Hᵀ.
  const grT = tf.reshape(tf.transpose(tf.reshape(gr, [b, h, w]), [0, 2, 1]), [b * w, h]) as tf.Tensor2D;
  const giT = tf.reshape(tf.transpose(tf.reshape(gi, [b, h, w]), [0, 2, 1]), [b * w, h]) as tf.Tensor2D;
  const [fr, fi] = complexMatMul(grT, giT, plan.hReal, plan.hImag);
  return {
    real: tf.transpose(tf.reshape(fr, [b, w, h]), [0, 2, 1]) as tf.Tensor3D,
    imag: tf.transpose(tf.reshape(fi, [b, w, h]), [0, 2, 1]) as tf.Tensor3D,
  };
}

/**
 * Far-field intensity `scale·|DFT(A·e^{iφ}·P)|²` of predicted objects, `[N, H, W, C]` in and out, the
 * probe `P` (`[H, W]`, real and imaginary) shared by every channel.
 */
export function diffractionIntensity(
  amplitude: tf.Tensor4D,
  phase: tf.Tensor4D,
  probeReal: tf.Tensor2D,
  probeImag: tf.Tensor2D,
  plan: DftPlan,
  scale: number,
): tf.Tensor4D {
  const [n, h, w, c] = amplitude.shape;
  const toImages = (t: tf.Tensor4D) => tf.reshape(tf.transpose(t, [0, 3, 1, 2]), [n * c, h, w]) as tf.Tensor3D;
  const a = toImages(amplitude);
  const p = toImages(phase);
  const or = tf.mul(a, tf.cos(p));
  const oi = tf.mul(a, tf.sin(p));
  const er = tf.sub(tf.mul(or, probeReal), tf.mul(oi, probeImag)) as tf.Tensor3D;
  const ei = tf.add(tf.mul(or, probeImag), tf.mul(oi, probeReal)) as tf.Tensor3D;
  const f = dft2d(er, ei, plan);
  const intensity = tf.mul(tf.add(tf.square(f.real), tf.square(f.imag)), scale);
  return tf.transpose(tf.reshape(intensity, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D;
}
