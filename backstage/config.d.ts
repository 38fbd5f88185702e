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
      /** The function's announcements (dev.knative.eventmesh.changed): how they refresh the providers. */
      knativeEventMesh?: KnativeEventMeshEvents;
    };
  };
  /** @deprecated use events.modules.knativeEventMesh */
  knativeEventMesh?: {
    /** @deprecated use events.modules.knativeEventMesh */
    events?: KnativeEventMeshEvents;
  };
}

/**
 * The settings of announcements this module reads: how they refresh the
 * providers. The events module
 * (@knative-eventmesh/plugin-events-backend-module-knative-event-mesh)
 * declares the ingress's own (who may announce) under the same key.
 */
interface KnativeEventMeshEvents {
  /** The events topic the providers subscribe to, the one the events module publishes announcements on. Default: knative-eventmesh. */
  topic?: string;
  /** The least time between two reads of one provider caused by announcements. Default: 500 milliseconds. */
  minInterval?: HumanDuration | string;
  /** Announcement subject (the function's CLUSTER_NAME) to the ids of the providers it refreshes. Without it, every announcement refreshes every provider. */
  clusters?: { [subject: string]: string[] };
}
