/**
 * Reads a topology (TS object, JSON file or YAML file), applies the schema's defaults, and
 * validates it: ajv for shape, then the named rules. Every failure becomes a `UserError`
 * naming the field path (or the file, line and column), the value and the fix.
 *
 * A topology file is untrusted input and is bounded before and while it is parsed: only a
 * regular file is opened (a FIFO or a device would block or never end), at most
 * MAX_TOPOLOGY_BYTES of it, valid UTF-8; YAML is pre-scanned for nesting and item counts before
 * the parser (which recurses, and costs about 5 ms and 1 MB per KiB of tiny items) sees it,
 * aliases are limited, unknown tags and duplicate keys refused; JSON duplicate keys too.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { extname } from "node:path";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { isScalar, parseDocument, visit, type Document } from "yaml";
import { cidrProblem, isIpCidr, isIpv4Cidr } from "./cidr.ts";
import { SEED_TOPOLOGY } from "./defaults.ts";
import { UserError, UserErrors, dottedPath } from "./errors.ts";
import type { Topology, TopologyInput } from "./model.ts";
import { checkTopologyRules } from "./rules.ts";
import { TOPOLOGY_SCHEMA } from "./schema.ts";

/**
 * Largest topology file, in bytes. The seed written out is about 1 KiB; keys are capped at 4 KiB
 * together (they share the 32 KiB user_data); 64 KiB leaves room for labels and comments. It also
 * bounds the parse: the worst 64 KiB measured here (a flat list of one-character items) takes the
 * YAML parser about 0.4 s and 60 MB, inside the CLI's 2 s / 200 MB budget.
 */
export const MAX_TOPOLOGY_BYTES = 64 * 1024;
/** Deepest nesting of objects and lists. A topology needs 4 (admin.sshKeys[0].publicKey). */
export const MAX_NESTING = 32;
/** Most values (objects, lists, scalars; YAML aliases counted as often as used). A big topology has a few hundred. */
export const MAX_VALUES = 10_000;
/** The YAML library's guard against alias bombs (uses × nested aliases of one anchor). */
const MAX_YAML_ALIAS_COUNT = 100;

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
      return validateTopology(readTopologyFile(source.path), shown(source.path));
  }
}

/** Parses a `.json`, `.yaml` or `.yml` file into plain data. */
function readTopologyFile(path: string): unknown {
  const name = shown(path);
  const ext = extname(path).toLowerCase();
  if (ext !== ".json" && ext !== ".yaml" && ext !== ".yml") {
    throw new UserError(name, "unknown topology file type", ext || "no extension", "name the file *.json, *.yaml or *.yml");
  }
  const text = readBounded(path, name);
  return ext === ".json" ? parseJson(name, text) : parseYaml(name, text);
}

/** A path as printed: JSON-quoted when it holds control characters, so the error stays one line. */
function shown(path: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
}

/**
 * The file's text: a regular file only, at most MAX_TOPOLOGY_BYTES, valid UTF-8. Opened without
 * blocking (a FIFO would wait for a writer forever) and checked on the open descriptor, so the
 * file cannot be swapped between the check and the read.
 */
function readBounded(path: string, name: string): string {
  const fix = "pass the path of an existing .json, .yaml or .yml file";
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new UserError(name, `cannot read the topology file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, path, fix);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new UserError(
        name,
        `is ${fileKind(stat)}, not a regular file`,
        path,
        "pass a regular .json, .yaml or .yml file (not a pipe, device, socket or directory)",
      );
    }
    const tooBig = (size: string) =>
      new UserError(
        name,
        `is ${size} bytes, above the ${MAX_TOPOLOGY_BYTES}-byte limit of a topology file`,
        size,
        `keep the topology under ${MAX_TOPOLOGY_BYTES / 1024} KiB (the seed is about 1 KiB); check that this is the right file`,
      );
    if (stat.size > MAX_TOPOLOGY_BYTES) throw tooBig(String(stat.size));
    // Read at most one byte past the limit, in case the file grew after fstat.
    const buf = Buffer.alloc(MAX_TOPOLOGY_BYTES + 1);
    let length = 0;
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > MAX_TOPOLOGY_BYTES) throw tooBig(`${length} or more`);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, length));
    } catch {
      throw new UserError(name, "is not valid UTF-8 text", path, "save the file as UTF-8");
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(name, `cannot read the topology file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, path, fix);
  } finally {
    closeSync(fd);
  }
}

function fileKind(stat: Stats): string {
  if (stat.isFIFO()) return "a FIFO (named pipe)";
  if (stat.isDirectory()) return "a directory";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSocket()) return "a socket";
  return "a special file";
}

/** 1-based line and column of `offset` in `text`. */
function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

function parseJson(path: string, text: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(path, `JSON syntax error: ${(err as Error).message.split("\n")[0]}`, path, "correct the JSON syntax at the place named");
  }
  scanJson(path, text);
  return data;
}

/**
 * What JSON.parse lets pass: a key repeated in one object (the last would silently win), and
 * nesting deeper than MAX_NESTING. One linear pass over text JSON.parse has accepted. (The YAML
 * library's own duplicate-key check compares every key with every other: seconds for 64 KiB.)
 */
function scanJson(path: string, text: string): void {
  const stack: (Set<string> | undefined)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") {
      stack.push(c === "{" ? new Set() : undefined);
      if (stack.length > MAX_NESTING) {
        const at = position(text, i);
        throw new UserError(
          `${path}:${at.line}:${at.col}`,
          `nests objects and lists more than ${MAX_NESTING} deep`,
          stack.length,
          "a topology nests at most 4 levels; remove the extra nesting",
        );
      }
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      const keys = stack[stack.length - 1];
      if (keys === undefined) continue;
      let next = i + 1;
      while (/\s/.test(text[next] ?? "")) next++;
      if (text[next] !== ":") continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (keys.has(key)) {
        const at = position(text, start);
        throw new UserError(
          `${path}:${at.line}:${at.col}`,
          "repeats a key of the same object (JSON would keep the last silently)",
          key,
          "keep one of the two entries",
        );
      }
      keys.add(key);
    }
  }
}

function parseYaml(path: string, text: string): unknown {
  prescanYaml(path, text);
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, {
      prettyErrors: true,
      // Duplicate keys are found by rejectDuplicateKeys (linear; the library's check is quadratic).
      uniqueKeys: false,
      // YAML 1.2 core only, even under a %YAML 1.1 directive: no `yes` booleans, no `<<` merges,
      // no !!binary/!!set/!!timestamp; any other tag is left unresolved and refused below.
      version: "1.2",
      schema: "core",
      merge: false,
      resolveKnownTags: false,
      stringKeys: true,
      logLevel: "error",
    });
  } catch (err) {
    throw parserFailure(path, err);
  }
  const first = doc.errors[0] ?? doc.warnings[0];
  if (first) {
    const at = first.linePos?.[0];
    const where = at ? `${path}:${at.line}:${at.col}` : path;
    const reason = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    const fix =
      first.code === "TAG_RESOLVE_FAILED"
        ? "remove the tag: a topology is plain YAML (strings, numbers, booleans, lists, maps)"
        : "correct the YAML syntax at that line and column";
    throw new UserError(
      where,
      `YAML ${first.name === "YAMLWarning" ? "problem" : "syntax error"} (${first.code}): ${reason}`,
      lineAt(text, at?.line),
      fix,
    );
  }
  rejectDuplicateKeys(path, text, doc);
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new UserError(
        path,
        `uses YAML aliases too often (${err.message})`,
        MAX_YAML_ALIAS_COUNT,
        "write the repeated values out, or alias them fewer times",
      );
    }
    throw parserFailure(path, err);
  }
}

/** Anything else the YAML library throws, as a user error (the pre-scan should leave none). */
function parserFailure(path: string, err: unknown): UserError {
  const message = err instanceof Error ? err.message.split("\n")[0]! : String(err);
  return new UserError(
    path,
    `the YAML parser gave up (${err instanceof Error ? err.name : "error"}: ${message})`,
    path,
    "simplify the file: plain keys and values, little nesting",
  );
}

/**
 * Before the YAML parser runs (it recurses once per nesting level, and its cost grows with the
 * number of items): an upper bound on the nesting of each line, and a count of the indicators that
 * start items. Per line: two levels per open indentation level (a map and the list in it may
 * share one), one per `- `, `? ` and `: ` on the line, plus the open `[` and `{`. It over-counts
 * (a `: ` or `[` inside a string counts too), so its limit is twice MAX_NESTING; the exact nesting
 * is checked on the parsed data (boundedCopy).
 */
function prescanYaml(path: string, text: string): void {
  const indents: number[] = [];
  let flow = 0;
  let items = 0;
  let lineNo = 0;
  for (const raw of text.split("\n")) {
    lineNo++;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    let indent = 0;
    while (line[indent] === " ") indent++;
    if (indent === line.length || line[indent] === "#") continue;
    while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
    indents.push(indent);
    let compact = 0;
    let peak = flow;
    for (let i = indent; i < line.length; i++) {
      const c = line[i];
      const next = line[i + 1];
      const spaced = next === undefined || next === " " || next === "\t";
      if ((c === "-" || c === "?" || c === ":") && spaced) {
        compact++;
        items++;
      } else if (c === "[" || c === "{") {
        flow++;
        items++;
        if (flow > peak) peak = flow;
      } else if (c === "]" || c === "}") {
        if (flow > 0) flow--;
      } else if (c === ",") {
        items++;
      }
    }
    const bound = 2 * indents.length + compact + peak;
    if (bound > 2 * MAX_NESTING) {
      throw new UserError(
        `${path}:${lineNo}`,
        `nests deeper than a topology can (${bound} levels of indentation, '- ', '? ', ': ', '[' and '{' on this line, above ${2 * MAX_NESTING})`,
        line,
        "a topology nests at most 4 levels; remove the extra nesting",
      );
    }
    if (items > MAX_VALUES) {
      throw new UserError(
        `${path}:${lineNo}`,
        `holds more than ${MAX_VALUES} items by this line ('- ', ': ', ',', '[' and '{'); a topology has a few hundred`,
        items,
        "check that this is the right file, and list only the fields that differ from the seed",
      );
    }
  }
}

/** A key repeated in one YAML map (the parser's own check is off: it is quadratic). */
function rejectDuplicateKeys(path: string, text: string, doc: Document.Parsed): void {
  let duplicate: { key: string; offset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key)) {
          duplicate = { key, offset: pair.key.range?.[0] ?? 0 };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  if (duplicate) {
    const at = position(text, duplicate.offset);
    throw new UserError(`${path}:${at.line}:${at.col}`, "repeats a key of the same map", duplicate.key, "keep one of the two entries");
  }
}

function lineAt(text: string, line: number | undefined): string | undefined {
  return line === undefined ? undefined : text.split("\n")[line - 1];
}

/**
 * A fresh copy of the input, checked for nesting and size on the way, without recursion (ajv
 * and structuredClone recurse, and YAML aliases can make a small file into much data). The copy
 * shares nothing: ajv fills defaults in place, so a map that YAML aliases into two roles must
 * become two maps. Objects given in TS are checked and copied too.
 */
function boundedCopy(input: unknown, file?: string): unknown {
  const prefix = file ? `${file}: ` : "";
  const root: { value?: unknown } = {};
  const stack: { value: unknown; depth: number; path: (string | number)[]; set: (v: unknown) => void }[] = [
    { value: input, depth: 0, path: [], set: (v) => (root.value = v) },
  ];
  let count = 0;
  while (stack.length > 0) {
    const { value, depth, path, set } = stack.pop()!;
    if (++count > MAX_VALUES) {
      throw new UserError(
        `${prefix}${dottedPath(path) || "(top level)"}`,
        `brings the topology above ${MAX_VALUES} values (YAML aliases count each time they are used); a topology has a few hundred`,
        count,
        "list only the fields that differ from the seed, and alias less",
      );
    }
    if (value === null || typeof value !== "object") {
      set(value);
      continue;
    }
    if (depth + 1 > MAX_NESTING) {
      throw new UserError(
        `${prefix}${dottedPath(path) || "(top level)"}`,
        `nests objects and lists more than ${MAX_NESTING} deep`,
        depth + 1,
        "a topology nests at most 4 levels; remove the extra nesting",
      );
    }
    const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? new Array<unknown>(value.length) : {};
    set(copy);
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, child] of entries) {
      // defineProperty, not `copy[key] =`: an own "__proto__" key stays a key (and is refused as an
      // unknown field) instead of replacing the copy's prototype, whose fields ajv would then read.
      const set = (v: unknown) => Object.defineProperty(copy, key, { value: v, writable: true, enumerable: true, configurable: true });
      stack.push({ value: child, depth: depth + 1, path: [...path, key], set });
    }
  }
  return root.value;
}

/** Shape check with defaults filled in, then the cross-field rules. */
export function validateTopology(input: unknown, file?: string): Topology {
  const data = boundedCopy(input, file);
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
    case "format": {
      const family = error.schema === "ipv4-cidr" ? "ipv4" : error.schema === "ip-cidr" ? "ip" : undefined;
      const detail = family && typeof error.data === "string" ? cidrProblem(error.data, family) : undefined;
      if (detail) return new UserError(at(), `is not a valid ${String(error.schema)}: it ${detail.problem}`, error.data, detail.fix);
      return new UserError(at(), `is not a valid ${String(error.schema)}`, error.data, fix ?? "correct the value");
    }
    case "pattern":
      return new UserError(at(), "has characters or a form that is not allowed", error.data, fix ?? `match ${String(error.schema)}`);
    case "type":
      return new UserError(at(), `must be ${String(error.schema)}`, error.data, fix ?? `write a ${String(error.schema)}`);
    default:
      return new UserError(at(), error.message ?? error.keyword, error.data, fix ?? "correct the value");
  }
}
