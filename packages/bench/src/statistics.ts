/** Summary statistics of repeated timings, and ratios between contenders measured in the same run. */

/** min / median / max of a set of samples (seconds or any unit). */
export interface Summary {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly samples: number;
}

/** Summarises samples; throws on an empty set (a benchmark with no sample is a harness bug). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError("summarize() needs at least one sample");
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]!, samples: sorted.length };
}

/** Speed ratio of ours to a peer from median times: > 1 means ours is faster. */
export function speedRatio(ours: Summary, peer: Summary): number {
  return peer.median / ours.median;
}
