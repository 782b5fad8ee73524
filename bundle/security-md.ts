/**
 * review/SECURITY.md: every systemd unit each host gets, the sandbox profile it names
 * (render/hardening.ts), the exposure `systemd-analyze security` reports for it and its goal,
 * then each profile's directives with their reasons. All from data: no tool runs at synth (the
 * validate tier, test/validate/unit-security.test.ts, checks the figures against the real tool).
 */
import type { Plan } from "../plan/model.ts";
import { renderTemplate } from "../render/handlebars.ts";
import { ALL_PROFILES, EXPOSURE_SYSTEMD_VERSION, IP_POLICY_WORDS, profileOfUnit, type HardeningProfile } from "../render/hardening.ts";
import type { RenderedHost } from "../render/host.ts";
import { escapeMarkdownText } from "./markdown.ts";

const UNIT_DIR = "/etc/systemd/system/";

interface SecurityPage {
  readonly name: string;
  readonly systemdVersion: number;
  readonly units: readonly { host: string; unit: string; profile: string; exposure: string; goal: string; before: string }[];
  readonly dropins: readonly { host: string; path: string; settings: string }[];
  readonly profiles: readonly {
    kind: string;
    runs: string;
    exposure: string;
    goal: string;
    ip: string;
    directives: readonly { line: string; why: string }[];
    notSet: readonly { key: string; why: string }[];
  }[];
}

const fmt = (n: number): string => n.toFixed(1);
const goalOf = (p: HardeningProfile): string => (p.goal === null ? `none: ${p.noGoal ?? ""}` : `at most ${fmt(p.goal)}`);

/** The units (`.service`, `.mount`) directly under /etc/systemd/system of a host, in file order. */
export function unitFiles(r: RenderedHost): { unit: string; content: string }[] {
  return r.files
    .filter((f) => f.path.startsWith(UNIT_DIR) && !f.path.slice(UNIT_DIR.length).includes("/") && /\.(service|mount)$/.test(f.path))
    .map((f) => ({ unit: f.path.slice(UNIT_DIR.length), content: f.content }));
}

export function securityMarkdown(plan: Plan, rendered: readonly RenderedHost[]): string {
  const used = new Set<string>();
  const units = rendered.flatMap((r) =>
    unitFiles(r).map(({ unit, content }) => {
      const p = profileOfUnit(content);
      if (p) used.add(p.kind);
      return {
        host: escapeMarkdownText(r.host.name),
        unit: escapeMarkdownText(unit),
        profile: p ? p.kind : "**none**",
        exposure: p ? fmt(p.exposure) : "not rated",
        goal: p ? (p.goal === null ? "none" : `≤ ${fmt(p.goal)}`) : "",
        before: p ? fmt(p.exposureBefore) : "",
      };
    }),
  );
  const dropins = rendered.flatMap((r) =>
    r.files
      .filter((f) => f.path.startsWith(UNIT_DIR) && /\.d\/[^/]+\.conf$/.test(f.path))
      .map((f) => ({
        host: escapeMarkdownText(r.host.name),
        path: escapeMarkdownText(f.path.slice(UNIT_DIR.length)),
        settings:
          f.content
            .split("\n")
            .filter((l) => /^IPAddress(Deny|Allow)=/.test(l))
            .join(", ") || "none",
      })),
  );
  const page: SecurityPage = {
    name: escapeMarkdownText(plan.name),
    systemdVersion: EXPOSURE_SYSTEMD_VERSION,
    units,
    dropins,
    profiles: ALL_PROFILES.filter((p) => used.has(p.kind)).map((p) => ({
      kind: p.kind,
      runs: p.runs,
      exposure: fmt(p.exposure),
      goal: goalOf(p),
      ip: IP_POLICY_WORDS[p.ip],
      directives: p.directives.map((x) => ({ line: `${x.key}=${x.value}`, why: x.why })),
      notSet: p.notSet,
    })),
  };
  return renderTemplate("bundle/SECURITY.md", page);
}
