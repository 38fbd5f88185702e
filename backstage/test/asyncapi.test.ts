// apiType: its configuration, and the provider with each value against a
// stand-in for the function: eventType (the default) reads and emits what
// 1.21.0 does; asyncapi gives each EventType's API its own AsyncAPI
// document; a failed read of the documents fails the run.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ConfigReader } from '@backstage/config';
import { parse } from 'yaml';
import type { Entity } from '@backstage/catalog-model';
import type { EntityProviderMutation } from '@backstage/plugin-catalog-node';
import type { JsonValue } from '@backstage/types';
import { API_TYPES, DEFAULT_SCHEDULE, KnativeEventMeshProvider, meshEntities, parseEventMesh, readProviderConfigs, type ApiType } from '../src';
import { FakeFunction, TEAMS, demoMesh, recordingLogger, relationsOf, sampleMesh } from './fixtures';

const TOKEN = 'secret-token-value';
const DOCUMENTS_PATH = '/v1/asyncapi?by=eventType';

/** An AsyncAPI document of its own for each EventType of the sample mesh, as ?by=eventType answers. */
function documents(): Record<string, object> {
  const byKey: Record<string, object> = {};
  for (const e of sampleMesh().eventTypes) {
    const id = `EventType__${e.namespace}__${e.name}`;
    byKey[`${e.namespace}/${e.name}`] = {
      asyncapi: '3.0.0',
      info: { title: `EventType ${e.namespace}/${e.name}`, version: e.uid },
      components: { messages: { [id]: { name: e.type, payload: { type: 'object' } } } },
    };
  }
  return byKey;
}

/** A provider of apiType (none: the default) connected to a catalog that records its mutations, after its first read. */
async function connected(t: test.TestContext, apiType: ApiType | undefined, setup: (fn: FakeFunction) => void = () => {}, suffix = '') {
  const fn = await new FakeFunction().start();
  t.after(() => fn.stop());
  fn.replies[suffix + DOCUMENTS_PATH] = { status: 200, body: JSON.stringify(documents()) };
  setup(fn);
  const logger = recordingLogger();
  const mutations: Entity[][] = [];
  const provider = new KnativeEventMeshProvider({
    config: { id: 'prod', baseUrl: `${fn.url}${suffix}/`, token: TOKEN, schedule: DEFAULT_SCHEDULE, ...(apiType ? { apiType } : {}) },
    logger: logger as never,
    taskRunner: { run: async task => task.fn(new AbortController().signal) },
  });
  t.after(() => provider.stop());
  await provider.connect({
    async applyMutation(m: EntityProviderMutation) {
      assert.equal(m.type, 'full');
      mutations.push(m.type === 'full' ? m.entities.map(e => e.entity) : []);
    },
    async refresh() {},
  });
  return { fn, logger, mutations, provider };
}

/** The entities 1.21.0's form gives the sample mesh, for the provider at url. */
const eventTypeEntities = (url: string) => meshEntities(parseEventMesh(sampleMesh()), { id: 'prod', baseUrl: url });

test('apiType: eventType when absent, asyncapi when set, anything else refused by name', () => {
  const read = (apiType?: JsonValue) =>
    readProviderConfigs(new ConfigReader({ catalog: { providers: { knativeEventMesh: { prod: { baseUrl: 'http://x', token: 't', apiType } } } } }))[0].apiType;
  assert.equal(read(), 'eventType');
  assert.equal(read('eventType'), 'eventType');
  assert.equal(read('asyncapi'), 'asyncapi');
  for (const bad of ['AsyncAPI', 'openapi']) {
    assert.throws(
      () => read(bad),
      new Error(
        `catalog.providers.knativeEventMesh.prod.apiType is ${JSON.stringify(bad)}: ` +
          'set eventType (the default: the EventType as 1.21.0 shows it) or asyncapi (its AsyncAPI document), or leave it out',
      ),
    );
  }
  // Backstage's own checks: not a string.
  assert.throws(() => read(3), /apiType/);
  assert.throws(() => read(''), /apiType/);
});

test('config.d.ts declares the values of apiType that the provider reads', () => {
  const schema = readFileSync(join(__dirname, '..', '..', 'config.d.ts'), 'utf8');
  assert.match(schema, new RegExp(`^ +apiType\\?: ${API_TYPES.map(t => `'${t}'`).join(' \\| ')};$`, 'm'));
});

test('by default the provider reads the mesh only, and emits the entities as before', async t => {
  const { fn, mutations, logger } = await connected(t, undefined);
  assert.deepEqual(fn.requests, [{ path: '/v1/getEventMesh', authorization: `Bearer ${TOKEN}` }]);
  assert.deepEqual(mutations, [eventTypeEntities(`${fn.url}/`)]);
  assert.deepEqual(logger.lines.filter(l => l.level !== 'info'), []);
});

test('apiType asyncapi: one request for all documents, and each API has its own', async t => {
  const { fn, mutations, logger } = await connected(t, 'asyncapi', undefined, '/namespaces/shop');
  assert.deepEqual(
    [...fn.requests].sort((a, b) => a.path.localeCompare(b.path)),
    [
      { path: '/namespaces/shop/v1/asyncapi?by=eventType', authorization: `Bearer ${TOKEN}` },
      { path: '/namespaces/shop/v1/getEventMesh', authorization: `Bearer ${TOKEN}` },
    ],
  );
  assert.equal(mutations.length, 1);
  const want = eventTypeEntities(`${fn.url}/namespaces/shop/`);
  const got = mutations[0];
  assert.equal(got.length, want.length);
  const docs = documents();
  let apis = 0;
  for (const [i, entity] of got.entries()) {
    if (want[i].kind !== 'API') {
      assert.deepEqual(entity, want[i], 'a Component changed');
      continue;
    }
    apis++;
    const key = `${entity.metadata.namespace}/${entity.metadata.name}`;
    assert.equal(entity.spec?.type, 'asyncapi', key);
    assert.equal(typeof entity.spec?.definition, 'string', key);
    assert.deepEqual(JSON.parse(entity.spec!.definition as string), docs[key], `${key}: not its own document`);
    // Everything else is as before.
    assert.deepEqual({ ...entity, spec: { ...entity.spec, type: 'eventType', definition: want[i].spec!.definition } }, want[i]);
  }
  assert.equal(apis, 3);
  assert.deepEqual(logger.lines.filter(l => l.level !== 'info'), []);
});

for (const c of [
  { status: 404, body: '{"error":"unknown path /v1/asyncapi"}', want: [/answered 404/, /unknown path/, /does not serve \/v1\/asyncapi\?by=eventType: update it, or remove catalog\.providers\.knativeEventMesh\.prod\.apiType/] },
  { status: 401, body: '{"error":"the API server rejected the token"}', want: [/answered 401/, /catalog\.providers\.knativeEventMesh\.prod \(token or tokenFile\)/] },
  { status: 504, body: '{"error":"the API server took too long"}', want: [/answered 504/, /took too long/] },
  { status: 200, body: 'not json', want: [/answered 200 with a body that is not JSON/] },
  { status: 200, body: '[]', want: [/answered 200 with a body that is not a JSON object of AsyncAPI documents/] },
]) {
  test(`apiType asyncapi: a read of the documents answered ${c.status} ${c.body} fails the run, and the catalog keeps the last good entities`, async t => {
    const { fn, mutations, logger, provider } = await connected(t, 'asyncapi');
    assert.equal(mutations.length, 1);
    fn.replies[DOCUMENTS_PATH] = { status: c.status, body: c.body };
    const result = await provider.read('test');
    assert.equal(result.ok, false);
    assert.equal(mutations.length, 1, 'a failed read applied a mutation');
    const errors = logger.lines.filter(l => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, new RegExp(`^Knative Event Mesh provider prod: GET ${fn.url}/v1/asyncapi\\?by=eventType answered`));
    for (const re of c.want) {
      assert.match(errors[0].message, re);
    }
    assert.match(errors[0].message, /the catalog keeps the 7 entities of the last good read$/);
    assert.ok(!JSON.stringify(logger.lines).includes(TOKEN), 'a log line holds the token');
  });
}

test('apiType asyncapi: a first read whose documents fail applies nothing', async t => {
  const { mutations, logger } = await connected(t, 'asyncapi', fn => {
    fn.replies[DOCUMENTS_PATH] = { status: 503, body: '{"error":"the API server is unreachable"}' };
  });
  assert.deepEqual(mutations, []);
  const errors = logger.lines.filter(l => l.level === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /answered 503 .*unreachable.*no read has succeeded yet$/);
});

test('apiType asyncapi: a failed mesh read is reported as such', async t => {
  const { mutations, logger } = await connected(t, 'asyncapi', fn => {
    fn.reply = { status: 403, body: '{"error":"may not list brokers"}' };
  });
  assert.deepEqual(mutations, []);
  const errors = logger.lines.filter(l => l.level === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /\/v1\/getEventMesh answered 403 .*may not list brokers/);
});

test('apiType asyncapi: an EventType without a document keeps its eventType form, with a warning', async t => {
  const { fn, mutations, logger } = await connected(t, 'asyncapi', fn => {
    const docs = documents();
    delete docs['shop/ping'];
    docs['finance/bare'] = { info: { title: 'no version' } };
    fn.replies[DOCUMENTS_PATH] = { status: 200, body: JSON.stringify(docs) };
  });
  const want = eventTypeEntities(`${fn.url}/`);
  const types = mutations[0].filter(e => e.kind === 'API').map(e => `${e.metadata.namespace}/${e.metadata.name} ${e.spec?.type}`);
  assert.deepEqual(types, ['shop/order-created asyncapi', 'shop/ping eventType', 'finance/bare eventType']);
  assert.deepEqual(mutations[0][1], want[1]);
  assert.deepEqual(mutations[0][2], want[2]);
  assert.deepEqual(
    logger.lines.filter(l => l.level === 'warn').map(l => l.message),
    [
      'Knative Event Mesh provider prod: /v1/asyncapi?by=eventType: EventType shop/ping has no AsyncAPI document in the answer: its API keeps spec.type eventType until the next read',
      'Knative Event Mesh provider prod: /v1/asyncapi?by=eventType: EventType finance/bare has an AsyncAPI document without an "asyncapi" version: its API keeps spec.type eventType until the next read',
    ],
  );
});

test('an asyncapi API of the mesh is related to its consumers as an eventType one; one of another system is not', async () => {
  const entities = meshEntities(parseEventMesh(demoMesh()), { id: 'prod', baseUrl: 'http://eventmesh' });
  const asAsyncAPI = entities.map(e => (e.kind === 'API' ? { ...e, spec: { ...e.spec, type: 'asyncapi', definition: '{}' } } : e));
  const want = await relationsOf(entities, [...entities, ...TEAMS]);
  assert.ok(want.some(r => / apiConsumedBy /.test(r)), 'the demo has no consumer');
  assert.deepEqual(await relationsOf(asAsyncAPI, [...asAsyncAPI, ...TEAMS]), want);
  const foreign = asAsyncAPI.map(e => (e.kind === 'API' ? { ...e, spec: { ...e.spec, system: 'other' } } : e));
  assert.deepEqual(
    (await relationsOf(foreign, [...foreign, ...TEAMS])).filter(r => /apiConsumedBy|consumesApi/.test(r)),
    [],
  );
});

test('apiType asyncapi: stopping the provider aborts a read of the documents that hangs', async t => {
  const { fn, mutations, logger, provider } = await connected(t, 'asyncapi');
  // The function answers the mesh, and never the documents.
  fn.server.removeAllListeners('request');
  fn.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/v1/getEventMesh') {
      res.end(JSON.stringify(sampleMesh()));
    }
  });
  const read = provider.read('test');
  await new Promise(resolve => setTimeout(resolve, 200));
  provider.stop();
  // Far less than the read's own timeout (a minute).
  const result = await Promise.race([read, new Promise<'still reading'>(resolve => setTimeout(() => resolve('still reading'), 10_000))]);
  assert.notEqual(result, 'still reading', 'stop() did not abort the read of the documents');
  assert.ok(typeof result === 'object' && !result.ok);
  assert.match(result.error, /^could not reach http:\/\/127\.0\.0\.1:\d+\/v1\/asyncapi\?by=eventType: .*abort/i);
  assert.equal(mutations.length, 1);
  assert.equal(logger.lines.filter(l => l.level === 'error').length, 1);
});

test("the READMEs' apiType examples are read as asyncapi", () => {
  for (const path of [['README.md'], ['..', 'README.md']]) {
    const readme = readFileSync(join(__dirname, '..', '..', ...path), 'utf8');
    const blocks = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map(m => m[1]).filter(b => /apiType/.test(b));
    assert.equal(blocks.length, 1, `want one yaml block with apiType in ${path.join('/')}`);
    const configs = readProviderConfigs(new ConfigReader(parse(blocks[0])));
    assert.deepEqual(
      configs.map(c => c.apiType),
      ['asyncapi'],
      path.join('/'),
    );
  }
});
