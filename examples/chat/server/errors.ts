import type { ErrorCode } from './protocol';

/**
 * A refusal the client hears about as an error frame `{ type: 'error', id, code, message, ...extra }`;
 * the connection stays open.
 */
export class ChatError extends Error {
  constructor(public readonly code: ErrorCode, message: string, public readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}
