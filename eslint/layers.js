/**
 * The import boundaries of Stint (issue 13) as an ESLint rule: a module imports only its own
 * folder, lower layers and the shared leaf modules; siblings of one layer never import each other;
 * the sidecar imports only leaf modules of src/. The layer table and its few explicit exceptions
 * are in eslint.config.js; this file only resolves relative imports and applies them.
 */
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** The repository path of a file or of a relative import from it, without extension ('src/store/store'). */
function repoPath(abs) {
  return path.relative(ROOT, abs).split(path.sep).join('/').replace(/\.(js|ts|mjs|cjs)$/, '');
}

/** True when `p` is `pattern` or lies under it ('src/http/' matches every file of the folder). */
function matches(p, pattern) {
  return pattern.endsWith('/') ? p.startsWith(pattern) : p === pattern;
}

/** The unit of a src/ path: its top folder ('store'), or its file name for a top-level module ('errors'). */
function unitOf(p) {
  return p.split('/')[1];
}

/** Build the `layers` rule from the table (see eslint.config.js for its shape). */
export function layersPlugin(table) {
  const rankOf = new Map();
  table.layers.forEach((units, i) => units.forEach((u) => rankOf.set(u, i)));
  const leaves = new Set(table.leaves);

  const check = (from, to) => {
    for (const e of table.exceptions) if (matches(from, e.from) && matches(to, e.to)) return null;
    for (const f of table.forbidden) if (matches(from, f.from) && matches(to, f.to)) return f.why;
    if (from.startsWith('sidecar/')) {
      if (to.startsWith('src/') && !leaves.has(unitOf(to))) return 'the sidecar imports only the leaf modules of src/ (a slim bundle without the service)';
      return null;
    }
    if (!from.startsWith('src/') || !to.startsWith('src/')) {
      if (from.startsWith('src/') && to.startsWith('sidecar/')) return 'src/ never imports the sidecar (share a leaf module in src/ instead)';
      return null;
    }
    const a = unitOf(from);
    const b = unitOf(to);
    if (a === b) return null;
    if (leaves.has(a)) return leaves.has(b) ? null : `src/${a} is a shared leaf module: it imports only other leaves, never src/${b}`;
    if (leaves.has(b)) return null;
    const ra = rankOf.get(a);
    const rb = rankOf.get(b);
    if (ra === undefined) return `src/${a} has no layer: add it to the layer table in eslint.config.js`;
    if (rb === undefined) return `src/${b} has no layer: add it to the layer table in eslint.config.js`;
    if (rb === ra) return `src/${a} and src/${b} are siblings of one layer and never import each other`;
    if (rb < ra) return `src/${a} is below src/${b}: lower layers never import upper ones`;
    return null;
  };

  return {
    rules: {
      layers: {
        meta: { type: 'problem', docs: { description: 'lower layers never import upper ones (issue 13)' }, schema: [] },
        create(context) {
          const file = context.filename ?? context.getFilename();
          const from = repoPath(file);
          const visit = (node) => {
            const spec = node?.source?.value;
            if (typeof spec !== 'string' || !spec.startsWith('.')) return;
            const to = repoPath(path.resolve(path.dirname(file), spec));
            const why = check(from, to);
            if (why) context.report({ node: node.source, message: `${from} → ${to}: ${why}` });
          };
          return { ImportDeclaration: visit, ExportNamedDeclaration: visit, ExportAllDeclaration: visit, ImportExpression: visit };
        },
      },
    },
  };
}
