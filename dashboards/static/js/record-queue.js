// The Record page's queue in IndexedDB: every measurement is written here before anything else happens to
// it, and leaves only when the server has acknowledged it. It outlives a reload, a crashed tab and a phone
// that went to sleep; keyed by the sample's time, so a measurement put twice is stored once (as the server
// is idempotent on (device, t)).
const DB_NAME = "chinup-record";
const DB_VERSION = 1;
const SAMPLES = "samples"; // {t (epoch ms, the key), bpm, rr_ms, contact}
const META = "meta"; // "device": {id, name, upload_token, user_id}; "uploaded": count acknowledged so far
// Chromium's default durability ("relaxed") survives a crashed tab or browser; "strict" would also survive
// the operating system losing power, at an fsync per measurement. Relaxed keeps a strap's 1-4 Hz cheap.
const DURABILITY = { durability: "relaxed" };

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
});
const result = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

export class RecordQueue {
  constructor(db) {
    this.db = db;
  }

  /** Store one sample; resolves once IndexedDB has committed it. */
  async add(sample) {
    const tx = this.db.transaction(SAMPLES, "readwrite", DURABILITY);
    tx.objectStore(SAMPLES).put(sample);
    await done(tx);
  }

  /** The oldest `limit` samples, in time order. */
  async peek(limit) {
    const tx = this.db.transaction(SAMPLES, "readonly");
    return result(tx.objectStore(SAMPLES).getAll(null, limit));
  }

  async count() {
    return result(this.db.transaction(SAMPLES, "readonly").objectStore(SAMPLES).count());
  }

  /** Remove what the server acknowledged and add `n` to the uploaded count, in one transaction. */
  async acknowledge(times, n) {
    const tx = this.db.transaction([SAMPLES, META], "readwrite", DURABILITY);
    const samples = tx.objectStore(SAMPLES);
    for (const t of times) samples.delete(t);
    const meta = tx.objectStore(META);
    const uploaded = await result(meta.get("uploaded"));
    meta.put((uploaded || 0) + n, "uploaded");
    await done(tx);
  }

  async getMeta(key) {
    return result(this.db.transaction(META, "readonly").objectStore(META).get(key));
  }

  async setMeta(key, value) {
    const tx = this.db.transaction(META, "readwrite", DURABILITY);
    if (value === null || value === undefined) tx.objectStore(META).delete(key);
    else tx.objectStore(META).put(value, key);
    await done(tx);
  }
}

/** Open (and on first use create) the queue. */
export function openQueue(name = DB_NAME) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(SAMPLES)) db.createObjectStore(SAMPLES, { keyPath: "t" });
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
    };
    request.onsuccess = () => resolve(new RecordQueue(request.result));
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("the recording queue is open in an older tab: close it"));
  });
}
