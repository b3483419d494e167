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
