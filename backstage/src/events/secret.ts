import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestValidator } from '@backstage/plugin-events-node';
import { SECRET_HEADER } from '../config';

/**
 * Returns an ingress validator that accepts a POST only when its
 * X-Eventmesh-Secret header holds secret, and answers any other with 401
 * before the event is published: no provider reads the mesh for it.
 */
export function secretValidator(secret: string): RequestValidator {
  const want = digest(secret);
  return async (request, context) => {
    const value = request.headers[SECRET_HEADER];
    const got = Array.isArray(value) ? value[0] : value;
    if (typeof got !== 'string' || !timingSafeEqual(digest(got), want)) {
      context.reject({
        status: 401,
        payload: { error: `missing or wrong ${SECRET_HEADER} header: set it to knativeEventMesh.events.secret (the function's PUSH_SECRET)` },
      });
    }
  };
}

/** Compares digests, so that the comparison takes the same time whatever the lengths. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
