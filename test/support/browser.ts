import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import { Browser, chromium } from 'playwright-core';

const INSTALL = 'apt-get update && apt-get install -y chromium';

/** Debian's chromium, installed with apt when missing and we are root; otherwise the exact command. */
export function chromiumPath(): string {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (fs.existsSync(candidate)) {
      return candidate;
    }
  }
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    execFileSync('sh', ['-c', `${INSTALL} >/dev/null`], { stdio: 'inherit', timeout: 600_000 });
    return chromiumPath();
  }
  throw new Error(`chromium is not installed; install it with: sudo sh -c '${INSTALL}'`);
}

/**
 * Headless chromium through playwright-core, with the flags that keep it off the network (this machine
 * reaches only loopback); playwright gives each launch a fresh profile.
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
}
