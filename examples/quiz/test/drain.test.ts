import { startQuizSystem, QuizSystem } from './local-quiz';
import { api, QuizClient, sampleQuestions } from './quiz-client';

let system: QuizSystem;

beforeAll(async () => {
  system = await startQuizSystem(2, { REALTIME_DRAIN_SECONDS: '1' });
}, 60_000);

afterAll(async () => {
  await system?.stop();
});

test('a server that drains mid-quiz (SIGTERM) sends its participants away with 1012; they finish the quiz on the other server', async () => {
  const [a, b] = system.servers.map(s => s.port);
  const set = sampleQuestions(3);
  const host = await api.signOnHost(a);
  await api.upload(a, host.token, set);
  const players = await Promise.all(Array.from({ length: 6 }, async (_, k) => {
    const j = await api.join(a, host.quizId, `p${k}`);
    return { token: j.token, client: await QuizClient.connect(k % 2 ? b : a, j.token) };
  }));
  const hostClient = await QuizClient.connect(a, host.token);
  await hostClient.request('HOST-CONFIG', { quizName: 'Drain', categories: ['science', 'history'], duration: 20, selectedQuestionIndexes: [0, 1, 2] }, 'BROADCAST-START');
  for (const p of players) {
    await p.client.waitFor(f => f.type === 'BROADCAST-START');
    await p.client.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 0 }, 'RESPONSE-PARTICIPANT-QUESTION');
    expect((await p.client.request('PARTICIPANT-ANSWER', { questionIndex: 0, selectedOptionIndexes: set[0].answers }, 'RESPONSE-PARTICIPANT-ANSWER')).payload.outcome).toBe('correct');
  }
  // Server b stops: its clients are closed with 1012 and the process exits 0.
  system.servers[1].proc.kill('SIGTERM');
  const moved = players.filter((_, k) => k % 2 === 1);
  for (const p of moved) {
    expect((await p.client.closed).code).toBe(1012);
  }
  expect(await system.servers[1].exited).toBe(0);
  for (const p of moved) {
    p.client = await QuizClient.connect(a, p.token);
    expect((await p.client.waitFor(f => f.type === 'QUIZ-STATE')).payload.questionIndex).toBe(1);
  }
  for (const p of players) {
    for (const q of [1, 2]) {
      await p.client.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: q }, 'RESPONSE-PARTICIPANT-QUESTION');
      await p.client.request('PARTICIPANT-ANSWER', { questionIndex: q, selectedOptionIndexes: set[q].answers }, 'RESPONSE-PARTICIPANT-ANSWER');
    }
  }
  const summary = await hostClient.waitFor(f => f.type === 'NOTIFY-HOST-QUIZ-SUMMARY');
  expect(summary.payload.questions.map((q: any) => q.correct)).toEqual([6, 6, 6]);
  for (const p of players) {
    expect((await p.client.waitFor(f => f.type === 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY')).payload.questions.map((q: any) => q.outcome)).toEqual(['correct', 'correct', 'correct']);
    await p.client.close();
  }
  await hostClient.close();
}, 60_000);
