import * as path from 'path';
import { Browser } from 'playwright-core';
import { launchBrowser } from '../../../test/support/browser';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { PLACEMENTS_TABLE_KEY } from '../server/table';

const ENTRY = path.join(__dirname, '..', 'server', 'server.ts');
const AUTH = 'browser-redis-test-password';

// The deployed shape: several servers share the board and the cooldowns in Redis. A page reloaded onto
// another server still shows the cooldown its placement started (GET /api/cooldown reads the key's TTL).
describe('the canvas page with two servers on one Redis', () => {
  let dynamo: LocalDynamoDb;
  let redis: RedisProcess;
  let servers: ServerProcess[] = [];
  let browser: Browser;

  beforeAll(async () => {
    [dynamo, redis] = await Promise.all([startLocalDynamoDb(), startRedis({ password: AUTH })]);
    await dynamo.createTable('placements', PLACEMENTS_TABLE_KEY);
    const env = {
      REALTIME_BUS_URL: redis.url,
      REALTIME_BUS_AUTH: AUTH,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      CANVAS_TABLE: 'placements',
      CANVAS_TOKEN_SECRET: 'browser-redis-test-secret',
      CANVAS_WIDTH: '64',
      CANVAS_HEIGHT: '64',
      CANVAS_WEB_DIR: path.join(__dirname, '..', 'web'),
      LOG_LEVEL: 'warn',
    };
    servers = await Promise.all([0, 1].map(() => startServer(ENTRY, env)));
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map(s => s.stop()));
    await redis?.stop();
    await dynamo?.stop();
  });

  test('a placement on one server starts a cooldown the page shows when opened on the other', async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
    const first = await context.newPage();
    await first.goto(`http://127.0.0.1:${servers[0].port}/#x=10&y=20&zoom=16`);
    await first.waitForSelector('#status[data-state="live"]');
    await first.waitForFunction(() => document.getElementById('cooldown')!.textContent === 'ready to place');
    await first.click('#palette button[data-color="5"]');
    await first.click('#place');
    await first.waitForFunction(() => /^next pixel in [45]:\d\d$/.test(document.getElementById('cooldown')!.textContent!));
    const token = await first.evaluate(() => localStorage.getItem('canvas-token'));

    // The other server is another origin here, so the token is handed over as a reload would keep it.
    const second = await context.newPage();
    await second.addInitScript(t => localStorage.setItem('canvas-token', t!), token);
    await second.goto(`http://127.0.0.1:${servers[1].port}/#x=10&y=20&zoom=16`);
    await second.waitForSelector('#status[data-state="live"]');
    await second.waitForFunction(() => /^next pixel in [45]:\d\d$/.test(document.getElementById('cooldown')!.textContent!), undefined, { timeout: 2000 });
    expect(await second.isDisabled('#place')).toBe(true);
    expect(await second.evaluate(() => (window as any).canvasApp.colorAt(10, 20))).toBe(5);
    await second.waitForFunction(() => document.getElementById('info')!.textContent === '(10, 20): placed by you just now');
    await context.close();
  });
});
