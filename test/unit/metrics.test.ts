// Metrics: the `metrics` setting (off by default; a credential required off loopback; every
// problem named by its key), its renderers (shell checked by `sh -n`, the registry's debug
// server in the read-write config only, nothing changed with metrics off) and the program's
// graph under Pulumi's mocks (the port published only when enabled, the install a secret).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";
import { renderRenewLoop } from "../../configs/certbot";
import { metricsCredentialHash, renderMetricsCertificateCopy, renderMetricsFiles, renderMetricsRelay } from "../../configs/metrics";
import { renderRegistryConfig, REGISTRY_DEBUG_ADDR } from "../../configs/registry";
import { RawConfig } from "../../settings/defaults";
import { ConfigError, parseSettings, stackNaming } from "../../settings/parse";
import { SecretPaths } from "../../settings/secretPaths";
import { Secret, Settings } from "../../settings/types";
import { isSecretWrapper, runProgram, unwrapSecrets } from "../harness/program";
import { Recorder } from "../harness/recorder";

const PASSWORD = "scrape-password-0123456789";
const DEV = { domain: "registry.test", acmeServer: "pebble", bindAddress: "127.0.0.1", httpPort: 8080, httpsPort: 8443 };

const parse = (metrics: unknown, secret: string[] = []) =>
    parseSettings({ domain: "r.example.com", metrics: JSON.stringify(metrics) } as RawConfig, "dev", stackNaming(new SecretPaths(secret)));

function problemsOf(run: () => unknown): string[] {
    try {
        run();
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
        return e.problems;
    }
    assert.fail("expected the config to be rejected");
}

describe("metrics setting", () => {
    test("off by default; on loopback without a credential; anywhere with one", () => {
        assert.deepEqual(parseSettings({ domain: "r.example.com" }, "dev").metrics, {
            enabled: false,
            port: 9145,
            bindAddress: "127.0.0.1",
        });
        assert.deepEqual(parse({ enabled: true }).metrics, { enabled: true, port: 9145, bindAddress: "127.0.0.1", password: undefined });
        const m = parse({ enabled: "true", port: 9100, bindAddress: "10.0.0.5", password: PASSWORD }, ["metrics.password"]).metrics;
        assert.equal(m.port, 9100);
        assert.equal(m.bindAddress, "10.0.0.5");
        assert.ok(m.password instanceof Secret);
        assert.equal(m.password.reveal(), PASSWORD);
    });

    test("off any other interface without a credential, a plain-text password, bad values: named by key", () => {
        assert.deepEqual(
            problemsOf(() => parse({ enabled: true, bindAddress: "0.0.0.0" })),
            [
                'private-registry:metrics.password: required when metrics.bindAddress is not a loopback address ("0.0.0.0"): anyone who reaches it could read the metrics. Set one with `pulumi config set --secret --path metrics.password ...`',
            ],
        );
        assert.deepEqual(
            problemsOf(() => parse({ enabled: true, password: PASSWORD, port: 443, bindAddress: "nowhere", extra: 1 })),
            [
                'private-registry:metrics: unknown field "extra"; expected one of enabled, port, bindAddress, password',
                'private-registry:metrics.bindAddress: expected an IP address such as 127.0.0.1 or 10.0.0.5, got "nowhere"',
                "private-registry:metrics.password: must be stored as a secret: `pulumi config set --secret --path metrics.password ...`",
                'private-registry:metrics.port: expected a port apart from httpPort and httpsPort (80, 443), got "443"',
            ],
        );
        assert.deepEqual(
            problemsOf(() => parse({ enabled: true, password: "short" }, ["metrics.password"])),
            ["private-registry:metrics.password: expected 16-128 printable ASCII characters without spaces"],
        );
    });
});

describe("metrics renderers", () => {
    const on = parse({ enabled: true });
    const off = parseSettings({ domain: "r.example.com" }, "dev");

    test("metrics off: no relay, no certificate copy, the registry config and certbot's loop as before", () => {
        assert.equal(renderMetricsRelay(off), "");
        assert.equal(renderMetricsCertificateCopy(off), "");
        assert.doesNotMatch(renderRegistryConfig(off, "abc123"), /debug|prometheus/);
        assert.doesNotMatch(renderRenewLoop(off), /renewal-status/);
    });

    test("metrics on: distribution's debug server on loopback, in the read-write registry only", () => {
        const rw = yaml.load(renderRegistryConfig(on, "abc123")) as { http: Record<string, unknown> };
        assert.deepEqual(rw.http.debug, { addr: REGISTRY_DEBUG_ADDR, prometheus: { enabled: true, path: "/metrics" } });
        assert.match(REGISTRY_DEBUG_ADDR, /^127\.0\.0\.1:/);
        const ro = yaml.load(renderRegistryConfig(on, "abc123", "read-only")) as { http: Record<string, unknown> };
        assert.equal(ro.http.debug, undefined, "the read-only registry runs beside the writer: one debug port");
    });

    test("the shell it adds parses (sh -n), before the scripts it is prepended to", () => {
        for (const script of [renderMetricsRelay(on), renderMetricsCertificateCopy(on), renderRenewLoop(on)]) {
            const r = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
        }
        assert.match(renderMetricsRelay(on), /df -P -k \/var\/lib\/registry/);
        const s3 = { metrics: on.metrics, storage: { driver: "s3" } } as unknown as Settings;
        assert.doesNotMatch(renderMetricsRelay(s3), /df -P/, "S3: no data volume to measure");
        assert.match(renderRenewLoop(on), /registry-renewal-status/);
    });

    test("the credential is checked as a SHA-256 of metrics:<password>; a bad hash is refused", () => {
        assert.equal(metricsCredentialHash(PASSWORD), createHash("sha256").update(`metrics:${PASSWORD}`).digest("hex"));
        assert.equal(metricsCredentialHash(undefined), "");
        const [server] = renderMetricsFiles(on, metricsCredentialHash(PASSWORD));
        assert.ok(server.content.includes(metricsCredentialHash(PASSWORD)));
        assert.doesNotMatch(server.content, new RegExp(PASSWORD));
        assert.throws(() => renderMetricsFiles(on, 'x"; return 200;'), /SHA-256/);
    });
});

describe("metrics in the program (Pulumi mocks)", () => {
    test("off: nothing published or installed for it", async () => {
        const mocks = new Recorder(false);
        await runProgram({ config: DEV, mocks });
        assert.equal(mocks.byName("registry-nginx").inputs.ports.length, 2);
        assert.ok(!mocks.ofType("command:local:Command").some((c) => c.name.endsWith("-metrics-install")));
    });

    test("on: the port published on its address, the install a secret that carries no password", async () => {
        const mocks = new Recorder(false);
        await runProgram({
            config: { ...DEV, metrics: { enabled: true, port: 9200, bindAddress: "10.1.2.3", password: PASSWORD } },
            secretKeys: ["metrics.password"],
            mocks,
        });
        const ports = mocks.byName("registry-nginx").inputs.ports as { internal: number; external: number; ip: string }[];
        assert.deepEqual(ports[2], { internal: 9145, external: 9200, ip: "10.1.2.3" });
        const install = mocks.byName("registry-metrics-install");
        assert.ok(isSecretWrapper(install.inputs.stdin), "the install script is a secret");
        const script = String(unwrapSecrets(install.inputs.stdin));
        assert.ok(script.includes(metricsCredentialHash(PASSWORD)));
        assert.ok(!script.includes(PASSWORD));
        assert.match(String(install.inputs.delete), /rm -f .*20-metrics\.conf/);
    });
});
