/**
 * How the labs read what they measure: the gluster CLI's outputs (lab/gluster.ts), the writers'
 * files against the mount (lab/storage-writer.ts), and the parsers' processed logs (lab/stack.ts).
 * The gluster texts are in glusterfs 11's `--mode=script` layout.
 */
import { describe, expect, it } from "vitest";
import { bricksOnline, healEntries, healSummary, peersConnected, splitBrainEntries } from "../../lab/gluster.ts";
import { moreThanOnce } from "../../lab/stack.ts";
import { checkWrites, writtenFiles, type WriterRecord } from "../../lab/storage-writer.ts";

const brick = (host: string, lines: string) => `Brick ${host}:/srv/gluster/brick1/shared\n${lines}\n`;

describe("gluster outputs", () => {
  it("GIVEN volume status detail with one brick offline WHEN read THEN two bricks are online", () => {
    const detail = ["storage-1", "storage-2", "storage-3"]
      .map(
        (h, i) =>
          `Brick                : Brick ${h}:/srv/gluster/brick1/shared\nTCP Port             : ${i === 1 ? "N/A" : "49152"}\n` +
          `RDMA Port            : 0\nOnline               : ${i === 1 ? "N" : "Y"}\nPid                  : ${i === 1 ? "N/A" : 4242}\n`,
      )
      .join("------------------------------------------------------------------------------\n");
    expect(bricksOnline(`Status of volume: shared\n${detail}`)).toBe(2);
    expect(bricksOnline("")).toBe(0);
  });

  it("GIVEN heal info summary WHEN read THEN pending and split-brain entries are summed over the bricks that reported", () => {
    const summary = [
      brick("storage-1", "Status: Connected\nTotal Number of entries: 3\nNumber of entries in heal pending: 3\nNumber of entries in split-brain: 0"),
      brick("storage-2", "Status: Connected\nTotal Number of entries: 2\nNumber of entries in heal pending: 1\nNumber of entries in split-brain: 1"),
      brick("storage-3", "Status: Transport endpoint is not connected\nTotal Number of entries: -\nNumber of entries in heal pending: -"),
    ].join("\n");
    expect(healSummary(summary)).toEqual({ pending: 4, splitBrain: 1, bricks: 2 });
  });

  it("GIVEN heal info and its split-brain form WHEN read THEN entries, connected bricks and split-brain entries are counted", () => {
    const info = [
      brick("storage-1", "Status: Connected\nNumber of entries: 0"),
      brick("storage-2", "Status: Connected\n/app-1/f000017\nNumber of entries: 1"),
      brick("storage-3", "Status: Transport endpoint is not connected\nNumber of entries: -"),
    ].join("\n");
    expect(healEntries(info)).toEqual({ entries: 1, bricks: 2, connected: 2 });
    const split = [
      brick("storage-1", "Status: Connected\nNumber of entries in split-brain: 0"),
      brick("storage-2", "Status: Connected\nNumber of entries in split-brain: 2"),
    ];
    expect(splitBrainEntries(split.join("\n"))).toBe(2);
    expect(splitBrainEntries("Volume shared does not exist")).toBe(0);
  });

  it("GIVEN peer status with one peer disconnected WHEN read THEN one peer is connected", () => {
    const status =
      "Number of Peers: 2\n\nHostname: 10.0.1.31\nUuid: 7b0b…\nState: Peer in Cluster (Connected)\n\n" +
      "Hostname: 10.0.1.32\nUuid: 1c9e…\nState: Peer in Cluster (Disconnected)\n";
    expect(peersConnected(status)).toBe(1);
  });
});

describe("the writers' files against the mount", () => {
  const rec = (kind: WriterRecord["kind"], path: string, detail: string): WriterRecord => ({ kind, t0: 1, t1: 2, path, detail });
  const sum = (c: string) => c.repeat(64);

  it("GIVEN written files, one missing and one changed on the mount WHEN checked THEN lost, mismatched, errors and bad reads are counted", () => {
    const records = [
      rec("W", "/srv/shared/a/f1", sum("a")),
      rec("W", "/srv/shared/a/f2", sum("b")),
      rec("W", "/srv/shared/a/f3", sum("c")),
      rec("R", "/srv/shared/a/f1", "ok"),
      rec("R", "/srv/shared/a/f2", "bad"),
      rec("E", "/srv/shared/a/f4", "5"),
    ];
    const onMount = new Map([
      ["/srv/shared/a/f1", sum("a")],
      ["/srv/shared/a/f2", sum("d")],
    ]);
    expect(writtenFiles(records).size).toBe(3);
    expect(checkWrites(records, onMount)).toEqual({ files: 3, lost: 1, mismatched: 1, write_errors: 1, bad_reads: 1 });
  });
});

describe("the processed logs", () => {
  it("GIVEN ids with repeats WHEN counted THEN each id seen more than once counts once", () => {
    expect(moreThanOnce(["a", "b", "a", "c", "a", "b"])).toBe(2);
    expect(moreThanOnce([])).toBe(0);
  });
});
