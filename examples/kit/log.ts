import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs on stdout, one line per event, as CloudWatch Logs and Logs Insights read them. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
