import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { HostQuestionSummary, LeaderboardEntry, Outcome, ParticipantQuestionSummary } from './protocol';
import { QuestionSetStore } from './question-sets';
import { QuizSnapshot, QuizStore } from './store';
import { Dynamo } from '../../kit/dynamo';

/** The stored `quiz` item of a finished quiz: also the host's summary. */
export interface QuizResult {
  readonly quizId: string;
  readonly name: string;
  readonly categories: string[];
  readonly durationMs: number;
  readonly startTime: number;
  readonly stopTime: number;
  readonly totalTimeElapsed: number;
  /** Mean answer time (ms) of the answers given in time; 0 when there were none. */
  readonly avgAnswerTime: number;
  readonly participants: number;
  readonly questions: HostQuestionSummary[];
  readonly leaderboard: LeaderboardEntry[];
}

export interface ParticipantAnswer {
  readonly selectedOptionIndexes: number[];
  readonly answerMs: number;
  readonly points: number;
  readonly outcome: Outcome;
}

/** The stored `participant#<userId>` item. */
export interface ParticipantResult {
  readonly userId: string;
  readonly name: string;
  readonly score: number;
  /** 1 for the best score; equal scores are ordered as the leaderboard orders them. */
  readonly rank: number;
  readonly stopTime: number;
  readonly totalTimeElapsed: number;
  readonly avgAnswerTime: number;
  readonly answers: ParticipantAnswer[];
}

export interface QuizResults {
  readonly quiz: QuizResult;
  readonly participants: ParticipantResult[];
}

/** How many leaderboard entries the summaries and the stored quiz item carry. */
export const SUMMARY_LEADERBOARD = 10;

/**
 * A finished quiz's results from its Redis snapshot. A question a participant never answered counts as
 * timed out (the quiz ended before they got to it).
 */
export function buildResults(quizId: string, s: QuizSnapshot): QuizResults {
  const durationMs = s.meta.durationMs ?? 0;
  const startTime = s.meta.startTime ?? 0;
  const stopTime = s.meta.stopTime ?? s.meta.deadline ?? startTime;
  const ids = Object.keys(s.names).sort((a, b) => ((s.scores[b] ?? 0) - (s.scores[a] ?? 0)) || (a < b ? 1 : a > b ? -1 : 0));
  const participants = ids.map((userId, i): ParticipantResult => {
    const answers = s.questions.map((_, q): ParticipantAnswer => {
      const a = s.answers[`${userId}:${q}`];
      return a
        ? { selectedOptionIndexes: a.s, answerMs: a.ms, points: a.p, outcome: a.o }
        : { selectedOptionIndexes: [], answerMs: durationMs, points: 0, outcome: 'timeout' };
    });
    const stop = Math.min(s.stopped[userId] ?? stopTime, stopTime);
    return {
      userId,
      name: s.names[userId],
      score: s.scores[userId] ?? 0,
      rank: i + 1,
      stopTime: stop,
      totalTimeElapsed: stop - startTime,
      avgAnswerTime: mean(answers.filter(a => a.outcome !== 'timeout').map(a => a.answerMs)),
      answers,
    };
  });
  const questions = s.questions.map((q, i): HostQuestionSummary => {
    const outcomes = participants.map(p => p.answers[i].outcome);
    return {
      question: q.question,
      category: q.category,
      options: q.options,
      correctOptionIndexes: q.answers,
      correct: outcomes.filter(o => o === 'correct').length,
      incorrect: outcomes.filter(o => o === 'incorrect').length,
      timedOut: outcomes.filter(o => o === 'timeout').length,
    };
  });
  return {
    quiz: {
      quizId,
      name: s.meta.name ?? '',
      categories: s.meta.categories ?? [],
      durationMs,
      startTime,
      stopTime,
      totalTimeElapsed: stopTime - startTime,
      avgAnswerTime: mean(participants.flatMap(p => p.answers.filter(a => a.outcome !== 'timeout').map(a => a.answerMs))),
      participants: participants.length,
      questions,
      leaderboard: participants.slice(0, SUMMARY_LEADERBOARD).map(p => ({ userId: p.userId, name: p.name, score: p.score })),
    },
    participants,
  };
}

/** NOTIFY-HOST-QUIZ-SUMMARY's payload. */
export function hostSummary(quiz: QuizResult) {
  return {
    quizName: quiz.name,
    totalTimeElapsed: quiz.totalTimeElapsed,
    avgAnswerTime: quiz.avgAnswerTime,
    participants: quiz.participants,
    questions: quiz.questions,
    leaderboard: quiz.leaderboard,
  };
}

/** NOTIFY-PARTICIPANT-QUIZ-SUMMARY's payload. */
export function participantSummary(quiz: QuizResult, p: ParticipantResult) {
  return {
    quizName: quiz.name,
    totalTimeElapsed: p.totalTimeElapsed,
    avgAnswerTime: p.avgAnswerTime,
    score: p.score,
    rank: p.rank,
    participants: quiz.participants,
    questions: quiz.questions.map((q, i): ParticipantQuestionSummary => ({
      question: q.question,
      options: q.options,
      correctOptionIndexes: q.correctOptionIndexes,
      ...p.answers[i],
    })),
    leaderboard: quiz.leaderboard,
  };
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : Math.round(values.reduce((a, b) => a + b, 0) / values.length);
}

/** The steps of writing results, in order; a hook after each lets tests stop the writer there. */
export type WriterStep = 'participants' | 'quiz' | 'question-set' | 'redis';

export interface WriteOutcome {
  readonly status: 'stored' | 'not_finished' | 'gone';
  /** Items this run wrote, and items it found written by an earlier run. */
  readonly written: number;
  readonly alreadyStored: number;
}

/**
 * Stores a finished quiz's results exactly once, then removes its question set and its Redis keys, in
 * that order. Each item is a conditional put (`attribute_not_exists`), so a second run, or a run after a
 * crash at any point, stores nothing twice and loses nothing: as long as the Redis keys exist (they go
 * last) the results can be read again; once they are gone the `quiz` item is there (it is written before
 * anything is removed), and only the question set may be left to delete.
 */
export class ResultWriter {
  constructor(
    private readonly store: QuizStore,
    private readonly questionSets: QuestionSetStore,
    private readonly dynamo: Dynamo,
    private readonly resultsTable: string,
    private readonly afterStep: (step: WriterStep) => void | Promise<void> = () => undefined,
  ) {}

  public async write(quizId: string): Promise<WriteOutcome> {
    const snapshot = await this.store.snapshot(quizId);
    if (snapshot && snapshot.meta.state !== 'finished') {
      return { status: 'not_finished', written: 0, alreadyStored: 0 };
    }
    if (!snapshot) {
      // Removed by an earlier run (after its quiz item was stored) or expired: at most the set is left.
      await this.questionSets.delete(quizId);
      await this.afterStep('question-set');
      return { status: 'gone', written: 0, alreadyStored: 0 };
    }
    const results = buildResults(quizId, snapshot);
    let written = 0;
    let alreadyStored = 0;
    const put = async (item: Record<string, unknown>) => {
      if (await this.putOnce(item)) {
        written++;
      } else {
        alreadyStored++;
      }
    };
    const queue = [...results.participants];
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        await put({ quizId, item: `participant#${p.userId}`, ...p });
      }
    }));
    await this.afterStep('participants');
    await put({ item: 'quiz', ...results.quiz });
    await this.afterStep('quiz');
    await this.questionSets.delete(quizId);
    await this.afterStep('question-set');
    await this.store.remove(quizId);
    await this.afterStep('redis');
    return { status: 'stored', written, alreadyStored };
  }

  /** True if this call stored the item, false if it was there already. */
  private async putOnce(item: Record<string, unknown>): Promise<boolean> {
    try {
      await this.dynamo.db.send(new PutCommand({ TableName: this.resultsTable, Item: item, ConditionExpression: 'attribute_not_exists(quizId)' }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        return false;
      }
      throw err;
    }
  }
}

/** Reads stored results back (for a participant or host who connects after the Redis keys are gone). */
export class ResultReader {
  constructor(private readonly dynamo: Dynamo, private readonly resultsTable: string) {}

  public async quiz(quizId: string): Promise<QuizResult | undefined> {
    const out = await this.dynamo.db.send(new GetCommand({ TableName: this.resultsTable, Key: { quizId, item: 'quiz' }, ConsistentRead: true }));
    return out.Item ? stripKeys(out.Item) as unknown as QuizResult : undefined;
  }

  public async participant(quizId: string, userId: string): Promise<ParticipantResult | undefined> {
    const out = await this.dynamo.db.send(new GetCommand({ TableName: this.resultsTable, Key: { quizId, item: `participant#${userId}` }, ConsistentRead: true }));
    return out.Item ? stripKeys(out.Item) as unknown as ParticipantResult : undefined;
  }

  /** Every stored item of a quiz (tests and tools). */
  public async all(quizId: string): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.dynamo.db.send(new QueryCommand({
        TableName: this.resultsTable, KeyConditionExpression: 'quizId = :q', ExpressionAttributeValues: { ':q': quizId }, ExclusiveStartKey: start, ConsistentRead: true,
      }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

function stripKeys(item: Record<string, unknown>): Record<string, unknown> {
  const { item: _item, ...rest } = item;
  return rest;
}
