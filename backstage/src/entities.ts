// The catalog entities of a mesh. Those of the four lists the published
// provider @knative-extensions/plugin-knative-event-mesh-backend 1.21.0
// reads are the same as its, field for field, so that entity refs, links
// and bookmarks survive a switch; only annotations under knative.dev/ are
// added. Sinks, transforms, request-replies and flows are Components of
// their own.

import { ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, type Entity } from '@backstage/catalog-model';
import type { Access, EventMesh, EventType, Flow, MeshObject, Reference, Typed } from './mesh';

/** spec.type of an EventType's API entity. */
export const TYPE_EVENT_TYPE = 'eventType';
/** spec.type of a Broker's Component. */
export const TYPE_BROKER = 'broker';
/** spec.system and spec.owner of every entity. */
export const SYSTEM = 'knative-event-mesh';
export const OWNER = 'knative';

/** The annotation that links a Component to the Kubernetes objects it runs as. */
export const ANNOTATION_KUBERNETES_ID = 'backstage.io/kubernetes-id';

// The annotations of our own, all under knative.dev/. Lists are
// comma-separated; an object is "<group>:<kind>:<namespace>/<name>".

/** status.address.audience: the audience of the OIDC tokens senders present. */
export const ANNOTATION_AUDIENCE = 'knative.dev/audience';
/**
 * Who decides who may send: "event-policies" when EventPolicies apply,
 * else the cluster's default-authorization-mode (allow-same-namespace,
 * allow-all, deny-all, or unknown when the function's token may not read it).
 */
export const ANNOTATION_AUTHORIZATION = 'knative.dev/authorization';
/** "<namespace>/<name>" of the EventPolicies that apply. */
export const ANNOTATION_EVENT_POLICIES = 'knative.dev/event-policies';
/** The objects those policies allow to send. */
export const ANNOTATION_ALLOWED_SENDERS = 'knative.dev/allowed-senders';
/** "<namespace>/<Backstage id>" of the allowed senders that have a Backstage id: the processor relates them. */
export const ANNOTATION_ALLOWED_SENDER_IDS = 'knative.dev/allowed-sender-ids';
/** The OIDC subjects those policies allow. */
export const ANNOTATION_ALLOWED_SUBJECTS = 'knative.dev/allowed-subjects';
/** A flow's calls: what it sends the events it receives to. */
export const ANNOTATION_CALLS = 'knative.dev/calls';
/** A flow's replies. */
export const ANNOTATION_REPLIES = 'knative.dev/replies';
/** An EventTransform's sink. */
export const ANNOTATION_SINK = 'knative.dev/sink';
/** A RequestReply's Broker. */
export const ANNOTATION_BROKER = 'knative.dev/broker';
/** ANNOTATION_AUTHORIZATION of an addressable EventPolicies apply to. */
export const AUTHORIZATION_BY_POLICIES = 'event-policies';

/**
 * The annotation keys the provider owns: their values come from the mesh
 * alone. An object's own annotation with one of these keys is dropped, so
 * that whoever may annotate a Broker cannot make the catalog claim senders
 * or subjects that Eventing never allowed.
 */
export const PROVIDER_ANNOTATIONS: ReadonlySet<string> = new Set([
  ANNOTATION_AUDIENCE,
  ANNOTATION_AUTHORIZATION,
  ANNOTATION_EVENT_POLICIES,
  ANNOTATION_ALLOWED_SENDERS,
  ANNOTATION_ALLOWED_SENDER_IDS,
  ANNOTATION_ALLOWED_SUBJECTS,
  ANNOTATION_CALLS,
  ANNOTATION_REPLIES,
  ANNOTATION_SINK,
  ANNOTATION_BROKER,
]);

/** An object whose own annotations used keys the provider owns, and which keys: they were dropped. */
export interface DroppedAnnotations {
  /** "<namespace>/<name>" of the object, and the list it came in. */
  object: string;
  list: string;
  keys: string[];
}

/** What the entities take from the provider's configuration. */
export interface EntityContext {
  /** The provider id: each entity's spec.lifecycle. */
  id: string;
  /** The configured baseUrl, as written: the entities' location. */
  baseUrl: string;
  /** Told of each object whose own annotations used the provider's keys. */
  onDropped?: (dropped: DroppedAnnotations) => void;
}

/**
 * Returns the entities of a mesh: the EventTypes' APIs, then the Components
 * of the brokers, subscribables and sources, as 1.21.0 does, then those of
 * the sinks, transforms, request-replies and flows.
 */
export function meshEntities(mesh: EventMesh, context: EntityContext): Entity[] {
  const mode = mesh.defaultAuthorizationMode;
  const names = new ComponentNames();
  const c = (list: string): ListContext => ({ ...context, list, names });
  return [
    ...mesh.eventTypes.map(e => eventTypeEntity(e, c('eventTypes'))),
    ...mesh.brokers.map(b => componentEntity(b, TYPE_BROKER, b.providedEventTypes, c('brokers'), accessAnnotations(b, mode))),
    ...mesh.subscribables.map(s => componentEntity(s, typeOf(s), s.providedEventTypes, c('subscribables'), accessAnnotations(s, mode))),
    ...mesh.sources.map(s => componentEntity(s, typeOf(s), s.providedEventTypes, c('sources'))),
    ...mesh.sinks.map(s => kindEntity(s, c('sinks'), accessAnnotations(s, mode))),
    ...mesh.eventTransforms.map(t =>
      kindEntity(t, c('eventTransforms'), { ...accessAnnotations(t, mode), ...listAnnotation(ANNOTATION_SINK, refsText([t.sink])) }),
    ),
    ...mesh.requestReplies.map(r =>
      kindEntity(r, c('requestReplies'), { ...accessAnnotations(r, mode), ...listAnnotation(ANNOTATION_BROKER, refsText([r.broker])) }),
    ),
    ...mesh.flows.map(f => flowEntity(f, c('flows'), mode)),
  ];
}

/** The context of one list of the mesh. */
interface ListContext extends EntityContext {
  list: string;
  names: ComponentNames;
}

/** The longest entity name Backstage accepts. */
const MAX_NAME = 63;

/**
 * Gives each Component a name no other Component of its namespace has.
 * An object keeps its own name unless a Component named before it has it:
 * the lists are named in 1.21.0's order (brokers, subscribables, sources)
 * and then sinks, transforms, request-replies and flows, so the kinds
 * 1.21.0 shows keep its names. A later object of the same name is named
 * "<name>_<kind>" (e.g. orders_jobsink). Kubernetes names have no "_", so
 * that name is never another object's own.
 */
export class ComponentNames {
  private readonly taken = new Set<string>();

  /** The entity name of the object name of kind in namespace. */
  of(namespace: string, name: string, kind: string): string {
    const suffix = kind.toLowerCase();
    const candidates = [name, `${name.slice(0, MAX_NAME - suffix.length - 1)}_${suffix}`];
    for (const candidate of candidates) {
      const key = `${namespace}/${candidate.toLowerCase()}`;
      if (!this.taken.has(key)) {
        this.taken.add(key);
        return candidate;
      }
    }
    // Two objects of one kind in one namespace share a name only across
    // API groups: the last is named with its kind as it is.
    return candidates[1];
  }
}

function typeOf(t: Typed): string {
  return `${t.group}:${t.kind}`;
}

/**
 * The object's annotations but those under the provider's keys, then ours
 * (extra), then the entity's location.
 */
function annotationsOf(o: MeshObject, context: ListContext, extra: Record<string, string> = {}): Record<string, string> {
  const own: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(o.annotations ?? {})) {
    if (PROVIDER_ANNOTATIONS.has(key)) {
      dropped.push(key);
    } else {
      own[key] = value;
    }
  }
  if (dropped.length > 0) {
    context.onDropped?.({ object: `${o.namespace}/${o.name}`, list: context.list, keys: dropped.sort() });
  }
  const location = `url:${context.baseUrl}`;
  return { ...own, ...extra, [ANNOTATION_LOCATION]: location, [ANNOTATION_ORIGIN_LOCATION]: location };
}

/**
 * The annotations that say who may send to an addressable. mode is the
 * mesh's defaultAuthorizationMode: absent in an older function's mesh,
 * which says nothing of EventPolicies, and then neither does the
 * authorization annotation.
 */
function accessAnnotations(a: Access, mode: string | undefined): Record<string, string> {
  const senders = a.allowedSenders ?? [];
  const authorization = (a.eventPolicies ?? []).length > 0 ? AUTHORIZATION_BY_POLICIES : mode;
  return {
    ...(a.audience ? { [ANNOTATION_AUDIENCE]: a.audience } : {}),
    ...(authorization ? { [ANNOTATION_AUTHORIZATION]: authorization } : {}),
    ...listAnnotation(ANNOTATION_EVENT_POLICIES, a.eventPolicies),
    ...listAnnotation(ANNOTATION_ALLOWED_SENDERS, senders.map(refText)),
    ...listAnnotation(ANNOTATION_ALLOWED_SENDER_IDS, senders.filter(s => s.backstageId).map(s => `${s.namespace}/${s.backstageId}`)),
    ...listAnnotation(ANNOTATION_ALLOWED_SUBJECTS, a.allowedSubjects),
  };
}

/** "<group>:<kind>:<namespace>/<name>" of a reference. */
function refText(r: Reference): string {
  return `${r.group}:${r.kind}:${r.namespace}/${r.name}`;
}

/** The texts of the references that are there. */
function refsText(refs: (Reference | null | undefined)[] | null | undefined): string[] {
  return (refs ?? []).filter((r): r is Reference => !!r).map(refText);
}

/** { key: the values, comma-separated }, or nothing when there are none. */
function listAnnotation(key: string, values: string[] | null | undefined): Record<string, string> {
  return values && values.length > 0 ? { [key]: values.join(',') } : {};
}

/**
 * The Component of a sink, transform, request-reply or flow. It carries
 * the object's backstage.io/kubernetes-id label as the annotation, so that
 * the processor finds it where the mesh names it as a consumer, and
 * Backstage's Kubernetes plugin finds its objects.
 */
function kindEntity(t: Typed, context: ListContext, extra: Record<string, string>): Entity {
  const id = t.labels?.[ANNOTATION_KUBERNETES_ID];
  return componentEntity(t, typeOf(t), [], context, { ...(id ? { [ANNOTATION_KUBERNETES_ID]: id } : {}), ...extra });
}

/**
 * A flow's Component. Its metadata.consumedBy lists, as an EventType's
 * does, the Backstage ids of what receives its events: the processor
 * relates the flow to those Components (dependsOn).
 */
function flowEntity(f: Flow, context: ListContext, mode: string | undefined): Entity {
  const entity = kindEntity(f, context, {
    ...accessAnnotations(f, mode),
    ...listAnnotation(ANNOTATION_CALLS, refsText(f.calls)),
    ...listAnnotation(ANNOTATION_REPLIES, refsText(f.replies)),
  });
  entity.metadata.consumedBy = f.consumedBy ?? [];
  return entity;
}

function eventTypeEntity(e: EventType, context: ListContext): Entity {
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

function componentEntity(
  o: MeshObject,
  type: string,
  provided: string[] | null | undefined,
  context: ListContext,
  extra: Record<string, string> = {},
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name: context.names.of(o.namespace, o.name, type.slice(type.lastIndexOf(':') + 1)),
      namespace: o.namespace,
      labels: o.labels || {},
      annotations: annotationsOf(o, context, extra),
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
