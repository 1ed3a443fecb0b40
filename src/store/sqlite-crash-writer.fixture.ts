// Child process for the kill -9 test in sqlite-store.test.ts: writes keys from 20 concurrent callers and
// prints "ack <key> <revision>" as soon as each write's promise resolves (i.e. is acknowledged).
import { SqliteStore } from './sqlite-store.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: sqlite-crash-writer <db path>');
const store = new SqliteStore({ path });
let next = 0;
const worker = async (): Promise<void> => {
  for (;;) {
    const key = `/crash/${String(next++).padStart(6, '0')}`;
    const revision = await store.create(key, `value of ${key}`);
    process.stdout.write(`ack ${key} ${revision}\n`);
  }
};
await Promise.all(Array.from({ length: 20 }, worker));
