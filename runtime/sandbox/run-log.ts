// A run's captured log: console lines from the plugin and notes from the host, bounded so a
// chatty or hostile plugin cannot grow it without limit.

export type LogLevel = 'log' | 'info' | 'warn' | 'error' | 'debug' | 'host';

export class RunLog {
  #parts: string[] = [];
  #bytes = 0;
  #truncated = false;
  readonly #max: number;
  readonly #now: () => number;

  constructor(maxBytes: number, now: () => number = Date.now) {
    this.#max = maxBytes;
    this.#now = now;
  }

  append(level: LogLevel, text: string): void {
    if (this.#truncated) return;
    const line = `${new Date(this.#now()).toISOString()} [${level}] ${text}`;
    if (this.#bytes + line.length + 1 > this.#max) {
      this.#truncated = true;
      this.#parts.push(`[log truncated at ${this.#max} bytes]`);
      return;
    }
    this.#bytes += line.length + 1;
    this.#parts.push(line);
  }

  toString(): string {
    return this.#parts.join('\n');
  }
}
