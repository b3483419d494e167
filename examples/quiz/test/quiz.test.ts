import Redis from 'ioredis';
import { AUTH, startQuizSystem, QuizSystem } from './local-quiz';
import { api, Frame, QuizClient, sampleQuestions } from './quiz-client';
import { connectDynamo } from '../../kit/dynamo';
import type { Question } from '../server/protocol';
import { correctFraction, points } from '../server/questions';
import { ResultReader } from '../server/results';

let system: QuizSystem;
let a: number;
let b: number;
const open: QuizClient[] = [];

beforeAll(async () => {
  system = await startQuizSystem(2);
  [a, b] = system.servers.map(s => s.port);
}, 60_000);

afterEach(async () => {
  await Promise.all(open.splice(0).map(c => c.close()));
});

afterAll(async () => {
  await system?.stop();
});

async function connect(port: number, token: string): Promise<QuizClient> {
  const client = await QuizClient.connect(port, token);
  open.push(client);
  return client;
}

/** A host on `port` with `questions` uploaded and connected. */
async function hostQuiz(port: number, questions: Question[]) {
  const { quizId, token } = await api.signOnHost(port);
  await api.upload(port, token, questions);
  const host = await connect(port, token);
  await host.waitFor(f => f.type === 'QUIZ-STATE');
  return { quizId, token, host };
}

async function results(quizId: string) {
  const dynamo = connectDynamo(system.dynamo.endpoint);
  try {
    return await new ResultReader(dynamo, 'results').all(quizId);
  } finally {
    dynamo.client.destroy();
  }
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms`);
    }
    await new Promise(r => setTimeout(r, 100));
  }
}

/** What one participant picks for a question: a mix of right, wrong, partial and no answer. */
function pick(k: number, q: number, question: Question): number[] | 'timeout' {
  const wrong = [0, 1, 2, 3].filter(o => !question.answers.includes(o));
  switch ((k + q) % 6) {
    case 0: case 1: return question.answers;
    case 2: return [wrong[0]];
    case 3: return question.answers.length > 1 ? [question.answers[0], wrong[0]] : [question.answers[0]];
    case 4: return question.answers.length > 1 ? [question.answers[1]] : [wrong[1]];
    default: return 'timeout';
  }
}

interface Played {
  readonly userId: string;
  readonly name: string;
  readonly answers: Array<{ selected: number[]; outcome: string; answerMs: number; points: number }>;
  readonly summary: Frame;
}

/** One participant: asks for each question, waits a little, answers (or gives up), checks the server's timing. */
async function play(client: QuizClient, k: number, userId: string, name: string, questions: Question[], durationMs: number): Promise<Played> {
  await client.waitFor(f => f.type === 'BROADCAST-START', 30_000);
  const answers: Played['answers'] = [];
  // The question's clock started between these two client times (the first one's at the quiz start).
  let clockStartedAfter: number | undefined;
  let clockStartedBefore = Date.now();
  for (let q = 0; q < questions.length; q++) {
    const shown = await client.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: q }, 'RESPONSE-PARTICIPANT-QUESTION');
    expect(shown.payload).toEqual(expect.objectContaining({
      questionIndex: q, question: questions[q].question, options: questions[q].options, numberOfOptionsToSelect: questions[q].answers.length,
    }));
    expect(shown.payload.remainingMs).toBeLessThanOrEqual(durationMs);
    const choice = pick(k, q, questions[q]);
    const wait = (k * 7 + q * 13) % 120;
    await new Promise(r => setTimeout(r, wait));
    const sentAt = Date.now();
    const result = choice === 'timeout'
      ? await client.request('PARTICIPANT-ANSWER-TIMEOUT', { questionIndex: q }, 'RESPONSE-PARTICIPANT-ANSWER')
      // The client claims 1 ms; the server measures the answer time itself.
      : await client.request('PARTICIPANT-ANSWER', { questionIndex: q, selectedOptionIndexes: choice, answerDuration: 1 }, 'RESPONSE-PARTICIPANT-ANSWER');
    expect(result.type).toBe('RESPONSE-PARTICIPANT-ANSWER');
    const p = result.payload;
    if (choice !== 'timeout') {
      // Measured from the question's start (the previous answer) on Redis's clock, not the client's claim.
      expect(p.answerMs).toBeGreaterThanOrEqual(sentAt - clockStartedBefore - 10);
      if (clockStartedAfter !== undefined) {
        expect(p.answerMs).toBeLessThanOrEqual(Date.now() - clockStartedAfter + 10);
      }
    }
    answers.push({ selected: choice === 'timeout' ? [] : choice, outcome: p.outcome, answerMs: p.answerMs, points: p.points });
    clockStartedAfter = sentAt;
    clockStartedBefore = Date.now();
  }
  const summary = await client.waitFor(f => f.type === 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY', 60_000);
  return { userId, name, answers, summary };
}

describe('two quiz servers on one redis-server and a DynamoDB-API store', () => {
  test('a host and 50 participants spread over both servers complete a quiz; scores, order and stored results match a reference computation', async () => {
    const set = sampleQuestions(8);
    const { quizId, host } = await hostQuiz(a, set);
    const hostQuestions = await host.request('REQUEST-HOST-QUESTIONS', {}, 'RESPONSE-HOST-QUESTIONS');
    expect(hostQuestions.payload.questions).toEqual(set);
    expect(hostQuestions.payload.categories).toEqual(['science', 'history']);

    const joined = await Promise.all(Array.from({ length: 50 }, async (_, k) => {
      const port = k % 2 === 0 ? a : b;
      const j = await api.join(port, quizId, `player ${k}`);
      const client = await connect(port, j.token);
      await client.waitFor(f => f.type === 'QUIZ-STATE');
      return { k, client, ...j };
    }));
    await host.waitFor(f => f.type === 'BROADCAST-PARTICIPANT-CONFIG' && f.payload.totalParticipants === 50);

    // Science and history, questions 0-5 of the set in a chosen order; 10 s each.
    const selected = [5, 0, 1, 2, 3, 4];
    const questions = selected.map(i => set[i]);
    const durationMs = 10_000;
    const hostFrom = host.mark();
    host.send('HOST-CONFIG', { quizName: 'Fifty', categories: ['science', 'history'], duration: 10, selectedQuestionIndexes: selected });
    const start = await host.waitFor(f => f.type === 'BROADCAST-START', 10_000, hostFrom);
    expect(start.payload).toEqual(expect.objectContaining({ quizName: 'Fifty', questionDuration: 10, numberOfQuestions: 6 }));

    const played = await Promise.all(joined.map(j => play(j.client, j.k, j.userId, j.name, questions, durationMs)));

    // The reference: 100 × (correct picked − wrong picked, at least 0) / total correct × (D − t) / D per question.
    const expected = played.map(p => ({
      userId: p.userId,
      name: p.name,
      score: p.answers.reduce((sum, ans, q) => sum + (ans.outcome === 'timeout' ? 0 : points(correctFraction(questions[q].answers, ans.selected), ans.answerMs, durationMs)), 0),
    }));
    for (const p of played) {
      p.answers.forEach((ans, q) => {
        const fraction = correctFraction(questions[q].answers, ans.selected);
        expect(ans.outcome).toBe(ans.selected.length === 0 ? 'timeout' : fraction === 1 ? 'correct' : 'incorrect');
      });
    }
    const order = [...expected].sort((x, y) => (y.score - x.score) || (x.userId < y.userId ? 1 : -1));
    expect(new Set(order.map(o => o.score)).size).toBeGreaterThan(20);

    const hostSummary = await host.waitFor(f => f.type === 'NOTIFY-HOST-QUIZ-SUMMARY', 60_000, hostFrom);
    const board = hostSummary.payload.leaderboard as Array<{ userId: string; name: string; score: number }>;
    expect(board.map(e => e.userId)).toEqual(order.slice(0, 10).map(o => o.userId));
    board.forEach((e, i) => expect(e.score).toBeCloseTo(order[i].score, 6));
    expect(hostSummary.payload.participants).toBe(50);
    // Per-question counts as the host sees them.
    hostSummary.payload.questions.forEach((q: any, i: number) => {
      const outcomes = played.map(p => p.answers[i].outcome);
      expect([q.correct, q.incorrect, q.timedOut]).toEqual(['correct', 'incorrect', 'timeout'].map(o => outcomes.filter(x => x === o).length));
    });

    // The host saw live counts while the quiz ran: never more than the final ones, and growing.
    const progress = host.frames.slice(hostFrom).filter(f => f.type === 'HOST-PROGRESS').map(f => f.payload);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1].finished).toBeGreaterThan(0);
    for (const p of progress) {
      expect(p.participants).toBe(50);
      p.counts.forEach((c: any, i: number) => {
        const final = hostSummary.payload.questions[i];
        expect([c.correct <= final.correct, c.incorrect <= final.incorrect, c.timedOut <= final.timedOut]).toEqual([true, true, true]);
      });
    }
    const answered = (p: any) => p.counts.reduce((sum: number, c: any) => sum + c.correct + c.incorrect + c.timedOut, 0);
    expect(answered(progress[progress.length - 1])).toBeGreaterThan(answered(progress[0]));

    // Every participant's summary has their own score, rank and answers.
    for (const p of played) {
      const rank = order.findIndex(o => o.userId === p.userId) + 1;
      expect(p.summary.payload.rank).toBe(rank);
      expect(p.summary.payload.score).toBeCloseTo(expected.find(e => e.userId === p.userId)!.score, 6);
      expect(p.summary.payload.questions.map((q: any) => q.outcome)).toEqual(p.answers.map(x => x.outcome));
    }
    // The last LEADERBOARD each client saw, on either server, is the final top 10.
    for (const j of [joined[0], joined[1]]) {
      const boards = j.client.frames.filter(f => f.type === 'LEADERBOARD');
      expect(boards.length).toBeGreaterThan(1);
    }

    // Stored once: one item per participant and one for the quiz, then Redis and the question set are cleaned up.
    const items = await until(async () => {
      const all = await results(quizId);
      return all.length === 51 ? all : undefined;
    }, 20_000, 'results stored');
    const quizItem = items.find(i => i.item === 'quiz')!;
    expect(quizItem).toEqual(expect.objectContaining({ quizId, name: 'Fifty', participants: 50, durationMs }));
    for (const e of expected) {
      const item = items.find(i => i.item === `participant#${e.userId}`)!;
      expect(item.name).toBe(e.name);
      expect(item.score as number).toBeCloseTo(e.score, 6);
      expect(item.rank).toBe(order.findIndex(o => o.userId === e.userId) + 1);
    }
    const r = new Redis(system.redis.url, { password: AUTH });
    await until(async () => ((await r.keys(`quiz:{${quizId}}:*`)).length === 0 ? true : undefined), 10_000, 'redis keys removed');
    expect(await r.zscore('quiz:pending-results', quizId)).toBeNull();
    r.disconnect();
  }, 180_000);

  test('the server times each question: a late answer is a timeout whatever the client claims, and the deadline ends the quiz', async () => {
    const set = sampleQuestions(2);
    const { quizId, host } = await hostQuiz(a, set);
    const late = await api.join(b, quizId, 'late');
    const idle = await api.join(a, quizId, 'idle');
    const lateClient = await connect(b, late.token);
    await connect(a, idle.token);
    const hostFrom = host.mark();
    host.send('HOST-CONFIG', { quizName: 'Clock', categories: ['science', 'history'], duration: 2, selectedQuestionIndexes: [0, 1] });
    await lateClient.waitFor(f => f.type === 'BROADCAST-START');
    await lateClient.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 0 }, 'RESPONSE-PARTICIPANT-QUESTION');
    await new Promise(r => setTimeout(r, 2300));
    const answer = await lateClient.request('PARTICIPANT-ANSWER', { questionIndex: 0, selectedOptionIndexes: set[0].answers, answerDuration: 5 }, 'RESPONSE-PARTICIPANT-ANSWER');
    expect(answer.payload).toEqual(expect.objectContaining({ questionIndex: 0, outcome: 'timeout', points: 0, answerMs: 2000 }));
    // Question 1's clock started when question 0's ran out, so some of it is gone.
    const next = await lateClient.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 1 }, 'RESPONSE-PARTICIPANT-QUESTION');
    expect(next.payload.remainingMs).toBeLessThan(1700);
    // Nobody answers again: the deadline (start + 2 × 2 s) finishes the quiz; everything unanswered timed out.
    const summary = await host.waitFor(f => f.type === 'NOTIFY-HOST-QUIZ-SUMMARY', 10_000, hostFrom);
    expect(summary.payload.questions.map((q: any) => [q.correct, q.incorrect, q.timedOut])).toEqual([[0, 0, 2], [0, 0, 2]]);
    expect(summary.payload.leaderboard.map((e: any) => e.score)).toEqual([0, 0]);
    const mine = await lateClient.waitFor(f => f.type === 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY');
    expect(mine.payload.questions.map((q: any) => q.outcome)).toEqual(['timeout', 'timeout']);
    await until(async () => ((await results(quizId)).length === 3 ? true : undefined), 10_000, 'results stored');
  }, 60_000);

  test('a participant who reconnects to the other server resumes at the same question with the time that is left', async () => {
    const set = sampleQuestions(3);
    const { quizId, host, token: hostToken } = await hostQuiz(a, set);
    const me = await api.join(a, quizId, 'traveller');
    const other = await api.join(b, quizId, 'stayer');
    const first = await connect(a, me.token);
    const stayer = await connect(b, other.token);
    host.send('HOST-CONFIG', { quizName: 'Travel', categories: ['science', 'history'], duration: 6, selectedQuestionIndexes: [0, 1, 2] });
    await first.waitFor(f => f.type === 'BROADCAST-START');
    await first.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 0 }, 'RESPONSE-PARTICIPANT-QUESTION');
    const a0 = await first.request('PARTICIPANT-ANSWER', { questionIndex: 0, selectedOptionIndexes: set[0].answers }, 'RESPONSE-PARTICIPANT-ANSWER');
    expect(a0.payload.outcome).toBe('correct');
    const q1 = await first.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 1 }, 'RESPONSE-PARTICIPANT-QUESTION');
    expect(q1.payload.remainingMs).toBeGreaterThan(5000);
    await new Promise(r => setTimeout(r, 1500));
    await first.close();

    const second = await connect(b, me.token);
    const state = await second.waitFor(f => f.type === 'QUIZ-STATE');
    expect(state.payload).toEqual(expect.objectContaining({ state: 'started', questionIndex: 1, score: a0.payload.score, userId: me.userId }));
    expect((await second.waitFor(f => f.type === 'BROADCAST-START')).payload.numberOfQuestions).toBe(3);
    // Asking for another question than the current one is refused with the current index.
    const wrong = await second.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 0 }, 'RESPONSE-PARTICIPANT-QUESTION');
    expect(wrong).toEqual(expect.objectContaining({ type: 'error', code: 'wrong_question', currentQuestionIndex: 1 }));
    const again = await second.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 1 }, 'RESPONSE-PARTICIPANT-QUESTION');
    expect(again.payload.question).toBe(set[1].question);
    expect(again.payload.remainingMs).toBeLessThanOrEqual(6000 - 1500);
    expect(again.payload.remainingMs).toBeGreaterThan(6000 - 1500 - 3000);
    const a1 = await second.request('PARTICIPANT-ANSWER', { questionIndex: 1, selectedOptionIndexes: set[1].answers }, 'RESPONSE-PARTICIPANT-ANSWER');
    expect(a1.payload.answerMs).toBeGreaterThanOrEqual(1500);
    expect(a1.payload.points).toBeLessThan(76);

    // Both finish; after the results are stored and Redis is clean, a reconnect still gets its summary.
    await second.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 2 }, 'RESPONSE-PARTICIPANT-QUESTION');
    await second.request('PARTICIPANT-ANSWER-TIMEOUT', { questionIndex: 2 }, 'RESPONSE-PARTICIPANT-ANSWER');
    for (let q = 0; q < 3; q++) {
      await stayer.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: q }, 'RESPONSE-PARTICIPANT-QUESTION');
      await stayer.request('PARTICIPANT-ANSWER', { questionIndex: q, selectedOptionIndexes: [] }, 'RESPONSE-PARTICIPANT-ANSWER');
    }
    const summary = await second.waitFor(f => f.type === 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY');
    await until(async () => ((await results(quizId)).length === 3 ? true : undefined), 10_000, 'results stored');
    const r = new Redis(system.redis.url, { password: AUTH });
    await until(async () => ((await r.exists(`quiz:{${quizId}}:meta`)) === 0 ? true : undefined), 10_000, 'redis keys removed');
    r.disconnect();
    const later = await connect(a, me.token);
    expect((await later.waitFor(f => f.type === 'QUIZ-STATE')).payload.state).toBe('finished');
    expect((await later.waitFor(f => f.type === 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY')).payload).toEqual(summary.payload);
    const laterHost = await connect(b, hostToken);
    expect((await laterHost.waitFor(f => f.type === 'NOTIFY-HOST-QUIZ-SUMMARY')).payload.participants).toBe(2);
  }, 60_000);
});
