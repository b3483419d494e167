import type { ErrorCode } from './protocol';

/** A refusal: an error frame `{ type: 'ERROR', payload: { code, message, ... } }`, or an HTTP 4xx. */
export class QuizError extends Error {
  constructor(public readonly code: ErrorCode, message: string, public readonly status = 400, public readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}
