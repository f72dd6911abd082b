/**
 * The service's one disposal stack (issue 13): each part pushes its cleanup as it opens; a failed
 * start and a stop unwind the same stack, newest part first, so nothing opened is ever left
 * behind. A cleanup that fails does not stop the unwind: every failure is kept and reported
 * together at the end (`DisposalError`), none is dropped.
 */
import { StintError } from '../errors.js';

/** One cleanup that failed during an unwind, named after the part it closes. */
export interface DisposalFailure {
  readonly part: string;
  readonly error: unknown;
}

/** Thrown by `Disposer.dispose()` once the whole stack is unwound, when one or more cleanups failed. */
export class DisposalError extends StintError {
  /** Every failed cleanup, in the order they ran (newest part first). */
  readonly failures: readonly DisposalFailure[];

  constructor(failures: readonly DisposalFailure[]) {
    const list = failures.map((f) => `${f.part} (${messageOf(f.error)})`).join('; ');
    super('ERR_INTERNAL', `${failures.length} part(s) failed to close: ${list}`, { parts: failures.map((f) => f.part) }, { cause: failures[0]?.error });
    this.name = 'DisposalError';
    this.failures = failures;
  }
}

/** Told about each part as the unwind closes it; `error` is set when its cleanup failed. */
export type OnPartClosed = (part: string, error?: unknown) => void;

interface Entry {
  readonly part: string;
  readonly close: () => unknown;
}

/** A stack of cleanups: `defer` as each part opens, `dispose` to close them all in reverse order. */
export class Disposer {
  readonly #stack: Entry[] = [];
  readonly #onClosed: OnPartClosed | undefined;
  #unwinding: Promise<void> | null = null;

  constructor(onClosed?: OnPartClosed) {
    this.#onClosed = onClosed;
  }

  /** Push the cleanup of `part`, which has just opened; refused once the unwind has begun. */
  defer(part: string, close: () => void | Promise<void>): void {
    if (this.#unwinding) throw new StintError('ERR_INTERNAL', `cannot open ${part}: the service is already closing`, { part });
    this.#stack.push({ part, close });
  }

  /** Push the cleanup of `resource` and hand the resource back (open-and-register in one line). */
  use<T>(part: string, resource: T, close: (resource: T) => void | Promise<void>): T {
    this.defer(part, () => close(resource));
    return resource;
  }

  /** The parts still open, oldest first. */
  get parts(): readonly string[] {
    return this.#stack.map((e) => e.part);
  }

  /**
   * Close every part, newest first, one after another. A cleanup that throws or rejects is
   * recorded and the unwind goes on; at the end the failures reject together as one
   * `DisposalError`. Calling again returns the same unwind.
   */
  dispose(): Promise<void> {
    this.#unwinding ??= this.#unwind();
    return this.#unwinding;
  }

  async #unwind(): Promise<void> {
    const failures: DisposalFailure[] = [];
    for (let entry = this.#stack.pop(); entry; entry = this.#stack.pop()) {
      let failure: DisposalFailure | null = null;
      try {
        await entry.close();
      } catch (error) {
        failure = { part: entry.part, error };
        failures.push(failure);
      }
      try {
        this.#onClosed?.(entry.part, ...(failure ? [failure.error] : []));
      } catch (error) {
        failures.push({ part: `${entry.part} (close observer)`, error });
      }
    }
    if (failures.length > 0) throw new DisposalError(failures);
  }
}

/** A short, single-line message of a cleanup failure (cleanups never carry tokens or secrets). */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').slice(0, 200);
}
