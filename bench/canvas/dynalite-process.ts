import { PLACEMENTS_TABLE_KEY } from '../../examples/canvas/server/table';
import { startLocalDynamoDb } from '../../examples/shared/local-dynamodb';

// dynalite in its own process, so its CPU is measured apart from the server's and the load generator's.
void (async () => {
  const db = await startLocalDynamoDb();
  await db.createTable('placements', PLACEMENTS_TABLE_KEY);
  process.send?.({ endpoint: db.endpoint });
  process.once('SIGTERM', () => void db.stop().then(() => process.exit(0)));
})();
