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
export { KnativeEventMeshProcessor, RELATION_HAS_ALLOWED_SENDER, RELATION_ALLOWED_SENDER_OF } from './processor';
export {
  meshEntities,
  ANNOTATION_KUBERNETES_ID,
  ANNOTATION_AUDIENCE,
  ANNOTATION_AUTHORIZATION,
  ANNOTATION_EVENT_POLICIES,
  ANNOTATION_ALLOWED_SENDERS,
  ANNOTATION_ALLOWED_SENDER_IDS,
  ANNOTATION_ALLOWED_SUBJECTS,
  ANNOTATION_CALLS,
  ANNOTATION_REPLIES,
  ANNOTATION_SINK,
  ANNOTATION_BROKER,
  AUTHORIZATION_BY_POLICIES,
  PROVIDER_ANNOTATIONS,
  type DroppedAnnotations,
  type EntityContext,
} from './entities';
export {
  parseEventMesh,
  type EventMesh,
  type EventType,
  type Broker,
  type Typed,
  type Addressable,
  type Transform,
  type RequestReply,
  type Flow,
  type EventPolicy,
  type Access,
  type Sender,
  type Reference,
  type MeshObject,
} from './mesh';
export { readAnnouncement, EVENT_TYPE, type Announcement } from './announcement';
export {
  readProviderConfigs,
  readEventSettings,
  DEFAULT_SCHEDULE,
  DEFAULT_TOPIC,
  DEFAULT_MIN_INTERVAL_MS,
  type ProviderConfig,
  SETTINGS,
  type EventSettings,
} from './config';
export { Coalescer } from './coalesce';
export { readApiType, API_TYPES, TYPE_ASYNCAPI, type ApiType } from './asyncapi';
