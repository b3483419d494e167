import type { TableKey } from '../../shared/local-dynamodb';

/**
 * Uploaded question sets, one item per quiz: `quizId` (S), `questions` (L of maps), `uploadedAt` (N),
 * `expiresAt` (N, epoch s, the table's TTL attribute, so an abandoned upload goes away by itself).
 */
export const QUESTION_SETS_TABLE_KEY: TableKey = {
  partitionKey: { name: 'quizId', type: 'S' },
};

/** The TTL attribute of the question-set table. */
export const QUESTION_SETS_TTL_ATTRIBUTE = 'expiresAt';

/**
 * Results of finished quizzes: per quiz one `item = "quiz"` (name, times, questions with counts) and one
 * `item = "participant#<userId>"` per participant (name, score, rank, answers). Each is written with a
 * condition that it does not exist yet, so writing the results twice stores them once.
 */
export const RESULTS_TABLE_KEY: TableKey = {
  partitionKey: { name: 'quizId', type: 'S' },
  sortKey: { name: 'item', type: 'S' },
};
