// 1.21.0's provider in the same test backend (test/backend.ts): its
// catalog query, without credentials, gets 401 under Backstage's default
// auth policy, so it relates no consumer. The fix of ours is in
// module.test.ts.

import test from 'node:test';
import assert from 'node:assert/strict';
import publishedModule from '@knative-extensions/plugin-knative-event-mesh-backend/alpha';
import { has, start } from './backend';

test("this backend fails 1.21.0's provider: its tokenless catalog query gets 401 and relates no consumer", async t => {
  const { entity } = await start(t, undefined, undefined, publishedModule);
  // Its entities arrive, and the catalog processes them (providesApi comes from the spec)...
  const deadline = Date.now() + 60_000;
  while (!(await has(entity, 'component:shop/default', 'providesApi', 'api:shop/order-created')) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  assert.ok(await has(entity, 'component:shop/default', 'providesApi', 'api:shop/order-created'), "1.21.0's entities were not processed");
  // ...but over several processing rounds (1 s each), no consumer is related.
  await new Promise(resolve => setTimeout(resolve, 5000));
  assert.equal(await has(entity, 'api:shop/order-created', 'apiConsumedBy', 'component:shop/orders-service'), false);
});
