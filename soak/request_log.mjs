// The worker's own request log lines (`event: request`, one JSON object a line
// in wrangler dev's console), read as they are appended: each names the
// request's id (its X-Request-Id) and its storage round trips (`trips`).
import { closeSync, openSync, readSync, statSync } from "node:fs";

export class RequestLog {
  /** Reads `file` from its current end on. */
  constructor(file) {
    this.file = file;
    this.offset = statSync(file).size;
    this.rest = "";
  }

  /** The request lines appended since the last call: `{ requestId, status, path, trips, … }`. */
  read() {
    const size = statSync(this.file).size;
    if (size <= this.offset) return [];
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, "r");
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const lines = (this.rest + buffer.toString("utf8")).split("\n");
    this.rest = lines.pop(); // a line not yet whole
    const entries = [];
    for (const line of lines) {
      const at = line.indexOf('{"');
      if (at < 0 || !line.includes('"event":"request"')) continue;
      try {
        entries.push(JSON.parse(line.slice(at)));
      } catch {
        // not one of ours
      }
    }
    return entries;
  }
}
