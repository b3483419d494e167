import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { ChatClient } from './chat-client';
import { CHAT_ENTRY, chatEnv, fromOwnAddress, startChatTables } from './local-chat';
import { launchBrowser } from '../../../test/support/browser';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { freePort, startRedis, stopProcess, waitForPort } from '../../../test/support/redis-server';
import { LocalDynamoDb } from '../../shared/local-dynamodb';

const WEB_DIR = path.join(__dirname, '..', 'web');
const FRONT_DOOR_SOURCE = path.join(__dirname, '..', '..', '..', 'src', 'front-door', 'cdn-front-door.ts');

describe('the chat page in a real browser', () => {
  let dynamo: LocalDynamoDb;
  let server: ServerProcess;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    dynamo = await startChatTables();
    server = await startServer(CHAT_ENTRY, chatEnv(dynamo, { CHAT_WEB_DIR: WEB_DIR, CHAT_LOCAL_SEARCH: '1' }));
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await dynamo?.stop();
  });

  test('the page is served with CdnFrontDoor\'s default Content-Security-Policy, as in AWS', async () => {
    const csp = /const DEFAULT_CSP = "([^"]+)";/.exec(fs.readFileSync(FRONT_DOOR_SOURCE, 'utf8'))![1];
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(res.headers.get('content-security-policy')).toBe(csp);
    expect(await res.text()).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=/);
  });

  test('the local search stand-in answers in the search API\'s format and refuses bad queries with 400', async () => {
    const writer = await ChatClient.connect(server.port);
    await writer.anonymous();
    await writer.join('aws');
    const stored = await writer.say('aws', 'Deploy pipeline is green');
    await writer.close();
    const search = (query: string) => fetch(`http://127.0.0.1:${server.port}/search?${query}`);
    const found = await search('q=deploy%20pipe&room=aws');
    expect(found.status).toBe(200);
    expect(found.headers.get('x-search-backend')).toBe('local-stand-in');
    expect(await found.json()).toEqual({ hits: [{ id: `aws:${stored.message}`, score: expect.any(Number), document: stored }] });
    expect(await (await search('q=deploy&room=general')).json()).toEqual({ hits: [] });
    expect(await (await search('q=ploy')).json()).toEqual({ hits: [] });
    for (const bad of ['', 'q=', 'q=%20', 'q=deploy&limit=0', 'q=deploy&limit=51', 'q=deploy&limit=two', `q=${'a'.repeat(201)}`]) {
      const res = await search(bad);
      expect([bad, res.status, res.headers.get('x-search-backend')]).toEqual([bad, 400, 'local-stand-in']);
      expect(await res.json()).toEqual({ error: { code: 'invalid_request', message: expect.any(String) } });
    }
  });

  /** A browser context on the page (any CSP violation or script error lands in `problems`). */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', err => problems.push(`pageerror: ${err.message}`));
    page.on('console', msg => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    await page.setViewportSize({ width: 1000, height: 700 });
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector('#status[data-state="live"]');
    return { context, page };
  }

  const room = (page: Page) => page.evaluate(() => (window as any).chatApp.room as string | null);
  const texts = (page: Page) => page.evaluate(() => (window as any).chatApp.messages() as string[]);

  test('a registered and an anonymous user chat in one room: typing, messages, presence, history after reload, search', async () => {
    const alice = await newPage();
    const bob = await newPage();
    const pa = alice.page;
    const pb = bob.page;

    // Alice registers; Bob continues anonymously. Both land in #general.
    await pa.fill('#username', 'Alice');
    await pa.fill('#password', 'alice-password');
    await pa.click('#register-button');
    await pa.waitForFunction(() => (window as any).chatApp.room === 'general');
    expect(await pa.textContent('#whoami')).toBe('alice');
    await pb.click('#anonymous-button');
    await pb.waitForFunction(() => (window as any).chatApp.room === 'general');
    const bobName = (await pb.textContent('#whoami'))!.replace(' (anonymous)', '');
    expect(bobName).toMatch(/^anonymous_[a-z0-9]{10}$/);
    await pa.waitForFunction(() => document.getElementById('presence')!.textContent === '2 people here');
    await pa.waitForFunction(name => document.getElementById('messages')!.textContent!.includes(`${name} joined`), bobName);
    expect(await pa.textContent('#room-list button[data-room="general"] .count')).toBe('2');

    // Alice types: Bob sees the indicator; she sends: Bob sees the message and the indicator goes away.
    await pa.click('#text');
    await pa.keyboard.type('hello from alice', { delay: 10 });
    await pb.waitForFunction(() => document.getElementById('typing')!.textContent === 'alice is typing…');
    await pa.keyboard.press('Enter');
    await pb.waitForFunction(() => (window as any).chatApp.messages().includes('hello from alice'));
    await pb.waitForFunction(() => document.getElementById('typing')!.textContent === '');
    expect(await pa.inputValue('#text')).toBe('');

    await pb.fill('#text', 'hi alice, from bob');
    await pb.click('#send-form button');
    await pa.waitForFunction(() => (window as any).chatApp.messages().includes('hi alice, from bob'));
    expect(await texts(pa)).toEqual(['hello from alice', 'hi alice, from bob']);

    // Bob reloads: the tab's session resumes (no new anonymous name) and the history is there.
    await pb.reload();
    await pb.waitForFunction(() => (window as any).chatApp.room === 'general' && (window as any).chatApp.messages().length === 2);
    expect(await texts(pb)).toEqual(['hello from alice', 'hi alice, from bob']);
    expect(await pb.textContent('#whoami')).toBe(`${bobName} (anonymous)`);

    // Search goes through the local stand-in of the search API, and says so.
    await pa.fill('#search', 'hell');
    await pa.waitForSelector('#result-list li.hit');
    expect(await pa.isVisible('#search-backend')).toBe(true);
    expect(await pa.textContent('#search-backend')).toBe('local stand-in');
    expect(await pa.locator('#result-list li.hit .text').allTextContents()).toEqual(['hello from alice']);
    expect(await pa.textContent('#result-list li.hit .author')).toBe('alice');

    expect(problems).toEqual([]);
    await Promise.all([alice.context.close(), bob.context.close()]);
  });

  test('scrolling to the top of a room loads older pages until the whole history is shown', async () => {
    // Three writers, each within the per-user burst.
    const writers = await Promise.all([0, 1, 2].map(async () => {
      const w = await ChatClient.connect(server.port);
      await w.anonymous();
      await w.join('random');
      return w;
    }));
    for (let i = 0; i < 45; i++) {
      await writers[i % 3].say('random', `old message ${i}`);
    }
    await Promise.all(writers.map(w => w.close()));

    const { context, page } = await newPage();
    await page.click('#anonymous-button');
    await page.waitForFunction(() => (window as any).chatApp.room === 'general');
    await page.click('#room-list button[data-room="random"]');
    await page.waitForFunction(() => (window as any).chatApp.room === 'random' && (window as any).chatApp.messages().length >= 20);
    expect(await room(page)).toBe('random');
    expect((await texts(page)).slice(-1)).toEqual(['old message 44']);
    const deadline = Date.now() + 10_000;
    while ((await texts(page)).length < 45 && Date.now() < deadline) {
      await page.evaluate(() => { document.getElementById('messages')!.scrollTop = 0; });
      await page.waitForTimeout(100);
    }
    expect(await texts(page)).toEqual(Array.from({ length: 45 }, (_, i) => `old message ${i}`));
    expect(problems).toEqual([]);
    await context.close();
  });

  test('who is here, identicon avatars, unread counts of other rooms; log out everywhere ends the other tab\'s session', async () => {
    const carol = await newPage();
    const pc = carol.page;
    await pc.fill('#username', 'carol');
    await pc.fill('#password', 'carol-password');
    await pc.click('#register-button');
    await pc.waitForFunction(() => (window as any).chatApp.room === 'general');
    const dave = await ChatClient.connect(server.port);
    await dave.anonymous();
    await dave.join('general');
    await pc.waitForFunction(name => (window as any).chatApp.members().includes(name), dave.username);
    expect(await pc.evaluate(() => (window as any).chatApp.members() as string[])).toEqual(expect.arrayContaining(['carol', dave.username!]));

    // Avatars: drawn in the page as data: URLs (no request anywhere), one per user, the same for the same user.
    await dave.say('general', 'first from dave');
    await pc.fill('#text', 'first from carol');
    await pc.press('#text', 'Enter');
    await pc.waitForFunction(() => ['first from dave', 'first from carol'].every(t => (window as any).chatApp.messages().includes(t)));
    const avatars = await pc.$$eval('#messages li.message', items => items.map(li => [li.querySelector('.author')!.textContent, (li.querySelector('img.avatar') as HTMLImageElement).src]));
    expect(avatars.every(([, src]) => src!.startsWith('data:image/svg+xml,'))).toBe(true);
    const ours = avatars.filter(([who]) => who === 'carol' || who === dave.username);
    const byAuthor = new Map(ours.map(([who, src]) => [who, src]));
    expect(byAuthor.size).toBe(2);
    expect(new Set(byAuthor.values()).size).toBe(2);
    // Every message of one author has the same picture.
    expect(new Set(avatars.filter(([who]) => who === 'carol').map(([, src]) => src)).size).toBe(1);
    expect(await pc.$eval('#member-list img.avatar', img => (img as HTMLImageElement).naturalWidth > 0)).toBe(true);

    // Carol reads general, moves to random; three messages in general show as unread there.
    await pc.click('#room-list button[data-room="random"]');
    await pc.waitForFunction(() => (window as any).chatApp.room === 'random');
    for (const text of ['unread 1', 'unread 2', 'unread 3']) {
      await dave.say('general', text);
    }
    await pc.waitForFunction(() => (window as any).chatApp.unread('general') === '3', undefined, { timeout: 15_000 });
    await pc.click('#room-list button[data-room="general"]');
    await pc.waitForFunction(() => (window as any).chatApp.room === 'general' && (window as any).chatApp.messages().includes('unread 3'));
    expect(await pc.evaluate(() => (window as any).chatApp.unread('general'))).toBe('');

    // A second tab of carol; "log out everywhere" in the first ends it too, and its token no longer resumes.
    const second = await newPage();
    await second.page.fill('#username', 'carol');
    await second.page.fill('#password', 'carol-password');
    await second.page.click('#login-button');
    await second.page.waitForFunction(() => (window as any).chatApp.room === 'general');
    const token = await second.page.evaluate(() => JSON.parse(sessionStorage.getItem('chat-session')!).token as string);
    await pc.click('#logout-everywhere');
    await pc.waitForSelector('#login', { state: 'visible' });
    await second.page.waitForSelector('#login', { state: 'visible' });
    expect(await second.page.textContent('#login-error')).toBe('You were logged out.');
    const stale = await ChatClient.connect(server.port);
    await expect(stale.resume(token)).rejects.toMatchObject({ code: 'bad_token' });
    await Promise.all([stale.close(), dave.close()]);
    expect(problems).toEqual([]);
    await Promise.all([carol.context.close(), second.context.close()]);
  });

  test('the page keeps at most 500 messages of a busy room, dropping the oldest', async () => {
    const { context, page } = await newPage();
    await page.click('#anonymous-button');
    await page.waitForFunction(() => (window as any).chatApp.room === 'general');
    await page.click('#room-list button[data-room="help"]');
    await page.waitForFunction(() => (window as any).chatApp.room === 'help');
    // 30 writers (each within the per-user burst, each from its own address) post 600 messages.
    const writers = await Promise.all(Array.from({ length: 30 }, async () => {
      const w = await ChatClient.connect(server.port, { ...fromOwnAddress(), record: false });
      await w.anonymous();
      await w.join('help');
      return w;
    }));
    for (let round = 0; round < 20; round++) {
      await Promise.all(writers.map((w, i) => w.say('help', `busy ${round * 30 + i}`)));
    }
    await page.waitForFunction(() => {
      const all = new Set((window as any).chatApp.messages());
      return Array.from({ length: 30 }, (_, i) => `busy ${570 + i}`).every(t => all.has(t));
    }, undefined, { timeout: 20_000 });
    const shown = await texts(page);
    expect(shown).toHaveLength(500);
    expect(shown).not.toContain('busy 0');
    expect(await page.textContent('#messages li.trimmed')).toBe('older messages are hidden; open the room again to read them');
    await Promise.all(writers.map(w => w.close()));
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  test('a drained server\'s page says it is restarting, reconnects with backoff and resumes its session and room', async () => {
    // Sessions outlive a server process only in Redis, as in AWS (in memory they end with the process).
    const redis = await startRedis();
    const port = await freePort();
    const env = { ...process.env, ...chatEnv(dynamo, { PORT: String(port), CHAT_WEB_DIR: WEB_DIR, REALTIME_DRAIN_SECONDS: '1', REALTIME_BUS_URL: redis.url }) };
    const run = async (): Promise<ChildProcess> => {
      const proc = spawn(process.execPath, ['--import', 'tsx', CHAT_ENTRY], { env, stdio: 'ignore' });
      await waitForPort(port, 20_000);
      return proc;
    };
    let proc = await run();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.on('pageerror', err => problems.push(`pageerror: ${err.message}`));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.click('#anonymous-button');
      await page.waitForFunction(() => (window as any).chatApp.room === 'general');
      await page.click('#room-list button[data-room="help"]');
      await page.waitForFunction(() => (window as any).chatApp.room === 'help');
      await page.fill('#text', 'before the restart');
      await page.press('#text', 'Enter');
      await page.waitForFunction(() => (window as any).chatApp.messages().includes('before the restart'));
      const name = await page.evaluate(() => (window as any).chatApp.username as string);

      const exited = new Promise(resolve => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await page.waitForSelector('#status[data-state="offline"]');
      expect(await page.textContent('#status')).toBe('server restarting, reconnecting…');
      expect(await exited).toBe(0);
      proc = await run();
      await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
      await page.waitForFunction(() => (window as any).chatApp.room === 'help' && (window as any).chatApp.messages().includes('before the restart'));
      expect(await page.evaluate(() => (window as any).chatApp.username)).toBe(name);
      await page.fill('#text', 'after the restart');
      await page.press('#text', 'Enter');
      await page.waitForFunction(() => (window as any).chatApp.messages().includes('after the restart'));
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await stopProcess(proc);
      await redis.stop();
    }
  });
});
