// The events module in a Backstage test backend with the real events
// plugin and events service: what its ingress takes is published on the
// topic, as {topic, eventPayload}, to any subscriber of the events
// service (here a plugin of the test's own, as the catalog module is for
// the function's announcements); what it refuses reaches no one.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { createBackendPlugin } from '@backstage/backend-plugin-api';
import type { JsonObject } from '@backstage/types';
import eventsPlugin from '@backstage/plugin-events-backend';
import { eventsServiceFactory, eventsServiceRef, type EventParams } from '@backstage/plugin-events-node';
// By the package's name, as a Backstage app imports it.
import eventsModuleKnativeEventMesh from '@knative-eventmesh/plugin-events-backend-module-knative-event-mesh';

/** A structured-mode CloudEvent, as the function announces. */
const ANNOUNCEMENT = {
  specversion: '1.0',
  type: 'dev.knative.eventmesh.changed',
  source: '/apis/v1/namespaces/knative-eventing/services/eventmesh',
  id: '1',
  subject: 'prod',
  datacontenttype: 'application/json',
  data: { generation: 7 },
};

async function start(t: test.TestContext, settings: JsonObject, key: 'new' | 'old' = 'new') {
  const received: EventParams[] = [];
  const subscriber = createBackendPlugin({
    pluginId: 'subscriber',
    register(env) {
      env.registerInit({
        deps: { events: eventsServiceRef },
        async init({ events }) {
          await events.subscribe({ id: 'subscriber', topics: [String(settings.topic ?? 'knative-eventmesh')], onEvent: async e => void received.push(e) });
        },
      });
    },
  });
  // The events bus at Backstage's default; a short long-poll lets the backend stop.
  const data =
    key === 'new'
      ? { events: { notifyTimeoutMs: 1000, modules: { knativeEventMesh: settings } } }
      : { events: { notifyTimeoutMs: 1000 }, knativeEventMesh: { events: settings } };
  const backend = await startTestBackend({
    features: [
      eventsPlugin,
      eventsModuleKnativeEventMesh,
      subscriber,
      // The real events service: one bus for all plugins, as in a real backend.
      eventsServiceFactory,
      mockServices.rootConfig.factory({ data }),
    ],
  });
  t.after(() => backend.stop());
  const base = `http://127.0.0.1:${(backend.server.address() as { port: number }).port}`;
  const post = (topic: string, headers: Record<string, string>, body: string = JSON.stringify(ANNOUNCEMENT)) =>
    fetch(`${base}/api/events/http/${topic}`, { method: 'POST', headers: { 'Content-Type': 'application/cloudevents+json', ...headers }, body });
  return { post, received };
}

async function eventually(cond: () => boolean) {
  const deadline = Date.now() + 10_000;
  while (!cond() && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  assert.ok(cond(), 'not within 10 s');
}

test('a structured-mode announcement with the secret is published on the topic, its attributes in the payload', async t => {
  const { post, received } = await start(t, { secret: 's3cret' });
  const res = await post('knative-eventmesh', { 'x-eventmesh-secret': 's3cret' });
  assert.equal(res.status, 202);
  await eventually(() => received.length === 1);
  assert.equal(received[0].topic, 'knative-eventmesh');
  // The payload alone says it all: the events bus carries only topic and payload.
  assert.deepEqual(received[0].eventPayload, ANNOUNCEMENT);
});

test('without configuration the ingress refuses with 403, saying how to allow, and publishes nothing', async t => {
  const { post, received } = await start(t, {});
  const res = await post('knative-eventmesh', {});
  assert.equal(res.status, 403);
  assert.match(JSON.stringify(await res.json()), /announcements are refused: configure events\.modules\.knativeEventMesh\.serviceAccount/);
  await new Promise(resolve => setTimeout(resolve, 300));
  assert.deepEqual(received, []);
});

test('with the secret configured, a POST without it or with a wrong one gets 401 and publishes nothing', async t => {
  const { post, received } = await start(t, { secret: 's3cret' });
  for (const headers of [{}, { 'x-eventmesh-secret': 'wrong' }] as Record<string, string>[]) {
    const res = await post('knative-eventmesh', headers);
    assert.equal(res.status, 401);
    assert.match(JSON.stringify(await res.json()), /x-eventmesh-secret/);
  }
  await new Promise(resolve => setTimeout(resolve, 300));
  assert.deepEqual(received, []);
});

test('the topic, and the older key knativeEventMesh.events, are honoured', async t => {
  const { post, received } = await start(t, { topic: 'mesh-east', insecureAllowUnauthenticated: true }, 'old');
  assert.equal((await post('mesh-east', {})).status, 202);
  await eventually(() => received.length === 1);
  assert.equal(received[0].topic, 'mesh-east');
  // No ingress for the default topic.
  assert.equal((await post('knative-eventmesh', {})).status, 404);
});
