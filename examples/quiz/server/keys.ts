/**
 * Redis keys of one quiz. The `{<quizId>}` hash tag puts them in one slot, so the Lua scripts that touch
 * several of them also run against a cluster-mode endpoint (ElastiCache Serverless).
 */
export function quizKeys(quizId: string) {
  const p = `quiz:{${quizId}}`;
  return {
    /** Hash: state (created | started | finished), createdAt, uploaded, name, categories, duration (ms), n, startTime, deadline, stopTime. */
    meta: `${p}:meta`,
    /** String: JSON of the selected questions, with their answers, fixed when the quiz starts. */
    questions: `${p}:questions`,
    /** Hash: userId → name. */
    names: `${p}:names`,
    /** Sorted set: userId by score. */
    leaderboard: `${p}:leaderboard`,
    /** Hash: userId → index of the question the participant is on. */
    next: `${p}:next`,
    /** Hash: userId → epoch ms when that question's clock started. */
    available: `${p}:available`,
    /** Hash: `<userId>:<index>` → JSON `{ s: selected, ms, p: points, o: outcome }`. */
    answers: `${p}:answers`,
    /** Hash: userId → epoch ms when the participant finished. */
    stopped: `${p}:stopped`,
    /** Hash: `<index>:<outcome>` → count, for the host's live view. */
    counts: `${p}:counts`,
  };
}

export type QuizKeys = ReturnType<typeof quizKeys>;

export function allQuizKeys(quizId: string): string[] {
  return Object.values(quizKeys(quizId));
}

/** Sorted set of quizzes by deadline (epoch ms); every server finishes the overdue ones. */
export const DEADLINES_KEY = 'quiz:deadlines';
/** Sorted set of finished quizzes whose results are not stored yet, by when to try next (epoch ms). */
export const PENDING_RESULTS_KEY = 'quiz:pending-results';

/** The bus channel of quiz events; each message names its quiz (see QuizServer.publishNow). */
export const EVENTS_CHANNEL = 'quiz:events';

/** A per-address counter's key, `kind` one of the bounded actions. */
export function limitKey(kind: string, address: string): string {
  return `quiz:limit:${kind}:${address}`;
}
