// Metrics: the `metrics` setting (off by default; a credential required off loopback; every
// problem named by its key), its renderers (shell checked by `sh -n`, the registry's debug
// server in the read-write config only, nothing changed with metrics off) and the program's
// graph under Pulumi's mocks (the port published only when enabled, the install a secret).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";
import { renderRenewLoop } from "../../configs/certbot";
import { metricsCredentialHash, renderMetricsCertificateCopy, renderMetricsFiles, renderMetricsRelay } from "../../configs/metrics";
import { GC_RESULT, REGISTRY_DATA_DIR, renderRegistryConfig, renderRegistrySupervisor, REGISTRY_DEBUG_ADDR } from "../../configs/registry";
import { RETENTION_RESULT, RETENTION_RULES, renderRetentionFunction } from "../../configs/retention";
import { S3_HELPER_FILES } from "../../configs/s3HelperProtocol";
import { RawConfig } from "../../settings/defaults";
import { ConfigError, parseSettings, stackNaming } from "../../settings/parse";
import { SecretPaths } from "../../settings/secretPaths";
import { Secret, Settings } from "../../settings/types";
import { isSecretWrapper, runProgram, unwrapSecrets } from "../harness/program";
import { Recorder } from "../harness/recorder";
import { tempDir } from "../harness/tempDir";

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

/** A shell function's definition, cut out of a script: from `name() {` to its closing brace (its own line, or `; }` on one line). */
function shellFunction(script: string, name: string): string {
    const from = script.indexOf(`${name}() {`);
    assert.ok(from >= 0, `${name} is defined`);
    const ends = ["; }\n", "\n}\n"].map((e) => ({ at: script.indexOf(e, from), length: e.length })).filter((e) => e.at >= 0);
    const end = ends.reduce((a, b) => (b.at < a.at ? b : a));
    return script.slice(from, end.at + end.length);
}

describe("the supervisor's results for the endpoint (its shell functions run by sh)", () => {
    const on = parse({ enabled: true });

    /**
     * Runs the supervisor's collect() with a stand-in `registry` that prints `output`, deletes
     * `a`'s blob and exits `exit`; on S3, a stand-in S3 helper lists the blobs `a` (1000 bytes) and `b` (500).
     */
    function collect(supervisor: string, output: string, exit: number): string[] {
        const dir = tempDir("registry-gc-result-");
        const blobs = path.join(dir, "blobs");
        for (const [name, bytes] of [
            ["a", 1000],
            ["b", 500],
        ] as const) {
            fs.mkdirSync(path.join(blobs, "sha256", name), { recursive: true });
            fs.writeFileSync(path.join(blobs, "sha256", name, "data"), Buffer.alloc(bytes));
        }
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "registry"), `#!/bin/sh\nrm -rf ${blobs}/sha256/a\nprintf '%s\\n' '${output}'\nexit ${exit}\n`, {
            mode: 0o755,
        });
        const functions = ["clock", "elapsed", "record", "blob_bytes", "collect"]
            .filter((f) => supervisor.includes(`${f}() {`))
            .map((f) => shellFunction(supervisor, f).replaceAll(`${REGISTRY_DATA_DIR}/docker/registry/v2/blobs`, blobs))
            .join("\n");
        const s3Helper = `s3_helper() { [ "$1" = blobs ] && printf 'sha256:a 1000\\nsha256:b 500\\n' > "$ctl/${S3_HELPER_FILES.blobs}"; }`;
        const script = `ctl=${dir}\nrw=/dev/null\nuntagged=0\nlog() { :; }\n${s3Helper}\n${functions}\ncollect\n`;
        const r = spawnSync("sh", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr.includes("not found"), false, r.stderr);
        return fs.readFileSync(path.join(dir, GC_RESULT), "utf8").trim().split(" ");
    }

    test("a GC: its start, duration, 1 or 0, the blobs distribution's summary counts, the bytes freed (filesystem only)", () => {
        const t0 = Math.floor(Date.now() / 1000);
        const summary = "3 blobs marked, 1 blobs and 0 manifests eligible for deletion";
        const [start, duration, ok, blobs, freed] = collect(renderRegistrySupervisor(on), summary, 0);
        assert.ok(Number(start) >= t0 && Number(start) <= t0 + 5, start);
        assert.ok(Number(duration) >= 0 && Number(duration) <= 5, duration);
        assert.match(duration, /^\d+\.\d\d$/, "to a hundredth of a second (/proc/uptime), not date's whole seconds");
        assert.deepEqual([ok, blobs, freed], ["1", "1", "1000"]);
        assert.deepEqual(collect(renderRegistrySupervisor(on), "failed to garbage collect: failed to mark: ...", 1).slice(2), [
            "0",
            "0",
            "1000",
        ]);
        const storage = JSON.stringify({ driver: "s3", bucket: "images", region: "eu-central-1" });
        const s3 = parseSettings({ domain: "r.example.com", storage, metrics: JSON.stringify({ enabled: true }) } as RawConfig, "dev");
        assert.doesNotMatch(renderRegistrySupervisor(s3), /blob_bytes/);
        assert.deepEqual(
            collect(renderRegistrySupervisor(s3), summary, 0).slice(2),
            ["1", "1", "-"],
            "S3 without static keys: not measured",
        );
        // S3 with keys: the helper lists the blobs' sizes in the GC window; the ones distribution names are what it freed.
        const keyed = parseSettings(
            {
                domain: "r.example.com",
                storage: JSON.stringify({ driver: "s3", bucket: "images", region: "eu-central-1", accessKey: "A", secretKey: "S" }),
                metrics: JSON.stringify({ enabled: true }),
            } as RawConfig,
            "dev",
            stackNaming(new SecretPaths(["storage"])),
        );
        const named = `${summary}\nblob eligible for deletion: sha256:a`;
        assert.match(renderRegistrySupervisor(keyed), /s3_helper blobs/);
        assert.deepEqual(collect(renderRegistrySupervisor(keyed), named, 0).slice(2), ["1", "1", "1000"], "S3: the named blob's size");
        assert.deepEqual(collect(renderRegistrySupervisor(keyed), named, 1).slice(2), ["0", "1", "-"], "S3: a failed GC claims nothing");
    });

    test("a retention run: 1 with the tags deleted, 0 when its program fails; nothing without rules", () => {
        const dir = tempDir("registry-retention-result-");
        const data = path.join(dir, "data");
        const link = path.join(data, "docker/registry/v2/repositories/team/app/_manifests/tags");
        for (const tag of ["old", "new"]) {
            fs.mkdirSync(path.join(link, tag, "current"), { recursive: true });
            fs.writeFileSync(path.join(link, tag, "current", "link"), `sha256:${"a".repeat(64)}`);
        }
        fs.utimesSync(path.join(link, "old", "current", "link"), 1_700_000_000, 1_700_000_000);
        const run = (rules: string | undefined) => {
            const ctl = path.join(dir, "ctl");
            fs.rmSync(ctl, { recursive: true, force: true });
            fs.mkdirSync(ctl);
            if (rules !== undefined) fs.writeFileSync(path.join(ctl, RETENTION_RULES), rules);
            const script = `ctl=${ctl}\nuntagged=1\nlog() { :; }\n${renderRetentionFunction(data, false)}\nretention\n`;
            spawnSync("sh", ["-c", script], { encoding: "utf8" });
            const file = path.join(ctl, RETENTION_RESULT);
            return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split(" ").slice(2) : undefined;
        };
        assert.equal(run(undefined), undefined);
        assert.deepEqual(run("dryrun\t1\nrule\t1\tteam/*\t^team/[^/]*$\t\t1\t\t\n"), ["1", "0", "1"], "a dry run deletes nothing");
        assert.deepEqual(run("dryrun\t0\nrule\t1\tteam/*\t^team/[^/]*$\t\t1\t\t\n"), ["1", "1", "0"]);
        assert.deepEqual(run("dryrun\t0\nrule\t1\tteam/*\t^team/(\t\t1\t\t\n"), ["0", "0", "0"], "a regex awk cannot compile");
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
