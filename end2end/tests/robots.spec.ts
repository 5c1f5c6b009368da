import { expect, test, APIRequestContext } from '@playwright/test';
import { readFileSync } from 'fs';
import { join } from 'path';
import { ADMIN, hydrated, signIn } from './session';

// The Robots page: queues, robots with their live status and the latest jobs, as a robot works.

const unique = () => Math.random().toString(36).slice(2, 8);

async function call(request: APIRequestContext, token: string, method: string, path: string, data?: unknown) {
  const response = await request.fetch(path, { method, headers: { authorization: `Bearer ${token}` }, data });
  const text = await response.text();
  expect(response.status(), `${method} ${path}: ${text}`).toBeLessThan(300);
  return text ? JSON.parse(text) : null;
}

test('a robot claims and finishes a job while the Robots page shows it live', async ({ page, request }) => {
  const id = unique();
  const login = await request.post('/api/v1/auth/token', {
    data: { grant_type: 'password', username: ADMIN.username, password: ADMIN.password },
  });
  const admin = (await login.json()).access_token;
  const queue = await call(request, admin, 'POST', '/api/v1/queues', { name: `printers-${id}`, description: 'Office printers' });
  const made = await call(request, admin, 'POST', '/api/v1/robots', { name: `printer-${id}`, queue_id: queue.id });
  const robot = made.token;
  // The package the deployment runs (a .dgs: a zip with package.json); uploaded once per database.
  const upload = await request.post('/api/v1/packages', {
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' },
    data: readFileSync(join(__dirname, '..', 'fixtures', 'reports-1.0.0.dgs')),
  });
  expect([201, 409], await upload.text()).toContain(upload.status());
  await call(request, admin, 'POST', '/api/v1/deployments', {
    name: `report-${id}`, package_name: 'reports', package_version: '1.0.0', queue_id: queue.id,
  });
  const key = `print-${id}`;
  await call(request, admin, 'POST', '/api/v1/definitions', {
    key, name: 'Print the report',
    nodes: [{ id: 'start', kind: 'start' }, { id: 'print', kind: 'job', deployment: `report-${id}` }, { id: 'end', kind: 'end' }],
    edges: [{ from: 'start', to: 'print' }, { from: 'print', to: 'end' }],
  });
  await call(request, admin, 'POST', `/api/v1/definitions/${key}/publish`);
  const instance = await call(request, admin, 'POST', '/api/v1/instances', { definition_key: key });
  await call(request, robot, 'POST', '/api/v1/workers/heartbeat', { sdk_version: '2.1.0' });

  await signIn(page);
  await page.getByRole('link', { name: 'Robots', exact: true }).click();
  await expect(page).toHaveURL(/\/robots$/);
  await hydrated(page);
  await expect(page.locator(`tr[data-queue="printers-${id}"]`)).toContainText('1');
  const row = page.locator(`tr[data-robot="printer-${id}"]`);
  await expect(row.getByTestId('robot-status')).toHaveText('Ready');
  const job = page.locator('[data-testid="jobs"] tr', { hasText: `report-${id}` });
  await expect(job.getByTestId('job-state')).toHaveText('Queued', { timeout: 15_000 });

  // The robot takes the job: the page follows without a reload.
  const claimed = await call(request, robot, 'POST', '/api/v1/workers/jobs/claim');
  await expect(row.getByTestId('robot-status')).toHaveText('Busy', { timeout: 15_000 });
  await expect(job.getByTestId('job-state')).toHaveText('Running', { timeout: 15_000 });
  await page.screenshot({ path: 'test-results/robots-page.png', fullPage: true });
  await call(request, robot, 'POST', `/api/v1/workers/jobs/${claimed.id}/succeed`, { output: { pages: 3 } });
  await expect(job.getByTestId('job-state')).toHaveText('Succeeded', { timeout: 15_000 });

  // The deployment and its package are listed beside the robots.
  const deployment = page.locator(`tr[data-deployment="report-${id}"]`);
  await expect(deployment).toContainText('reports');
  await expect(deployment).toContainText('1.0.0');
  await expect(deployment).toContainText(`printers-${id}`);
  await expect(page.locator('tr[data-package="reports"]')).toContainText('1.0.0');

  // The job links to its instance, which went on.
  await job.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/instances/${instance.id}$`));
  await hydrated(page);
  await expect(page.getByTestId('instance-status')).toHaveText('Completed');
});

test('the designer offers the deployments a job node can run', async ({ page, request }) => {
  const id = unique();
  const login = await request.post('/api/v1/auth/token', {
    data: { grant_type: 'password', username: ADMIN.username, password: ADMIN.password },
  });
  const admin = (await login.json()).access_token;
  const queue = await call(request, admin, 'POST', '/api/v1/queues', { name: `scanners-${id}` });
  const upload = await request.post('/api/v1/packages', {
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' },
    data: readFileSync(join(__dirname, '..', 'fixtures', 'reports-1.0.0.dgs')),
  });
  expect([201, 409], await upload.text()).toContain(upload.status());
  await call(request, admin, 'POST', '/api/v1/deployments', {
    name: `scan-${id}`, package_name: 'reports', package_version: '1.0.0', queue_id: queue.id,
    trigger_policy: 'SkipWhenNoResource',
  });
  const key = `scan-flow-${id}`;
  await call(request, admin, 'POST', '/api/v1/definitions', {
    key, name: 'Scan the invoices',
    nodes: [{ id: 'start', kind: 'start' }, { id: 'scan', kind: 'job', deployment: 'nothing-yet' }, { id: 'end', kind: 'end' }],
    edges: [{ from: 'start', to: 'scan' }, { from: 'scan', to: 'end' }],
  });

  await signIn(page);
  await page.goto(`/workflows/${key}/design`);
  await hydrated(page);
  await page.locator('[data-node="scan"] rect.body').click();
  const field = page.locator('#field-deployment');
  const about = page.getByTestId('deployment-about');
  await expect(about).toHaveText('No deployment has this name yet.');
  // The existing deployments are offered as the field's options.
  await expect(page.locator(`datalist#field-deployment-options option[value="scan-${id}"]`)).toHaveCount(1);
  await field.fill(`scan-${id}`);
  await expect(about).toHaveText(`reports 1.0.0 · scanners-${id} · SkipWhenNoResource`);
  await page.screenshot({ path: 'test-results/designer-job-node.png' });
});
