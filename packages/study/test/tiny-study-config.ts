/**
 * The smallest study configuration the study, CLI and end-to-end tests run for real: one dose, baseline and
 * dense views, one epoch of the tiny model, three ePIE iterations, so every phase finishes in seconds.
 */
export const TINY_STUDY_CONFIG = {
  object: { source: "procedural", height: 96, width: 96 },
  probe: { size: 16 },
  scan: { count: 160 },
  doses: [1000],
  views: ["baseline", "dense"],
  overlap: { minCount: 20 },
  training: { model: "tiny", epochs: 1, batchSize: 16 },
  compare: { stitchWindow: 8 },
  reconstruction: { iterations: 3 },
};
