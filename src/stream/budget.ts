import { ReplyTooLarge } from '../protocol/sse.js';

/**
 * The bytes of one reply the gateway holds to check it (Envoy calls this the per-stream buffer limit): the
 * whole body of a reply checked at once, or, for a stream, the frame being read and the copies of its texts
 * the decision keeps. Every buffer of the reply path draws from one budget, so no place can grow without
 * bound while another is capped. Over it: ReplyTooLarge, answered 502 before the client got anything, or a
 * terminal error frame once a stream has started.
 */
export class ReplyBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  charge(n: number): void {
    this.used += n;
    if (this.used > this.limit) throw new ReplyTooLarge(this.limit);
  }

  get spent(): number {
    return this.used;
  }
}
