/**
 * The one place handlebars is set up and called. Templates live in `templates/<role>/<artifact>.hbs`,
 * are compiled once, run with HTML escaping off (they produce config files, not HTML) and strict
 * mode on (a missing value is an error, not an empty string), and have no helpers: they only
 * place values that the typed objects in `render/` computed.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";

const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "templates");
const compiled = new Map<string, HandlebarsTemplateDelegate>();

/** Renders `templates/<name>.hbs` (e.g. `base/nftables.conf`) with `context`. */
export function renderTemplate<T extends object>(name: string, context: T): string {
  let template = compiled.get(name);
  if (!template) {
    const source = readFileSync(join(TEMPLATES_DIR, `${name}.hbs`), "utf8");
    template = Handlebars.create().compile(source, { noEscape: true, strict: true });
    compiled.set(name, template);
  }
  return template(context);
}
