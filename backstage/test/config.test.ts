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

test('readEventSettings: defaults, routes, and a route to an unknown provider', () => {
  assert.deepEqual(readEventSettings(new ConfigReader({}), ['east']), {
    topic: 'knative-eventmesh',
    minIntervalMs: 2000,
    clusters: undefined,
    secret: undefined,
  });
  const got = readEventSettings(
    new ConfigReader({ knativeEventMesh: { events: { topic: 't', minInterval: { seconds: 5 }, clusters: { prod: ['east', 'west'] }, secret: 's' } } }),
    ['east', 'west'],
  );
  assert.deepEqual(got, { topic: 't', minIntervalMs: 5000, clusters: new Map([['prod', ['east', 'west']]]), secret: 's' });
  assert.throws(
    () => readEventSettings(new ConfigReader({ knativeEventMesh: { events: { clusters: { prod: ['north'] } } } }), ['east']),
    /knativeEventMesh\.events\.clusters\.prod names the provider "north", which is not configured/,
  );
});

test('readAnnouncement reads binary and structured mode, and says what is not a CloudEvent', () => {
  const cases: [unknown, unknown][] = [
    [{ metadata: { 'ce-type': 'a', 'ce-subject': 's', 'ce-id': '1' } }, { type: 'a', subject: 's', id: '1' }],
    [{ metadata: { 'ce-type': ['a', 'b'] } }, { type: 'a', subject: '', id: '' }],
    [{ eventPayload: { specversion: '1.0', type: 'a', subject: 's', id: '2' } }, { type: 'a', subject: 's', id: '2' }],
    [{ eventPayload: '{"specversion":"1.0","type":"a"}' }, { type: 'a', subject: '', id: '' }],
    [{ eventPayload: '{not json' }, { problem: /not JSON/ }],
    [{ eventPayload: [] }, { problem: /neither a ce-type header/ }],
    [{ eventPayload: { type: 'a' } }, { problem: /not a CloudEvent/ }],
    [{}, { problem: /neither/ }],
    [null, { problem: /neither/ }],
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
