import { randomBytes, randomInt } from 'crypto';
import * as http from 'http';
import { z } from 'zod';
import { QuizError } from './errors';
import { EVENTS_CHANNEL } from './keys';
import { AddressBound, AddressLimits } from './limits';
import {
  ClientMessages, ClientType, describeIssues, Envelope, HOST_TYPES, JoinBody, LIMITS, Outcome, Question, QUIZ_ID, UploadBody,
} from './protocol';
import { QuestionSetStore } from './question-sets';
import { correctFraction, validateQuestionSet } from './questions';
import { buildResults, hostSummary, participantSummary, QuizResults, ResultReader, ResultWriter, WriterStep } from './results';
import { QuizSettings } from './settings';
import { QuizStore, StepResult } from './store';
import { Identity, TokenSigner } from './tokens';
import {
  addressKey, Bus, clientAddress, connectRedis, createBus, HttpError, Logger, readConfig, readJson, RealtimeClient, RealtimeServer, RuntimeConfig,
  sendJson, serveStatic,
} from '../../kit';
import { connectDynamo, Dynamo } from '../../kit/dynamo';

/**
 * CdnFrontDoor's default Content-Security-Policy (src/front-door/cdn-front-door.ts), sent with `web/` in
 * local runs too, so the pages are tried under the policy they get in AWS.
 */
export const FRONT_DOOR_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/** What the server keeps about one WebSocket connection. */
interface Connection {
  readonly identity: Identity;
  readonly address: string;
  tail: Promise<void>;
  closed: boolean;
}
type Client = RealtimeClient<Connection>;

/** A bus event about one quiz: frames for its clients, or its end with the results. */
type QuizEvent =
  | { kind: 'all' | 'host'; frame: unknown }
  | { kind: 'finished'; results: QuizResults };

type HostConfig = z.infer<(typeof ClientMessages)['HOST-CONFIG']>;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The quiz server. Stateless: quizzes live in Redis (with expiry), question sets and results in DynamoDB,
 * identities in signed tokens; servers tell each other about a quiz over the bus. Every server also
 * finishes overdue quizzes and stores the results of finished ones.
 */
export class QuizServer {
  public readonly server: RealtimeServer<Connection, Envelope>;
  public readonly log: Logger;
  public readonly store: QuizStore;
  public readonly writer: ResultWriter;
  private readonly bus: Bus;
  private readonly dynamo: Dynamo;
  private readonly questionSets: QuestionSetStore;
  private readonly reader: ResultReader;
  private readonly limits: AddressLimits;
  private readonly signer: TokenSigner;
  /** Local clients of each quiz. */
  private readonly members = new Map<string, Set<Client>>();
  /** Questions of running quizzes (fixed once started). */
  private readonly questionCache = new Map<string, Promise<Question[] | undefined>>();
  /** Quizzes with answers since their last leaderboard frame from this server. */
  private readonly dirty = new Set<string>();
  /** Per-question durations (ms) of running quizzes. */
  private readonly durations = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private leaderboardTimer?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly settings: QuizSettings,
    config: RuntimeConfig = readConfig(),
    afterWriterStep?: (step: WriterStep) => void | Promise<void>,
  ) {
    if (!config.busUrl) {
      throw new Error('the quiz keeps its state in Redis: set REALTIME_BUS_URL (npm run dev quiz starts a local redis-server)');
    }
    this.server = new RealtimeServer<Connection, Envelope>({
      name: 'quiz',
      config,
      maxFrameBytes: LIMITS.maxFrameBytes,
      maxMessageBytes: LIMITS.maxMessageBytes,
      rateLimit: { perSecond: settings.messagesPerSecond, burst: settings.messageBurst },
      connectionsPerAddress: { max: settings.openConnectionsPerAddress, trustedProxies: settings.trustedProxies },
      authenticate: (req, url) => this.authenticate(req, url),
      messages: { schema: Envelope, handle: (client, envelope) => this.enqueue(client, envelope) },
      onConnection: client => this.track(this.connected(client)),
      onClose: client => this.disconnected(client),
      http: (req, res, url) => this.route(req, res, url),
      onDrain: () => this.settle(),
      onShutdown: () => this.close(),
    });
    this.log = this.server.log;
    this.bus = createBus(config, this.log);
    const redis = connectRedis(config, this.log, 'quiz-state', { commandTimeoutMs: 3000 });
    this.store = new QuizStore(redis, settings.ttlSeconds);
    this.limits = new AddressLimits(redis);
    this.dynamo = connectDynamo(settings.dynamoEndpoint);
    this.questionSets = new QuestionSetStore(this.dynamo, settings.questionSetsTable, settings.ttlSeconds);
    this.writer = new ResultWriter(this.store, this.questionSets, this.dynamo, settings.resultsTable, afterWriterStep);
    this.reader = new ResultReader(this.dynamo, settings.resultsTable);
    this.signer = new TokenSigner(settings.tokenSecret);
  }

  public async start(): Promise<number> {
    await this.bus.subscribe(EVENTS_CHANNEL, payload => this.relay(payload));
    const port = await this.server.listen();
    this.leaderboardTimer = setInterval(() => this.publishLeaderboards(), this.settings.leaderboardIntervalMs);
    this.sweeper = setInterval(() => void this.sweep(), this.settings.sweepMs);
    return port;
  }

  // ---- HTTP: sign-on, upload, join ----

  private async route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> {
    try {
      return await this.routeApi(req, res, url);
    } catch (err) {
      if (err instanceof QuizError) {
        const retry = typeof err.extra.retryAfterMs === 'number' ? { 'retry-after': String(Math.ceil(err.extra.retryAfterMs / 1000)) } : undefined;
        sendJson(res, err.status, { error: err.code, message: err.message, ...err.extra }, retry);
        return true;
      }
      throw err;
    }
  }

  private async routeApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (path === '/api/sign-on/host') {
      this.requireMethod(req, 'POST');
      await this.limit(this.settings.bounds.hosts, req);
      const quizId = await this.newQuiz();
      sendJson(res, 201, { quizId, token: this.signer.issue({ role: 'host', quizId }) });
      return true;
    }
    if (path === '/api/upload/quiz') {
      this.requireMethod(req, 'POST');
      const identity = this.bearer(req);
      if (identity.role !== 'host') {
        throw new QuizError('not_host', 'only the host uploads questions; sign on with POST /api/sign-on/host', 403);
      }
      await this.limit(this.settings.bounds.uploads, req);
      res.setHeader('cache-control', 'no-store');
      sendJson(res, 200, await this.upload(identity.quizId, await readJson(req, LIMITS.uploadBytes)));
      return true;
    }
    const join = /^\/api\/sign-on\/([^/]*)\/join$/.exec(path);
    if (join) {
      this.requireMethod(req, 'POST');
      await this.limit(this.settings.bounds.joins, req);
      const body = JoinBody.safeParse(await readJson(req, 4096));
      if (!body.success) {
        throw new QuizError('invalid_payload', describeIssues(body.error));
      }
      sendJson(res, 201, await this.join(decodeURIComponent(join[1]), body.data.name));
      return true;
    }
    if (path.startsWith('/api/')) {
      throw new QuizError('unknown_type', `no route for ${req.method} ${path}`, 404);
    }
    if (req.method === 'GET' && this.settings.webDir) {
      res.setHeader('content-security-policy', FRONT_DOOR_CSP);
      return serveStatic(this.settings.webDir, path === '/host' ? '/host.html' : path, res);
    }
    return false;
  }

  private requireMethod(req: http.IncomingMessage, method: string): void {
    if (req.method !== method) {
      throw new QuizError('bad_message', `use ${method}`, 405);
    }
  }

  private bearer(req: http.IncomingMessage): Identity {
    const header = req.headers.authorization ?? '';
    const identity = header.startsWith('Bearer ') ? this.signer.verify(header.slice(7)) : undefined;
    if (!identity) {
      throw new QuizError('unauthorized', 'send the sign-on token as Authorization: Bearer <token>', 401);
    }
    return identity;
  }

  private async limit(bound: AddressBound, req: http.IncomingMessage): Promise<string> {
    const address = addressKey(clientAddress(req, this.settings.trustedProxies));
    await this.limits.take(bound, address);
    return address;
  }

  private async newQuiz(): Promise<string> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const quizId = Array.from({ length: 8 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
      if (await this.store.create(quizId)) {
        return quizId;
      }
    }
    throw new QuizError('unavailable', 'no free quiz id; try again', 503);
  }

  private async upload(quizId: string, body: unknown) {
    const parsed = UploadBody.safeParse(body);
    if (!parsed.success) {
      throw new QuizError('invalid_questions', `send [{question, category, options[], answers[]}]: ${describeIssues(parsed.error)}`);
    }
    const questions = validateQuestionSet(Array.isArray(parsed.data) ? parsed.data : parsed.data.questions);
    const meta = await this.store.meta(quizId);
    if (!meta) {
      throw new QuizError('unknown_quiz', `no quiz ${quizId}; it may have expired`, 404);
    }
    if (meta.state !== 'created') {
      throw new QuizError('already_started', 'the quiz has started; its questions are fixed', 409);
    }
    await this.questionSets.put(quizId, questions);
    await this.store.setUploaded(quizId, questions.length);
    return { quizId, questions: questions.length, categories: [...new Set(questions.map(q => q.category))] };
  }

  private async join(quizId: string, rawName: string) {
    if (!QUIZ_ID.test(quizId)) {
      throw new QuizError('unknown_quiz', 'a quiz id is 8 letters a-z or digits', 404);
    }
    const name = checkName(rawName);
    const userId = randomBytes(9).toString('base64url');
    const { status, participants } = await this.store.join(quizId, userId, name, 'join', this.settings.maxParticipants);
    if (status === 'unknown_quiz') {
      throw new QuizError('unknown_quiz', `no quiz ${quizId}`, 404);
    }
    if (status === 'already_started') {
      throw new QuizError('already_started', 'the quiz has started; joining is closed', 409);
    }
    if (status === 'quiz_full') {
      throw new QuizError('quiz_full', `the quiz has its ${this.settings.maxParticipants} participants`, 409);
    }
    this.publish(quizId, { kind: 'all', frame: { type: 'BROADCAST-PARTICIPANT-CONFIG', payload: { userId, name, totalParticipants: participants } } });
    return { quizId, userId, name, token: this.signer.issue({ role: 'participant', quizId, userId }) };
  }

  // ---- WebSocket ----

  private async authenticate(req: http.IncomingMessage, url: URL): Promise<Connection> {
    const identity = this.signer.verify(url.searchParams.get('token') ?? '');
    if (!identity) {
      throw new HttpError(401, 'unauthorized', 'connect with ?token=<sign-on token>');
    }
    let address: string;
    try {
      address = await this.limit(this.settings.bounds.connections, req);
    } catch (err) {
      if (err instanceof QuizError) {
        const retry = typeof err.extra.retryAfterMs === 'number' ? { 'retry-after': String(Math.ceil(err.extra.retryAfterMs / 1000)) } : undefined;
        throw new HttpError(err.status, err.code, err.message, retry);
      }
      throw err;
    }
    return { identity, address, tail: Promise.resolve(), closed: false };
  }

  private async connected(client: Client): Promise<void> {
    const { identity } = client.context;
    let set = this.members.get(identity.quizId);
    if (!set) {
      set = new Set();
      this.members.set(identity.quizId, set);
    }
    set.add(client);
    await this.sendState(client).catch(err => {
      this.log.warn({ err: (err as Error).message }, 'state not sent on connect');
      client.error('unavailable', 'the quiz state could not be read; reconnect');
    });
  }

  /** Tells a (re)connected client where the quiz and it stand. */
  private async sendState(client: Client): Promise<void> {
    const { identity } = client.context;
    const meta = await this.store.meta(identity.quizId);
    if (!meta || meta.state === 'finished') {
      // The writer may remove the Redis keys meanwhile: then the stored results answer.
      const snapshot = meta ? await this.store.snapshot(identity.quizId) : undefined;
      const results = snapshot ? buildResults(identity.quizId, snapshot) : undefined;
      const quiz = results?.quiz ?? await this.reader.quiz(identity.quizId);
      if (!quiz) {
        client.send({ type: 'QUIZ-STATE', payload: { quizId: identity.quizId, role: identity.role, state: 'unknown' } });
        client.close(4404, 'unknown quiz');
        return;
      }
      client.send({ type: 'QUIZ-STATE', payload: { quizId: identity.quizId, role: identity.role, state: 'finished' } });
      client.send({ type: 'BROADCAST-QUIZ-FINISHED', payload: {} });
      if (identity.role === 'host') {
        client.send({ type: 'NOTIFY-HOST-QUIZ-SUMMARY', payload: hostSummary(quiz) });
      } else {
        const p = results?.participants.find(r => r.userId === identity.userId) ?? await this.reader.participant(identity.quizId, identity.userId);
        if (p) {
          client.send({ type: 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY', payload: participantSummary(quiz, p) });
        }
      }
      return;
    }
    const base = { quizId: identity.quizId, role: identity.role, state: meta.state, questionsUploaded: meta.uploaded };
    if (identity.role === 'participant') {
      const step = meta.state === 'started' ? await this.store.step(identity.quizId, identity.userId, 'peek') : undefined;
      if (step && step.status !== 'ok' && step.status !== 'done') {
        throw new QuizError(step.status === 'quiz_finished' ? 'quiz_finished' : 'not_participant', step.status);
      }
      client.send({
        type: 'QUIZ-STATE',
        payload: { ...base, userId: identity.userId, questionIndex: step?.index ?? 0, score: step?.score ?? 0, finished: step?.status === 'done' },
      });
      if (step?.finishedNow) {
        this.participantFinished(identity.quizId, step);
      }
    } else {
      client.send({ type: 'QUIZ-STATE', payload: base });
    }
    if (meta.state === 'started') {
      client.send({ type: 'BROADCAST-START', payload: startPayload(meta.name!, meta.startTime!, meta.durationMs!, meta.n!) });
    }
    const updatedAt = Date.now();
    const board = await this.store.leaderboard(identity.quizId, this.settings.leaderboardSize);
    client.send({ type: 'LEADERBOARD', payload: { leaderboard: board.top, totalParticipants: board.participants, updatedAt } });
    if (identity.role === 'host' && meta.state === 'started') {
      client.send({ type: 'HOST-PROGRESS', payload: await this.store.progress(identity.quizId, meta.n!) });
    }
  }

  private disconnected(client: Client): void {
    client.context.closed = true;
    const set = this.members.get(client.context.identity.quizId);
    set?.delete(client);
    if (set?.size === 0) {
      // Nothing of the quiz stays in this process once none of its clients is here.
      this.members.delete(client.context.identity.quizId);
      this.questionCache.delete(client.context.identity.quizId);
      this.durations.delete(client.context.identity.quizId);
    }
  }

  /** Runs a connection's messages one at a time, in order. */
  private enqueue(client: Client, envelope: Envelope): Promise<void> {
    const run = client.context.tail.then(() => this.dispatch(client, envelope));
    client.context.tail = run.catch(() => undefined);
    this.track(run);
    return run;
  }

  private async dispatch(client: Client, envelope: Envelope): Promise<void> {
    if (client.context.closed) {
      return;
    }
    try {
      await this.handle(client, envelope);
    } catch (err) {
      if (err instanceof QuizError) {
        client.error(err.code, err.message, err.extra);
        return;
      }
      throw err;
    }
  }

  private async handle(client: Client, envelope: Envelope): Promise<void> {
    if (!Object.hasOwn(ClientMessages, envelope.type)) {
      throw new QuizError('unknown_type', `unknown type ${JSON.stringify(envelope.type)}; the types are ${Object.keys(ClientMessages).join(', ')}`);
    }
    const type = envelope.type as ClientType;
    const parsed = ClientMessages[type].safeParse(envelope.payload ?? {});
    if (!parsed.success) {
      throw new QuizError('invalid_payload', `${type}: ${describeIssues(parsed.error)}`);
    }
    const identity = client.context.identity;
    if (HOST_TYPES.has(type) !== (identity.role === 'host')) {
      throw identity.role === 'host'
        ? new QuizError('not_participant', `${type} is a participant's message; the host's are ${[...HOST_TYPES].join(', ')}`)
        : new QuizError('not_host', `${type} is the host's message`);
    }
    const payload = parsed.data as Record<string, unknown>;
    switch (type) {
      case 'HOST-CONFIG':
        return this.startQuiz(identity.quizId, payload as HostConfig);
      case 'REQUEST-HOST-QUESTIONS': {
        const questions = await this.questionSets.get(identity.quizId);
        client.send({ type: 'RESPONSE-HOST-QUESTIONS', payload: { questions: questions ?? [], categories: [...new Set((questions ?? []).map(q => q.category))] } });
        return;
      }
      case 'PARTICIPANT-CONFIG': {
        const quizId = identity.quizId;
        const userId = (identity as { userId: string }).userId;
        const name = checkName(payload.name as string);
        const { status, participants } = await this.store.join(quizId, userId, name, 'rename');
        if (status !== 'ok') {
          throw new QuizError(status === 'already_started' ? 'already_started' : 'not_participant', status === 'already_started' ? 'names are fixed once the quiz starts' : 'join the quiz first');
        }
        this.publish(quizId, { kind: 'all', frame: { type: 'BROADCAST-PARTICIPANT-CONFIG', payload: { userId, name, totalParticipants: participants } } });
        return;
      }
      case 'REQUEST-PARTICIPANT-QUESTION':
        return this.sendQuestion(client, payload.questionIndex as number);
      case 'PARTICIPANT-ANSWER':
      case 'PARTICIPANT-ANSWER-TIMEOUT':
        return this.answer(client, type, payload.questionIndex as number, (payload.selectedOptionIndexes as number[] | undefined) ?? []);
    }
  }

  private async startQuiz(quizId: string, config: HostConfig): Promise<void> {
    const quizName = config.quizName.trim();
    if (quizName.length === 0 || quizName.length > LIMITS.quizNameChars) {
      throw new QuizError('invalid_config', `quizName has ${quizName.length} characters; use 1-${LIMITS.quizNameChars}`);
    }
    if (config.duration < LIMITS.durationMin || config.duration > LIMITS.durationMax) {
      throw new QuizError('invalid_config', `duration is ${config.duration} s; use ${LIMITS.durationMin}-${LIMITS.durationMax} seconds per question`);
    }
    const set = await this.questionSets.get(quizId);
    if (!set) {
      throw new QuizError('no_questions', 'upload a question set first (POST /api/upload/quiz)');
    }
    const known = new Set(set.map(q => q.category));
    const categories = [...new Set(config.categories.map(c => c.trim()))];
    if (categories.length === 0) {
      throw new QuizError('invalid_config', `choose at least one category of ${[...known].join(', ')}`);
    }
    for (const c of categories) {
      if (!known.has(c)) {
        throw new QuizError('invalid_config', `no category ${JSON.stringify(c)} in the set; the categories are ${[...known].join(', ')}`);
      }
    }
    const indexes = config.selectedQuestionIndexes;
    if (indexes.length === 0) {
      throw new QuizError('invalid_config', 'select at least one question');
    }
    indexes.forEach((index, k) => {
      if (index >= set.length) {
        throw new QuizError('invalid_config', `question index ${index} is out of range; the set has questions 0-${set.length - 1}`);
      }
      if (indexes.indexOf(index) !== k) {
        throw new QuizError('invalid_config', `question index ${index} is selected twice`);
      }
      if (!categories.includes(set[index].category)) {
        throw new QuizError('invalid_config', `question ${index} is in category ${JSON.stringify(set[index].category)}, which is not chosen`);
      }
    });
    const questions = indexes.map(i => set[i]);
    const durationMs = config.duration * 1000;
    const started = await this.store.start(quizId, quizName, categories, durationMs, questions);
    if (started.status === 'already_started') {
      throw new QuizError('already_started', 'the quiz has started already');
    }
    if (started.status === 'no_participants') {
      throw new QuizError('invalid_config', 'no participant has joined yet; share the quiz id and wait for them');
    }
    if (started.status !== 'ok') {
      throw new QuizError('unknown_quiz', `no quiz ${quizId}; it may have expired`);
    }
    this.log.info({ quizId, questions: questions.length, durationMs }, 'quiz started');
    this.publish(quizId, { kind: 'all', frame: { type: 'BROADCAST-START', payload: startPayload(quizName, started.startTime, durationMs, questions.length) } });
    this.dirty.add(quizId);
  }

  private questionsOf(quizId: string): Promise<Question[] | undefined> {
    let cached = this.questionCache.get(quizId);
    if (!cached) {
      cached = this.store.questions(quizId);
      this.questionCache.set(quizId, cached);
      cached.then(q => { if (!q) this.questionCache.delete(quizId); }, () => this.questionCache.delete(quizId));
    }
    return cached;
  }

  private async sendQuestion(client: Client, questionIndex: number): Promise<void> {
    const { quizId, userId } = client.context.identity as { quizId: string; userId: string };
    const step = await this.store.step(quizId, userId, 'peek');
    this.checkStep(quizId, step);
    if (step.status === 'done') {
      throw new QuizError('wrong_question', 'you have answered every question; wait for the summary', 400, { currentQuestionIndex: step.index });
    }
    if (questionIndex !== step.index) {
      throw new QuizError('wrong_question', `you are on question ${step.index}`, 400, { currentQuestionIndex: step.index });
    }
    const questions = (await this.questionsOf(quizId))!;
    const q = questions[step.index];
    const durationMs = await this.durationOf(quizId);
    client.send({
      type: 'RESPONSE-PARTICIPANT-QUESTION',
      payload: {
        questionIndex: step.index,
        question: q.question,
        category: q.category,
        options: q.options,
        numberOfOptionsToSelect: q.answers.length,
        numberOfQuestions: questions.length,
        questionDuration: durationMs / 1000,
        remainingMs: Math.max(0, step.availableAt + durationMs - step.now),
      },
    });
  }

  private async durationOf(quizId: string): Promise<number> {
    let duration = this.durations.get(quizId);
    if (duration === undefined) {
      duration = (await this.store.meta(quizId))?.durationMs ?? 0;
      this.durations.set(quizId, duration);
    }
    return duration;
  }

  private async answer(client: Client, type: 'PARTICIPANT-ANSWER' | 'PARTICIPANT-ANSWER-TIMEOUT', questionIndex: number, selected: number[]): Promise<void> {
    const { quizId, userId } = client.context.identity as { quizId: string; userId: string };
    await this.limits.take(this.settings.bounds.answers, client.context.address);
    let fraction = 0;
    let outcome: Outcome = 'incorrect';
    if (type === 'PARTICIPANT-ANSWER') {
      const questions = await this.questionsOf(quizId);
      const q = questions?.[questionIndex];
      if (q) {
        selected.forEach((s, k) => {
          if (s >= q.options.length) {
            throw new QuizError('invalid_answer', `option ${s} does not exist; question ${questionIndex} has options 0-${q.options.length - 1}`);
          }
          if (selected.indexOf(s) !== k) {
            throw new QuizError('invalid_answer', `option ${s} is selected twice`);
          }
        });
        if (selected.length > q.answers.length) {
          throw new QuizError('invalid_answer', `select at most ${q.answers.length} option(s); ${selected.length} were selected`);
        }
        fraction = correctFraction(q.answers, selected);
        outcome = fraction === 1 ? 'correct' : 'incorrect';
      }
    }
    const step = await this.store.step(quizId, userId, type === 'PARTICIPANT-ANSWER' ? 'answer' : 'timeout', questionIndex, fraction, outcome, [...selected].sort((a, b) => a - b));
    this.checkStep(quizId, step);
    if (step.status === 'done' || step.status === 'wrong_question') {
      throw new QuizError('wrong_question', step.status === 'done' ? 'you have answered every question' : `you are on question ${step.index}`, 400, { currentQuestionIndex: step.index });
    }
    client.send({
      type: 'RESPONSE-PARTICIPANT-ANSWER',
      payload: {
        questionIndex,
        outcome: step.outcome,
        answerMs: step.answerMs,
        answeredAt: step.now,
        points: step.points,
        score: step.score,
        nextQuestionIndex: step.index,
        finished: step.index >= (await this.questionsOf(quizId))!.length,
      },
    });
    if (step.status === 'ok') {
      this.server.metrics.count('Answers');
      this.dirty.add(quizId);
    }
  }

  /** Refuses moves on a quiz that is not running, and reports a participant who just finished. */
  private checkStep(quizId: string, step: StepResult): void {
    switch (step.status) {
      case 'unknown_quiz':
        throw new QuizError('unknown_quiz', 'the quiz is gone');
      case 'not_started':
        throw new QuizError('not_started', 'the quiz has not started; wait for BROADCAST-START');
      case 'quiz_finished':
        throw new QuizError('quiz_finished', 'the quiz is over');
      case 'not_participant':
        throw new QuizError('not_participant', 'you are not a participant of this quiz');
      default:
        if (step.finishedNow) {
          this.participantFinished(quizId, step);
        }
    }
  }

  private participantFinished(quizId: string, step: StepResult): void {
    this.dirty.add(quizId);
    this.publish(quizId, { kind: 'all', frame: { type: 'BROADCAST-PARTICIPANT-FINISHED', payload: { totalFinishedParticipants: step.finished, totalParticipants: step.participants } } });
    if (step.finished >= step.participants) {
      this.track(this.finishQuiz(quizId));
    }
  }

  /**
   * Ends a quiz once (every participant finished, or its deadline passed): files it for result writing,
   * marks it finished, tells every server (which send the summaries), then stores the results.
   */
  public async finishQuiz(quizId: string): Promise<void> {
    await this.store.fileResults(quizId);
    const stopTime = await this.store.finish(quizId);
    await this.store.forgetDeadline(quizId);
    if (stopTime === undefined) {
      return;
    }
    const snapshot = await this.store.snapshot(quizId);
    if (snapshot) {
      const results = buildResults(quizId, snapshot);
      await this.publishNow(quizId, { kind: 'finished', results });
      this.log.info({ quizId, participants: results.participants.length }, 'quiz finished');
    }
    await this.storeResults(quizId);
  }

  private async storeResults(quizId: string): Promise<void> {
    const outcome = await this.writer.write(quizId);
    if (outcome.status !== 'not_finished') {
      await this.store.resultsDone(quizId);
      this.log.info({ quizId, ...outcome }, 'results stored');
    }
  }

  /** Finishes overdue quizzes and stores results that are due (another server may have died on them). */
  private async sweep(): Promise<void> {
    if (this.sweeping) {
      return;
    }
    this.sweeping = true;
    try {
      for (const quizId of await this.store.overdue()) {
        await this.finishQuiz(quizId);
      }
      for (let quizId = await this.store.claimResults(30_000); quizId; quizId = await this.store.claimResults(30_000)) {
        await this.storeResults(quizId);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'sweep failed; retrying');
    } finally {
      this.sweeping = false;
    }
  }

  // ---- Fan-out ----

  /** Every interval: one leaderboard (and host progress) frame per quiz that had answers here. */
  private publishLeaderboards(): void {
    for (const quizId of this.dirty) {
      this.dirty.delete(quizId);
      this.track((async () => {
        const updatedAt = Date.now();
        const board = await this.store.leaderboard(quizId, this.settings.leaderboardSize);
        await this.publishNow(quizId, { kind: 'all', frame: { type: 'LEADERBOARD', payload: { leaderboard: board.top, totalParticipants: board.participants, updatedAt } } });
        const n = (await this.questionsOf(quizId))?.length;
        if (n) {
          await this.publishNow(quizId, { kind: 'host', frame: { type: 'HOST-PROGRESS', payload: await this.store.progress(quizId, n) } });
        }
      })().catch(err => this.log.warn({ err: (err as Error).message, quizId }, 'leaderboard not published')));
    }
  }

  private publish(quizId: string, event: QuizEvent): void {
    this.track(this.publishNow(quizId, event).catch(err => this.log.warn({ err: (err as Error).message, quizId }, 'event not published')));
  }

  /** One bus message: `<quizId> <kind>\n<JSON>`; a frame's JSON is serialized here once. */
  private async publishNow(quizId: string, event: QuizEvent): Promise<void> {
    const body = event.kind === 'finished' ? JSON.stringify(event.results) : JSON.stringify(event.frame);
    await this.bus.publish(EVENTS_CHANNEL, `${quizId} ${event.kind}\n${body}`);
  }

  private relay(payload: Buffer): void {
    const newline = payload.indexOf(10);
    if (newline < 0) {
      return;
    }
    const [quizId, kind] = payload.subarray(0, newline).toString().split(' ');
    const members = this.members.get(quizId);
    if (kind === 'finished') {
      this.questionCache.delete(quizId);
      this.durations.delete(quizId);
      this.dirty.delete(quizId);
      if (members) {
        this.sendSummaries(members, JSON.parse(payload.subarray(newline + 1).toString()) as QuizResults);
      }
      return;
    }
    if (!members || members.size === 0) {
      return;
    }
    this.server.broadcast(payload.subarray(newline + 1), {
      binary: false,
      clients: members,
      filter: kind === 'host' ? c => c.context.identity.role === 'host' : undefined,
    });
  }

  private sendSummaries(members: Set<Client>, results: QuizResults): void {
    const byUser = new Map(results.participants.map(p => [p.userId, p]));
    this.server.broadcast(JSON.stringify({ type: 'BROADCAST-QUIZ-FINISHED', payload: {} }), { binary: false, clients: members });
    for (const client of members) {
      const identity = client.context.identity;
      if (identity.role === 'host') {
        client.send({ type: 'NOTIFY-HOST-QUIZ-SUMMARY', payload: hostSummary(results.quiz) });
      } else {
        const p = byUser.get(identity.userId);
        if (p) {
          client.send({ type: 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY', payload: participantSummary(results.quiz, p) });
        }
      }
    }
  }

  // ---- Lifecycle ----

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    work.then(() => this.pending.delete(work), err => {
      this.pending.delete(work);
      this.log.warn({ err: (err as Error)?.message }, 'background work failed');
    });
  }

  private async settle(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.allSettled([...this.pending]);
    }
  }

  private async close(): Promise<void> {
    clearInterval(this.leaderboardTimer);
    clearInterval(this.sweeper);
    while (this.sweeping) {
      await new Promise(r => setTimeout(r, 20));
    }
    await this.settle();
    await this.bus.close();
    this.store.client.disconnect();
    this.dynamo.client.destroy();
  }
}

function startPayload(quizName: string, startTime: number, durationMs: number, n: number) {
  return { quizName, startTimeEpochSecs: Math.floor(startTime / 1000), startTime, questionDuration: durationMs / 1000, numberOfQuestions: n };
}

/** A participant's name: trimmed, 1-32 characters, no control characters. */
function checkName(raw: string): string {
  const name = raw.trim();
  const length = [...name].length;
  // eslint-disable-next-line no-control-regex
  if (length === 0 || length > LIMITS.nameChars || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new QuizError('invalid_name', `a name has 1-${LIMITS.nameChars} characters and no control characters`);
  }
  return name;
}
