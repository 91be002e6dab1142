// A run's captured log: console lines from the plugin and notes from the host, bounded so a
// chatty or hostile plugin cannot grow it without limit. What the bound drops is counted, here
// and in the guest (which stops sending once the run's log is full), and the log's last line
// says how much went.

export type LogLevel = 'log' | 'info' | 'warn' | 'error' | 'debug' | 'host';

export class RunLog {
  #parts: string[] = [];
  #bytes = 0;
  #truncated = false;
  #droppedLines = 0;
  #droppedBytes = 0;
  readonly #max: number;
  readonly #now: () => number;

  constructor(maxBytes: number, now: () => number = Date.now) {
    this.#max = maxBytes;
    this.#now = now;
  }

  append(level: LogLevel, text: string): void {
    if (this.#truncated) {
      this.dropped(1, text.length);
      return;
    }
    const line = `${new Date(this.#now()).toISOString()} [${level}] ${text}`;
    if (this.#bytes + line.length + 1 > this.#max) {
      this.#truncated = true;
      this.dropped(1, text.length);
      return;
    }
    this.#bytes += line.length + 1;
    this.#parts.push(line);
  }

  /** Lines that never reached this log (the guest dropped them once the run's log was full). */
  dropped(lines: number, bytes: number): void {
    this.#truncated = true;
    this.#droppedLines += lines;
    this.#droppedBytes += bytes;
  }

  toString(): string {
    if (!this.#truncated) return this.#parts.join('\n');
    const lines = this.#droppedLines === 1 ? '1 line' : `${this.#droppedLines} lines`;
    return [...this.#parts, `[log truncated at ${this.#max} bytes: ${lines} (${this.#droppedBytes} bytes of text) dropped]`].join('\n');
  }
}
