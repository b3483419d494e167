import type { TableKey } from '../../shared/local-dynamodb';

/** The placements table's key: every placement of a pixel, ordered by sequence number. */
export const PLACEMENTS_TABLE_KEY: TableKey = {
  partitionKey: { name: 'pixel', type: 'N' },
  sortKey: { name: 'seq', type: 'N' },
};
