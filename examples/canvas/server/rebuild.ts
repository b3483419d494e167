/**
 * Rebuilds the live board from the DynamoDB placement history into Redis:
 *
 *   REALTIME_BUS_URL=redis://... REALTIME_BUS_AUTH=... CANVAS_TABLE=... npm run canvas:rebuild [-- --force]
 *
 * Refuses to overwrite a board that is already there unless --force is given.
 */
import { RedisBoardStore } from './board';
import { readSettings } from './canvas';
import { PlacementLog } from './placements';
import { connectRedis, createLogger, readConfig } from '../../kit';

async function main(): Promise<void> {
  const settings = readSettings({ CANVAS_TOKEN_SECRET: 'not-used-by-the-rebuild', ...process.env });
  const config = readConfig();
  const log = createLogger('canvas-rebuild');
  if (!config.busUrl) {
    throw new Error('set REALTIME_BUS_URL (and REALTIME_BUS_AUTH) to the Redis to rebuild into');
  }
  const store = new RedisBoardStore(connectRedis(config, log, 'canvas-rebuild', { commandTimeoutMs: 10_000 }), settings);
  const placements = new PlacementLog({ tableName: settings.tableName, endpoint: settings.dynamoEndpoint });
  try {
    if (await store.hasBoard() && !process.argv.includes('--force')) {
      throw new Error('the Redis already holds a board; pass --force to replace it');
    }
    const started = Date.now();
    const rebuilt = await placements.rebuild(settings);
    await store.restore(rebuilt);
    log.info({ placements: rebuilt.placements, seq: rebuilt.seq, ms: Date.now() - started }, 'board rebuilt from the placement history');
  } finally {
    await store.close();
    placements.close();
  }
}

main().catch(err => {
  console.error(err.message);
  process.exit(1);
});
