// A Backstage test backend with the real catalog and events plugins, the
// events module of @knative-eventmesh/plugin-events-backend-module-knative-event-mesh,
// and a catalog module of a Knative Event Mesh provider (ours by default),
// reading a stand-in for the function: for module.test.ts and
// published.test.ts.

import type test from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import eventsPlugin from '@backstage/plugin-events-backend';
// By the package's name, as a Backstage app imports them.
import catalogModuleKnativeEventMesh from '@knative-eventmesh/plugin-catalog-backend-module-knative-event-mesh';
import eventsModuleKnativeEventMesh from '@knative-eventmesh/plugin-events-backend-module-knative-event-mesh';
import { eventsServiceFactory } from '@backstage/plugin-events-node';
import { FakeFunction, teamComponent } from './fixtures';

// The teams' own Components, as a YAML file (JSON is YAML) of the catalog.
const COMPONENTS = [
  teamComponent('shop', 'orders-service', 'orders'),
  teamComponent('finance', 'audit-service', 'audit'),
  teamComponent('shop', 'packer-service', 'packer'),
  teamComponent('shop', 'heartbeat-job', 'heartbeat'),
]
  .map(e => JSON.stringify(e))
  .join('\n---\n');

export async function start(t: test.TestContext, secret?: string, mesh?: unknown, provider: unknown = catalogModuleKnativeEventMesh) {
  const fn = await new FakeFunction().start();
  if (mesh) {
    fn.reply = { status: 200, body: JSON.stringify(mesh) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'eventmesh-module-test-'));
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  // The backend stops first (hooks run in the order they are added): with
  // its location file or the function gone, the catalog's processing fails,
  // and Backstage's engine publishes that error, unhandled, to an events
  // service that is already shutting down.
  t.after(async () => {
    await backend?.stop();
    await fn.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'components.yaml'), COMPONENTS);
  backend = await startTestBackend({
    features: [
      catalogPlugin,
      eventsPlugin,
      provider as typeof catalogModuleKnativeEventMesh,
      eventsModuleKnativeEventMesh,
      // The real events service: one bus for all plugins, as in a real
      // backend (the test backend's mock has one per plugin).
      eventsServiceFactory,
      // A request without a token is refused (401), as under Backstage's
      // default auth policy; the test backend's mock lets it through as a
      // user otherwise, and then 1.21.0's tokenless catalog query would pass.
      mockServices.httpAuth.factory({ defaultCredentials: mockCredentials.none() }),
      mockServices.rootConfig.factory({
        data: {
          // The events bus at Backstage's default; a short long-poll lets the backend stop.
          events: {
            notifyTimeoutMs: 2000,
            modules: { knativeEventMesh: { minInterval: { milliseconds: 100 }, ...(secret ? { secret } : {}) } },
          },
          catalog: {
            processingInterval: { seconds: 1 },
            locations: [{ type: 'file', target: join(dir, 'components.yaml'), rules: [{ allow: ['Component'] }] }],
            providers: {
              knativeEventMesh: {
                prod: { baseUrl: fn.url, token: 'reader-token', schedule: { frequency: { minutes: 60 }, timeout: { minutes: 1 } } },
              },
            },
          },
        },
      }),
    ],
  });
  const base = `http://127.0.0.1:${(backend.server.address() as { port: number }).port}`;
  const entity = async (ref: string) => {
    const [kind, rest] = ref.split(':');
    const res = await fetch(`${base}/api/catalog/entities/by-name/${kind}/${rest}`, {
      headers: { Authorization: mockCredentials.service.header() },
    });
    return res.status === 200 ? ((await res.json()) as { relations: { type: string; targetRef: string }[]; metadata: Record<string, unknown> }) : undefined;
  };
  const query = async (filter: string) => {
    const res = await fetch(`${base}/api/catalog/entities?filter=${encodeURIComponent(filter)}`, {
      headers: { Authorization: mockCredentials.service.header() },
    });
    if (res.status !== 200) {
      throw new Error(`the catalog answered ${res.status} to ${filter}`);
    }
    return ((await res.json()) as { kind: string; metadata: { namespace: string; name: string } }[]).map(
      e => `${e.kind.toLowerCase()}:${e.metadata.namespace}/${e.metadata.name}`,
    );
  };
  const post = (headers: Record<string, string>) =>
    fetch(`${base}/api/events/http/knative-eventmesh`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{}' });
  return { fn, entity, post, query, base };
}

export const ANNOUNCEMENT = { 'ce-specversion': '1.0', 'ce-type': 'dev.knative.eventmesh.changed', 'ce-source': '/test', 'ce-id': '1', 'ce-subject': 'east' };

export async function has(entity: (ref: string) => Promise<{ relations: { type: string; targetRef: string }[] } | undefined>, ref: string, type: string, target: string) {
  const e = await entity(ref);
  return !!e && e.relations.some(r => r.type === type && r.targetRef === target);
}
