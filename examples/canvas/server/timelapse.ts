import * as http from 'http';
import { PlacementLog } from './placements';
import { encodeFrame, encodeRecord, Update } from './protocol';
import { HISTORY_LANES } from './table';
import { HttpError } from '../../kit';

/** Placements in one `GET /api/history` page by default, and at most. */
export const HISTORY_PAGE = 1000;
export const HISTORY_PAGE_MAX = 10_000;

/**
 * History pages one client address (an IPv6 address by its /64) may ask the servers for in a window,
 * across all tasks: each costs a query per lane. Complete pages mostly come from the front door's cache
 * and never count.
 */
export const HISTORY_PAGES_PER_ADDRESS = 100;
export const HISTORY_WINDOW_MS = 10_000;

/** Counts one page request of the client's address in a fixed window of `HISTORY_WINDOW_MS`. */
export type CountRequest = () => Promise<{ count: number; retryAfterMs: number }>;

/**
 * How old the newest placement of a page must be before the page can no longer change: a placement takes
 * its sequence number before it is stored (group commit and retries take seconds), and the index is
 * updated after the table, so a younger page may still gain a placement in its middle.
 */
export const HISTORY_SETTLED_MS = 5 * 60_000;

export interface HistoryPage {
  /** Placements after the asked sequence, in sequence order; none at the end of the history. */
  readonly updates: Update[];
  /** Whether the page is final: full, and old enough that no placement can still arrive inside it. */
  readonly complete: boolean;
}

/**
 * Placements with a sequence above `after`, in sequence order, at most `limit`: every lane of the sequence
 * index is asked in parallel for its next few, and the answers merged. A lane that has more than it gave
 * may hide placements above its last one, so the page ends at the lowest such last sequence (rarely
 * short of `limit`: each lane is asked for one more than its share). The page depends only on what is
 * stored, so asking again gives the same page once it is complete.
 */
export async function historyAfter(log: PlacementLog, after: number, limit: number, now = Date.now()): Promise<HistoryPage> {
  const share = Math.ceil(limit / HISTORY_LANES) + 1;
  const lanes = await Promise.all(Array.from({ length: HISTORY_LANES }, (_, lane) => log.laneAfter(lane, after, share)));
  let end = Infinity;
  for (const lane of lanes) {
    if (lane.more && lane.placements.length > 0) {
      end = Math.min(end, lane.placements[lane.placements.length - 1].seq);
    }
  }
  const merged = lanes.flatMap(lane => lane.placements).filter(p => p.seq <= end).sort((a, b) => a.seq - b.seq);
  const page = merged.slice(0, limit);
  const bounded = end !== Infinity || merged.length > limit;
  const newest = page.reduce((t, p) => Math.max(t, p.time), 0);
  return {
    updates: page.map(p => ({ seq: p.seq, x: p.x, y: p.y, color: p.color })),
    complete: bounded && page.length > 0 && newest <= now - HISTORY_SETTLED_MS,
  };
}

/**
 * `GET /api/history?after=<seq>&limit=<n>`: one page of the history as a binary frame in the `/ws`
 * format, at most `HISTORY_PAGES_PER_ADDRESS` pages per address in a window (429 beyond). A complete page never changes, so CDNs and browsers may keep it for a day; the newest pages
 * for a second.
 */
export async function sendHistoryPage(res: http.ServerResponse, url: URL, log: PlacementLog, countRequest: CountRequest): Promise<void> {
  const param = (name: string, fallback: number) => {
    const value = url.searchParams.get(name);
    if (value === null) {
      return fallback;
    }
    return /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  };
  // Counted before anything else: a malformed request costs a round trip too.
  const { count, retryAfterMs } = await countRequest();
  if (count > HISTORY_PAGES_PER_ADDRESS) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    throw new HttpError(429, 'too_many_history_pages', `too many history pages from this address; try again in ${seconds} seconds`, { 'retry-after': String(seconds) });
  }
  const after = param('after', 0);
  const limit = param('limit', HISTORY_PAGE);
  if (!Number.isInteger(after) || after > 0xffffffff) {
    throw new HttpError(400, 'bad_after', 'after must be a whole number from 0 to 4294967295 (the last sequence of the previous page)');
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_PAGE_MAX) {
    throw new HttpError(400, 'bad_limit', `limit must be a whole number from 1 to ${HISTORY_PAGE_MAX}`);
  }
  const page = await historyAfter(log, after, limit).catch(err => {
    throw new HttpError(503, 'history_unavailable', `the history cannot be read right now (${(err as Error).name}); try again`, { 'retry-after': '1' });
  });
  const body = encodeFrame(page.updates.map(encodeRecord));
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': body.length,
    'cache-control': page.complete ? 'public, max-age=86400, immutable' : 'public, max-age=1',
  });
  res.end(body);
}
