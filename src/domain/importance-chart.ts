/**
 * The parameter-importance bar chart of a proposal's evidence, as SVG (SPEC C3 step 9). Pure;
 * rasterising it to PNG is an adapter's job.
 */
const WIDTH = 800;
const ROW = 28;
const TOP = 56;
const LABEL_WIDTH = 240;
const MAX_BARS = 20;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function importanceChartSvg(importance: Record<string, number>): string | null {
  const rows = Object.entries(importance)
    .filter(([, weight]) => Number.isFinite(weight) && weight >= 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_BARS);
  if (rows.length === 0) return null;
  const max = Math.max(...rows.map(([, weight]) => weight)) || 1;
  const height = TOP + rows.length * ROW + 24;
  const barSpace = WIDTH - LABEL_WIDTH - 90;
  const bars = rows.map(([name, weight], index) => {
    const y = TOP + index * ROW;
    const width = Math.max(1, Math.round((weight / max) * barSpace));
    return [
      `<text x="${LABEL_WIDTH - 10}" y="${y + 18}" text-anchor="end" font-size="13">${escapeXml(shorten(name, 32))}</text>`,
      `<rect x="${LABEL_WIDTH}" y="${y + 5}" width="${width}" height="${ROW - 10}" fill="#3b6ea5"/>`,
      `<text x="${LABEL_WIDTH + width + 6}" y="${y + 18}" font-size="12" fill="#444">${escapeXml(Number(weight.toPrecision(3)).toString())}</text>`,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="30" text-anchor="middle" font-size="18" font-weight="bold">Parameter importance</text>`,
    ...bars,
    "</svg>",
  ].join("");
}
