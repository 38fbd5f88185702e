// The EventMesh JSON the Knative Event Mesh function serves at
// GET /v1/getEventMesh: the four lists of the published backend's, and the
// lists and fields the function added beside them (an older function's
// mesh has none of those).

/** Fields every object of the mesh has. */
export interface MeshObject {
  name: string;
  namespace: string;
  uid?: string;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
}

/** Names a Kubernetes object: API group (without version), kind, namespace and name. */
export interface Reference {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/** An object an EventPolicy allows to send, with its Backstage id when it has one. */
export interface Sender extends Reference {
  backstageId?: string;
}

/**
 * Who may send events to an addressable. With no eventPolicies, the mesh's
 * defaultAuthorizationMode applies.
 */
export interface Access {
  /** status.address.audience, when it advertises one. */
  audience?: string;
  /** "<namespace>/<name>" of the EventPolicies that apply. */
  eventPolicies?: string[] | null;
  allowedSenders?: Sender[] | null;
  /** OIDC subjects; a trailing "*" matches any rest. */
  allowedSubjects?: string[] | null;
}

/** An EventType: an API entity. */
export interface EventType extends MeshObject {
  type: string;
  description?: string;
  schemaURL?: string;
  schemaData?: string;
  consumedBy?: string[] | null;
}

/** A Broker: a Component. */
export interface Broker extends MeshObject, Access {
  providedEventTypes?: string[] | null;
}

/** A source, or any object of a kind: a Component whose type is group:kind. */
export interface Typed extends MeshObject {
  group: string;
  kind: string;
  providedEventTypes?: string[] | null;
}

/** A channel or a sink (JobSink, IntegrationSink): a typed Component that takes events. */
export interface Addressable extends Typed, Access {}

/** An EventTransform. */
export interface Transform extends Addressable {
  /** Where it sends the transformed events; absent when it replies. */
  sink?: Reference | null;
}

/** A RequestReply. */
export interface RequestReply extends Addressable {
  /** The Broker requests go through. */
  broker?: Reference | null;
}

/** A Sequence or a Parallel. */
export interface Flow extends Addressable {
  /** What it sends the events it receives to. */
  calls?: Reference[] | null;
  /** What it sends replies to. */
  replies?: Reference[] | null;
  /** The Backstage ids of what receives its events, followed through the flows it calls. */
  consumedBy?: string[] | null;
}

/** An EventPolicy: whom it allows to send to what. */
export interface EventPolicy extends MeshObject {
  appliesTo?: Reference[] | null;
  allowedSenders?: Sender[] | null;
  allowedSubjects?: string[] | null;
  filtered?: boolean;
}

/** The whole mesh. */
export interface EventMesh {
  eventTypes: EventType[];
  brokers: Broker[];
  subscribables: Addressable[];
  sources: Typed[];
  sinks: Addressable[];
  eventTransforms: Transform[];
  requestReplies: RequestReply[];
  flows: Flow[];
  eventPolicies: EventPolicy[];
  /** allow-same-namespace, allow-all, deny-all or unknown; absent from an older function's mesh. */
  defaultAuthorizationMode?: string;
}

/** A test of a value, and what the value should be, for error messages. */
interface Check {
  ok(v: unknown): boolean;
  what: string;
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const text: Check = { ok: v => typeof v === 'string', what: 'a string' };
const texts: Check = { ok: v => Array.isArray(v) && v.every(text.ok), what: 'a list of strings' };
const stringMap: Check = { ok: v => isRecord(v) && Object.values(v).every(text.ok), what: 'an object of strings' };
const isReference = (v: unknown) => isRecord(v) && ['group', 'kind', 'namespace', 'name'].every(k => text.ok(v[k]));
const reference: Check = { ok: isReference, what: 'a reference {group, kind, namespace, name}' };
const references: Check = { ok: v => Array.isArray(v) && v.every(isReference), what: 'a list of references {group, kind, namespace, name}' };
const senders: Check = {
  ok: v => Array.isArray(v) && v.every(s => isReference(s) && (s.backstageId === undefined || text.ok(s.backstageId))),
  what: 'a list of senders {group, kind, namespace, name, backstageId?}',
};

/** c, or absent (undefined or null). */
function optional(c: Check): Check {
  return { ok: v => v === undefined || v === null || c.ok(v), what: c.what };
}

const META = { name: text, namespace: text, labels: optional(stringMap), annotations: optional(stringMap) };
const TYPED = { ...META, group: text, kind: text };
const ACCESS = { audience: optional(text), eventPolicies: optional(texts), allowedSenders: optional(senders), allowedSubjects: optional(texts) };

/** The lists of a mesh and the fields their items must have. */
const LISTS: Record<Exclude<keyof EventMesh, 'defaultAuthorizationMode'>, Record<string, Check>> = {
  eventTypes: { ...META, type: text },
  brokers: { ...META, ...ACCESS },
  subscribables: { ...TYPED, ...ACCESS },
  sources: TYPED,
  sinks: { ...TYPED, ...ACCESS },
  eventTransforms: { ...TYPED, ...ACCESS, sink: optional(reference) },
  requestReplies: { ...TYPED, ...ACCESS, broker: optional(reference) },
  flows: { ...TYPED, ...ACCESS, calls: optional(references), replies: optional(references), consumedBy: optional(texts) },
  eventPolicies: { ...META, appliesTo: optional(references), allowedSenders: optional(senders), allowedSubjects: optional(texts) },
};

/** The lists 1.21.0 reads: a body without them is not an event mesh. */
const REQUIRED = new Set(['eventTypes', 'brokers', 'subscribables', 'sources']);

/**
 * Checks that body has the shape of an EventMesh and returns it. It throws
 * an Error that says what is wrong when body is not a JSON object or lacks
 * one of the four lists 1.21.0 reads. A list added since (sinks, flows, …)
 * may be missing: it is empty. A malformed item costs only itself: it is
 * left out, and warn is told which and why.
 */
export function parseEventMesh(body: unknown, warn: (problem: string) => void = () => {}): EventMesh {
  if (!isRecord(body)) {
    throw new Error('the body is not a JSON object');
  }
  const mesh: Record<string, unknown> = {};
  for (const [key, fields] of Object.entries(LISTS)) {
    const list = body[key];
    if (!Array.isArray(list)) {
      if (REQUIRED.has(key)) {
        throw new Error(`"${key}" is not a list`);
      }
      if (list !== undefined && list !== null) {
        warn(`"${key}" is not a list: left out`);
      }
      mesh[key] = [];
      continue;
    }
    mesh[key] = list.filter((item, i) => {
      const problem = problemOf(item, fields);
      if (problem) {
        warn(`${key}[${i}]${nameOf(item)} left out: ${problem}`);
      }
      return !problem;
    });
  }
  const mode = body.defaultAuthorizationMode;
  if (text.ok(mode)) {
    mesh.defaultAuthorizationMode = mode;
  } else if (mode !== undefined && mode !== null) {
    warn('"defaultAuthorizationMode" is not a string: left out');
  }
  return mesh as unknown as EventMesh;
}

/** What is wrong with item, or '' when it has the fields. */
function problemOf(item: unknown, fields: Record<string, Check>): string {
  if (!isRecord(item)) {
    return 'not an object';
  }
  for (const [field, check] of Object.entries(fields)) {
    if (!check.ok(item[field])) {
      return `"${field}" is not ${check.what}`;
    }
  }
  return '';
}

/** " (namespace/name)" of an item that has them, for messages. */
function nameOf(item: unknown): string {
  return isRecord(item) && text.ok(item.namespace) && text.ok(item.name) ? ` (${item.namespace}/${item.name})` : '';
}
