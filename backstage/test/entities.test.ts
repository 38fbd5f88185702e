// The entities of our provider against those of the published provider
// 1.21.0, on the same mesh: the same, entity by entity.

import test from 'node:test';
import assert from 'node:assert/strict';
import { KnativeEventMeshProvider as Published } from '@knative-extensions/plugin-knative-event-mesh-backend';
import { meshEntities, parseEventMesh } from '../src';
import { sampleMesh } from './fixtures';

const quiet = { child: () => quiet, debug() {}, info() {}, warn() {}, error() {} };

for (const baseUrl of ['http://eventmesh.knative-eventing.svc.cluster.local', 'http://eventmesh/namespaces/shop/']) {
  test(`the same entities as 1.21.0 (baseUrl ${baseUrl})`, () => {
    const published = new Published({ id: 'prod', baseUrl, token: 't' }, quiet as never, { run: async () => {} } as never);
    // 1.21.0 writes into the mesh's annotations: each gets its own copy.
    // JSON drops the fields 1.21.0 sets to undefined, as the catalog does.
    const want = JSON.parse(JSON.stringify((published as unknown as { buildEntities(mesh: unknown): unknown[] }).buildEntities(sampleMesh())));
    const got = JSON.parse(JSON.stringify(meshEntities(sampleMesh(), { id: 'prod', baseUrl })));
    assert.equal(got.length, want.length);
    for (const [i, entity] of want.entries()) {
      assert.deepEqual(got[i], entity, `entity ${i} (${entity.kind} ${entity.metadata.namespace}/${entity.metadata.name})`);
    }
  });
}

test('meshEntities leaves the mesh as it is', () => {
  const mesh = sampleMesh();
  const before = JSON.stringify(mesh);
  meshEntities(mesh, { id: 'prod', baseUrl: 'http://x' });
  assert.equal(JSON.stringify(mesh), before);
});

test('parseEventMesh says what is wrong with a body', () => {
  const cases: [unknown, RegExp][] = [
    [null, /not a JSON object/],
    [[], /not a JSON object/],
    [{ eventTypes: [], brokers: [], subscribables: [] }, /"sources" is not a list/],
    [{ eventTypes: [{ name: 'a' }], brokers: [], subscribables: [], sources: [] }, /eventTypes\[0\] has no name and namespace/],
    [{ eventTypes: [], brokers: [null], subscribables: [], sources: [] }, /brokers\[0\]/],
  ];
  for (const [body, want] of cases) {
    assert.throws(() => parseEventMesh(body), want);
  }
  assert.deepEqual(parseEventMesh(sampleMesh()), sampleMesh());
});
