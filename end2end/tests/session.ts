import { expect, Page } from '@playwright/test';

export const ADMIN = { username: 'admin', password: 'e2e-admin-password' };

// The page is interactive only once the wasm has hydrated it; the layout flips this attribute
// from an effect, which runs in the browser only.
export async function hydrated(page: Page) {
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
}

// Signs in through the real form, as a person would.
export async function signIn(page: Page, who = ADMIN) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('signed-in-user')).toBeVisible();
}
