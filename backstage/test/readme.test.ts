// The READMEs against the code: the Broker entity the top-level README
// shows is the one the provider emits for the demo mesh, and
// backstage/README.md documents every annotation and relation of ours.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as api from '../src';
import { demoMesh } from './fixtures';

const read = (...path: string[]) => readFileSync(join(__dirname, '..', '..', ...path), 'utf8');

test("the README's Broker entity is the provider's", () => {
  const blocks = [...read('..', 'README.md').matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map(m => m[1]);
  const shown = blocks.filter(b => /^kind: Component$/m.test(b) && /^ {2}name: orders$/m.test(b));
  assert.equal(shown.length, 1, 'want one yaml block of the orders Broker in README.md');
  const entities = api.meshEntities(api.parseEventMesh(demoMesh()), { id: 'prod', baseUrl: 'http://eventmesh.knative-eventing.svc.cluster.local' });
  const orders = entities.find(e => e.kind === 'Component' && e.metadata.namespace === 'shop' && e.metadata.name === 'orders');
  assert.deepEqual(parse(shown[0]), JSON.parse(JSON.stringify(orders)));
});

test('backstage/README.md names every annotation and relation of ours', () => {
  const readme = read('README.md');
  const ours = Object.entries(api).filter(([k, v]) => /^(ANNOTATION|RELATION)_/.test(k) && typeof v === 'string' && !v.startsWith('backstage.io/'));
  assert.ok(ours.length >= 12, `only ${ours.length} exported`);
  for (const [name, value] of ours) {
    assert.ok(readme.includes(`\`${value}\``), `${name} (${value}) is not in backstage/README.md`);
  }
});
