import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { freePort, stopProcess, waitForPort } from './redis-server';

/** An example server process a test started. */
export interface ServerProcess {
  readonly port: number;
  readonly proc: ChildProcess;
  /** Resolves with the exit code once the process ends. */
  readonly exited: Promise<number | null>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

const TSX = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');

/** Runs a TypeScript server entry with tsx on a free port and waits until it listens. */
export async function startServer(entry: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort();
  const proc = spawn(TSX, [entry], {
    env: { ...process.env, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', d => { out += d; });
  proc.stderr!.on('data', d => { out += d; });
  const exited = new Promise<number | null>(resolve => proc.once('exit', code => resolve(code)));
  const exitedEarly = exited.then(code => Promise.reject(new Error(`${entry} exited with ${code} before listening:\n${out}`)));
  exitedEarly.catch(() => undefined);
  await Promise.race([waitForPort(port, 20_000), exitedEarly]);
  return { port, proc, output: () => out, exited, stop: () => stopProcess(proc) };
}
