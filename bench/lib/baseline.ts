import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A checkout of an earlier commit to run the same benchmark against, side by side in one run. */
export interface Baseline {
  readonly rev: string;
  /** The commit's short hash and subject, for the report. */
  readonly describe: string;
  /** The checkout's root: entry points are resolved under it. */
  readonly dir: string;
  remove(): void;
}

/**
 * Checks `rev` out into a temporary git worktree sharing this checkout's node_modules (the baseline runs
 * on today's dependencies, so only our code differs).
 */
export function checkoutBaseline(rev: string): Baseline {
  const root = path.join(__dirname, '..', '..');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-baseline-'));
  git('worktree', 'add', '--detach', dir, rev);
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    rev,
    describe: git('log', '-1', '--format=%h %ad %s', '--date=short', rev).slice(0, 100),
    dir,
    remove: () => {
      git('worktree', 'remove', '--force', dir);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a benchmark against the baseline commit `rev` (when given) and then against this checkout, in one
 * run on the same machine, and reports both side by side. `run` gets the baseline's server entry and a
 * label for it, or nothing for this checkout. The result is this checkout's, with the baseline's inside.
 */
export async function withBaseline<R extends object>(
  rev: string | undefined,
  serverEntry: string,
  run: (serverEntry?: string, label?: string) => Promise<R>,
  report: (before: R, now: R) => void,
): Promise<R | (R & { baseline: R & { rev: string } })> {
  if (!rev) {
    return run();
  }
  const baseline = checkoutBaseline(rev);
  try {
    const before = await run(path.join(baseline.dir, serverEntry), baseline.describe);
    const now = await run();
    report(before, now);
    return { ...now, baseline: { ...before, rev: baseline.describe } };
  } finally {
    baseline.remove();
  }
}
