import { DateTime } from 'luxon';
import type { Forecast } from '../report/forecast.js';
import { html, type Html } from './html.js';

/** Okabe-Ito: told apart with the common colour-vision deficiencies; cycled past eight rules. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#8C6D1F', '#000000'] as const;

const WIDTH = 880;
const PLOT_TOP = 24;
const PLOT_HEIGHT = 220;
const LEFT = 64;
const RIGHT = 16;
const AXIS_LABELS = 34;
const LEGEND_ROW = 20;
/** Above this many columns only every other week is labelled (then every fourth, ...). */
const MAX_LABELS = 16;

/** The colour of the rule at `index` in the forecast: the chart and the table beside it agree. */
export function ruleColour(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** 0, 1, 2, 5, 10, 20, 50, ...: the smallest such step that fits `max` in four gridlines. */
function niceStep(max: number): number {
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
}

/**
 * Pure: the forecast as a stacked bar chart in SVG, server-rendered (the page runs no
 * script). The first column is what is due now ("pending": past its end and still
 * present), then one per week, each stacked by rule; a rule that could not be counted is
 * left out of the bars and named in the legend. Every text is escaped (rule ids are the
 * config's text). Week labels are the weeks' first days in `zone`.
 */
export function forecastChart(forecast: Forecast, zone: string): Html {
  const columns = [
    { label: 'due now', title: `due now (past their end at ${forecast.pendingAt.toISOString()})`, values: forecast.rules.map((r) => r.pending) },
    ...forecast.weeks.map((w) => ({
      label: DateTime.fromJSDate(w.start, { zone }).toFormat('LLL d'),
      title: `week ${w.week}: ${w.start.toISOString()} to ${w.end.toISOString()}`,
      values: forecast.rules.map((r) => r.weeks?.[w.week - 1] ?? null),
    })),
  ];
  const totals = columns.map((c) => c.values.reduce<number>((sum, v) => sum + (v ?? 0), 0));
  const max = Math.max(0, ...totals);
  const step = max === 0 ? 1 : niceStep(max);
  const top = max === 0 ? 4 : Math.ceil(max / step) * step;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const slot = plotWidth / columns.length;
  const barWidth = Math.max(4, Math.min(48, slot * 0.7));
  const y = (value: number) => PLOT_TOP + PLOT_HEIGHT - (value / top) * PLOT_HEIGHT;
  const labelEvery = Math.ceil(columns.length / MAX_LABELS);
  const legendTop = PLOT_TOP + PLOT_HEIGHT + AXIS_LABELS;
  const height = legendTop + forecast.rules.length * LEGEND_ROW + 8;
  const fmt = (n: number) => n.toLocaleString('en-US');

  const gridlines = [];
  for (let v = 0; v <= top; v += step) {
    gridlines.push(html`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(v)}" y2="${y(v)}" stroke="#d0d7de" stroke-width="1"/>
<text x="${LEFT - 8}" y="${y(v) + 4}" text-anchor="end" font-size="11" fill="#57606a">${fmt(v)}</text>`);
  }

  const bars = columns.map((column, i) => {
    const x = LEFT + slot * i + (slot - barWidth) / 2;
    let base = 0;
    const segments = column.values.map((value, r) => {
      if (value === null || value === 0) return null;
      const segment = html`<rect x="${x.toFixed(1)}" y="${y(base + value).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(y(base) - y(base + value)).toFixed(1)}" fill="${ruleColour(r)}"><title>${forecast.rules[r]!.rule.id}, ${column.title}: ${fmt(value)}</title></rect>`;
      base += value;
      return segment;
    });
    const centre = (x + barWidth / 2).toFixed(1);
    return html`<g class="column">${segments}
${totals[i]! > 0 ? html`<text x="${centre}" y="${y(totals[i]!) - 5}" text-anchor="middle" font-size="11" fill="#24292f">${fmt(totals[i]!)}</text>` : null}
${i % labelEvery === 0 ? html`<text x="${centre}" y="${PLOT_TOP + PLOT_HEIGHT + 16}" text-anchor="middle" font-size="11" fill="#24292f">${column.label}</text>` : null}</g>`;
  });

  const legend = forecast.rules.map((r, i) => {
    const rowY = legendTop + i * LEGEND_ROW;
    const total = r.weeks === null ? null : r.weeks.reduce((a, b) => a + b, 0);
    const note = r.error !== null ? ` (could not be counted: ${r.error})` : `: ${fmt(r.pending ?? 0)} due now, ${fmt(total ?? 0)} in ${forecast.weeks.length} weeks`;
    return html`<rect x="${LEFT}" y="${rowY}" width="12" height="12" fill="${r.error !== null ? '#ffffff' : ruleColour(i)}" stroke="${ruleColour(i)}"/>
<text x="${LEFT + 18}" y="${rowY + 10}" font-size="12" fill="#24292f">${r.rule.id}${note}</text>`;
  });

  return html`<svg class="forecast-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-labelledby="forecast-chart-title" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">
<title id="forecast-chart-title">Items reaching the end of their retention period: due now, then per week for ${forecast.weeks.length} weeks, stacked by rule</title>
${gridlines}
<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(0)}" y2="${y(0)}" stroke="#57606a" stroke-width="1"/>
${max === 0 ? html`<text x="${LEFT + plotWidth / 2}" y="${PLOT_TOP + PLOT_HEIGHT / 2}" text-anchor="middle" font-size="13" fill="#57606a">nothing reaches the end of its period in these weeks</text>` : null}
${bars}
${legend}
</svg>`;
}
