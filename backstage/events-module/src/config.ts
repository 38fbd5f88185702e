import type { Config } from '@backstage/config';

/** The events topic announcements arrive on by default. */
export const DEFAULT_TOPIC = 'knative-eventmesh';
/** The header that carries the shared secret. */
export const SECRET_HEADER = 'x-eventmesh-secret';

/** Where the module's settings are, as the events modules of Backstage keep theirs. */
export const SETTINGS = 'events.modules.knativeEventMesh';
/** Where they were before: still read, with a deprecation warning. */
export const OLD_SETTINGS = 'knativeEventMesh.events';

/** events.modules.knativeEventMesh, the part the ingress reads. */
export interface IngressSettings {
  /** The events topic: the ingress takes POSTs at /api/events/http/<topic>. */
  topic: string;
  /** The ServiceAccount tokens the ingress takes: the preferred way in. */
  serviceAccount?: {
    /** The cluster's token issuer (the API server's --service-account-issuer). */
    issuer: string;
    /** The JWKS URL; without it, jwks_uri of the issuer's discovery document. */
    jwksUrl?: string;
    /** The CA of the API server's certificate, to fetch the keys over https. */
    caFile?: string;
    /** A token to fetch the keys with (the API server asks for one), read at each fetch. */
    tokenFile?: string;
    /** The audience the tokens must be for. */
    audience: string;
    /** The subjects (system:serviceaccount:<namespace>:<name>) that may announce. */
    subjects: string[];
  };
  /** The shared secret the ingress takes, if any. */
  secret: string | undefined;
  /** Takes announcements from anyone: for a trusted network only. */
  insecureAllowUnauthenticated: boolean;
}

/**
 * Reads events.modules.knativeEventMesh, or else the older
 * knativeEventMesh.events, and says so through deprecated.
 */
export function readIngressSettings(config: Config, deprecated: (message: string) => void = () => {}): IngressSettings {
  let key = SETTINGS;
  let own = config.getOptionalConfig(SETTINGS);
  const old = config.getOptionalConfig(OLD_SETTINGS);
  if (old && own) {
    deprecated(`${OLD_SETTINGS} is ignored: ${SETTINGS} is set. Remove ${OLD_SETTINGS}`);
  } else if (old) {
    deprecated(`${OLD_SETTINGS} is deprecated: move its settings to ${SETTINGS}`);
    own = old;
    key = OLD_SETTINGS;
  }
  const topic = own?.getOptionalString('topic') ?? DEFAULT_TOPIC;
  const secret = own?.getOptionalString('secret') || undefined;
  const insecureAllowUnauthenticated = own?.getOptionalBoolean('insecureAllowUnauthenticated') ?? false;
  const sa = own?.getOptionalConfig('serviceAccount');
  const serviceAccount = sa && {
    issuer: sa.getString('issuer'),
    jwksUrl: sa.getOptionalString('jwksUrl'),
    caFile: sa.getOptionalString('caFile'),
    tokenFile: sa.getOptionalString('tokenFile'),
    audience: sa.getString('audience'),
    subjects: sa.getStringArray('subjects'),
  };
  if (serviceAccount && serviceAccount.subjects.length === 0) {
    throw new Error(`${key}.serviceAccount.subjects is empty: list the subjects that may announce (system:serviceaccount:<namespace>:<name>)`);
  }
  return { topic, secret, insecureAllowUnauthenticated, ...(serviceAccount ? { serviceAccount } : {}) };
}

/**
 * Quotes text that came from the network for a log line or an answer:
 * JSON-escaped and at most 100 characters, so that it can neither forge
 * lines nor flood.
 */
export function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);
}
