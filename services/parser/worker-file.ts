import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Locates the production worker next to the running entry: `parse-worker.mjs` in a built
 * artifact, `worker.ts` when run from source with tsx (worker threads inherit tsx's
 * loader through execArgv).
 */
export function defaultWorkerFile(entryUrl: string): string {
  const built = fileURLToPath(new URL("./parse-worker.mjs", entryUrl));
  if (existsSync(built)) return built;
  const source = fileURLToPath(new URL("./worker.ts", entryUrl));
  if (existsSync(source)) return source;
  throw new Error(`parse worker not found: looked for ${built} and ${source}; ship parse-worker.mjs next to the entry`);
}
