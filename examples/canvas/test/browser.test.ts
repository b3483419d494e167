import * as path from 'path';
import { Browser } from 'playwright-core';
import { launchBrowser } from '../../../test/support/browser';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { PLACEMENTS_TABLE_KEY } from '../server/table';

const ENTRY = path.join(__dirname, '..', 'server', 'server.ts');

interface View { scale: number; offsetX: number; offsetY: number }

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

    // Zooming with the wheel magnifies the view around the mouse: the board pixel under it stays put, and
    // the view canvas (what the user sees, not the off-screen board) shows the placed pixel where the
    // transform says it is, large enough to hit its neighbour on its own.
    const screenOf = (v: View, px: number, py: number) => ({
      x: box.x + v.offsetX + (px + 0.5) * v.scale,
      y: box.y + v.offsetY + (py + 0.5) * v.scale,
    });
    const before: View = await pb.evaluate(() => (window as any).canvasApp.view);
    const at = screenOf(before, x, y);
    await pb.mouse.move(at.x, at.y);
    for (let i = 0; i < 8; i++) {
      await pb.mouse.wheel(0, -100);
    }
    await pb.waitForFunction(s => (window as any).canvasApp.view.scale > s * 5, before.scale);
    const zoomed: View = await pb.evaluate(() => (window as any).canvasApp.view);
    expect(zoomed.scale).toBeCloseTo(Math.min(64, before.scale * 1.25 ** 8), 5);
    expect(zoomed.scale).toBeGreaterThanOrEqual(20);
    expect(await pb.evaluate(([cx, cy]) => (window as any).canvasApp.pixelAtClient(cx, cy), [at.x, at.y])).toEqual({ x, y });
    await pb.waitForTimeout(100); // a frame
    const shown = (px: number, py: number, v: View) =>
      pb.evaluate(([cx, cy]) => (window as any).canvasApp.shownColorAt(cx, cy), [screenOf(v, px, py).x, screenOf(v, px, py).y]);
    expect(await shown(x, y, zoomed)).toBe(13);
    expect(await shown(x + 1, y, zoomed)).toBe(0);
    expect(await shown(x, y + 1, zoomed)).toBe(0);
    // Dragging moves the view with the mouse: the pixel under the cursor travels with it.
    await pb.mouse.down();
    await pb.mouse.move(at.x - 150, at.y - 100, { steps: 5 });
    await pb.mouse.up();
    const panned: View = await pb.evaluate(() => (window as any).canvasApp.view);
    expect(panned.offsetX - zoomed.offsetX).toBeCloseTo(-150, 5);
    expect(panned.offsetY - zoomed.offsetY).toBeCloseTo(-100, 5);
    expect(await pb.evaluate(([cx, cy]) => (window as any).canvasApp.pixelAtClient(cx, cy), [at.x - 150, at.y - 100])).toEqual({ x, y });
    await pb.waitForTimeout(100);
    expect(await shown(x, y, panned)).toBe(13);
    expect(await pb.evaluate(([px, py]) => (window as any).canvasApp.colorAt(px, py), [x, y])).toBe(13);

    // A click hits a single pixel, and the page says who placed it and when.
    const neighbour = screenOf(panned, x + 1, y);
    await pb.mouse.click(neighbour.x, neighbour.y);
    expect(await pb.evaluate(() => (window as any).canvasApp.selected)).toEqual({ x: x + 1, y });
    await pb.waitForFunction(([px, py]) => document.getElementById('info')!.textContent === `(${px}, ${py}): never placed`, [x + 1, y]);
    const own = screenOf(panned, x, y);
    await pb.mouse.click(own.x, own.y);
    const aliceUser = (await pa.evaluate(() => localStorage.getItem('canvas-token')))!.split('.')[1];
    await pb.waitForFunction(([px, py, u]) => document.getElementById('info')!.textContent === `(${px}, ${py}): placed by ${u} just now`, [x, y, aliceUser] as const);
    expect(await pb.locator('#info').getAttribute('data-user')).toBe(aliceUser);
    await pa.waitForFunction(([px, py]) => document.getElementById('info')!.textContent === `(${px}, ${py}): placed by you just now`, [x, y]);

    // The cooldown is the server's: a reload still shows it, and a selected pixel cannot be placed.
    await pa.reload();
    await pa.waitForSelector('#status[data-state="live"]');
    await pa.waitForFunction(() => /^next pixel in [45]:\d\d$/.test(document.getElementById('cooldown')!.textContent!), undefined, { timeout: 2000 });
    await pa.mouse.click(box.x + target.x, box.y + target.y);
    expect(await pa.isDisabled('#place')).toBe(true);
    // Without a valid token the endpoint refuses.
    expect(await pa.evaluate(async () => (await fetch('/api/cooldown')).status)).toBe(401);
    expect(errors).toEqual([]);
    await Promise.all([alice.close(), bob.close()]);
  });

  test('a link opens the board at a pixel and zoom; arrows move the selection, + and - zoom, and the link follows', async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/#x=12&y=40&zoom=20`);
    await page.waitForSelector('#status[data-state="live"]');
    const app = () => page.evaluate(() => ({ view: (window as any).canvasApp.view, selected: (window as any).canvasApp.selected }));
    const box = (await page.locator('#view').boundingBox())!;
    const centre = () =>
      page.evaluate(([cx, cy]) => (window as any).canvasApp.pixelAtClient(cx, cy), [box.x + box.width / 2, box.y + box.height / 2]);
    expect((await app()).view.scale).toBe(20);
    expect((await app()).selected).toEqual({ x: 12, y: 40 });
    expect(await centre()).toEqual({ x: 12, y: 40 });
    await page.waitForFunction(() => document.getElementById('info')!.textContent === '(12, 40): never placed');

    await page.focus('#view');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowUp');
    expect((await app()).selected).toEqual({ x: 14, y: 39 });
    await page.keyboard.press('Shift+ArrowDown');
    expect((await app()).selected).toEqual({ x: 14, y: 49 });
    await page.waitForFunction(() => location.hash === '#x=14&y=49&zoom=20');
    expect(await page.getAttribute('#link', 'href')).toBe('#x=14&y=49&zoom=20');

    // + zooms around the selection: it stays where it was on screen.
    const { view: v0 } = await app();
    await page.keyboard.press('+');
    const { view: v1 } = await app();
    expect(v1.scale).toBe(25);
    expect(v1.offsetX + 14.5 * v1.scale).toBeCloseTo(v0.offsetX + 14.5 * v0.scale, 5);
    expect(v1.offsetY + 49.5 * v1.scale).toBeCloseTo(v0.offsetY + 49.5 * v0.scale, 5);
    await page.waitForFunction(() => location.hash === '#x=14&y=49&zoom=25');
    await page.keyboard.press('-');
    await page.keyboard.press('-');
    expect((await app()).view.scale).toBeCloseTo(16, 5);

    // Moving the selection off screen brings the view along.
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Shift+ArrowRight');
    }
    expect((await app()).selected).toEqual({ x: 74, y: 49 });
    const { view } = await app();
    const sx = view.offsetX + 74.5 * view.scale;
    expect(sx).toBeGreaterThan(0);
    expect(sx).toBeLessThan(box.width);

    // A link typed into the address bar moves the open page.
    await page.evaluate(() => { location.hash = '#x=3&y=4&zoom=30'; });
    await page.waitForFunction(() => (window as any).canvasApp.view.scale === 30);
    expect((await app()).selected).toEqual({ x: 3, y: 4 });
    expect(await centre()).toEqual({ x: 3, y: 4 });
    await context.close();
  });

  test('on a touch screen two fingers pinch-zoom around their midpoint, one finger pans, and a tap selects', async () => {
    const context = await browser.newContext({ viewport: { width: 400, height: 700 }, hasTouch: true, isMobile: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', err => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector('#status[data-state="live"]');
    const cdp = await context.newCDPSession(page);
    const touch = (type: string, points: Array<[number, number]>) =>
      cdp.send('Input.dispatchTouchEvent', { type: type as any, touchPoints: points.map(([x, y], id) => ({ x, y, id })) });
    const box = (await page.locator('#view').boundingBox())!;
    const mid = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    const view = (): Promise<View> => page.evaluate(() => (window as any).canvasApp.view);
    const under = (cx: number, cy: number) => page.evaluate(([px, py]) => (window as any).canvasApp.pixelAtClient(px, py), [cx, cy]);
    const v0 = await view();
    const pixelAtMid = await under(mid.x, mid.y);

    // Fingers 40 px apart spread to 160 px: four times the scale, the midpoint's pixel stays under it.
    await touch('touchStart', [[mid.x - 20, mid.y], [mid.x + 20, mid.y]]);
    for (let d = 20; d <= 80; d += 10) {
      await touch('touchMove', [[mid.x - d, mid.y], [mid.x + d, mid.y]]);
    }
    await touch('touchEnd', []);
    await page.waitForFunction(s => (window as any).canvasApp.view.scale > s * 3.9, v0.scale, { timeout: 5000 });
    const v1 = await view();
    expect(v1.scale).toBeCloseTo(v0.scale * 4, 5);
    expect(await under(mid.x, mid.y)).toEqual(pixelAtMid);

    // One finger drags the view.
    await touch('touchStart', [[mid.x, mid.y]]);
    for (let d = 10; d <= 60; d += 10) {
      await touch('touchMove', [[mid.x - d, mid.y - d]]);
    }
    await touch('touchEnd', []);
    await page.waitForFunction(ox => (window as any).canvasApp.view.offsetX < ox - 59, v1.offsetX, { timeout: 5000 });
    const v2 = await view();
    expect(v2.offsetX - v1.offsetX).toBeCloseTo(-60, 5);
    expect(v2.offsetY - v1.offsetY).toBeCloseTo(-60, 5);
    expect(await page.evaluate(() => (window as any).canvasApp.selected)).toBeNull();

    // A tap selects the pixel under it.
    const tapped = await under(mid.x, mid.y);
    await touch('touchStart', [[mid.x, mid.y]]);
    await touch('touchEnd', []);
    await page.waitForFunction(p => JSON.stringify((window as any).canvasApp.selected) === JSON.stringify(p), tapped, { timeout: 5000 });
    expect(errors).toEqual([]);
    await context.close();
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

  test('a board request that fails (network error, then a 500) is retried until the board loads', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    let failures = 0;
    await page.route('**/api/board', route => {
      failures++;
      if (failures === 1) {
        return route.abort('connectionreset');
      }
      return failures === 2 ? route.fulfill({ status: 500, body: 'Internal Server Error' }) : route.continue();
    });
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
    expect(failures).toBe(3);
    expect(await page.evaluate(() => (window as any).canvasApp.updates.boardLoads)).toBe(3);
    expect(await page.locator('#message').textContent()).toBe('');
    await context.close();
  });

  // Each placement by another person (their own session and address, as the proxy reports it), so the
  // default cooldown and per-address limits hold.
  let people = 0;
  async function placeAs(x: number, y: number, color: number): Promise<number> {
    const address = `203.0.113.${++people}`;
    const base = `http://127.0.0.1:${server.port}`;
    const { token } = await (await fetch(`${base}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': address } })).json();
    const res = await fetch(`${base}/api/pixel`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'authorization': `Bearer ${token}`, 'x-forwarded-for': address },
      body: JSON.stringify({ x, y, color }),
    });
    expect(res.status).toBe(200);
    return (await res.json()).seq;
  }

  test('the timelapse replays the history from an empty board at the chosen speed, pauses, and "Live" returns to the live board', async () => {
    // 16 pixels in row 95, then 8 of them painted over.
    const placed: Array<{ x: number; y: number; color: number; seq: number }> = [];
    for (let i = 0; i < 24; i++) {
      const x = 10 + (i % 16);
      const color = i < 16 ? 1 + (i % 15) : 15 - (i % 8);
      placed.push({ x, y: 95, color, seq: await placeAs(x, 95, color) });
    }
    const pixels = [...new Set(placed.map(p => p.x))].map(x => ({ x, y: 95 }));
    // What the board showed after the placement of sequence `seq`: the newest of ours up to it, else empty.
    const expectedAt = (seq: number) => pixels.map(({ x }) => [...placed].reverse().find(p => p.x === x && p.seq <= seq)?.color ?? 0);

    const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', err => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector('#status[data-state="live"]');
    const box = (await page.locator('#view').boundingBox())!;
    // The colours the view canvas shows (what the user sees) at the centres of `pixels`.
    const shown = async (at: Array<{ x: number; y: number }>) => {
      const v: View = await page.evaluate(() => (window as any).canvasApp.view);
      return page.evaluate(points => points.map(([cx, cy]) => (window as any).canvasApp.shownColorAt(cx, cy)),
        at.map(p => [box.x + v.offsetX + (p.x + 0.5) * v.scale, box.y + v.offsetY + (p.y + 0.5) * v.scale]));
    };
    const finals = expectedAt(Infinity);
    await page.waitForFunction(() => (window as any).canvasApp.view.scale >= 4);
    expect(await shown(pixels)).toEqual(finals);
    const timelapse = () => page.evaluate(() => (window as any).canvasApp.timelapse);
    expect(await timelapse()).toBeNull();

    // Ten placements a second: pause once a few of ours have played.
    await page.selectOption('#timelapse-speed', '10');
    await page.click('#timelapse');
    expect(await page.isDisabled('#place')).toBe(true);
    await page.waitForFunction(s => (window as any).canvasApp.timelapse.seq >= s, placed[2].seq, { timeout: 10_000 });
    await page.click('#timelapse-pause');
    const paused = await timelapse();
    expect(paused.state).toBe('paused');
    expect(await page.locator('#timelapse-pause').textContent()).toBe('Resume');
    // Midway: some of ours shown, the later ones not yet (the board started empty).
    expect(paused.seq).toBeGreaterThanOrEqual(placed[2].seq);
    expect(paused.seq).toBeLessThan(placed[15].seq);
    const midway = expectedAt(paused.seq);
    expect(midway).toContain(0);
    await page.waitForTimeout(300);
    expect((await timelapse()).seq).toBe(paused.seq);
    expect(await shown(pixels)).toEqual(midway);

    // A placement meanwhile reaches the live board, not the paused timelapse.
    const live = { x: 40, y: 95, color: 6 };
    await placeAs(live.x, live.y, live.color);
    await page.waitForFunction(p => (window as any).canvasApp.colorAt(p.x, p.y) === p.color, live, { timeout: 5000 });
    await page.waitForTimeout(100);
    expect(await shown([live])).toEqual([0]);

    // Resumed, it plays to the end of the history it read: ours as placed.
    await page.click('#timelapse-pause');
    await page.waitForFunction(() => (window as any).canvasApp.timelapse.state === 'done', undefined, { timeout: 15_000 });
    expect((await timelapse()).seq).toBeGreaterThanOrEqual(placed[23].seq);
    await page.waitForTimeout(100);
    expect(await shown(pixels)).toEqual(finals);
    expect(await page.locator('#timelapse-progress').textContent()).toMatch(/^timelapse at the end: \d+ placements$/);

    // "Live" shows the live board again, with what was placed during the timelapse.
    await page.click('#timelapse-stop');
    expect(await timelapse()).toBeNull();
    await page.waitForTimeout(100);
    expect(await shown([...pixels, live])).toEqual([...finals, live.color]);
    expect(await page.locator('#timelapse').isVisible()).toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});

