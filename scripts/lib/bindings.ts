/**
 * Decides whether this machine can package the Python, Java, .NET and Go bindings. Each toolchain is asked which
 * package source it is configured to use, and that source is probed; where the toolchain only has a built-in
 * default, the toolchain itself is asked whether it can fetch. No registry address is written here, so builds
 * behind mirrors and proxies are judged by the sources they actually use.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';
import { JSII_RT_MODULE_NAME } from 'jsii-pacmak/lib/targets/go/runtime/constants';
import { EnvHttpProxyAgent, fetch } from 'undici';

/** How long a toolchain command may run: a JVM start or a couple of small downloads, never a hang. */
export const TOOL_TIMEOUT_MS = 15_000;
/** How long a package source may take to answer one request. */
export const PROBE_TIMEOUT_MS = 4_000;

/** What running a toolchain command returned. */
export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The executable is not on the PATH. */
  readonly missing: boolean;
  /** The command was killed for running past its time limit. */
  readonly timedOut: boolean;
}

/** Runs a toolchain command to completion; `env` is added to the environment. */
export type Exec = (command: string, args: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }) => ExecResult;

/** Whether a package source (a URL or a local path) answers. */
export type Probe = (source: string) => Promise<boolean>;

/** The means by which toolchains are asked and their sources probed. */
export interface Toolchains {
  readonly exec: Exec;
  readonly reachable: Probe;
}

/** An {@link Exec} that spawns the command for real, bounded by `timeoutMs`. */
export function spawnExec(env: NodeJS.ProcessEnv = process.env, timeoutMs = TOOL_TIMEOUT_MS): Exec {
  return (command, args, options = {}) => {
    const result = spawnSync(command, args, {
      cwd: options.cwd,
      env: { ...env, ...options.env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      // mvn and pip may wait on sockets; SIGKILL makes sure the time limit holds.
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    });
    const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
    return {
      status: result.status,
      stdout: result.stdout ?? '',
      stderr: result.stderr ?? '',
      missing: code === 'ENOENT',
      timedOut: code === 'ETIMEDOUT',
    };
  };
}

/**
 * Whether a package source answers: a `file:` URL or an absolute path must exist; an http(s) URL must answer a HEAD
 * request within `timeoutMs` with a status below 500 (a mirror's 401, 403 or 404 still proves it is there).
 * Honours HTTP_PROXY, HTTPS_PROXY and NO_PROXY as the toolchains do, and sends credentials in the URL as basic auth.
 */
export async function reachable(source: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  if (source.startsWith('file:')) {
    return fs.existsSync(fileURLToPath(source));
  }
  if (path.isAbsolute(source)) {
    return fs.existsSync(source);
  }
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return false;
  }
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    // fetch refuses URLs with credentials; mirrors that take them in the URL take them as basic auth.
    const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const dispatcher = new EnvHttpProxyAgent();
  try {
    const res = await fetch(url, { method: 'HEAD', headers, dispatcher, signal: AbortSignal.timeout(timeoutMs) });
    return res.status < 500;
  } catch {
    return false;
  } finally {
    // No pooled sockets left behind to keep the process (or a test) alive.
    await dispatcher.destroy();
  }
}

/** The default toolchains: real commands, real probes. */
export function defaultToolchains(): Toolchains {
  return { exec: spawnExec(), reachable: source => reachable(source) };
}

/** A source as it may be printed: without credentials. */
export function redact(source: string): string {
  try {
    const url = new URL(source);
    if (url.username || url.password) {
      url.username = '';
      url.password = '';
      return url.toString();
    }
  } catch {
    // A local path: nothing to hide.
  }
  return source;
}

/** Why a command failed, in one line: its last error line, else its last line. */
export function failure(result: ExecResult): string {
  if (result.timedOut) {
    return 'timed out';
  }
  const lines = `${result.stdout}\n${result.stderr}`.split(/\r?\n/).map(line => line.trim()).filter(Boolean);
  const errors = lines.filter(line => /^(\[ERROR\]|ERROR:)/.test(line));
  const last = errors.pop() ?? lines.pop();
  return last ? last.replace(/^(\[ERROR\]|ERROR:)\s*/, '') : `exit status ${result.status}`;
}

/** The first of `sources` that does not answer, as a reason; undefined when all answer. */
export async function firstUnreachable(sources: readonly string[], probe: Probe, what: string): Promise<string | undefined> {
  // Sequential on purpose: there are one or two sources, and the reason names the first that fails.
  for (const source of sources) {
    if (!(await probe(source))) {
      return `${what} ${redact(source)} is not reachable`;
    }
  }
  return undefined;
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
function withTempDir<T>(prefix: string, body: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Python

/**
 * pip's index URL from `pip config list` output, with pip's precedence: the environment (`PIP_INDEX_URL`, listed as
 * `:env:.index-url`), then the `[install]` section (the packaging runs `pip install`), then `[global]`.
 */
export function pipIndexUrl(configList: string): string | undefined {
  const values = new Map<string, string>();
  for (const line of configList.split(/\r?\n/)) {
    // pip prints key=repr(value): quoted with ' or, when the value holds a ', with ".
    const match = /^(\S+?)=(['"])(.*)\2$/.exec(line.trim());
    if (match) {
      values.set(match[1], match[3]);
    }
  }
  return values.get(':env:.index-url') ?? values.get('install.index-url') ?? values.get('global.index-url');
}

/** The requirements jsii-pacmak's Python packaging installs, as pip arguments; setuptools if that file moved. */
function pythonBuildRequirements(): string[] {
  const file = path.join(path.dirname(require.resolve('jsii-pacmak/package.json')), 'lib', 'targets', 'python', 'requirements-dev.txt');
  return fs.existsSync(file) ? ['-r', file] : ['setuptools'];
}

/**
 * Why the Python bindings cannot be packaged, or undefined. A configured index (PIP_INDEX_URL or pip.conf) is probed.
 * Without one pip uses its built-in default, so pip itself is asked to fetch what the packaging installs: that needs
 * no address here and counts extra indexes, find-links and constraints exactly as the packaging will.
 */
export async function pythonBlocker(toolchains: Toolchains): Promise<string | undefined> {
  const config = toolchains.exec('python3', ['-m', 'pip', 'config', 'list']);
  if (config.missing) {
    return 'python3 is not installed';
  }
  if (config.status !== 0) {
    return `python3 -m pip is not available: ${failure(config)}`;
  }
  const index = pipIndexUrl(config.stdout);
  if (index) {
    return firstUnreachable([index], toolchains.reachable, "pip's index");
  }
  const download = withTempDir('pip-probe-', dest => toolchains.exec('python3', [
    '-m', 'pip', 'download', '--no-deps', '--no-input', '--disable-pip-version-check',
    // Fail fast: pip's defaults (15 s, 5 retries, or PIP_DEFAULT_TIMEOUT) would outlast our time limit.
    '--timeout', String(PROBE_TIMEOUT_MS / 1000), '--retries', '0',
    '--dest', dest, ...pythonBuildRequirements(),
  ]));
  return download.status === 0 ? undefined : `pip, with no index configured, cannot fetch the packaging's build requirements: ${failure(download)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Java

/** A POM with no plugins bound to `validate`, so Maven can build it offline. */
const PROBE_POM = '<project><modelVersion>4.0.0</modelVersion><groupId>probe</groupId><artifactId>probe</artifactId><version>0</version><packaging>pom</packaging></project>\n';

/**
 * The remote repository URLs Maven reports in its debug output (`Repositories (dependencies): [id (url, layout, policy), …]`),
 * mirrors and settings profiles already applied.
 */
export function mavenRepositories(debugOutput: string): string[] {
  const urls = new Set<string>();
  // eslint-disable-next-line no-control-regex
  for (const line of debugOutput.replace(/\u001b\[[0-9;]*m/g, '').split(/\r?\n/)) {
    if (/Repositories \((dependencies|plugins)\)/.test(line)) {
      for (const match of line.matchAll(/(?:\[|, )[^\s(,]+ \(([^\s,)]+),/g)) {
        urls.add(match[1]);
      }
    }
  }
  return [...urls];
}

/**
 * Why the Java bindings cannot be packaged, or undefined. Maven is asked for its effective repositories by building an
 * empty POM offline in debug mode: unlike reading settings.xml, that applies `mirrorOf` matching, blocked mirrors,
 * active profiles and the built-in default repository, and it downloads nothing (`help:effective-settings` would).
 */
export async function javaBlocker(toolchains: Toolchains): Promise<string | undefined> {
  const build = withTempDir('mvn-probe-', dir => {
    fs.writeFileSync(path.join(dir, 'pom.xml'), PROBE_POM);
    return toolchains.exec('mvn', ['-B', '-o', '-X', '-Dstyle.color=never', '-f', path.join(dir, 'pom.xml'), 'validate'], { cwd: dir });
  });
  if (build.missing) {
    return 'mvn is not installed';
  }
  if (build.status !== 0) {
    return `mvn could not read its settings: ${failure(build)}`;
  }
  const repositories = mavenRepositories(build.stdout);
  if (repositories.length === 0) {
    return 'mvn reported no remote repository';
  }
  return firstUnreachable(repositories, toolchains.reachable, 'Maven repository');
}

// ---------------------------------------------------------------------------------------------------------------
// .NET

/** One package source from `dotnet nuget list source`. */
export interface NugetSource {
  readonly name: string;
  readonly source: string;
  readonly enabled: boolean;
}

/** The sources in `dotnet nuget list source` output: `  1.  name [Enabled]` followed by the URL or path on its own line. */
export function nugetSources(listOutput: string): NugetSource[] {
  const lines = listOutput.split(/\r?\n/);
  const sources: NugetSource[] = [];
  lines.forEach((line, i) => {
    const match = /^\s*\d+\.\s+(.+?)\s+\[(Enabled|Disabled)\]\s*$/.exec(line);
    const source = lines[i + 1]?.trim();
    if (match && source) {
      sources.push({ name: match[1], source, enabled: match[2] === 'Enabled' });
    }
  });
  return sources;
}

/**
 * Why the .NET bindings cannot be packaged, or undefined. Every enabled NuGet source must answer, because
 * `dotnet restore` fails (NU1301) when any enabled source is unreachable.
 */
export async function dotnetBlocker(toolchains: Toolchains): Promise<string | undefined> {
  // The list's labels are localized; ask for English so they can be parsed.
  const list = toolchains.exec('dotnet', ['nuget', 'list', 'source'], { env: { DOTNET_CLI_UI_LANGUAGE: 'en', DOTNET_NOLOGO: '1' } });
  if (list.missing) {
    return 'dotnet is not installed';
  }
  if (list.status !== 0) {
    return `dotnet nuget list source failed: ${failure(list)}`;
  }
  const enabled = nugetSources(list.stdout).filter(source => source.enabled).map(source => source.source);
  if (enabled.length === 0) {
    return 'dotnet has no enabled NuGet source';
  }
  return firstUnreachable(enabled, toolchains.reachable, 'NuGet source');
}

// ---------------------------------------------------------------------------------------------------------------
// Go

/** One entry of GOPROXY: a proxy URL, `direct` or `off`. */
export interface GoProxyEntry {
  readonly proxy: string;
  /** Followed by `|`: go moves on to the next entry on any error, not only on 404 or 410 as after `,`. */
  readonly fallThroughOnError: boolean;
}

/** The entries of a GOPROXY value such as `https://a|https://b,direct`. */
export function goProxyEntries(goproxy: string): GoProxyEntry[] {
  return [...goproxy.trim().matchAll(/([^,|]*)([,|]?)/g)]
    .filter(match => match[1].trim() !== '')
    .map(match => ({ proxy: match[1].trim(), fallThroughOnError: match[2] === '|' }));
}

/**
 * Why go cannot download modules through `goproxy`, or undefined, walking the list as go does: the first entry that
 * works decides; an unreachable proxy passes on to the next entry only after `|`; `off` stops; `direct` is
 * checked by `directBlocker`, since go then fetches from each module's own host.
 */
export async function goProxyBlocker(goproxy: string, probe: Probe, directBlocker: () => string | undefined): Promise<string | undefined> {
  const entries = goProxyEntries(goproxy);
  if (entries.length === 0) {
    return 'GOPROXY is empty';
  }
  const reasons: string[] = [];
  for (const entry of entries) {
    if (entry.proxy === 'off') {
      reasons.push('GOPROXY reaches off, which disables module downloads');
      break;
    }
    const why = entry.proxy === 'direct' ? directBlocker() : await firstUnreachable([entry.proxy], probe, 'Go module proxy');
    if (!why) {
      return undefined;
    }
    reasons.push(why);
    if (!entry.fallThroughOnError) {
      break;
    }
  }
  return reasons.join('; ');
}

/** Why go cannot fetch modules directly, or undefined: asks go to resolve the jsii Go runtime every binding imports. */
function goDirectBlocker(toolchains: Toolchains): string | undefined {
  const query = withTempDir('go-probe-', dir => toolchains.exec('go', ['list', '-m', '-json', `${JSII_RT_MODULE_NAME}@latest`], {
    cwd: dir,
    // Only the direct route is being checked; GOFLAGS such as -mod=vendor would fail outside a module.
    env: { GOPROXY: 'direct', GOFLAGS: '' },
  }));
  return query.status === 0 ? undefined : `go cannot fetch modules directly: ${failure(query)}`;
}

/** Why the Go bindings cannot be packaged, or undefined: judged on `go env GOPROXY`. */
export async function goBlocker(toolchains: Toolchains): Promise<string | undefined> {
  const env = toolchains.exec('go', ['env', 'GOPROXY']);
  if (env.missing) {
    return 'go is not installed';
  }
  if (env.status !== 0) {
    return `go env GOPROXY failed: ${failure(env)}`;
  }
  return goProxyBlocker(env.stdout, toolchains.reachable, () => goDirectBlocker(toolchains));
}
