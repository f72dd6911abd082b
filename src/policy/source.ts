/**
 * Parsing a policy source: YAML to data with every value's position kept, and validation
 * failures turned into a ConfigError naming the key path, the line:column and the reason.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { formatKeyPath } from '../key_path.js';

/** One validation problem, located in the source. */
export interface PolicyProblem {
  /** Key path such as `rules[2].match.claims.ref.regex`; empty for the whole document. */
  readonly path: string;
  /** 1-based line and column of the offending key or value (0 when unknown). */
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** A parsed YAML document that can locate a data path in its source. */
export interface PolicyDocument {
  /** The plain data of the document. */
  readonly data: unknown;
  /** Position of the value at `path` (or of its nearest existing ancestor). */
  locate(path: readonly PropertyKey[], key?: string): { line: number; column: number };
}

const CANONICAL_INTEGER = /^(0|-?[1-9][0-9]*)$/;

/** Parse YAML text strictly: syntax errors, warnings, duplicate keys, multiple documents and non-decimal numbers are problems. */
export function parseSource(text: string): { source?: PolicyDocument; problems: PolicyProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const problems: PolicyProblem[] = [];
  for (const err of [...doc.errors, ...doc.warnings]) {
    const pos = err.linePos?.[0];
    problems.push({ path: '', line: pos?.line ?? 0, column: pos?.col ?? 0, message: firstLine(err.message) });
  }
  if (problems.length > 0) return { problems };
  const at = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && !(CANONICAL_INTEGER.test(node.source ?? '') && Number.isSafeInteger(node.value))) {
        problems.push({ path: '', ...at(node.range?.[0] ?? 0), message: `number ${JSON.stringify(node.source)} is not a plain decimal integer; quote it if it is a string` });
      }
    },
  });
  if (problems.length > 0) return { problems };
  let data: unknown;
  try {
    // The yaml library throws (a ReferenceError) for an unresolved alias and for an alias bomb past the cap.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const message = err instanceof Error && /alias count/i.test(err.message) ? 'too many aliases (at most 100 expansions; a resource exhaustion attack?)' : `cannot resolve the document: ${firstLine(err instanceof Error ? err.message : String(err)).slice(0, 200)}`;
    return { problems: [{ path: '', line: 0, column: 0, message }] };
  }
  return {
    problems,
    source: {
      data,
      locate(path, key) {
        const found = walk(doc, path, key);
        return at(found?.range?.[0] ?? 0);
      },
    },
  };
}

/** Map zod issues to located problems, sorted by position in the source. */
export function locateIssues(source: PolicyDocument, issues: readonly z.core.$ZodIssue[]): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) {
        out.push({ path: formatPath([...iss.path, key]), ...source.locate(iss.path, key), message: `unknown key "${key}"` });
      }
      continue;
    }
    if (iss.code === 'custom' && (iss.params as { atKey?: boolean } | undefined)?.atKey && iss.path.length > 0) {
      out.push({ path: formatPath(iss.path), ...source.locate(iss.path.slice(0, -1), String(iss.path[iss.path.length - 1])), message: iss.message });
      continue;
    }
    const present = hasPath(source.data, iss.path);
    const message = iss.code === 'invalid_type' && !present ? `required key is missing (expected ${iss.expected})` : iss.message;
    out.push({ path: formatPath(iss.path), ...source.locate(iss.path), message });
  }
  return out.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Turn problems into the error the service refuses to start on. */
export function policyError(problems: readonly PolicyProblem[], file: string | undefined): ConfigError {
  const first = problems[0] ?? { path: '', line: 0, column: 0, message: 'invalid policy' };
  const where = `${file ?? '<policy>'}:${first.line}:${first.column}`;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new ConfigError('ERR_POLICY_INVALID', first.path, `${first.message} at ${where}${more}`, {
    file,
    line: first.line,
    column: first.column,
    problems: problems.map((p) => ({ ...p })),
  });
}

/** Format a data path as `rules[2].match.claims["kubernetes.io"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return formatKeyPath(path, { quoteKeys: true });
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

function hasPath(data: unknown, path: readonly PropertyKey[]): boolean {
  let cur: unknown = data;
  for (const seg of path) {
    if (typeof cur !== 'object' || cur === null || !Object.prototype.hasOwnProperty.call(cur, seg)) return false;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur !== undefined;
}

/** The node at `path` (or the key node named `key` under it), else the nearest existing ancestor. */
function walk(doc: Document, path: readonly PropertyKey[], key?: string): Node | undefined {
  let node: Node | undefined = doc.contents ?? undefined;
  const resolve = (n: unknown): Node | undefined => {
    if (isAlias(n)) return (n.resolve(doc) as Node | undefined) ?? undefined;
    return (n as Node | null) ?? undefined;
  };
  node = resolve(node);
  const segments = key === undefined ? path : [...path, key];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const last = key !== undefined && i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => scalarKey(p.key) === String(seg));
      if (!pair) return node;
      if (last) return (pair.key as Node | null) ?? node;
      const next = resolve(pair.value);
      if (!next) return (pair.key as Node | null) ?? node;
      node = next;
    } else if (isSeq(node) && typeof seg === 'number') {
      const next = resolve(node.items[seg]);
      if (!next) return node;
      node = next;
    } else {
      return node;
    }
  }
  return node;
}

function scalarKey(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  return undefined;
}
