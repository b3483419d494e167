import * as path from 'path';
import { Browser } from 'playwright-core';
import { launchBrowser } from '../../../test/support/browser';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { PLACEMENTS_TABLE_KEY } from '../server/table';

const ENTRY = path.join(__dirname, '..', 'server', 'server.ts');

describe('the canvas page in a real browser', () => {
  let dynamo: LocalDynamoDb;
  let server: ServerProcess;
  let browser: Browser;

  beforeAll(async () => {
    dynamo = await startLocalDynamoDb();
    await dynamo.createTable('placements', PLACEMENTS_TABLE_KEY);
    server = await startServer(ENTRY, {
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      CANVAS_TABLE: 'placements',
      CANVAS_TOKEN_SECRET: 'browser-test-secret-value',
      CANVAS_WIDTH: '100',
      CANVAS_HEIGHT: '100',
      CANVAS_WEB_DIR: path.join(__dirname, '..', 'web'),
      LOG_LEVEL: 'warn',
    });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await dynamo?.stop();
  });

  test('a pixel placed in one browser context appears live in another, and the placer sees its cooldown', async () => {
    const url = `http://127.0.0.1:${server.port}/`;
    const [alice, bob] = await Promise.all([browser.newContext(), browser.newContext()]);
    const [pa, pb] = await Promise.all([alice.newPage(), bob.newPage()]);
    const errors: string[] = [];
    for (const page of [pa, pb]) {
      page.on('pageerror', err => errors.push(err.message));
      await page.setViewportSize({ width: 800, height: 700 });
      await page.goto(url);
      await page.waitForSelector('#status[data-state="live"]');
    }
    expect(await pb.evaluate(() => (window as any).canvasApp.colorAt(50, 50))).toBe(0);

    // Alice picks colour 13 and clicks the board's centre pixel.
    await pa.click('#palette button[data-color="13"]');
    const box = (await pa.locator('#view').boundingBox())!;
    const target = await pa.evaluate(({ bx, by }) => {
      const view = document.getElementById('view')!;
      const r = view.getBoundingClientRect();
      return { x: bx - r.left, y: by - r.top };
    }, { bx: box.x + box.width / 2, by: box.y + box.height / 2 });
    await pa.mouse.click(box.x + target.x, box.y + target.y);
    const picked = await pa.locator('#coords').textContent();
    const [, x, y] = /\((\d+), (\d+)\)/.exec(picked!)!.map(Number);
    await pa.click('#place');

    // Bob's page shows it without reloading.
    await pb.waitForFunction(([px, py]) => (window as any).canvasApp.colorAt(px, py) === 13, [x, y], { timeout: 5000 });
    await pa.waitForFunction(() => /^next pixel in [45]:\d\d$/.test(document.getElementById('cooldown')!.textContent!));
    expect(await pa.isDisabled('#place')).toBe(true);

    // Zoom and pan change the view, not the board.
    await pb.mouse.move(box.x + 100, box.y + 100);
    await pb.mouse.wheel(0, -400);
    await pb.mouse.down();
    await pb.mouse.move(box.x + 200, box.y + 150, { steps: 5 });
    await pb.mouse.up();
    expect(await pb.evaluate(([px, py]) => (window as any).canvasApp.colorAt(px, py), [x, y])).toBe(13);
    expect(errors).toEqual([]);
    await Promise.all([alice.close(), bob.close()]);
  });

  // A service scaled to zero answers 503 from its load balancer until a task is up (minutes): the page must
  // say "starting…" and keep retrying rather than fail. The 503s are played by the browser's router.
  test('while the service wakes from zero the page says "starting…" and retries until it is up', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    let asleep = true;
    let refused = 0;
    await page.route('**/api/config', route => (asleep ? (refused++, route.fulfill({ status: 503, body: 'Service Unavailable' })) : route.continue()));
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector('#status[data-state="starting"]');
    expect(await page.locator('#status').textContent()).toMatch(/^starting… \(the server wakes on demand; retrying in \d+ s\)$/);
    // Stay asleep until the page has retried at least once.
    for (const deadline = Date.now() + 10_000; refused < 2 && Date.now() < deadline;) {
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    expect(await page.locator('#status').getAttribute('data-state')).toBe('starting');
    asleep = false;
    await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
    expect(refused).toBeGreaterThanOrEqual(2);
    await context.close();
  });
});

