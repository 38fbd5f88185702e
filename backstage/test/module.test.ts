// The catalog module in a Backstage test backend (test/backend.ts) with
// the real catalog and events plugins, and the events module of
// @knative-eventmesh/plugin-events-backend-module-knative-event-mesh: the
// provider's entities reach the catalog, the processor relates EventTypes
// to their consumers under the backend's auth, and announcements the
// events module's ingress takes (with and without the shared secret)
// reach the provider through the events service alone. tests/catalog
// runs this file against @backstage/plugin-catalog-node 3.x too.

import test from 'node:test';
import assert from 'node:assert/strict';
import { ANNOUNCEMENT, has, start } from './backend';
import { demoMesh, eventually } from './fixtures';

test('entities, consumer relations, and announcements through the ingress', async t => {
  const { fn, entity, post, base } = await start(t, 'the-shared-secret');
  // The backend refuses a request without a token, as 1.21.0's processor sends.
  assert.equal((await fetch(`${base}/api/catalog/entities`)).status, 401);
  // consumedBy [orders, audit]: orders-service is in the API's namespace,
  // audit-service is not, as 1.21.0 matches consumers.
  const deadline = Date.now() + 60_000;
  let related = false;
  while (!related && Date.now() < deadline) {
    related =
      (await has(entity, 'api:shop/order-created', 'apiConsumedBy', 'component:shop/orders-service')) &&
      (await has(entity, 'component:shop/orders-service', 'consumesApi', 'api:shop/order-created'));
    if (!related) await new Promise(resolve => setTimeout(resolve, 200));
  }
  assert.ok(related, 'no apiConsumedBy/consumesApi relations between api:shop/order-created and component:shop/orders-service');
  assert.equal(await has(entity, 'api:shop/order-created', 'apiConsumedBy', 'component:finance/audit-service'), false);
  assert.ok(await has(entity, 'component:shop/default', 'providesApi', 'api:shop/order-created'));

  const reads = fn.requests.length;
  const res = await post({ ...ANNOUNCEMENT, 'x-eventmesh-secret': 'the-shared-secret' });
  assert.equal(res.status, 202);
  await eventually(() => fn.requests.length === reads + 1);
});

test('a flow depends on what it calls, and a Broker has its allowed senders, in the catalog', async t => {
  const { entity, query } = await start(t, undefined, demoMesh());
  const want: [string, string, string][] = [
    ['component:shop/fulfilment', 'dependsOn', 'component:shop/packer-service'],
    ['component:shop/packer-service', 'dependencyOf', 'component:shop/fulfilment'],
    ['component:shop/orders', 'hasAllowedSender', 'component:shop/heartbeat-job'],
    ['component:shop/heartbeat-job', 'allowedSenderOf', 'component:shop/orders'],
  ];
  const deadline = Date.now() + 60_000;
  let missing = want;
  while (missing.length > 0 && Date.now() < deadline) {
    const left: typeof want = [];
    for (const r of missing) {
      if (!(await has(entity, ...r))) left.push(r);
    }
    missing = left;
    if (missing.length > 0) await new Promise(resolve => setTimeout(resolve, 200));
  }
  assert.deepEqual(missing, [], 'relations not in the catalog');
  // Who may send to what, and what a Broker accepts from, as Backstage's API answers.
  assert.deepEqual(await query('relations.hasAllowedSender=component:shop/heartbeat-job'), ['component:shop/orders']);
  assert.deepEqual(await query('relations.allowedSenderOf=component:shop/orders'), ['component:shop/heartbeat-job']);
  const orders = await entity('component:shop/orders');
  assert.equal(orders?.metadata.annotations && (orders.metadata.annotations as Record<string, string>)['knative.dev/authorization'], 'event-policies');
});

test('without configuration, the ingress refuses announcements with 403 and reads nothing', async t => {
  const { fn, post } = await start(t);
  await eventually(() => fn.requests.length === 1);
  const res = await post(ANNOUNCEMENT);
  assert.equal(res.status, 403);
  assert.match(JSON.stringify(await res.json()), /announcements are refused: configure events\.modules\.knativeEventMesh\.serviceAccount/);
  await new Promise(resolve => setTimeout(resolve, 300));
  assert.equal(fn.requests.length, 1, 'a refused POST made the provider read');
});

test('with a shared secret, the ingress answers 401 without it and reads nothing', async t => {
  const { fn, post } = await start(t, 'the-shared-secret');
  await eventually(() => fn.requests.length === 1);
  for (const headers of [ANNOUNCEMENT, { ...ANNOUNCEMENT, 'x-eventmesh-secret': 'wrong' }]) {
    const res = await post(headers);
    assert.equal(res.status, 401);
    assert.match(JSON.stringify(await res.json()), /x-eventmesh-secret/);
  }
  await new Promise(resolve => setTimeout(resolve, 300));
  assert.equal(fn.requests.length, 1, 'a POST without the secret made the provider read');
  const res = await post({ ...ANNOUNCEMENT, 'x-eventmesh-secret': 'the-shared-secret' });
  assert.equal(res.status, 202);
  await eventually(() => fn.requests.length === 2);
});
