'use strict';

/**
 * How many times a refresh is tried again while the provider's task is
 * still running (the scheduler answers ConflictError), and the least time
 * between two tries. Past that, the refresh is dropped with a warning: the
 * provider's own schedule still runs.
 */
const MAX_BUSY_RETRIES = 120;
const MIN_BUSY_RETRY_MS = 500;

/**
 * @typedef {{ info(message: string): void, warn(message: string): void }} Logger
 */

/**
 * Refreshes one Knative Event Mesh provider by triggering its scheduled
 * task, coalescing requests: however many requests arrive, at most one
 * trigger is under way and one is pending, and two triggers are at least
 * `minIntervalMs` apart.
 */
class ProviderRefresh {
  /**
   * @param {object} options
   * @param {string} options.providerId the id under catalog.providers.knativeEventMesh
   * @param {(taskId: string) => Promise<void>} options.trigger scheduler.triggerTask
   * @param {number} options.minIntervalMs
   * @param {Logger} options.logger
   * @param {() => number} [options.now]
   */
  constructor({ providerId, trigger, minIntervalMs, logger, now = Date.now }) {
    this.providerId = providerId;
    // The task id the published provider (1.21.0) registers.
    this.taskId = `knative-event-mesh-provider-${providerId}:run`;
    this.trigger = trigger;
    this.minIntervalMs = minIntervalMs;
    this.logger = logger;
    this.now = now;
    /** @type {NodeJS.Timeout | undefined} the pending trigger */
    this.timer = undefined;
    /** @type {Promise<void> | undefined} the trigger under way */
    this.inFlight = undefined;
    /** a request arrived while a trigger was under way */
    this.again = false;
    /** @type {number | undefined} when the last trigger started */
    this.lastTrigger = undefined;
    this.busyRetries = 0;
    this.stopped = false;
    /** counts, for logs and tests */
    this.requests = 0;
    this.triggers = 0;
  }

  /**
   * Asks for a refresh. Returns at once; the trigger happens now, or when
   * the minimum interval since the last one has passed.
   */
  request() {
    if (this.stopped) {
      return;
    }
    this.requests++;
    if (this.timer) {
      return; // a trigger is already pending: it will read the new mesh
    }
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /**
   * Schedules the next trigger no earlier than minIntervalMs after the last
   * one, and no earlier than atLeastMs from now.
   *
   * @param {number} atLeastMs
   */
  schedule(atLeastMs) {
    const sinceLast = this.lastTrigger === undefined ? Infinity : this.now() - this.lastTrigger;
    const delay = Math.max(atLeastMs, this.minIntervalMs - sinceLast, 0);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.fire().finally(() => {
        this.inFlight = undefined;
        if (this.again && !this.stopped && !this.timer) {
          this.again = false;
          this.schedule(0);
        }
      });
    }, delay);
  }

  /** Triggers the provider's task once. */
  async fire() {
    this.lastTrigger = this.now();
    this.triggers++;
    try {
      await this.trigger(this.taskId);
      this.busyRetries = 0;
      this.logger.info(`Triggered a refresh of the Knative Event Mesh provider ${this.providerId} (task ${this.taskId})`);
    } catch (err) {
      const error = /** @type {Error} */ (err);
      if (error && error.name === 'ConflictError' && this.busyRetries < MAX_BUSY_RETRIES) {
        // The provider is reading the mesh right now, maybe from before the
        // change: read it again once it is done.
        this.busyRetries++;
        if (!this.stopped && !this.timer) {
          this.again = false;
          this.schedule(Math.max(this.minIntervalMs, MIN_BUSY_RETRY_MS));
        }
        return;
      }
      this.busyRetries = 0;
      const hint = error && error.name === 'NotFoundError'
        ? `: no such task; check that the provider ${this.providerId} is configured under catalog.providers.knativeEventMesh and that @knative-extensions/plugin-knative-event-mesh-backend is added to the backend`
        : error && error.name === 'ConflictError'
          ? `: the task was still running after ${MAX_BUSY_RETRIES} tries; the provider's own schedule will pick the change up`
          : '';
      this.logger.warn(`Could not refresh the Knative Event Mesh provider ${this.providerId}: ${error && error.message}${hint}`);
    }
  }

  /** Drops the pending trigger; later requests are ignored. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
  }

  /** Resolves when no trigger is under way (for shutdown and tests). */
  async idle() {
    while (this.inFlight) {
      await this.inFlight;
    }
  }
}

module.exports = { ProviderRefresh, MAX_BUSY_RETRIES };
