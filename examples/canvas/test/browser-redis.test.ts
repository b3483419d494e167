import * as path from 'path';
import { Browser } from 'playwright-core';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { launchBrowser } from '../../../test/support/browser';
import { startServer, ServerProcess } from '../../../test/support/node-server';

const AUTH = 'browser-redis-test-password';

// The deployed shape: several servers share the board and the cooldowns in Redis. A page reloaded onto
// another server still shows the cooldown its placement started (GET /api/cooldown reads the key's TTL).
describe('the canvas page with two servers on one Redis', () => {
  let local: LocalCanvas;
  let servers: ServerProcess[] = [];
  let browser: Browser;

  beforeAll(async () => {
    local = await startLocalCanvas(AUTH);
    const env = await local.serverEnv('placements', {
      CANVAS_WIDTH: '64', CANVAS_HEIGHT: '64', CANVAS_WEB_DIR: path.join(__dirname, '..', 'web'), LOG_LEVEL: 'warn',
    });
    servers = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map(s => s.stop()));
    await local?.stop();
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
