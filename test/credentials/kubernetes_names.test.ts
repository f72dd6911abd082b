/** Pure pieces of the Kubernetes providers: targets, binding names, grant times, API failure reading. */
import { describe, expect, it } from 'vitest';
import { apiFailureOf, parseRetryAfter } from '../../src/kube/api_errors.js';
import { bindingName, grantTimeMs, parseBindingTarget, parseServiceAccountTarget } from '../../src/credentials/kubernetes/names.js';
import { uuidv7 } from '../../src/ids.js';

const NOW = Date.UTC(2030, 0, 1);

describe('kubernetes targets', () => {
  it('reads <namespace>/<serviceaccount>', () => {
    expect(parseServiceAccountTarget('k', 'payments/deployer')).toEqual({ namespace: 'payments', serviceAccount: 'deployer' });
    expect(parseServiceAccountTarget('k', 'payments/ci.bot')).toEqual({ namespace: 'payments', serviceAccount: 'ci.bot' });
    for (const bad of ['payments', 'payments/', '/deployer', 'a/b/c', 'pay_ments/x', 'payments/Deployer', `${'a'.repeat(64)}/x`]) {
      expect(() => parseServiceAccountTarget('k', bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REQUEST' }));
    }
  });

  it('reads role targets, with `cluster` meaning cluster-wide only for a ClusterRole', () => {
    expect(parseBindingTarget('k', 'payments/Role/deployer')).toEqual({ scope: 'namespace', namespace: 'payments', roleKind: 'Role', roleName: 'deployer' });
    expect(parseBindingTarget('k', 'payments/ClusterRole/view')).toEqual({ scope: 'namespace', namespace: 'payments', roleKind: 'ClusterRole', roleName: 'view' });
    expect(parseBindingTarget('k', 'cluster/ClusterRole/system:aggregate-to-view')).toEqual({ scope: 'cluster', roleKind: 'ClusterRole', roleName: 'system:aggregate-to-view' });
    expect(parseBindingTarget('k', 'cluster/Role/deployer')).toEqual({ scope: 'namespace', namespace: 'cluster', roleKind: 'Role', roleName: 'deployer' });
    for (const bad of ['payments/role/x', 'payments/Role', 'payments/Role/a%2Fb', 'payments/Role/..', 'payments/Role/a b', 'Payments/Role/x']) {
      expect(() => parseBindingTarget('k', bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REQUEST' }));
    }
  });
});

describe('binding names and grant times', () => {
  it('names a binding after its grant, and reads the creation time of a UUIDv7 grant id', () => {
    const id = uuidv7(NOW);
    expect(bindingName(id)).toBe(`stint-${id.replace(/-/g, '')}`);
    expect(bindingName(id)).toMatch(/^stint-[0-9a-f]{32}$/);
    expect(grantTimeMs(id)).toBe(NOW);
    expect(grantTimeMs('3b241101-e2bb-4255-8caf-4136c566a962')).toBeNull();
    expect(() => bindingName('not/an id')).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
  });
});

describe('reading API failures', () => {
  it('takes Retry-After as seconds or an HTTP date, bounded to 1..3600', () => {
    expect(parseRetryAfter('13', NOW)).toBe(13);
    expect(parseRetryAfter('0', NOW)).toBe(1);
    expect(parseRetryAfter('999999', NOW)).toBe(3600);
    expect(parseRetryAfter(new Date(NOW + 42_000).toUTCString(), NOW)).toBe(42);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });

  it("uses the Status reason and message, else the status's conventional reason", () => {
    const status = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', message: `denied\n${'x'.repeat(400)}`, code: 403 });
    const f = apiFailureOf({ code: 403, body: status, headers: {} }, NOW)!;
    expect(f).toMatchObject({ status: 403, reason: 'Forbidden' });
    expect(f.message).not.toContain('\n');
    expect(f.message.length).toBeLessThanOrEqual(303);
    expect(apiFailureOf({ code: 502, body: '<html>bad gateway</html>', headers: {} }, NOW)).toEqual({ status: 502, reason: 'HTTP502', message: '' });
    expect(apiFailureOf({ code: 401, body: undefined, headers: {} }, NOW)).toMatchObject({ reason: 'Unauthorized' });
    expect(apiFailureOf({ code: 403, body: JSON.stringify({ kind: 'Status', reason: 'Not a reason!' }), headers: {} }, NOW)).toMatchObject({ reason: 'Forbidden' });
    expect(apiFailureOf(new Error('x'), NOW)).toBeNull();
    expect(apiFailureOf({ code: 'ECONNREFUSED' }, NOW)).toBeNull();
  });
});
