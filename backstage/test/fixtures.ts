import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import { ANNOTATION_LOCATION, parseLocationRef, stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import type { CatalogProcessorResult, CatalogService } from '@backstage/plugin-catalog-node';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { KnativeEventMeshProcessor, type EventMesh } from '../src';

/** The demo mesh of tests/demo/demo.yaml in the namespaces shop and finance, as the function serves it (tests/e2e/demo_test.go wantDemo). */
export function demoMesh(): EventMesh {
  return JSON.parse(readFileSync(testdata('demo-mesh.json'), 'utf8')) as EventMesh;
}

/** The path of a file of test/testdata (the tests run from dist/test). */
export function testdata(name: string): string {
  return join(__dirname, '..', '..', 'test', 'testdata', name);
}

/** A mesh as 1.21.0 knows it: the four lists only. */
export type OldMesh = Pick<EventMesh, 'eventTypes' | 'brokers' | 'subscribables' | 'sources'>;

/**
 * A mesh of an older function (the four lists only) with every kind of
 * object they hold, and the fields 1.21.0 treats specially (null labels, no
 * description, schema URL, null lists).
 */
export function sampleMesh(): OldMesh {
  return {
    eventTypes: [
      {
        name: 'order-created',
        namespace: 'shop',
        uid: 'u1',
        labels: { team: 'orders' },
        annotations: { note: 'kept' },
        type: 'com.example.order.created',
        description: 'An order was placed',
        schemaURL: 'https://schemas.example/order.json',
        schemaData: '{"type":"object"}',
        consumedBy: ['orders', 'audit'],
      },
      { name: 'ping', namespace: 'shop', uid: 'u2', labels: null, annotations: null, type: 'dev.knative.sources.ping', consumedBy: [] },
      { name: 'bare', namespace: 'finance', uid: 'u3', labels: null, annotations: null, type: 'com.example.bare' },
    ],
    brokers: [
      { name: 'default', namespace: 'shop', uid: 'u4', labels: null, annotations: { a: 'b' }, providedEventTypes: ['shop/order-created', 'shop/ping'] },
      { name: 'empty', namespace: 'finance', uid: 'u5', labels: { x: 'y' }, annotations: null, providedEventTypes: [] },
    ],
    subscribables: [
      { name: 'ledger', namespace: 'finance', uid: 'u6', labels: null, annotations: null, group: 'messaging.knative.dev', kind: 'InMemoryChannel', providedEventTypes: null },
    ],
    sources: [
      { name: 'heartbeat', namespace: 'shop', uid: 'u7', labels: null, annotations: null, group: 'sources.knative.dev', kind: 'PingSource', providedEventTypes: ['shop/ping'] },
    ],
  };
}

/** A stand-in for the function: answers GET /v1/getEventMesh with what reply says, and records the requests. */
export class FakeFunction {
  server: Server;
  url = '';
  requests: { path: string; authorization: string | undefined }[] = [];
  reply: { status: number; body: string; headers?: Record<string, string> } = { status: 200, body: JSON.stringify(sampleMesh()) };
  /** Replies by request path (with its query), ahead of reply. */
  replies: Record<string, { status: number; body: string; headers?: Record<string, string> }> = {};
  /** How long it waits before it answers. */
  delayMs = 0;

  constructor() {
    this.server = createServer((req, res) => {
      this.requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
      const { status, body, headers } = this.replies[req.url ?? ''] ?? this.reply;
      setTimeout(() => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(body);
      }, this.delayMs);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise(resolve => this.server.close(resolve));
  }
}

/** A logger that records its lines. */
export function recordingLogger() {
  const lines: { level: string; message: string }[] = [];
  const log = (level: string) => (message: string) => {
    lines.push({ level, message });
  };
  const logger = {
    lines,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: () => logger,
  };
  return logger;
}

/** Polls cond every 10 ms until it holds, for at most ms. */
export async function eventually(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`not within ${ms} ms`);
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/** A team's Component for the workload whose backstage.io/kubernetes-id is id. */
export function teamComponent(namespace: string, name: string, id: string): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace, annotations: { 'backstage.io/kubernetes-id': id } },
    spec: { type: 'service', lifecycle: 'production', owner: namespace },
  };
}

/** The demo's workloads, as their teams describe them in the catalog. */
export const TEAMS = [
  teamComponent('shop', 'shipping-service', 'shipping-service'),
  teamComponent('shop', 'analytics-service', 'analytics'),
  teamComponent('shop', 'notifier-service', 'notifier'),
  teamComponent('shop', 'archiver-service', 'archiver'),
  teamComponent('shop', 'packer-service', 'packer'),
  teamComponent('shop', 'labeler-service', 'labeler'),
  teamComponent('shop', 'heartbeat-job', 'heartbeat'),
  teamComponent('finance', 'billing-service', 'billing'),
];

/** The relations the processor emits for entities, in a catalog that holds catalog (or is it), as "source type target", sorted. */
export async function relationsOf(entities: Entity[], catalog: Entity[] | CatalogService, logger = recordingLogger()) {
  const processor = new KnativeEventMeshProcessor(
    Array.isArray(catalog) ? catalogServiceMock({ entities: catalog }) : catalog,
    mockServices.auth(),
    logger as never,
    // The baseUrls of the tests' providers.
    ['http://eventmesh', 'http://eventmesh/namespaces/shop,finance'],
  );
  const relations: string[] = [];
  const emit = (r: CatalogProcessorResult) => {
    if (r.type === 'relation') {
      relations.push(`${stringifyEntityRef(r.relation.source)} ${r.relation.type} ${stringifyEntityRef(r.relation.target)}`);
    }
  };
  for (const entity of entities) {
    // The location the catalog passes: the entity's managed-by-location, which it sets itself on entities of files.
    const ref = entity.metadata.annotations?.[ANNOTATION_LOCATION] ?? 'file:/teams/catalog-info.yaml';
    const out = await processor.preProcessEntity(entity, parseLocationRef(ref), emit);
    assert.equal(out, entity, 'the processor changed an entity');
  }
  return relations.sort();
}
