import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as net from 'net';

/** A redis-server process a test started; `stop()` ends it. */
export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

const INSTALL = 'apt-get update && apt-get install -y redis-server';

/**
 * Path of redis-server. When it is missing and we are root on a Debian-like machine it is installed with
 * apt; otherwise the error says the exact command. Tests that need Redis never skip silently.
 */
export function redisServerPath(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (found) {
    return found;
  }
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    execFileSync('sh', ['-c', `${INSTALL} >/dev/null`], { stdio: 'inherit', timeout: 300_000 });
    return redisServerPath();
  }
  throw new Error(`redis-server is not installed; install it with: sudo sh -c '${INSTALL}'`);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (ok) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    }
    await new Promise(r => setTimeout(r, 50));
  }
}

/** Starts a throwaway redis-server on loopback with persistence off. */
export async function startRedis(options: { port?: number; password?: string; extraArgs?: string[] } = {}): Promise<RedisProcess> {
  const port = options.port ?? await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(options.password ? ['--requirepass', options.password] : []), ...(options.extraArgs ?? [])];
  const proc = spawn(redisServerPath(), args, { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopProcess(proc),
  };
}

/** Sends SIGTERM (then SIGKILL after `graceMs`) to a process we started and waits for it to exit. */
export async function stopProcess(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
