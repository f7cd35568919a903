import { afterEach, describe, expect, it } from 'vitest';
import { FaultWorld } from './helpers/fault-world.js';
import { expiredByConstruction } from './helpers/fault-table.js';
import { verifyScenario } from './helpers/verify-scenario.js';

/**
 * The suite is only as good as its final checks: here they must pass after a clean sweep
 * and catch each kind of damage a fault could cause.
 */
let world: FaultWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

describe('the checks after each fault scenario', () => {
  it('pass after a clean sweep and catch a lost row, a left-over expired row and an edited row', async () => {
    world = await FaultWorld.create({ rows: 2_000, batchSize: 500 });
    const run = world.startRun('admin-run');
    expect((await run.finish(120_000)).code, run.describe()).toBe(0);
    expect((await verifyScenario(world)).problems).toEqual([]);

    const keptId = 1; // odd, not held: anchored within the year
    const expiredId = 4; // even, not a NULL anchor, not held
    expect(expiredByConstruction(keptId)).toBe(false);
    expect(expiredByConstruction(expiredId)).toBe(true);
    const table = world.table.qualified;
    await world.pool.query(`DELETE FROM ${table} WHERE id = $1`, [keptId]);
    await world.pool.query(`INSERT INTO ${table} SELECT * FROM ${world.table.snapshot} WHERE id = $1`, [expiredId]);
    await world.pool.query(`UPDATE ${table} SET payload = 'changed' WHERE id = 3`);

    const { problems } = await verifyScenario(world);
    expect(problems).toEqual(
      expect.arrayContaining([
        '1 expired rows are still there',
        '1 rows that had to stay were deleted',
        expect.stringMatching(/^surviving rows differ from the snapshot/),
      ]),
    );
  });
});
