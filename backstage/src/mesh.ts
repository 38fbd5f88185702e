// The EventMesh JSON the Knative Event Mesh function serves at
// GET /v1/getEventMesh (the same as the published backend's).

/** Fields every object of the mesh has. */
export interface MeshObject {
  name: string;
  namespace: string;
  uid?: string;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
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
export interface Broker extends MeshObject {
  providedEventTypes?: string[] | null;
}

/** A channel or a source: a Component whose type is group:kind. */
export interface Typed extends MeshObject {
  group: string;
  kind: string;
  providedEventTypes?: string[] | null;
}

/** The whole mesh. */
export interface EventMesh {
  eventTypes: EventType[];
  brokers: Broker[];
  subscribables: Typed[];
  sources: Typed[];
}

/**
 * Checks that body has the shape of an EventMesh (four lists of objects
 * with a name and a namespace) and returns it, or throws an Error that
 * says what is wrong.
 */
export function parseEventMesh(body: unknown): EventMesh {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error('the body is not a JSON object');
  }
  const mesh = body as Record<string, unknown>;
  for (const key of ['eventTypes', 'brokers', 'subscribables', 'sources']) {
    const list = mesh[key];
    if (!Array.isArray(list)) {
      throw new Error(`"${key}" is not a list`);
    }
    for (const [i, item] of list.entries()) {
      const o = item as Record<string, unknown> | null;
      if (typeof o !== 'object' || o === null || typeof o.name !== 'string' || typeof o.namespace !== 'string') {
        throw new Error(`${key}[${i}] has no name and namespace`);
      }
    }
  }
  return mesh as unknown as EventMesh;
}
