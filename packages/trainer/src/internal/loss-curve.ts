/**
 * The loss-curve plot that goes into every bundle, as a small self-contained SVG.
 *
 * Hand-written rather than rendered with vega: the SVG is a bundle member, so its bytes must depend only
 * on the history (same history, same bundle SHA-256), with numbers printed at fixed precision; a
 * renderer's output can change with its version and fonts. Log-scale y when the losses are all positive
 * and span more than a decade.
 */

export interface LossPoint {
  readonly epoch: number;
  readonly loss: number;
  readonly valLoss: number | null;
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 20, top: 30, bottom: 45 };

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "0");
const label = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(4));
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An SVG with the training loss and (when present) validation loss per epoch. */
export function lossCurveSvg(points: readonly LossPoint[], title: string): string {
  const values = points.flatMap((p) => (p.valLoss === null ? [p.loss] : [p.loss, p.valLoss])).filter(Number.isFinite);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const log = lo > 0 && hi / lo > 10;
  const t = (v: number) => (log ? Math.log10(v) : v);
  const yMin = t(lo);
  const yMax = t(hi) === yMin ? yMin + 1 : t(hi);
  const epochs = points.map((p) => p.epoch);
  const xMin = epochs.length ? Math.min(...epochs) : 0;
  const xMax = epochs.length && Math.max(...epochs) > xMin ? Math.max(...epochs) : xMin + 1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (e: number) => MARGIN.left + ((e - xMin) / (xMax - xMin)) * plotW;
  const py = (v: number) => MARGIN.top + (1 - (t(v) - yMin) / (yMax - yMin)) * plotH;
  const line = (get: (p: LossPoint) => number | null) =>
    points.filter((p) => get(p) !== null && Number.isFinite(get(p)!)).map((p) => `${fmt(px(p.epoch))},${fmt(py(get(p)!))}`).join(" ");
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const yv = yMin + ((yMax - yMin) * i) / 4;
    const v = log ? 10 ** yv : yv;
    const y = MARGIN.top + (1 - i / 4) * plotH;
    ticks.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${fmt(y)}" y2="${fmt(y)}" stroke="#ddd"/>`);
    ticks.push(`<text x="${MARGIN.left - 6}" y="${fmt(y + 4)}" text-anchor="end">${escape(label(v))}</text>`);
  }
  for (const e of epochs) ticks.push(`<text x="${fmt(px(e))}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${e}</text>`);
  const hasVal = points.some((p) => p.valLoss !== null);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="13">${escape(title)}</text>`,
    ...ticks,
    `<text x="${WIDTH / 2}" y="${HEIGHT - 8}" text-anchor="middle">epoch</text>`,
    `<text transform="translate(16 ${HEIGHT / 2}) rotate(-90)" text-anchor="middle">loss${log ? " (log scale)" : ""}</text>`,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line((p) => p.loss)}"/>`,
    hasVal ? `<polyline fill="none" stroke="#ff7f0e" stroke-width="2" stroke-dasharray="6 3" points="${line((p) => p.valLoss)}"/>` : "",
    `<text x="${WIDTH - MARGIN.right - 110}" y="${MARGIN.top + 12}" fill="#1f77b4">— training</text>`,
    hasVal ? `<text x="${WIDTH - MARGIN.right - 110}" y="${MARGIN.top + 26}" fill="#ff7f0e">- - validation</text>` : "",
    `</svg>`,
  ].filter((s) => s !== "").join("\n") + "\n";
}
