/**
 * The HTTP load generator of `npm run bench`, a separate process (forked with an IPC channel) so
 * that the load is generated as an outside client would: it reads the pre-minted subject tokens
 * from the file given as argv[2] and, for each `run` message, posts the RFC 8693 form over
 * keep-alive connections (one agent per target port, spread round-robin), closed-loop at the
 * given concurrency, and answers with the LoadResult.
 *   { op: 'run', ports, path, mode: 'cold' | 'repeated', concurrency, calls, reset } -> LoadResult
 * Cold takes the next unused token of the pool for each call; repeated always the first one.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { runLoad } from './load.js';
import { exchangeForm, postForm } from './common.js';

/** One load run asked of this process. */
export interface LoadJob {
  readonly op: 'run';
  readonly ports: readonly number[];
  readonly path: string;
  readonly mode: 'cold' | 'repeated';
  readonly concurrency: number;
  readonly calls: number;
  /** Start the cold pool over (for a fresh Stint, which has seen none of it). */
  readonly reset: boolean;
}

const tokens = readFileSync(process.argv[2]!, 'utf8').split('\n').filter(Boolean);
const forms = tokens.map(exchangeForm);
let cursor = 1; // token 0 is the repeated one

process.on('message', (job: LoadJob) => {
  void (async () => {
    if (job.reset) cursor = 1;
    const agents = job.ports.map(() => new Agent({ keepAlive: true, maxSockets: Math.ceil(job.concurrency / job.ports.length) }));
    const call = (i: number): Promise<number> => {
      let form: string;
      if (job.mode === 'repeated') form = forms[0]!;
      else {
        if (cursor >= forms.length) {
          cursor = 1; // pool exhausted: start over (no longer cold; the pool is sized to avoid it)
          process.stderr.write('http_load: cold token pool exhausted, reusing tokens\n');
        }
        form = forms[cursor++]!;
      }
      const t = i % job.ports.length;
      return postForm(job.ports[t]!, agents[t]!, job.path, form);
    };
    const result = await runLoad(call, job.concurrency, job.calls);
    for (const a of agents) a.destroy();
    process.send!(result);
  })();
});
process.send!({ ready: tokens.length });
