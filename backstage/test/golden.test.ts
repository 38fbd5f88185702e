// The demo mesh (testdata/demo-mesh.json: tests/demo/demo.yaml in the
// namespaces shop and finance, as tests/e2e/demo_test.go wantDemo has it)
// through the parser, the entities and the processor, against
// testdata/demo-entities.json, worked out by hand: every entity, and every
// relation the processor emits in a catalog that also holds the teams'
// own Components.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import { meshEntities, parseEventMesh } from '../src';
import { TEAMS, demoMesh, recordingLogger, relationsOf, testdata } from './fixtures';

test('the demo mesh: every entity and relation as worked out by hand', async () => {
  const want = JSON.parse(readFileSync(testdata('demo-entities.json'), 'utf8')) as { entities: Entity[]; relations: string[] };
  const problems: string[] = [];
  const entities = meshEntities(parseEventMesh(demoMesh(), p => problems.push(p)), { id: 'demo', baseUrl: 'http://eventmesh/namespaces/shop,finance' });
  assert.deepEqual(problems, []);
  const got = JSON.parse(JSON.stringify(entities)) as Entity[];
  assert.deepEqual(got.map(stringifyEntityRef), want.entities.map(stringifyEntityRef));
  for (const [i, entity] of want.entities.entries()) {
    assert.deepEqual(got[i], entity, stringifyEntityRef(entity));
  }
  const logger = recordingLogger();
  assert.deepEqual(await relationsOf(entities, [...entities, ...TEAMS], logger), want.relations);
  assert.deepEqual(logger.lines, [], 'the processor logged');
});
