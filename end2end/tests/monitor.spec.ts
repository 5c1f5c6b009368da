import { test, expect, APIRequestContext } from '@playwright/test';
import { ADMIN, hydrated, signIn } from './session';

async function adminToken(request: APIRequestContext): Promise<string> {
  const response = await request.post('/api/v1/auth/token', {
    data: { grant_type: 'password', username: ADMIN.username, password: ADMIN.password },
  });
  return (await response.json()).access_token;
}

async function api(request: APIRequestContext, token: string, method: string, path: string, data?: unknown) {
  const response = await request.fetch(path, { method, headers: { authorization: `Bearer ${token}` }, data });
  const body = await response.json();
  expect(response.status(), `${method} ${path}: ${JSON.stringify(body)}`).toBeLessThan(300);
  return body;
}

test('the monitor turns the node and the instance green when the approver answers, without a reload', async ({ page, request }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const id = Math.random().toString(36).slice(2, 8);
  const token = await adminToken(request);
  const approver = `appr${id}`;
  await api(request, token, 'POST', '/api/v1/users', {
    username: approver, password: `${approver}-password`, roles: ['approver'],
  });
  const key = `watch-${id}`;
  await api(request, token, 'POST', '/api/v1/definitions', {
    key, name: 'Watch',
    nodes: [
      { id: 'start', kind: 'start' },
      { id: 'prepare', kind: 'script', script: '#{ size: 3 }' },
      { id: 'ask', kind: 'approval', title: 'Go ahead?', assignees: [approver],
        form: [{ name: 'comment', label: 'Comment', type: 'text', required: true }] },
      { id: 'end', kind: 'end' },
    ],
    edges: [{ from: 'start', to: 'prepare' }, { from: 'prepare', to: 'ask' }, { from: 'ask', to: 'end' }],
  });
  await api(request, token, 'POST', `/api/v1/definitions/${key}/publish`);
  const instance = (await api(request, token, 'POST', '/api/v1/instances', { definition_key: key })).id;

  await signIn(page);
  await page.goto('/instances');
  await hydrated(page);
  // Filtered by workflow and by today's date, only this instance is left.
  await page.getByTestId('filter-key').fill(key);
  await page.getByTestId('filter-key').press('Enter');
  await expect(page).toHaveURL(new RegExp(`key=${key}`));
  const today = new Date().toISOString().slice(0, 10);
  await page.getByTestId('filter-from').fill(today);
  await expect(page).toHaveURL(new RegExp(`from=${today}`));
  await expect(page.getByTestId('instances-list').getByRole('link')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/instances.png', fullPage: true });
  await page.getByTestId('instances-list').getByRole('link', { name: instance }).click();
  await expect(page).toHaveURL(new RegExp(`/instances/${instance}$`));
  await hydrated(page);
  const ask = page.locator('g.node[data-node="ask"]');
  await expect(ask).toHaveAttribute('data-status', 'waiting');
  await expect(page.locator('g.node[data-node="prepare"]')).toHaveAttribute('data-status', 'completed');
  await expect(page.getByTestId('instance-status')).toHaveText('Running');
  await expect(page.getByTestId('monitor-progress')).toHaveText('2 of 4 nodes done');
  await ask.click();
  await expect(page.getByTestId('node-panel')).toContainText('Waiting');
  await page.screenshot({ path: 'test-results/monitor-waiting.png', fullPage: true });

  // The approver answers in their own browser; this page changes by itself.
  await page.evaluate(() => { (window as any).__noReload = true; });
  const other = await page.context().browser()!.newContext();
  const approverPage = await other.newPage();
  await signIn(approverPage, { username: approver, password: `${approver}-password` });
  await expect(approverPage.getByTestId('inbox-count')).toHaveText('1');
  await approverPage.locator('nav.mainnav').getByRole('link', { name: /Inbox/ }).click();
  await approverPage.getByTestId('inbox-list').getByRole('link', { name: 'Go ahead?' }).click();
  await hydrated(approverPage);
  await approverPage.getByLabel(/Comment/).fill('Looks good');
  await approverPage.getByRole('button', { name: 'Approve' }).click();
  await expect(approverPage).toHaveURL(/\/inbox$/);
  await other.close();

  await expect(ask).toHaveAttribute('data-status', 'completed');
  await expect(page.getByTestId('instance-status')).toHaveText('Completed');
  await expect(page.getByTestId('monitor-progress')).toHaveText('4 of 4 nodes done');
  await expect(page.getByTestId('event-log')).toContainText('task.completed');
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  await page.screenshot({ path: 'test-results/monitor-done.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('an operator cancels a running instance after confirming', async ({ page, request }) => {
  const id = Math.random().toString(36).slice(2, 8);
  const token = await adminToken(request);
  const key = `nap-${id}`;
  await api(request, token, 'POST', '/api/v1/definitions', {
    key, name: 'Nap',
    nodes: [{ id: 'start', kind: 'start' }, { id: 'nap', kind: 'timer', duration: '1h' }, { id: 'end', kind: 'end' }],
    edges: [{ from: 'start', to: 'nap' }, { from: 'nap', to: 'end' }],
  });
  await api(request, token, 'POST', `/api/v1/definitions/${key}/publish`);
  const instance = (await api(request, token, 'POST', '/api/v1/instances', { definition_key: key })).id;
  await signIn(page);
  await page.goto(`/instances/${instance}`);
  await hydrated(page);
  await expect(page.locator('g.node[data-node="nap"]')).toHaveAttribute('data-status', 'waiting');

  // Declining the question changes nothing; accepting cancels.
  page.once('dialog', (d) => d.dismiss());
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(page.getByTestId('instance-status')).toHaveText('Running');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(page.getByTestId('instance-status')).toHaveText('Cancelled');
  await expect(page.locator('g.node[data-node="nap"]')).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByRole('button', { name: 'Cancel', exact: true })).toHaveCount(0);
});

test('a node held in debug mode is re-run with an edited input from the monitor', async ({ page, request }) => {
  const id = Math.random().toString(36).slice(2, 8);
  const token = await adminToken(request);
  const key = `debug-${id}`;
  await api(request, token, 'POST', '/api/v1/definitions', {
    key, name: 'Debug',
    nodes: [
      { id: 'start', kind: 'start' },
      { id: 'check', kind: 'script', script: 'if input.ok == true { 1 } else { throw "not ready" }' },
      { id: 'end', kind: 'end' },
    ],
    edges: [{ from: 'start', to: 'check' }, { from: 'check', to: 'end' }],
  });
  await api(request, token, 'POST', `/api/v1/definitions/${key}/publish`);
  const instance = (await api(request, token, 'POST', '/api/v1/instances', {
    definition_key: key, input: { ok: false }, debug: true,
  })).id;
  await signIn(page);
  await page.goto(`/instances/${instance}`);
  await hydrated(page);
  await expect(page.getByTestId('instance-status')).toHaveText('Paused');
  const check = page.locator('g.node[data-node="check"]');
  await expect(check).toHaveAttribute('data-status', 'failed');
  await check.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('node-input')).toHaveValue(/"ok": false/);
  await page.getByTestId('node-input').fill('{"ok": true}');
  await page.screenshot({ path: 'test-results/monitor-debug.png', fullPage: true });
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Re-run with this input' }).click();
  await expect(page.getByTestId('instance-status')).toHaveText('Completed');
  await expect(check).toHaveAttribute('data-status', 'completed');
});
