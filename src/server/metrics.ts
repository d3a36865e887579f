/**
 * Prometheus text exposition (format 0.0.4) for the service: request counts
 * and a latency histogram per route, plus gauges read at scrape time.
 */

/** Latency buckets in seconds: completions take tens of ms to seconds on CPU. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

function labelText(labels: Record<string, string | number> | undefined): string {
  if (labels === undefined || Object.keys(labels).length === 0) return '';
  const escapeValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeValue(String(v))}"`)
    .join(',')}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export class ServiceMetrics {
  /** "method route status" → count. */
  private readonly requests = new Map<string, number>();
  /** "method route" → latency histogram. */
  private readonly latency = new Map<string, Histogram>();
  private readonly completions = { deferred: 0, edited: 0 };
  readonly startedAt = Date.now();

  /** Records one answered request; `route` is the route template (bounded label values). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const histogramKey = `${method} ${route}`;
    let histogram = this.latency.get(histogramKey);
    if (histogram === undefined) {
      histogram = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(histogramKey, histogram);
    }
    LATENCY_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) histogram!.counts[i]++;
    });
    histogram.sum += seconds;
    histogram.count++;
  }

  observeCompletion(deferred: boolean): void {
    this.completions[deferred ? 'deferred' : 'edited']++;
  }

  /** The exposition text: this object's own series, then `families` computed by the caller. */
  render(families: readonly MetricFamily[]): string {
    const lines: string[] = [];
    lines.push('# HELP elder_http_requests_total HTTP requests answered, by method, route and status.', '# TYPE elder_http_requests_total counter');
    for (const [key, count] of this.requests) {
      const [method, route, status] = key.split(' ');
      lines.push(`elder_http_requests_total${labelText({ method, route, status })} ${count}`);
    }
    lines.push('# HELP elder_http_request_duration_seconds Time to answer HTTP requests.', '# TYPE elder_http_request_duration_seconds histogram');
    for (const [key, histogram] of this.latency) {
      const [method, route] = key.split(' ');
      LATENCY_BUCKETS.forEach((bound, i) => {
        lines.push(`elder_http_request_duration_seconds_bucket${labelText({ method, route, le: bound })} ${histogram.counts[i]}`);
      });
      lines.push(`elder_http_request_duration_seconds_bucket${labelText({ method, route, le: '+Inf' })} ${histogram.count}`);
      lines.push(`elder_http_request_duration_seconds_sum${labelText({ method, route })} ${histogram.sum}`);
      lines.push(`elder_http_request_duration_seconds_count${labelText({ method, route })} ${histogram.count}`);
    }
    lines.push('# HELP elder_completions_total Completions answered, by whether ELDER deferred to the base model.', '# TYPE elder_completions_total counter');
    lines.push(`elder_completions_total{deferred="true"} ${this.completions.deferred}`, `elder_completions_total{deferred="false"} ${this.completions.edited}`);
    for (const family of families) {
      lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
      for (const sample of family.samples) lines.push(`${family.name}${labelText(sample.labels)} ${formatValue(sample.value)}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
