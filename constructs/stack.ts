import type { Construct } from "constructs";
import { Fn, LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import type { Plan } from "../plan/model.ts";
import type { RenderedHost } from "../render/host.ts";
import { AdminSshKeys } from "./admin-ssh-keys.ts";
import { BrickVolume } from "./brick-volume.ts";
import { EntryFloatingIp } from "./entry-floating-ip.ts";
import { HcloudProvider, type VolumeAttachment } from "./hcloud.ts";
import { HostKeys } from "./host-keys.ts";
import { HostRollout, RolloutAccess } from "./rollout.ts";
import { BulwarkHost } from "./host.ts";
import { DEPLOY_VALUES, resolveDeployValues } from "../render/deploy-values.ts";
import { DeploySecrets } from "./deploy-secrets.ts";
import { constructId } from "./ids.ts";
import { PlacementGroups } from "./placement-groups.ts";
import { PrivateNetwork } from "./private-network.ts";
import { PublicFirewalls } from "./public-firewalls.ts";

export interface BulwarkStackProps {
  /** The plan: every host, address, group and rule. */
  readonly plan: Plan;
  /** Every host's rendered files and user_data, in plan order. */
  readonly rendered: readonly RenderedHost[];
  /**
   * Hetzner API endpoint.
   * @default - the provider's default (https://api.hetzner.cloud/v1), or HCLOUD_ENDPOINT
   */
  readonly endpoint?: string;
  /**
   * Delete/rebuild protection on servers, volumes and the Floating IP.
   * @default false - so `cdktf destroy` works; set true in production
   */
  readonly protection?: boolean;
}

/**
 * The whole Hetzner side of a plan. It reads the plan and the rendered files and computes
 * nothing new. Deploy-time values in the rendered user_data (the Floating IP, secrets) become
 * Terraform references here. The API token comes from HCLOUD_TOKEN at deploy time.
 */
export class BulwarkStack extends TerraformStack {
  readonly hosts: ReadonlyMap<string, BulwarkHost>;
  /** The Day-2 chain: one step per host (constructs/rollout.ts). */
  readonly rollout: HostRollout;
  /** Brick attachments: the first rollout step waits for them (a storage host needs its brick). */
  private readonly attachments: VolumeAttachment[] = [];

  constructor(scope: Construct, id: string, props: BulwarkStackProps) {
    super(scope, id);
    const { plan } = props;
    const protection = props.protection ?? false;
    if (props.rendered.length !== plan.hosts.length) {
      throw new Error(`BulwarkStack: ${props.rendered.length} rendered hosts for ${plan.hosts.length} planned; render every host of the plan`);
    }
    const labels = { ...plan.labels, "bulwark/project": plan.name };
    // Terraform runs in cdktf.out/stacks/<stack>/; keep the state at the project root, as
    // cdktf does by default, but by a relative path so the synthesized JSON is the same in
    // every checkout.
    new LocalBackend(this, { path: `../../../terraform.${id}.tfstate` });

    new HcloudProvider(this, "Hcloud", { endpoint: props.endpoint });
    const network = new PrivateNetwork(this, "PrivateNetwork", {
      name: `${plan.name}-net`,
      ipRange: plan.network.ipRange,
      subnet: plan.network.subnet,
      networkZone: plan.networkZone,
      labels,
    });
    const groups = new PlacementGroups(this, "PlacementGroups", { prefix: plan.name, groups: plan.placementGroups, labels });
    const firewalls = new PublicFirewalls(this, "PublicFirewalls", { prefix: plan.name, firewalls: plan.firewall.public, labels });
    const keys = new AdminSshKeys(this, "AdminSshKeys", { prefix: plan.name, keys: plan.admin.sshKeys, labels });

    const floatingIp =
      plan.lb.failover === "floating-ip"
        ? new EntryFloatingIp(this, "EntryFloatingIp", {
            name: `${plan.name}-entry`,
            homeLocation: plan.location,
            labels,
            protection,
          })
        : undefined;
    const secrets = new DeploySecrets(this, "DeploySecrets", { storagePeers: plan.storage.peers });
    const floatingIpTokens: Record<string, string> = floatingIp
      ? { [DEPLOY_VALUES.floatingIpAddress.name]: floatingIp.address, [DEPLOY_VALUES.floatingIpId.name]: floatingIp.floatingIpId }
      : {};
    const hostKeys = new HostKeys(this, "HostKeys", { hosts: plan.hosts.map((h) => h.name) });
    // Deploy-time values: the Floating IP, the stack's secrets, and each host's own SSH host key.
    const valueFor = (host: string, name: string, base64: boolean) => {
      const perHost: Record<string, string> = {
        [DEPLOY_VALUES.sshHostKey.name]: hostKeys.privateKeyOf(host),
        [DEPLOY_VALUES.sshHostKeyPublic.name]: hostKeys.publicKeyOf(host),
      };
      const token = perHost[name] ?? floatingIpTokens[name] ?? secrets.token(name);
      return token !== undefined && base64 ? Fn.base64encode(token) : token;
    };

    const hosts = new Map<string, BulwarkHost>();
    for (const { host, userData } of props.rendered) {
      const node = new BulwarkHost(this, constructId(host.name), {
        host,
        location: plan.location,
        userData: resolveDeployValues(userData, (name, base64) => valueFor(host.name, name, base64)),
        network: network.attach(host.privateIp),
        placementGroupId: groups.idFor(host.name),
        firewallIds: firewalls.idsFor(host.name),
        sshKeyIds: keys.ids(),
        protection,
      });
      hosts.set(host.name, node);
      if (host.volume) {
        const volume = new BrickVolume(this, `${constructId(host.name)}Brick`, {
          name: host.volume.name,
          sizeGb: host.volume.sizeGb,
          location: plan.location,
          labels: { ...host.labels },
          protection,
        });
        this.attachments.push(volume.attachTo(node));
      }
    }
    this.hosts = hosts;

    const bastionHost = plan.lb.hosts[0]!;
    const access = new RolloutAccess(this, "RolloutAccess", { bastionHost });
    const { viaBastion } = access;
    const targets = new Map(
      plan.hosts.map((h) => [
        h.name,
        {
          address: Fn.conditional(viaBastion, h.privateIp, hosts.get(h.name)!.address) as string,
          hostKey: hostKeys.publicKeyOf(h.name),
          serverId: hosts.get(h.name)!.serverId,
        },
      ]),
    );
    this.rollout = new HostRollout(this, "HostRollout", {
      plan,
      rendered: props.rendered,
      targets,
      valueFor,
      connection: {
        user: plan.admin.user,
        privateKey: access.privateKey,
        agent: access.agent,
        bastion: {
          host: Fn.conditional(viaBastion, hosts.get(bastionHost)!.address, "") as string,
          hostKey: Fn.conditional(viaBastion, hostKeys.publicKeyOf(bastionHost), "") as string,
        },
      },
      dependsOn: [...this.attachments],
      acceptDrift: access.acceptDrift,
    });

    if (floatingIp) {
      new TerraformOutput(this, "floating_ip_address", { value: floatingIp.address, description: "The entry address (Floating IP) of the lb pair" });
    }
    if (secrets.declared(DEPLOY_VALUES.mailApiToken.name)) {
      new TerraformOutput(this, "mail_api_token", {
        value: secrets.token(DEPLOY_VALUES.mailApiToken.name)!,
        sensitive: true,
        description: "The bearer token for the mail API (/api/): `terraform output -raw mail_api_token`",
      });
    }
    new TerraformOutput(this, "hosts", {
      description: "Each host's private and public IPv4 address, and its SSH host public key (what every connection pins: `npm run replace` uses it)",
      value: Object.fromEntries(
        props.rendered.map(({ host }) => [
          host.name,
          { private_ip: host.privateIp, public_ipv4: hosts.get(host.name)!.address, ssh_host_key: hostKeys.publicKeyOf(host.name) },
        ]),
      ),
    });
  }
}
