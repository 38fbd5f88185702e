'use strict';

const { readDurationFromConfig } = require('@backstage/config');
const { durationToMilliseconds } = require('@backstage/types');

const DEFAULT_TOPIC = 'knative-eventmesh';
const DEFAULT_MIN_INTERVAL_MS = 2000;

/**
 * The module's settings, read from the root config:
 *
 * ```yaml
 * knativeEventMeshRefresh:
 *   topic: knative-eventmesh        # events topic (events.http.topics feeds it)
 *   minInterval: { seconds: 2 }     # least time between two refreshes of a provider
 *   clusters:                       # announcement subject (CLUSTER_NAME) -> provider ids
 *     prod-east: [east]
 * ```
 *
 * Without `clusters`, an announcement refreshes every provider under
 * `catalog.providers.knativeEventMesh`; with it, only the listed ones, and
 * an announcement of another subject is ignored.
 *
 * @typedef {{ topic: string, minIntervalMs: number, providerIds: string[], clusters: Map<string, string[]> | undefined }} Settings
 *
 * @param {import('@backstage/config').Config} config
 * @returns {Settings}
 */
function readSettings(config) {
  const providers = config.getOptionalConfig('catalog.providers.knativeEventMesh');
  const providerIds = providers ? providers.keys() : [];
  const own = config.getOptionalConfig('knativeEventMeshRefresh');
  const topic = own?.getOptionalString('topic') ?? DEFAULT_TOPIC;
  let minIntervalMs = DEFAULT_MIN_INTERVAL_MS;
  if (own?.has('minInterval')) {
    minIntervalMs = durationToMilliseconds(readDurationFromConfig(own, { key: 'minInterval' }));
  }
  let clusters;
  const routes = own?.getOptionalConfig('clusters');
  if (routes) {
    clusters = new Map();
    for (const subject of routes.keys()) {
      const ids = routes.getStringArray(subject);
      for (const id of ids) {
        if (!providerIds.includes(id)) {
          throw new Error(
            `knativeEventMeshRefresh.clusters.${subject} names the provider "${id}", which is not configured: ` +
              `add it under catalog.providers.knativeEventMesh (configured: ${providerIds.join(', ') || 'none'})`,
          );
        }
      }
      clusters.set(subject, ids);
    }
  }
  return { topic, minIntervalMs, providerIds, clusters };
}

/**
 * Returns the ids of the providers an announcement with this subject
 * refreshes; none for a subject that is not routed.
 *
 * @param {Settings} settings
 * @param {string} subject
 * @returns {string[]}
 */
function providersFor(settings, subject) {
  if (!settings.clusters) {
    return settings.providerIds;
  }
  return settings.clusters.get(subject) ?? [];
}

module.exports = { readSettings, providersFor, DEFAULT_TOPIC, DEFAULT_MIN_INTERVAL_MS };
