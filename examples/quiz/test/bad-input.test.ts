import { startQuizSystem, QuizSystem } from './local-quiz';
import { api, HttpFailure, QuizClient, sampleQuestions } from './quiz-client';
import { LIMITS } from '../server/protocol';

/** A quiz in its lobby and one that has started (600 s per question), each with a host and a participant. */
interface Quiz { quizId: string; hostToken: string; participantToken: string }

let system: QuizSystem;
let port: number;
let lobby: Quiz;
let started: Quiz;
const open: QuizClient[] = [];
const set = sampleQuestions(4);

async function quiz(start: boolean): Promise<Quiz> {
  const host = await api.signOnHost(port);
  await api.upload(port, host.token, set);
  const participant = await api.join(port, host.quizId, 'player');
  if (start) {
    const c = await QuizClient.connect(port, host.token);
    const s = await c.request('HOST-CONFIG', { quizName: 'Bad', categories: ['science', 'history'], duration: 600, selectedQuestionIndexes: [0, 1, 2] }, 'BROADCAST-START');
    expect(s.type).toBe('BROADCAST-START');
    await c.close();
  }
  return { quizId: host.quizId, hostToken: host.token, participantToken: participant.token };
}

beforeAll(async () => {
  system = await startQuizSystem(1);
  port = system.servers[0].port;
  lobby = await quiz(false);
  started = await quiz(true);
}, 60_000);

afterEach(async () => {
  await Promise.all(open.splice(0).map(c => c.close()));
});

afterAll(async () => {
  await system?.stop();
});

const long = (n: number) => 'x'.repeat(n);
const q = (changes: Record<string, unknown>) => [{ ...set[0], ...changes }];

describe('bad HTTP requests get a 4xx with a code that says what is wrong', () => {
  type Case = [string, number, string, () => Promise<unknown>];
  test.each<Case>([
    ['an upload without a token', 401, 'unauthorized', () => api.call(port, '/api/upload/quiz', { body: set })],
    ['an upload with a forged token', 401, 'unauthorized', () => api.upload(port, lobby.hostToken.slice(0, -2) + 'xx', set)],
    ['an upload with a participant\'s token', 403, 'not_host', () => api.upload(port, lobby.participantToken, set)],
    ['an upload that is not declared JSON', 415, 'unsupported_media_type', () => api.call(port, '/api/upload/quiz', { token: lobby.hostToken, raw: '[]', headers: { 'content-type': 'text/plain' } })],
    ['an upload that is not JSON', 400, 'bad_json', () => api.call(port, '/api/upload/quiz', { token: lobby.hostToken, raw: '[{"question":' })],
    ['an upload over 256 KiB', 413, 'body_too_large', () => api.upload(port, lobby.hostToken, q({ question: long(LIMITS.uploadBytes) }))],
    ['an empty question set', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, [])],
    ['a question that is not an object', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, ['what?'])],
    ['a question with an unknown field', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ points: 5 }))],
    ['a question without text', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ question: '  ' }))],
    ['a question of 501 characters', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ question: long(501) }))],
    ['a question with one option', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ options: ['only'], answers: [0] }))],
    ['a question with nine options', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ options: 'abcdefghi'.split(''), answers: [0] }))],
    ['two equal options', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ options: ['a', 'b', 'a'], answers: [0] }))],
    ['an answer index out of range', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ answers: [4] }))],
    ['a negative answer index', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ answers: [-1] }))],
    ['an answer listed twice', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ answers: [1, 1] }))],
    ['no correct answer', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ answers: [] }))],
    ['every option correct', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, q({ answers: [0, 1, 2, 3] }))],
    ['the same question twice', 400, 'invalid_questions', () => api.upload(port, lobby.hostToken, [set[0], { ...set[1], question: set[0].question.toUpperCase() }])],
    ['an upload after the start', 409, 'already_started', () => api.upload(port, started.hostToken, set)],
    ['joining an unknown quiz', 404, 'unknown_quiz', () => api.join(port, 'zzzzzzzz', 'me')],
    ['joining with a malformed quiz id', 404, 'unknown_quiz', () => api.join(port, 'NOT-AN-ID', 'me')],
    ['joining with an empty name', 400, 'invalid_name', () => api.join(port, lobby.quizId, '   ')],
    ['joining with a 33-character name', 400, 'invalid_name', () => api.join(port, lobby.quizId, long(33))],
    ['joining with a control character in the name', 400, 'invalid_name', () => api.join(port, lobby.quizId, 'bad\u0007name')],
    ['joining with an unknown field', 400, 'invalid_payload', () => api.call(port, `/api/sign-on/${lobby.quizId}/join`, { body: { name: 'me', admin: true } })],
    ['joining after the start', 409, 'already_started', () => api.join(port, started.quizId, 'late')],
    ['a GET of a POST endpoint', 405, 'bad_message', () => api.call(port, '/api/sign-on/host', { method: 'GET' })],
    ['an unknown API path', 404, 'unknown_type', () => api.call(port, '/api/delete-everything')],
  ])('%s → %i %s', async (_name, status, code, run) => {
    const err = await run().then(() => undefined, e => e);
    expect(err).toBeInstanceOf(HttpFailure);
    expect([(err as HttpFailure).status, (err as HttpFailure).body.error]).toEqual([status, code]);
    expect((err as HttpFailure).body.message).toEqual(expect.any(String));
  });

  test('a WebSocket upgrade with a forged or missing token is refused with 401', async () => {
    for (const token of ['', 'v1.e30.forged', lobby.hostToken + 'x']) {
      const err = await QuizClient.connect(port, token).then(() => undefined, e => e);
      expect((err as HttpFailure).status).toBe(401);
    }
  });
});

describe('bad WebSocket frames get an error frame, and the connection stays usable', () => {
  type Who = 'lobby host' | 'lobby participant' | 'started host' | 'started participant';
  const token = (who: Who) => ({
    'lobby host': lobby.hostToken,
    'lobby participant': lobby.participantToken,
    'started host': started.hostToken,
    'started participant': started.participantToken,
  })[who];
  const config = (changes: Record<string, unknown>) => ({ type: 'HOST-CONFIG', payload: { quizName: 'Q', categories: ['science'], duration: 10, selectedQuestionIndexes: [0], ...changes } });
  test.each<[string, Who, string, string | Buffer | Record<string, unknown>]>([
    ['text that is not JSON', 'lobby host', 'bad_json', '{"type":'],
    ['a binary frame', 'lobby host', 'bad_message', Buffer.from([1, 2, 3])],
    ['a frame without a type', 'lobby host', 'bad_message', { payload: {} }],
    ['an unknown envelope field', 'lobby host', 'bad_message', { type: 'REQUEST-HOST-QUESTIONS', payload: {}, admin: true }],
    ['a frame over 8 KiB', 'lobby host', 'frame_too_large', { type: 'PARTICIPANT-CONFIG', payload: { name: long(9000) } }],
    ['an unknown type', 'lobby host', 'unknown_type', { type: 'HOST-END-EVERYTHING', payload: {} }],
    ['a type from Object.prototype', 'lobby host', 'unknown_type', { type: 'constructor', payload: {} }],
    ['a payload that is a string', 'lobby participant', 'invalid_payload', { type: 'PARTICIPANT-CONFIG', payload: 'me' }],
    ['an unknown payload field', 'lobby participant', 'invalid_payload', { type: 'PARTICIPANT-CONFIG', payload: { name: 'me', score: 100 } }],
    ['a host message from a participant', 'lobby participant', 'not_host', config({})],
    ['a participant message from the host', 'lobby host', 'not_participant', { type: 'PARTICIPANT-CONFIG', payload: { name: 'me' } }],
    ['an empty quiz name', 'lobby host', 'invalid_config', config({ quizName: ' ' })],
    ['a duration of 0', 'lobby host', 'invalid_config', config({ duration: 0 })],
    ['a duration of 601 s', 'lobby host', 'invalid_config', config({ duration: 601 })],
    ['a fractional duration', 'lobby host', 'invalid_payload', config({ duration: 2.5 })],
    ['an unknown category', 'lobby host', 'invalid_config', config({ categories: ['sport'] })],
    ['no category', 'lobby host', 'invalid_config', config({ categories: [] })],
    ['no question', 'lobby host', 'invalid_config', config({ selectedQuestionIndexes: [] })],
    ['a question index out of range', 'lobby host', 'invalid_config', config({ selectedQuestionIndexes: [4] })],
    ['a question selected twice', 'lobby host', 'invalid_config', config({ selectedQuestionIndexes: [0, 0] })],
    ['a question of a category not chosen', 'lobby host', 'invalid_config', config({ selectedQuestionIndexes: [1] })],
    ['an empty participant name', 'lobby participant', 'invalid_name', { type: 'PARTICIPANT-CONFIG', payload: { name: '' } }],
    ['asking for a question before the start', 'lobby participant', 'not_started', { type: 'REQUEST-PARTICIPANT-QUESTION', payload: { questionIndex: 0 } }],
    ['a negative question index', 'started participant', 'invalid_payload', { type: 'REQUEST-PARTICIPANT-QUESTION', payload: { questionIndex: -1 } }],
    ['asking for a later question', 'started participant', 'wrong_question', { type: 'REQUEST-PARTICIPANT-QUESTION', payload: { questionIndex: 2 } }],
    ['answering a later question', 'started participant', 'wrong_question', { type: 'PARTICIPANT-ANSWER', payload: { questionIndex: 1, selectedOptionIndexes: [0] } }],
    ['an option that does not exist', 'started participant', 'invalid_answer', { type: 'PARTICIPANT-ANSWER', payload: { questionIndex: 0, selectedOptionIndexes: [7] } }],
    ['an option picked twice', 'started participant', 'invalid_answer', { type: 'PARTICIPANT-ANSWER', payload: { questionIndex: 0, selectedOptionIndexes: [0, 0] } }],
    ['more options than correct ones', 'started participant', 'invalid_answer', { type: 'PARTICIPANT-ANSWER', payload: { questionIndex: 0, selectedOptionIndexes: [0, 1] } }],
    ['selected options that are not numbers', 'started participant', 'invalid_payload', { type: 'PARTICIPANT-ANSWER', payload: { questionIndex: 0, selectedOptionIndexes: ['a'] } }],
    ['renaming after the start', 'started participant', 'already_started', { type: 'PARTICIPANT-CONFIG', payload: { name: 'new' } }],
    ['starting a started quiz', 'started host', 'already_started', config({ categories: ['science', 'history'] })],
  ])('%s (%s) → %s', async (_name, who, code, frame) => {
    const c = await QuizClient.connect(port, token(who));
    open.push(c);
    await c.waitFor(f => f.type === 'QUIZ-STATE');
    const from = c.mark();
    c.ws.send(Buffer.isBuffer(frame) || typeof frame === 'string' ? frame : JSON.stringify(frame), { binary: Buffer.isBuffer(frame) });
    const error = await c.waitFor(f => f.type === 'error', 5000, from);
    expect(error).toEqual(expect.objectContaining({ type: 'error', code, message: expect.any(String) }));
    // Still usable.
    if (who.endsWith('host')) {
      expect((await c.request('REQUEST-HOST-QUESTIONS', {}, 'RESPONSE-HOST-QUESTIONS')).payload.questions).toHaveLength(4);
    } else if (who === 'started participant') {
      expect((await c.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 0 }, 'RESPONSE-PARTICIPANT-QUESTION')).payload.questionIndex).toBe(0);
    } else {
      const renamed = await c.request('PARTICIPANT-CONFIG', { name: 'player' }, 'BROADCAST-PARTICIPANT-CONFIG');
      expect(renamed.payload.name).toBe('player');
    }
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  test('a frame over 32 KiB closes the connection with 1009; the server keeps serving', async () => {
    const c = await QuizClient.connect(port, lobby.hostToken);
    c.send('PARTICIPANT-CONFIG', { name: long(40_000) });
    expect((await c.closed).code).toBe(1009);
    const other = await QuizClient.connect(port, lobby.hostToken);
    open.push(other);
    expect((await other.request('REQUEST-HOST-QUESTIONS', {}, 'RESPONSE-HOST-QUESTIONS')).type).toBe('RESPONSE-HOST-QUESTIONS');
  });
});
