import { describe, expect, it } from 'vitest';
import { erasureOrder, type OrderNode } from '../../src/people/erasure-order.js';

const node = (id: string, target: string, dependsOn: string[] = [], store = 'app'): OrderNode => ({ id, store, target, dependsOn });

describe('erasureOrder', () => {
  it('puts children before the rows they reference, however the config lists them', () => {
    const nodes = [node('users', 'public.users'), node('orders', 'public.orders', ['public.users']), node('lines', 'public.lines', ['public.orders'])];
    expect(erasureOrder(nodes)).toEqual(['lines', 'orders', 'users']);
  });

  it('keeps the config order where nothing references anything, and never orders across stores', () => {
    const nodes = [node('a', 'public.a'), node('b', 'public.b'), node('c', 'public.a', [], 'other'), node('d', 'public.d', ['public.a'], 'other')];
    // d references public.a in store "other" (rule c), not rule a's table in store "app".
    expect(erasureOrder(nodes)).toEqual(['a', 'b', 'd', 'c']);
  });

  it('terminates on a reference cycle and places every rule once', () => {
    const nodes = [node('x', 'public.x', ['public.y']), node('y', 'public.y', ['public.x'])];
    const order = erasureOrder(nodes);
    expect([...order].sort()).toEqual(['x', 'y']);
  });
});
