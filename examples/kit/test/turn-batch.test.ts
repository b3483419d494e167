import { TurnBatch } from '../turn-batch';

test('calls of one event-loop turn share one run, each getting its own result in order', async () => {
  const runs: number[][] = [];
  const batch = new TurnBatch<number, number>(async items => {
    runs.push(items);
    return items.map(i => i * 10);
  });
  const first = await Promise.all([1, 2, 3].map(i => batch.add(i)));
  const second = await batch.add(4);
  expect(first).toEqual([10, 20, 30]);
  expect(second).toBe(40);
  expect(runs).toEqual([[1, 2, 3], [4]]);
});

test('a turn with more calls than a batch holds runs several batches', async () => {
  const runs: number[][] = [];
  const batch = new TurnBatch<number, number>(async items => {
    runs.push(items);
    return items;
  }, 4);
  expect(await Promise.all(Array.from({ length: 10 }, (_, i) => batch.add(i)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(runs.map(r => r.length)).toEqual([4, 4, 2]);
});

test('a failed run fails every call in it, and the next turn runs again', async () => {
  let fail = true;
  const batch = new TurnBatch<number, number>(async items => {
    if (fail) {
      throw new Error('store down');
    }
    return items;
  });
  const results = await Promise.allSettled([batch.add(1), batch.add(2)]);
  expect(results.map(r => r.status === 'rejected' && (r.reason as Error).message)).toEqual(['store down', 'store down']);
  fail = false;
  expect(await batch.add(3)).toBe(3);
});
