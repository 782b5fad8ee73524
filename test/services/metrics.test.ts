import { describe, expect, it } from "vitest";
import { Counter, Gauge, Histogram, Registry } from "../../services/parser/metrics.ts";

describe("Prometheus exposition", () => {
  it("GIVEN a labelled counter WHEN incremented THEN HELP, TYPE and one sample per label set are rendered with escaped values", async () => {
    const r = new Registry();
    const c = r.register(new Counter("x_total", "Things."));
    c.inc({ reason: 'a"b' });
    c.inc({ reason: 'a"b' }, 2);
    c.inc({ reason: "c" });
    expect(await r.render()).toBe('# HELP x_total Things.\n# TYPE x_total counter\nx_total{reason="a\\"b"} 3\nx_total{reason="c"} 1\n');
  });

  it("GIVEN a counter never incremented THEN it renders 0; a negative increment is refused with the fix", async () => {
    const c = new Counter("y_total", "Y.");
    expect(c.render()).toBe("# HELP y_total Y.\n# TYPE y_total counter\ny_total 0");
    expect(() => c.inc({}, -1)).toThrow("counter y_total cannot decrease (inc by -1): use a gauge instead");
  });

  it("GIVEN observations WHEN a histogram renders THEN buckets are cumulative and end with +Inf, sum and count", () => {
    const h = new Histogram("lat_seconds", "Latency.", [0.1, 1]);
    for (const v of [0.05, 0.5, 0.5, 3]) h.observe(v);
    expect(h.render().split("\n")).toEqual([
      "# HELP lat_seconds Latency.",
      "# TYPE lat_seconds histogram",
      'lat_seconds_bucket{le="0.1"} 1',
      'lat_seconds_bucket{le="1"} 3',
      'lat_seconds_bucket{le="+Inf"} 4',
      "lat_seconds_sum 4.05",
      "lat_seconds_count 4",
    ]);
    expect(() => new Histogram("h", "H.", [1, 1])).toThrow(/bounds must increase strictly, got 1,1/);
  });

  it("GIVEN a gauge whose reader fails WHEN rendered THEN it reports NaN instead of breaking the scrape", async () => {
    const g = new Gauge("q", "Q.", async () => {
      throw new Error("disk gone");
    });
    expect(await g.render()).toBe("# HELP q Q.\n# TYPE q gauge\nq NaN");
    expect(await new Gauge("q2", "Q2.", () => 7).render()).toContain("\nq2 7");
  });
});
