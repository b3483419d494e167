import type { TableKey } from '../../shared/local-dynamodb';

/**
 * Partition keys of the sequence index. DynamoDB gives one partition at most 1,000 write units a second
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html), and a
 * global secondary index that cannot keep up throttles the writes to the table itself
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/gsi-throttling.html). Placements come
 * in at 5,000 a second and more, so one partition key for all of them would throttle every placement;
 * `seq % HISTORY_LANES` deals consecutive placements round-robin onto 16 keys (16,000 write units a
 * second). Changing it needs a new index, as stored items keep their lane.
 */
export const HISTORY_LANES = 16;

/** The sequence index: every placement by lane, in sequence order, with what a replay draws. */
export const HISTORY_INDEX = 'bySeq';

/** The lane (sequence index partition key) of a placement. */
export function laneOf(seq: number): number {
  return seq % HISTORY_LANES;
}

/**
 * The placements table's key: every placement of a pixel, ordered by sequence number; and the sequence
 * index, which reads the whole history in sequence order (lane by lane, merged) for the timelapse.
 */
export const PLACEMENTS_TABLE_KEY: TableKey = {
  partitionKey: { name: 'pixel', type: 'N' },
  sortKey: { name: 'seq', type: 'N' },
  globalIndexes: [{
    indexName: HISTORY_INDEX,
    partitionKey: { name: 'lane', type: 'N' },
    sortKey: { name: 'seq', type: 'N' },
    include: ['x', 'y', 'color', 'time'],
  }],
};
