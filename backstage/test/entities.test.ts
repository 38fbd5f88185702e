// The entities of our provider against those of the published provider
// 1.21.0, on the same mesh: the same, entity by entity, but for our
// knative.dev/ annotations; and the parser on old, new and malformed meshes.

import test from 'node:test';
import assert from 'node:assert/strict';
import type { Entity } from '@backstage/catalog-model';
import { KnativeEventMeshProvider as Published } from '@knative-extensions/plugin-knative-event-mesh-backend';
import { PROVIDER_ANNOTATIONS, meshEntities, parseEventMesh, type DroppedAnnotations } from '../src';
import { demoMesh, sampleMesh } from './fixtures';

const quiet = { child: () => quiet, debug() {}, info() {}, warn() {}, error() {} };

/** 1.21.0's entities of a mesh, through JSON as the catalog stores them. */
function published(mesh: unknown, baseUrl: string): Entity[] {
  const provider = new Published({ id: 'prod', baseUrl, token: 't' }, quiet as never, { run: async () => {} } as never);
  // 1.21.0 writes into the mesh's annotations: each gets its own copy.
  // JSON drops the fields 1.21.0 sets to undefined, as the catalog does.
  return JSON.parse(JSON.stringify((provider as unknown as { buildEntities(mesh: unknown): unknown[] }).buildEntities(mesh)));
}

/** Ours, through JSON, parsed as the provider parses the function's answer, with no warning. */
function ours(mesh: unknown, baseUrl: string): Entity[] {
  const problems: string[] = [];
  const entities = meshEntities(parseEventMesh(JSON.parse(JSON.stringify(mesh)), p => problems.push(p)), { id: 'prod', baseUrl });
  assert.deepEqual(problems, []);
  return JSON.parse(JSON.stringify(entities));
}

const refOf = (e: Entity) => `${e.kind}:${e.metadata.namespace}/${e.metadata.name}`;

for (const baseUrl of ['http://eventmesh.knative-eventing.svc.cluster.local', 'http://eventmesh/namespaces/shop/']) {
  test(`an older function's mesh: the same entities as 1.21.0 (baseUrl ${baseUrl})`, () => {
    const want = published(sampleMesh(), baseUrl);
    const got = ours(sampleMesh(), baseUrl);
    assert.equal(got.length, want.length);
    for (const [i, entity] of want.entries()) {
      assert.deepEqual(got[i], entity, `entity ${i} (${refOf(entity)})`);
    }
  });
}

test('the demo mesh: 1.21.0 entities the same but for knative.dev/ annotations, and ours for sinks, transforms and flows', () => {
  const baseUrl = 'http://eventmesh/namespaces/shop,finance';
  const want = published(demoMesh(), baseUrl);
  const got = new Map(ours(demoMesh(), baseUrl).map(e => [refOf(e), e]));
  let extra = 0;
  for (const entity of want) {
    const mine = got.get(refOf(entity));
    assert.ok(mine, `${refOf(entity)}: 1.21.0 has it, ours has not`);
    const annotations = Object.entries(mine.metadata.annotations ?? {});
    extra += annotations.filter(([k]) => PROVIDER_ANNOTATIONS.has(k)).length;
    const stripped = { ...mine, metadata: { ...mine.metadata, annotations: Object.fromEntries(annotations.filter(([k]) => !PROVIDER_ANNOTATIONS.has(k))) } };
    assert.deepEqual(stripped, entity, refOf(entity));
    got.delete(refOf(entity));
  }
  assert.ok(extra > 0, 'no knative.dev/ annotation on the entities 1.21.0 also makes');
  assert.deepEqual([...got.keys()].sort(), ['Component:finance/invoicer', 'Component:shop/audit-trimmer', 'Component:shop/fulfilment']);
});

test("a Broker's forged annotations under the provider's keys are dropped: the mesh alone sets them", () => {
  const forged = {
    'knative.dev/allowed-sender-ids': 'finance/billing',
    'knative.dev/allowed-senders': ':ServiceAccount:finance/billing',
    'knative.dev/allowed-subjects': 'system:serviceaccount:finance:billing',
    'knative.dev/authorization': 'allow-all',
    'knative.dev/audience': 'forged',
    'knative.dev/sink': 'x:y:z/w',
  };
  const honest = demoMesh();
  const mesh = demoMesh();
  const orders = mesh.brokers.findIndex(b => b.name === 'orders');
  mesh.brokers[orders].annotations = { ...mesh.brokers[orders].annotations, ...forged, 'knative.dev/note': 'kept' };
  // The default Broker has no policy: a forged list must not appear on it either.
  mesh.brokers[0].annotations = { 'knative.dev/allowed-sender-ids': 'finance/billing' };
  const dropped: DroppedAnnotations[] = [];
  const got = meshEntities(mesh, { id: 'prod', baseUrl: 'http://x', onDropped: d => dropped.push(d) });
  const want = meshEntities(honest, { id: 'prod', baseUrl: 'http://x' });
  const annotationsOf = (entities: typeof got, name: string) =>
    entities.find(e => e.kind === 'Component' && e.metadata.name === name && e.spec?.type === 'broker')!.metadata.annotations!;
  assert.deepEqual(annotationsOf(got, 'orders'), { ...annotationsOf(want, 'orders'), 'knative.dev/note': 'kept' });
  assert.deepEqual(annotationsOf(got, 'default'), annotationsOf(want, 'default'));
  assert.equal(annotationsOf(got, 'default')['knative.dev/allowed-sender-ids'], undefined);
  assert.deepEqual(dropped, [
    { object: 'shop/default', list: 'brokers', keys: ['knative.dev/allowed-sender-ids'] },
    { object: 'shop/orders', list: 'brokers', keys: Object.keys(forged).sort() },
  ]);
});

test('objects of different kinds with one name get distinct entities; the kinds 1.21.0 shows keep its names', () => {
  const mesh = demoMesh();
  const like = <T extends { namespace: string; name: string }>(o: T, name: string, namespace = o.namespace): T => ({ ...o, name, namespace, uid: `${namespace}-${name}` });
  // The orders Broker of shop, and a JobSink, a PingSource, a Sequence and a channel of the same name.
  mesh.sinks.push(like(mesh.sinks[0], 'orders', 'shop'), like(mesh.sinks[0], 'orders', 'finance'));
  mesh.sources.push(like(mesh.sources[0], 'orders'));
  mesh.flows.push(like(mesh.flows[0], 'orders'));
  mesh.subscribables.push(like(mesh.subscribables[0], 'ORDERS'));
  const parsed = parseEventMesh(JSON.parse(JSON.stringify(mesh)));
  const entities = meshEntities(parsed, { id: 'prod', baseUrl: 'http://x' });
  const refs = entities.map(refOf);
  assert.equal(new Set(refs.map(r => r.toLowerCase())).size, refs.length, `a ref twice: ${refs.join(', ')}`);
  const named = (ns: string, name: string) => entities.filter(e => e.metadata.namespace === ns && e.metadata.name.toLowerCase().startsWith(name)).map(e => `${e.metadata.name} ${e.spec?.type}`);
  assert.deepEqual(named('shop', 'orders'), [
    'orders broker',
    'ORDERS_inmemorychannel messaging.knative.dev:InMemoryChannel',
    'orders_pingsource sources.knative.dev:PingSource',
    'orders_jobsink sinks.knative.dev:JobSink',
    'orders_sequence flows.knative.dev:Sequence',
  ]);
  assert.deepEqual(named('finance', 'orders'), ['orders sinks.knative.dev:JobSink']);
  // Without the clash, every entity keeps its name, as in the demo test above.
  assert.deepEqual(meshEntities(parseEventMesh(demoMesh()), { id: 'prod', baseUrl: 'http://x' }).map(e => e.metadata.name), [
    ...demoMesh().eventTypes.map(e => e.name),
    ...demoMesh().brokers.map(e => e.name),
    ...demoMesh().subscribables.map(e => e.name),
    ...demoMesh().sources.map(e => e.name),
    ...demoMesh().sinks.map(e => e.name),
    ...demoMesh().eventTransforms.map(e => e.name),
    ...demoMesh().requestReplies.map(e => e.name),
    ...demoMesh().flows.map(e => e.name),
  ]);
});

test('meshEntities leaves the mesh as it is', () => {
  const mesh = demoMesh();
  const before = JSON.stringify(mesh);
  meshEntities(mesh, { id: 'prod', baseUrl: 'http://x' });
  assert.equal(JSON.stringify(mesh), before);
});

test('parseEventMesh says what is wrong with a body that is not a mesh', () => {
  const cases: [unknown, RegExp][] = [
    [null, /not a JSON object/],
    [[], /not a JSON object/],
    [{ eventTypes: [], brokers: [], subscribables: [] }, /"sources" is not a list/],
    [{ eventTypes: [], brokers: {}, subscribables: [], sources: [] }, /"brokers" is not a list/],
  ];
  for (const [body, want] of cases) {
    assert.throws(() => parseEventMesh(body), want);
  }
});

test('parseEventMesh reads an older mesh: the lists added since are empty', () => {
  const problems: string[] = [];
  const mesh = parseEventMesh(sampleMesh(), p => problems.push(p));
  assert.deepEqual(problems, []);
  assert.equal(mesh.defaultAuthorizationMode, undefined);
  assert.deepEqual(mesh, { ...sampleMesh(), sinks: [], eventTransforms: [], requestReplies: [], flows: [], eventPolicies: [] });
  assert.deepEqual(parseEventMesh(demoMesh()), demoMesh());
});

test('parseEventMesh leaves out a malformed item, and says which and why', () => {
  type Body = Record<string, unknown[] | unknown>;
  const cases: { name: string; spoil: (m: Body) => void; want: RegExp; list: string; left: number }[] = [
    { name: 'sink without namespace', spoil: m => (m.sinks as unknown[]).push({ name: 'x', group: 'g', kind: 'k' }), want: /^sinks\[1\] left out: "namespace" is not a string$/, list: 'sinks', left: 1 },
    {
      name: 'flow whose consumedBy is a string',
      spoil: m => Object.assign((m.flows as object[])[0], { consumedBy: 'labeler' }),
      want: /^flows\[0\] \(shop\/fulfilment\) left out: "consumedBy" is not a list of strings$/,
      list: 'flows',
      left: 0,
    },
    {
      name: 'broker with a sender without a kind',
      spoil: m => Object.assign((m.brokers as object[])[1], { allowedSenders: [{ group: '', namespace: 'shop', name: 'a' }] }),
      want: /^brokers\[1\] \(shop\/orders\) left out: "allowedSenders" is not a list of senders/,
      list: 'brokers',
      left: 1,
    },
    {
      name: 'transform whose sink is a name',
      spoil: m => Object.assign((m.eventTransforms as object[])[0], { sink: 'archiver' }),
      want: /^eventTransforms\[0\] \(shop\/audit-trimmer\) left out: "sink" is not a reference/,
      list: 'eventTransforms',
      left: 0,
    },
    {
      name: 'channel with a numeric audience',
      spoil: m => Object.assign((m.subscribables as object[])[0], { audience: 5 }),
      want: /^subscribables\[0\] \(shop\/audit\) left out: "audience" is not a string$/,
      list: 'subscribables',
      left: 0,
    },
    { name: 'policy that is null', spoil: m => (m.eventPolicies as unknown[]).unshift(null), want: /^eventPolicies\[0\] left out: not an object$/, list: 'eventPolicies', left: 1 },
    { name: 'requestReplies not a list', spoil: m => (m.requestReplies = 5), want: /^"requestReplies" is not a list: left out$/, list: 'requestReplies', left: 0 },
    {
      name: 'EventType without a type',
      spoil: m => delete ((m.eventTypes as object[])[0] as { type?: string }).type,
      want: /^eventTypes\[0\] \(shop\/audit-entry\) left out: "type" is not a string$/,
      list: 'eventTypes',
      left: 4,
    },
  ];
  for (const c of cases) {
    const body = demoMesh() as unknown as Body;
    c.spoil(body);
    const problems: string[] = [];
    const mesh = parseEventMesh(body, p => problems.push(p)) as unknown as Body;
    assert.equal(problems.length, 1, `${c.name}: ${problems.join('; ')}`);
    assert.match(problems[0], c.want, c.name);
    assert.equal((mesh[c.list] as unknown[]).length, c.left, `${c.name}: what is left of ${c.list}`);
    // The rest of the mesh is as without it.
    for (const [key, list] of Object.entries(demoMesh())) {
      if (key !== c.list) {
        assert.deepEqual(mesh[key], list, `${c.name}: ${key}`);
      }
    }
  }
  const problems: string[] = [];
  const mesh = parseEventMesh({ ...demoMesh(), defaultAuthorizationMode: 7 }, p => problems.push(p));
  assert.deepEqual(problems, ['"defaultAuthorizationMode" is not a string: left out']);
  assert.equal(mesh.defaultAuthorizationMode, undefined);
});
