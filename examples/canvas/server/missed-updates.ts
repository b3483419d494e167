import { BoardStore } from './board';
import { Logger } from '../../kit';

/**
 * Keeps one server's update stream level with the kept records. A publish lost while the subscriber
 * reconnects leaves a gap that the page repairs from `/api/updates` once a later update shows it; when no
 * later update comes, nothing shows it. So each interval the server compares the highest kept sequence
 * with the highest it relayed, and when it stayed behind for a whole interval it relays what it missed.
 * Records relayed twice are harmless: clients apply an update only over an older one of the same cell.
 */
export class MissedUpdates {
  private maxSeen = 0;
  private behindAt?: number;
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly store: BoardStore,
    private readonly intervalMs: number,
    private readonly relay: (records: Buffer[]) => void,
    private readonly log: Logger,
  ) {}

  /** Starts from what is kept now: a new server relays only what comes after it. */
  public async start(): Promise<void> {
    this.maxSeen = Math.max(this.maxSeen, await this.store.latestKeptSeq().catch(() => 0));
    this.timer = setInterval(() => void this.check(), this.intervalMs);
  }

  public stop(): void {
    clearInterval(this.timer);
  }

  /** Notes a sequence number this server relayed. */
  public seen(seq: number): void {
    if (seq > this.maxSeen) {
      this.maxSeen = seq;
    }
  }

  private async check(): Promise<void> {
    if (this.checking) {
      return;
    }
    this.checking = true;
    try {
      const kept = await this.store.latestKeptSeq();
      if (kept <= this.maxSeen) {
        this.behindAt = undefined;
        return;
      }
      // Behind for a whole interval on what the last check saw kept: lost, not just late.
      if (this.behindAt === undefined || this.behindAt <= this.maxSeen) {
        this.behindAt = kept;
        return;
      }
      const records = await this.store.updatesAfter(this.maxSeen);
      this.behindAt = undefined;
      if (records && records.length > 0) {
        this.log.warn({ after: this.maxSeen, records: records.length }, 'relaying updates whose publish this server missed');
        this.relay(records);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'missed-update check failed');
    } finally {
      this.checking = false;
    }
  }
}
