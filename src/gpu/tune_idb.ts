/**
 * The autotuner's store in a browser: tuned kernel plans per adapter in IndexedDB (database
 * `critdamp`, object store `tune`, keyed by the adapter's description).
 */
import type { TuneStore } from './tune';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export function indexedDbTuneStore(database = 'critdamp'): TuneStore {
  let db: Promise<IDBDatabase> | null = null;
  const open = () => (db ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') return reject(new Error('this browser has no IndexedDB'));
    const r = indexedDB.open(database, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('tune');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error(`cannot open IndexedDB ${database}`));
  }));
  return {
    where: `IndexedDB ${database}/tune`,
    async load(adapter) {
      const plans = await request((await open()).transaction('tune').objectStore('tune').get(adapter));
      return typeof plans === 'object' && plans !== null ? plans as Record<string, unknown> : {};
    },
    async save(adapter, plans) {
      const tx = (await open()).transaction('tune', 'readwrite');
      await request(tx.objectStore('tune').put(plans, adapter));
    },
  };
}
