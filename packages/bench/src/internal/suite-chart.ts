/**
 * One chart per suite, drawn with vega-lite and rendered to SVG headless by vega (no canvas, no browser):
 * one bar panel per comparison group, ours in one colour and peers in another.
 */
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { ComparisonGroup, SuiteResult } from "../results.js";

interface Bar {
  readonly contender: string;
  readonly role: string;
  readonly value: number;
  readonly label: string;
}

/** What a group's bars show: throughput when the work is known (higher is better), else the median. */
function barsOf(group: ComparisonGroup): { bars: Bar[]; axisTitle: string } {
  const bars: Bar[] = [];
  let axisTitle = group.kind === "time" ? "median seconds (lower is better)" : "median ms (lower is better)";
  for (const contender of group.contenders) {
    if (contender.status !== "ok") {
      bars.push({ contender: contender.label, role: contender.role, value: 0, label: contender.status });
      continue;
    }
    if (contender.throughput) {
      axisTitle = `${contender.throughput.unit} (higher is better)`;
      bars.push({ contender: contender.label, role: contender.role, value: contender.throughput.value, label: contender.throughput.value.toPrecision(3) });
    } else {
      bars.push({ contender: contender.label, role: contender.role, value: contender.summary.median, label: contender.summary.median.toPrecision(3) });
    }
  }
  return { bars, axisTitle };
}

function groupPanel(group: ComparisonGroup): Record<string, unknown> {
  const { bars, axisTitle } = barsOf(group);
  const y = { field: "contender", type: "nominal", sort: null, title: null, axis: { labelLimit: 520 } };
  return {
    title: { text: group.title, anchor: "start", fontSize: 12 },
    width: 360,
    height: { step: 22 },
    data: { values: bars },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          y,
          x: { field: "value", type: "quantitative", title: axisTitle },
          color: { field: "role", type: "nominal", scale: { domain: ["ours", "peer", "reference"], range: ["#1f77b4", "#ff7f0e", "#9e9e9e"] }, title: "role" },
        },
      },
      {
        mark: { type: "text", align: "left", dx: 4, fontSize: 10 },
        encoding: { y, x: { field: "value", type: "quantitative" }, text: { field: "label", type: "nominal" } },
      },
    ],
  };
}

/** Renders `suite` as a standalone SVG document; null when it has no group to draw. */
export async function renderSuiteChartSvg(suite: SuiteResult, date: string): Promise<string | null> {
  if (suite.groups.length === 0) return null;
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: `studykit bench — ${suite.suite} (${date})`, anchor: "start" },
    vconcat: suite.groups.map(groupPanel),
    resolve: { scale: { x: "independent", y: "independent" } },
    config: { font: "sans-serif", background: "white" },
  } as unknown as TopLevelSpec;
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
