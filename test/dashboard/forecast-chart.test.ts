import { describe, expect, it } from 'vitest';
import { forecastChart, ruleColour } from '../../src/dashboard/forecast-chart.js';
import type { Rule } from '../../src/policy/rule.js';
import type { Forecast, RuleForecast } from '../../src/report/forecast.js';
import { forecastWindows } from '../../src/report/forecast-weeks.js';

const NOW = new Date('2026-03-02T09:30:00Z');

function forecast(rules: Pick<RuleForecast, 'pending' | 'weeks' | 'error'>[]): Forecast {
  const { pendingAt, weeks } = forecastWindows(NOW, 2, 'Europe/Berlin');
  return {
    now: NOW,
    pendingAt,
    weeks,
    rules: rules.map((r, i) => ({ ...r, rule: { id: `rule-${i}` } as Rule, target: 't', held: 'none', ruleHold: null })),
  };
}

/** The bars: their rule colour and height, per column (by x). */
function bars(svg: string): Map<string, { fill: string; height: number }[]> {
  const columns = new Map<string, { fill: string; height: number }[]>();
  for (const m of svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="(#[0-9A-F]+)"><title>/g)) {
    columns.set(m[1]!, [...(columns.get(m[1]!) ?? []), { fill: m[3]!, height: Number(m[2]) }]);
  }
  return columns;
}

describe('the forecast chart', () => {
  it('stacks each column by rule, due now first, with heights in proportion and each total written above', () => {
    const svg = forecastChart(forecast([
      { pending: 5, weeks: [3, 0], error: null },
      { pending: 0, weeks: [1, 2], error: null },
    ]), 'Europe/Berlin').text;
    const columns = [...bars(svg).values()];
    expect(columns.map((c) => c.map((b) => b.fill))).toEqual([[ruleColour(0)], [ruleColour(0), ruleColour(1)], [ruleColour(1)]]);
    const unit = columns[0]![0]!.height / 5;
    expect(columns[1]!.map((b) => b.height / unit)).toEqual([3, 1].map((n) => expect.closeTo(n, 1)));
    expect(columns[2]![0]!.height / unit).toBeCloseTo(2, 1);
    const texts = [...svg.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(texts).toEqual(expect.arrayContaining(['5', '4', '2', 'due now', 'Mar 2', 'Mar 9']));
    expect(texts).toContain('rule-0: 5 due now, 3 in 2 weeks');
  });

  it('leaves a rule that could not be counted out of the bars and names it, its error escaped', () => {
    const svg = forecastChart(forecast([
      { pending: 2, weeks: [0, 1], error: null },
      { pending: null, weeks: null, error: 'relation "<b>gone</b>" does not exist' },
    ]), 'UTC').text;
    expect([...bars(svg).values()].flat().map((b) => b.fill)).toEqual([ruleColour(0), ruleColour(0)]);
    expect(svg).toContain('rule-1 (could not be counted: relation &quot;&lt;b&gt;gone&lt;/b&gt;&quot; does not exist)');
    expect(svg).not.toContain('<b>');
  });

  it('says so when nothing reaches its end', () => {
    const svg = forecastChart(forecast([{ pending: 0, weeks: [0, 0], error: null }]), 'UTC').text;
    expect(bars(svg).size).toBe(0);
    expect(svg).toContain('nothing reaches the end of its period in these weeks');
  });
});
