import type { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import { RELATION_API_CONSUMED_BY, RELATION_CONSUMES_API, type Entity } from '@backstage/catalog-model';
import {
  processingResult,
  type CatalogProcessor,
  type CatalogProcessorEmit,
  type CatalogService,
  type LocationSpec,
} from '@backstage/plugin-catalog-node';
import { TYPE_EVENT_TYPE } from './entities';

/** The annotation that links a Component to the Kubernetes objects it runs as. */
export const ANNOTATION_KUBERNETES_ID = 'backstage.io/kubernetes-id';

/** How many Components one catalog query returns at most. */
const PAGE = 1000;

/**
 * Relates each EventType's API to the Components that consume it: those
 * of the API's namespace whose backstage.io/kubernetes-id annotation is in
 * the API's metadata.consumedBy. It emits apiConsumedBy from the API and
 * consumesApi from the Component, as 1.21.0 meant to, and queries the
 * catalog with the module's own service credentials, which Backstage's
 * default auth policy accepts.
 */
export class KnativeEventMeshProcessor implements CatalogProcessor {
  private readonly logger: LoggerService;

  constructor(
    private readonly catalog: CatalogService,
    private readonly auth: AuthService,
    logger: LoggerService,
  ) {
    this.logger = logger.child({ target: this.getProcessorName() });
  }

  getProcessorName(): string {
    return 'knative-event-mesh-processor';
  }

  async preProcessEntity(entity: Entity, _location: LocationSpec, emit: CatalogProcessorEmit): Promise<Entity> {
    if (entity.kind !== 'API' || entity.spec?.type !== TYPE_EVENT_TYPE) {
      return entity;
    }
    const consumedBy = entity.metadata.consumedBy;
    if (!Array.isArray(consumedBy)) {
      return entity;
    }
    const ids = [...new Set(consumedBy.filter((id): id is string => typeof id === 'string' && id !== ''))];
    if (ids.length === 0) {
      return entity;
    }
    const namespace = entity.metadata.namespace ?? 'default';
    const api = { kind: 'API', namespace, name: entity.metadata.name };
    for (const component of await this.consumers(namespace, ids)) {
      emit(processingResult.relation({ type: RELATION_API_CONSUMED_BY, source: api, target: component }));
      emit(processingResult.relation({ type: RELATION_CONSUMES_API, source: component, target: api }));
    }
    return entity;
  }

  /** The Components of namespace whose kubernetes-id is one of ids. A failed query is logged, and relates nothing. */
  private async consumers(namespace: string, ids: string[]): Promise<{ kind: string; namespace: string; name: string }[]> {
    const found: { kind: string; namespace: string; name: string }[] = [];
    try {
      const credentials = await this.auth.getOwnServiceCredentials();
      const fields = ['kind', 'metadata.namespace', 'metadata.name'];
      let response = await this.catalog.queryEntities(
        {
          filter: { kind: 'Component', 'metadata.namespace': namespace, [`metadata.annotations.${ANNOTATION_KUBERNETES_ID}`]: ids },
          fields,
          limit: PAGE,
        },
        { credentials },
      );
      for (;;) {
        for (const item of response.items) {
          found.push({ kind: 'Component', namespace: item.metadata.namespace ?? namespace, name: item.metadata.name });
        }
        const cursor = response.pageInfo.nextCursor;
        if (!cursor) {
          break;
        }
        response = await this.catalog.queryEntities({ cursor, fields, limit: PAGE }, { credentials });
      }
    } catch (err) {
      this.logger.error(`Could not find the Components of namespace ${namespace} with ${ANNOTATION_KUBERNETES_ID} ${ids.join(', ')}: ${err}`);
      return [];
    }
    return found;
  }
}
