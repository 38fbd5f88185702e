import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { catalogProcessingExtensionPoint, catalogServiceRef } from '@backstage/plugin-catalog-node';
import { eventsServiceRef } from '@backstage/plugin-events-node';
import { readEventSettings, readProviderConfigs } from './config';
import { EVENT_TYPE } from './announcement';
import { KnativeEventMeshProcessor } from './processor';
import { KnativeEventMeshProvider } from './provider';

/**
 * The catalog module: one Knative Event Mesh entity provider per entry of
 * catalog.providers.knativeEventMesh, refreshed on its schedule and on
 * the function's announcements, and the processor that relates EventTypes
 * to the Components that consume them.
 */
export const catalogModuleKnativeEventMesh = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'knative-event-mesh',
  register(env) {
    env.registerInit({
      deps: {
        auth: coreServices.auth,
        catalog: catalogServiceRef,
        config: coreServices.rootConfig,
        events: eventsServiceRef,
        lifecycle: coreServices.lifecycle,
        logger: coreServices.logger,
        processing: catalogProcessingExtensionPoint,
        scheduler: coreServices.scheduler,
      },
      async init({ auth, catalog, config, events, lifecycle, logger, processing, scheduler }) {
        const configs = readProviderConfigs(config);
        const eventSettings = readEventSettings(
          config,
          configs.map(c => c.id),
          message => logger.warn(message),
        );
        const providers = configs.map(
          c =>
            new KnativeEventMeshProvider({
              config: c,
              logger,
              taskRunner: scheduler.createScheduledTaskRunner(c.schedule),
              scheduler,
              events,
              eventSettings,
            }),
        );
        processing.addEntityProvider(providers);
        processing.addProcessor(new KnativeEventMeshProcessor(
            catalog,
            auth,
            logger,
            configs.map(c => c.baseUrl),
          ));
        lifecycle.addShutdownHook(() => {
          for (const provider of providers) {
            provider.stop();
          }
        });
        logger.info(
          `Knative Event Mesh providers: ${configs.map(c => c.id).join(', ') || 'none (configure catalog.providers.knativeEventMesh)'}; ` +
            `refreshed on ${EVENT_TYPE} events of topic ${eventSettings.topic}, at most every ${eventSettings.minIntervalMs} ms each`,
        );
      },
    });
  },
});
