/**
 * `npm run build:services`: builds every service into dist/services/ (or the directory given)
 * as <name>.tar.gz + <name>.tar.gz.sha256 + manifest.json, and prints each sha256. The build
 * itself is services/build.ts; synth runs it too when the sources changed.
 *
 *   npx tsx scripts/build-services.ts [outDir]
 */
import { buildServices } from "../services/build.ts";

try {
  for (const s of await buildServices(process.argv[2])) process.stdout.write(`${s.sha256}  ${s.file}\n`);
} catch (err) {
  process.stderr.write(`build-services failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
