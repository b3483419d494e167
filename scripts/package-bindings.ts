/**
 * Packages the Python, Java, .NET and Go bindings where this machine has the toolchain and reaches the package
 * source that toolchain is configured to use (see lib/bindings.ts); otherwise generates each language's bindings
 * offline (`jsii-pacmak --code-only`) into bindings/<language> and byte-compiles the Python, so a jsii break still
 * fails the build. Says which, and why. Needs a compiled `.jsii` assembly (`npx projen compile`).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { defaultToolchains, dotnetBlocker, goBlocker, javaBlocker, pythonBlocker, Toolchains } from './lib/bindings';

interface Target {
  readonly language: string;
  readonly pacmakTarget: string;
  /** Why this machine cannot package the language, or undefined when it can. */
  readonly blocker: (toolchains: Toolchains) => Promise<string | undefined>;
}

const TARGETS: Target[] = [
  { language: 'Python', pacmakTarget: 'python', blocker: pythonBlocker },
  { language: 'Java', pacmakTarget: 'java', blocker: javaBlocker },
  { language: '.NET', pacmakTarget: 'dotnet', blocker: dotnetBlocker },
  { language: 'Go', pacmakTarget: 'go', blocker: goBlocker },
];

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: 'inherit' });
}

async function main(): Promise<void> {
  if (!fs.existsSync('.jsii')) {
    throw new Error('No .jsii assembly: run `npx projen compile` first');
  }
  const toolchains = defaultToolchains();
  for (const target of TARGETS) {
    const reason = await target.blocker(toolchains);
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
