/** Loading a bundle as a model that predicts, on the TF.js engine. */
import type { BackendChoice } from "./engines/tfjs/backend-selection.js";
import { loadBundle, type LoadedBundle } from "./bundle.js";
import { createTfjsEngine } from "./engines/tfjs/tfjs-engine.js";

/** A bundled model ready for inference. */
export interface BundleModel {
  readonly bundle: LoadedBundle;
  readonly backend: string;
  /** Output `[count, H, W, 2C]` (amplitude channels, then phase) for `inputs` `[count, H, W, C]`. */
  predict(inputs: Float32Array, count: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Loads and verifies a bundle (`E_BUNDLE_CORRUPT` when `expectSha256` does not match) and restores its
 * weights into a TF.js engine on `backend`. On the back end it was trained on, it predicts bit for bit
 * what the trained model predicted.
 */
export async function loadBundleModel(path: string, options: { readonly expectSha256?: string; readonly backend?: BackendChoice | string } = {}): Promise<BundleModel> {
  const bundle = await loadBundle(path, options.expectSha256 === undefined ? {} : { expectSha256: options.expectSha256 });
  const engine = await createTfjsEngine(options.backend);
  // Inference never steps the optimizer; the loss here only satisfies init.
  await engine.init(bundle.description, bundle.weights, {
    loss: { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 },
    optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  });
  return {
    bundle,
    backend: engine.info.backend,
    predict: (inputs, count) => engine.predict(inputs, count),
    dispose: () => engine.dispose(),
  };
}
