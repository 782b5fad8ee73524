/**
 * Checks a rendered mongod.conf / mongos.conf against its JSON Schema (mongo-schema/, written
 * from MongoDB's configuration file reference): parsed as YAML the way mongod reads it, then
 * validated with ajv. The layers run it on every file they render, so a config that breaks the
 * schema never reaches a host; the tests run it on the review bundle.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";

const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "mongo-schema");
export type MongoConfigKind = "mongod" | "mongos";

let validators: Record<MongoConfigKind, ValidateFunction> | undefined;

function load(): Record<MongoConfigKind, ValidateFunction> {
  const read = (kind: MongoConfigKind) => JSON.parse(readFileSync(join(SCHEMA_DIR, `${kind}.schema.json`), "utf8")) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addSchema(read("mongod"), "mongod.schema.json");
  ajv.addSchema(read("mongos"), "mongos.schema.json");
  return { mongod: ajv.getSchema("mongod.schema.json")!, mongos: ajv.getSchema("mongos.schema.json")! };
}

/** Problems of a rendered config (`path: message`), empty when it passes. YAML errors count. */
export function mongoConfigProblems(kind: MongoConfigKind, text: string): string[] {
  validators ??= load();
  let doc: unknown;
  try {
    doc = parse(text, { strict: true, uniqueKeys: true });
  } catch (err) {
    return [`YAML: ${(err as Error).message.split("\n")[0]}`];
  }
  const validate = validators[kind];
  if (validate(doc)) return [];
  return (validate.errors ?? []).map(
    (e) =>
      `${e.instancePath || "/"}: ${e.message ?? "invalid"}` +
      `${e.params && "additionalProperty" in e.params ? ` (${String(e.params["additionalProperty"])})` : ""}`,
  );
}

/** The rendered text, or an error naming the file, the problems and the fix. */
export function checkedMongoConfig(kind: MongoConfigKind, host: string, text: string): string {
  const problems = mongoConfigProblems(kind, text);
  if (problems.length > 0) {
    throw new Error(
      `render/mongo: ${kind}.conf of ${host} breaks mongo-schema/${kind}.schema.json: ${problems.join("; ")}. ` +
        `Fix the typed config in render/mongo-${kind === "mongod" ? "server" : "router"}.ts or the template`,
    );
  }
  return text;
}
