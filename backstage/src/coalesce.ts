/**
 * Coalesces requests for a read: however many requests arrive, at most
 * one read is under way and one is pending, and two reads start at least
 * minIntervalMs apart. A request made while a read is under way gets a
 * read after it, as that read may have seen the mesh from before the
 * change.
 */
export class Coalescer {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private lastStart: number | undefined;
  private stopped = false;
  /** How many reads were started, for logs and tests. */
  reads = 0;

  constructor(
    private readonly read: () => Promise<void>,
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Asks for a read. Returns at once. */
  request(): void {
    if (this.stopped || this.timer) {
      return; // a read is pending: it will see the change
    }
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.schedule();
  }

  private schedule(): void {
    const since = this.lastStart === undefined ? Infinity : this.now() - this.lastStart;
    const delay = Math.max(this.minIntervalMs - since, 0);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastStart = this.now();
      this.reads++;
      // read never rejects; the catch is a guard.
      this.inFlight = this.read()
        .catch(() => {})
        .finally(() => {
          this.inFlight = undefined;
          if (this.again && !this.stopped) {
            this.again = false;
            this.schedule();
          }
        });
    }, delay);
  }

  /** Drops the pending read; later requests are ignored. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
  }

  /** Resolves when no read is under way nor pending. */
  async idle(): Promise<void> {
    while (this.inFlight || this.timer) {
      if (this.inFlight) {
        await this.inFlight;
      } else {
        await new Promise(resolve => setTimeout(resolve, 10));
      }
    }
  }
}
