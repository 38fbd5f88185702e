import { readFile } from 'node:fs/promises';
import type {
  LoggerService,
  SchedulerService,
  SchedulerServiceTaskRunner,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { setTimeout as sleep } from 'node:timers/promises';
import { isError } from '@backstage/errors';
import { durationToMilliseconds, type HumanDuration } from '@backstage/types';
import type { EntityProvider, EntityProviderConnection } from '@backstage/plugin-catalog-node';
import type { EventParams, EventsService } from '@backstage/plugin-events-node';
import { EVENT_TYPE, quote, readAnnouncement } from './announcement';
import { readDefinitions, withDefinitions } from './asyncapi';
import { describe, errorOf, hint } from './failures';
import { Coalescer } from './coalesce';
import { SETTINGS, routes, type EventSettings, type ProviderConfig } from './config';
import { meshEntities, type DroppedAnnotations } from './entities';
import { parseEventMesh } from './mesh';

/** How often a trigger of the scheduled read is tried while that read runs. */
const TRIGGER_RETRY_MS = 1000;

/** What a KnativeEventMeshProvider needs. */
export interface KnativeEventMeshProviderOptions {
  config: ProviderConfig;
  logger: LoggerService;
  /** Runs the scheduled reads (scheduler.createScheduledTaskRunner). */
  taskRunner: SchedulerServiceTaskRunner;
  /**
   * The scheduler of taskRunner. After a read an announcement caused, the
   * provider triggers the scheduled read through it, so that the last
   * write is of a read that started after every other replica's.
   */
  scheduler?: Pick<SchedulerService, 'triggerTask'>;
  /** With events and eventSettings, announcements make the provider read the mesh at once. */
  events?: EventsService;
  eventSettings?: EventSettings;
}

/** The outcome of one read, for tests and logs. */
export type ReadResult = { ok: true; entities: number } | { ok: false; error: string };

/**
 * The Knative Event Mesh entity provider: reads GET {baseUrl}/v1/getEventMesh
 * with its token on its schedule and whenever the function announces a
 * change, and replaces its entities with the mesh's. A failed read is
 * logged and changes nothing: the catalog keeps the last good entities.
 */
export class KnativeEventMeshProvider implements EntityProvider {
  private readonly config: ProviderConfig;
  private readonly logger: LoggerService;
  private readonly taskRunner: SchedulerServiceTaskRunner;
  private readonly scheduler?: Pick<SchedulerService, 'triggerTask'>;
  /** Whether a trigger of the scheduled read is under way. */
  private triggering = false;
  private readonly events?: EventsService;
  private readonly eventSettings?: EventSettings;
  private readonly coalescer: Coalescer | undefined;
  private readonly abort = new AbortController();
  private connection: EntityProviderConnection | undefined;
  /** The read under way, if any: reads of one provider never overlap. */
  private running: Promise<unknown> = Promise.resolve();
  /** How many entities the last good read applied. */
  private lastGood: number | undefined;
  /** How long one read may take: the schedule's timeout. */
  private readonly timeoutMs: number;
  /** The objects whose forged annotations were already logged. */
  private readonly warned = new Set<string>();

  constructor(options: KnativeEventMeshProviderOptions) {
    this.config = options.config;
    this.timeoutMs = millisecondsOf(options.config.schedule.timeout);
    this.taskRunner = options.taskRunner;
    this.scheduler = options.scheduler;
    this.events = options.events;
    this.eventSettings = options.eventSettings;
    this.logger = options.logger.child({ target: this.getProviderName() });
    if (this.events && this.eventSettings) {
      this.coalescer = new Coalescer(async () => {
        const result = await this.read('announcement');
        if (result.ok) {
          void this.triggerScheduledRead();
        }
      }, this.eventSettings.minIntervalMs);
    }
  }

  /** The name 1.21.0 gives its provider: the catalog tracks entities by it. */
  getProviderName(): string {
    return `knative-event-mesh-provider-${this.config.id}`;
  }

  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
    if (this.events && this.eventSettings) {
      await this.events.subscribe({
        id: this.getProviderName(),
        topics: [this.eventSettings.topic],
        onEvent: event => this.onEvent(event),
      });
    }
    await this.taskRunner.run({
      id: this.taskId(),
      // The scheduler aborts the signal at the schedule's timeout, or when it stops.
      fn: async signal => {
        await this.read('schedule', signal);
      },
    });
  }

  /** The id of the scheduled read's task. */
  private taskId(): string {
    return `${this.getProviderName()}:run`;
  }

  /**
   * Triggers the scheduled read once more. An announced read runs at once
   * on the replica that took the announcement, outside the scheduler's
   * lock: a scheduled read of another replica that fetched the mesh before
   * the change could write after it. The scheduler runs its task on one
   * replica at a time, so the triggered run starts after any such read
   * ended and writes the newest mesh. While the task runs, the scheduler
   * refuses the trigger (409): it is tried again every second, until the
   * run under way must have ended (its timeout).
   */
  private async triggerScheduledRead(): Promise<void> {
    if (!this.scheduler || this.triggering) {
      return; // a trigger under way does the same
    }
    this.triggering = true;
    try {
      const deadline = Date.now() + this.timeoutMs + TRIGGER_RETRY_MS;
      while (!this.abort.signal.aborted) {
        try {
          await this.scheduler.triggerTask(this.taskId());
          return;
        } catch (err) {
          // The scheduler's ConflictError (@backstage/errors): the task runs.
          if (!isError(err) || err.name !== 'ConflictError' || Date.now() > deadline) {
            this.logger.warn(`Knative Event Mesh provider ${this.config.id}: could not trigger the scheduled read after an announced one: ${describe(err)}`);
            return;
          }
        }
        await sleep(TRIGGER_RETRY_MS, undefined, { signal: this.abort.signal }).catch(() => {});
      }
    } finally {
      this.triggering = false;
    }
  }

  /** Stops reading on announcements and aborts a read under way. */
  stop(): void {
    this.coalescer?.stop();
    this.abort.abort();
  }

  /** Takes an event of the topic: an announcement for this provider asks for a read. */
  async onEvent(event: EventParams): Promise<void> {
    const announcement = readAnnouncement(event);
    const settings = this.eventSettings;
    if (!this.coalescer || !settings) {
      return;
    }
    if ('problem' in announcement) {
      this.logger.info(`Ignored an event on topic ${settings.topic}: ${announcement.problem}`);
      return;
    }
    if (announcement.type !== EVENT_TYPE) {
      this.logger.info(`Ignored an event of type ${quote(announcement.type)} on topic ${settings.topic}: only ${EVENT_TYPE} refreshes the catalog`);
      return;
    }
    const what = `cluster ${quote(announcement.subject)} (id ${quote(announcement.id)})`;
    if (!routes(settings, announcement.subject, this.config.id)) {
      if (!settings.clusters?.has(announcement.subject)) {
        // No provider takes it: each provider says so once.
        this.logger.info(`Ignored a mesh change announced for ${what}: ${SETTINGS}.clusters routes it to no provider`);
      } else {
        this.logger.debug(`Mesh change announced for ${what}: routed to other providers than ${this.config.id}`);
      }
      return;
    }
    this.logger.info(`Mesh change announced for ${what}: refreshing provider ${this.config.id}`);
    this.coalescer.request();
  }

  /**
   * Reads the mesh and applies its entities. It never throws: a failure is
   * logged with the provider id and what went wrong, and the catalog keeps
   * the entities of the last good read. The read ends when signal aborts,
   * and at the latest after the schedule's timeout.
   */
  read(reason: 'schedule' | 'announcement' | 'test', signal?: AbortSignal): Promise<ReadResult> {
    const next = this.running.then(() => this.readOnce(reason, signal)).catch((err: unknown): ReadResult => {
      // readOnce handles every failure it knows: this keeps the chain going.
      const error = `the read failed: ${describe(err)}`;
      try {
        this.logger.error(`Knative Event Mesh provider ${this.config.id}: ${error}`);
      } catch {
        // the logger failed too: the result says what happened
      }
      return { ok: false, error };
    });
    this.running = next;
    return next;
  }

  private async readOnce(reason: string, signal: AbortSignal | undefined): Promise<ReadResult> {
    const signals = [this.abort.signal, AbortSignal.timeout(this.timeoutMs)];
    if (signal) {
      signals.push(signal);
    }
    const result = await this.fetchAndApply(AbortSignal.any(signals));
    if (result.ok) {
      this.lastGood = result.entities;
      this.logger.info(`Read ${result.entities} entities of the Knative Event Mesh (${reason})`);
    } else {
      const kept = this.lastGood === undefined ? 'no read has succeeded yet' : `the catalog keeps the ${this.lastGood} entities of the last good read`;
      this.logger.error(`Knative Event Mesh provider ${this.config.id}: ${result.error}; ${kept}`);
    }
    return result;
  }

  private async fetchAndApply(signal: AbortSignal): Promise<ReadResult> {
    if (!this.connection) {
      return { ok: false, error: 'not connected to the catalog yet' };
    }
    if (signal.aborted) {
      return { ok: false, error: `not read: ${describe(signal.reason)}` };
    }
    const url = `${this.config.baseUrl.replace(/\/$/, '')}/v1/getEventMesh`;
    let token: string;
    try {
      token = await this.token();
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
    // apiType asyncapi: the EventTypes' documents, read beside the mesh.
    const definitions =
      this.config.apiType === 'asyncapi' ? readDefinitions({ id: this.config.id, baseUrl: this.config.baseUrl, token }, signal) : undefined;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        signal,
        // A redirect would carry the token elsewhere: it is an error.
        redirect: 'manual',
      });
    } catch (err) {
      return { ok: false, error: `could not reach ${url}: ${describe(err)}; check baseUrl and that the function is up` };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      return { ok: false, error: `reading the answer of ${url}: ${describe(err)}` };
    }
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location') ?? 'nowhere';
      return {
        ok: false,
        error: `GET ${url} answered ${response.status}, a redirect to ${quote(location)}: the provider follows no redirect, as it would send the token there; set baseUrl to the function's own URL`,
      };
    }
    if (!response.ok) {
      return { ok: false, error: `GET ${url} answered ${response.status} ${response.statusText}${errorOf(text)}${hint(response.status, this.config.id)}` };
    }
    let entities;
    try {
      const mesh = parseEventMesh(JSON.parse(text), problem => {
        this.logger.warn(`Knative Event Mesh provider ${this.config.id}: GET ${url}: ${problem}`);
      });
      const dropped: DroppedAnnotations[] = [];
      entities = meshEntities(mesh, { ...this.config, onDropped: d => dropped.push(d) });
      this.warnDropped(url, dropped);
    } catch (err) {
      return { ok: false, error: `GET ${url} answered ${response.status} with a body that is not an event mesh: ${describe(err)}` };
    }
    const read = await definitions;
    if (read && !read.ok) {
      return read;
    }
    if (read) {
      entities = withDefinitions(entities, read.documents, problem => this.logger.warn(`Knative Event Mesh provider ${this.config.id}: ${problem}`));
    }
    try {
      await this.connection.applyMutation({
        type: 'full',
        entities: entities.map(entity => ({ entity, locationKey: this.getProviderName() })),
      });
    } catch (err) {
      return { ok: false, error: `the catalog did not take the mesh's ${entities.length} entities: ${describe(err)}` };
    }
    return { ok: true, entities: entities.length };
  }

  /**
   * The reader's token: token as configured, or the content of tokenFile,
   * read now, as the kubelet rotates a projected token in place.
   */
  private async token(): Promise<string> {
    const { id, token, tokenFile } = this.config;
    if (tokenFile === undefined) {
      return token ?? '';
    }
    const where = `the token file ${tokenFile} (catalog.providers.knativeEventMesh.${id}.tokenFile)`;
    let text: string;
    try {
      text = await readFile(tokenFile, 'utf8');
    } catch (err) {
      throw new Error(`could not read ${where}: ${describe(err)}; mount the ServiceAccount token there`);
    }
    const value = text.trim();
    if (value === '') {
      throw new Error(`${where} is empty; mount the ServiceAccount token there`);
    }
    return value;
  }

  /**
   * Logs one warning for the objects whose own annotations used the
   * provider's keys and were dropped, naming those not named before.
   */
  private warnDropped(url: string, dropped: DroppedAnnotations[]): void {
    const fresh = dropped.filter(d => {
      const key = `${d.list}:${d.object}:${d.keys.join(',')}`;
      const seen = this.warned.has(key);
      this.warned.add(key);
      return !seen;
    });
    if (fresh.length === 0) {
      return;
    }
    const names = fresh.slice(0, 5).map(d => `${d.list} ${quote(d.object)} (${d.keys.map(quote).join(', ')})`);
    const more = fresh.length > 5 ? ` and ${fresh.length - 5} more` : '';
    this.logger.warn(
      `Knative Event Mesh provider ${this.config.id}: GET ${url}: dropped annotations that only the provider may set from ${names.join(', ')}${more}: ` +
        'their values come from the mesh alone; remove them from the objects',
    );
  }
}

/** A schedule's duration in milliseconds: a luxon Duration or a HumanDuration. */
function millisecondsOf(d: SchedulerServiceTaskScheduleDefinition['timeout']): number {
  if ('toMillis' in d && typeof d.toMillis === 'function') {
    return d.toMillis();
  }
  return durationToMilliseconds(d as HumanDuration);
}
