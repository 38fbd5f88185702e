import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  type SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { readDurationFromConfig, type Config } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { readApiType, type ApiType } from './asyncapi';

/** One provider: an entry of catalog.providers.knativeEventMesh. */
export interface ProviderConfig {
  id: string;
  baseUrl: string;
  /** The reader's token, as 1.21.0 has it. Exactly one of token and tokenFile is set. */
  token?: string;
  /** A file that holds the reader's token, read at every read: a projected ServiceAccount token rotates. */
  tokenFile?: string;
  schedule: SchedulerServiceTaskScheduleDefinition;
  /** spec.type of the EventTypes' APIs; absent: eventType, as 1.21.0. */
  apiType?: ApiType;
}

/** The schedule of a provider whose configuration has none. */
export const DEFAULT_SCHEDULE: SchedulerServiceTaskScheduleDefinition = {
  frequency: { minutes: 5 },
  timeout: { minutes: 1 },
};

/** Reads catalog.providers.knativeEventMesh, as 1.21.0 does, and tokenFile. */
export function readProviderConfigs(config: Config): ProviderConfig[] {
  const providers = config.getOptionalConfig('catalog.providers.knativeEventMesh');
  if (!providers) {
    return [];
  }
  return providers.keys().map(id => {
    const c = providers.getConfig(id);
    const token = c.getOptionalString('token');
    const tokenFile = c.getOptionalString('tokenFile');
    const key = `catalog.providers.knativeEventMesh.${id}`;
    if (token === undefined && tokenFile === undefined) {
      throw new Error(`${key} has neither token nor tokenFile: set tokenFile to a file that holds the reader's ServiceAccount token (or token to the token)`);
    }
    if (token !== undefined && tokenFile !== undefined) {
      throw new Error(`${key} has both token and tokenFile: keep one`);
    }
    return {
      id,
      baseUrl: c.getString('baseUrl'),
      ...(token !== undefined ? { token } : { tokenFile }),
      schedule: c.has('schedule')
        ? readSchedulerServiceTaskScheduleDefinitionFromConfig(c.getConfig('schedule'))
        : DEFAULT_SCHEDULE,
      apiType: readApiType(c, id),
    };
  });
}

/** The events topic announcements arrive on by default: the events module's. */
export const DEFAULT_TOPIC = 'knative-eventmesh';
/** The least time between two reads of one provider caused by announcements. */
export const DEFAULT_MIN_INTERVAL_MS = 500;

/**
 * Where the settings of announcements are. The events module
 * (@knative-eventmesh/plugin-events-backend-module-knative-event-mesh)
 * reads the ingress's part of them, this module the part that refreshes
 * the providers, and both the topic.
 */
export const SETTINGS = 'events.modules.knativeEventMesh';
/** Where they were before: still read, with a deprecation warning. */
export const OLD_SETTINGS = 'knativeEventMesh.events';

/** events.modules.knativeEventMesh, the part that refreshes the providers. */
export interface EventSettings {
  /** The topic the provider subscribes to, that the events module publishes announcements on. */
  topic: string;
  minIntervalMs: number;
  /** Announcement subject (the function's CLUSTER_NAME) to provider ids; undefined routes every announcement to every provider. */
  clusters: Map<string, string[]> | undefined;
}

/**
 * Reads events.modules.knativeEventMesh, or else the older
 * knativeEventMesh.events, and says so through deprecated. A route to a
 * provider id that is not configured is an error, so that a typo does not
 * silently stop refreshes.
 */
export function readEventSettings(config: Config, providerIds?: string[], deprecated: (message: string) => void = () => {}): EventSettings {
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
  const minIntervalMs = own?.has('minInterval')
    ? durationToMilliseconds(readDurationFromConfig(own, { key: 'minInterval' }))
    : DEFAULT_MIN_INTERVAL_MS;
  let clusters: Map<string, string[]> | undefined;
  const routes = own?.getOptionalConfig('clusters');
  if (routes) {
    clusters = new Map();
    for (const subject of routes.keys()) {
      const ids = routes.getStringArray(subject);
      for (const id of ids) {
        if (providerIds && !providerIds.includes(id)) {
          throw new Error(
            `${key}.clusters.${subject} names the provider "${id}", which is not configured: ` +
              `add it under catalog.providers.knativeEventMesh (configured: ${providerIds.join(', ') || 'none'})`,
          );
        }
      }
      clusters.set(subject, ids);
    }
  }
  return { topic, minIntervalMs, clusters };
}

/** Reports whether an announcement with this subject refreshes the provider id. */
export function routes(settings: EventSettings, subject: string, id: string): boolean {
  return !settings.clusters || (settings.clusters.get(subject) ?? []).includes(id);
}
