/**
 * Rebuilds the live board from the DynamoDB placement history into Redis:
 *
 *   REALTIME_BUS_URL=redis://... REALTIME_BUS_AUTH=... CANVAS_TABLE=... npm run canvas:rebuild [-- --force]
 *
 * Takes the same path as a server that finds its board missing (restore.ts): under the restore lock, above
 * the durable high-water mark, never over a newer restore. Without --force it leaves a board it can trust
 * alone; with --force it rebuilds over it (placements made during the scan are in the table, and those still
 * in flight settle on the new board when they are stored).
 */
import { RedisBoardStore } from './board';
import { readSettings } from './canvas';
import { PlacementLog } from './placements';
import { restoreBoard } from './restore';
import { SequenceLedger } from './sequence';
import { connectRedis, createLogger, readConfig } from '../../kit';

async function main(): Promise<void> {
  const settings = readSettings({ CANVAS_TOKEN_SECRET: 'not-used-by-the-rebuild', ...process.env });
  const config = readConfig();
  const log = createLogger('canvas-rebuild');
  if (!config.busUrl) {
    throw new Error('set REALTIME_BUS_URL (and REALTIME_BUS_AUTH) to the Redis to rebuild into');
  }
  const ledger = new SequenceLedger({ tableName: settings.tableName, endpoint: settings.dynamoEndpoint });
  const store = new RedisBoardStore(connectRedis(config, log, 'canvas-rebuild', { commandTimeoutMs: 10_000 }), settings, ledger);
  const placements = new PlacementLog({ tableName: settings.tableName, endpoint: settings.dynamoEndpoint });
  try {
    const started = Date.now();
    const result = await restoreBoard({ store, ledger, placements, size: settings, force: process.argv.includes('--force') });
    switch (result.kind) {
      case 'present':
        throw new Error('the Redis already holds a board; pass --force to replace it');
      case 'busy':
        throw new Error('another process is restoring the board right now; try again when it is done');
      case 'refused':
        throw new Error(`the rebuilt board was not restored (${result.reason}): another process restored a newer one meanwhile`);
      case 'restored':
        log.info({ placements: result.placements, seq: result.seq, epoch: result.epoch, ms: Date.now() - started }, 'board rebuilt from the placement history');
    }
  } finally {
    await store.close();
    placements.close();
    ledger.close();
  }
}

main().catch(err => {
  console.error(err.message);
  process.exit(1);
});
