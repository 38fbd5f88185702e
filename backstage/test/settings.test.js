'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { ConfigReader } = require('@backstage/config');
const { readSettings, providersFor } = require('../src/settings');

const providers = { catalog: { providers: { knativeEventMesh: { east: {}, west: {} } } } };

test('defaults: topic knative-eventmesh, 2 s apart, every provider for any subject', () => {
  const s = readSettings(new ConfigReader(providers));
  assert.equal(s.topic, 'knative-eventmesh');
  assert.equal(s.minIntervalMs, 2000);
  assert.deepEqual(providersFor(s, 'anything'), ['east', 'west']);
  assert.deepEqual(providersFor(s, ''), ['east', 'west']);
});

test('no provider configured: nothing to refresh', () => {
  assert.deepEqual(providersFor(readSettings(new ConfigReader({})), 'east'), []);
});

test('topic, interval (object or string) and routes are read', () => {
  for (const minInterval of [{ milliseconds: 500 }, '500ms', 'PT0.5S']) {
    const s = readSettings(new ConfigReader({ ...providers, knativeEventMeshRefresh: { topic: 't', minInterval, clusters: { c1: ['west'] } } }));
    assert.equal(s.topic, 't');
    assert.equal(s.minIntervalMs, 500, JSON.stringify(minInterval));
    assert.deepEqual(providersFor(s, 'c1'), ['west']);
    assert.deepEqual(providersFor(s, 'c2'), []);
  }
});

test('a route to a provider that is not configured is an error that says what to fix', () => {
  assert.throws(
    () => readSettings(new ConfigReader({ ...providers, knativeEventMeshRefresh: { clusters: { c1: ['east', 'typo'] } } })),
    /knativeEventMeshRefresh\.clusters\.c1 names the provider "typo", which is not configured: add it under catalog\.providers\.knativeEventMesh \(configured: east, west\)/,
  );
});
