import type { Cluster, Redis } from 'ioredis';
import { QuizError } from './errors';
import { limitKey } from './keys';

/** A bound on one kind of action per client address: at most `max` in each `windowSeconds`. */
export interface AddressBound {
  readonly kind: string;
  readonly max: number;
  readonly windowSeconds: number;
}

/**
 * Per-address counters in Redis (fixed windows that start with the first action), so the bound holds
 * across every server. The address is already reduced to its key (IPv6 by its /64).
 */
export class AddressLimits {
  constructor(private readonly redis: Redis | Cluster) {}

  /** Counts one action; throws `address_limit` (429 with Retry-After) once the address is over its bound. */
  public async take(bound: AddressBound, address: string): Promise<void> {
    const key = limitKey(bound.kind, address);
    const out = await this.redis.multi().set(key, 0, 'EX', bound.windowSeconds, 'NX').incr(key).pttl(key).exec();
    if (!out || out.some(([err]) => err)) {
      throw new QuizError('unavailable', 'the limit store is briefly unavailable; try again', 503);
    }
    const count = Number(out[1][1]);
    if (count > bound.max) {
      const retryAfterMs = Math.max(Number(out[2][1]), 1);
      throw new QuizError('address_limit',
        `at most ${bound.max} ${bound.kind} per ${bound.windowSeconds} s from one address; wait ${Math.ceil(retryAfterMs / 1000)} s`,
        429, { retryAfterMs });
    }
  }
}
