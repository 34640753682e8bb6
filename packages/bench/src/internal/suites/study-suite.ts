/**
 * `study` suite: wall time of the quick preset of the reference study, per phase (simulate, overlap
 * views, train, compare/report), as the study manifest records it.
 */
import * as study from "@studykit/study";
import { absent, GroupBuilder } from "../measure.js";
import type { SuiteResult } from "../results.js";
import type { SuiteContext } from "../suite-context.js";

export async function runStudySuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const group = new GroupBuilder({ id: "study-quick-preset", title: "Quick preset of the reference study, wall time", kind: "time", log: context.log });
  await group.run({ id: "studykit-study-quick", label: "studykit study run --preset quick", role: "ours" }, async () => {
    const run = (study as unknown as { runStudy?: unknown }).runStudy;
    if (typeof run !== "function") absent("@studykit/study does not export runStudy yet");
    absent("not wired yet");
  });
  return { suite: "study", wallSeconds: (performance.now() - started) / 1000, groups: [group.finish()], notes: [] };
}
