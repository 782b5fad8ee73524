import { describe, expect, it } from "vitest";
import { deployMarker, deployValuesIn, resolveDeployValues, showDeployValues, worstCaseLength } from "../../render/deploy-values.ts";

describe("deploy-time values", () => {
  const text = `ip=${deployMarker("floatingIpAddress")} token=${deployMarker("failoverToken")} ip2=${deployMarker("floatingIpAddress")}`;

  it("GIVEN markers WHEN listed THEN each value is named once, in order", () => {
    expect(deployValuesIn(text)).toEqual(["floating_ip_address", "failover_api_token"]);
  });

  it("GIVEN markers WHEN shown for review THEN secrets are labelled and no value appears", () => {
    expect(showDeployValues(text)).toBe(
      "ip=<set at deploy: floating_ip_address> token=<secret set at deploy: failover_api_token> ip2=<set at deploy: floating_ip_address>",
    );
  });

  it("GIVEN markers WHEN sized THEN each counts as its longest value", () => {
    expect(worstCaseLength(text)).toBe("ip= token= ip2=".length + 15 + 64 + 15);
  });

  it("GIVEN tokens WHEN resolved THEN every marker is replaced, and a missing one is an error naming it", () => {
    const tokens: Record<string, string> = { floating_ip_address: "${ip}", failover_api_token: "${tok}" };
    expect(resolveDeployValues(text, (n) => tokens[n])).toBe("ip=${ip} token=${tok} ip2=${ip}");
    expect(() => resolveDeployValues(text, () => undefined)).toThrow(
      /no value for @@deploy:floating_ip_address@@; the stack must provide the entry Floating IP's IPv4 address/,
    );
  });

  it("GIVEN an undeclared marker WHEN shown THEN it is an error naming it", () => {
    expect(() => showDeployValues("@@deploy:nope@@")).toThrow(/unknown marker @@deploy:nope@@/);
  });
});
