/**
 * The page's stylesheet, served as /assets/dashboard.css (the page's CSP allows styles from
 * the server only: no inline style). Kept in code so the build needs no asset copying.
 */
export const DASHBOARD_CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --bad: #cf222e; --bad-bg: #ffebe9; --warn: #9a6700; --warn-bg: #fff8c5; --ok: #1a7f37; --ok-bg: #dafbe1; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header { padding: 14px 24px; background: #24292f; color: #fff; display: flex; flex-wrap: wrap; gap: 4px 24px; align-items: baseline; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 0; color: #d1d9e0; }
header a { color: #fff; }
header code { background: #32383f; color: #fff; }
main { padding: 8px 24px 32px; max-width: 1600px; }
h2 { font-size: 16px; margin: 22px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h2 .count { color: var(--muted); font-weight: normal; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.source { max-width: 360px; color: var(--muted); }
td.id { white-space: nowrap; }
.sub { display: block; color: var(--muted); font-size: 12px; font-weight: normal; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg); padding: 1px 4px; border-radius: 4px; word-break: break-all; }
.banner { margin: 12px 0; padding: 10px 14px; border-radius: 6px; border: 1px solid; }
.banner ul { margin: 4px 0 0; padding-left: 20px; }
.banner.bad { background: var(--bad-bg); border-color: #ff818266; }
.banner.warn { background: var(--warn-bg); border-color: #d4a72c66; }
.banner.ok { background: var(--ok-bg); border-color: #4ac26b66; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.pill.bad { background: var(--bad-bg); color: var(--bad); }
.pill.warn { background: var(--warn-bg); color: var(--warn); }
.pill.ok { background: var(--ok-bg); color: var(--ok); }
.pill.muted { background: var(--bg); color: var(--muted); }
tr.overdue td { background: var(--bad-bg); }
tr.due-soon td { background: var(--warn-bg); }
.facts { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 0; }
.facts div { min-width: 140px; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 0; font-size: 18px; font-weight: 600; }
.empty { color: var(--muted); margin: 4px 0; }
.chart { overflow-x: auto; }
.forecast-chart { max-width: 100%; height: auto; }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 24px; }
`;
