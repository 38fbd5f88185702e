// The EventTypes' API entities as AsyncAPI (apiType: asyncapi): each
// EventType's own AsyncAPI document, which the function serves at
// {baseUrl}/v1/asyncapi?by=eventType, becomes its entity's
// spec.definition, with spec.type asyncapi, which Backstage's API docs
// render. One request per read, beside the mesh's, with the same token.

import type { Entity } from '@backstage/catalog-model';
import type { Config } from '@backstage/config';
import { SYSTEM, TYPE_EVENT_TYPE } from './entities';
import { isRecord } from './mesh';
import { describe, errorOf, hint } from './failures';

/** The values of a provider's apiType; the first is the default. */
export const API_TYPES = ['eventType', 'asyncapi'] as const;
/** spec.type of an EventType's API entity. */
export type ApiType = (typeof API_TYPES)[number];
/** spec.type of an EventType's API entity with apiType asyncapi. */
export const TYPE_ASYNCAPI = 'asyncapi';
/** Where the function serves the documents of all EventTypes, by "<namespace>/<name>". */
export const ASYNCAPI_BY_EVENT_TYPE_PATH = '/v1/asyncapi?by=eventType';

/**
 * Reads apiType of the provider id's configuration c: eventType when it
 * is absent, as 1.21.0. Any other value than those of API_TYPES is an
 * error that names the setting, so that a typo stops the backend at start.
 */
export function readApiType(c: Config, id: string): ApiType {
  const value = c.getOptionalString('apiType') ?? API_TYPES[0];
  const known = API_TYPES.find(t => t === value);
  if (!known) {
    throw new Error(
      `catalog.providers.knativeEventMesh.${id}.apiType is ${JSON.stringify(value)}: ` +
        'set eventType (the default: the EventType as 1.21.0 shows it) or asyncapi (its AsyncAPI document), or leave it out',
    );
  }
  return known;
}

/** The outcome of reading the documents: each EventType's, by "<namespace>/<name>". */
export type Definitions = { ok: true; documents: Record<string, unknown> } | { ok: false; error: string };

/** Where and how to read the documents: the provider's own settings. */
export interface DefinitionsSource {
  id: string;
  baseUrl: string;
  token: string;
}

/**
 * Reads {baseUrl}/v1/asyncapi?by=eventType with the token, as the
 * provider reads the mesh. It never throws: a failure is an error that
 * says what went wrong and what to do, for the provider to log.
 */
export async function readDefinitions(source: DefinitionsSource, signal: AbortSignal): Promise<Definitions> {
  const url = `${source.baseUrl.replace(/\/$/, '')}${ASYNCAPI_BY_EVENT_TYPE_PATH}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${source.token}`, Accept: 'application/json' },
      signal,
      // A redirect would carry the token elsewhere: it is an error.
      redirect: 'manual',
    });
  } catch (err) {
    return { ok: false, error: `could not reach ${url}: ${describe(err)}; check baseUrl and that the function is up` };
  }
  try {
    text = await response.text();
  } catch (err) {
    return { ok: false, error: `reading the answer of ${url}: ${describe(err)}` };
  }
  if (response.status >= 300 && response.status < 400) {
    return { ok: false, error: `GET ${url} answered ${response.status}, a redirect: the provider follows no redirect, as it would send the token there; set baseUrl to the function's own URL` };
  }
  if (!response.ok) {
    const what = hint(response.status, source.id) || olderFunction(response.status, source.id);
    return { ok: false, error: `GET ${url} answered ${response.status} ${response.statusText}${errorOf(text)}${what}` };
  }
  let documents: unknown;
  try {
    documents = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `GET ${url} answered ${response.status} with a body that is not JSON: ${describe(err)}` };
  }
  if (!isRecord(documents)) {
    return { ok: false, error: `GET ${url} answered ${response.status} with a body that is not a JSON object of AsyncAPI documents` };
  }
  return { ok: true, documents };
}

/** What to do about a 404: the function predates /v1/asyncapi. */
function olderFunction(status: number, id: string): string {
  if (status !== 404) {
    return '';
  }
  return (
    `. The function does not serve ${ASYNCAPI_BY_EVENT_TYPE_PATH}: update it, or remove ` +
    `catalog.providers.knativeEventMesh.${id}.apiType to show the EventTypes as 1.21.0 does`
  );
}

/**
 * Returns entities with each EventType's API of spec.type asyncapi and
 * its document as spec.definition (JSON text). An API whose document is
 * missing from documents (its EventType changed between the two reads) or
 * is not an AsyncAPI document costs only itself: it keeps its eventType
 * form until the next read, and warn is told.
 */
export function withDefinitions(entities: Entity[], documents: Record<string, unknown>, warn: (problem: string) => void): Entity[] {
  return entities.map(entity => {
    if (entity.kind !== 'API' || entity.spec?.type !== TYPE_EVENT_TYPE) {
      return entity;
    }
    const key = `${entity.metadata.namespace}/${entity.metadata.name}`;
    const document = Object.hasOwn(documents, key) ? documents[key] : undefined;
    if (!isRecord(document) || typeof document.asyncapi !== 'string') {
      const problem = document === undefined ? 'has no AsyncAPI document in the answer' : 'has an AsyncAPI document without an "asyncapi" version';
      warn(`${ASYNCAPI_BY_EVENT_TYPE_PATH}: EventType ${key} ${problem}: its API keeps spec.type ${TYPE_EVENT_TYPE} until the next read`);
      return entity;
    }
    return { ...entity, spec: { ...entity.spec, type: TYPE_ASYNCAPI, definition: JSON.stringify(document, null, 2) } };
  });
}

/**
 * Reports whether entity is the API of an EventType: of spec.type
 * eventType, as 1.21.0 knows it, or asyncapi in the mesh's system.
 */
export function isEventTypeApi(entity: Entity): boolean {
  const spec = entity.spec;
  return entity.kind === 'API' && (spec?.type === TYPE_EVENT_TYPE || (spec?.type === TYPE_ASYNCAPI && spec?.system === SYSTEM));
}
