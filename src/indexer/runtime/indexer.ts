import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { IndexerConfig } from './config';
import { BulkEntry, bulkBody, planRecord } from './documents';
import { ensureIndex } from './index-setup';
import { errorMessage, jsonLogger, Logger } from './log';
import { describeFailure, errorType, OpenSearchClient, OpenSearchClientOptions } from './opensearch-client';

/**
 * Indexes a DynamoDB stream batch with one `_bulk` request and reports the records that failed.
 *
 * Failures: items that fail are reported as batch item failures from the first failed record onward
 * (Lambda resumes from the lowest sequence number anyway, so later records are replayed in order). When the
 * whole request fails (OpenSearch unreachable, 5xx after retries, 413, 403) the handler THROWS instead of
 * reporting every record: a function error makes Lambda bisect the batch (BisectBatchOnFunctionError),
 * which splits an oversized body and counts against the event source's retry limit, while a partial
 * response naming the first record would be retried whole, unsplit.
 */

export interface IndexerDeps extends OpenSearchClientOptions {
  readonly log?: Logger;
  /** Extra `_bulk` rounds for items answered 429 (throttled), each with only those items. Default 2. */
  readonly itemRetryRounds?: number;
}

export type IndexerHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

const DEFAULT_ITEM_RETRY_ROUNDS = 2;
/** Per-item failure lines per batch; the batch line counts all of them. */
const MAX_ITEM_LOG_LINES = 10;

interface ItemFailure {
  readonly status: number;
  readonly type: string;
}

/** A fresh indexer; it creates the index (once, before its first write) and remembers that it did. */
export function createIndexer(config: IndexerConfig, deps: IndexerDeps = {}): IndexerHandler {
  const client = new OpenSearchClient(config, deps);
  const log = deps.log ?? jsonLogger;
  const itemRetryRounds = deps.itemRetryRounds ?? DEFAULT_ITEM_RETRY_ROUNDS;
  let indexReady = false;

  return async event => {
    const started = Date.now();
    const records = event.Records ?? [];
    const entries: BulkEntry[] = [];
    const recordOf: number[] = []; // entries[i] comes from records[recordOf[i]]
    let skipped = 0;
    records.forEach((record, i) => {
      const planned = planRecord(record, config);
      if (planned.kind === 'skip') {
        // Skipped, not failed: the record can never be indexed and must not block the shard.
        skipped++;
        log({
          level: 'error',
          event: 'record_skipped',
          reason: planned.reason,
          detail: planned.detail,
          sequenceNumber: record.dynamodb?.SequenceNumber,
          eventID: record.eventID,
          eventName: record.eventName,
        });
        return;
      }
      if (planned.droppedFields.length > 0) {
        log({ level: 'warn', event: 'fields_dropped', fields: planned.droppedFields, sequenceNumber: planned.entry.sequenceNumber });
      }
      entries.push(planned.entry);
      recordOf.push(i);
    });

    const summary = { records: records.length, skipped, indexed: 0, deleted: 0, failed: 0, itemRetries: 0 };
    if (entries.length === 0) {
      log({ level: 'info', event: 'batch', ...summary, reported: 0, durationMs: Date.now() - started });
      return { batchItemFailures: [] };
    }

    try {
      if (!indexReady) {
        await ensureIndex(client, config, log);
        indexReady = true;
      }
      const outcome = await writeBulk(client, config.index, entries, itemRetryRounds);
      summary.itemRetries = outcome.itemRetries;
      entries.forEach((entry, i) => {
        if (!outcome.failed.has(i)) {
          if (entry.action === 'index') summary.indexed++; else summary.deleted++;
        }
      });
      summary.failed = outcome.failed.size;

      const failedPositions = [...outcome.failed.keys()].sort((a, b) => a - b);
      const failureCounts: Record<string, number> = {};
      failedPositions.forEach((pos, n) => {
        const failure = outcome.failed.get(pos)!;
        const key = `${failure.status} ${failure.type}`;
        failureCounts[key] = (failureCounts[key] ?? 0) + 1;
        if (n < MAX_ITEM_LOG_LINES) {
          log({
            level: 'error',
            event: 'item_failed',
            sequenceNumber: entries[pos].sequenceNumber,
            action: entries[pos].action,
            status: failure.status,
            type: failure.type,
          });
        }
      });
      const batchItemFailures = failedPositions.length === 0 ? [] : records
        .slice(recordOf[failedPositions[0]])
        .map(record => record.dynamodb?.SequenceNumber)
        .filter((seq): seq is string => !!seq)
        .map(itemIdentifier => ({ itemIdentifier }));
      log({
        level: summary.failed > 0 ? 'warn' : 'info',
        event: 'batch',
        ...summary,
        failures: failureCounts,
        reported: batchItemFailures.length,
        durationMs: Date.now() - started,
      });
      return { batchItemFailures };
    } catch (err) {
      log({ level: 'error', event: 'batch_failed', ...summary, error: errorMessage(err), durationMs: Date.now() - started });
      throw err;
    }
  };
}

/**
 * One `_bulk` request for all entries, then up to `rounds` smaller ones for the items answered 429.
 * Returns the positions of entries that did not succeed. Throws when the first request fails as a whole.
 */
async function writeBulk(
  client: OpenSearchClient, index: string, entries: readonly BulkEntry[], rounds: number,
): Promise<{ failed: Map<number, ItemFailure>; itemRetries: number }> {
  const failed = new Map<number, ItemFailure>();
  let pending = entries.map((_, i) => i);
  let itemRetries = 0;
  for (let round = 0; ; round++) {
    if (round > 0) {
      itemRetries += pending.length;
      await new Promise(resolve => setTimeout(resolve, client.backoff(round)));
    }
    let items: any[];
    try {
      // No `refresh`: OpenSearch Serverless rejects it, and searches see new documents within seconds anyway.
      const res = await client.request({ method: 'POST', path: `/${index}/_bulk`, ndjson: bulkBody(pending.map(i => entries[i])) });
      items = res.body?.items;
      if (res.status < 200 || res.status >= 300 || !Array.isArray(items) || items.length !== pending.length) {
        throw new Error(`bulk request to ${index} failed: ${res.status < 300 ? `HTTP ${res.status} with ${items?.length} items for ${pending.length} actions` : describeFailure(res)}`);
      }
    } catch (err) {
      if (round === 0) {
        throw err;
      }
      break; // a retry round that fails as a whole leaves its items failed (they are already in `failed`)
    }
    const throttled: number[] = [];
    items.forEach((item, k) => {
      const pos = pending[k];
      const result = item?.[entries[pos].action];
      const status = typeof result?.status === 'number' ? result.status : 0;
      // Deleting a document that is not there reached the wanted state.
      if ((status >= 200 && status < 300) || (status === 404 && entries[pos].action === 'delete')) {
        failed.delete(pos);
        return;
      }
      failed.set(pos, { status, type: errorType(result) ?? 'unknown' });
      if (status === 429) {
        throttled.push(pos);
      }
    });
    // Resending an item after a later action on the same id succeeded would bring back the older state; such
    // items stay failed and are replayed in order with the rest of the batch.
    // Walking backwards, an id is blocked once some later entry for it is not being resent.
    const throttledSet = new Set(throttled);
    const blocked = new Set<string>();
    const resend = new Set<number>();
    for (let j = entries.length - 1; j >= 0; j--) {
      if (throttledSet.has(j) && !blocked.has(entries[j].id)) {
        resend.add(j);
      } else {
        blocked.add(entries[j].id);
      }
    }
    pending = throttled.filter(pos => resend.has(pos));
    if (pending.length === 0 || round >= rounds) {
      return { failed, itemRetries };
    }
  }
  return { failed, itemRetries };
}
