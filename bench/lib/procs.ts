import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds (all cores, every state but idle and iowait) the whole machine has used since boot, from /proc/stat. */
export function machineCpuSeconds(): number {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] ?? 0);
  return busy / CLOCK_TICKS;
}

/** Resident set size of a process in MiB. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/**
 * Runs a TypeScript entry in one node process (tsx as a loader, so the PID is the server's own).
 * `dropMetricLines` passes its stdout on without the embedded-metric lines (`{"_aws":...}`) servers print.
 */
export function spawnTs(entry: string, env: Record<string, string>, options: { dropMetricLines?: boolean } = {}): ChildProcess {
  const proc = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), '--import', 'tsx', entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', options.dropMetricLines ? 'pipe' : 'inherit', 'inherit', 'ipc'],
    cwd: path.join(__dirname, '..', '..'),
  });
  if (options.dropMetricLines) {
    readline.createInterface({ input: proc.stdout! }).on('line', line => {
      if (!line.startsWith('{"_aws":')) {
        process.stdout.write(line + '\n');
      }
    });
  }
  return proc;
}

/** Starts a server entry that reports `{ port }` over IPC once it listens. */
export async function startReporting(entry: string, env: Record<string, string>): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawnTs(entry, env);
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', (m: any) => resolve(m.port));
    proc.once('exit', code => reject(new Error(`${entry} exited with ${code} before listening`)));
  });
  return { proc, port };
}

export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return;
  }
  const exited = new Promise(resolve => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs `cleanup` (stopping the processes a benchmark started) and exits when this process gets SIGINT or
 * SIGTERM, so an interrupted run leaves nothing behind. Returns a function that removes the handlers.
 */
export function cleanUpOnSignal(cleanup: () => Promise<void>): () => void {
  const handler = (signal: NodeJS.Signals) => {
    console.error(`\n  ${signal}: stopping the benchmark's processes`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
