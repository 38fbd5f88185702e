/**
 * A Backstage catalog module for the Knative Event Mesh: an entity
 * provider, drop-in for @knative-extensions/plugin-knative-event-mesh-backend
 * 1.21.0, refreshed by the Knative Event Mesh function's announcements.
 *
 * @packageDocumentation
 */

import { catalogModuleKnativeEventMesh } from './module';

export default catalogModuleKnativeEventMesh;
export { catalogModuleKnativeEventMesh };
export { KnativeEventMeshProvider, type KnativeEventMeshProviderOptions, type ReadResult } from './provider';
export { KnativeEventMeshProcessor, ANNOTATION_KUBERNETES_ID } from './processor';
export { meshEntities, type EntityContext } from './entities';
export { parseEventMesh, type EventMesh, type EventType, type Broker, type Typed, type MeshObject } from './mesh';
export { readAnnouncement, EVENT_TYPE, type Announcement } from './announcement';
export {
  readProviderConfigs,
  readEventSettings,
  DEFAULT_SCHEDULE,
  DEFAULT_TOPIC,
  DEFAULT_MIN_INTERVAL_MS,
  SECRET_HEADER,
  type ProviderConfig,
  type EventSettings,
} from './config';
export { Coalescer } from './coalesce';
