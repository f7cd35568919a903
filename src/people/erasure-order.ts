/** A rule as the erasure order sees it: its store, its target, and the targets its rows reference. */
export interface OrderNode {
  id: string;
  store: string;
  target: string;
  /** Targets in the same store whose rows this rule's rows reference (foreign keys). */
  dependsOn: readonly string[];
}

/**
 * The order an erasure runs its rules in: within a store, a rule whose rows reference
 * another rule's rows (a child) before that rule (its parent), so a foreign key never
 * blocks the parent's delete and nothing is left for a cascade to delete unaudited.
 * Derived from the catalog (`Store.dependsOn`), never written by hand. Otherwise the
 * config's order; rules in a reference cycle keep it too (the store's own cascade checks
 * decide what such a delete may do).
 */
export function erasureOrder(nodes: readonly OrderNode[]): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  // Children of a node: rules of the same store whose rows reference its target.
  const childrenOf = (node: OrderNode) => nodes.filter((n) => n !== node && n.store === node.store && n.dependsOn.includes(node.target) && n.target !== node.target);
  const place = (node: OrderNode) => {
    if (placed.has(node.id) || visiting.has(node.id)) return;
    visiting.add(node.id);
    for (const child of childrenOf(node)) place(child);
    visiting.delete(node.id);
    placed.add(node.id);
    order.push(node.id);
  };
  for (const node of nodes) place(node);
  return order;
}
