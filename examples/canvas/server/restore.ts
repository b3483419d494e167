import { randomUUID } from 'crypto';
import { BoardSize, BoardStore, RestoreOutcome } from './board';
import { PlacementLog } from './placements';
import { SequenceLedger } from './sequence';

/** How long the restore lock lasts unless its holder extends it (a third of it at a time). */
export const RESTORE_LOCK_MS = 30_000;

export interface RestoreOptions {
  readonly store: BoardStore;
  readonly ledger: Pick<SequenceLedger, 'beginRestore'>;
  readonly placements: Pick<PlacementLog, 'rebuild'>;
  readonly size: BoardSize;
  /** Rebuild even over a trusted board (`npm run canvas:rebuild -- --force`). @default false */
  readonly force?: boolean;
  /** Rebuild over a trusted board only while it still has this epoch (a board a restore fenced). @default - none */
  readonly replaceEpoch?: number;
  /** @default RESTORE_LOCK_MS */
  readonly lockMs?: number;
}

/** What a restore attempt came to. */
export type RestoreResult =
  /** The store holds a board that needs no rebuild. */
  | { readonly kind: 'present' }
  /** Another process holds the restore lock. */
  | { readonly kind: 'busy' }
  | { readonly kind: 'restored'; readonly seq: number; readonly epoch: number; readonly placements: number }
  /** Rebuilt, but not restored: the lock was lost, or a board of a newer epoch was restored meanwhile. */
  | { readonly kind: 'refused'; readonly reason: Exclude<RestoreOutcome, 'restored'> };

/**
 * Rebuilds the live board from the placement history, safely against other processes doing the same:
 * - one process at a time, under a lock with a token that only its holder extends (every third of its
 *   time, so a long scan keeps it) or releases;
 * - the restore epoch is bumped before the scan, which fences every older board (sequence.ts), and the
 *   board continues at or above the high-water mark the bump returned, so no sequence number handed out
 *   before, stored or still in flight, is handed out again;
 * - the scan reads strongly consistent, so a placement stored before it is in the board;
 * - the board is written only while the lock is still ours and no board of the same or a newer epoch is
 *   there, in one script, so a holder whose lock ran out never overwrites a newer restore.
 */
export async function restoreBoard(options: RestoreOptions): Promise<RestoreResult> {
  const { store } = options;
  const lockMs = options.lockMs ?? RESTORE_LOCK_MS;
  const present = async () => {
    if (options.force) {
      return false;
    }
    const epoch = await store.boardEpoch();
    return epoch !== undefined && epoch !== options.replaceEpoch;
  };
  if (await present()) {
    return { kind: 'present' };
  }
  const token = randomUUID();
  if (!await store.lockRestore(token, lockMs)) {
    return { kind: 'busy' };
  }
  let restored = false;
  // A lost lock shows when the restore script refuses; extending is all the keeper does.
  const keeper = setInterval(() => void store.extendRestore(token, lockMs).catch(() => undefined), Math.max(1, Math.floor(lockMs / 3)));
  try {
    // Another process may have restored between our check and our lock.
    if (await present()) {
      return { kind: 'present' };
    }
    const { epoch, hwm } = await options.ledger.beginRestore();
    const rebuilt = await options.placements.rebuild(options.size);
    // hwm covers every number handed out, even those whose write is still in flight; the table's highest
    // is above it only for a history from before the high-water mark existed.
    const seq = Math.max(hwm, rebuilt.seq);
    const outcome = await store.restoreRebuilt({ seq, epoch, bytes: rebuilt.bytes, cellSeq: rebuilt.cellSeq }, token);
    restored = outcome === 'restored';
    return outcome === 'restored'
      ? { kind: 'restored', seq, epoch, placements: rebuilt.placements }
      : { kind: 'refused', reason: outcome };
  } finally {
    clearInterval(keeper);
    if (!restored) {
      await store.unlockRestore(token).catch(() => undefined);
    }
  }
}
