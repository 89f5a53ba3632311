import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MEMORY_HISTORY_MAX_ROWS, MemoryHistoryStore } from '../../adapters/embedded/memory-history-store.js';
import type { PositionRow } from '../../actors/ports/history-store.js';
import { ConfigError, loadConfig } from '../../engine/config.js';
import { startTestNode, TEST_SECRET } from '../support/engine.js';

const rows = (from: number, n: number): PositionRow[] =>
  Array.from({ length: n }, (_, i) => ({ vehicleId: 'cap-v1', point: { deviceId: 'cap-d1', ts: from + i * 10_000, lat: 52.5, lon: 13.4 } }));

describe('#11 MEMORY_HISTORY_MAX_ROWS: the memory history store\'s row cap is configurable', () => {
  it('#11 defaults to MEMORY_HISTORY_MAX_ROWS (1,000,000) and refuses what is not a whole number of rows', () => {
    assert.equal(loadConfig({ JWT_SECRET: TEST_SECRET }).memoryHistoryMaxRows, MEMORY_HISTORY_MAX_ROWS);
    assert.equal(MEMORY_HISTORY_MAX_ROWS, 1_000_000);
    assert.equal(loadConfig({ JWT_SECRET: TEST_SECRET, MEMORY_HISTORY_MAX_ROWS: '5' }).memoryHistoryMaxRows, 5);
    assert.throws(() => loadConfig({ JWT_SECRET: TEST_SECRET, MEMORY_HISTORY_MAX_ROWS: '-1' }), (e: unknown) => e instanceof ConfigError && /MEMORY_HISTORY_MAX_ROWS/.test(e.message));
    assert.throws(() => loadConfig({ JWT_SECRET: TEST_SECRET, MEMORY_HISTORY_MAX_ROWS: 'many' }), ConfigError);
  });

  it('#11 a node without PostgreSQL keeps at most MEMORY_HISTORY_MAX_ROWS positions, the oldest forgotten first', async () => {
    const t = Date.now() - 60_000;
    for (const [env, kept] of [[{ MEMORY_HISTORY_MAX_ROWS: '5' }, 3], [{}, 6]] as const) {
      const node = await startTestNode(env);
      try {
        const history = node.infrastructure.history;
        assert.ok(history instanceof MemoryHistoryStore);
        await history.appendPositions(rows(t, 3));
        await history.appendPositions(rows(t + 30_000, 3));
        assert.equal(history.size, kept, JSON.stringify(env));
        assert.equal((await history.positionsAfter('cap-v1', -Infinity, 100)).length, kept);
        assert.equal(history.keptAfter(), kept === 3 ? t + 20_000 : -Infinity);
      } finally {
        await node.close();
      }
    }
  });
});
