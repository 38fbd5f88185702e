import type { HumanDuration } from '@backstage/types';
import type { SchedulerServiceTaskScheduleDefinitionConfig } from '@backstage/backend-plugin-api';

export interface Config {
  catalog?: {
    providers?: {
      /** Knative Event Mesh providers, by id (the entities' spec.lifecycle). */
      knativeEventMesh?: {
        [id: string]: {
          /** The function's URL (or URL/namespaces/<ns>); the provider reads {baseUrl}/v1/getEventMesh. */
          baseUrl: string;
          /**
           * A ServiceAccount token the function reads the mesh with, as in 1.21.0.
           * Set this or tokenFile.
           * @visibility secret
           */
          token?: string;
          /**
           * A file that holds that token, read at every read, so a projected,
           * rotating ServiceAccount token works (in a Pod:
           * /var/run/secrets/kubernetes.io/serviceaccount/token). Set this or token.
           */
          tokenFile?: string;
          /** How often to read the mesh besides announcements. Default: every 5 minutes, 1 minute timeout. */
          schedule?: SchedulerServiceTaskScheduleDefinitionConfig;
          /**
           * spec.type of each EventType's API entity. eventType (the default, as 1.21.0): its schema as text.
           * asyncapi: its own AsyncAPI document, read from {baseUrl}/v1/asyncapi?by=eventType, which Backstage's API docs render.
           */
          apiType?: 'eventType' | 'asyncapi';
        };
      };
    };
  };
  events?: {
    modules?: {
      /** The Knative Event Mesh events module: how the function's announcements (dev.knative.eventmesh.changed) refresh the providers. */
      knativeEventMesh?: KnativeEventMeshEvents;
    };
  };
  /** @deprecated use events.modules.knativeEventMesh */
  knativeEventMesh?: {
    /** @deprecated use events.modules.knativeEventMesh */
    events?: KnativeEventMeshEvents;
  };
}

/** The events module's settings. */
interface KnativeEventMeshEvents {
  /** The events topic; the ingress takes POSTs at /api/events/http/<topic>. Default: knative-eventmesh. */
  topic?: string;
  /** The least time between two reads of one provider caused by announcements. Default: 500 milliseconds. */
  minInterval?: HumanDuration | string;
  /** Announcement subject (the function's CLUSTER_NAME) to the ids of the providers it refreshes. Without it, every announcement refreshes every provider. */
  clusters?: { [subject: string]: string[] };
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
