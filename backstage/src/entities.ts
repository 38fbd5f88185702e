// The catalog entities of a mesh: the same, field for field, as those of
// the published provider @knative-extensions/plugin-knative-event-mesh-backend
// 1.21.0, so that entity refs, links and bookmarks survive a switch.

import { ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, type Entity } from '@backstage/catalog-model';
import type { EventMesh, EventType, MeshObject, Typed } from './mesh';

/** spec.type of an EventType's API entity. */
export const TYPE_EVENT_TYPE = 'eventType';
/** spec.type of a Broker's Component. */
export const TYPE_BROKER = 'broker';
/** spec.system and spec.owner of every entity. */
export const SYSTEM = 'knative-event-mesh';
export const OWNER = 'knative';

/** What the entities take from the provider's configuration. */
export interface EntityContext {
  /** The provider id: each entity's spec.lifecycle. */
  id: string;
  /** The configured baseUrl, as written: the entities' location. */
  baseUrl: string;
}

/**
 * Returns the entities of a mesh: the EventTypes' APIs, then the Components
 * of the brokers, subscribables and sources.
 */
export function meshEntities(mesh: EventMesh, context: EntityContext): Entity[] {
  return [
    ...mesh.eventTypes.map(e => eventTypeEntity(e, context)),
    ...mesh.brokers.map(b => componentEntity(b, TYPE_BROKER, b.providedEventTypes, context)),
    ...mesh.subscribables.map(s => componentEntity(s, typeOf(s), s.providedEventTypes, context)),
    ...mesh.sources.map(s => componentEntity(s, typeOf(s), s.providedEventTypes, context)),
  ];
}

function typeOf(t: Typed): string {
  return `${t.group}:${t.kind}`;
}

/** The object's annotations with the entity's location added. */
function annotationsOf(o: MeshObject, context: EntityContext): Record<string, string> {
  const location = `url:${context.baseUrl}`;
  return { ...(o.annotations ?? {}), [ANNOTATION_LOCATION]: location, [ANNOTATION_ORIGIN_LOCATION]: location };
}

function eventTypeEntity(e: EventType, context: EntityContext): Entity {
  const links = e.schemaURL ? [{ title: 'View external schema', icon: 'scaffolder', url: e.schemaURL }] : [];
  const metadata: Entity['metadata'] = {
    name: e.name,
    namespace: e.namespace,
    labels: e.labels || {},
    annotations: annotationsOf(e, context),
    tags: [],
    links,
    title: `${e.type} - (${e.namespace}/${e.name})`,
    // Who receives events of this type, by backstage.io/kubernetes-id: the
    // processor relates the API to those Components.
    consumedBy: e.consumedBy ?? [],
  };
  if (e.description !== undefined) {
    metadata.description = e.description;
  }
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'API',
    metadata,
    spec: {
      type: TYPE_EVENT_TYPE,
      lifecycle: context.id,
      system: SYSTEM,
      owner: OWNER,
      definition: e.schemaData || '{}',
    },
  };
}

function componentEntity(o: MeshObject, type: string, provided: string[] | null | undefined, context: EntityContext): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: o.labels || {},
      annotations: annotationsOf(o, context),
      tags: [],
    },
    spec: {
      type,
      lifecycle: context.id,
      system: SYSTEM,
      owner: OWNER,
      providesApis: (provided ?? []).map(ref => `api:${ref}`),
    },
  };
}
