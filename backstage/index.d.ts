import type { BackendFeature } from '@backstage/backend-plugin-api';
import type { EventParams, EventsService, EventsServiceSubscribeOptions } from '@backstage/plugin-events-node';

/**
 * The catalog module: refreshes the Knative Event Mesh provider(s) when a
 * `dev.knative.eventmesh.changed` CloudEvent arrives on the events topic
 * (`knativeEventMeshRefresh.topic`, default `knative-eventmesh`).
 */
declare const catalogModuleKnativeEventMeshRefresh: BackendFeature;
export default catalogModuleKnativeEventMeshRefresh;
export { catalogModuleKnativeEventMeshRefresh };

/**
 * An events module that lets the events HTTP ingress accept structured-mode
 * CloudEvents (`Content-Type: application/cloudevents+json`).
 */
export declare const eventsModuleCloudEventsJson: BackendFeature;

/** The module's settings, from `knativeEventMeshRefresh` and `catalog.providers.knativeEventMesh`. */
export interface Settings {
  topic: string;
  minIntervalMs: number;
  providerIds: string[];
  clusters: Map<string, string[]> | undefined;
}

/** Returns the events subscriber that routes announcements to provider refreshes. */
export declare function announcementHandler(
  settings: Settings,
  refreshes: Map<string, { request(): void }>,
  logger: { info(message: string): void },
): (event: EventParams) => Promise<void>;

/** Subscribes to events published in this process only (see README.md). */
export declare function subscribeLocally(events: EventsService, options: EventsServiceSubscribeOptions): Promise<'local' | 'bus'>;
