/**
 * Packages the Python, Java, .NET and Go bindings where this machine has the toolchain and reaches its
 * registry; otherwise generates each language's bindings offline (`jsii-pacmak --code-only`) into
 * bindings/<language> and byte-compiles the Python, so a jsii break still fails the build. Says which.
 * Needs a compiled `.jsii` assembly (`npx projen compile`).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

interface Target {
  readonly language: string;
  readonly pacmakTarget: string;
  /** Executable the packaging needs. */
  readonly tool: string[];
  /** Registry the packaging downloads build dependencies from. */
  readonly registry?: string;
}

const TARGETS: Target[] = [
  { language: 'Python', pacmakTarget: 'python', tool: ['python3', '-m', 'pip', '--version'], registry: 'https://pypi.org/simple/' },
  { language: 'Java', pacmakTarget: 'java', tool: ['mvn', '--version'], registry: 'https://repo.maven.apache.org/maven2/' },
  { language: '.NET', pacmakTarget: 'dotnet', tool: ['dotnet', '--version'], registry: 'https://api.nuget.org/v3/index.json' },
  { language: 'Go', pacmakTarget: 'go', tool: ['go', 'version'], registry: 'https://proxy.golang.org/' },
];

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(4000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

function hasTool(command: string[]): boolean {
  return spawnSync(command[0], command.slice(1), { stdio: 'ignore' }).status === 0;
}

async function whyNot(target: Target): Promise<string | undefined> {
  if (!hasTool(target.tool)) {
    return `${target.tool[0]} is not installed`;
  }
  if (target.registry && !(await reachable(target.registry))) {
    return `${new URL(target.registry).host} is not reachable`;
  }
  return undefined;
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: 'inherit' });
}

async function main(): Promise<void> {
  if (!fs.existsSync('.jsii')) {
    throw new Error('No .jsii assembly: run `npx projen compile` first');
  }
  for (const target of TARGETS) {
    const reason = await whyNot(target);
    if (!reason) {
      console.log(`${target.language}: packaging with jsii-pacmak`);
      run('npx', ['projen', `package:${target.pacmakTarget}`]);
      continue;
    }
    const outdir = path.join('bindings', target.pacmakTarget);
    fs.rmSync(outdir, { recursive: true, force: true });
    run('npx', ['jsii-pacmak', '--code-only', '--target', target.pacmakTarget, '--outdir', 'bindings']);
    if (target.pacmakTarget === 'python') {
      run('python3', ['-m', 'compileall', '-q', outdir]);
    }
    console.log(`${target.language}: not packaged (${reason}); generated bindings offline in ${outdir}${target.pacmakTarget === 'python' ? ' and byte-compiled them' : ''}`);
  }
}

main().catch(err => {
  console.error(err.message);
  process.exit(1);
});
