import { describe, expect, it } from 'vitest';
import { logSettings } from '../../src/metrics/worker-log.js';

/** Only the worker's own RETENTION_LOG_LEVEL stops it; a generic LOG_LEVEL it cannot read is ignored with a warning. */
describe('log level from the environment', () => {
  it('ignores a LOG_LEVEL that is no level, with a warning naming it, and logs at info', () => {
    const settings = logSettings({ LOG_LEVEL: 'loud' }, false);
    expect(settings.level).toBe('info');
    expect(settings.warnings).toHaveLength(1);
    expect(settings.warnings![0]).toContain('LOG_LEVEL: "loud" is not a log level');
    expect(settings.warnings![0]).toContain('ignored');
  });

  it('accepts warning as warn, in either variable', () => {
    expect(logSettings({ LOG_LEVEL: 'WARNING' }, false)).toEqual({ level: 'warn', format: 'json' });
    expect(logSettings({ RETENTION_LOG_LEVEL: 'warning' }, false)).toEqual({ level: 'warn', format: 'json' });
  });

  it('still refuses a RETENTION_LOG_LEVEL that is no level, even when LOG_LEVEL is fine', () => {
    expect(() => logSettings({ RETENTION_LOG_LEVEL: 'loud', LOG_LEVEL: 'debug' }, false)).toThrow('RETENTION_LOG_LEVEL: "loud" is not a log level');
  });
});
