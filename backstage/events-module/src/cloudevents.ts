import type { HttpBodyParsed } from '@backstage/plugin-events-node';
import type { Request } from 'express';

/**
 * Parses a structured-mode CloudEvents body (Content-Type:
 * application/cloudevents+json) for the events HTTP ingress, which
 * otherwise answers it with 415. A body that is not JSON is kept as text:
 * the provider ignores it with a log line.
 */
export async function parseCloudEventsJson(
  request: Request,
  mediaType: { parameters: Record<string, string> },
  topic: string,
): Promise<HttpBodyParsed> {
  const bodyBuffer: unknown = request.body;
  if (!Buffer.isBuffer(bodyBuffer)) {
    throw new Error(`the body of an event for topic ${topic} did not arrive as raw bytes (${typeof bodyBuffer})`);
  }
  const encoding = mediaType.parameters.charset ?? 'utf-8';
  if (!Buffer.isEncoding(encoding)) {
    throw new Error(`unsupported charset ${encoding} for topic ${topic}: send UTF-8`);
  }
  const text = bodyBuffer.toString(encoding);
  let bodyParsed: unknown = text;
  try {
    bodyParsed = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { bodyParsed, bodyBuffer, encoding };
}
