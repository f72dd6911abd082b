/**
 * The configuration check itself: read the file, parse the YAML, fill the keys the environment
 * gives, validate with zod, resolve relative paths. It runs only in the short-lived check process
 * (check.ts), so the YAML parser and zod never occupy the memory of the long-running sidecar.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { validateSidecarConfig, type SidecarConfig } from './schema.js';

/** What the check answers. */
export type ValidationAnswer = { ok: true; config: SidecarConfig } | { ok: false; path: string; message: string };

/** Read, parse, validate; relative paths resolve against the config file's folder. */
export function validateFile(file: string): ValidationAnswer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, path: '(file)', message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}` };
  }
  let raw: unknown;
  try {
    raw = parse(text, { uniqueKeys: true });
  } catch (e) {
    return { ok: false, path: '(syntax)', message: `${file}: ${(e as Error).message.split('\n')[0]}` };
  }
  const result = validateSidecarConfig(withEnvironmentDefaults(raw, process.env));
  if (!result.ok) return result;
  return { ok: true, config: resolvePaths(result.config, dirname(resolve(file))) };
}

/**
 * Keys the file leaves out, taken from the environment (the admission webhook sets these, so a
 * team's sidecar.yaml need only list its credentials): `stint.url` from `STINT_URL`,
 * `subjectToken.file` from `STINT_SUBJECT_TOKEN_FILE`, `ops.listen` from
 * `STINT_SIDECAR_OPS_LISTEN`. What the file says always wins.
 */
export function withEnvironmentDefaults(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const section = (key: string): Record<string, unknown> | null => {
    const v = out[key];
    if (v === undefined) return {};
    return v && typeof v === 'object' && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : null;
  };
  if (env.STINT_URL) {
    const stint = section('stint');
    if (stint && stint.url === undefined) out.stint = { ...stint, url: env.STINT_URL };
  }
  if (env.STINT_SUBJECT_TOKEN_FILE && out.subjectToken === undefined) out.subjectToken = { file: env.STINT_SUBJECT_TOKEN_FILE };
  if (env.STINT_SIDECAR_OPS_LISTEN) {
    const ops = section('ops');
    if (ops && ops.listen === undefined) out.ops = { ...ops, listen: env.STINT_SIDECAR_OPS_LISTEN };
  }
  return out;
}

function resolvePaths(config: SidecarConfig, base: string): SidecarConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const absOpt = (p: string | undefined): string | undefined => (p === undefined ? undefined : abs(p));
  return {
    ...config,
    stint: { ...config.stint, caFile: absOpt(config.stint.caFile), clientCertFile: absOpt(config.stint.clientCertFile), clientKeyFile: absOpt(config.stint.clientKeyFile) },
    subjectToken: resolveSubjectToken(config.subjectToken, abs),
    credentials: config.credentials.map((c) => ({
      ...c,
      outputs: c.outputs.map((o) => {
        switch (o.type) {
          case 'file':
            return { ...o, path: abs(o.path), ...(o.kubeconfig ? { kubeconfig: { ...o.kubeconfig, caFile: absOpt(o.kubeconfig.caFile) } } : {}) };
          case 'env-file':
            return { ...o, path: abs(o.path) };
          case 'aws-container':
            return { ...o, tokenFile: abs(o.tokenFile) };
          default:
            return o;
        }
      }),
    })),
  };
}

/** Relative paths of the subject token source made absolute. */
function resolveSubjectToken(c: SidecarConfig['subjectToken'], abs: (p: string) => string): SidecarConfig['subjectToken'] {
  if ('file' in c) return { ...c, file: abs(c.file) };
  if ('source' in c && c.source === 'aws-iid') return { ...c, nonceFile: abs(c.nonceFile) };
  return c;
}
