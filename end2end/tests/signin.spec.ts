import { test, expect } from '@playwright/test';
import { ADMIN, hydrated } from './session';

test('an anonymous visitor signs in, lands where they were going, and signs out', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto('/instances');
  await expect(page).toHaveURL(/\/login\?next=\/instances$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
  // Nothing to navigate to before signing in.
  await expect(page.locator('nav.mainnav a')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/signin.png', fullPage: true });

  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('signin-error')).toHaveText('The username or password is wrong.');
  await page.screenshot({ path: 'test-results/signin-error.png', fullPage: true });

  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/instances$/);
  await expect(page.getByTestId('signed-in-user')).toHaveText('Administrator');
  await hydrated(page);

  // The session cookie is out of the page's reach.
  expect(await page.evaluate(() => document.cookie)).not.toContain('baton_session');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login\?next=\/$/);
  expect(errors).toEqual([]);
});
