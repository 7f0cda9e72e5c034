// Empirical CDF plots as a self-contained SVG (no library): one panel per distribution, one
// step line per series, a shared legend. Pure: samples in, SVG text out.

export interface CdfSeries {
  name: string;
  /** A CSS colour. */
  color: string;
  values: readonly number[];
}

export interface CdfPanel {
  title: string;
  /** The x axis' unit, e.g. 'ms'. */
  unit: string;
  series: readonly CdfSeries[];
}

/** Panel geometry, px. */
const PANEL_W = 460;
const PANEL_H = 280;
const MARGIN = { left: 52, right: 16, top: 30, bottom: 40 };
const COLUMNS = 2;
const LEGEND_H = 56;

/** Escapes text for SVG element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values from 0 to at least `max` (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step - 1e-9 * step; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** The points of a step CDF: sorted samples, y = rank / n (NaN samples ignored). */
export function cdfPoints(values: readonly number[]): { x: number; y: number }[] {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.map((x, i) => ({ x, y: (i + 1) / sorted.length }));
}

function fmtTick(v: number): string {
  if (v >= 10_000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

function panelSvg(panel: CdfPanel, x0: number, y0: number): string {
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = y0 + MARGIN.top;
  const all = panel.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v)));
  const ticks = niceTicks(all.length ? Math.max(...all) : 1);
  const xMax = ticks[ticks.length - 1] as number;
  const sx = (v: number): number => left + (v / xMax) * w;
  const sy = (v: number): number => top + h - v * h;
  const parts: string[] = [];
  parts.push(`<text x="${x0 + PANEL_W / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
  for (const t of ticks) {
    parts.push(`<line x1="${sx(t).toFixed(1)}" y1="${top}" x2="${sx(t).toFixed(1)}" y2="${top + h}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${top + h + 16}" text-anchor="middle" font-size="11">${fmtTick(t)}</text>`);
  }
  for (const q of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    parts.push(`<line x1="${left}" y1="${sy(q).toFixed(1)}" x2="${left + w}" y2="${sy(q).toFixed(1)}" stroke="${q === 0.5 || q === 0.9 ? '#c8c8c8' : '#eeeeee'}"/>`);
    parts.push(`<text x="${left - 6}" y="${(sy(q) + 4).toFixed(1)}" text-anchor="end" font-size="11">${q}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${left + w / 2}" y="${top + h + 32}" text-anchor="middle" font-size="11">${escapeXml(panel.unit)}</text>`);
  for (const s of panel.series) {
    const pts = cdfPoints(s.values);
    if (pts.length === 0) continue;
    let d = `M${sx(0).toFixed(1)},${sy(0).toFixed(1)} H${sx((pts[0] as { x: number }).x).toFixed(1)}`;
    let prevY = 0;
    for (const pt of pts) {
      d += ` H${sx(pt.x).toFixed(1)}`;
      if (pt.y !== prevY) d += ` V${sy(pt.y).toFixed(1)}`;
      prevY = pt.y;
    }
    parts.push(`<path d="${d}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="2"><title>${escapeXml(`${s.name}: n=${pts.length}`)}</title></path>`);
  }
  return parts.join('\n');
}

/**
 * The SVG document: a title, a legend of the series names (taken from the first panel that has
 * each), and the panels in rows of two. Panels without any sample are drawn empty.
 */
export function renderCdfSvg(title: string, subtitle: string, panels: readonly CdfPanel[]): string {
  const rows = Math.max(1, Math.ceil(panels.length / COLUMNS));
  const width = PANEL_W * COLUMNS;
  const height = LEGEND_H + rows * PANEL_H;
  const legend = new Map<string, string>();
  for (const p of panels) for (const s of p.series) if (!legend.has(s.name)) legend.set(s.name, s.color);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="12" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(`<text x="12" y="38" font-size="11" fill="#555">${escapeXml(subtitle)}</text>`);
  let lx = width - 12;
  for (const [name, color] of [...legend].reverse()) {
    const textW = name.length * 7 + 8;
    lx -= textW;
    parts.push(`<text x="${lx}" y="24">${escapeXml(name)}</text>`);
    lx -= 26;
    parts.push(`<line x1="${lx}" y1="20" x2="${lx + 20}" y2="20" stroke="${escapeXml(color)}" stroke-width="3"/>`);
    lx -= 14;
  }
  panels.forEach((p, i) => {
    parts.push(panelSvg(p, (i % COLUMNS) * PANEL_W, LEGEND_H + Math.floor(i / COLUMNS) * PANEL_H));
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
