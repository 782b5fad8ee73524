/**
 * `--review DIR` is deleted and written anew on every synth, so synth only does that to a
 * directory that is new, empty, or a bundle an earlier synth wrote (it holds .bulwark-review).
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkReviewDir, REVIEW_MARKER } from "../../bundle/write.ts";

const FIX =
  "Fix: pass a new or empty directory, or one an earlier `npm run synth` wrote (it " +
  "holds .bulwark-review); remove an old bundle from before that marker yourself";

describe("the review directory", () => {
  const base = mkdtempSync(join(tmpdir(), "bulwark-review-dir-"));
  const dir = (name: string, files: Record<string, string> = {}, dirs: string[] = []) => {
    const path = join(base, name);
    mkdirSync(path);
    for (const d of dirs) mkdirSync(join(path, d));
    for (const [f, content] of Object.entries(files)) writeFileSync(join(path, f), content);
    return path;
  };

  it("GIVEN a new path, an empty directory or an earlier bundle WHEN checked THEN synth may replace it", () => {
    expect(() => checkReviewDir(join(base, "new", "review"))).not.toThrow();
    expect(() => checkReviewDir(dir("empty"))).not.toThrow();
    expect(() => checkReviewDir(dir("bundle", { [REVIEW_MARKER]: "x", "TOPOLOGY.md": "# old" }, ["hosts"]))).not.toThrow();
  });

  it.each([
    [
      "a directory of other files",
      () => dir("home", { "notes.txt": "keep" }, [".ssh"]),
      /^--review: holds 2 entries but no \.bulwark-review, so it is not a review bundle, and synth would delete all of it; got ".*home"\. /,
    ],
    [
      "an old bundle without the marker",
      () => dir("old", { "TOPOLOGY.md": "# old", "plan.json": "{}" }),
      /^--review: holds 2 entries but no \.bulwark-review/,
    ],
    ["a directory whose marker is a directory", () => dir("fake", {}, [REVIEW_MARKER]), /^--review: holds 1 entry but no \.bulwark-review/],
    [
      "a file",
      () => {
        writeFileSync(join(base, "file.txt"), "keep");
        return join(base, "file.txt");
      },
      /^--review: is a file, not a review directory; synth deletes the review directory and writes it anew; got ".*file\.txt"\. /,
    ],
    [
      "a symbolic link to a bundle",
      () => {
        symlinkSync(dir("target", { [REVIEW_MARKER]: "x" }), join(base, "link"));
        return join(base, "link");
      },
      /^--review: is a symbolic link, not a review directory/,
    ],
  ])("GIVEN %s WHEN checked THEN it is refused with the fix", (_case, make, expected) => {
    const path = make();
    expect(() => checkReviewDir(path)).toThrow(expected);
    expect(() => checkReviewDir(path)).toThrow(new RegExp(`${FIX.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
  });
});
