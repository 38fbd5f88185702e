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
           * A ServiceAccount token the function reads the mesh with.
           * @visibility secret
           */
          token: string;
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
  knativeEventMesh?: {
    /** How the function's announcements (dev.knative.eventmesh.changed) refresh the providers. */
    events?: {
      /** The events topic; the ingress takes POSTs at /api/events/http/<topic>. Default: knative-eventmesh. */
      topic?: string;
      /** The least time between two reads of one provider caused by announcements. Default: 2 seconds. */
      minInterval?: HumanDuration | string;
      /** Announcement subject (the function's CLUSTER_NAME) to the ids of the providers it refreshes. Without it, every announcement refreshes every provider. */
      clusters?: { [subject: string]: string[] };
      /**
       * A shared secret: the ingress answers 401 to a POST whose X-Eventmesh-Secret header does not hold it. Off when unset.
       * @visibility secret
       */
      secret?: string;
    };
  };
}
