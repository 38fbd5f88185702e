// The provider on its own, against a stand-in for the function: what it
// reads, what it applies, and what it does when the function says no or
// is down.

import test from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { EntityProviderMutation } from '@backstage/plugin-catalog-node';
import type { EventParams } from '@backstage/plugin-events-node';
import { DEFAULT_SCHEDULE, EVENT_TYPE, KnativeEventMeshProvider, meshEntities, type EventSettings } from '../src';
import { FakeFunction, demoMesh, eventually, recordingLogger, sampleMesh } from './fixtures';
import type { SchedulerServiceTaskRunner } from '@backstage/backend-plugin-api';
import { ConflictError } from '@backstage/errors';

const TOKEN = 'secret-token-value';

type FullMutation = Extract<EntityProviderMutation, { type: 'full' }>;

async function connected(
  t: test.TestContext,
  eventSettings?: EventSettings,
  baseUrlSuffix = '/',
  credential: { token: string } | { tokenFile: string } = { token: TOKEN },
  schedule = DEFAULT_SCHEDULE,
) {
  const fn = await new FakeFunction().start();
  t.after(() => fn.stop());
  const logger = recordingLogger();
  const mutations: FullMutation[] = [];
  let scheduled: ((signal?: AbortSignal) => Promise<void>) | undefined;
  const provider = new KnativeEventMeshProvider({
    config: { id: 'prod', baseUrl: fn.url + baseUrlSuffix, ...credential, schedule },
    logger: logger as never,
    taskRunner: {
      async run(task) {
        scheduled = async (signal = new AbortController().signal) => {
          await task.fn(signal);
        };
        await scheduled();
      },
    },
    events: eventSettings ? ({ async subscribe() {}, async publish() {} } as never) : undefined,
    eventSettings,
  });
  t.after(() => provider.stop());
  await provider.connect({
    async applyMutation(m) {
      assert.equal(m.type, 'full');
      mutations.push(m as FullMutation);
    },
    async refresh() {},
  });
  return { fn, logger, mutations, provider, runSchedule: (signal?: AbortSignal) => scheduled!(signal) };
}

test('reads the mesh with its token and applies all of it', async t => {
  const { fn, mutations, logger } = await connected(t);
  assert.deepEqual(fn.requests, [{ path: '/v1/getEventMesh', authorization: `Bearer ${TOKEN}` }]);
  assert.equal(mutations.length, 1);
  const m = mutations[0];
  assert.equal(m.type, 'full');
  assert.equal(m.entities.length, 7);
  for (const e of m.entities) {
    assert.equal(e.locationKey, 'knative-event-mesh-provider-prod');
  }
  assert.ok(!JSON.stringify(logger.lines).includes(TOKEN), 'a log line holds the token');
});

for (const c of [
  { status: 401, body: '{"error":"the API server rejected the token"}', want: [/provider prod/, /401/, /rejected the token/, /catalog\.providers\.knativeEventMesh\.prod \(token or tokenFile\)/] },
  { status: 403, body: '{"error":"may not list brokers"}', want: [/provider prod/, /403/, /may not list brokers/, /reader ClusterRole/] },
  { status: 503, body: 'down', want: [/provider prod/, /503/] },
  { status: 200, body: '{"brokers":[]}', want: [/provider prod/, /not an event mesh/, /"eventTypes" is not a list/] },
  { status: 200, body: 'not json', want: [/provider prod/, /not an event mesh/] },
]) {
  test(`an answer ${c.status} ${c.body} is logged and keeps the last good entities`, async t => {
    const { fn, mutations, logger, runSchedule } = await connected(t);
    fn.reply = { status: c.status, body: c.body };
    await runSchedule(); // does not throw
    assert.equal(mutations.length, 1, 'a failed read applied a mutation');
    const errors = logger.lines.filter(l => l.level === 'error');
    assert.equal(errors.length, 1);
    for (const re of c.want) {
      assert.match(errors[0].message, re);
    }
    assert.match(errors[0].message, /keeps the 7 entities of the last good read/);
    assert.ok(!JSON.stringify(logger.lines).includes(TOKEN), 'a log line holds the token');
  });
}

test('a malformed item is left out with a warning, and the rest applied', async t => {
  const { fn, mutations, logger, runSchedule } = await connected(t);
  const mesh = demoMesh();
  const good = meshEntities(mesh, { id: 'prod', baseUrl: fn.url + '/' }).length;
  fn.reply = { status: 200, body: JSON.stringify({ ...mesh, sinks: [...mesh.sinks, { name: 'broken', namespace: 'finance', kind: 'JobSink' }] }) };
  await runSchedule();
  assert.equal(mutations.length, 2);
  assert.equal(mutations[1].entities.length, good);
  const warnings = logger.lines.filter(l => l.level === 'warn').map(l => l.message);
  assert.deepEqual(warnings, [`Knative Event Mesh provider prod: GET ${fn.url}/v1/getEventMesh: sinks[1] (finance/broken) left out: "group" is not a string`]);
  assert.deepEqual(logger.lines.filter(l => l.level === 'error'), []);
});

test('a function that is down is logged, and nothing is applied', async t => {
  const { fn, mutations, logger, runSchedule } = await connected(t);
  await fn.stop();
  await runSchedule();
  assert.equal(mutations.length, 1);
  const errors = logger.lines.filter(l => l.level === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /provider prod: could not reach http:\/\/127\.0\.0\.1:\d+\/v1\/getEventMesh/);
});

function announcement(subject: string, type = EVENT_TYPE): EventParams {
  return { topic: 'knative-eventmesh', eventPayload: {}, metadata: { 'ce-type': type, 'ce-subject': subject, 'ce-id': '1', 'ce-specversion': '1.0', 'ce-source': '/test' } };
}

test('an announcement makes it read again; a burst makes at most two reads', async t => {
  const settings: EventSettings = { topic: 'knative-eventmesh', minIntervalMs: 200, clusters: undefined };
  const { fn, mutations, provider } = await connected(t, settings);
  await provider.onEvent(announcement('east'));
  await eventually(() => mutations.length === 2);
  const before = fn.requests.length;
  for (let i = 0; i < 20; i++) {
    await provider.onEvent(announcement('east'));
  }
  await new Promise(resolve => setTimeout(resolve, 800));
  const reads = fn.requests.length - before;
  assert.ok(reads >= 1 && reads <= 2, `20 announcements made ${reads} reads, want 1 or 2`);
});

test('announcements are routed by subject, and other events are ignored', async t => {
  const settings: EventSettings = { topic: 'knative-eventmesh', minIntervalMs: 0, clusters: new Map([["east", ["prod"]], ["west", ["other"]]]) };
  const { fn, provider, logger } = await connected(t, settings);
  await provider.onEvent(announcement('west'));
  await provider.onEvent(announcement('nowhere'));
  await provider.onEvent(announcement('east', 'com.example.other'));
  await provider.onEvent({ topic: 'knative-eventmesh', eventPayload: 'not json' });
  await new Promise(resolve => setTimeout(resolve, 100));
  assert.equal(fn.requests.length, 1, 'an announcement for another cluster, or another event, made a read');
  assert.ok(logger.lines.some(l => /only dev\.knative\.eventmesh\.changed refreshes/.test(l.message)));
  assert.ok(logger.lines.some(l => /not a CloudEvent in structured mode/.test(l.message)));
  await provider.onEvent(announcement('east'));
  await eventually(() => fn.requests.length === 2);
});

test('a trailing slash of baseUrl is dropped, and baseUrl is the location as written', async t => {
  const { fn, mutations } = await connected(t, undefined, '/namespaces/shop/');
  assert.equal(fn.requests[0].path, '/namespaces/shop/v1/getEventMesh');
  const annotations = mutations[0].entities[0].entity.metadata.annotations!;
  assert.equal(annotations['backstage.io/managed-by-location'], `url:${fn.url}/namespaces/shop/`);
});

test('forged annotations are dropped with one warning, not one per read', async t => {
  const { fn, mutations, logger, runSchedule } = await connected(t);
  const mesh = demoMesh();
  mesh.brokers[1].annotations = { 'knative.dev/allowed-sender-ids': 'finance/billing', 'knative.dev/authorization': 'allow-all' };
  fn.reply = { status: 200, body: JSON.stringify(mesh) };
  await runSchedule();
  await runSchedule();
  assert.equal(mutations.length, 3);
  const orders = mutations[2].entities.find(e => e.entity.metadata.name === 'orders' && e.entity.spec?.type === 'broker')!;
  assert.equal(orders.entity.metadata.annotations!['knative.dev/allowed-sender-ids'], 'shop/heartbeat');
  assert.equal(orders.entity.metadata.annotations!['knative.dev/authorization'], 'event-policies');
  const warnings = logger.lines.filter(l => l.level === 'warn').map(l => l.message);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /provider prod: .*dropped annotations that only the provider may set from brokers "shop\/orders" \("knative.dev\/allowed-sender-ids", "knative.dev\/authorization"\)/);
});

test('tokenFile is read at every read: a rotated token is used at once, a missing file is an error', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'eventmesh-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 'first-token\n');
  const { fn, mutations, logger, runSchedule } = await connected(t, undefined, '/', { tokenFile: file });
  writeFileSync(file, 'rotated-token\n');
  await runSchedule();
  assert.deepEqual(fn.requests.map(r => r.authorization), ['Bearer first-token', 'Bearer rotated-token']);
  rmSync(file);
  await runSchedule();
  assert.equal(fn.requests.length, 2, 'read without a token');
  assert.equal(mutations.length, 2);
  const errors = logger.lines.filter(l => l.level === 'error').map(l => l.message);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /provider prod: could not read the token file .*token \(catalog\.providers\.knativeEventMesh\.prod\.tokenFile\): ENOENT.*; the catalog keeps the 7 entities/);
  assert.ok(!JSON.stringify(logger.lines).includes('rotated-token'), 'a log line holds the token');
});

/** Resolves to how long promise took, or rejects after ms. */
async function within<T>(ms: number, promise: Promise<T>): Promise<number> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - start;
}

test("a scheduled read ends at the schedule's timeout, and when the task's signal aborts", async t => {
  const { fn, logger, runSchedule } = await connected(t, undefined, '/', { token: TOKEN }, { frequency: { minutes: 5 }, timeout: { milliseconds: 300 } });
  fn.delayMs = 30_000;
  await within(5000, runSchedule());
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('the scheduler stopped the task')), 50);
  // A longer timeout: the task's signal must end it.
  await within(5000, runSchedule(controller.signal));
  const errors = logger.lines.filter(l => l.level === 'error').map(l => l.message);
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.match(errors[0], /provider prod: could not reach .*timeout/);
});

test('the task signal: a read already aborted does not start', async t => {
  const { fn, logger, runSchedule } = await connected(t);
  const controller = new AbortController();
  controller.abort(new Error('the scheduler stopped the task'));
  await runSchedule(controller.signal);
  assert.equal(fn.requests.length, 1);
  assert.ok(logger.lines.some(l => l.level === 'error' && /not read: the scheduler stopped the task/.test(l.message)));
});

test('a read that throws does not stop the reads after it', async t => {
  const { fn, logger, provider } = await connected(t);
  const info = logger.info;
  let calls = 0;
  logger.info = (message: string) => {
    if (calls++ === 0) throw new Error('the log is full');
    info(message);
  };
  const first = await provider.read('test');
  assert.deepEqual(first, { ok: false, error: 'the read failed: the log is full' });
  const second = await within(5000, provider.read('test'));
  assert.ok(second >= 0);
  assert.equal(fn.requests.length, 3);
});

test('a redirect is not followed: the token goes nowhere else', async t => {
  const elsewhere = await new FakeFunction().start();
  t.after(() => elsewhere.stop());
  const { fn, logger, mutations, runSchedule } = await connected(t);
  fn.reply = { status: 302, body: '', headers: { Location: `${elsewhere.url}/v1/getEventMesh` } };
  await runSchedule();
  assert.deepEqual(elsewhere.requests, [], 'the redirect was followed');
  assert.equal(mutations.length, 1);
  const errors = logger.lines.filter(l => l.level === 'error').map(l => l.message);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /answered 302, a redirect to .*: the provider follows no redirect, as it would send the token there; set baseUrl/);
});

test('an announcement that crossed the events bus, its body only, makes it read', async t => {
  const settings: EventSettings = { topic: 'knative-eventmesh', minIntervalMs: 0, clusters: undefined };
  const { fn, provider } = await connected(t, settings);
  // What the bus delivers of a structured-mode POST: the topic and the body, no headers.
  await provider.onEvent({
    topic: 'knative-eventmesh',
    eventPayload: { specversion: '1.0', type: EVENT_TYPE, source: '/eventmesh', id: 'x1', subject: 'prod', data: { digest: 'd' } },
  });
  await eventually(() => fn.requests.length === 2);
});

/**
 * A scheduler shared by replicas, as Backstage's is for a global task: one
 * run at a time across replicas, triggerTask refused (409) while one runs.
 */
class GlobalScheduler {
  private readonly fns: ((signal: AbortSignal) => Promise<void>)[] = [];
  running = false;
  runs = 0;

  runner(): SchedulerServiceTaskRunner {
    return { run: async task => void this.fns.push(task.fn as (signal: AbortSignal) => Promise<void>) };
  }

  /** Runs the task on replica i, under the lock. */
  async runOn(i: number): Promise<void> {
    assert.equal(this.running, false, 'two runs at once');
    this.running = true;
    this.runs++;
    try {
      await this.fns[i](new AbortController().signal);
    } finally {
      this.running = false;
    }
  }

  readonly triggerTask = async (_id: string): Promise<void> => {
    if (this.running) {
      throw new ConflictError('Task is currently running');
    }
    setTimeout(() => void this.runOn(this.runs % this.fns.length), 20);
  };
}

test('newest mesh wins across replicas: a scheduled read that fetched before the change does not keep the catalog', async t => {
  const fn = await new FakeFunction().start();
  t.after(() => fn.stop());
  const scheduler = new GlobalScheduler();
  // One catalog for both replicas: the last full mutation wins.
  let catalog: string[] = [];
  const settings: EventSettings = { topic: 'knative-eventmesh', minIntervalMs: 0, clusters: undefined };
  const replicas = ['a', 'b'].map(() => {
    const provider = new KnativeEventMeshProvider({
      config: { id: 'prod', baseUrl: fn.url, token: TOKEN, schedule: { frequency: { minutes: 30 }, timeout: { seconds: 10 } } },
      logger: recordingLogger() as never,
      taskRunner: scheduler.runner(),
      scheduler,
      events: { async subscribe() {}, async publish() {} } as never,
      eventSettings: settings,
    });
    t.after(() => provider.stop());
    return provider;
  });
  for (const p of replicas) {
    await p.connect({
      async applyMutation(m) {
        catalog = (m as FullMutation).entities.map(e => e.entity.metadata.name).sort();
      },
      async refresh() {},
    });
  }
  const old = sampleMesh();
  // B's scheduled read fetches the mesh before the change, and is slow to answer.
  fn.reply = { status: 200, body: JSON.stringify(old) };
  fn.delayMs = 500;
  const stale = scheduler.runOn(1);
  await eventually(() => fn.requests.length === 1);
  // The change: a new Broker. The function announces it to A, which reads at once.
  fn.delayMs = 0;
  fn.reply = { status: 200, body: JSON.stringify({ ...old, brokers: [...old.brokers, { ...old.brokers[0], name: 'newest', uid: 'u9' }] }) };
  await replicas[0].onEvent(announcement('prod'));
  await eventually(() => catalog.includes('newest'));
  await stale; // B writes what it fetched before the change: the race
  assert.ok(!catalog.includes('newest'), 'the stale write did not happen: the test reproduces nothing');
  await eventually(() => catalog.includes('newest'), 5000);
  assert.ok(scheduler.runs >= 2, 'no scheduled read after the announced one');
});
