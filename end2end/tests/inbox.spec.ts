import { test, expect, APIRequestContext, Browser, Page } from '@playwright/test';
import { ADMIN, hydrated, signIn } from './session';

// Each test makes its own people and workflow, so tests do not see each other's tasks.
const unique = () => Math.random().toString(36).slice(2, 8);

async function adminToken(request: APIRequestContext): Promise<string> {
  const response = await request.post('/api/v1/auth/token', {
    data: { grant_type: 'password', username: ADMIN.username, password: ADMIN.password },
  });
  expect(response.ok()).toBeTruthy();
  return (await response.json()).access_token;
}

async function api(request: APIRequestContext, token: string, method: string, path: string, data?: unknown) {
  const response = await request.fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}` },
    data,
  });
  const body = await response.json();
  expect(response.status(), `${method} ${path}: ${JSON.stringify(body)}`).toBeLessThan(300);
  return body;
}

// People in the group `group`, and a published workflow whose approval is offered to it.
async function setUp(request: APIRequestContext, title: string) {
  const id = unique();
  const group = `buyers-${id}`;
  const token = await adminToken(request);
  const people = [`ann${id}`, `bob${id}`];
  for (const username of people) {
    await api(request, token, 'POST', '/api/v1/users', {
      username, password: `${username}-password`, display_name: username, roles: ['approver'], groups: [group],
    });
  }
  const key = `purchase-${id}`;
  await api(request, token, 'POST', '/api/v1/definitions', {
    key, name: 'Purchase', input_schema: { type: 'object' },
    nodes: [
      { id: 'start', kind: 'start' },
      { id: 'ask', kind: 'approval', title, groups: [group],
        content: 'Laptop for {{context.who}}\nBudget {{context.amount}} EUR',
        form: [
          { name: 'comment', label: 'Comment <img src=x onerror="window.__xss=1">', type: 'textarea', required: true },
          { name: 'priority', label: 'Priority', type: 'enum', options: ['low', 'high'], default: 'low' },
          { name: 'urgent', label: 'Urgent', type: 'boolean' },
        ],
        output_mappings: [{ source: '$.output.outcome', target: '$.context.decision' }] },
      { id: 'end', kind: 'end', output_mappings: [{ source: '$.context.decision', target: '$.output.decision' }] },
    ],
    edges: [{ from: 'start', to: 'ask' }, { from: 'ask', to: 'end' }],
  });
  await api(request, token, 'POST', `/api/v1/definitions/${key}/publish`);
  const start = async () =>
    (await api(request, token, 'POST', '/api/v1/instances', {
      definition_key: key, input: { who: 'Olivia', amount: 1200 },
    })).id as string;
  return { token, people, key, start };
}

async function signInAs(page: Page, username: string) {
  await signIn(page, { username, password: `${username}-password` });
}

async function waitForStatus(request: APIRequestContext, token: string, instance: string, status: string) {
  await expect
    .poll(async () => (await api(request, token, 'GET', `/api/v1/instances/${instance}`)).status)
    .toBe(status);
}

test('an approver sees the badge, opens the task from the inbox and approves it', async ({ page, request }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const { token, people, start } = await setUp(request, 'Approve <script>alert(1)</script> laptop');
  await signInAs(page, people[0]);
  await hydrated(page);
  await expect(page.getByTestId('inbox-count')).toHaveCount(0);

  const instance = await start();
  // The badge rises without a reload.
  await page.locator('nav.mainnav').getByRole('link', { name: 'Inbox' }).click();
  await expect(page.getByTestId('inbox-count')).toHaveText('1');
  const row = page.getByTestId('inbox-list').getByRole('link').first();
  await expect(row).toHaveText('Approve <script>alert(1)</script> laptop');
  await page.screenshot({ path: 'test-results/inbox.png', fullPage: true });

  // Keyboard: ↓ moves between tasks (one here, so it stays), Enter opens it.
  await row.focus();
  await page.keyboard.press('ArrowDown');
  await expect(row).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/inbox\/\d+$/);
  await hydrated(page);
  await expect(page.getByTestId('task-title')).toHaveText('Approve <script>alert(1)</script> laptop');
  await expect(page.getByTestId('task-content')).toContainText('Laptop for Olivia');
  await expect(page.getByTestId('task-context')).toContainText('1200');
  // A form label with markup shows the markup as text, and it never runs.
  await expect(page.locator('label[for="field-comment"]')).toContainText('<img src=x onerror=');
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();

  // A required field left empty is named, and nothing is sent.
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('task-notice')).toHaveText('Check the fields marked below.');
  await expect(page.locator('.field.invalid')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/task-invalid.png', fullPage: true });

  // What was typed survives claiming.
  await page.getByLabel(/Comment/).fill('Within budget.');
  await page.getByRole('button', { name: 'Claim' }).click();
  await expect(page.getByTestId('task-status')).toHaveText('Claimed');
  await expect(page.getByLabel(/Comment/)).toHaveValue('Within budget.');
  await page.getByLabel('Priority').selectOption('high');
  await page.getByLabel('Urgent').check();
  await page.screenshot({ path: 'test-results/task.png', fullPage: true });
  await page.getByRole('button', { name: 'Approve' }).click();

  // Nothing else waits: back to the inbox, and the workflow went on with the answer.
  await expect(page).toHaveURL(/\/inbox$/);
  await expect(page.getByTestId('inbox-empty')).toBeVisible();
  await expect(page.getByTestId('inbox-count')).toHaveCount(0);
  await waitForStatus(request, token, instance, 'completed');
  const done = await api(request, token, 'GET', `/api/v1/instances/${instance}`);
  expect(done.output).toEqual({ decision: 'approve' });

  await page.getByTestId('inbox-filter').selectOption('completed');
  await expect(page).toHaveURL(/status=completed/);
  await expect(page.getByTestId('inbox-list').getByRole('link')).toHaveCount(1);
  // Filtered by another workflow, nothing is left.
  await page.getByTestId('inbox-key').fill('some-other-workflow');
  await page.getByTestId('inbox-key').press('Enter');
  await expect(page).toHaveURL(/key=some-other-workflow/);
  await expect(page.getByTestId('inbox-empty')).toBeVisible();
  // The page never ran the title or content as markup.
  expect(errors).toEqual([]);
});

async function openAs(browser: Browser, username: string, path: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signInAs(page, username);
  await page.goto(path);
  await hydrated(page);
  return { context, page };
}

test('two people answer the same task at once: one succeeds, the other is told plainly', async ({ browser, request }) => {
  const { people, start } = await setUp(request, 'Order chairs');
  await start();
  await start();
  const first = await openAs(browser, people[0], '/inbox');
  await expect(first.page.getByTestId('inbox-list').getByRole('link')).toHaveCount(2);
  await first.page.getByTestId('inbox-list').getByRole('link').last().click();
  await expect(first.page).toHaveURL(/\/inbox\/\d+$/);
  const taskPath = new URL(first.page.url()).pathname;
  const second = await openAs(browser, people[1], taskPath);

  for (const { page } of [first, second]) {
    await page.getByLabel(/Comment/).fill('fine');
  }
  await first.page.getByRole('button', { name: 'Approve' }).click();
  // The first goes on to the next task waiting for them.
  await expect(first.page).not.toHaveURL(taskPath);
  await expect(first.page.getByTestId('task-title')).toHaveText('Order chairs');

  await second.page.getByRole('button', { name: 'Reject' }).click();
  await expect(second.page.getByTestId('task-notice')).toHaveText(
    'This task was completed or closed in the meantime, so your answer was not recorded.',
  );
  await expect(second.page.getByTestId('task-closed')).toContainText(people[0]);
  await expect(second.page.getByTestId("task-closed")).toContainText("Approve");
  await second.page.screenshot({ path: 'test-results/task-taken.png', fullPage: true });
  await first.context.close();
  await second.context.close();
});

test('a plain link to a task lands on it after signing in', async ({ page, request }) => {
  const { people, start } = await setUp(request, 'Sign the contract');
  await start();
  const peek = await openAs(page.context().browser()!, people[0], '/inbox');
  await peek.page.getByTestId('inbox-list').getByRole('link').first().click();
  await expect(peek.page).toHaveURL(/\/inbox\/\d+$/);
  const taskPath = new URL(peek.page.url()).pathname;
  await peek.context.close();

  await page.goto(taskPath);
  await expect(page).toHaveURL(new RegExp(`/login\\?next=${taskPath.replace(/\//g, '\\/')}$`));
  await page.getByLabel('Username').fill(people[1]);
  await page.getByLabel('Password').fill(`${people[1]}-password`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`${taskPath}$`));
  await expect(page.getByTestId('task-title')).toHaveText('Sign the contract');
});
