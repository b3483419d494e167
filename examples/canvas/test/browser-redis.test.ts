import * as path from 'path';
import { Browser } from 'playwright-core';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { launchBrowser } from '../../../test/support/browser';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { getPixel } from '../server/board';

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

  // 3,500 placements by as many people (each their own session and address, as the proxy reports it, so the
  // default cooldown and address limits hold), over both servers while the page waits for its board:
  // more live records than the page keeps while loading (3,000).
  test('while the board request hangs the page keeps a bounded buffer of live records, and still converges', async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', err => errors.push(err.message));
    // The first board request is answered with the board of that moment, but only when the test says so.
    let release: (() => Promise<void>) | undefined;
    const held = new Promise<void>(resolve => {
      void page.route('**/api/board', async route => {
        if (release) {
          return route.continue();
        }
        const response = await route.fetch();
        release = () => route.fulfill({ response });
        resolve();
      });
    });
    await page.goto(`http://127.0.0.1:${servers[0].port}/`);
    await held; // asked after /ws opened: every placement from now on reaches the page live
    const updates = () => page.evaluate(() => (window as any).canvasApp.updates);

    const count = 3500;
    let next = 0;
    const place = async () => {
      for (let i = next++; i < count; i = next++) {
        const base = `http://127.0.0.1:${servers[i % 2].port}`;
        const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        const { token } = await (await fetch(`${base}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': address } })).json();
        const res = await fetch(`${base}/api/pixel`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', 'authorization': `Bearer ${token}`, 'x-forwarded-for': address },
          body: JSON.stringify({ x: (i * 7) % 64, y: Math.floor(i / 64) % 64, color: i % 16 }),
        });
        expect(res.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 24 }, place));
    await page.waitForFunction(n => (window as any).canvasApp.updates.received >= n, count, { timeout: 30_000 });
    const waiting = await updates();
    expect(waiting.buffered).toBeLessThanOrEqual(3000);
    expect(waiting.drops).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#status').getAttribute('data-state')).not.toBe('live');

    // The board arrives (older than all of them): the records dropped from the buffer come from
    // /api/updates, and the page shows exactly the stored board.
    await release!();
    await page.waitForSelector('#status[data-state="live"]');
    const stored = async () => {
      const res = await fetch(`http://127.0.0.1:${servers[1].port}/api/board`, { headers: { 'cache-control': 'no-cache' } });
      return Buffer.from(await res.arrayBuffer());
    };
    const shows = () => page.evaluate(() => Array.from({ length: 64 * 64 }, (_, i) => (window as any).canvasApp.colorAt(i % 64, Math.floor(i / 64))));
    let board = await stored();
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; board = await stored()) {
      if (JSON.stringify(await shows()) === JSON.stringify(Array.from({ length: 64 * 64 }, (_, i) => getPixel(board, i)))) {
        break;
      }
      await new Promise(resolve => setTimeout(resolve, 250));
    }
    expect(await shows()).toEqual(Array.from({ length: 64 * 64 }, (_, i) => getPixel(board, i)));
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);
});
