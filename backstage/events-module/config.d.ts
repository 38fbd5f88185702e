export interface Config {
  events?: {
    modules?: {
      /** The Knative Event Mesh events module: the ingress for the function's announcements (dev.knative.eventmesh.changed). */
      knativeEventMesh?: KnativeEventMeshIngress;
    };
  };
  /** @deprecated use events.modules.knativeEventMesh */
  knativeEventMesh?: {
    /** @deprecated use events.modules.knativeEventMesh */
    events?: KnativeEventMeshIngress;
  };
}

/**
 * The ingress's settings. The catalog module
 * (@knative-eventmesh/plugin-catalog-backend-module-knative-event-mesh)
 * declares its own (minInterval, clusters) under the same key.
 */
interface KnativeEventMeshIngress {
  /** The events topic; the ingress takes POSTs at /api/events/http/<topic> and publishes them on it. Default: knative-eventmesh. */
  topic?: string;
  /** ServiceAccount tokens the ingress takes (Authorization: Bearer), checked against the cluster's keys: the preferred way in. */
  serviceAccount?: {
    /** The tokens' issuer (the API server's --service-account-issuer). */
    issuer: string;
    /** The audience the tokens must be for. */
    audience: string;
    /** The subjects (system:serviceaccount:<namespace>:<name>) that may announce. */
    subjects: string[];
    /** The JWKS URL. Default: jwks_uri of <issuer>/.well-known/openid-configuration. */
    jwksUrl?: string;
    /** A PEM file of the CA of the API server's certificate. */
    caFile?: string;
    /** A file holding a token the keys are fetched with, read at each fetch. */
    tokenFile?: string;
  };
  /**
   * A shared secret: the ingress takes a POST whose X-Eventmesh-Secret header holds it.
   * @visibility secret
   */
  secret?: string;
  /** Takes announcements from anyone. Without it, serviceAccount or secret, the ingress refuses every POST. */
  insecureAllowUnauthenticated?: boolean;
}
