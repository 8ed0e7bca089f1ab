import { Resvg } from "@resvg/resvg-js";

/** Rasterises an SVG to PNG bytes (headless: resvg, no browser, no native build). */
export function svgToPng(svg: string): Buffer {
  const rendered = new Resvg(svg, { background: "#ffffff", font: { loadSystemFonts: true } }).render();
  return Buffer.from(rendered.asPng());
}
