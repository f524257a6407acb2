/**
 * Iterative traversal of an ESTree tree. Submissions can nest expressions deeply enough to
 * overflow a recursive walker's stack, so this one keeps its own stack on the heap.
 */
import type { AnyNode } from 'acorn';

export interface VisitContext {
  parent: AnyNode | null;
  /** The parent's property holding this node ('callee', 'object', 'arguments', ...). */
  key: string | null;
}

function isNode(value: unknown): value is AnyNode {
  return typeof (value as { type?: unknown }).type === 'string';
}

/**
 * Every node's children, found generically (any property holding a node or an array of nodes)
 * so that syntax added to acorn later is never silently skipped. Positions, regex details and
 * template values are plain objects without a `type`, so they are not mistaken for nodes.
 */
export function childrenOf(node: AnyNode): Array<{ child: AnyNode; key: string }> {
  const children: Array<{ child: AnyNode; key: string }> = [];
  const fields = node as unknown as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (const element of value) if (element !== null && isNode(element)) children.push({ child: element, key });
    } else if (isNode(value)) {
      children.push({ child: value, key });
    }
  }
  return children;
}

export interface VisitedNode extends VisitContext {
  node: AnyNode;
}

/** Every node with its parent, parents before their children (sibling order is not kept). */
export function flatten(root: AnyNode): VisitedNode[] {
  const visited: VisitedNode[] = [];
  const stack: VisitedNode[] = [{ node: root, parent: null, key: null }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    visited.push(entry);
    for (const { child, key } of childrenOf(entry.node)) stack.push({ node: child, parent: entry.node, key });
  }
  return visited;
}

/** Whether any node under (and including) `root` satisfies `predicate`. */
export function someNode(root: AnyNode, predicate: (node: AnyNode) => boolean): boolean {
  const stack: AnyNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (predicate(node)) return true;
    for (const { child } of childrenOf(node)) stack.push(child);
  }
  return false;
}
