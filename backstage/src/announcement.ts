import type { EventParams } from '@backstage/plugin-events-node';

/** The type of the function's announcements. */
export const EVENT_TYPE = 'dev.knative.eventmesh.changed';

/** The CloudEvent attributes of an event that matter here. */
export interface Announcement {
  type: string;
  subject: string;
  id: string;
}

/**
 * Reads the CloudEvent attributes of an event the events HTTP ingress
 * published: from the ce-* headers (binary mode, in metadata), else from
 * the body (structured mode). Returns them, or { problem } saying why the
 * event is not a CloudEvent. It never throws.
 */
export function readAnnouncement(event: Partial<EventParams>): Announcement | { problem: string } {
  const metadata = typeof event?.metadata === 'object' && event.metadata !== null ? event.metadata : {};
  const type = header(metadata, 'ce-type');
  if (type !== undefined) {
    return { type, subject: header(metadata, 'ce-subject') ?? '', id: header(metadata, 'ce-id') ?? '' };
  }
  let body: unknown = event?.eventPayload;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      body = JSON.parse(body.toString());
    } catch (err) {
      return { problem: `a body that is not JSON (${(err as Error).message}) and no ce-type header` };
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { problem: 'neither a ce-type header (binary mode) nor a JSON object body (structured mode)' };
  }
  const o = body as Record<string, unknown>;
  if (typeof o.type !== 'string' || typeof o.specversion !== 'string') {
    return { problem: 'no ce-type header, and the body has no specversion and type: not a CloudEvent' };
  }
  return {
    type: o.type,
    subject: typeof o.subject === 'string' ? o.subject : '',
    id: typeof o.id === 'string' ? o.id : '',
  };
}

/** The header's value (the first, if sent several times), or undefined. */
function header(metadata: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = metadata[name];
  if (Array.isArray(value)) {
    return typeof value[0] === 'string' ? value[0] : undefined;
  }
  return typeof value === 'string' ? value : undefined;
}

/**
 * Quotes text that came from the network for a log line: JSON-escaped and
 * at most 100 characters, so that it can neither forge lines nor flood.
 */
export function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);
}
