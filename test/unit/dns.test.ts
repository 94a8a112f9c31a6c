// DNS-01 settings and what they render: every supported plugin's credentials file, certbot's
// arguments and environment, and the refusals, each naming the key. Cloudflare and Route53
// cannot be reached here: this is where their settings and files are proven.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { certbotEnv, certonlyArgs, certificateRequestId, renderCertonly, WEBROOT } from "../../configs/certbot";
import { CERT_NAME } from "../../configs/certificates";
import { DNS_CREDENTIALS_PATH, renderDnsCredentials } from "../../configs/dns";
import { renderHttpsServer } from "../../configs/nginx";
import { SecretPaths } from "../../settings/secretPaths";
import { RawConfig } from "../../settings/defaults";
import { ConfigError, parseSettings, stackNaming } from "../../settings/parse";
import { DnsChallenge, Secret, Settings } from "../../settings/types";

const TSIG = "c2VjcmV0LXRzaWcta2V5LWZvci10aGUtdGVzdHMtb25seQ==";
const parse = (raw: RawConfig, secret: string[] = ["dnsCredentials"]) => parseSettings(raw, "dev", stackNaming(new SecretPaths(secret)));
const dns = (plugin: string, credentials: Record<string, unknown>, more: RawConfig = {}): RawConfig => ({
    domain: "registry.internal.example.com",
    acmeChallenge: "dns",
    dnsPlugin: plugin,
    dnsCredentials: JSON.stringify(credentials),
    ...more,
});
const problems = (raw: RawConfig, secret?: string[]): string[] => {
    try {
        parse(raw, secret);
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.problems;
    }
    return assert.fail("expected a refusal");
};
/** The credentials file the certbot container gets, from settings parsed with every value known. */
const credentialsFile = (s: Settings) => {
    const c = s.acme.challenge as DnsChallenge;
    const values = Object.fromEntries(Object.entries(c.credentials).map(([k, v]) => [k, (v as Secret).reveal()]));
    return renderDnsCredentials(c.plugin, values);
};

describe("DNS-01 settings", () => {
    test("rfc2136: the plugin's image, its credentials file, certbot's arguments; renewals follow (certbot keeps the authenticator)", () => {
        const s = parse(
            dns("rfc2136", { server: "10.0.0.53", port: 5353, name: "registry-key", secret: TSIG }, { dnsPropagationSeconds: "5" }),
        );
        assert.equal(s.images.certbot, "certbot/dns-rfc2136:latest");
        assert.equal(
            credentialsFile(s),
            [
                "# Managed by the private-registry Pulumi program: the DNS plugin's credentials.",
                "dns_rfc2136_server = 10.0.0.53",
                "dns_rfc2136_port = 5353",
                "dns_rfc2136_name = registry-key",
                `dns_rfc2136_secret = ${TSIG}`,
                "dns_rfc2136_algorithm = HMAC-SHA256",
                "",
            ].join("\n"),
        );
        const args = certonlyArgs(s);
        const at = (flag: string) => args[args.indexOf(flag) + 1];
        assert.equal(at("--authenticator"), "dns-rfc2136");
        assert.equal(at("--dns-rfc2136-credentials"), DNS_CREDENTIALS_PATH);
        assert.equal(at("--dns-rfc2136-propagation-seconds"), "5");
        assert.ok(!args.includes("--webroot"));
        // Nothing secret in the script, the arguments or the environment.
        for (const text of [renderCertonly(s), args.join(" "), certbotEnv(s).join(" ")]) assert.ok(!text.includes(TSIG));
        assert.match(renderCertonly(s), /Check the rfc2136 plugin/);
        // A kept certificate: the credentials are proven by a test issuance, with the same arguments.
        assert.ok(renderCertonly(s).includes(`locked certbot ${args.map((a) => `'${a}'`).join(" ")} --dry-run;`));
    });

    test("cloudflare: an API token alone, or e-mail and global key", () => {
        const token = parse(dns("cloudflare", { apiToken: "cf-token_0123456789" }));
        assert.equal(token.images.certbot, "certbot/dns-cloudflare:latest");
        assert.match(credentialsFile(token), /^dns_cloudflare_api_token = cf-token_0123456789$/m);
        const args = certonlyArgs(token);
        assert.equal(args[args.indexOf("--dns-cloudflare-credentials") + 1], DNS_CREDENTIALS_PATH);
        assert.ok(!args.includes("--dns-cloudflare-propagation-seconds"), "the plugin's own wait by default");

        const key = parse(dns("cloudflare", { email: "ops@example.com", apiKey: "0123456789abcdef" }));
        assert.match(credentialsFile(key), /^dns_cloudflare_email = ops@example.com\ndns_cloudflare_api_key = 0123456789abcdef$/m);
        assert.match(
            problems(dns("cloudflare", { apiToken: "t0k3n", apiKey: "k3y" })).join("\n"),
            /dnsCredentials: cloudflare: expected apiToken alone/,
        );
        assert.match(
            problems(dns("cloudflare", { email: "ops@example.com" })).join("\n"),
            /dnsCredentials: cloudflare: expected apiToken .*or email and apiKey/,
        );
    });

    test("route53: keys in an AWS credentials file the SDK is pointed at, or the default chain", () => {
        const s = parse(dns("route53", { accessKeyId: "AKIAEXAMPLE0000", secretAccessKey: "wJalr/K7MDENG+bPxRfiCYEXAMPLEKEY" }));
        assert.equal(s.images.certbot, "certbot/dns-route53:latest");
        assert.equal(
            credentialsFile(s),
            "# Managed by the private-registry Pulumi program: the DNS plugin's credentials.\n[default]\naws_access_key_id = AKIAEXAMPLE0000\naws_secret_access_key = wJalr/K7MDENG+bPxRfiCYEXAMPLEKEY\n",
        );
        assert.ok(certbotEnv(s).includes(`AWS_SHARED_CREDENTIALS_FILE=${DNS_CREDENTIALS_PATH}`));
        const args = certonlyArgs(s);
        assert.equal(args[args.indexOf("--authenticator") + 1], "dns-route53");
        assert.ok(!args.some((a) => a.startsWith("--dns-route53-")), "the plugin takes no credentials or propagation argument");

        const role = parse(dns("route53", {}));
        assert.deepEqual((role.acme.challenge as DnsChallenge).credentials, {});
        assert.ok(!certbotEnv(role).some((e) => e.startsWith("AWS_")), "no file: the SDK's default chain");
        assert.match(
            problems(dns("route53", {}, { dnsPropagationSeconds: "30" })).join("\n"),
            /dnsPropagationSeconds: expected 0: the route53 plugin waits/,
        );
        assert.match(
            problems(dns("route53", { accessKeyId: "AKIAEXAMPLE0000" })).join("\n"),
            /route53: expected both accessKeyId and secretAccessKey, or neither/,
        );
    });

    test("extra names (SANs) and wildcards are on the certificate and in server_name; they change the request", () => {
        const base = dns("rfc2136", { server: "10.0.0.53", name: "k", secret: TSIG });
        const s = parse({ ...base, domains: JSON.stringify(["*.internal.example.com", "Registry.Example.Net"]) });
        assert.deepEqual(s.domains, ["*.internal.example.com", "registry.example.net"]);
        const args = certonlyArgs(s);
        assert.deepEqual(
            args.flatMap((a, i) => (a === "--domain" ? [args[i + 1]] : [])),
            ["registry.internal.example.com", "*.internal.example.com", "registry.example.net"],
        );
        assert.match(
            renderHttpsServer(s),
            /server_name registry\.internal\.example\.com \*\.internal\.example\.com registry\.example\.net;/,
        );
        assert.notEqual(certificateRequestId(s), certificateRequestId(parse(base)));
    });

    test("an HTTP-01 certificate for one name keeps its request id and arguments (existing stacks are not re-issued)", () => {
        const s = parse({ domain: "registry.example.com" }, []);
        // The id as it was computed before DNS-01 and extra names existed.
        const before = createHash("sha256")
            .update(JSON.stringify({ domain: s.domain, server: s.acme.server, keyType: s.acme.keyType }))
            .digest("hex")
            .slice(0, 16);
        assert.equal(certificateRequestId(s), before);
        const args = certonlyArgs(s);
        assert.deepEqual(args.slice(0, 9), [
            "certonly",
            "--non-interactive",
            "--agree-tos",
            "--webroot",
            "--webroot-path",
            WEBROOT,
            "--cert-name",
            CERT_NAME,
            "--domain",
        ]);
        assert.equal(s.images.certbot, "certbot/certbot:latest");
        assert.doesNotMatch(renderCertonly(s), /dry-run/, "no test issuance: the script is the one existing stacks have");
    });

    test("private network: port 80 unpublished with DNS-01; Pebble pointed at a DNS server", () => {
        const s = parse(
            dns(
                "rfc2136",
                { server: "10.0.0.53", name: "k", secret: TSIG },
                { httpPort: "0", acmeServer: "pebble", pebbleDnsServer: "10.0.0.53:53" },
            ),
        );
        assert.equal(s.publish.httpPort, undefined);
        assert.equal(s.acme.pebbleDnsServer, "10.0.0.53:53");
    });

    test("every bad input is refused before anything is created, naming the key, never showing a secret", () => {
        const cases: [string, RawConfig, RegExp][] = [
            [
                "unknown challenge",
                { domain: "a.example.com", acmeChallenge: "tls" },
                /private-registry:acmeChallenge: expected http .* or dns .*, got "tls"/,
            ],
            [
                "dns without a plugin",
                { domain: "a.example.com", acmeChallenge: "dns" },
                /private-registry:dnsPlugin: expected one of rfc2136, cloudflare, route53 with acmeChallenge dns, got ""/,
            ],
            ["unknown plugin", dns("gandi", {}), /private-registry:dnsPlugin: expected one of rfc2136, cloudflare, route53 .*got "gandi"/],
            [
                "plugin with HTTP-01",
                { domain: "a.example.com", dnsPlugin: "rfc2136" },
                /private-registry:dnsPlugin: only used with acmeChallenge dns/,
            ],
            [
                "credentials with HTTP-01",
                { domain: "a.example.com", dnsCredentials: JSON.stringify({ secret: TSIG }) },
                /private-registry:dnsCredentials: only used with acmeChallenge dns/,
            ],
            [
                "missing rfc2136 fields",
                dns("rfc2136", { server: "10.0.0.53" }),
                /private-registry:dnsCredentials: rfc2136: required: name, secret/,
            ],
            [
                "rfc2136 server by name",
                dns("rfc2136", { server: "ns1.example.com", name: "k", secret: TSIG }),
                /dnsCredentials\.server: expected the IP address .*got a secret value/,
            ],
            [
                "unknown field",
                dns("rfc2136", { server: "10.0.0.53", name: "k", secret: TSIG, tsig: "x" }),
                /private-registry:dnsCredentials: unknown field "tsig" for the rfc2136 plugin/,
            ],
            [
                "bad algorithm",
                dns("rfc2136", { server: "10.0.0.53", name: "k", secret: TSIG, algorithm: "HMAC-SHA3" }),
                /dnsCredentials\.algorithm: expected one of HMAC-MD5/,
            ],
            [
                "propagation out of range",
                dns("cloudflare", { apiToken: "t" }, { dnsPropagationSeconds: "4000" }),
                /private-registry:dnsPropagationSeconds: expected an integer from 0 to 3600, got "4000"/,
            ],
            [
                "wildcard by HTTP-01",
                { domain: "a.example.com", domains: JSON.stringify(["*.example.com"]) },
                /private-registry:domains: "\*\.example\.com": a wildcard needs acmeChallenge dns/,
            ],
            [
                "a name twice",
                { domain: "a.example.com", domains: JSON.stringify(["A.example.com"]) },
                /private-registry:domains: "a\.example\.com" is listed twice/,
            ],
            [
                "not a list",
                { domain: "a.example.com", domains: "b.example.com" },
                /private-registry:domains: expected a list of host names/,
            ],
            [
                "Pebble DNS server without Pebble",
                dns("cloudflare", { apiToken: "t" }, { pebbleDnsServer: "10.0.0.53:53" }),
                /private-registry:pebbleDnsServer: only used with acmeServer pebble and acmeChallenge dns/,
            ],
            [
                "Pebble DNS server by name",
                { domain: "a.example.com", acmeServer: "pebble", pebbleDnsServer: "ns:53" },
                /private-registry:pebbleDnsServer: expected ip:port/,
            ],
        ];
        for (const [what, raw, pattern] of cases) assert.match(problems(raw).join("\n"), pattern, what);
        // A plain-text secret field is refused; its value is never shown, in any problem.
        const plain = problems(dns("rfc2136", { server: "10.0.0.53", name: "k", secret: `${TSIG}#` }), []);
        assert.match(
            plain.join("\n"),
            /private-registry:dnsCredentials\.secret: must be stored as a secret: `pulumi config set --secret --path dnsCredentials\.secret \.\.\.`/,
        );
        assert.ok(!plain.join("\n").includes(TSIG));
        // Secret fields given as leaves are fine; the rest may be plain.
        const leaves = parse(dns("rfc2136", { server: "10.0.0.53", name: "k", secret: TSIG }), ["dnsCredentials.secret"]);
        assert.equal(leaves.acme.challenge.kind, "dns");
    });
});
