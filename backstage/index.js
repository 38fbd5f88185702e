'use strict';

// A Backstage catalog backend module that refreshes the Knative Event Mesh
// provider(s) when the Knative Event Mesh function announces a change of
// the mesh (a dev.knative.eventmesh.changed CloudEvent, posted to
// Backstage's events HTTP ingress). See README.md.

Object.defineProperty(exports, '__esModule', { value: true });

const { coreServices, createBackendModule } = require('@backstage/backend-plugin-api');
const { eventsServiceRef } = require('@backstage/plugin-events-node');
const { eventsExtensionPoint } = require('@backstage/plugin-events-node/alpha');
const { EVENT_TYPE, readAnnouncement, parseCloudEventsJson } = require('./src/announcement');
const { ProviderRefresh } = require('./src/refresh');
const { readSettings, providersFor } = require('./src/settings');

/**
 * Quotes text that came from the network for a log line: JSON-escaped and
 * at most 100 characters, so that it can neither forge lines nor flood.
 *
 * @param {string} text
 */
function quote(text) {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);
}

/**
 * Returns the subscriber that routes announcements to provider refreshes.
 *
 * @param {import('./src/settings').Settings} settings
 * @param {Map<string, ProviderRefresh>} refreshes by provider id
 * @param {{ info(message: string): void }} logger
 * @returns {(event: import('@backstage/plugin-events-node').EventParams) => Promise<void>}
 */
function announcementHandler(settings, refreshes, logger) {
  return async event => {
    const announcement = readAnnouncement(event);
    if ('problem' in announcement) {
      logger.info(`Ignored an event on topic ${settings.topic}: ${announcement.problem}`);
      return;
    }
    if (announcement.type !== EVENT_TYPE) {
      logger.info(`Ignored an event of type ${quote(announcement.type)} on topic ${settings.topic}: only ${EVENT_TYPE} refreshes the catalog`);
      return;
    }
    const ids = providersFor(settings, announcement.subject);
    if (ids.length === 0) {
      logger.info(
        `Ignored a mesh change announced for cluster ${quote(announcement.subject)} (id ${quote(announcement.id)}): ` +
          (settings.clusters
            ? 'no provider is routed to it under knativeEventMeshRefresh.clusters'
            : 'no provider is configured under catalog.providers.knativeEventMesh'),
      );
      return;
    }
    logger.info(`Mesh change announced for cluster ${quote(announcement.subject)} (id ${quote(announcement.id)}): refreshing ${ids.join(', ')}`);
    for (const id of ids) {
      refreshes.get(id)?.request();
    }
  };
}

/**
 * Subscribes to events published in this process only.
 *
 * EventsService.subscribe also long-polls the events plugin's bus for
 * events published on other instances, and that request holds the
 * backend's HTTP server open for up to a minute when it stops. An
 * announcement needs no other instance: whichever replica the ingress POST
 * reaches triggers the refresh, and the catalog's database is shared (with
 * the schedule's default global scope, the trigger itself is recorded in
 * the database and any replica runs it). So the module subscribes to the
 * process-local bus the events service delivers ingress events on, and
 * falls back to subscribe when an events service has no such bus.
 *
 * @param {import('@backstage/plugin-events-node').EventsService} events
 * @param {import('@backstage/plugin-events-node').EventsServiceSubscribeOptions} options
 * @returns {Promise<'local' | 'bus'>}
 */
async function subscribeLocally(events, options) {
  const localBus = /** @type {{ localBus?: { subscribe?: Function } }} */ (/** @type {unknown} */ (events)).localBus;
  if (localBus && typeof localBus.subscribe === 'function') {
    await localBus.subscribe({ ...options, id: `catalog.${options.id}` });
    return 'local';
  }
  await events.subscribe(options);
  return 'bus';
}

/** The catalog module. */
const catalogModuleKnativeEventMeshRefresh = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'knative-eventmesh-refresh',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        scheduler: coreServices.scheduler,
        lifecycle: coreServices.lifecycle,
        events: eventsServiceRef,
      },
      async init({ config, logger, scheduler, lifecycle, events }) {
        const settings = readSettings(config);
        const refreshes = new Map();
        for (const providerId of settings.providerIds) {
          refreshes.set(
            providerId,
            new ProviderRefresh({
              providerId,
              trigger: taskId => scheduler.triggerTask(taskId),
              minIntervalMs: settings.minIntervalMs,
              logger,
            }),
          );
        }
        lifecycle.addShutdownHook(() => {
          for (const refresh of refreshes.values()) {
            refresh.stop();
          }
        });
        const how = await subscribeLocally(events, {
          id: 'knative-eventmesh-refresh',
          topics: [settings.topic],
          onEvent: announcementHandler(settings, refreshes, logger),
        });
        if (how === 'bus') {
          logger.warn(
            'The events service has no process-local bus: subscribed through the events bus, whose long-poll can hold ' +
              "this backend's shutdown for up to a minute. Set events.useEventBus to never if that matters.",
          );
        }
        logger.info(
          `Refreshing Knative Event Mesh providers ${settings.providerIds.join(', ') || '(none configured)'} ` +
            `on ${EVENT_TYPE} events of topic ${settings.topic} (${how === 'local' ? 'this instance\'s events' : 'events of every instance'}), at most every ${settings.minIntervalMs} ms each`,
        );
      },
    });
  },
});

/**
 * An events module that lets the events HTTP ingress accept structured-mode
 * CloudEvents (Content-Type: application/cloudevents+json), which it
 * otherwise answers with 415. Binary mode needs no module.
 */
const eventsModuleCloudEventsJson = createBackendModule({
  pluginId: 'events',
  moduleId: 'cloudevents-json',
  register(env) {
    env.registerInit({
      deps: { events: eventsExtensionPoint },
      async init({ events }) {
        events.addHttpPostBodyParser({ contentType: 'application/cloudevents+json', parser: parseCloudEventsJson });
      },
    });
  },
});

exports.default = catalogModuleKnativeEventMeshRefresh;
exports.catalogModuleKnativeEventMeshRefresh = catalogModuleKnativeEventMeshRefresh;
exports.eventsModuleCloudEventsJson = eventsModuleCloudEventsJson;
exports.announcementHandler = announcementHandler;
exports.subscribeLocally = subscribeLocally;
