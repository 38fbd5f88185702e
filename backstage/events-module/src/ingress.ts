import { createHash, timingSafeEqual } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { RequestValidator } from '@backstage/plugin-events-node';
import { SECRET_HEADER, SETTINGS, quote, type IngressSettings } from './config';
import { ClusterKeys } from './keys';

/** A request the ingress refuses, and why. */
type Refusal = { status: 401 | 403; error: string };

/**
 * Returns the ingress's validator. It accepts a POST that carries a
 * ServiceAccount token the cluster signed for the configured audience and
 * one of the configured subjects, or the shared secret; with neither
 * configured, it refuses every POST, unless
 * insecureAllowUnauthenticated is set. A refused POST is answered before
 * the event is published: no provider reads the mesh for it.
 */
export function ingressValidator(settings: IngressSettings): RequestValidator {
  const check = checker(settings);
  return async (request, context) => {
    const refusal = await check(request.headers);
    if (refusal) {
      context.reject({ status: refusal.status, payload: { error: refusal.error } });
    }
  };
}

type Headers = Record<string, string | string[] | undefined>;

/** What the ingress does with a POST's headers: undefined to accept it. */
export function checker(settings: IngressSettings): (headers: Headers) => Promise<Refusal | undefined> {
  if (settings.insecureAllowUnauthenticated) {
    return async () => undefined;
  }
  const { serviceAccount: sa, secret } = settings;
  const keys = sa ? new ClusterKeys(sa) : undefined;
  const want = secret ? digest(secret) : undefined;
  return async headers => {
    if (!sa && !want) {
      return { status: 403, error: `announcements are refused: ${HOW_TO_ALLOW}` };
    }
    // Either way lets the POST in; the first refusal is said.
    const refusals: Refusal[] = [];
    const token = bearer(headers.authorization);
    if (sa && keys && token) {
      const refusal = await verify(token, sa, keys);
      if (!refusal) {
        return undefined;
      }
      refusals.push(refusal);
    }
    const got = first(headers[SECRET_HEADER]);
    if (want && got !== undefined) {
      if (timingSafeEqual(digest(got), want)) {
        return undefined;
      }
      refusals.push({ status: 401, error: `wrong ${SECRET_HEADER} header` });
    }
    if (refusals.length > 0) {
      return refusals[0];
    }
    const ways = [sa ? 'a ServiceAccount token (Authorization: Bearer)' : '', want ? `the shared secret (${SECRET_HEADER})` : ''];
    return { status: 401, error: `send ${ways.filter(Boolean).join(' or ')}` };
  };
}

/** What the Backstage admin must configure: logged at start, and said to a refused sender. */
export const HOW_TO_ALLOW =
  `configure ${SETTINGS}.serviceAccount (the function sends its ServiceAccount token) ` +
  `or ${SETTINGS}.secret (the function sends PUSH_SECRET)`;

/** Verifies a ServiceAccount token: signature, issuer, audience, expiry, then subject. */
async function verify(token: string, sa: NonNullable<IngressSettings['serviceAccount']>, keys: ClusterKeys): Promise<Refusal | undefined> {
  let sub: string | undefined;
  try {
    const { payload } = await jwtVerify(token, keys.getKey, {
      issuer: sa.issuer,
      audience: sa.audience,
      requiredClaims: ['exp', 'sub'],
    });
    sub = payload.sub;
  } catch (err) {
    return { status: 401, error: `the token was refused: ${reason(err, sa.audience)}` };
  }
  if (!sub || !sa.subjects.includes(sub)) {
    return { status: 403, error: `the token's subject ${quote(sub ?? '')} may not announce: add it to ${SETTINGS}.serviceAccount.subjects` };
  }
  return undefined;
}

/** Why jose refused a token, in words that do not repeat the token. */
function reason(err: unknown, audience: string): string {
  if (err instanceof errors.JWTExpired) {
    return 'it has expired';
  }
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
    return `its audience is not ${quote(audience)}`;
  }
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'iss') {
    return 'another issuer signed it';
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return "the cluster's keys did not sign it";
  }
  if (err instanceof errors.JOSEError) {
    return `${err.code}: ${err.message}`;
  }
  return `the cluster's keys could not be fetched: ${err instanceof Error ? err.message : String(err)}`;
}

/** The token of an Authorization: Bearer header. */
function bearer(value: string | string[] | undefined): string | undefined {
  const v = first(value);
  const m = v === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(v);
  return m ? m[1] : undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Compares digests, so that the comparison takes the same time whatever the lengths. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
