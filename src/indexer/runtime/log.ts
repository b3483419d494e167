/** One JSON object per line, so CloudWatch Logs Insights can filter and count on its fields. */
export type Logger = (entry: LogEntry) => void;

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  /** A stable name for the kind of line, e.g. `batch` or `record_skipped`. */
  readonly event: string;
  readonly [field: string]: unknown;
}

export const jsonLogger: Logger = entry => console.log(JSON.stringify(entry));

/** Message of anything thrown, without its stack. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
