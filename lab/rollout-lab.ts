/**
 * The rollout lab: `cdktf deploy`'s Day-2 chain (constructs/rollout.ts) run by the real
 * terraform binary over the booted stack (lab/stack.ts) while a client sends a GET through the
 * Floating IP every 20 ms. The scenarios: a haproxy setting (a), a keepalived restart with
 * handoff (a2), new mail-api builds (b), a canary that never becomes healthy (g), a parser build
 * while emails flow (c), a volume option and glusterd restarts under checksummed writes (d),
 * storage-2 replaced with its brick kept (e), the Floating IP holder replaced (f), a file edited by
 * hand (drift), an unreachable host, a wrong host key, and a change on every host (h). Emails flow
 * into the spool from the baseline to the end, and each scenario's are audited.
 */
import { STORAGE_SERVER_PATHS } from "../render/storage-server.ts";
import { spread, round } from "../measure/stats.ts";
import { LAB_PUBLIC } from "./overrides.ts";
import { sleep, type LabRun } from "./run.ts";
import {
  CLIENT_INTERVAL_MS,
  CLIENT_TIMEOUT_MS,
  EMAIL_INTERVAL_MS,
  FEED_INTERVAL_MS,
  LabStack,
  STACK_LAB_HOSTS,
  WRITER,
  type RenderedTweak,
  type ScenarioResult,
} from "./stack.ts";

/** A comment line appended to the storage servers' glusterd drop-in: a template edit whose action is a glusterd restart. */
function glusterdRestartTweak(tag: string): RenderedTweak {
  return (r) =>
    r.host.role !== "storage"
      ? r
      : {
          ...r,
          files: r.files.map((f) => (f.path === STORAGE_SERVER_PATHS.glusterdDropin ? { ...f, content: `${f.content}# rollout lab: ${tag}\n` } : f)),
        };
}

export interface RolloutLabCounts {
  /** Repetitions of scenarios a (haproxy change) and b (new build); the medians need 5. */
  readonly runs: number;
  /** Emails delivered during scenario c. */
  readonly emails: number;
}

export const ACCEPTANCE_COUNTS: RolloutLabCounts = { runs: 5, emails: 500 };

/** Bound of the background email load (at FEED_INTERVAL_MS, far more than a run needs). */
const FEED_MAX = 5000;

/** Starts the lab, plays every scenario, and returns the report. */
export async function runRolloutLab(run: LabRun, counts: RolloutLabCounts = ACCEPTANCE_COUNTS) {
  const started = Date.now();
  const lab = await LabStack.start(run);
  const base = lab.basePlan;

  // 0. The first deploy of the chain: every host gets the agent, records its files, passes its gate.
  await lab.steady("after boot", 600_000);
  const fresh = lab.emulator();
  const first = await lab.scenario("first", base, { note: "first rollout after boot: agent installed, files recorded, gates" });
  // From here on, emails flow into the spool all along (each scenario's are audited at the end).
  const feed = lab.startEmailFeed(FEED_INTERVAL_MS, FEED_MAX);
  const scenario: typeof lab.scenario = (name, p, options) => {
    feed.tag(name.split(" ")[0]!);
    return lab.scenario(name, p, options);
  };
  // The baseline: an apply with nothing to change (terraform's own time, and the client's failure rate without a rollout).
  const baseline = await scenario("baseline: nothing changed", base);

  // a. A haproxy setting, rolled over both lbs (a hitless reload each).
  const a: ScenarioResult[] = [];
  let plan = base;
  for (let i = 0; i < counts.runs; i++) {
    plan = { ...plan, lb: { ...plan.lb, connectTimeoutMs: plan.lb.connectTimeoutMs + 10 } };
    a.push(await scenario(`a#${i + 1} haproxy connect timeout ${plan.lb.connectTimeoutMs} ms`, plan));
  }
  // Bad input: drift. A managed file edited by hand on lb-2 since the last rollout, then a haproxy
  // change: the apply stops at lb-2 (exit 3, the file named) and writes nothing there; the next
  // deploy with TF_VAR_rollout_accept_drift=true overwrites it and goes on.
  const haproxyCfg = "/etc/haproxy/haproxy.cfg";
  const lb2 = lab.host("lb-2");
  await lb2.exec("sh", ["-c", `printf '# edited by hand on lb-2\\n' >> ${haproxyCfg}`]);
  const edited = lb2.read(haproxyCfg);
  plan = { ...plan, lb: { ...plan.lb, connectTimeoutMs: plan.lb.connectTimeoutMs + 10 } };
  feed.tag("drift");
  const drift = await lab.scenario("drift on lb-2: refused", plan);
  const driftUntouched = lb2.read(haproxyCfg) === edited;
  const driftAccepted = await lab.scenario("drift on lb-2: accepted with TF_VAR_rollout_accept_drift=true", plan, { acceptDrift: true });
  const driftOverwritten = !(lb2.read(haproxyCfg) ?? "").includes("edited by hand");

  // a2. A keepalived setting: a restart, so the MASTER hands the Floating IP to its peer first.
  plan = { ...plan, lb: { ...plan.lb, advertIntervalS: 0.2 } };
  const handoff = await scenario("a2 keepalived advert 0.2 s (restart with handoff)", plan);

  // b. New mail-api builds, rolled over the app hosts one at a time, each drained first.
  const b: ScenarioResult[] = [];
  for (let i = 0; i < counts.runs; i++) {
    plan = lab.newBuild(plan, `v${i + 2}`);
    b.push(await scenario(`b#${i + 1} mail-api build v${i + 2}`, plan));
  }
  const goodBuild = plan;

  // g. A canary: a build that runs but whose /healthz fails. The apply stops at the first app host,
  // naming it and the gate; the second app host keeps the previous build and serves.
  const before = await lab.execStart("app-2");
  const broken = lab.newBuild(goodBuild, "broken", { broken: true });
  const canary = await scenario("g canary: a build whose /healthz answers 503", broken);
  const app2After = await lab.execStart("app-2");
  plan = lab.newBuild(goodBuild, "fixed");
  const resumed = await scenario("g fixed build: the next apply resumes", plan);

  // c. A new parser build, rolled over the parser hosts one at a time, while emails flow into the spool.
  plan = lab.newBuild(plan, "p2", { service: "parser" });
  const parserPlan = plan;
  const c = await lab.emailsDuring("c", counts.emails, () => scenario("c parser build p2 while emails flow", parserPlan));
  const listAfterC = await lab.listMs();

  // d. A volume option, and a glusterd restart rolled over the storage servers (a template edit of
  // the glusterd drop-in), while two clients write checksummed files.
  const writers = lab.startWriters();
  await sleep(3000);
  plan = {
    ...plan,
    storage: {
      ...plan.storage,
      options: [
        ...plan.storage.options,
        { key: "diagnostics.brick-log-level", value: "INFO", why: "rollout lab d: an option set on the running volume" },
      ],
    },
  };
  const dTweak = glusterdRestartTweak("d");
  const d = await scenario("d gluster option + glusterd restart on each server", plan, { tweak: dTweak });
  lab.keep(dTweak);
  const dHeal = Object.fromEntries(
    Object.entries(d.reports).map(([id, r]) => [id, (r.health as { heal_pending?: number } | undefined)?.heal_pending ?? null]),
  );
  const optionSet = (
    await lab
      .host("storage-1")
      .exec("gluster", ["--mode=script", "volume", "get", base.storage.volume, "diagnostics.brick-log-level"], { allowFail: true })
  ).includes("INFO");

  // e. storage-2 replaced: a fresh root, its brick kept. It must rejoin as the same peer by itself and heal.
  const poolBefore = await lab.peers();
  feed.tag("e");
  const e = await lab.replace("storage-2", plan);
  const poolAfter = await lab.peers();
  const writes = await lab.stopWriters(writers);
  run.log(`d/e writes: ${JSON.stringify(writes)}`);

  // f. The lb that holds the Floating IP, replaced: retire hands the entry to its peer first.
  const holder = lab.master() ?? "lb-1";
  feed.tag("f");
  const f = await lab.replace(holder, plan);

  // Bad input: a host the deployer cannot reach. A new parser build with parser-2's private link
  // cut: parser-1 gets it, the apply stops at parser-2 (named) after the connection timeout.
  plan = lab.newBuild(plan, "p3", { service: "parser" });
  await lab.setReachable("parser-2", false);
  const unreachable = await scenario("unreachable parser-2", plan).finally(() => lab.setReachable("parser-2", true));

  // Bad input at the connection: a pinned host key that is not app-2's. app-1 gets the build,
  // the apply stops at app-2 before anything is sent to it.
  const rekeyed = lab.newBuild(plan, "rekey");
  const badKey = await scenario("bad host key on app-2", rekeyed, { wrongHostKey: "app-2" });

  // h. An in-place change on every booted host (the host firewall: one more admin range), which
  // also resumes parser-2's and app-2's steps from the refused connections.
  const h = await scenario("h every host: a host firewall change", lab.withAdminRanges(rekeyed, [LAB_PUBLIC.clientSubnet, "198.51.100.0/24"]));

  // The brick watchdogs ran every 15 s all along (glusterd's local state only, no cluster lock).
  const watchdogs = await lab.watchdogs();
  const { perScenario: fed, drainS: fedDrainS } = await feed.stop();
  const fedTotal = Object.values(fed).reduce(
    (t, x) => ({
      messages: t.messages + x.messages,
      stored: t.stored + x.stored,
      lost: t.lost + x.lost,
      quarantined: t.quarantined + x.quarantined,
      parsed_twice: t.parsed_twice + x.parsed_twice,
      deliveries_retried: t.deliveries_retried + x.deliveries_retried,
    }),
    { messages: 0, stored: 0, lost: 0, quarantined: 0, parsed_twice: 0, deliveries_retried: 0 },
  );
  run.log(`emails all along: ${JSON.stringify(fedTotal)}`);

  const stat = (xs: number[]) => {
    const { median, min, max } = spread(xs);
    return { median: round(median), min: round(min), max: round(max) };
  };
  // The agents' per-host reports stay in the apply logs; the report keeps what the client saw.
  const strip = <T extends object>(r: T): Omit<T, "reports"> => {
    const copy = { ...r } as T & { reports?: unknown };
    delete copy.reports;
    return copy;
  };
  const report = {
    scenarios: {
      fresh_pair: {
        floating_ip_assigned_by: fresh.assignments[0]?.from === null ? "keepalived (Terraform left it unassigned)" : "unknown",
        first_holder: fresh.assignments[0]?.server ?? null,
      },
      first: strip(first),
      baseline: strip(baseline),
      a_haproxy_change: {
        runs: a.map(strip),
        failed_gets: a.reduce((n, r) => n + r.failed_gets, 0),
        floating_ip_moves: a.reduce((n, r) => n + r.floating_ip_moves, 0),
        apply_s: stat(a.map((r) => r.apply_s)),
      },
      drift: {
        refused: { ...strip(drift), tail: drift.tail },
        file_untouched: driftUntouched,
        accepted: strip(driftAccepted),
        overwritten: driftOverwritten,
      },
      a2_keepalived_restart: strip(handoff),
      b_new_build: {
        runs: b.map(strip),
        failed_gets: b.reduce((n, r) => n + r.failed_gets, 0),
        apply_s: stat(b.map((r) => r.apply_s)),
        longest_gap_ms: Math.max(...b.map((r) => r.longest_gap_ms)),
      },
      g_canary: {
        ...strip(canary),
        tail: canary.tail,
        app2_before: before,
        app2_after: app2After,
        app2_untouched: before === app2After,
        resumed: strip(resumed),
      },
      c_parser_build: {
        ...strip(c.result),
        emails: c.emails,
        list_endpoint_ms_after: listAfterC,
        list_note: "GET /api/messages on app-1 directly, fs store on gluster (lab only; production lists from MongoDB)",
      },
      d_gluster_change: { ...strip(d), heal_pending_at_each_gate: dHeal, option_set: optionSet },
      e_replace_storage: {
        ...strip(e),
        pool_before: poolBefore,
        pool_after: poolAfter,
        same_uuid:
          poolBefore.includes(poolUuid(poolBefore, "10.0.1.21")) &&
          poolUuid(poolBefore, "10.0.1.21") === poolUuid(poolAfter, "10.0.1.21") &&
          poolUuid(poolAfter, "10.0.1.21") !== "",
      },
      d_e_writes: writes,
      f_replace_lb: { ...strip(f), replaced: holder },
      unreachable_host: { ...strip(unreachable), tail: unreachable.tail },
      bad_host_key: { ...strip(badKey), tail: badKey.tail },
      h_every_host: strip(h),
      brick_watchdogs: watchdogs,
      emails_all_along: { per_scenario: fed, total: { ...fedTotal, drain_s: fedDrainS } },
    },
    conditions: {
      client:
        `GET /api/messages/<key> of a stored document (with the token) through the Floating IP ` +
        `every ${CLIENT_INTERVAL_MS} ms, ${CLIENT_TIMEOUT_MS} ms timeout`,
      hosts:
        `${STACK_LAB_HOSTS.join(", ")}: systemd-nspawn containers booted from their rendered user-data (lab/overrides.ts), ` +
        `sshd with the host keys pinned; ` +
        `terraform connects from the private network, not through the bastion (Terraform 1.11 bug, see lab/stack.ts)`,
      terraform: "the real terraform binary applies the rollout chain (terraform_data + provisioners) of a lab stack holding only that chain",
      emails:
        `from the baseline to h: one email every ${FEED_INTERVAL_MS} ms into the spool through app-1's gluster mount, audited per scenario ` +
        `(emails_all_along); scenario c adds ${counts.emails} more, one every ${EMAIL_INTERVAL_MS} ms, from 0.5 s before the apply`,
      writers:
        `scenarios d and e: app-1 and parser-1 write and fsync a ${WRITER.bytes.min}-${WRITER.bytes.max} byte file ` +
        `and read back an earlier one every ${WRITER.periodS} s`,
      replace:
        "e, f: retire over SSH (pinned key), the container stopped, a new one booted from the same user-data with a fresh root " +
        "(and, for storage-2, the same brick directory), then the apply; the step runs again for the new server id",
      not_here:
        "MongoDB (no server can run here: the order and gates are checked against scripted responses in test/validate/host-agent.test.ts); " +
        "Hetzner's own replacement timing",
      counts,
      seconds: Math.round((Date.now() - started) / 1000),
    },
    versions: await lab.versions(),
  };
  const s = report.scenarios;
  const pass = {
    fresh_pair: s.fresh_pair.first_holder !== null && fresh.assignments[0]?.from === null,
    first: s.first.apply_ok && s.first.failed_gets === 0,
    baseline: s.baseline.apply_ok && s.baseline.steps_run.length === 0,
    a: s.a_haproxy_change.failed_gets === 0 && a.every((r) => r.apply_ok && r.floating_ip_moves <= 1),
    drift:
      !drift.apply_ok &&
      /host lb-2: drift: \/etc\/haproxy\/haproxy\.cfg/.test(drift.tail) &&
      drift.steps_run.length === 0 &&
      driftUntouched &&
      driftAccepted.apply_ok &&
      driftOverwritten &&
      drift.failed_gets + driftAccepted.failed_gets === 0,
    // The handoff's promise is no failed request. The Floating IP moves once per handoff; a change
    // of VRRP timing (this one: the advert interval) can move it a second time while the two
    // nodes run different intervals (README), so the moves are reported, not gated.
    a2: s.a2_keepalived_restart.apply_ok && s.a2_keepalived_restart.failed_gets === 0,
    b: s.b_new_build.failed_gets === 0 && b.every((r) => r.apply_ok),
    g:
      !canary.apply_ok &&
      /app-1/.test(canary.tail) &&
      /gate app/.test(canary.tail) &&
      /\/healthz answered 503/.test(canary.tail) &&
      s.g_canary.app2_untouched &&
      canary.failed_gets === 0 &&
      resumed.apply_ok,
    c:
      c.result.apply_ok &&
      c.result.failed_gets === 0 &&
      c.emails.lost === 0 &&
      c.emails.parsed_twice === 0 &&
      c.emails.quarantined === 0 &&
      c.emails.stored === c.emails.messages,
    d: d.apply_ok && optionSet && Object.values(dHeal).length === 3 && Object.values(dHeal).every((n) => n === 0),
    e: e.apply_ok && s.e_replace_storage.same_uuid,
    d_e_writes: writes.write_errors === 0 && writes.lost === 0 && writes.mismatched === 0 && writes.bad_reads === 0 && writes.files > 0,
    f: f.apply_ok && f.failed_gets === 0,
    unreachable:
      !unreachable.apply_ok &&
      /HostRollout_Parser2/.test(unreachable.tail) &&
      unreachable.steps_run.join(",") === "Parser1" &&
      unreachable.failed_gets === 0,
    bad_host_key:
      !badKey.apply_ok && /HostRollout_App2/.test(badKey.tail) && /key mismatch/.test(badKey.tail) && badKey.steps_run.join(",") === "App1",
    h: h.apply_ok && h.steps_run.length === STACK_LAB_HOSTS.length && h.apply_s <= 120,
    emails_all_along: fedTotal.messages > 0 && fedTotal.lost === 0 && fedTotal.quarantined === 0 && fedTotal.stored === fedTotal.messages,
    // Every watchdog ran and its last run succeeded. On the servers that kept running it never
    // acted; on the replaced storage-2 it may have had to (glusterd 11 can leave a rejoining
    // brick Started with port 0, docs/storage.md), and then its brick was online again.
    brick_watchdogs: Object.entries(watchdogs).every(([name, w]) => {
      const acted = w.lines.some((l) => /force|ending it/.test(l));
      const ok = w.runs > 0 && w.result === "success" && w.status === "0";
      return ok && (name === "storage-2" ? !acted || /is online again/.test(w.lines.at(-1) ?? "") : !acted);
    }),
  };
  return { ...report, pass };
}

/** A storage server's UUID in `gluster pool list` output (empty when absent). */
function poolUuid(poolList: string, address: string): string {
  return (
    poolList
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .find((w) => w[1] === address)?.[0] ?? ""
  );
}
