/**
 * The audit trail: every decision, issuance, revocation and key event becomes one AuditEvent,
 * written to the store and, as one JSON line, to stdout through pino. Written and failed writes
 * are counted (audit completeness: decisions made vs decision events recorded). The line reuses
 * the JSON text the store row was written with (telemetry/json_once.ts) rather than having pino
 * serialize the event a second time.
 */
import { uuidv7 } from '../ids.js';
import type { Clock } from '../clock.js';
import { hasRedactedKey, writePreformatted, type Logger } from '../telemetry/logger.js';
import { jsonOnce } from '../telemetry/json_once.js';
import type { StintMetrics } from '../telemetry/metrics.js';
import type { AuditEvent, Grant, Store } from '../store/store.js';

/** Fields of an event the caller supplies; id and time are filled in. */
export type AuditDraft = Omit<AuditEvent, 'id' | 'time'> & { readonly time?: number };

/** Writes audit events to the store and to the log. */
export class Auditor {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly metrics?: Pick<StintMetrics, 'auditEvents' | 'auditWriteFailures'>,
  ) {
    // The decision events exist from the start, so completeness and failure panels read 0, not "no data".
    for (const [type, outcome] of [['exchange.allowed', 'allow'], ['exchange.denied', 'deny'], ['exchange.error', 'error']] as const) {
      metrics?.auditEvents.inc({ type, outcome }, 0);
      metrics?.auditWriteFailures.inc({ type }, 0);
    }
  }

  /** Build a complete event from a draft. */
  build(draft: AuditDraft): AuditEvent {
    const time = draft.time ?? this.clock.now();
    return { ...draft, id: uuidv7(time), time };
  }

  /** Persist an event, then log it. */
  async record(draft: AuditDraft): Promise<AuditEvent> {
    const event = this.build(draft);
    await this.counted(event, () => this.store.appendAudit(event));
    this.log(event);
    return event;
  }

  /** Persist grants and their event atomically, then log the event. */
  async recordIssuance(grants: readonly Grant[], event: AuditEvent): Promise<void> {
    await this.counted(event, () => this.store.recordIssuance(grants, event));
    this.log(event);
  }

  /** Run one store write of `event`, counting it as written or failed. */
  private async counted(event: AuditEvent, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      this.metrics?.auditWriteFailures.inc({ type: event.type });
      throw err;
    }
    this.metrics?.auditEvents.inc({ type: event.type, outcome: event.outcome });
  }

  /** Write the event as one JSON log line (request id, identity, rule, outcome on top). */
  log(event: AuditEvent): void {
    const level = event.outcome === 'error' ? 'warn' : 'info';
    // Data holding a key the logger redacts goes through pino, which censors it.
    if (typeof event.data === 'object' && event.data !== null && !hasRedactedKey(event.data) && Array.isArray(event.grantIds) && writePreformatted(this.logger, level, fieldsJson(event), event.type)) return;
    this.logger[level](
      {
        audit: event.type,
        eventId: event.id,
        requestId: event.requestId,
        identity: event.identity,
        rule: event.rule,
        outcome: event.outcome,
        reason: event.reason,
        grantIds: event.grantIds,
        data: event.data,
      },
      event.type,
    );
  }
}

/** The fields of an event's log line as JSON text, in the order pino writes them (an undefined one left out, as pino does); data as the store wrote it. */
function fieldsJson(e: AuditEvent): string {
  const field = (key: string, value: unknown): string => (value === undefined ? '' : `,"${key}":${JSON.stringify(value)}`);
  return `"audit":${JSON.stringify(e.type)}${field('eventId', e.id)}${field('requestId', e.requestId)}${field('identity', e.identity)}${field('rule', e.rule)}${field('outcome', e.outcome)}${field('reason', e.reason)},"grantIds":${jsonOnce(e.grantIds)},"data":${jsonOnce(e.data)}`;
}
