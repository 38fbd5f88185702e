'use strict';

// The module in a Backstage test backend, with the real events service
// (one bus shared by all plugins, as in a real backend) and a scheduler
// that records which tasks are triggered.

const test = require('node:test');
const assert = require('node:assert/strict');
const { startTestBackend, mockServices } = require('@backstage/backend-test-utils');
const { coreServices, createBackendPlugin, createServiceFactory } = require('@backstage/backend-plugin-api');
const { eventsServiceFactory, eventsServiceRef } = require('@backstage/plugin-events-node');
const { announcementHandler } = require('..');
const { EVENT_TYPE } = require('../src/announcement');

const providers = {
  east: { baseUrl: 'http://east.example/', token: 't' },
  west: { baseUrl: 'http://west.example/', token: 't' },
  west2: { baseUrl: 'http://west2.example/', token: 't' },
};

/**
 * Starts a backend with the module and returns what it triggers, a way to
 * publish events as the events HTTP ingress does, and the log lines.
 */
async function start(t, moduleConfig) {
  const triggered = [];
  const logs = [];
  const scheduler = createServiceFactory({
    service: coreServices.scheduler,
    deps: { plugin: coreServices.pluginMetadata },
    factory({ plugin }) {
      return {
        async triggerTask(id) {
          triggered.push(`${plugin.getId()}/${id}`);
        },
        async scheduleTask() {},
        createScheduledTaskRunner() {
          return { run: async () => {} };
        },
        async cancelTask() {},
        async getScheduledTasks() {
          return [];
        },
      };
    },
  });
  const logger = createServiceFactory({
    service: coreServices.logger,
    deps: { plugin: coreServices.pluginMetadata },
    factory({ plugin }) {
      const log = level => message => logs.push({ plugin: plugin.getId(), level, message });
      const l = { info: log('info'), warn: log('warn'), error: log('error'), debug() {}, child: () => l };
      return l;
    },
  });
  let publisher;
  const ingress = createBackendPlugin({
    pluginId: 'ingress',
    register(env) {
      env.registerInit({
        deps: { events: eventsServiceRef },
        async init({ events }) {
          publisher = events;
        },
      });
    },
  });
  const backend = await startTestBackend({
    features: [
      // As a Backstage app adds it: backend.add(import('<package>')).
      import('@knative-eventmesh/plugin-catalog-backend-module-refresh'),
      ingress,
      eventsServiceFactory,
      scheduler,
      logger,
      mockServices.rootConfig.factory({
        data: {
          events: { useEventBus: 'never' },
          catalog: { providers: { knativeEventMesh: providers } },
          ...(moduleConfig ? { knativeEventMeshRefresh: moduleConfig } : {}),
        },
      }),
    ],
  });
  t.after(() => backend.stop());
  const publish = (metadata, eventPayload = {}, topic = moduleConfig?.topic ?? 'knative-eventmesh') =>
    publisher.publish({ topic, eventPayload, metadata });
  return { backend, triggered, logs, publish };
}

/** Waits until n tasks were triggered, at most 5 s. */
async function triggers(triggered, n) {
  for (let i = 0; i < 500 && triggered.length < n; i++) {
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  return [...triggered].sort();
}

const binary = (subject, id = '1') => ({ 'content-type': 'application/json', 'ce-type': EVENT_TYPE, 'ce-subject': subject, 'ce-id': id });

test('without routes, an announcement refreshes every provider, in the catalog plugin', async t => {
  const { triggered, publish } = await start(t);
  await publish(binary('any-cluster'));
  assert.deepEqual(await triggers(triggered, 3), [
    'catalog/knative-event-mesh-provider-east:run',
    'catalog/knative-event-mesh-provider-west2:run',
    'catalog/knative-event-mesh-provider-west:run',
  ]);
});

test('routes by subject: each cluster refreshes its own providers', async t => {
  const { triggered, publish, logs } = await start(t, { clusters: { east: ['east'], west: ['west', 'west2'] }, minInterval: { milliseconds: 10 } });
  await publish(binary('east'));
  assert.deepEqual(await triggers(triggered, 1), ['catalog/knative-event-mesh-provider-east:run']);
  triggered.length = 0;
  // Structured mode, as parsed by the cloudevents+json body parser.
  await publish({ 'content-type': 'application/cloudevents+json' }, { specversion: '1.0', type: EVENT_TYPE, subject: 'west', id: '2', source: '/s' });
  assert.deepEqual(await triggers(triggered, 2), [
    'catalog/knative-event-mesh-provider-west2:run',
    'catalog/knative-event-mesh-provider-west:run',
  ]);
  triggered.length = 0;
  await publish(binary('north', '3'));
  await publish(binary('east', '4'));
  assert.deepEqual(await triggers(triggered, 1), ['catalog/knative-event-mesh-provider-east:run'], 'the unknown subject north refreshed something');
  assert.ok(logs.some(l => l.level === 'info' && /Ignored a mesh change announced for cluster "north" \(id "3"\): no provider is routed/.test(l.message)));
});

test('other types, other topics and malformed events refresh nothing, each with a log line', async t => {
  const { triggered, publish, logs } = await start(t, { minInterval: { milliseconds: 10 } });
  await publish({ 'ce-type': 'dev.knative.sources.ping', 'ce-subject': 'east' });
  await publish({ 'content-type': 'application/json' }, 'not json {');
  await publish({ 'content-type': 'application/json' }, { hello: 'world' });
  await publish(binary('east'), {}, 'another-topic');
  // A real announcement after them: once it is through, the others were too.
  await publish(binary('east', 'last'));
  assert.equal((await triggers(triggered, 3)).length, 3);
  const ignored = logs.filter(l => l.message.startsWith('Ignored'));
  assert.equal(ignored.length, 3, JSON.stringify(logs, null, 1));
  assert.match(ignored[0].message, /type "dev\.knative\.sources\.ping"/);
  assert.match(ignored[1].message, /not JSON/);
  assert.match(ignored[2].message, /not a CloudEvent/);
  assert.ok(!logs.some(l => l.level !== 'info'), 'warned or failed on a bad event');
});

test('the handler never throws, whatever the event', async () => {
  const settings = { topic: 'k', minIntervalMs: 0, providerIds: ['east'], clusters: undefined };
  const seen = [];
  const handler = announcementHandler(settings, new Map([['east', { request: () => seen.push('east') }]]), { info() {} });
  const weird = [undefined, null, 1, 'x', [], { metadata: 5 }, { eventPayload: { specversion: 1 } }, { metadata: { 'ce-type': EVENT_TYPE, 'ce-subject': 'x'.repeat(10000) } }];
  for (const event of weird) {
    await handler(/** @type {any} */ (event));
  }
  assert.deepEqual(seen, ['east']);
});

test('stopping the backend drops a pending refresh', async t => {
  const { backend, triggered, publish } = await start(t, { minInterval: { milliseconds: 300 } });
  await publish(binary('east', '1'));
  assert.equal((await triggers(triggered, 3)).length, 3);
  await publish(binary('east', '2')); // pending for 300 ms
  await backend.stop();
  await new Promise(resolve => setTimeout(resolve, 600));
  assert.equal(triggered.length, 3, 'a refresh was triggered after the backend stopped');
});

test('the module subscribes on the local bus, so no long-poll holds the backend open', async t => {
  const { logs } = await start(t);
  assert.ok(logs.some(l => l.plugin === 'catalog' && l.message.includes("(this instance's events)")), JSON.stringify(logs));
});

test('an events service without a local bus is subscribed to as usual', async () => {
  const { subscribeLocally } = require('..');
  const subscribed = [];
  const events = { publish: async () => {}, subscribe: async options => subscribed.push(options.id) };
  assert.equal(await subscribeLocally(events, { id: 'x', topics: ['t'], onEvent: async () => {} }), 'bus');
  assert.deepEqual(subscribed, ['x']);
  const local = [];
  const withBus = { ...events, localBus: { subscribe: async options => local.push(options.id) } };
  assert.equal(await subscribeLocally(withBus, { id: 'x', topics: ['t'], onEvent: async () => {} }), 'local');
  assert.deepEqual(local, ['catalog.x']);
});
