import test from 'node:test';
import assert from 'node:assert/strict';
import { ConfigReader } from '@backstage/config';
import { readIngressSettings } from '../src';

test('readIngressSettings: defaults, the secret, a ServiceAccount', () => {
  assert.deepEqual(readIngressSettings(new ConfigReader({})), {
    topic: 'knative-eventmesh',
    secret: undefined,
    insecureAllowUnauthenticated: false,
  });
  // minInterval and clusters are the catalog module's: left alone here.
  const got = readIngressSettings(
    new ConfigReader({ events: { modules: { knativeEventMesh: { topic: 't', minInterval: { seconds: 5 }, clusters: { prod: ['east'] }, secret: 's' } } } }),
  );
  assert.deepEqual(got, { topic: 't', secret: 's', insecureAllowUnauthenticated: false });
  const sa = { issuer: 'https://kubernetes.default.svc', audience: 'backstage', subjects: ['system:serviceaccount:knative-eventing:eventmesh'] };
  assert.deepEqual(readIngressSettings(new ConfigReader({ events: { modules: { knativeEventMesh: { serviceAccount: sa } } } })).serviceAccount, {
    ...sa,
    jwksUrl: undefined,
    caFile: undefined,
    tokenFile: undefined,
  });
  assert.throws(() => readIngressSettings(new ConfigReader({ events: { modules: { knativeEventMesh: { serviceAccount: { ...sa, subjects: [] } } } } })), /subjects is empty/);
  assert.throws(() => readIngressSettings(new ConfigReader({ events: { modules: { knativeEventMesh: { serviceAccount: { issuer: 'x', subjects: ['s'] } } } } })), /audience/);
  assert.equal(readIngressSettings(new ConfigReader({ events: { modules: { knativeEventMesh: { insecureAllowUnauthenticated: true } } } })).insecureAllowUnauthenticated, true);
});

test('readIngressSettings still reads knativeEventMesh.events, with a deprecation warning', () => {
  const warnings: string[] = [];
  const old = { knativeEventMesh: { events: { topic: 'old', secret: 'old-secret' } } };
  assert.deepEqual(readIngressSettings(new ConfigReader(old), w => warnings.push(w)), { topic: 'old', secret: 'old-secret', insecureAllowUnauthenticated: false });
  assert.deepEqual(warnings, ['knativeEventMesh.events is deprecated: move its settings to events.modules.knativeEventMesh']);
  assert.throws(
    () => readIngressSettings(new ConfigReader({ knativeEventMesh: { events: { serviceAccount: { issuer: 'x', audience: 'a', subjects: [] } } } })),
    /knativeEventMesh\.events\.serviceAccount\.subjects is empty/,
  );
  warnings.length = 0;
  const both = new ConfigReader({ ...old, events: { modules: { knativeEventMesh: { topic: 'new' } } } });
  assert.equal(readIngressSettings(both, w => warnings.push(w)).topic, 'new');
  assert.deepEqual(warnings, ['knativeEventMesh.events is ignored: events.modules.knativeEventMesh is set. Remove knativeEventMesh.events']);
});
