/**
 * The audit line written from the event's stored JSON (telemetry/logger.ts writePreformatted,
 * telemetry/json_once.ts) is the line pino writes for the same event: the same fields in the same
 * order, child bindings included, warn for errors; data holding a key the logger redacts still
 * goes through pino and is censored; a disabled level writes nothing.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { createLogger, writePreformatted, type Logger } from '../../src/telemetry/logger.js';
import { jsonOnce } from '../../src/telemetry/json_once.js';
import { FakeClock } from '../support/fake_clock.js';
import { makeEvent, makeGrant } from '../store/contract.js';

/** A logger writing into `lines` (one entry per line). */
function captured(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

/** What pino itself writes for the event (the auditor's former path). */
function viaPino(logger: Logger, e: ReturnType<typeof makeEvent>): void {
  logger[e.outcome === 'error' ? 'warn' : 'info'](
    { audit: e.type, eventId: e.id, requestId: e.requestId, identity: e.identity, rule: e.rule, outcome: e.outcome, reason: e.reason, grantIds: e.grantIds, data: e.data },
    e.type,
  );
}

/** A line without its time (the two lines are written a moment apart). */
const timeless = (line: string): [string[], Record<string, unknown>] => {
  const o = JSON.parse(line) as Record<string, unknown>;
  delete o.time;
  return [Object.keys(o), o];
};

const data = { transport: 'http', claims: { namespace: 'bench', pod: { name: 'app-1', uid: 'u-1' } }, note: 'quote " and \\ and \n', granted: [{ ttlSeconds: 900 }] };

describe('the audit line', () => {
  it('is the line pino writes for the event: same fields, same order, child bindings included', async () => {
    const { logger, lines } = captured();
    const child = logger.child({ component: 'audit' });
    const auditor = new Auditor(openSqliteStore(':memory:'), child, new FakeClock());
    // The child logger is one the preformatted line can stand in for (not the fallback path).
    expect(writePreformatted(child, 'info', '"probe":1', 'probe')).toBe(true);
    expect(JSON.parse(lines.pop()!)).toMatchObject({ level: 30, service: 'stint', component: 'audit', probe: 1, msg: 'probe' });
    for (const e of [makeEvent({ data, grantIds: ['g-1'] }), makeEvent({ outcome: 'error', type: 'exchange.error', reason: 'ERR_INTERNAL', requestId: null, rule: null, data })]) {
      auditor.log(e);
      viaPino(child, e);
      const [mine, pinos] = lines.splice(0, 2).map(timeless) as [[string[], Record<string, unknown>], [string[], Record<string, unknown>]];
      expect(mine[0]).toEqual(pinos[0]);
      expect(mine[1]).toEqual(pinos[1]);
      expect(mine[1]).toMatchObject({ component: 'audit', service: 'stint', level: e.outcome === 'error' ? 40 : 30, data });
    }
  });

  it('reuses the JSON the store wrote the event with', async () => {
    const { logger, lines } = captured();
    const store = openSqliteStore(':memory:');
    const auditor = new Auditor(store, logger, new FakeClock());
    const grant = makeGrant();
    const event = makeEvent({ grantIds: [grant.id], data });
    await auditor.recordIssuance([grant], event);
    const text = jsonOnce(event.data);
    expect(lines[0]).toContain(`"data":${text}`);
    expect((await store.queryAudit({}))[0]!.data).toEqual(data);
    await store.close();
  });

  it('censors a redacted key of the data through pino, and writes nothing below the level', async () => {
    const { logger, lines } = captured();
    const auditor = new Auditor(openSqliteStore(':memory:'), logger, new FakeClock());
    auditor.log(makeEvent({ data: { token: 'must-not-appear', transport: 'http' } }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('must-not-appear');
    expect(JSON.parse(lines[0]!)).toMatchObject({ data: { token: '[redacted]', transport: 'http' } });

    const quiet = captured('warn');
    const quietAuditor = new Auditor(openSqliteStore(':memory:'), quiet.logger, new FakeClock());
    quietAuditor.log(makeEvent({ data }));
    expect(quiet.lines).toHaveLength(0);
    quietAuditor.log(makeEvent({ outcome: 'error', data }));
    expect(quiet.lines).toHaveLength(1);
  });
});
