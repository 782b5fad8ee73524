/** `npm run replace -- <host> [--auto-approve] [--no-retire] [--out DIR]`: see synth/replace.ts. */
import { parseArgs } from "node:util";
import { replaceHost } from "../synth/replace.ts";
import { UserError } from "../topology/errors.ts";

try {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { "auto-approve": { type: "boolean" }, "no-retire": { type: "boolean" }, out: { type: "string" } },
  });
  if (positionals.length !== 1) throw new UserError("host", "one host name is needed", positionals.join(" "), "npm run replace -- storage-2");
  process.exit(
    replaceHost({
      host: positionals[0]!,
      outdir: values.out ?? process.env["CDKTF_OUTDIR"] ?? "cdktf.out",
      autoApprove: values["auto-approve"] ?? false,
      noRetire: values["no-retire"] ?? false,
    }),
  );
} catch (err) {
  if (err instanceof UserError) {
    process.stderr.write(`bulwark: error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
