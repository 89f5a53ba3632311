import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ENGINE_NODE_FLAGS, startedWithEngineFlags } from '../../engine/node-flags.js';

describe('the engine\'s Node flags (#11)', () => {
  it('are recognised on the command line, in NODE_OPTIONS, with underscores, and missing', () => {
    assert.equal(startedWithEngineFlags(['--max-semi-space-size=64'], ''), true);
    assert.equal(startedWithEngineFlags(['--import', 'tsx'], '--max-semi-space-size=128 --enable-source-maps'), true);
    assert.equal(startedWithEngineFlags([], '--max_semi_space_size=64'), true);
    assert.equal(startedWithEngineFlags(['--import', 'tsx'], ''), false);
    assert.equal(startedWithEngineFlags(['--max-old-space-size=4096'], '--max-semi-space'), false);
  });

  it('are the ones npm start and the image start the engine with', () => {
    const root = new URL('../../', import.meta.url);
    const start = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
    assert.ok(start.includes(` node ${ENGINE_NODE_FLAGS.join(' ')} dist/engine/main.js`), `npm start: ${start}`);
    assert.ok(dockerfile.includes(`CMD ["node", ${ENGINE_NODE_FLAGS.map((f) => `"${f}"`).join(', ')}, "dist/engine/main.js"]`), 'the Dockerfile CMD passes the flags');
  });
});
