/**
 * The audit trail: every decision, issuance, revocation and key event becomes one AuditEvent,
 * written to the store and, as one JSON line, to stdout through pino.
 */
import { uuidv7 } from '../ids.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { AuditEvent, Grant, Store } from '../store/store.js';

/** Fields of an event the caller supplies; id and time are filled in. */
export type AuditDraft = Omit<AuditEvent, 'id' | 'time'> & { readonly time?: number };

/** Writes audit events to the store and to the log. */
export class Auditor {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Build a complete event from a draft. */
  build(draft: AuditDraft): AuditEvent {
    const time = draft.time ?? this.clock.now();
    return { ...draft, id: uuidv7(time), time };
  }

  /** Persist an event, then log it. */
  async record(draft: AuditDraft): Promise<AuditEvent> {
    const event = this.build(draft);
    await this.store.appendAudit(event);
    this.log(event);
    return event;
  }

  /** Persist grants and their event atomically, then log the event. */
  async recordIssuance(grants: readonly Grant[], event: AuditEvent): Promise<void> {
    await this.store.recordIssuance(grants, event);
    this.log(event);
  }

  /** Write the event as one JSON log line (request id, identity, rule, outcome on top). */
  log(event: AuditEvent): void {
    const level = event.outcome === 'error' ? 'warn' : 'info';
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
