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
import { mockServices } from '@backstage/backend-test-utils';
import type { CatalogProcessorResult } from '@backstage/plugin-catalog-node';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { KnativeEventMeshProcessor, meshEntities, parseEventMesh } from '../src';
import { demoMesh, recordingLogger, testdata } from './fixtures';

/** A team's Component for the workload whose backstage.io/kubernetes-id is id. */
export function teamComponent(namespace: string, name: string, id: string): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace, annotations: { 'backstage.io/kubernetes-id': id } },
    spec: { type: 'service', lifecycle: 'production', owner: namespace },
  };
}

/** The demo's workloads, as their teams describe them in the catalog. */
const TEAMS = [
  teamComponent('shop', 'shipping-service', 'shipping-service'),
  teamComponent('shop', 'analytics-service', 'analytics'),
  teamComponent('shop', 'notifier-service', 'notifier'),
  teamComponent('shop', 'archiver-service', 'archiver'),
  teamComponent('shop', 'packer-service', 'packer'),
  teamComponent('shop', 'labeler-service', 'labeler'),
  teamComponent('shop', 'heartbeat-job', 'heartbeat'),
  teamComponent('finance', 'billing-service', 'billing'),
];

/** The relations the processor emits for entities, in a catalog of catalog, as "source type target". */
export async function relationsOf(entities: Entity[], catalog: Entity[]) {
  const logger = recordingLogger();
  const processor = new KnativeEventMeshProcessor(catalogServiceMock({ entities: catalog }), mockServices.auth(), logger as never);
  const relations: string[] = [];
  const emit = (r: CatalogProcessorResult) => {
    if (r.type === 'relation') {
      relations.push(`${stringifyEntityRef(r.relation.source)} ${r.relation.type} ${stringifyEntityRef(r.relation.target)}`);
    }
  };
  for (const entity of entities) {
    const out = await processor.preProcessEntity(entity, { type: 'url', target: 'http://eventmesh' }, emit);
    assert.equal(out, entity, 'the processor changed an entity');
  }
  assert.deepEqual(logger.lines, [], 'the processor logged');
  return relations.sort();
}

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
  assert.deepEqual(await relationsOf(entities, [...entities, ...TEAMS]), want.relations);
});
