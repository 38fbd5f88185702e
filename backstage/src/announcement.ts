import type { EventParams } from '@backstage/plugin-events-node';
import { isError } from '@backstage/errors';
import { HTTP, type CloudEvent } from 'cloudevents';

/** The type of the function's announcements. */
export const EVENT_TYPE = 'dev.knative.eventmesh.changed';

/** The CloudEvent attributes of an event that matter here. */
export interface Announcement {
  type: string;
  subject: string;
  id: string;
}

/**
 * Reads the CloudEvent of an event the events HTTP ingress published, with
 * the CloudEvents SDK: in binary mode from the ce-* headers (in metadata)
 * and the body; in structured mode from the body alone, as it also arrives
 * through Backstage's events bus, which carries no headers. Returns its
 * attributes, or { problem } saying why the event is not a CloudEvent. It
 * never throws.
 */
export function readAnnouncement(event: Partial<EventParams>): Announcement | { problem: string } {
  const metadata = typeof event?.metadata === 'object' && event.metadata !== null ? event.metadata : {};
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    const v = Array.isArray(value) ? value[0] : value;
    if (typeof v === 'string') {
      headers[name.toLowerCase()] = v;
    }
  }
  const binary = headers['ce-specversion'] !== undefined || headers['ce-type'] !== undefined;
  if (!binary) {
    headers['content-type'] = 'application/cloudevents+json';
  }
  const payload: unknown = event?.eventPayload;
  const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : JSON.stringify(payload ?? null);
  let ce: CloudEvent<unknown> | undefined;
  try {
    const parsed = HTTP.toEvent({ headers, body });
    // A CloudEvent instance, typed as its interface.
    ce = (Array.isArray(parsed) ? parsed[0] : parsed) as CloudEvent<unknown> | undefined;
    // toEvent fills in what is missing: validate() says what must be there.
    ce?.validate();
  } catch (err) {
    const mode = binary ? 'binary mode (ce-* headers)' : 'structured mode (a JSON body with specversion, type, source and id)';
    return { problem: `not a CloudEvent in ${mode}: ${whyInvalid(err)}` };
  }
  if (!ce) {
    return { problem: 'an empty batch of CloudEvents' };
  }
  return { type: ce.type, subject: ce.subject ?? '', id: ce.id };
}

/** What the SDK found wrong, on one line: the schema's messages, or the error's first line. */
function whyInvalid(err: unknown): string {
  const errors = (err as { errors?: unknown })?.errors;
  if (Array.isArray(errors) && errors.length > 0) {
    return errors.map(e => (typeof e?.message === 'string' ? e.message : String(e))).join('; ');
  }
  return (isError(err) ? err.message : String(err)).split('\n')[0];
}

/**
 * Quotes text that came from the network for a log line: JSON-escaped and
 * at most 100 characters, so that it can neither forge lines nor flood.
 */
export function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);
}
