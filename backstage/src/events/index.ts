/**
 * An events-plugin module for the Knative Event Mesh function's
 * announcements: it opens the events HTTP ingress for the topic
 * (knativeEventMesh.events.topic), checks the shared secret when one is
 * configured, and lets the ingress take structured-mode CloudEvents.
 *
 * @packageDocumentation
 */

import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { eventsExtensionPoint } from '@backstage/plugin-events-node/alpha';
import { readEventSettings } from '../config';
import { parseCloudEventsJson } from './cloudevents';
import { secretValidator } from './secret';

export const eventsModuleKnativeEventMesh = createBackendModule({
  pluginId: 'events',
  moduleId: 'knative-event-mesh',
  register(env) {
    env.registerInit({
      deps: { config: coreServices.rootConfig, events: eventsExtensionPoint, logger: coreServices.logger },
      async init({ config, events, logger }) {
        const settings = readEventSettings(config);
        events.addHttpPostBodyParser({ contentType: 'application/cloudevents+json', parser: parseCloudEventsJson });
        events.addHttpPostIngress({
          topic: settings.topic,
          validator: settings.secret ? secretValidator(settings.secret) : undefined,
        });
        logger.info(
          `Knative Event Mesh announcements are taken at /api/events/http/${settings.topic}` +
            (settings.secret ? ', with the shared secret' : ' (no shared secret: knativeEventMesh.events.secret is not set)'),
        );
      },
    });
  },
});

export default eventsModuleKnativeEventMesh;
export { parseCloudEventsJson } from './cloudevents';
export { secretValidator } from './secret';
