import * as trainer from "@studykit/trainer";
import { referencePtychoModel, tinyPtychoModel } from "@studykit/study";
import { describe, expect, it } from "vitest";
import { describeRewrite, subpixelRewrite } from "./model-contender.js";

// The tiny model at 32×32, C = 1, by hand (multiply-adds of one pass = output pixels · filters · 9 · input
// channels): enc1 1024·8·9·1 = 73 728; enc2 (16×16 after the pool) 256·16·9·8 = 294 912; dec1 (32×32
// after the upsample) 1024·8·9·16 = 1 179 648; out 1024·2·9·8 = 147 456. A training step runs each pass
// twice more (filter and input gradient) except enc1's input gradient.
const ENC1 = 73_728;
const ENC2 = 294_912;
const DEC1 = 1_179_648;
const OUT = 147_456;
const tiny = tinyPtychoModel({ size: 32, channels: 1, seed: 7 });

describe("subpixelRewrite (what a rewriting contender's row states)", () => {
  it("counts the training work left when dec1 is computed as sub-pixel convolutions (16/36 of its multiply-adds)", () => {
    const described = 2 * ENC1 + 3 * (ENC2 + DEC1 + OUT);
    const computed = described - 3 * DEC1 + (3 * DEC1 * 16) / 36;
    // nchwc(8): dec1's 8 filters fill whole blocks, so the blocked training graph rewrites it.
    expect(subpixelRewrite(tiny, "train", "nchwc(8)")).toEqual({ convs: ["dec1"], fraction: computed / described });
    expect(describeRewrite(subpixelRewrite(tiny, "train", "nchwc(8)")!)).toBe("each ×2 upsample + 3×3 conv (dec1) as four 2×2 sub-pixel convolutions at the low resolution: 61% of the described multiply-adds");
  });

  it("states no rewrite where the training graph computes the described convolutions", () => {
    // Blocks of 16 do not fit dec1's 8 filters and a conv follows it; NCHW graphs never rewrite.
    expect(subpixelRewrite(tiny, "train", "nchwc(16)")).toBeNull();
    expect(subpixelRewrite(tiny, "train", "nchw")).toBeNull();
    expect(subpixelRewrite(tiny, "train", undefined)).toBeNull();
  });

  it("rewrites every pair of the exported inference model, counting one forward pass", () => {
    const described = ENC1 + ENC2 + DEC1 + OUT;
    expect(subpixelRewrite(tiny, "infer", undefined)).toEqual({ convs: ["dec1"], fraction: (described - (DEC1 * 20) / 36) / described });
  });

  it("agrees with the trainer's countMultiplyAdds when every pair is rewritten (the sub-pixel PyTorch peer)", () => {
    const reference = referencePtychoModel({ size: 64, channels: 1, seed: 7 });
    for (const model of [tiny, reference]) {
      const least = trainer.countMultiplyAdds(model, { subpixelUpsampleConv: true });
      const direct = trainer.countMultiplyAdds(model);
      expect(subpixelRewrite(model, "train", "all")!.fraction).toBeCloseTo(least.training / direct.training, 12);
      expect(subpixelRewrite(model, "infer", "all")!.fraction).toBeCloseTo(least.forward / direct.forward, 12);
    }
    expect(subpixelRewrite(reference, "train", "all")!.convs).toEqual(["dec1a", "dec2a", "out"]);
  });
});
