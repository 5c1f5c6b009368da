import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './session';

// The operator's run page on the demo data a new installation has: pick a root record, see the
// preview, untick one binding, launch, and the instance ran exactly the ticked entities.
test('preview the demo workflow, untick a binding, launch', async ({ page }) => {
  await signIn(page);
  await page.goto('/workflows');
  await hydrated(page);
  await page.locator('tr[data-key="deploy-subsystem"]').getByRole('link', { name: 'Run' }).click();
  await expect(page).toHaveURL(/deploy-subsystem\/run$/);
  await hydrated(page);
  await page.getByTestId('root-search').fill('gateway');
  await page.getByTestId('root-choices').getByRole('button', { name: /Payment gateway/ }).click();

  // The preview: the subsystem, its two units and its three hosts.
  const preview = page.getByTestId('preview');
  await expect(preview.locator('g.record')).toHaveCount(6);
  await expect(preview.locator('g.record[data-record="unit-gateway-db"]')).toHaveClass(/kept/);
  const bindings = page.getByTestId('bindings');
  await expect(bindings.getByRole('checkbox')).toHaveCount(6);

  // Untick the database unit in the list; the diagram follows. Untick a host on the diagram.
  await bindings.getByLabel('Payment gateway database').uncheck();
  await expect(preview.locator('g.record[data-record="unit-gateway-db"]')).not.toHaveClass(/kept/);
  await preview.locator('g.record[data-record="host-gateway-api-2"]').click();
  await expect(bindings.getByLabel('gateway-api-02')).not.toBeChecked();

  await page.getByTestId('launch').click();
  await expect(page).toHaveURL(/\/instances\/\d+$/);
  await hydrated(page);
  await expect(page.getByTestId('instance-status')).toHaveText('Completed');
  await page.locator('[data-node="deploy"]').click();
  const runs = page.locator('.runs');
  await expect(runs).toContainText('deployed Payment gateway API');
  await expect(runs).not.toContainText('Payment gateway database');
  await page.locator('[data-node="patch"]').click();
  await expect(runs).toContainText('patched gateway-api-01');
  await expect(runs).toContainText('patched gateway-db-01');
  await expect(runs).not.toContainText('gateway-api-02');
});
