import { z } from 'zod';

/**
 * The quiz wire protocol (PROTOCOL.md). WebSocket frames are `{ "type": "<TYPE>", "payload": { ... } }`
 * JSON text; HTTP endpoints under `/api/` take and answer JSON.
 */

/** Limits, in one place for the server, the page and the tests. */
export const LIMITS = {
  /**
   * Largest upload body (a question set as JSON): stored as one DynamoDB item, whose limit is 400 KB
   * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-items).
   */
  uploadBytes: 256 * 1024,
  questionsMax: 200,
  questionChars: 500,
  optionsMin: 2,
  optionsMax: 8,
  optionChars: 200,
  categoryChars: 50,
  nameChars: 32,
  quizNameChars: 100,
  /** Per-question duration, seconds. */
  durationMin: 1,
  durationMax: 600,
  /** Text frames above this get `frame_too_large`; above `maxFrameBytes` the socket is closed with 1009. */
  maxMessageBytes: 8 * 1024,
  maxFrameBytes: 32 * 1024,
} as const;

/** Quiz ids: 8 characters of a-z and 0-9, as the reference's. */
export const QUIZ_ID = /^[a-z0-9]{8}$/;
/** Participant ids: 12 base64url characters. */
export const USER_ID = /^[A-Za-z0-9_-]{12}$/;

const Index = z.number().int().min(0).max(10_000);

/** A question as uploaded: one or more correct option indexes (more than one makes it multi-answer). */
export const UploadedQuestion = z.strictObject({
  question: z.string(),
  category: z.string(),
  options: z.array(z.string()).max(64),
  answers: z.array(Index).max(64),
});
export type Question = z.infer<typeof UploadedQuestion>;

/** The upload body: the array itself, or `{ questions: [...] }`. */
export const UploadBody = z.union([
  z.array(UploadedQuestion).max(10_000),
  z.strictObject({ questions: z.array(UploadedQuestion).max(10_000) }),
]);

export const JoinBody = z.strictObject({ name: z.string() });

/** The envelope every client frame must have. */
export const Envelope = z.strictObject({
  type: z.string().max(64),
  payload: z.unknown().optional(),
});
export type Envelope = z.infer<typeof Envelope>;

/** Client messages: the payload schema for each type; unknown fields are refused. */
export const ClientMessages = {
  'HOST-CONFIG': z.strictObject({
    quizName: z.string(),
    categories: z.array(z.string()).max(64),
    duration: z.number().int(),
    selectedQuestionIndexes: z.array(Index).max(1000),
  }),
  'REQUEST-HOST-QUESTIONS': z.strictObject({}),
  'PARTICIPANT-CONFIG': z.strictObject({ name: z.string() }),
  'REQUEST-PARTICIPANT-QUESTION': z.strictObject({ questionIndex: Index }),
  'PARTICIPANT-ANSWER': z.strictObject({
    questionIndex: Index,
    selectedOptionIndexes: z.array(Index).max(64),
    /** Accepted for compatibility with the reference and ignored: the server times answers itself. */
    answerDuration: z.number().optional(),
  }),
  'PARTICIPANT-ANSWER-TIMEOUT': z.strictObject({ questionIndex: Index }),
} as const;
export type ClientType = keyof typeof ClientMessages;
export const HOST_TYPES: ReadonlySet<ClientType> = new Set(['HOST-CONFIG', 'REQUEST-HOST-QUESTIONS']);

export type Outcome = 'correct' | 'incorrect' | 'timeout';

export interface LeaderboardEntry {
  readonly userId: string;
  readonly name: string;
  readonly score: number;
}

export interface QuestionCounts {
  readonly correct: number;
  readonly incorrect: number;
  readonly timedOut: number;
}

export interface HostQuestionSummary extends QuestionCounts {
  readonly question: string;
  readonly category: string;
  readonly options: string[];
  readonly correctOptionIndexes: number[];
}

export interface ParticipantQuestionSummary {
  readonly question: string;
  readonly options: string[];
  readonly correctOptionIndexes: number[];
  readonly selectedOptionIndexes: number[];
  /** Milliseconds from the question's start to the answer; the duration for a timeout. */
  readonly answerMs: number;
  readonly points: number;
  readonly outcome: Outcome;
}

/** Every `code` an error frame or an HTTP error can carry. */
export const ERROR_CODES = [
  'bad_json', 'bad_message', 'unknown_type', 'invalid_payload', 'frame_too_large', 'rate_limited', 'address_limit',
  'not_host', 'not_participant', 'unknown_quiz', 'invalid_questions', 'no_questions', 'invalid_config',
  'already_started', 'quiz_full', 'not_started', 'quiz_finished', 'wrong_question', 'invalid_answer', 'invalid_name',
  'unauthorized', 'unavailable', 'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Formats zod issues the way the kit does: `path: message; ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map(i => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
}
