/**
 * `@studykit/ptycho`: ptychography physics shared by simulation and reconstruction — the far-field forward
 * model, scan geometry, and iterative reconstruction (ePIE, rPIE, a mini-batch parallel variant) on the
 * addon's FFT kernels, with the object error the study scores by.
 */
export { PtychoErrorCode, PtychoError } from "./errors.js";
export type { PtychoErrorCodeValue } from "./errors.js";
export { createComplexImage } from "./complex-image.js";
export type { ComplexImage } from "./complex-image.js";
export { fftshiftReal, ifftshiftReal } from "./fft-shift.js";
export {
  POSITION_HANDLING,
  patchCorner,
  overlapSpacing,
  rasterScanPositions,
  maxRoundingResidual,
  checkPositionsInside,
  centralWindowMask,
} from "./scan-geometry.js";
export type { ScanPosition } from "./scan-geometry.js";
export { exitWave, farFieldAmplitudes, simulateDiffraction } from "./forward-model.js";
export type { PhotonSampler, SimulateDiffractionOptions, SimulatedDiffraction } from "./forward-model.js";
export { objectError } from "./object-error.js";
export type { ObjectError } from "./object-error.js";
export { reconstruct, checkProblem, RECONSTRUCTION_ALGORITHMS } from "./reconstruct.js";
export type {
  ReconstructionAlgorithm,
  PtychoProblem,
  ReconstructOptions,
  ReconstructionProgress,
  ReconstructionParameters,
  ReconstructionResult,
} from "./reconstruct.js";
export { loadPtychoProblem, saveReconstruction, REQUIRED_KEYS } from "./reconstruction-file.js";
export type { LoadProblemOptions, ObjectGuessRole } from "./reconstruction-file.js";
