import test from 'node:test';
import assert from 'node:assert/strict';
import { ConfigReader } from '@backstage/config';
import { DEFAULT_SCHEDULE, readAnnouncement, readEventSettings, readProviderConfigs } from '../src';

const providers = {
  east: { baseUrl: 'http://east/', token: 't1', schedule: { frequency: { minutes: 10 }, timeout: { seconds: 30 } } },
  west: { baseUrl: 'http://west', token: 't2' },
};

test('readProviderConfigs reads catalog.providers.knativeEventMesh as 1.21.0 does', () => {
  const got = readProviderConfigs(new ConfigReader({ catalog: { providers: { knativeEventMesh: providers } } }));
  assert.deepEqual(got, [
    {
      id: 'east',
      baseUrl: 'http://east/',
      token: 't1',
      schedule: { frequency: { minutes: 10 }, timeout: { seconds: 30 }, initialDelay: undefined, scope: undefined },
      apiType: 'eventType',
    },
    { id: 'west', baseUrl: 'http://west', token: 't2', schedule: DEFAULT_SCHEDULE, apiType: 'eventType' },
  ]);
  assert.deepEqual(readProviderConfigs(new ConfigReader({})), []);
  assert.throws(() => readProviderConfigs(new ConfigReader({ catalog: { providers: { knativeEventMesh: { x: { baseUrl: 'http://x' } } } } })), /token/);
});

test('readProviderConfigs: tokenFile instead of token, and one of them only', () => {
  const read = (c: object) => readProviderConfigs(new ConfigReader({ catalog: { providers: { knativeEventMesh: { x: { baseUrl: 'http://x', ...c } } } } }));
  assert.deepEqual(read({ tokenFile: '/var/run/token' }), [{ id: 'x', baseUrl: 'http://x', tokenFile: '/var/run/token', schedule: DEFAULT_SCHEDULE, apiType: 'eventType' }]);
  assert.throws(() => read({}), /catalog\.providers\.knativeEventMesh\.x has neither token nor tokenFile: set tokenFile/);
  assert.throws(() => read({ token: 't', tokenFile: '/f' }), /has both token and tokenFile: keep one/);
});

test('readEventSettings: defaults, routes, and a route to an unknown provider', () => {
  assert.deepEqual(readEventSettings(new ConfigReader({}), ['east']), {
    topic: 'knative-eventmesh',
    minIntervalMs: 500,
    clusters: undefined,
  });
  const got = readEventSettings(
    new ConfigReader({ events: { modules: { knativeEventMesh: { topic: 't', minInterval: { seconds: 5 }, clusters: { prod: ['east', 'west'] }, secret: 's' } } } }),
    ['east', 'west'],
  );
  // The ingress's settings (secret, serviceAccount) are the events module's.
  assert.deepEqual(got, { topic: 't', minIntervalMs: 5000, clusters: new Map([['prod', ['east', 'west']]]) });
  assert.throws(
    () => readEventSettings(new ConfigReader({ events: { modules: { knativeEventMesh: { clusters: { prod: ['north'] } } } } }), ['east']),
    /events\.modules\.knativeEventMesh\.clusters\.prod names the provider "north", which is not configured/,
  );
});

test('readEventSettings still reads knativeEventMesh.events, with a deprecation warning', () => {
  const warnings: string[] = [];
  const old = { knativeEventMesh: { events: { topic: 'old', clusters: { prod: ['north'] } } } };
  assert.equal(readEventSettings(new ConfigReader({ knativeEventMesh: { events: { topic: 'old' } } }), undefined, w => warnings.push(w)).topic, 'old');
  assert.deepEqual(warnings, ['knativeEventMesh.events is deprecated: move its settings to events.modules.knativeEventMesh']);
  assert.throws(() => readEventSettings(new ConfigReader(old), ['east']), /knativeEventMesh\.events\.clusters\.prod names the provider "north"/);
  warnings.length = 0;
  const both = new ConfigReader({ ...old, events: { modules: { knativeEventMesh: { topic: 'new' } } } });
  assert.equal(readEventSettings(both, ['east'], w => warnings.push(w)).topic, 'new');
  assert.deepEqual(warnings, ['knativeEventMesh.events is ignored: events.modules.knativeEventMesh is set. Remove knativeEventMesh.events']);
});

test('readAnnouncement reads binary and structured mode, and says what is not a CloudEvent', () => {
  const binary = { 'ce-specversion': '1.0', 'ce-source': '/s', 'content-type': 'application/json' };
  const cases: [unknown, unknown][] = [
    [{ metadata: { ...binary, 'ce-type': 'a', 'ce-subject': 's', 'ce-id': '1' }, eventPayload: {} }, { type: 'a', subject: 's', id: '1' }],
    [{ metadata: { ...binary, 'ce-type': ['a', 'b'], 'ce-id': '1' }, eventPayload: {} }, { type: 'a', subject: '', id: '1' }],
    // Structured mode, from the ingress or through the bus (no headers).
    [{ eventPayload: { specversion: '1.0', type: 'a', source: '/s', subject: 's', id: '2' } }, { type: 'a', subject: 's', id: '2' }],
    [{ eventPayload: '{"specversion":"1.0","type":"a","source":"/s","id":"3"}' }, { type: 'a', subject: '', id: '3' }],
    [{ metadata: { ...binary, 'ce-type': 'a' }, eventPayload: {} }, { problem: /not a CloudEvent in binary mode/ }],
    [{ eventPayload: '{not json' }, { problem: /not a CloudEvent in structured mode/ }],
    [{ eventPayload: [] }, { problem: /not a CloudEvent|empty/ }],
    [{ eventPayload: { type: 'a' } }, { problem: /not a CloudEvent in structured mode/ }],
    [{}, { problem: /not a CloudEvent/ }],
    [null, { problem: /not a CloudEvent/ }],
  ];
  for (const [event, want] of cases) {
    const got = readAnnouncement(event as never);
    if ('problem' in (want as object)) {
      assert.ok('problem' in got, JSON.stringify(event));
      assert.match((got as { problem: string }).problem, (want as { problem: RegExp }).problem);
    } else {
      assert.deepEqual(got, want);
    }
  }
});
