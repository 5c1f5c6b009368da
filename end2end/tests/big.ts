import { APIRequestContext, expect } from '@playwright/test';

// A 200-node workflow (a chain of script nodes laid out in rows of ten), created through the
// REST API with the signed-in browser's session: what the designer is measured with.
export async function createBigWorkflow(request: APIRequestContext, key: string) {
  const count = 200;
  const ids = Array.from({ length: count }, (_, i) =>
    i === 0 ? 'start' : i === count - 1 ? 'end' : `s${i}`);
  const nodes = ids.map((id, i) => ({
    id,
    kind: i === 0 ? 'start' : i === count - 1 ? 'end' : 'script',
    ...(i > 0 && i < count - 1 ? { script: `${i}` } : {}),
    position: { x: 40 + (i % 10) * 190, y: 40 + Math.floor(i / 10) * 90 },
  }));
  const edges = ids.slice(1).map((id, i) => ({ from: ids[i], to: id }));
  const answer = await request.post('/api/v1/definitions', {
    data: { key, name: 'Two hundred steps', nodes, edges },
  });
  expect(answer.status()).toBe(201);
}
