import type { Cluster, Redis } from 'ioredis';
import { DEADLINES_KEY, PENDING_RESULTS_KEY, quizKeys } from './keys';
import { LeaderboardEntry, Outcome, Question, QuestionCounts } from './protocol';
import { CLAIM, FINISH, JOIN, START, STEP } from './scripts';

type Client = Redis | Cluster;

export type QuizState = 'created' | 'started' | 'finished';

/** A quiz's settings and clock as kept in Redis. */
export interface QuizMeta {
  readonly state: QuizState;
  readonly uploaded: number;
  readonly name?: string;
  readonly categories?: string[];
  readonly durationMs?: number;
  readonly n?: number;
  readonly startTime?: number;
  readonly deadline?: number;
  readonly stopTime?: number;
}

/** The outcome of one participant's move (see scripts.ts STEP). */
export interface StepResult {
  readonly status: 'ok' | 'late' | 'done' | 'wrong_question' | 'unknown_quiz' | 'not_started' | 'quiz_finished' | 'not_participant';
  /** The question the participant is on now (n once finished). */
  readonly index: number;
  readonly availableAt: number;
  readonly now: number;
  readonly outcome?: Outcome;
  readonly answerMs: number;
  readonly points: number;
  readonly score: number;
  readonly finishedNow: boolean;
  readonly finished: number;
  readonly participants: number;
}

/** One stored answer. */
export interface StoredAnswer {
  readonly s: number[];
  readonly ms: number;
  readonly p: number;
  readonly o: Outcome;
}

/** Everything Redis holds about a quiz, read at once. */
export interface QuizSnapshot {
  readonly meta: QuizMeta;
  readonly questions: Question[];
  readonly names: Record<string, string>;
  readonly scores: Record<string, number>;
  readonly answers: Record<string, StoredAnswer>;
  readonly stopped: Record<string, number>;
}

interface ScriptCommands {
  quizJoin(...args: Array<string | number>): Promise<[string, number]>;
  quizStart(...args: Array<string | number>): Promise<[string, number, number]>;
  quizStep(...args: Array<string | number>): Promise<Array<string | number>>;
  quizFinish(key: string): Promise<number>;
  quizClaim(key: string, leaseMs: number): Promise<string | null>;
}

/**
 * Quiz state in Redis: every key expires (`ttlSeconds` after the last change), the leaderboard is a
 * sorted set, and every change that must be atomic is one Lua script. No server keeps quiz state of its
 * own, so any server can serve any participant.
 */
export class QuizStore {
  private readonly redis: Client & ScriptCommands;

  constructor(redis: Client, private readonly ttlSeconds: number) {
    redis.defineCommand('quizJoin', { numberOfKeys: 2, lua: JOIN });
    redis.defineCommand('quizStart', { numberOfKeys: 9, lua: START });
    redis.defineCommand('quizStep', { numberOfKeys: 8, lua: STEP });
    redis.defineCommand('quizFinish', { numberOfKeys: 1, lua: FINISH });
    redis.defineCommand('quizClaim', { numberOfKeys: 1, lua: CLAIM });
    this.redis = redis as Client & ScriptCommands;
  }

  public get client(): Client {
    return this.redis;
  }

  /** Creates a quiz; false if the id is taken. */
  public async create(quizId: string): Promise<boolean> {
    const k = quizKeys(quizId);
    const created = await this.redis.hsetnx(k.meta, 'state', 'created');
    if (created === 1) {
      await this.redis.multi().hset(k.meta, 'createdAt', Date.now(), 'uploaded', 0).expire(k.meta, this.ttlSeconds).exec();
    }
    return created === 1;
  }

  public async meta(quizId: string): Promise<QuizMeta | undefined> {
    const raw = await this.redis.hgetall(quizKeys(quizId).meta);
    return raw.state ? parseMeta(raw) : undefined;
  }

  public async setUploaded(quizId: string, count: number): Promise<void> {
    await this.redis.hset(quizKeys(quizId).meta, 'uploaded', count);
  }

  /** Adds (or renames) a participant of a quiz that has not started. */
  public async join(quizId: string, userId: string, name: string, mode: 'join' | 'rename', maxParticipants = 1_000_000): Promise<{ status: string; participants: number }> {
    const k = quizKeys(quizId);
    const [status, participants] = await this.redis.quizJoin(k.meta, k.names, userId, name, this.ttlSeconds, mode, maxParticipants);
    return { status, participants: Number(participants) };
  }

  /** Starts the quiz with its selected questions; also files its deadline. */
  public async start(quizId: string, name: string, categories: string[], durationMs: number, questions: Question[]):
  Promise<{ status: string; startTime: number; deadline: number }> {
    const k = quizKeys(quizId);
    const [status, startTime, deadline] = await this.redis.quizStart(
      k.meta, k.names, k.leaderboard, k.questions, k.next, k.available, k.answers, k.stopped, k.counts,
      name, JSON.stringify(categories), durationMs, questions.length, JSON.stringify(questions), this.ttlSeconds);
    if (status === 'ok') {
      await this.redis.zadd(DEADLINES_KEY, Number(deadline), quizId);
    }
    return { status, startTime: Number(startTime), deadline: Number(deadline) };
  }

  public async questions(quizId: string): Promise<Question[] | undefined> {
    const raw = await this.redis.get(quizKeys(quizId).questions);
    return raw ? JSON.parse(raw) as Question[] : undefined;
  }

  public async step(quizId: string, userId: string, kind: 'peek' | 'answer' | 'timeout', index = 0, fraction = 0, outcome: Outcome = 'incorrect', selected: number[] = []): Promise<StepResult> {
    const k = quizKeys(quizId);
    const out = await this.redis.quizStep(k.meta, k.names, k.leaderboard, k.next, k.available, k.answers, k.stopped, k.counts,
      userId, kind, index, String(fraction), outcome, JSON.stringify(selected), this.ttlSeconds);
    const status = out[0] as StepResult['status'];
    if (out.length === 1) {
      return { status, index: 0, availableAt: 0, now: 0, answerMs: 0, points: 0, score: 0, finishedNow: false, finished: 0, participants: 0 };
    }
    return {
      status,
      index: Number(out[1]),
      availableAt: Number(out[2]),
      now: Number(out[3]),
      outcome: (out[4] || undefined) as Outcome | undefined,
      answerMs: Number(out[5]),
      points: Number(out[6]),
      score: Number(out[7]),
      finishedNow: Number(out[8]) === 1,
      finished: Number(out[9]),
      participants: Number(out[10]),
    };
  }

  /** The top `count` of the leaderboard, best first (equal scores: by userId, descending, as Redis orders them). */
  public async leaderboard(quizId: string, count: number): Promise<{ top: LeaderboardEntry[]; participants: number }> {
    const k = quizKeys(quizId);
    const [[, flat], [, participants]] = (await this.redis.multi().zrevrange(k.leaderboard, 0, count - 1, 'WITHSCORES').zcard(k.leaderboard).exec())! as [[null, string[]], [null, number]];
    const ids = flat.filter((_, i) => i % 2 === 0);
    const names = ids.length ? await this.redis.hmget(k.names, ...ids) : [];
    return { top: ids.map((userId, i) => ({ userId, name: names[i] ?? '', score: Number(flat[2 * i + 1]) })), participants };
  }

  /** Live counts for the host: per question, how many answered correctly, incorrectly, or timed out. */
  public async progress(quizId: string, n: number): Promise<{ counts: QuestionCounts[]; finished: number; participants: number }> {
    const k = quizKeys(quizId);
    const out = await this.redis.multi().hgetall(k.counts).hlen(k.stopped).hlen(k.names).exec();
    const [[, counts], [, finished], [, participants]] = out! as [[null, Record<string, string>], [null, number], [null, number]];
    return {
      counts: Array.from({ length: n }, (_, i) => ({
        correct: Number(counts[`${i}:correct`] ?? 0),
        incorrect: Number(counts[`${i}:incorrect`] ?? 0),
        timedOut: Number(counts[`${i}:timeout`] ?? 0),
      })),
      finished,
      participants,
    };
  }

  /** Marks a running quiz finished; its stop time, or undefined if it was not running. */
  public async finish(quizId: string): Promise<number | undefined> {
    const stopTime = Number(await this.redis.quizFinish(quizKeys(quizId).meta));
    return stopTime > 0 ? stopTime : undefined;
  }

  /** Quizzes whose deadline passed. */
  public async overdue(now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(DEADLINES_KEY, '-inf', now, 'LIMIT', 0, 100);
  }

  public async forgetDeadline(quizId: string): Promise<void> {
    await this.redis.zrem(DEADLINES_KEY, quizId);
  }

  /** Files a quiz for result writing (due now unless already filed). */
  public async fileResults(quizId: string): Promise<void> {
    await this.redis.zadd(PENDING_RESULTS_KEY, 'NX', Date.now(), quizId);
  }

  /** Takes the next quiz whose results are due, leased for `leaseMs`. */
  public async claimResults(leaseMs: number): Promise<string | undefined> {
    return (await this.redis.quizClaim(PENDING_RESULTS_KEY, leaseMs)) ?? undefined;
  }

  public async resultsDone(quizId: string): Promise<void> {
    await this.redis.zrem(PENDING_RESULTS_KEY, quizId);
  }

  /** Everything about a quiz, for summaries and for storing the results; undefined once it is gone. */
  public async snapshot(quizId: string): Promise<QuizSnapshot | undefined> {
    const k = quizKeys(quizId);
    const out = (await this.redis.multi()
      .hgetall(k.meta).get(k.questions).hgetall(k.names).zrange(k.leaderboard, 0, -1, 'WITHSCORES').hgetall(k.answers).hgetall(k.stopped)
      .exec())!.map(([err, value]) => {
      if (err) {
        throw err;
      }
      return value;
    }) as [Record<string, string>, string | null, Record<string, string>, string[], Record<string, string>, Record<string, string>];
    const [meta, questions, names, flat, answers, stopped] = out;
    if (!meta.state) {
      return undefined;
    }
    const scores: Record<string, number> = {};
    for (let i = 0; i < flat.length; i += 2) {
      scores[flat[i]] = Number(flat[i + 1]);
    }
    return {
      meta: parseMeta(meta),
      questions: questions ? JSON.parse(questions) : [],
      names,
      scores,
      answers: Object.fromEntries(Object.entries(answers).map(([key, value]) => [key, JSON.parse(value) as StoredAnswer])),
      stopped: Object.fromEntries(Object.entries(stopped).map(([key, value]) => [key, Number(value)])),
    };
  }

  /** Deletes every key of the quiz. */
  public async remove(quizId: string): Promise<void> {
    await this.redis.del(...Object.values(quizKeys(quizId)));
    await this.redis.zrem(DEADLINES_KEY, quizId);
  }
}

function parseMeta(raw: Record<string, string>): QuizMeta {
  const num = (name: string) => (raw[name] === undefined ? undefined : Number(raw[name]));
  return {
    state: raw.state as QuizState,
    uploaded: Number(raw.uploaded ?? 0),
    name: raw.name,
    categories: raw.categories ? JSON.parse(raw.categories) : undefined,
    durationMs: num('duration'),
    n: num('n'),
    startTime: num('startTime'),
    deadline: num('deadline'),
    stopTime: num('stopTime'),
  };
}
