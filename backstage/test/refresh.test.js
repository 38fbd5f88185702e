'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { ProviderRefresh, MAX_BUSY_RETRIES } = require('../src/refresh');

/** Lets promise callbacks and the mocked timers' callbacks run. */
async function settle() {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setImmediate(resolve));
  }
}

/**
 * A ProviderRefresh with a fake clock and a trigger that records its calls
 * and answers with answers.shift() (an error to throw, or nothing).
 */
function setup(t, { minIntervalMs = 1000, answers = [] } = {}) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = { now: 0 };
  const calls = [];
  const logs = [];
  const logger = { info: m => logs.push(['info', m]), warn: m => logs.push(['warn', m]) };
  const refresh = new ProviderRefresh({
    providerId: 'east',
    minIntervalMs,
    logger,
    now: () => clock.now,
    trigger: async taskId => {
      calls.push({ taskId, at: clock.now });
      const answer = answers.shift();
      if (answer) {
        throw answer;
      }
    },
  });
  const advance = async ms => {
    clock.now += ms;
    t.mock.timers.tick(ms);
    await settle();
  };
  return { refresh, calls, logs, advance };
}

function namedError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

test('a first request triggers the provider task at once', async t => {
  const { refresh, calls, advance } = setup(t);
  refresh.request();
  await advance(0);
  assert.deepEqual(calls, [{ taskId: 'knative-event-mesh-provider-east:run', at: 0 }]);
});

test('a burst gives one trigger now and one pending, the minimum interval apart', async t => {
  const { refresh, calls, advance } = setup(t, { minIntervalMs: 1000 });
  refresh.request();
  await advance(0);
  for (let i = 0; i < 50; i++) {
    refresh.request();
    await advance(10);
  }
  // 500 ms in: the first trigger ran, the burst waits as one.
  assert.equal(calls.length, 1);
  await advance(499);
  assert.equal(calls.length, 1, 'triggered again before the minimum interval');
  await advance(1);
  assert.equal(calls.length, 2);
  assert.equal(calls[1].at - calls[0].at, 1000);
  await advance(5000);
  assert.equal(calls.length, 2, 'more than one pending refresh for one burst');
  assert.equal(refresh.requests, 51);
});

test('requests spaced wider than the interval each trigger at once', async t => {
  const { refresh, calls, advance } = setup(t, { minIntervalMs: 1000 });
  for (let i = 0; i < 3; i++) {
    refresh.request();
    await advance(0);
    await advance(1500);
  }
  assert.deepEqual(calls.map(c => c.at), [0, 1500, 3000]);
});

test('a request while a trigger is under way waits for it, then triggers once', async t => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let release;
  const calls = [];
  const refresh = new ProviderRefresh({
    providerId: 'east',
    minIntervalMs: 0,
    logger: { info() {}, warn() {} },
    trigger: async () => {
      calls.push(calls.length);
      if (calls.length === 1) {
        await new Promise(resolve => (release = resolve));
      }
    },
  });
  refresh.request();
  t.mock.timers.tick(0);
  await settle();
  refresh.request();
  refresh.request();
  t.mock.timers.tick(100);
  await settle();
  assert.equal(calls.length, 1);
  release();
  await settle();
  t.mock.timers.tick(0);
  await refresh.idle();
  assert.equal(calls.length, 2);
});

test('a running task (ConflictError) is triggered again after it, a bounded number of times', async t => {
  const busy = namedError('ConflictError', 'Task knative-event-mesh-provider-east:run is currently running');
  const { refresh, calls, logs, advance } = setup(t, { minIntervalMs: 100, answers: [busy, busy] });
  refresh.request();
  await advance(0);
  await advance(499);
  assert.equal(calls.length, 1, 'retried a busy task sooner than 500 ms');
  await advance(1);
  await advance(500);
  assert.equal(calls.length, 3, 'the third try succeeds');
  await advance(10000);
  assert.equal(calls.length, 3);
  assert.ok(logs.some(([level, m]) => level === 'info' && m.includes('Triggered a refresh of the Knative Event Mesh provider east')));
});

test('a task that stays busy is given up with a warning', async t => {
  const answers = Array.from({ length: MAX_BUSY_RETRIES + 10 }, () => namedError('ConflictError', 'currently running'));
  const { refresh, calls, logs, advance } = setup(t, { minIntervalMs: 0, answers });
  refresh.request();
  await advance(0);
  for (let i = 0; i < MAX_BUSY_RETRIES + 5; i++) {
    await advance(500);
  }
  assert.equal(calls.length, MAX_BUSY_RETRIES + 1);
  const warn = logs.find(([level]) => level === 'warn');
  assert.ok(warn, 'no warning');
  assert.match(warn[1], /still running after \d+ tries/);
});

test('a task that does not exist is reported with what to check, and not retried', async t => {
  const missing = namedError('NotFoundError', 'Task knative-event-mesh-provider-east:run does not exist');
  const { refresh, calls, logs, advance } = setup(t, { answers: [missing] });
  refresh.request();
  await advance(0);
  await advance(60000);
  assert.equal(calls.length, 1);
  assert.equal(logs.length, 1);
  assert.equal(logs[0][0], 'warn');
  assert.match(logs[0][1], /catalog\.providers\.knativeEventMesh/);
});

test('stop drops the pending trigger and ignores later requests', async t => {
  const { refresh, calls, advance } = setup(t, { minIntervalMs: 1000 });
  refresh.request();
  await advance(0);
  refresh.request(); // pending, due in 1 s
  refresh.stop();
  await advance(5000);
  refresh.request();
  await advance(5000);
  assert.equal(calls.length, 1);
});
