// The catalog module in a Backstage test backend with the real catalog and
// events plugins, and the events module of
// @knative-eventmesh/plugin-events-backend-module-knative-event-mesh: the
// provider's entities reach the catalog, the processor relates EventTypes
// to their consumers under the backend's auth, and announcements the
// events module's ingress takes (with and without the shared secret)
// reach the provider through the events service alone.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import eventsPlugin from '@backstage/plugin-events-backend';
// By the package's name, as a Backstage app imports them.
import catalogModuleKnativeEventMesh from '@knative-eventmesh/plugin-catalog-backend-module-knative-event-mesh';
import eventsModuleKnativeEventMesh from '@knative-eventmesh/plugin-events-backend-module-knative-event-mesh';
import { eventsServiceFactory } from '@backstage/plugin-events-node';
import publishedModule from '@knative-extensions/plugin-knative-event-mesh-backend/alpha';
import { FakeFunction, demoMesh, eventually, teamComponent } from './fixtures';

// The teams' own Components, as a YAML file (JSON is YAML) of the catalog.
const COMPONENTS = [
  teamComponent('shop', 'orders-service', 'orders'),
  teamComponent('finance', 'audit-service', 'audit'),
  teamComponent('shop', 'packer-service', 'packer'),
  teamComponent('shop', 'heartbeat-job', 'heartbeat'),
]
  .map(e => JSON.stringify(e))
  .join('\n---\n');

async function start(t: test.TestContext, secret?: string, mesh?: unknown, provider: unknown = catalogModuleKnativeEventMesh) {
  const fn = await new FakeFunction().start();
  if (mesh) {
    fn.reply = { status: 200, body: JSON.stringify(mesh) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'eventmesh-module-test-'));
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  // The backend stops first (hooks run in the order they are added): with
  // its location file or the function gone, the catalog's processing fails,
  // and Backstage's engine publishes that error, unhandled, to an events
  // service that is already shutting down.
  t.after(async () => {
    await backend?.stop();
    await fn.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'components.yaml'), COMPONENTS);
  backend = await startTestBackend({
    features: [
      catalogPlugin,
      eventsPlugin,
      provider as typeof catalogModuleKnativeEventMesh,
      eventsModuleKnativeEventMesh,
      // The real events service: one bus for all plugins, as in a real
      // backend (the test backend's mock has one per plugin).
      eventsServiceFactory,
      // A request without a token is refused (401), as under Backstage's
      // default auth policy; the test backend's mock lets it through as a
      // user otherwise, and then 1.21.0's tokenless catalog query would pass.
      mockServices.httpAuth.factory({ defaultCredentials: mockCredentials.none() }),
      mockServices.rootConfig.factory({
        data: {
          // The events bus at Backstage's default; a short long-poll lets the backend stop.
          events: {
            notifyTimeoutMs: 2000,
            modules: { knativeEventMesh: { minInterval: { milliseconds: 100 }, ...(secret ? { secret } : {}) } },
          },
          catalog: {
            processingInterval: { seconds: 1 },
            locations: [{ type: 'file', target: join(dir, 'components.yaml'), rules: [{ allow: ['Component'] }] }],
            providers: {
              knativeEventMesh: {
                prod: { baseUrl: fn.url, token: 'reader-token', schedule: { frequency: { minutes: 60 }, timeout: { minutes: 1 } } },
              },
            },
          },
        },
      }),
    ],
  });
  const base = `http://127.0.0.1:${(backend.server.address() as { port: number }).port}`;
  const entity = async (ref: string) => {
    const [kind, rest] = ref.split(':');
    const res = await fetch(`${base}/api/catalog/entities/by-name/${kind}/${rest}`, {
      headers: { Authorization: mockCredentials.service.header() },
    });
    return res.status === 200 ? ((await res.json()) as { relations: { type: string; targetRef: string }[]; metadata: Record<string, unknown> }) : undefined;
  };
  const query = async (filter: string) => {
    const res = await fetch(`${base}/api/catalog/entities?filter=${encodeURIComponent(filter)}`, {
      headers: { Authorization: mockCredentials.service.header() },
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { kind: string; metadata: { namespace: string; name: string } }[]).map(
      e => `${e.kind.toLowerCase()}:${e.metadata.namespace}/${e.metadata.name}`,
    );
  };
  const post = (headers: Record<string, string>) =>
    fetch(`${base}/api/events/http/knative-eventmesh`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{}' });
  return { fn, entity, post, query, base };
}

const ANNOUNCEMENT = { 'ce-specversion': '1.0', 'ce-type': 'dev.knative.eventmesh.changed', 'ce-source': '/test', 'ce-id': '1', 'ce-subject': 'east' };

async function has(entity: (ref: string) => Promise<{ relations: { type: string; targetRef: string }[] } | undefined>, ref: string, type: string, target: string) {
  const e = await entity(ref);
  return !!e && e.relations.some(r => r.type === type && r.targetRef === target);
}

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
