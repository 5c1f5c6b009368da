import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A fresh server per run: the binary `make test` just built, on its own SQLite file and port.
const port = Number(process.env.BATON_E2E_PORT ?? 3107);
const dataDir = mkdtempSync(join(tmpdir(), 'baton-e2e-'));

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
  webServer: {
    command: './target/debug/baton',
    cwd: '..',
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    env: {
      DATABASE_URL: `sqlite://${dataDir}/baton.db`,
      BATON_ADDR: `127.0.0.1:${port}`,
      BATON_SITE_ROOT: 'target/site',
      // The first administrator; tests sign in with it (see tests/session.ts).
      BATON_ADMIN_PASSWORD: 'e2e-admin-password',
      RUST_LOG: 'warn',
    },
  },
});
