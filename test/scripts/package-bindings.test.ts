import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import {
  dotnetBlocker, Exec, ExecResult, goBlocker, goProxyBlocker, goProxyEntries, javaBlocker, mavenRepositories, nugetSources,
  pipIndexUrl, Probe, pythonBlocker, reachable, redact, spawnExec, Toolchains,
} from '../../scripts/lib/bindings';

/** A real HTTP server on 127.0.0.1: `/status/<n>` answers n, `/silent` never answers, anything else 200. */
let server: http.Server;
let base: string;
let closedPort: string;
let lastAuthorization: string | undefined;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    lastAuthorization = req.headers.authorization;
    if (req.url === '/silent') {
      return;
    }
    res.writeHead(Number(/^\/status\/(\d+)/.exec(req.url ?? '')?.[1] ?? 200)).end();
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port that was just free and is closed again: connections to it are refused.
  const probe = http.createServer();
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve));
  closedPort = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise(resolve => probe.close(resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise(resolve => server.close(resolve));
});

/** The real probe, with a short timeout so a silent source fails quickly. */
const probe: Probe = source => reachable(source, 500);

/** An Exec that answers from canned output, keyed by the start of the command line; other commands are missing. */
function canned(outputs: Record<string, Partial<ExecResult>>, calls: string[][] = []): Exec {
  return (command, args) => {
    const line = [command, ...args];
    calls.push(line);
    const key = Object.keys(outputs).find(prefix => line.join(' ').startsWith(prefix));
    const output = key === undefined ? { missing: true, status: null } : outputs[key];
    return { status: 0, stdout: '', stderr: '', missing: false, timedOut: false, ...output };
  };
}

function toolchains(outputs: Record<string, Partial<ExecResult>>, calls?: string[][]): Toolchains {
  return { exec: canned(outputs, calls), reachable: probe };
}

describe('pip configuration', () => {
  test('reads the index from pip config list: the environment before [install] before [global]', () => {
    const global = "global.index-url='https://mirror.example/global/simple'";
    const install = "install.index-url='https://mirror.example/install/simple'";
    const env = ":env:.index-url='https://mirror.example/env/simple'";
    expect(pipIndexUrl(global)).toBe('https://mirror.example/global/simple');
    expect(pipIndexUrl([global, install].join('\n'))).toBe('https://mirror.example/install/simple');
    expect(pipIndexUrl([global, install, env, ":env:.default-timeout='180'"].join('\n'))).toBe('https://mirror.example/env/simple');
    expect(pipIndexUrl('global.index-url="https://mirror.example/it\'s/simple"')).toBe("https://mirror.example/it's/simple");
  });

  test('has no index when pip has none configured; extra indexes and find-links are not the index', () => {
    expect(pipIndexUrl('')).toBeUndefined();
    expect(pipIndexUrl([
      "global.extra-index-url='file:///opt/pypi/simple'",
      "global.find-links='/opt/wheels'",
      ":env:.cert='/etc/ssl/certs/ca-certificates.crt'",
    ].join('\n'))).toBeUndefined();
  });
});

describe('Maven repositories', () => {
  test('reads the repositories Maven reports, mirrors applied, colours stripped, each once', () => {
    const output = [
      '[DEBUG] Reading user settings from /home/u/.m2/settings.xml',
      '\u001b[1;34m[DEBUG]\u001b[m Repositories (dependencies): [corp (https://mirror.example/maven, default, releases), '
        + 'snapshots (http://127.0.0.1:8081/snapshots, default, snapshots)]',
      '[DEBUG] Repositories (plugins)     : [corp (https://mirror.example/maven, default, releases)]',
    ].join('\n');
    expect(mavenRepositories(output)).toEqual(['https://mirror.example/maven', 'http://127.0.0.1:8081/snapshots']);
  });

  test('finds no repository in output without a Repositories line', () => {
    expect(mavenRepositories('[INFO] BUILD SUCCESS\n')).toEqual([]);
  });
});

describe('NuGet sources', () => {
  const list = [
    'Registered Sources:',
    '',
    '  1.  corp mirror [Enabled]',
    '      https://mirror.example/nuget/v3/index.json',
    '  2.  offline [Disabled]',
    '      /opt/nuget-offline',
  ].join('\n');

  test('reads each source with its state', () => {
    expect(nugetSources(list)).toEqual([
      { name: 'corp mirror', source: 'https://mirror.example/nuget/v3/index.json', enabled: true },
      { name: 'offline', source: '/opt/nuget-offline', enabled: false },
    ]);
  });

  test('finds no source when dotnet lists none', () => {
    expect(nugetSources('No sources found.\n')).toEqual([]);
  });
});

describe('GOPROXY', () => {
  test('splits comma and pipe lists, remembering which separator follows each entry', () => {
    expect(goProxyEntries('https://a.example|https://b.example,direct\n')).toEqual([
      { proxy: 'https://a.example', fallThroughOnError: true },
      { proxy: 'https://b.example', fallThroughOnError: false },
      { proxy: 'direct', fallThroughOnError: false },
    ]);
    expect(goProxyEntries('off')).toEqual([{ proxy: 'off', fallThroughOnError: false }]);
    expect(goProxyEntries('  ')).toEqual([]);
  });

  test('off disables downloads; an empty GOPROXY gives a reason', async () => {
    const direct = jest.fn(() => undefined);
    await expect(goProxyBlocker('off', probe, direct)).resolves.toMatch(/off.*disables module downloads/);
    await expect(goProxyBlocker('', probe, direct)).resolves.toBe('GOPROXY is empty');
    expect(direct).not.toHaveBeenCalled();
  });

  test('direct asks go itself', async () => {
    await expect(goProxyBlocker('direct', probe, () => undefined)).resolves.toBeUndefined();
    await expect(goProxyBlocker('direct', probe, () => 'go cannot fetch modules directly: no git')).resolves.toBe('go cannot fetch modules directly: no git');
  });

  test('a reachable proxy is used; an unreachable one ends the walk after a comma and moves on after a pipe', async () => {
    const direct = jest.fn(() => undefined);
    await expect(goProxyBlocker(`${base}/goproxy,direct`, probe, direct)).resolves.toBeUndefined();
    await expect(goProxyBlocker(`${closedPort}/goproxy,direct`, probe, direct)).resolves.toBe(`Go module proxy ${closedPort}/goproxy is not reachable`);
    expect(direct).not.toHaveBeenCalled();
    await expect(goProxyBlocker(`${closedPort}/goproxy|direct`, probe, direct)).resolves.toBeUndefined();
    expect(direct).toHaveBeenCalledTimes(1);
    await expect(goProxyBlocker(`${closedPort}/a|${base}/status/503`, probe, direct)).resolves
      .toBe(`Go module proxy ${closedPort}/a is not reachable; Go module proxy ${base}/status/503 is not reachable`);
    await expect(goProxyBlocker(`${closedPort}/a|off`, probe, direct)).resolves.toMatch(/is not reachable; GOPROXY reaches off/);
  });
});

describe('reachability probe against a local HTTP server', () => {
  test('a source answering below 500 is reachable, 401 and 404 included', async () => {
    await expect(probe(`${base}/simple/`)).resolves.toBe(true);
    await expect(probe(`${base}/status/401`)).resolves.toBe(true);
    await expect(probe(`${base}/status/404`)).resolves.toBe(true);
  });

  test('a 5xx answer, a closed port, a silent server or a non-URL is not reachable, within the timeout', async () => {
    const started = Date.now();
    await expect(probe(`${base}/status/503`)).resolves.toBe(false);
    await expect(probe(`${closedPort}/simple/`)).resolves.toBe(false);
    await expect(probe(`${base}/silent`)).resolves.toBe(false);
    await expect(probe('not a url')).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('credentials in the URL are sent as basic auth and kept out of reasons', async () => {
    await expect(probe(`http://user:s%40cret@${base.slice('http://'.length)}/simple/`)).resolves.toBe(true);
    expect(lastAuthorization).toBe(`Basic ${Buffer.from('user:s@cret').toString('base64')}`);
    expect(redact('https://user:secret@mirror.example/simple')).toBe('https://mirror.example/simple');
    expect(redact('/opt/nuget-offline')).toBe('/opt/nuget-offline');
  });

  test('local paths and file: URLs are reachable when they exist', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
    try {
      await expect(probe(dir)).resolves.toBe(true);
      await expect(probe(pathToFileURL(dir).toString())).resolves.toBe(true);
      await expect(probe(path.join(dir, 'missing'))).resolves.toBe(false);
      await expect(probe(pathToFileURL(path.join(dir, 'missing')).toString())).resolves.toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('toolchain decisions', () => {
  test('a missing tool gives a reason (real commands, empty PATH)', async () => {
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'no-tools-'));
    try {
      const none: Toolchains = { exec: spawnExec({ ...process.env, PATH: emptyDir }), reachable: probe };
      await expect(pythonBlocker(none)).resolves.toBe('python3 is not installed');
      await expect(javaBlocker(none)).resolves.toBe('mvn is not installed');
      await expect(dotnetBlocker(none)).resolves.toBe('dotnet is not installed');
      await expect(goBlocker(none)).resolves.toBe('go is not installed');
    } finally {
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  test('pip: a configured index is probed, and an unreachable one gives a reason', async () => {
    const calls: string[][] = [];
    await expect(pythonBlocker(toolchains({ 'python3 -m pip config list': { stdout: `global.index-url='${base}/simple'` } }, calls))).resolves.toBeUndefined();
    expect(calls.map(call => call[3])).toEqual(['config']);
    await expect(pythonBlocker(toolchains({ 'python3 -m pip config list': { stdout: `:env:.index-url='${base}/status/502'` } })))
      .resolves.toBe(`pip's index ${base}/status/502 is not reachable`);
    await expect(pythonBlocker(toolchains({ 'python3 -m pip config list': { status: 1, stderr: '/usr/bin/python3: No module named pip' } })))
      .resolves.toBe('python3 -m pip is not available: /usr/bin/python3: No module named pip');
  });

  test('pip: with no index configured, pip itself is asked to fetch the build requirements, naming no host', async () => {
    const calls: string[][] = [];
    const reason = await pythonBlocker(toolchains({
      'python3 -m pip config list': { stdout: "global.find-links='/opt/wheels'" },
      'python3 -m pip download': { status: 1, stderr: 'ERROR: Could not find a version\nERROR: No matching distribution found for setuptools~=75.3.2\n' },
    }, calls));
    expect(reason).toBe("pip, with no index configured, cannot fetch the packaging's build requirements: No matching distribution found for setuptools~=75.3.2");
    const download = calls[1];
    expect(download.slice(0, 4)).toEqual(['python3', '-m', 'pip', 'download']);
    expect(download).toEqual(expect.arrayContaining(['--no-deps', '--retries', '0', '--dest']));
    expect(download.join(' ')).not.toMatch(/https?:/);
    await expect(pythonBlocker(toolchains({ 'python3 -m pip': { stdout: '' } }))).resolves.toBeUndefined();
  });

  test('Maven: every repository Maven reports is probed', async () => {
    const reports = (...urls: string[]) => ({ stdout: `[DEBUG] Repositories (dependencies): [${urls.map((url, i) => `r${i} (${url}, default, releases)`).join(', ')}]\n` });
    await expect(javaBlocker(toolchains({ mvn: reports(`${base}/maven2`) }))).resolves.toBeUndefined();
    await expect(javaBlocker(toolchains({ mvn: reports(`${base}/maven2`, `${closedPort}/internal`) })))
      .resolves.toBe(`Maven repository ${closedPort}/internal is not reachable`);
    await expect(javaBlocker(toolchains({ mvn: { stdout: '[INFO] BUILD SUCCESS\n' } }))).resolves.toBe('mvn reported no remote repository');
    await expect(javaBlocker(toolchains({ mvn: { status: 1, stdout: '[ERROR] Error executing Maven.\n[ERROR] Non-parseable settings /home/u/.m2/settings.xml\n' } })))
      .resolves.toBe('mvn could not read its settings: Non-parseable settings /home/u/.m2/settings.xml');
  });

  test('.NET: enabled sources are probed, disabled ones skipped, and no enabled source gives a reason', async () => {
    const list = (...lines: string[]) => ({ 'dotnet nuget list source': { stdout: ['Registered Sources:', '', ...lines].join('\n') } });
    await expect(dotnetBlocker(toolchains(list('  1.  mirror [Enabled]', `      ${base}/v3/index.json`, '  2.  gone [Disabled]', `      ${closedPort}/v3/index.json`))))
      .resolves.toBeUndefined();
    await expect(dotnetBlocker(toolchains(list('  1.  gone [Enabled]', `      ${closedPort}/v3/index.json`))))
      .resolves.toBe(`NuGet source ${closedPort}/v3/index.json is not reachable`);
    await expect(dotnetBlocker(toolchains(list('  1.  gone [Disabled]', `      ${closedPort}/v3/index.json`))))
      .resolves.toBe('dotnet has no enabled NuGet source');
    await expect(dotnetBlocker(toolchains({ 'dotnet nuget list source': { stdout: 'No sources found.\n' } }))).resolves.toBe('dotnet has no enabled NuGet source');
  });

  test('Go: go env GOPROXY decides, and direct asks go list', async () => {
    await expect(goBlocker(toolchains({ 'go env GOPROXY': { stdout: `${base}/goproxy,direct\n` } }))).resolves.toBeUndefined();
    await expect(goBlocker(toolchains({ 'go env GOPROXY': { stdout: 'off\n' } }))).resolves.toMatch(/disables module downloads/);
    const calls: string[][] = [];
    await expect(goBlocker(toolchains({
      'go env GOPROXY': { stdout: `${closedPort}/goproxy|direct\n` },
      'go list -m': { status: 1, stderr: 'go: module lookup: git ls-remote failed\n' },
    }, calls))).resolves.toBe(`Go module proxy ${closedPort}/goproxy is not reachable; go cannot fetch modules directly: go: module lookup: git ls-remote failed`);
    expect(calls[1].slice(0, 4)).toEqual(['go', 'list', '-m', '-json']);
  });
});

describe('no registry address in the scripts', () => {
  test.each(['scripts/package-bindings.ts', 'scripts/lib/bindings.ts'])('%s names no registry host', file => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', file), 'utf8');
    expect(text).not.toMatch(/pypi\.org|maven\.apache\.org|nuget\.org|golang\.org/i);
  });
});
