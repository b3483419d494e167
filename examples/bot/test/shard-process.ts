import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { stopProcess } from '../../../test/support/redis-server';

const TSX = path.join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');
/** The shard task's entry point, run with tsx as its own process (one process per shard, as one task per shard). */
export const SHARD_ENTRY = path.join(__dirname, '..', 'server', 'server.ts');

export interface ShardProcess {
  readonly proc: ChildProcess;
  /** Resolves when the shard logs that it is ready; rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `command` (default: tsx on the shard entry) with `env` on top of this process's environment. */
export function startShardProcess(env: Record<string, string>, command: string[] = [TSX, SHARD_ENTRY]): ShardProcess {
  const proc = spawn(command[0], command.slice(1), { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    proc.once('exit', code => reject(new Error(`shard ${env.SHARD_ID} exited with ${code} before it was ready:\n${out}`)));
  });
  ready.catch(() => undefined);
  proc.stdout!.on('data', d => {
    out += d;
    if (out.includes('"msg":"shard ready"')) {
      markReady();
    }
  });
  proc.stderr!.on('data', d => { out += d; });
  const exited = new Promise<number | null>(resolve => proc.once('exit', code => resolve(code)));
  return { proc, ready, exited, output: () => out, stop: () => stopProcess(proc) };
}
