import * as fs from 'fs';
import * as path from 'path';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { startQuizSystem, QuizSystem, WEB_DIR } from './local-quiz';
import { launchBrowser } from '../../../test/support/browser';

const FRONT_DOOR_SOURCE = path.join(__dirname, '..', '..', '..', 'src', 'front-door', 'cdn-front-door.ts');

const QUESTIONS = [
  { question: 'Which is a prime?', category: 'maths', options: ['4', '7', '9'], answers: [1] },
  { question: 'Which are even?', category: 'maths', options: ['2', '3', '8', '5'], answers: [0, 2] },
  { question: 'Capital of France?', category: 'places', options: ['Lyon', 'Paris'], answers: [1] },
];

describe('the host and participant pages in a real browser, on two servers', () => {
  let system: QuizSystem;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    system = await startQuizSystem(2, { QUIZ_WEB_DIR: WEB_DIR });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  async function open(port: number, pathname: string, phone: boolean): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext(phone
      ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }
      : { viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', err => problems.push(`pageerror: ${err.message}`));
    page.on('console', msg => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    await page.goto(`http://127.0.0.1:${port}${pathname}`);
    return { context, page };
  }

  test('the pages are served with CdnFrontDoor\'s default Content-Security-Policy and no inline script or style', async () => {
    const csp = /const DEFAULT_CSP = "([^"]+)";/.exec(fs.readFileSync(FRONT_DOOR_SOURCE, 'utf8'))![1];
    for (const page of ['/', '/host.html']) {
      const res = await fetch(`http://127.0.0.1:${system.servers[0].port}${page}`);
      expect(res.headers.get('content-security-policy')).toBe(csp);
      expect(await res.text()).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=/);
    }
  });

  test('a host creates, uploads, configures and starts a quiz; a participant on a phone answers, times out, and both see the leaderboard and summaries', async () => {
    const [a, b] = system.servers.map(s => s.port);
    const { page: host } = await open(a, '/host.html', false);
    await host.click('#create-button');
    await host.waitForSelector('#status[data-state="live"]');
    const quizId = (await host.textContent('#quiz-id'))!;
    expect(quizId).toMatch(/^[a-z0-9]{8}$/);

    // Bad JSON is refused on the page; a good set shows the configuration form.
    await host.fill('#question-json', '[{"question": "broken"');
    await host.click('#upload-button');
    await host.waitForFunction(() => document.getElementById('upload-error')!.textContent === 'that is not JSON');
    await host.fill('#question-json', JSON.stringify([{ ...QUESTIONS[0], answers: [5] }]));
    await host.click('#upload-button');
    await host.waitForFunction(() => document.getElementById('upload-error')!.textContent!.includes('answer index 5 is out of range'));
    // The browser logs the refused upload's 400; nothing else may go wrong.
    expect(problems).toEqual([expect.stringContaining('status of 400')]);
    problems.length = 0;
    await host.fill('#question-json', JSON.stringify(QUESTIONS));
    await host.click('#upload-button');
    await host.waitForSelector('#config-form:not([hidden])');
    expect(await host.locator('#question-picker li').count()).toBe(3);

    // The participant joins on a phone, through the other server, with the link the host shows.
    const { page: phone } = await open(b, `/?quiz=${quizId}`, true);
    expect(await phone.inputValue('#quiz-id')).toBe(quizId);
    await phone.fill('#name', 'Pat');
    await phone.tap('#join-form button[type="submit"]');
    await phone.waitForSelector('#lobby:not([hidden])');
    await host.waitForFunction(() => document.getElementById('participant-count')!.textContent === '1 participant has joined.');

    await host.fill('#quiz-name', 'Browser quiz');
    await host.fill('#duration', '4');
    await host.click('#start-button');
    await host.waitForSelector('#live:not([hidden])');

    // Question 1: one answer, tapped.
    await phone.waitForFunction(() => document.getElementById('question-text')!.textContent === 'Which is a prime?');
    expect(await phone.textContent('#question-number')).toBe('Question 1 of 3');
    const left = Number(await phone.textContent('#time-left'));
    expect(left).toBeGreaterThan(2);
    expect(left).toBeLessThanOrEqual(4);
    await phone.tap('#options button[data-option="1"]');
    await phone.tap('#submit-answer');
    await phone.waitForFunction(() => document.getElementById('outcome')!.dataset.outcome === 'correct');

    // Question 2: two answers; a third tap is ignored.
    await phone.waitForFunction(() => document.getElementById('question-text')!.textContent === 'Which are even?');
    expect(await phone.textContent('#pick-count')).toBe('2');
    for (const option of ['0', '2', '1']) {
      await phone.tap(`#options button[data-option="${option}"]`);
    }
    expect(await phone.locator('#options button[aria-pressed="true"]').count()).toBe(2);
    await phone.tap('#submit-answer');
    await phone.waitForFunction(() => document.getElementById('outcome')!.dataset.outcome === 'correct');

    // The leaderboard reaches both pages with the participant's score.
    await host.waitForFunction(() => document.querySelectorAll('#leaderboard li').length === 1 && Number(document.querySelector('#leaderboard .score')!.textContent) > 100);
    expect(await host.textContent('#leaderboard .name')).toBe('Pat');
    await phone.waitForFunction(() => document.querySelector('#leaderboard li.me') !== null);

    // Question 3: the timer runs out on the phone.
    await phone.waitForFunction(() => document.getElementById('question-text')!.textContent === 'Capital of France?');
    await phone.waitForFunction(() => document.getElementById('outcome')!.dataset.outcome === 'timeout', undefined, { timeout: 10_000 });

    // Summaries on both sides.
    await phone.waitForSelector('#summary:not([hidden])');
    expect(await phone.textContent('#summary-rank')).toBe('1');
    expect(await phone.locator('#summary-rows tr').evaluateAll(rows => rows.map(r => (r as HTMLElement).dataset.outcome))).toEqual(['correct', 'correct', 'timeout']);
    await host.waitForSelector('#summary:not([hidden])');
    expect(await host.textContent('#summary-name')).toBe('Browser quiz');
    expect(await host.locator('#summary-rows tr').evaluateAll(rows => rows.map(r => [...r.querySelectorAll('td.num')].map(td => td.textContent)))).toEqual([
      ['1', '0', '0'], ['1', '0', '0'], ['0', '0', '1'],
    ]);
    const score = await phone.textContent('#summary-score');

    // A reload of the phone shows the same summary again (from Redis, or from DynamoDB once stored).
    await phone.reload();
    await phone.waitForSelector('#summary:not([hidden])');
    expect(await phone.textContent('#summary-score')).toBe(score);
    expect(problems).toEqual([]);
  }, 90_000);
});
