'use strict';

/** The type of the function's announcements. */
const EVENT_TYPE = 'dev.knative.eventmesh.changed';

/**
 * What an event delivered by Backstage's events HTTP ingress says, as far
 * as this module cares: its CloudEvents type, subject and id.
 *
 * @typedef {{ type: string, subject: string, id: string }} Announcement
 */

/**
 * Reads the CloudEvent attributes of an event the events HTTP ingress
 * published. The ingress puts the request's headers in `metadata` and the
 * parsed body in `eventPayload`:
 *
 * - binary mode: the attributes are the `ce-type`, `ce-subject` and `ce-id`
 *   headers, the body is the data;
 * - structured mode (`Content-Type: application/cloudevents+json`, parsed
 *   by {@link ../index.js eventsModuleCloudEventsJson}): the body is the
 *   whole event, its attributes at the top level.
 *
 * Returns the attributes, or `{ problem }` saying why the event is not a
 * CloudEvent. It never throws.
 *
 * @param {{ eventPayload?: unknown, metadata?: Record<string, string | string[] | undefined> }} event
 * @returns {Announcement | { problem: string }}
 */
function readAnnouncement(event) {
  const metadata = event && typeof event.metadata === 'object' && event.metadata !== null ? event.metadata : {};
  const type = header(metadata, 'ce-type');
  if (type !== undefined) {
    return { type, subject: header(metadata, 'ce-subject') ?? '', id: header(metadata, 'ce-id') ?? '' };
  }
  let body = event ? event.eventPayload : undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      body = JSON.parse(body.toString());
    } catch (err) {
      return { problem: `a body that is not JSON (${err.message}) and no ce-type header` };
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { problem: 'neither a ce-type header (binary mode) nor a JSON object body (structured mode)' };
  }
  if (typeof body.type !== 'string' || typeof body.specversion !== 'string') {
    return { problem: 'no ce-type header, and the body has no specversion and type: not a CloudEvent' };
  }
  return {
    type: body.type,
    subject: typeof body.subject === 'string' ? body.subject : '',
    id: typeof body.id === 'string' ? body.id : '',
  };
}

/**
 * Returns the header's value (the first one if it was sent several times),
 * or undefined.
 *
 * @param {Record<string, string | string[] | undefined>} metadata
 * @param {string} name lower case, as Node.js gives header names
 * @returns {string | undefined}
 */
function header(metadata, name) {
  const value = metadata[name];
  if (Array.isArray(value)) {
    return typeof value[0] === 'string' ? value[0] : undefined;
  }
  return typeof value === 'string' ? value : undefined;
}

/**
 * Parses a structured-mode CloudEvents body for the events HTTP ingress.
 *
 * @param {{ body: unknown }} request
 * @param {{ parameters: Record<string, string> }} mediaType
 * @param {string} topic
 */
async function parseCloudEventsJson(request, mediaType, topic) {
  const bodyBuffer = request.body;
  if (!Buffer.isBuffer(bodyBuffer)) {
    throw new Error(`the body of an event for topic ${topic} did not arrive as raw bytes (${typeof bodyBuffer})`);
  }
  const encoding = mediaType.parameters.charset ?? 'utf-8';
  if (!Buffer.isEncoding(encoding)) {
    throw new Error(`unsupported charset ${encoding} for topic ${topic}: send UTF-8`);
  }
  // Malformed JSON reaches the subscriber as a string, and is ignored there
  // with a log line.
  const text = bodyBuffer.toString(/** @type {BufferEncoding} */ (encoding));
  let bodyParsed = text;
  try {
    bodyParsed = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { bodyParsed, bodyBuffer, encoding };
}

module.exports = { EVENT_TYPE, readAnnouncement, parseCloudEventsJson };
