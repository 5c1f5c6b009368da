import { test, expect } from '@playwright/test';
import { hydrated, signIn } from './session';

test.beforeEach(async ({ page }) => {
  await signIn(page);
});

test('the shell renders on the server and hydrates', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto('/');
  await expect(page.getByRole('navigation', { name: 'Main navigation' })).toBeVisible();
  await expect(page.getByTestId('status-backend')).toHaveText('sqlite');
  await hydrated(page);
  await page.screenshot({ path: 'test-results/overview.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('the status check calls the server function from the browser', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const before = await page.getByTestId('status-checked-at').textContent();

  const call = page.waitForResponse((r) => r.url().endsWith('/rpc/system_status') && r.ok());
  await page.getByTestId('refresh-status').click();
  const response = await call;
  const body = await response.json();
  expect(body.backend).toBe('sqlite');
  expect(body.schema_version).toBeGreaterThanOrEqual(1);

  await expect(page.getByTestId('status-checked-at')).not.toHaveText(before ?? '');
});

test('switching the language works in place and is remembered', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const nav = page.locator('nav.mainnav');
  await expect(nav.getByRole('link', { name: 'Workflows' })).toBeVisible();

  await page.getByRole('button', { name: 'Switch language' }).click();
  await expect(nav.getByRole('link', { name: '工作流' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh');
  await page.screenshot({ path: 'test-results/overview-zh.png', fullPage: true });

  // The server renders the next page in the chosen language, before any wasm runs.
  await page.reload();
  await expect(nav.getByRole('link', { name: '工作流' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh');
});

test('navigation moves between sections without a full reload', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await page.evaluate(() => { (window as any).__sameDocument = true; });

  await page.locator('nav.mainnav').getByRole('link', { name: 'Inbox' }).click();
  await expect(page).toHaveURL(/\/inbox$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Inbox');
  await expect(page.locator('nav.mainnav a[aria-current="page"]')).toHaveText('Inbox');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test('an unknown address shows a not-found page with status 404', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
});
