import { describe, expect, it } from "vitest";
import { countFromEnv, round, spread } from "../../measure/stats.ts";

describe("measurement helpers", () => {
  it("GIVEN an odd and an even set WHEN summarised THEN the median, min and max are right and the input is untouched", () => {
    const odd = [0.3, 0.1, 0.2];
    expect(spread(odd)).toEqual({ median: 0.2, min: 0.1, max: 0.3 });
    expect(odd).toEqual([0.3, 0.1, 0.2]);
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(spread([])).toEqual({ median: NaN, min: NaN, max: NaN });
  });

  it("GIVEN a value WHEN rounded THEN it keeps the digits asked for", () => {
    expect(round(0.123456)).toBe(0.123);
    expect(round(0.123456, 4)).toBe(0.1235);
  });

  it("GIVEN a count in the environment WHEN read THEN a whole number 1..1000 is taken and anything else is an error naming it", () => {
    process.env["BULWARK_TEST_COUNT"] = "7";
    expect(countFromEnv("BULWARK_TEST_COUNT", 5)).toBe(7);
    process.env["BULWARK_TEST_COUNT"] = "0.5";
    expect(() => countFromEnv("BULWARK_TEST_COUNT", 5)).toThrow("BULWARK_TEST_COUNT=0.5: use a whole number from 1 to 1000");
    delete process.env["BULWARK_TEST_COUNT"];
    expect(countFromEnv("BULWARK_TEST_COUNT", 5)).toBe(5);
  });
});
