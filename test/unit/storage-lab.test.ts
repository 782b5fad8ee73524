/** The storage lab's pure parts: the stall measure and the volume file comparison. */
import { describe, expect, it } from "vitest";
import { compareVolfiles, parseVolfile } from "../../lab/storage-lab.ts";
import { longestStall, parseWriterLine, type WriterRecord } from "../../lab/storage-writer.ts";

const op = (t1: number, kind: WriterRecord["kind"] = "W"): WriterRecord => ({ kind, t0: t1 - 0.01, t1, path: "/srv/shared/a/f1", detail: "x" });

describe("longest stall", () => {
  it("GIVEN completions every 50 ms with one 2 s gap in the window WHEN measured THEN the stall is 2 s", () => {
    const records = [0, 0.05, 0.1, 2.1, 2.15].map((t) => op(10 + t));
    expect(longestStall(records, 10.08, 12.2)).toBeCloseTo(2, 6);
  });

  it("GIVEN failed operations inside a gap WHEN measured THEN they do not end the stall", () => {
    const records = [op(10), op(11, "E"), op(12, "E"), op(13)];
    expect(longestStall(records, 10, 14)).toBeCloseTo(3, 6);
  });

  it("GIVEN no completion after the fault WHEN measured at the end of the window THEN the stall runs to the end of the window", () => {
    expect(longestStall([op(10), op(10.05)], 10.06, 15)).toBeCloseTo(4.95, 6);
  });

  it("GIVEN a writer line WHEN parsed THEN kind, times, path and checksum are kept; noise is ignored", () => {
    expect(parseWriterLine(`W 12.500000 12.520000 /srv/shared/app-1/f000001 ${"a".repeat(64)}`)).toEqual({
      kind: "W",
      t0: 12.5,
      t1: 12.52,
      path: "/srv/shared/app-1/f000001",
      detail: "a".repeat(64),
    });
    expect(parseWriterLine("DONE 12")).toBeUndefined();
  });
});

describe("volume file comparison", () => {
  const vol = (extra: string) =>
    `volume v-client-0\n    type protocol/client\n    option remote-host ` +
    `10.0.1.20\n${extra}end-volume\n\nvolume v\n    type debug/io-stats\n    subvolumes v-client-0\nend-volume\n`;

  it("GIVEN two files that differ only in option order and the random volume-id WHEN compared THEN there is no difference", () => {
    const a = parseVolfile(vol("    option ping-timeout 5\n    option volume-id 1\n"));
    const b = parseVolfile(`# comment\n${vol("    option volume-id 2\n    option ping-timeout 5\n")}`);
    expect(compareVolfiles(a, b)).toEqual([]);
  });

  it("GIVEN a different option value and a missing translator WHEN compared THEN both are named", () => {
    const a = parseVolfile(vol("    option ping-timeout 5\n"));
    const b = parseVolfile(vol("    option ping-timeout 42\n").replace(/volume v\n[\s\S]*$/, ""));
    expect(compareVolfiles(a, b)).toEqual(["v-client-0: option ping-timeout 5 vs 42", "v only in the kept file"]);
  });
});
