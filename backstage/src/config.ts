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
  token: string;
  schedule: SchedulerServiceTaskScheduleDefinition;
  /** spec.type of the EventTypes' APIs; absent: eventType, as 1.21.0. */
  apiType?: ApiType;
}

/** The schedule of a provider whose configuration has none. */
export const DEFAULT_SCHEDULE: SchedulerServiceTaskScheduleDefinition = {
  frequency: { minutes: 5 },
  timeout: { minutes: 1 },
};

/** Reads catalog.providers.knativeEventMesh, as 1.21.0 does. */
export function readProviderConfigs(config: Config): ProviderConfig[] {
  const providers = config.getOptionalConfig('catalog.providers.knativeEventMesh');
  if (!providers) {
    return [];
  }
  return providers.keys().map(id => {
    const c = providers.getConfig(id);
    return {
      id,
      baseUrl: c.getString('baseUrl'),
      token: c.getString('token'),
      schedule: c.has('schedule')
        ? readSchedulerServiceTaskScheduleDefinitionFromConfig(c.getConfig('schedule'))
        : DEFAULT_SCHEDULE,
      apiType: readApiType(c, id),
    };
  });
}

/** The events topic announcements arrive on by default. */
export const DEFAULT_TOPIC = 'knative-eventmesh';
/** The least time between two reads of one provider caused by announcements. */
export const DEFAULT_MIN_INTERVAL_MS = 2000;
/** The header that carries the shared secret. */
export const SECRET_HEADER = 'x-eventmesh-secret';

/** knativeEventMesh.events: how announcements refresh the providers. */
export interface EventSettings {
  topic: string;
  minIntervalMs: number;
  /** Announcement subject (the function's CLUSTER_NAME) to provider ids; undefined routes every announcement to every provider. */
  clusters: Map<string, string[]> | undefined;
  /** The shared secret the ingress requires, if any. */
  secret: string | undefined;
}

/**
 * Reads knativeEventMesh.events. A route to a provider id that is not
 * configured is an error, so that a typo does not silently stop refreshes.
 */
export function readEventSettings(config: Config, providerIds?: string[]): EventSettings {
  const own = config.getOptionalConfig('knativeEventMesh.events');
  const topic = own?.getOptionalString('topic') ?? DEFAULT_TOPIC;
  const minIntervalMs = own?.has('minInterval')
    ? durationToMilliseconds(readDurationFromConfig(own, { key: 'minInterval' }))
    : DEFAULT_MIN_INTERVAL_MS;
  const secret = own?.getOptionalString('secret') || undefined;
  let clusters: Map<string, string[]> | undefined;
  const routes = own?.getOptionalConfig('clusters');
  if (routes) {
    clusters = new Map();
    for (const subject of routes.keys()) {
      const ids = routes.getStringArray(subject);
      for (const id of ids) {
        if (providerIds && !providerIds.includes(id)) {
          throw new Error(
            `knativeEventMesh.events.clusters.${subject} names the provider "${id}", which is not configured: ` +
              `add it under catalog.providers.knativeEventMesh (configured: ${providerIds.join(', ') || 'none'})`,
          );
        }
      }
      clusters.set(subject, ids);
    }
  }
  return { topic, minIntervalMs, clusters, secret };
}

/** Reports whether an announcement with this subject refreshes the provider id. */
export function routes(settings: EventSettings, subject: string, id: string): boolean {
  return !settings.clusters || (settings.clusters.get(subject) ?? []).includes(id);
}
