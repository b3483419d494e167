import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as lib from '../src';

const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

function codeBlocks(language: string): string[] {
  return [...readme.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map(m => m[1]);
}

describe('README', () => {
  test('starts with exactly two quick-start commands: install + examples, then the test suite', () => {
    const quickStart = codeBlocks('sh')[0].split('\n').filter(Boolean).map(l => l.split('#')[0].trim());
    expect(quickStart).toEqual(['npm ci && npm run examples', 'npm test']);
  });

  test('the Python usage example byte-compiles and imports only what the library exports', () => {
    const [python] = codeBlocks('python');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'readme-')), 'usage.py');
    fs.writeFileSync(file, python);
    execFileSync('python3', ['-m', 'py_compile', file]);
    const imported = python.match(/from cdk_realtime import (.+)/)![1].split(',').map(s => s.trim());
    // Structs are interfaces in TypeScript, so look the names up in the generated API reference.
    const api = fs.readFileSync(path.join(__dirname, '..', 'API.md'), 'utf8');
    for (const name of imported) {
      expect(api).toContain(`### ${name} <a name="${name}" id="cdk-realtime.${name}">`);
    }
    expect(lib.RealtimeFargateService).toBeDefined();
  });

  test('every TypeScript block is a complete program that type-checks against the library', () => {
    const blocks = codeBlocks('ts');
    expect(blocks.length).toBeGreaterThan(0);
    const repo = path.join(__dirname, '..');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-ts-'));
    try {
      fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      const files = blocks.map((code, i) => {
        const file = path.join(dir, `snippet${i}.ts`);
        // Each block is its own module, as a user's app.ts would be.
        fs.writeFileSync(file, `${code}\nexport {};\n`);
        return file;
      });
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'node16',
          moduleResolution: 'node16',
          esModuleInterop: true,
          skipLibCheck: true,
          types: ['node'],
          paths: { 'cdk-realtime': [path.join(repo, 'src', 'index.ts')] },
        },
        files: files.map(f => path.basename(f)),
      }));
      const tsc = path.join(repo, 'node_modules', '.bin', 'tsc');
      const result = spawnSync(tsc, ['-p', '.'], { cwd: dir, encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`).toBe('');
      expect(result.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test('documents every variable of the environment contract', () => {
    const { EnvContract } = jest.requireActual('../src/private/env-contract');
    for (const name of Object.values<string>(EnvContract)) {
      expect(readme).toContain(`\`${name}\``);
    }
  });
});
