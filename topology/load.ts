/**
 * Reads a topology (TS object, JSON file or YAML file), applies the schema's defaults, and
 * validates it: ajv for shape, then the named rules. Every failure becomes a `UserError`
 * naming the field path, the value and the fix.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parseDocument } from "yaml";
import { isIpCidr, isIpv4Cidr } from "./cidr.ts";
import { SEED_TOPOLOGY } from "./defaults.ts";
import { UserError, UserErrors, dottedPath } from "./errors.ts";
import type { Topology, TopologyInput } from "./model.ts";
import { checkTopologyRules } from "./rules.ts";
import { TOPOLOGY_SCHEMA } from "./schema.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const ajv = new Ajv2020({ allErrors: true, useDefaults: true, verbose: true, strict: true });
addFormats(ajv);
ajv.addFormat("ipv4-cidr", isIpv4Cidr);
ajv.addFormat("ip-cidr", isIpCidr);
ajv.addKeyword({ keyword: "x-fix", schemaType: "string" });
const validateShape = ajv.compile(TOPOLOGY_SCHEMA);

/** Where the topology comes from. */
export type TopologySource =
  | { readonly kind: "seed" }
  | { readonly kind: "object"; readonly topology: TopologyInput }
  | { readonly kind: "file"; readonly path: string };

/** Loads, fills defaults and validates. Throws `UserError`/`UserErrors` on bad input. */
export function loadTopology(source: TopologySource = { kind: "seed" }): Topology {
  switch (source.kind) {
    case "seed":
      return validateTopology(SEED_TOPOLOGY);
    case "object":
      return validateTopology(source.topology);
    case "file":
      return validateTopology(readTopologyFile(source.path), source.path);
  }
}

/** Parses a `.json`, `.yaml` or `.yml` file into plain data. */
export function readTopologyFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UserError(path, `cannot read the topology file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, path, "pass the path of an existing .json, .yaml or .yml file");
  }
  const ext = extname(path).toLowerCase();
  if (ext === ".json") return parseJson(path, text);
  if (ext === ".yaml" || ext === ".yml") return parseYaml(path, text);
  throw new UserError(path, "unknown topology file type", ext || "no extension", "name the file *.json, *.yaml or *.yml");
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(path, `JSON syntax error: ${(err as Error).message}`, path, "correct the JSON syntax at the place named");
  }
}

function parseYaml(path: string, text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    const where = at ? `${path}:${at.line}:${at.col}` : path;
    const reason = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new UserError(where, `YAML syntax error (${first.code}): ${reason}`, lineAt(text, at?.line), "correct the YAML syntax at that line and column");
  }
  return doc.toJS();
}

function lineAt(text: string, line: number | undefined): string | undefined {
  return line === undefined ? undefined : text.split("\n")[line - 1];
}

/** Shape check with defaults filled in, then the cross-field rules. */
export function validateTopology(input: unknown, file?: string): Topology {
  const data = structuredClone(input);
  if (!validateShape(data)) {
    throw new UserErrors(rewriteAjvErrors(validateShape.errors ?? [], file));
  }
  const topology = data as unknown as Topology;
  const ruleErrors = checkTopologyRules(topology);
  if (ruleErrors.length > 0) throw new UserErrors(ruleErrors);
  return topology;
}

/** ajv's errors as one `UserError` per field path, each with the schema's `x-fix`. */
function rewriteAjvErrors(errors: readonly ErrorObject[], file?: string): UserError[] {
  const byPath = new Map<string, UserError>();
  for (const error of errors) {
    // A bad key is reported twice: by the key's own schema (with propertyName set) and by
    // `propertyNames` itself. The first carries the fix.
    if (error.keyword === "propertyNames") continue;
    const rewritten = rewriteOne(error, file);
    if (!byPath.has(rewritten.path)) byPath.set(rewritten.path, rewritten);
  }
  return [...byPath.values()];
}

function rewriteOne(error: ErrorObject, file?: string): UserError {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
  const prefix = file ? `${file}: ` : "";
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  const fix = typeof parent["x-fix"] === "string" ? (parent["x-fix"] as string) : undefined;
  const at = (extra: (string | number)[] = []) => prefix + (dottedPath([...segments, ...extra]) || "(top level)");

  if (error.propertyName !== undefined) {
    return new UserError(at([error.propertyName]), "is not an allowed key", error.propertyName, fix ?? "rename the key");
  }
  switch (error.keyword) {
    case "additionalProperties": {
      const name = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((parent["properties"] ?? {}) as object).join(", ");
      return new UserError(at([name]), "unknown field", name, `remove it or correct its spelling; known fields here: ${known}`);
    }
    case "required": {
      const name = (error.params as { missingProperty: string }).missingProperty;
      return new UserError(at([name]), "is required", undefined, `add ${name}`);
    }
    case "enum":
      return new UserError(at(), "is not an allowed value", error.data, fix ?? `use one of ${JSON.stringify(error.schema)}`);
    case "const":
      return new UserError(at(), `must be ${JSON.stringify(error.schema)}`, error.data, fix ?? `set it to ${JSON.stringify(error.schema)}`);
    case "format":
      return new UserError(at(), `is not a valid ${String(error.schema)}`, error.data, fix ?? "correct the value");
    case "pattern":
      return new UserError(at(), "has characters or a form that is not allowed", error.data, fix ?? `match ${String(error.schema)}`);
    case "type":
      return new UserError(at(), `must be ${String(error.schema)}`, error.data, fix ?? `write a ${String(error.schema)}`);
    default:
      return new UserError(at(), error.message ?? error.keyword, error.data, fix ?? "correct the value");
  }
}
