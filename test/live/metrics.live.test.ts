// Metrics, live: a stack with `metrics` enabled, deployed by the real Pulumi engine; its scrape
// endpoint on its own published port refuses scrapes without the credential (401), and with it
// serves Prometheus text: nginx's counters by status class and connections, refused logins,
// bcrypt verifications and remembered credentials, the served certificate's notAfter, the
// GC's state and its last run's and retention's results (blobs, bytes and tags gone), the data
// volume's usage and distribution's own metrics, which change after a push. A real Prometheus
// scrapes it with the alert rules loaded: `up` is 1, a series of each source is there, a
// flood of wrong passwords shows as 429s, and RegistryGarbageCollectionFailed fires while a GC
// fails (a repository without its layers) and stops once one works. Its password is in no
// plain state or `docker inspect`. Turned off, the port is gone and nginx no longer serves it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { AUTH_FAILURE_LIMIT } from "../../configs/auth";
import { tempDir } from "../harness/tempDir";
import { Bed, BED_SLOTS } from "./bed";
import { basic, canConnect, DockerClient, Endpoint, httpsRequest, peerCertificate } from "./client";
import { Engine } from "./engine";
import { bedHostAddress } from "./hostAddress";
import { docker, run } from "./proc";
import { Prometheus, samples } from "./prometheus";
import { leaksIn } from "./secrets";

const LABEL = `metrics-${randomBytes(3).toString("hex")}`;
const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
const SCRAPE_PASSWORD = `scrape-${randomBytes(12).toString("hex")}`;

/** Sum of every sample of `name` whose labels include each of `labels` (`method="put"`). */
function total(s: Map<string, number>, name: string, ...labels: string[]): number {
    let sum = 0;
    for (const [key, value] of s) {
        const m = /^([^{]+)(\{.*\})?$/.exec(key)!;
        if (m[1] === name && labels.every((l) => (m[2] ?? "").includes(l))) sum += value;
    }
    return sum;
}

describe("live: the metrics endpoint", { timeout: 900_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.metrics);
    const client = new DockerClient();
    const port = bed.ports.spare[0];
    const refs: string[] = [];
    let address = "";
    let host = "";
    let ep: Endpoint;
    let prometheus: Prometheus | undefined;
    // Retention keeps each metrics/* repository's newest tag; the GC takes the rest's layers.
    const config = (metrics: Record<string, unknown>) =>
        bed.config({
            users: { alice: { access: "push", password: ALICE.password } },
            metrics: { ...metrics, port, bindAddress: address },
            retention: [{ repositories: "metrics/*", keepLast: 1 }],
            retentionDryRun: false,
            gcDeleteUntagged: true,
        });

    const scrape = (auth?: string) => fetch(`http://${address}:${port}/metrics`, { headers: auth ? { Authorization: auth } : {} });

    /** A scrape with the credential, as samples, and its text. */
    async function scraped(): Promise<{ text: string; s: Map<string, number> }> {
        const reply = await scrape(basic("metrics", SCRAPE_PASSWORD));
        assert.equal(reply.status, 200);
        const text = await reply.text();
        return { text, s: samples(text) };
    }

    /** Scrapes until `ok` holds (the relay refreshes every 5 s), up to 30 s. */
    async function scrapedUntil(ok: (s: Map<string, number>) => boolean, what: string): Promise<Map<string, number>> {
        const deadline = Date.now() + 30_000;
        for (;;) {
            const { s, text } = await scraped();
            if (ok(s)) return s;
            if (Date.now() > deadline) {
                const logs = await run("docker", ["logs", "--tail", "20", `${bed.prefix}-nginx`]);
                assert.fail(`${what}: not within 30 s; last scrape:\n${text}\nnginx's log:\n${logs.stdout}${logs.stderr}`);
            }
            await new Promise((r) => setTimeout(r, 1000));
        }
    }

    before(async () => {
        address = await bedHostAddress();
        const deployed = await bed.up(config({ enabled: true, password: SCRAPE_PASSWORD }));
        host = deployed.outputs.host.value as string;
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(host, ep.ca);
        assert.equal((await client.login(host, ALICE.name, ALICE.password)).code, 0);
    });

    after(async () => {
        await prometheus?.stop();
        client.cleanup();
        await bed.cleanup();
        await run("docker", ["image", "rm", "--force", ...refs]);
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("1. without the credential, or with a wrong one: 401", async () => {
        const none = await scrape();
        assert.equal(none.status, 401);
        assert.match(none.headers.get("www-authenticate") ?? "", /^Basic realm="metrics"/);
        assert.equal((await scrape(basic("metrics", "wrong-password-123456"))).status, 401);
        assert.equal((await scrape(basic("alice", ALICE.password))).status, 401, "a registry user is not the scrape user");
        assert.equal((await fetch(`http://${address}:${port}/`)).status, 404, "only /metrics");
    });

    test("2. Prometheus text with HELP and TYPE: nginx, certificate, GC, storage and distribution's own", async () => {
        // The relay refreshes every 5 s, the certificate's copy every 10 s.
        const s = await scrapedUntil(
            (x) => x.has("registry_storage_filesystem_size_bytes") && x.has("registry_certificate_not_after_seconds"),
            "the relayed metrics and the certificate",
        );
        const { text } = await scraped();
        for (const name of [
            "registry_nginx_http_requests_total",
            "registry_auth_refused_total",
            "registry_auth_verifications_total",
            "registry_auth_remembered_total",
            "registry_nginx_connections_active",
            "registry_certificate_not_after_seconds",
            "registry_gc_in_progress",
            "registry_storage_filesystem_size_bytes",
        ]) {
            assert.match(text, new RegExp(`^# HELP ${name} \\S`, "m"), `${name} has HELP`);
            assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)$`, "m"), `${name} has TYPE`);
        }
        const served = await peerCertificate(ep);
        assert.equal(
            s.get("registry_certificate_not_after_seconds"),
            Date.parse(served.valid_to) / 1000,
            "the served certificate's notAfter",
        );
        assert.equal(s.get("registry_gc_in_progress"), 0);
        assert.equal(s.get("registry_gc_interval_seconds"), 0);
        assert.ok((s.get("registry_gc_last_end_timestamp_seconds") ?? 0) > 1.7e9, "the schedule's start, as a Unix time");
        assert.ok((s.get("registry_storage_filesystem_size_bytes") ?? 0) >= (s.get("registry_storage_filesystem_avail_bytes") ?? -1));
        assert.ok((s.get("registry_nginx_connections_active") ?? 0) >= 1, "this scrape's own connection at least");
        assert.match(text, /^# TYPE registry_http_requests_total counter$/m, "distribution's own metrics, relayed");
    });

    test("3. values change after a push and after refused logins", async () => {
        const before = (await scraped()).s;
        assert.equal((await httpsRequest(ep, "/v2/")).status, 401);
        const ref = `${host}/metrics/app:v1`;
        refs.push(ref);
        await client.makeImage(ref, 256 * 1024);
        await client.must(["push", ref]);
        const after = await scrapedUntil(
            (s) => total(s, "registry_http_requests_total", 'method="put"') > total(before, "registry_http_requests_total", 'method="put"'),
            "distribution counts the push's PUTs",
        );
        const ok = (s: Map<string, number>) => s.get('registry_nginx_http_requests_total{code_class="2xx"}') ?? 0;
        assert.ok(ok(after) > ok(before), "nginx counted the push's 2xx answers");
        const refused = (s: Map<string, number>) => s.get('registry_auth_refused_total{code="401"}') ?? 0;
        assert.ok(refused(after) > refused(before), "the anonymous request counts as refused with 401");
        // The login in before() ran bcrypt; the push's requests were answered from memory.
        assert.ok((after.get('registry_auth_verifications_total{result="success"}') ?? 0) >= 1, "alice's password, verified by bcrypt");
        const remembered = (s: Map<string, number>) => s.get('registry_auth_remembered_total{result="success"}') ?? 0;
        assert.ok(remembered(after) > remembered(before), "the push's requests, answered from memory");
    });

    test("3b. a renewal check (USR1 to certbot) reports when it ran and that it worked", async () => {
        const asked = Math.floor(Date.now() / 1000);
        await docker(["kill", "--signal", "USR1", `${bed.prefix}-certbot`]);
        const s = await scrapedUntil(
            (x) => (x.get("registry_certificate_renewal_check_timestamp_seconds") ?? 0) >= asked - 1,
            "the renewal check's time",
        );
        assert.equal(s.get("registry_certificate_renewal_success"), 1);
    });

    test("3c. a GC after retention: its start, duration and result, the blobs and bytes it freed, the tags retention deleted", async () => {
        // Retention ranks tags by their push time, in seconds: v2 is pushed in a later second than v1.
        await new Promise((r) => setTimeout(r, 1100));
        const ref = `${host}/metrics/app:v2`;
        refs.push(ref);
        await client.makeImage(ref, 256 * 1024);
        await client.must(["push", ref]);
        const asked = Math.floor(Date.now() / 1000);
        await docker(["kill", "--signal", "USR1", `${bed.prefix}-registry`]);
        // The result is recorded as collection ends; the end's time once writes are back.
        const s = await scrapedUntil(
            (x) =>
                (x.get("registry_gc_last_start_timestamp_seconds") ?? 0) >= asked &&
                (x.get("registry_gc_last_end_timestamp_seconds") ?? 0) >= asked,
            "the GC's result and end",
        );
        const { text } = await scraped();
        for (const name of ["registry_gc_last_success", "registry_gc_last_freed_bytes", "registry_retention_last_deleted_tags"]) {
            assert.match(text, new RegExp(`^# HELP ${name} \\S`, "m"), `${name} has HELP`);
            assert.match(text, new RegExp(`^# TYPE ${name} gauge$`, "m"), `${name} has TYPE`);
        }
        assert.equal(s.get("registry_gc_last_success"), 1);
        assert.ok((s.get("registry_gc_last_duration_seconds") ?? -1) >= 0);
        assert.ok((s.get("registry_gc_last_deleted_blobs") ?? 0) >= 2, "v1's manifest, layer and config blobs");
        assert.ok((s.get("registry_gc_last_freed_bytes") ?? 0) > 256 * 1024, "at least v1's layer");
        assert.equal(s.get("registry_retention_last_success"), 1);
        assert.equal(s.get("registry_retention_last_deleted_tags"), 1, "metrics/app:v1");
        assert.equal(s.get("registry_retention_last_dry_run"), 0);
        assert.ok((s.get("registry_retention_last_start_timestamp_seconds") ?? 0) >= asked);
        assert.ok(
            (s.get("registry_gc_last_end_timestamp_seconds") ?? 0) >= (s.get("registry_gc_last_start_timestamp_seconds") ?? Infinity),
        );
    });

    test("3d. a real Prometheus scrapes it with the alert rules: up, every source, and an alert while GC fails", async () => {
        const dir = tempDir("registry-prometheus-");
        prometheus = new Prometheus({
            dir,
            port: bed.ports.spare[1],
            target: `${address}:${port}`,
            password: SCRAPE_PASSWORD,
            ruleFiles: [path.resolve(__dirname, "..", "..", "monitoring", "alerts.yml")],
        });
        await prometheus.start();
        const p = prometheus;
        assert.ok((await p.alertRules()).includes("RegistryGarbageCollectionFailed"), "the alert rules are loaded");
        const value = (expr: string) => async () => {
            const r = await p.query(expr);
            return r.length > 0 ? r[0].value : undefined;
        };
        assert.equal(await p.until(value('up{job="private-registry"}'), "a scrape"), 1);
        // The GC started a new registry process: a request, so that its request counters have a sample.
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200);
        // A series of each source: nginx, the auth module, the certificate, the supervisor, the relay, distribution.
        for (const series of [
            'registry_nginx_http_requests_total{code_class="2xx"}',
            'registry_auth_verifications_total{result="success"}',
            "registry_certificate_not_after_seconds",
            "registry_gc_last_success",
            "registry_retention_last_success",
            "registry_storage_filesystem_avail_bytes",
            "registry_http_requests_total",
        ])
            await p.until(value(`count(${series})`), `the series ${series}`, 15_000);
        const served = await peerCertificate(ep);
        assert.equal(await p.until(value("registry_certificate_not_after_seconds"), "notAfter"), Date.parse(served.valid_to) / 1000);
        assert.ok((await p.until(value("registry_gc_last_freed_bytes"), "bytes freed")) > 0);

        // A bounded flood of wrong passwords from this address: past the failure limit, 429s.
        const refused429 = value('sum(registry_auth_refused_total{code="429"})');
        const before429 = (await refused429()) ?? 0;
        for (let i = 0; i < AUTH_FAILURE_LIMIT + 3; i++)
            await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, `wrong-${randomBytes(6).toString("hex")}`) });
        await p.until(async () => (((await refused429()) ?? 0) > before429 ? true : undefined), "the flood's 429s");

        // A repository whose manifest has no layers directory: the GC's mark phase fails.
        const broken = "/var/lib/registry/docker/registry/v2/repositories/metrics-broken";
        const digest = `sha256:${"1".repeat(64)}`;
        await docker([
            "exec",
            `${bed.prefix}-registry`,
            "sh",
            "-c",
            `mkdir -p ${broken}/_manifests/revisions/sha256/${"1".repeat(64)} && printf %s ${digest} > ${broken}/_manifests/revisions/sha256/${"1".repeat(64)}/link`,
        ]);
        const firing = async () => {
            const a = (await p.alerts()).find((x) => x.labels.alertname === "RegistryGarbageCollectionFailed");
            return a?.state === "firing" ? a : undefined;
        };
        try {
            await docker(["kill", "--signal", "USR1", `${bed.prefix}-registry`]);
            const alert = await p.until(firing, "RegistryGarbageCollectionFailed firing");
            assert.equal(alert.labels.severity, "warning");
            assert.equal(alert.labels.job, "private-registry");
        } finally {
            await docker(["exec", `${bed.prefix}-registry`, "rm", "-rf", broken]);
        }
        // Mended: once the failed GC is over (a signal during a GC is served by it), the next one works and the alert is over.
        await p.until(value("registry_gc_last_end_timestamp_seconds >= registry_gc_last_start_timestamp_seconds"), "the failed GC's end");
        await docker(["kill", "--signal", "USR1", `${bed.prefix}-registry`]);
        await p.until(
            async () => ((await firing()) === undefined && (await value("registry_gc_last_success")()) === 1 ? true : undefined),
            "the alert resolved",
        );
        assert.deepEqual(
            (await p.alerts()).map((a) => a.labels.alertname),
            [],
            "no other alert is pending or firing on a healthy stack",
        );
    });

    test("4. the scrape password is in no plain state and no docker inspect", async () => {
        const stack = await bed.stack();
        assert.deepEqual(leaksIn([SCRAPE_PASSWORD], await stack.exportText()), [], "the password in `pulumi stack export`");
        assert.deepEqual(leaksIn([SCRAPE_PASSWORD], await docker(["inspect", `${bed.prefix}-nginx`, `${bed.prefix}-registry`])), []);
    });

    test("5. turned off: the port is closed and nginx serves no metrics", async () => {
        await bed.up(config({ enabled: false }));
        assert.equal(await canConnect(address, port), false, "nothing listens on the metrics port");
        const files = await docker(["exec", `${bed.prefix}-nginx`, "sh", "-c", "ls /etc/nginx/registry/servers /etc/nginx/registry/njs"]);
        assert.doesNotMatch(files, /metrics/, "the endpoint's files are gone");
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200);
    });
});
