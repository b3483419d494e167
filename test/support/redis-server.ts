import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

/** A redis-server process a test started; `stop()` ends it. */
export interface RedisProcess {
  readonly port: number;
  readonly pid: number;
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
    pid: proc.pid!,
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

/** A local Redis Cluster of three primaries a test started. */
export interface RedisClusterProcess {
  readonly ports: number[];
  /** `redis://` URL of the first node; a cluster client discovers the rest. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts three cluster-enabled redis-server processes (each needs its port and port + 10000 free) and
 * joins them with `redis-cli --cluster create`, like a cluster-mode (serverless) ElastiCache endpoint.
 */
export async function startRedisCluster(options: { password?: string } = {}): Promise<RedisClusterProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-cluster-'));
  const ports: number[] = [];
  while (ports.length < 3) {
    const candidate = 20000 + Math.floor(Math.random() * 20000);
    if (!ports.includes(candidate) && await isFree(candidate) && await isFree(candidate + 10000)) {
      ports.push(candidate);
    }
  }
  const auth = options.password ? ['--requirepass', options.password, '--masterauth', options.password] : [];
  const procs = ports.map(port => spawn(redisServerPath(), [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir, ...auth,
  ], { stdio: 'ignore' }));
  await Promise.all(ports.map(port => waitForPort(port)));
  const cli = path.join(path.dirname(redisServerPath()), 'redis-cli');
  execFileSync(cli, [...(options.password ? ['-a', options.password, '--no-auth-warning'] : []), '--cluster', 'create',
    ...ports.map(p => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
  // Wait until every node reports the cluster as ok.
  for (const port of ports) {
    for (let i = 0; ; i++) {
      const info = execFileSync(cli, ['-p', String(port), ...(options.password ? ['-a', options.password, '--no-auth-warning'] : []), 'cluster', 'info'], { encoding: 'utf8' });
      if (info.includes('cluster_state:ok')) {
        break;
      }
      if (i > 100) {
        throw new Error(`cluster on ${port} never became ok:\n${info}`);
      }
      await new Promise(r => setTimeout(r, 100));
    }
  }
  return {
    ports,
    url: `redis://127.0.0.1:${ports[0]}`,
    stop: async () => {
      await Promise.all(procs.map(p => stopProcess(p)));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function isFree(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
