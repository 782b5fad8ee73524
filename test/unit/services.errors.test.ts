/**
 * A bad services.artifactBaseUrl is rejected naming the field, the value and the fix: the URL
 * reaches a shell script and a systemd unit as is, so anything that would need quoting is refused.
 */
import { describe, expect, it } from "vitest";
import { UserErrors } from "../../topology/errors.ts";
import { validateTopology } from "../../topology/load.ts";
import { withInput } from "../support/fixtures.ts";

function rejection(artifactBaseUrl: unknown): string {
  try {
    validateTopology(withInput({ services: { artifactBaseUrl } }));
  } catch (err) {
    if (err instanceof UserErrors) return err.errors.map((e) => e.message).join("\n");
    throw err;
  }
  throw new Error(`accepted: ${JSON.stringify(artifactBaseUrl)}`);
}

const FIX = "Fix: write an https URL ending in '/', such as https://artifacts.example.com/bulwark/";

describe("services.artifactBaseUrl errors", () => {
  it.each([
    ["plain http", "http://artifacts.example.com/"],
    ["no trailing slash", "https://artifacts.example.com/bulwark"],
    ["a shell expansion", "https://artifacts.example.com/$(id)/"],
    ["a quote", 'https://artifacts.example.com/a"b/'],
    ["a space", "https://artifacts.example.com/a b/"],
    ["a query string", "https://artifacts.example.com/?x=1/"],
    ["user info", "https://user:pw@artifacts.example.com/"],
  ])("GIVEN %s WHEN validated THEN the error names the field, the value and the fix", (_what, url) => {
    const message = rejection(url);
    expect(message.startsWith(`services.artifactBaseUrl: has characters or a form that is not allowed; got ${JSON.stringify(url)}. ${FIX}`)).toBe(
      true,
    );
  });

  it("GIVEN an unknown key under services WHEN validated THEN it is named with the known ones", () => {
    expect(() => validateTopology(withInput({ services: { artifactUrl: "https://a.example/" } }))).toThrow(
      /^services\.artifactUrl: unknown field; got "artifactUrl"\. Fix: remove it or correct its spelling; known fields here: artifactBaseUrl$/,
    );
  });

  it("GIVEN a host, port and path WHEN validated THEN the URL is accepted as written", () => {
    expect(validateTopology(withInput({ services: { artifactBaseUrl: "https://dl.example.com:8443/bulwark/v1/" } })).services.artifactBaseUrl).toBe(
      "https://dl.example.com:8443/bulwark/v1/",
    );
  });
});
