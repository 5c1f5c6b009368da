import { expect, test, APIRequestContext } from '@playwright/test';
import { ADMIN, hydrated, signIn } from './session';

// Definitions made through the compatibility surfaces are ordinary workflows: the workflows
// list and the designer show them, and their instances show on the monitor.

async function adminToken(request: APIRequestContext): Promise<string> {
  const response = await request.post('/api/v1/auth/token', {
    data: { grant_type: 'password', username: ADMIN.username, password: ADMIN.password },
  });
  expect(response.ok()).toBeTruthy();
  return (await response.json()).access_token;
}

test('a node_inst process opens in the designer and its instance on the monitor', async ({ page, request }) => {
  const token = await adminToken(request);
  const headers = { authorization: `Bearer ${token}` };
  const created = await request.post('/api/process', {
    headers,
    data: {
      name: 'Leave request', engine: 'fast', extension: { team: 'hr' },
      tasks: [
        { instId: 'greet', name: 'Greet', template: 'script', positions: [80, 60], connections: ['tally'],
          parameters: { code: { label: '代码', type: 'string', value: '`hello ${input.who}`' } } },
        { instId: 'tally', name: 'Tally', template: 'script', positions: [320, 60],
          parameters: { code: { value: '42' } } },
      ],
    },
  });
  expect(created.status()).toBe(200);
  const id: string = (await created.json()).response.id;
  const started = await request.post(`/api/process/${id}`, { headers, data: { who: 'ana' } });
  expect(started.status()).toBe(200);
  const inst: string = (await started.json()).response.id;

  await signIn(page);
  await page.goto(`/workflows?q=${id}`);
  await hydrated(page);
  const row = page.locator(`tr[data-key="${id}"]`);
  await expect(row).toContainText('Leave request');
  await page.goto(`/workflows/${id}/design`);
  await hydrated(page);
  for (const node of ['start', 'greet', 'tally']) {
    await expect(page.locator(`g.design-node[data-node="${node}"]`)).toBeVisible();
  }
  await expect(page.getByTestId('issue-count')).toHaveText('0');
  await page.screenshot({ path: 'test-results/compat-designer.png' });

  await page.goto(`/instances/${inst}`);
  await hydrated(page);
  await expect(page.getByTestId('instance-status')).toHaveText('Completed');
  await page.locator('[data-node="greet"]').click();
  await expect(page.locator('.runs')).toContainText('hello ana');
});

test('a Rill Flow descriptor opens in the designer', async ({ page, request }) => {
  const token = await adminToken(request);
  const yaml = [
    'workspace: e2eRill', 'dagName: demo', 'type: flow', 'tasks:',
    '- category: function', '  name: startNode', '  next: endNode',
    '  resourceName: https://example.com/start', '  pattern: task_sync',
    '- category: function', '  name: endNode',
    '  resourceName: https://example.com/end', '  pattern: task_async', '',
  ].join('\n');
  const added = await request.post(
    '/flow/bg/manage/descriptor/add_descriptor.json?business_id=e2eRill&feature_name=demo&alias=release',
    { headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, data: yaml },
  );
  expect(added.status()).toBe(200);
  expect((await added.json()).descriptor_id).toBe('e2eRill:demo:release');

  await signIn(page);
  await page.goto('/workflows/e2eRill.demo/design');
  await hydrated(page);
  await expect(page.locator('g.design-node[data-node="startNode"]')).toBeVisible();
  await expect(page.locator('g.design-node[data-node="endNode"]')).toBeVisible();
  await expect(page.getByTestId('issue-count')).toHaveText('0');
  await page.locator('g.design-node[data-node="endNode"]').click();
  await page.screenshot({ path: 'test-results/compat-rill-designer.png' });
});
