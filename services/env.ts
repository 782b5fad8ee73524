/**
 * Reading a service's settings from its environment, shared by the services (parser, ingress):
 * every error names the variable, the value and the fix.
 */

export type Env = Record<string, string | undefined>;

/** A whole number in [min, max] written in decimal digits, or `def` when unset or empty. */
export function envInt(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new Error(`${name}=${JSON.stringify(raw)} is invalid: set an integer between ${min} and ${max} (default ${def})`);
  }
  return v;
}

/** The value, or `def` when unset or empty. */
export function envStr(env: Env, name: string, def: string): string {
  const raw = env[name];
  return raw === undefined || raw === "" ? def : raw;
}

/** A comma-separated list, entries trimmed, empty ones dropped. */
export function envList(env: Env, name: string): string[] {
  return (env[name] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
