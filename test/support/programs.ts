/** Drive the real `stint` program (built into dist/) as a child process: see stint_under_test.ts. */
export { ROOT, STINT_BIN, runStint, startProgram, type RunningProgram } from './stint_under_test.js';
