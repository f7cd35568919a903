/**
 * The one-way flow of the layers (README, "Layout"): config -> policy -> planner -> queue
 * -> jobs -> executor -> stores, with audit and state below the executor. A lower layer
 * never imports a higher one; type-only imports count too (`tsPreCompilationDeps`).
 * Checked by `npm test` through scripts/check-layers.mjs.
 */
const layer = (name, from, forbidden, why) => ({
  name,
  severity: 'error',
  comment: why,
  from: { path: from },
  to: { path: forbidden },
});

module.exports = {
  forbidden: [
    layer('policy-is-store-free', '^src/policy/', '^src/(stores|queue|executor|cli|audit|jobs)/|^jobs/',
      'policy/ reads and validates the config; store kinds reach it as a parameter (StoreKindCatalog)'),
    layer('stores-below-the-queue', '^src/stores/', '^src/(queue|executor|cli)/|^jobs/',
      'a store changes data when asked; it knows nothing of jobs, sweeps or commands'),
    layer('executor-below-the-queue', '^src/executor/', '^src/(queue|cli)/|^jobs/',
      'the executor plans, records and runs sweeps; it returns what to enqueue and jobs/ enqueues it'),
    layer('audit-is-a-record', '^src/audit/', '^src/(stores|queue|executor|cli)/|^jobs/',
      'the audit log records what the executor did; it calls nothing that acts'),
    layer('state-below-the-queue', '^src/state/', '^src/(queue|cli)/|^jobs/',
      'the state database holds sweeps and triggers; transport types do not live there'),
    layer('people-below-the-queue', '^src/people/', '^src/(queue|cli|executor)/|^jobs/',
      'people/ holds what a person is to the product (digests, sealed ids, holds, deadlines); the executor acts on it'),
    layer('draft-reads-text-only', '^src/draft/', '^src/(stores|queue|executor|cli|audit|state|people|planner|runtime)/|^jobs/',
      'draft/ turns a policy text into candidate rules; it is pure and acts on nothing (`retention draft` prints what it returns)'),
    layer('coverage-is-pure', '^src/coverage/', '^src/(stores|queue|executor|cli|audit|state|people|planner|runtime|draft)/|^jobs/',
      'coverage/ compares the config with catalog facts a store read; it reads and changes nothing itself (`retention coverage` prints what it returns)'),
    layer('sunset-is-pure', '^src/sunset/', '^src/(stores|queue|executor|cli|audit|state|people|planner|runtime|draft)/|^jobs/',
      'sunset/ decides, from the config alone, which rules a sunset applies and digests its plan and receipt; the executor counts and acts'),
    layer('init-is-pure', '^src/init/', '^src/(stores|queue|executor|cli|audit|state|people|planner|runtime|draft|report)/|^jobs/',
      'init/ turns catalog facts a store read into a starter config; it reads and changes nothing itself (`retention init` writes what it returns)'),
    layer('metrics-observe-for-the-worker', '^src/metrics/', '^src/cli/|^jobs/',
      'metrics/ counts, logs and serves what the worker does (metrics, health, alerts); the worker command wires it in'),
    layer('nothing-below-reads-metrics', '^src/(policy|planner|queue|executor|stores|anonymize|audit|state|people|runtime)/|^jobs/', '^src/metrics/',
      'the layers that act report through runtime.events (src/runtime/sweep-events.ts); they never call the metrics'),
    layer('queue-is-transport', '^src/queue/', '^src/cli/',
      'the queue layer carries jobs; commands sit above it'),
    layer('report-reads-for-commands', '^src/report/', '^src/cli/|^jobs/',
      'report/ gathers what `status` and `forecast` (and a dashboard) show; the commands print it, so it never imports them'),
    layer('nothing-below-reads-reports', '^src/(policy|planner|queue|executor|stores|anonymize|audit|state|people|draft|coverage|runtime)/|^jobs/', '^src/report/',
      'reports read every layer; no layer below depends on one'),
    {
      name: 'dashboard-is-a-view',
      severity: 'error',
      comment: 'dashboard/ serves what report/ gathers as a web page; it sits beside the commands, not above them (the pure formatters in src/cli/format-*.ts are shared)',
      from: { path: '^src/dashboard/' },
      to: { path: '^src/cli/|^jobs/', pathNot: '^src/cli/format-' },
    },
    layer('nothing-below-serves-the-dashboard', '^src/(policy|planner|queue|executor|stores|anonymize|audit|state|people|draft|coverage|sunset|runtime|report|metrics)/|^jobs/', '^src/dashboard/',
      'only the `dashboard` command starts the dashboard; no layer below depends on it'),
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'a cycle makes the layering meaningless and the import order fragile',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
