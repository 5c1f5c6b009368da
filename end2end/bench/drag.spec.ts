import { expect, test } from '@playwright/test';
import { createBigWorkflow } from '../tests/big';
import { hydrated, signIn } from '../tests/session';

// How smooth dragging is in a 200-node workflow: one node is dragged with 200 pointer moves and
// the page measures, for each move, the time its handlers take (event dispatch to the end of
// the event's propagation) and the time until the next frame is ready.
test('drag one node of a 200-node workflow', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await signIn(page);
  await createBigWorkflow(page.request, 'drag-bench');
  await page.goto('/workflows/drag-bench/design');
  await hydrated(page);
  await expect(page.locator('g.design-node')).toHaveCount(200);
  await page.evaluate(() => {
    const handler: number[] = [];
    const frame: number[] = [];
    (window as any).samples = { handler, frame };
    let start = 0;
    window.addEventListener('pointermove', () => { start = performance.now(); }, true);
    window.addEventListener('pointermove', () => {
      const t0 = start;
      handler.push(performance.now() - t0);
      // After the next animation frame callback, once the task queue runs again: the frame
      // with the change has been produced.
      requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => frame.push(performance.now() - t0);
        channel.port2.postMessage(0);
      });
    });
  });
  const box = await page.locator('g.design-node[data-node="s55"] rect.body').boundingBox();
  if (!box) throw new Error('node not on screen');
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 200; i++) {
    await page.mouse.move(x + (i % 50) * 4, y + Math.floor(i / 50) * 20);
  }
  await page.mouse.up();
  // Every move's frame has been measured.
  await expect
    .poll(() => page.evaluate(() => (window as any).samples.frame.length))
    .toBe(await page.evaluate(() => (window as any).samples.handler.length));
  const { handler, frame } = await page.evaluate(() => (window as any).samples);
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
    return { moves: s.length, p50_ms: +at(0.5).toFixed(2), p95_ms: +at(0.95).toFixed(2), max_ms: +s[s.length - 1].toFixed(2) };
  };
  const report = { handler: stats(handler), next_frame: stats(frame) };
  console.log(`designer drag, 200 nodes: ${JSON.stringify(report)}`);
  expect(handler.length).toBeGreaterThan(150);
});
