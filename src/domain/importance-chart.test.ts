import { describe, expect, it } from "vitest";
import { importanceChartSvg } from "./importance-chart.js";

describe("importanceChartSvg", () => {
  it("draws one bar per parameter, largest first, with escaped labels", () => {
    const svg = importanceChartSvg({ small: 0.1, "<big & bold>": 0.9 }) ?? "";
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(2);
    expect(svg).not.toContain("<big");
    expect(svg.indexOf("&#60;big")).toBeLessThan(svg.indexOf(">small<"));
  });

  it("has nothing to draw without usable weights", () => {
    expect(importanceChartSvg({})).toBeNull();
    expect(importanceChartSvg({ a: Number.NaN, b: -1 })).toBeNull();
  });
});
