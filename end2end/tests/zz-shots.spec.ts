import { test, expect } from '@playwright/test';
import { hydrated, signIn } from './session';
test('shots', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await signIn(page);
  await page.goto('/workflows');
  await hydrated(page);
  await page.getByTestId('new-workflow').click();
  await page.getByTestId('new-name').fill('Order check');
  await page.screenshot({ path: '/tmp/shot-new.png' });
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await hydrated(page);
  await page.screenshot({ path: '/tmp/shot-empty.png' });
  for (const k of ['start', 'http', 'approval', 'condition', 'end']) {
    await page.locator(`.palette-item[data-kind="${k}"]`).click();
  }
  await page.locator('[data-node="http_1"] rect.body').click();
  await page.screenshot({ path: '/tmp/shot-http.png', fullPage: true });
  await page.locator('[data-node="approval_1"] rect.body').click();
  await page.screenshot({ path: '/tmp/shot-approval.png', fullPage: true });
  await page.getByRole('button', { name: 'YAML' }).click();
  await page.screenshot({ path: '/tmp/shot-yaml.png' });
  await page.getByRole('button', { name: 'Canvas' }).click();
  await page.getByTestId('save').click();
  await page.goto('/workflows');
  await hydrated(page);
  await page.screenshot({ path: '/tmp/shot-list.png' });
});
