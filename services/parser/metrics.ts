/**
 * Minimal Prometheus text exposition (format 0.0.4): counters, gauges and one histogram
 * type, which is all the parser exports. Written here rather than pulling in a client
 * library: the format is a few lines per family.
 */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${keys.map((k) => `${k}="${esc(labels[k]!)}"`).join(",")}}`;
}

function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

interface Family {
  render(): Promise<string> | string;
}

/** A monotonically increasing counter, optionally split by labels. */
export class Counter implements Family {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Adds `by` (default 1) to the series with `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease (inc by ${by}): use a gauge instead`);
    const k = labelText(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  /** Current value of one series (0 if never incremented). */
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${num(v)}`);
    return lines.join("\n");
  }
}

/** A gauge whose value is read at scrape time (one series, optionally labelled). */
export class Gauge implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number | Promise<number>,
    private readonly labels: Labels = {},
  ) {}

  async render(): Promise<string> {
    let v: number;
    try {
      v = await this.read();
    } catch {
      v = NaN;
    }
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name}${labelText(this.labels)} ${num(v)}`].join("\n");
  }
}

/** A cumulative histogram with fixed upper bounds (seconds for latency). */
export class Histogram implements Family {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`histogram ${name} bounds must increase strictly, got ${bounds.join(",")}`);
    }
    this.counts = bounds.map(() => 0);
  }

  /** Records one observation. */
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]!) this.counts[i]!++;
  }

  /** Number of observations so far. */
  get observations(): number {
    return this.count;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [i, b] of this.bounds.entries()) lines.push(`${this.name}_bucket{le="${num(b)}"} ${this.counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${num(this.sum)}`);
    lines.push(`${this.name}_count ${this.count}`);
    return lines.join("\n");
  }
}

/** A set of metric families rendered together. */
export class Registry {
  private readonly families: Family[] = [];

  /** Adds a family and returns it. */
  register<T extends Family>(f: T): T {
    this.families.push(f);
    return f;
  }

  /** The full exposition text, ending in a newline. */
  async render(): Promise<string> {
    const parts = await Promise.all(this.families.map((f) => f.render()));
    return `${parts.join("\n")}\n`;
  }
}

/** Content-Type of the exposition. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The parser's metric families. */
export interface ParserMetrics {
  registry: Registry;
  processed: Counter;
  failed: Counter;
  quarantined: Counter;
  parseSeconds: Histogram;
}

/**
 * Creates the parser metrics; `queueDepth` and `poolThreads` are read at scrape time.
 * `documentLimit` is the document store's size limit, exported as a constant gauge.
 */
export function createParserMetrics(
  queueDepth: () => Promise<number>,
  poolThreads: () => number,
  documentLimit?: { bytes: number; measure: string },
): ParserMetrics {
  const registry = new Registry();
  const processed = registry.register(new Counter("bulwark_parser_processed_total", "Messages parsed and stored."));
  const failed = registry.register(
    new Counter(
      "bulwark_parser_failed_total",
      "Messages whose processing failed for a non-message reason (I/O, store); they are released for retry.",
    ),
  );
  const quarantined = registry.register(
    new Counter("bulwark_parser_quarantined_total", "Messages and spool entries moved to quarantine, by reason (see the parser README)."),
  );
  registry.register(new Gauge("bulwark_parser_queue_depth", "Files waiting in the spool's new/ directory.", queueDepth));
  registry.register(new Gauge("bulwark_parser_pool_threads", "Live parse worker threads.", poolThreads));
  if (documentLimit) {
    const { bytes, measure } = documentLimit;
    registry.register(
      new Gauge(
        "bulwark_parser_document_limit_bytes",
        "Largest document the store accepts; larger ones are quarantined as document-too-large.",
        () => bytes,
        { measure },
      ),
    );
  }
  const parseSeconds = registry.register(
    new Histogram(
      "bulwark_parser_parse_seconds",
      "Wall-clock time of one parse in a worker.",
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
  );
  return { registry, processed, failed, quarantined, parseSeconds };
}
