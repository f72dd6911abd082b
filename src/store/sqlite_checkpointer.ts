/**
 * A background WAL checkpointer: a worker thread with its own connection runs
 * `wal_checkpoint(PASSIVE)` on an interval, so the fsyncs a checkpoint needs never stall the
 * event loop (SQLite's automatic checkpoint runs inside whichever commit crosses the threshold).
 * PASSIVE never takes the write lock; the writer resets the WAL once every frame is copied back.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Worker source (plain JS, evaluated, so it runs the same from dist and under vitest). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* retried next interval */ } };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** A running checkpointer. */
export interface Checkpointer {
  /** Stop the worker after one last checkpoint; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Start a checkpointer for the database at `file`; `onFailure` runs if the worker dies. */
export function startCheckpointer(file: string, intervalMs: number, onFailure: () => void): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, intervalMs } });
  worker.unref();
  worker.on('error', () => onFailure());
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        worker.postMessage('close');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), 5000);
        });
        if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}
