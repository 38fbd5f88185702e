// The processor on its own, in an in-memory catalog: consumers that are
// sinks, transforms and request-replies, senders of other namespaces, and
// a catalog that fails.

import test from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import { meshEntities, parseEventMesh, type EventMesh } from '../src';
import { TEAMS, demoMesh, recordingLogger, relationsOf, teamComponent } from './fixtures';

const context = { id: 'prod', baseUrl: 'http://eventmesh' };
const meta = (namespace: string, name: string, id: string) => ({ namespace, name, labels: { 'backstage.io/kubernetes-id': id }, annotations: null });

test('sinks, transforms and request-replies are consumers where consumedBy names them', async () => {
  const mesh: EventMesh = parseEventMesh({
    ...demoMesh(),
    eventTypes: [{ ...meta('finance', 'invoice-due', 'x'), labels: null, type: 'com.example.invoice.due', consumedBy: ['invoicer', 'trimmer', 'replier', 'nobody'] }],
    eventTransforms: [{ ...meta('finance', 'trim', 'trimmer'), group: 'eventing.knative.dev', kind: 'EventTransform' }],
    requestReplies: [{ ...meta('finance', 'ask', 'replier'), group: 'eventing.knative.dev', kind: 'RequestReply' }],
  });
  const entities = meshEntities(mesh, context);
  const logger = recordingLogger();
  const got = await relationsOf(entities, entities, logger);
  const api = 'api:finance/invoice-due';
  assert.deepEqual(
    got.filter(r => r.includes(api)),
    [
      `${api} apiConsumedBy component:finance/ask`,
      `${api} apiConsumedBy component:finance/invoicer`,
      `${api} apiConsumedBy component:finance/trim`,
      `component:finance/ask consumesApi ${api}`,
      `component:finance/invoicer consumesApi ${api}`,
      `component:finance/trim consumesApi ${api}`,
    ],
  );
  assert.deepEqual(logger.lines, []);
});

test('allowed senders are found in their own namespace, and nothing is related to itself', async () => {
  const demo = demoMesh();
  const orders = demo.brokers[1];
  orders.allowedSenders = [
    ...(orders.allowedSenders ?? []),
    { group: '', kind: 'ServiceAccount', namespace: 'finance', name: 'billing', backstageId: 'billing' },
    { group: 'sources.knative.dev', kind: 'ApiServerSource', namespace: 'shop', name: 'nameless' },
  ];
  demo.flows[0].labels = { 'backstage.io/kubernetes-id': 'fulfilment' };
  demo.flows[0].consumedBy = ['fulfilment', 'packer'];
  const entities = meshEntities(parseEventMesh(demo), context);
  const got = await relationsOf(entities, [...entities, ...TEAMS, teamComponent('shop', 'billing-lookalike', 'billing')]);
  assert.deepEqual(
    got.filter(r => /Sender|depend/.test(r)),
    [
      'component:finance/billing-service allowedSenderOf component:shop/orders',
      'component:shop/fulfilment dependsOn component:shop/packer-service',
      'component:shop/heartbeat-job allowedSenderOf component:shop/orders',
      'component:shop/orders hasAllowedSender component:finance/billing-service',
      'component:shop/orders hasAllowedSender component:shop/heartbeat-job',
      'component:shop/packer-service dependencyOf component:shop/fulfilment',
    ],
  );
});

test('a catalog query that fails is logged, and relates nothing', async () => {
  const entities = meshEntities(parseEventMesh(demoMesh()), context);
  const failing = {
    async queryEntities() {
      throw new Error('catalog down');
    },
  } as unknown as CatalogService;
  const logger = recordingLogger();
  assert.deepEqual(await relationsOf(entities, failing, logger), []);
  const errors = logger.lines.filter(l => l.level === 'error').map(l => l.message);
  assert.ok(errors.some(m => /namespace shop with backstage\.io\/kubernetes-id labeler, packer: Error: catalog down/.test(m)), errors.join('\n'));
  assert.ok(errors.some(m => /namespace shop with backstage\.io\/kubernetes-id heartbeat: Error: catalog down/.test(m)), errors.join('\n'));
});

test('forged annotations relate nothing: not on a Broker of the mesh, nor on an entity of another location', async () => {
  const mesh = demoMesh();
  mesh.brokers[0].annotations = { 'knative.dev/allowed-sender-ids': 'finance/billing' };
  const entities = meshEntities(parseEventMesh(mesh), context);
  // A team's own Component, from its catalog-info.yaml, with the provider's keys.
  const team = teamComponent('shop', 'sneaky', 'sneaky');
  team.metadata.annotations = { ...team.metadata.annotations, 'knative.dev/allowed-sender-ids': 'finance/billing' };
  team.metadata.consumedBy = ['billing'];
  const got = await relationsOf([...entities, team], [...entities, ...TEAMS, team]);
  assert.deepEqual(got.filter(r => r.includes('finance/billing')), []);
  assert.ok(got.includes('component:shop/orders hasAllowedSender component:shop/heartbeat-job'), got.join('\n'));
});
