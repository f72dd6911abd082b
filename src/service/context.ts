/**
 * What every module of the service composition shares: the validated configuration and the
 * process-wide clock, logger and metrics, passed once instead of as five loose arguments.
 */
import type { Clock } from '../clock.js';
import type { StintConfig } from '../config/schema.js';
import type { Logger } from '../telemetry/logger.js';
import type { StintMetrics } from '../telemetry/metrics.js';

/** The configuration and process-wide services of one Stint instance. */
export interface ServiceContext {
  readonly config: StintConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: StintMetrics;
  /** The audience subject tokens must name (`audience`, else the issuer). */
  readonly audience: string;
}
