/**
 * A sleep that can be cut short. The background loops that move the audit trail elsewhere (the shipper to a
 * control plane, the SIEM exporters) wait on one between rounds: new events or a stop ring it, so they neither
 * poll fast nor make a stop wait out a backoff.
 */
export class Alarm {
  private wake: (() => void) | undefined;

  /** Resolves after `ms`, or at once when rung meanwhile. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Ends the sleep in progress, if any. */
  ring(): void {
    this.wake?.();
  }
}
