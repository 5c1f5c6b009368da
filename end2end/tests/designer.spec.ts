import { expect, Locator, Page } from '@playwright/test';
import { test } from '@playwright/test';
import { hydrated, signIn } from './session';
import { createBigWorkflow } from './big';

// The designer, used as a designer would: with the mouse on the canvas, the keyboard for undo,
// and the YAML view.

const canvas = (page: Page) => page.getByTestId('canvas');
const node = (page: Page, id: string) => page.locator(`g.design-node[data-node="${id}"]`);

// Drags a kind from the palette onto the canvas at (x, y) from the canvas's top-left corner.
async function drop(page: Page, kind: string, x: number, y: number) {
  await page.locator(`.palette-item[data-kind="${kind}"]`).dragTo(canvas(page), {
    targetPosition: { x, y },
  });
}

async function centre(locator: Locator) {
  const box = await locator.boundingBox();
  if (!box) throw new Error('not on screen');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

// Drags from the output port of `from` onto the node `to`, as a person connects two nodes.
async function connect(page: Page, from: string, to: string) {
  const start = await centre(node(page, from).locator('circle.port.out'));
  const end = await centre(node(page, to).locator('rect.body'));
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move((start.x + end.x) / 2, (start.y + end.y) / 2, { steps: 4 });
  await page.mouse.move(end.x, end.y, { steps: 4 });
  await page.mouse.up();
}

const edge = (page: Page, from: string, to: string) =>
  page.locator(`g.design-edge[data-from="${from}"][data-to="${to}"]`);

test('a workflow is drawn with the mouse, checked, saved, published and edited as YAML', async ({ page }) => {
  await signIn(page);
  await page.goto('/workflows');
  await hydrated(page);
  await page.getByTestId('new-workflow').click();
  await page.getByTestId('new-name').fill('Order check');
  await expect(page.getByTestId('new-key')).toHaveValue('order-check');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await expect(page).toHaveURL(/\/workflows\/order-check\/design$/);
  await hydrated(page);
  await expect(page.getByTestId('canvas-empty')).toBeVisible();
  await expect(page.getByTestId('publish')).toBeDisabled();

  // start → http → condition → two ends, dropped from the palette.
  await drop(page, 'start', 100, 240);
  await drop(page, 'http', 280, 240);
  await drop(page, 'condition', 460, 240);
  await drop(page, 'end', 625, 150);
  await drop(page, 'end', 625, 330);
  for (const id of ['start', 'http_1', 'condition_1', 'end', 'end_1']) {
    await expect(node(page, id)).toBeVisible();
  }
  await connect(page, 'start', 'http_1');
  await connect(page, 'http_1', 'condition_1');
  await connect(page, 'condition_1', 'end');
  await connect(page, 'condition_1', 'end_1');
  await expect(page.locator('g.design-edge')).toHaveCount(4);

  // The engine's own check runs in the page: the http node has no URL yet.
  const issues = page.getByTestId('issues');
  await expect(issues).toContainText('http_1 · url');
  await expect(node(page, 'http_1')).toHaveClass(/faulty/);
  await expect(page.getByTestId('publish')).toBeDisabled();
  await issues.getByRole('button', { name: /http_1 · url/ }).click();
  await expect(page.getByTestId('properties')).toContainText('http');
  await page.getByLabel('URL', { exact: true }).fill('https://example.com/orders');
  // One branch of the condition needs its condition.
  await page.locator('[data-node="condition_1"] rect.body').click();
  await page.getByTestId('properties').getByRole('button', { name: /→ end$/ }).click();
  await page.getByLabel(/^Condition/).fill('context.amount > 100');
  await expect(page.getByTestId('issue-count')).toHaveText('0');
  await expect(node(page, 'http_1')).not.toHaveClass(/faulty/);

  await page.getByTestId('save').click();
  await expect(page.getByTestId('design-notice')).toHaveText('Draft saved.');
  await expect(page.getByTestId('publish')).toHaveText('Publish v1');
  await page.getByTestId('publish').click();
  await expect(page.getByTestId('design-notice')).toHaveText('Published as version 1.');

  // Reload: it is all there, and the history has version 1.
  await page.reload();
  await hydrated(page);
  await expect(page.locator('g.design-node')).toHaveCount(5);
  await expect(page.locator('g.design-edge')).toHaveCount(4);
  await expect(edge(page, 'condition_1', 'end')).toContainText('context.amount > 100');
  await expect(page.getByTestId('history')).toContainText('v1');
  await expect(page.getByTestId('publish')).toHaveText('Publish v2');

  // Edit as YAML; the canvas follows.
  await page.getByRole('button', { name: 'YAML' }).click();
  const text = page.getByTestId('definition-text');
  await expect(text).toHaveValue(/kind: http/);
  const yaml = await text.inputValue();
  await text.fill(yaml.replace('- id: http_1\n', '- id: http_1\n  name: Fetch order\n'));
  await page.getByRole('button', { name: 'Canvas' }).click();
  await expect(node(page, 'http_1')).toContainText('Fetch order');
  await expect(page.getByTestId('unsaved')).toBeVisible();

  // Undo and redo from the keyboard.
  await canvas(page).focus();
  await page.keyboard.press('Control+z');
  await expect(node(page, 'http_1')).not.toContainText('Fetch order');
  await page.keyboard.press('Control+Shift+z');
  await expect(node(page, 'http_1')).toContainText('Fetch order');

  // Dragging a node moves it (one undo step).
  const before = await node(page, 'end_1').getAttribute('transform');
  const at = await centre(node(page, 'end_1').locator('rect.body'));
  await page.mouse.move(at.x, at.y);
  await page.mouse.down();
  await page.mouse.move(at.x + 40, at.y + 60, { steps: 6 });
  await page.mouse.up();
  await expect(node(page, 'end_1')).not.toHaveAttribute('transform', before ?? '');
  await page.keyboard.press('Control+z');
  await expect(node(page, 'end_1')).toHaveAttribute('transform', before ?? '');

  // The published version opens read-only.
  await page.getByTestId('save').click();
  await expect(page.getByTestId('design-notice')).toHaveText('Draft saved.');
  await page.getByTestId('history').getByRole('link', { name: 'v1' }).click();
  await expect(page.getByTestId('viewing-version')).toBeVisible();
  await expect(node(page, 'http_1')).not.toContainText('Fetch order');
  await expect(page.getByTestId('save')).toBeDisabled();
});

test('the workflows list searches, opens and duplicates', async ({ page }) => {
  await signIn(page);
  await page.goto('/workflows');
  await hydrated(page);
  await page.getByTestId('new-workflow').click();
  await page.getByTestId('new-name').fill('Invoice run');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await expect(page).toHaveURL(/invoice-run\/design$/);
  await page.goto('/workflows?q=invoice');
  await hydrated(page);
  const row = page.locator('tr[data-key="invoice-run"]');
  await expect(row).toBeVisible();
  await expect(row.getByTestId('workflow-status')).toHaveText('Draft');
  await row.getByTestId('duplicate').click();
  await page.getByTestId('key-form').getByTestId('new-name').fill('Invoice run EU');
  await page.getByTestId('key-form').getByRole('button', { name: 'Create', exact: true }).click();
  await expect(page).toHaveURL(/invoice-run-eu\/design$/);
  await hydrated(page);
  await expect(page.getByTestId('design-name')).toHaveText('Invoice run EU');
  await page.goto('/workflows?q=zzz-nothing');
  await expect(page.getByTestId('workflows-empty')).toBeVisible();
});

test('dragging one node of 200 changes that node and its edges only', async ({ page }) => {
  await signIn(page);
  await createBigWorkflow(page.request, 'two-hundred');
  await page.goto('/workflows/two-hundred/design');
  await hydrated(page);
  await expect(page.locator('g.design-node')).toHaveCount(200);
  // Record which nodes and edges the page touches while one node is dragged.
  await page.evaluate(() => {
    const touched = new Set<string>();
    (window as any).touched = touched;
    new MutationObserver((records) => {
      for (const r of records) {
        const el = (r.target instanceof Element ? r.target : r.target.parentElement)
          ?.closest('[data-node], [data-edge]');
        touched.add(el ? (el.getAttribute('data-node') ?? `edge ${el.getAttribute('data-from')}>${el.getAttribute('data-to')}`) : 'other');
      }
    }).observe(document.querySelector('svg.canvas g')!, { attributes: true, childList: true, subtree: true, characterData: true });
  });
  const at = await centre(node(page, 's55').locator('rect.body'));
  await page.mouse.move(at.x, at.y);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) {
    await page.mouse.move(at.x + i * 3, at.y + i * 2);
  }
  const during: string[] = await page.evaluate(() => [...(window as any).touched].sort());
  expect(during).toEqual(['edge s54>s55', 'edge s55>s56', 's55']);
  await page.mouse.up();
  await expect(page.getByTestId('unsaved')).toBeVisible();
});
