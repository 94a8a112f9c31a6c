// Several hosts, live (test/live/multiHostBed.ts): one stack of the program with two hosts (a
// and b) on this machine's Docker engine, each with its own ports, sharing a real S3 bucket, a
// Redis the stack runs on host a, and one http.secret; certificates by DNS-01; a load balancer
// in front. The tests run in order against one deployment.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { NGINX_CONTROL_DIR } from "../../configs/nginx";
import { GC_FLAG } from "../../configs/registry";
import { AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_SECONDS } from "../../configs/auth";
import { aliasMisses, BED_LABEL, BED_SLOTS, BEFORE_HOST_COMPONENT, DeployError, HOST_COMPONENT, upgradeChanges } from "./bed";
import { basic, Endpoint, httpsRequest, peerCertificate, slowPatch } from "./client";
import { statusCounts, wrongPasswordFlood } from "./flood";
import { requestsDuring } from "./load";
import { oneEvent, supervisorReady, within } from "./gc";
import { LOCAL_ENGINE, MULTI_HOST_BUCKET, MultiHostBed } from "./multiHostBed";
import { docker, newImageId, run } from "./proc";
import { samples } from "./prometheus";
import { leaksIn, secretAtoms } from "./secrets";
import { sourceAddresses } from "./sourceAddresses";
import { makeCa } from "../harness/certs";

const GENERATED = "carol";
const MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("live: one registry on two hosts sharing S3, Redis and one secret, behind a load balancer", { timeout: 1_800_000 }, () => {
    const m = new MultiHostBed(`hosts-${randomBytes(3).toString("hex")}`, BED_SLOTS.hosts);
    const { bed, client, hosts, lb, ep } = m;
    const ALICE = m.user;
    const REDIS_PASSWORD = m.redisPassword;
    const auth = basic(ALICE.name, ALICE.password);
    const fqdn = (node: string) => m.fqdn(node);
    const prefix = (node: string) => m.prefix(node);
    const shared = m.shared();
    const config = (redis?: Record<string, unknown>) => m.config(redis);
    // Users whose credentials nobody uses before test 8: each login of theirs needs a bcrypt verification.
    const FRESH = Array.from({ length: 6 }, (_, i) => ({ name: `fresh-${i}`, password: `fresh-${randomBytes(9).toString("hex")}` }));
    m.kept = {
        users: Object.fromEntries([
            [ALICE.name, { access: "push", password: ALICE.password }],
            ...FRESH.map((u) => [u.name, { access: "pull", password: u.password }]),
            // A generated password: the stack starts with one host and must keep it with two.
            [GENERATED, { access: "pull" }],
        ]),
    };
    /** What the upgrade of the two-host stack to RegistryHost components created, replaced or deleted. */
    let upgrade: string[] = [];
    /** What the upgrade from there to this program created or deleted (a missing alias). */
    let misses: string[] = [];
    /** What the single-host stack handed out before it grew to two hosts. */
    const oneHost = { passwords: {} as Record<string, string>, blob: randomBytes(64 * 1024) };
    const local: string[] = [];
    const tempDirs: string[] = [];
    /** Whether host `node` flags a GC (its nginx refuses writes). */
    const flagged = async (node: string) =>
        (await run("docker", ["exec", `${prefix(node)}-nginx`, "test", "-f", `${NGINX_CONTROL_DIR}/${GC_FLAG}`])).code === 0;
    const logs = async (container: string, since: string) => {
        const r = await run("docker", ["logs", "--since", since, container]);
        return `${r.stdout}${r.stderr}`;
    };
    /** Asks host `node` for a GC (USR1) and returns its coordinator's log once the GC has ended (at most 60 s). */
    const gcAskedOn = async (node: string) => {
        const since = new Date(Date.now() - 1000).toISOString();
        // A registry just replaced may not have set its trap yet: USR1 would end its supervisor.
        await supervisorReady(`${prefix(node)}-registry`);
        await docker(["kill", "--signal", "USR1", `${prefix(node)}-registry`]);
        let coordinator = "";
        for (let i = 0; i < 300 && !/writes resume/.test(coordinator); i++) {
            await sleep(200);
            coordinator = await logs(`${prefix(node)}-gc-coordinator`, since);
        }
        return coordinator;
    };
    /** A blob uploaded whole (POST, then PUT with its digest) through `e`; returns its digest. */
    const putBlob = async (e: Endpoint, repo: string, body: Buffer) => {
        const started = await httpsRequest(e, `/v2/${repo}/blobs/uploads/`, { auth, method: "POST" });
        assert.equal(started.status, 202, started.body);
        const loc = new URL(String(started.headers.location), "https://registry");
        const put = await httpsRequest(e, `${loc.pathname}${loc.search}&digest=${sha256(body)}`, { auth, method: "PUT", body });
        assert.equal(put.status, 201, put.body);
        return sha256(body);
    };
    const pushAndPullEverywhere = async (repo: string, layers: number[]) => {
        const viaLb = `${shared}/${repo}`;
        const id = await client.makeLayeredImage(viaLb, layers);
        local.push(viaLb);
        await client.must(["push", viaLb]);
        for (const h of hosts) {
            const ref = `${m.own(h.name)}/${repo}`;
            local.push(ref);
            await client.exec(["image", "rm", ref]);
            await client.must(["pull", ref]);
            assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), id, `host ${h.name} serves ${repo}`);
        }
        return id;
    };

    before(async () => {
        // The stack exists first with one host (no `hosts`), as a user's would, with an image's
        // blob in the bucket; then it grows to hosts a and b.
        // Both by the program before each host became a component; then this one upgrades it.
        const deployed = await m.start({
            upgradeFrom: [BEFORE_HOST_COMPONENT, HOST_COMPONENT],
            oneHostFirst: async (up) => {
                oneHost.passwords = up.outputs.passwords.value as Record<string, string>;
                await putBlob(m.oneHostEndpoint(up.outputs.caRoot.value as string), "grown/from-one", oneHost.blob);
            },
        });
        upgrade = upgradeChanges(m.upgrades.find((u) => u.commit === HOST_COMPONENT)!.steps);
        misses = aliasMisses(deployed.steps);
    });

    after(async () => {
        for (const ref of local) await run("docker", ["image", "rm", "--force", ref]);
        for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
        await m.cleanup();
        assert.deepEqual(m.engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("0. a stack grown from one host to two keeps its generated passwords and what it stored; the upgrade to RegistryHost components replaces nothing", async () => {
        assert.deepEqual(upgrade, [], "the upgrade of the two-host stack changes no resource but adding its RegistryHost components");
        assert.deepEqual(misses, [], "the upgrade to this program keeps every resource's state");
        const generated = oneHost.passwords[GENERATED];
        assert.equal(generated?.length, 32, "carol's password was generated by the single-host stack");
        const passwords = (await bed.outputs()).passwords.value as Record<string, string>;
        assert.deepEqual(passwords, oneHost.passwords, "the same passwords after the second host came");
        for (const h of hosts) {
            const carol = basic(GENERATED, generated);
            const head = await httpsRequest(ep[h.name], `/v2/grown/from-one/blobs/${sha256(oneHost.blob)}`, {
                auth: carol,
                method: "HEAD",
            });
            assert.equal(head.status, 200, `host ${h.name} serves the single host's blob to carol, with her generated password`);
        }
        // The single host's own containers are gone with it (its port free again).
        const left = await run("docker", ["inspect", `${bed.prefix}-nginx`]);
        assert.notEqual(left.code, 0, "the single host's nginx was deleted");
    });

    test("1. each host's certificate names the shared name and its own; the outputs list every host; Redis runs allkeys-lru with a password", async () => {
        for (const h of hosts) {
            const cert = await peerCertificate(ep[h.name]);
            assert.deepEqual(String(cert.subjectaltname).split(", ").sort(), [`DNS:${bed.domain}`, `DNS:${fqdn(h.name)}`].sort());
            // The same certificate under the shared name (what a load balancer or DNS round-robin reaches).
            const byShared = await peerCertificate({ ...ep[h.name], domain: bed.domain });
            assert.equal(byShared.serialNumber, cert.serialNumber);
        }
        const outputs = await bed.outputs();
        assert.equal(outputs.url.value, `https://${shared}`);
        assert.deepEqual(
            outputs.hosts.value,
            hosts.map((h) => ({
                name: h.name,
                host: `${fqdn(h.name)}:${h.port}`,
                url: `https://${fqdn(h.name)}:${h.port}`,
                dockerHost: h.name === "b" ? m.daemonB!.dockerHost : LOCAL_ENGINE,
            })),
        );
        // Host b's provider and commands went through tcp:// with TLS and a client certificate.
        assert.match(m.daemonB!.dockerHost, /^tcp:\/\//);
        assert.ok(m.daemonB!.accepted > 10, `connections to b's daemon over TLS: ${m.daemonB!.accepted}`);
        const redis = `${prefix("a")}-redis`;
        const cli = (args: string[]) =>
            docker(["exec", "-i", redis, "sh", "-c", `REDISCLI_AUTH=$(cat) redis-cli ${args.join(" ")}`], { input: REDIS_PASSWORD });
        assert.equal(await cli(["CONFIG", "GET", "maxmemory-policy"]), "maxmemory-policy\nallkeys-lru");
        assert.equal(await cli(["CONFIG", "GET", "protected-mode"]), "protected-mode\nyes");
        // Published where the hosts reach it (redis.address) and nowhere else.
        assert.equal(await docker(["port", redis]), `6379/tcp -> ${m.address}:${m.redisPorts.stack}`);
        const noAuth = await run("docker", ["exec", redis, "redis-cli", "PING"]);
        assert.match(noAuth.stdout + noAuth.stderr, /NOAUTH/);
        // The password is nowhere in plain sight: container configs, process arguments, plain state.
        for (const c of [
            redis,
            `${prefix("a")}-registry`,
            `${prefix("b")}-registry`,
            `${prefix("a")}-gc-coordinator`,
            `${prefix("b")}-gc-coordinator`,
        ]) {
            assert.ok(!(await docker(["inspect", c])).includes(REDIS_PASSWORD), `docker inspect ${c}`);
            const args = await docker(["exec", c, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
            assert.ok(!args.includes(REDIS_PASSWORD), `process arguments in ${c}`);
        }
        const stack = await bed.stack();
        const atoms = secretAtoms(await stack.exportText(true), [REDIS_PASSWORD]);
        const plain = await stack.exportText();
        assert.deepEqual(leaksIn(atoms, plain), [], "secrets readable in `pulumi stack export`");
        // Nor the TLS client key of b's daemon, in any line of it.
        const keyLines = m.daemonB!.client.key.split("\n").filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
        assert.ok(keyLines.length > 0);
        for (const line of keyLines)
            assert.ok(!plain.includes(line) && !plain.includes(JSON.stringify(line).slice(1, -1)), "the client key in plain state");
    });

    test("2. an upload begun on host a is finished through host b; a multi-layer push through the load balancer pulls from each host", async () => {
        const body = randomBytes(256 * 1024);
        const started = await httpsRequest(ep.a, "/v2/cross/blob/blobs/uploads/", { auth, method: "POST" });
        assert.equal(started.status, 202, started.body);
        const loc = new URL(String(started.headers.location), "https://registry");
        const half = body.length / 2;
        // First half on a, second half and the commit on b: the upload's state token is signed with the shared secret.
        const first = await httpsRequest(ep.a, `${loc.pathname}${loc.search}`, { auth, method: "PATCH", body: body.subarray(0, half) });
        assert.equal(first.status, 202, first.body);
        const next = new URL(String(first.headers.location), "https://registry");
        const second = await httpsRequest(ep.b, `${next.pathname}${next.search}`, { auth, method: "PATCH", body: body.subarray(half) });
        assert.equal(second.status, 202, `PATCH on b: ${second.body}`);
        const last = new URL(String(second.headers.location), "https://registry");
        const put = await httpsRequest(ep.b, `${last.pathname}${last.search}&digest=${sha256(body)}`, { auth, method: "PUT" });
        assert.equal(put.status, 201, `PUT on b: ${put.body}`);
        for (const h of hosts) {
            const head = await httpsRequest(ep[h.name], `/v2/cross/blob/blobs/${sha256(body)}`, { auth, method: "HEAD" });
            assert.equal(head.status, 200, `host ${h.name} has the blob`);
            assert.equal(head.headers["content-length"], String(body.length));
        }
        await pushAndPullEverywhere("multi/app:1", [512 * 1024, 1024 * 1024, 256 * 1024]);
        const served = (await lb.log()).split("\n").filter((l) => / (PUT|PATCH) \/v2\/multi\/app\//.test(l));
        assert.ok(served.length > 0, "the push went through the load balancer");
    });

    test("3. GC on host b while an upload through host a is in flight: one GC for both hosts, writes 503 everywhere, the upload completes, nothing of it deleted, a deleted image re-pushes", async () => {
        const since = new Date(Date.now() - 1000).toISOString();
        // An image whose manifest is then deleted: GC reclaims its layer.
        const dropId = await pushAndPullEverywhere("gc/drop:1", [3 * 1024 * 1024]);
        const head = await httpsRequest(ep.a, "/v2/gc/drop/manifests/1", { auth, method: "HEAD", accept: MANIFEST_TYPES });
        const dropManifest = String(head.headers["docker-content-digest"]);
        assert.equal((await httpsRequest(ep.a, `/v2/gc/drop/manifests/${dropManifest}`, { auth, method: "DELETE" })).status, 202);

        // The upload in flight on a: 12 chunks of 64 KiB, one every 250 ms.
        const started = await httpsRequest(ep.a, "/v2/gc/live/blobs/uploads/", { auth, method: "POST" });
        assert.equal(started.status, 202);
        const chunks = 12;
        const chunkBytes = 64 * 1024;
        await supervisorReady(`${prefix("b")}-registry`);
        // The USR1 goes once nginx has passed the upload on to a's registry (its 100 Continue).
        const passedOn = oneEvent();
        const inFlight = slowPatch(ep.a, String(started.headers.location), auth, chunks, chunkBytes, 250, passedOn.fire);
        inFlight.catch(() => undefined);
        await within(passedOn.happened, 30_000, "nginx passing the upload on");
        await docker(["kill", "--signal", "USR1", `${prefix("b")}-registry`]);
        for (let i = 0; i < 100 && !((await flagged("a")) && (await flagged("b"))); i++) await sleep(100);
        assert.ok((await flagged("a")) && (await flagged("b")), "both hosts flag the GC");
        for (const h of hosts) {
            const refused = await httpsRequest(ep[h.name], "/v2/gc/other/blobs/uploads/", { auth, method: "POST" });
            assert.equal(refused.status, 503, `a new write on ${h.name} during GC is refused`);
            assert.ok(Number(refused.headers["retry-after"]) > 0, "with Retry-After");
            assert.equal((await httpsRequest(ep[h.name], "/v2/multi/app/tags/list", { auth })).status, 200, `reads go on at ${h.name}`);
        }
        const patched = await inFlight;
        assert.equal(patched.status, 202, `the in-flight upload finished: ${patched.body}`);
        for (let i = 0; i < 600 && ((await flagged("a")) || (await flagged("b"))); i++) await sleep(100);
        assert.equal((await flagged("a")) || (await flagged("b")), false, "the GC ended on both hosts");

        const logA = await logs(`${prefix("a")}-registry`, since);
        const logB = await logs(`${prefix("b")}-registry`, since);
        const coordinatorB = await logs(`${prefix("b")}-gc-coordinator`, since);
        console.log(`# coordinator b:\n# ${coordinatorB.trim().split("\n").join("\n# ")}`);
        assert.match(logA, /registry-gc: GC b-\w+: read-only on this host/);
        assert.match(logB, /registry-gc: GC b-\w+: collecting for every host/);
        const finished = (logA + logB).match(/registry-gc: garbage-collect finished/g) ?? [];
        assert.equal(finished.length, 1, "exactly one GC ran, on b");
        assert.match(coordinatorB, /leading GC b-\w+/);
        assert.match(coordinatorB, /collected; \d+ blob descriptor cache keys deleted; writes resume/);

        // The upload in flight completes on a, and becomes an image: nothing of it was deleted.
        const layer = Buffer.concat(Array.from({ length: chunks }, (_, i) => Buffer.alloc(chunkBytes, i)));
        const loc = new URL(String(patched.headers.location), "https://registry");
        const put = await httpsRequest(ep.a, `${loc.pathname}${loc.search}&digest=${sha256(layer)}`, { auth, method: "PUT" });
        assert.equal(put.status, 201, put.body);
        const configBlob = Buffer.from(
            JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layer)] } }),
        );
        await putBlob(ep.a, "gc/live", configBlob);
        const manifest = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(configBlob), size: configBlob.length },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length }],
        });
        const mput = await new Promise<number>((resolve, reject) => {
            // A manifest PUT, with its media type.
            const req = https.request(
                {
                    host: m.address,
                    port: ep.a.httpsPort,
                    servername: ep.a.domain,
                    path: "/v2/gc/live/manifests/1",
                    method: "PUT",
                    ca: m.roots,
                    agent: false,
                    headers: {
                        Host: `${ep.a.domain}:${ep.a.httpsPort}`,
                        Authorization: auth,
                        "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                    },
                },
                (res) => {
                    res.resume();
                    res.on("end", () => resolve(res.statusCode ?? 0));
                },
            );
            req.on("error", reject);
            req.end(manifest);
        });
        assert.equal(mput, 201, "the image of the upload in flight is complete");
        for (const h of hosts) {
            const blob = await httpsRequest(ep[h.name], `/v2/gc/live/blobs/${sha256(layer)}`, { auth, method: "HEAD" });
            assert.equal(blob.status, 200, `host ${h.name} serves the layer uploaded during GC`);
            const m = await httpsRequest(ep[h.name], "/v2/gc/live/manifests/1", {
                auth,
                accept: "application/vnd.oci.image.manifest.v1+json",
            });
            assert.equal(m.status, 200);
        }
        // The deleted image's layer is gone from the bucket and from every cache: a re-push uploads it again.
        const repush = await client.must(["push", `${shared}/gc/drop:1`]);
        assert.doesNotMatch(repush, /Layer already exists/, `the re-push uploaded the collected layer:\n${repush}`);
        for (const h of hosts) {
            const ref = `${fqdn(h.name)}:${h.port}/gc/drop:1`;
            await client.exec(["image", "rm", ref]);
            await client.must(["pull", ref]);
            assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), dropId);
        }
    });

    test("4. host a stopped mid-way: pushes and pulls through the load balancer go on via b, with the client's retries, nothing lost", async () => {
        const repo = "failover/app:1";
        const viaLb = `${shared}/${repo}`;
        const id = await client.makeLayeredImage(viaLb, [32 * 1024 * 1024, 32 * 1024 * 1024, 32 * 1024 * 1024]);
        local.push(viaLb);
        const upstream = (node: string) => `${m.address}:${hosts.find((h) => h.name === node)!.port}`;
        /** The load balancer's lines for this push: [seconds, method, status, upstreams]. */
        const pushLines = async () =>
            (await lb.log())
                .split("\n")
                .map((l) => l.split(" "))
                .filter((f) => f[3]?.startsWith("/v2/failover/app/"))
                .map((f) => ({ at: Number(f[0]), method: f[2], status: f[4], upstreams: f.slice(5).join(" ") }));
        const push = client.exec(["push", viaLb]);
        // Mid-way: once an upload of this push has begun on a.
        for (let i = 0; i < 200 && !(await pushLines()).some((l) => l.method === "POST" && l.upstreams.startsWith(upstream("a"))); i++)
            await sleep(25);
        // At once, and for good (a killed container would be restarted by its policy).
        await docker(["stop", "--time", "0", `${prefix("a")}-nginx`]);
        const stoppedAt = Date.now() / 1000;
        let result = await push;
        console.log(`# first push with a stopped mid-way: exit ${result.code}${result.code ? `: ${result.stderr.trim()}` : ""}`);
        // The client's retries: docker retries layers itself; a push cut at the manifest is run again.
        for (let i = 0; i < 3 && result.code !== 0; i++) result = await client.exec(["push", viaLb]);
        assert.equal(result.code, 0, result.stderr);
        const lines = await pushLines();
        assert.ok(
            lines.some((l) => l.at < stoppedAt && l.upstreams.startsWith(upstream("a"))),
            "a took part in the push before it stopped",
        );
        assert.ok(
            lines.some((l) => l.at > stoppedAt && l.upstreams.endsWith(`${upstream("b")} 201`)),
            "b finished it (an upload or the manifest: 201)",
        );
        await client.must(["image", "rm", viaLb]);
        await client.must(["pull", viaLb]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", viaLb]), id, "pulled back whole via b");
        const refB = `${m.own("b")}/${repo}`;
        local.push(refB);
        await client.must(["pull", refB]);
        // Back: a serves again, with what was pushed while it was away.
        await docker(["start", `${prefix("a")}-nginx`]);
        for (let i = 0; i < 60; i++) {
            const r = await httpsRequest(ep.a, "/v2/", {}).catch(() => undefined);
            if (r?.status === 401) break;
            await sleep(500);
        }
        const refA = `${m.own("a")}/${repo}`;
        local.push(refA);
        await client.must(["pull", refA]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", refA]), id);
    });

    test("5. a rolling replacement of both hosts' registries: a request loop through the load balancer sees no failure", async () => {
        const before = await Promise.all(hosts.map((h) => docker(["inspect", "--format", "{{.Id}}", `${prefix(h.name)}-registry`])));
        // A new registry image (the same software, a new id, as a new tag upstream would bring):
        // the GC schedule no longer replaces a registry, an image does.
        const registryImage = await newImageId(m.bed.images.REGISTRY_IMAGE, `registry-${m.label}`);
        local.push(registryImage);
        m.kept = { ...m.kept, registryImage };
        const { load, result } = await requestsDuring(ep.lb, ALICE, () => bed.up(config()), {
            maxRequests: 20_000,
            maxMs: 600_000,
            tailMs: 2000,
        });
        const after = await Promise.all(hosts.map((h) => docker(["inspect", "--format", "{{.Id}}", `${prefix(h.name)}-registry`])));
        const counts = new Map<string, number>();
        for (const f of load.failed) counts.set(f, (counts.get(f) ?? 0) + 1);
        const failures = [...counts].map(([f, n]) => `${n} × ${f}`);
        console.log(`# rolling replacement: ${load.served} requests served, ${load.failed.length} failed (${failures.join("; ")})`);
        if (load.failed.length) {
            const odd = (await lb.log()).split("\n").filter((l) => /\/v2\/ (?!200)\d{3}/.test(l));
            console.log(`# load balancer, requests not answered 200:\n# ${odd.slice(-20).join("\n# ")}`);
        }
        assert.ok(
            before.every((id, i) => id !== after[i]),
            "both registries were replaced",
        );
        const order = result.steps.map((s) => `${s.op} ${s.name}`);
        const first = (name: string) =>
            order.findIndex((s) => new RegExp(`^(replace|create-replacement|delete-replaced) ${name}$`).test(s));
        const readyA = first("registry-a-ready");
        const registryB = first("registry-b-registry");
        assert.ok(readyA >= 0 && registryB > readyA, `b's registry waits for a to serve again: ${order.join(", ")}`);
        assert.deepEqual(load.failed, [], "no request failed");
        assert.ok(load.served > 50, `requests ran through the update (${load.served})`);
    });

    test("5b. removed by hand on both hosts (a's GC coordinator and Redis; b's nginx and certbot with its certificates and nginx config volumes): one `pulumi up --refresh` brings each back, serving and coordinating GC", async () => {
        await docker([
            "rm",
            "--force",
            `${prefix("a")}-gc-coordinator`,
            `${prefix("a")}-redis`,
            `${prefix("b")}-nginx`,
            `${prefix("b")}-certbot`,
        ]);
        await docker(["volume", "rm", `${prefix("b")}-certs`, `${prefix("b")}-nginx-conf`]);
        await bed.up(config(), { refresh: true });
        for (const name of ["registry-a-gc-coordinator", "registry-a-redis", "registry-b-nginx", "registry-b-certbot"]) {
            assert.ok(
                bed.actions.includes(`create docker:index/container:Container ${name}`),
                `${name} re-created: ${bed.actions.join(", ")}`,
            );
        }
        for (const name of ["registry-b-certs", "registry-b-nginx-conf"]) {
            assert.ok(bed.actions.includes(`create docker:index/volume:Volume ${name}`), `${name} re-created`);
        }
        await pushAndPullEverywhere("converge/app:1", [256 * 1024]);
        assert.match(await gcAskedOn("b"), /GC b-\w+ collected; \d+ blob descriptor cache keys deleted; writes resume/);
    });

    test("6. an external Redis over TLS: a wrong password, or an unreachable one, fails pulumi up with the reason and no secret; with the right one it coordinates GC", async () => {
        const externalPassword = `ext-${randomBytes(12).toString("hex")}`;
        const wrong = `wrong-${randomBytes(12).toString("hex")}`;
        const redis = `bed-${m.label}-external-redis`;
        // The test's own Redis, as a team's would be: TLS only (a certificate from a private CA
        // for its address), a password, its config in a file it mounts.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-redis-"));
        const ca = makeCa("registry-bed Redis CA", fs.mkdtempSync(path.join(dir, "ca-")));
        const server = ca.issue("redis", `IP:${m.address}`);
        fs.copyFileSync(server.cert, path.join(dir, "server.crt"));
        fs.copyFileSync(server.key, path.join(dir, "server.key"));
        fs.writeFileSync(
            path.join(dir, "redis.conf"),
            [
                "bind * -::*",
                "protected-mode no",
                "port 0",
                "tls-port 6379",
                "tls-cert-file /etc/bed-redis/server.crt",
                "tls-key-file /etc/bed-redis/server.key",
                "tls-auth-clients no",
                `requirepass ${externalPassword}`,
                "maxmemory-policy allkeys-lru",
                'save ""',
                "",
            ].join("\n"),
        );
        // Readable by the redis user the container runs as.
        fs.chmodSync(dir, 0o755);
        for (const f of ["redis.conf", "server.crt", "server.key"]) fs.chmodSync(path.join(dir, f), 0o644);
        const redisLabel = `${BED_LABEL}=${m.label}`;
        await docker([
            "run",
            "--detach",
            "--name",
            redis,
            "--label",
            redisLabel,
            "--publish",
            `${m.address}:${m.redisPorts.external}:6379`,
            "--user",
            "redis",
            "--volume",
            `${dir}:/etc/bed-redis:ro`,
            bed.images.REDIS_IMAGE,
            "redis-server",
            "/etc/bed-redis/redis.conf",
        ]);
        tempDirs.push(dir);
        const answers = async () =>
            (await run("docker", ["exec", redis, "redis-cli", "--tls", "--insecure", "PING"])).stdout.includes("NOAUTH");
        for (let i = 0; i < 50 && !(await answers()); i++) await sleep(100);
        assert.ok(await answers(), "the test's Redis is up");
        const external = (password: string, port = m.redisPorts.external) => ({
            address: `${m.address}:${port}`,
            password,
            tls: true,
            caCertificate: ca.pem,
        });
        await assert.rejects(bed.up(config(external(wrong))), (e: Error) => {
            assert.ok(e instanceof DeployError);
            assert.match(e.message, /redis: cannot use Redis at [\d.]+:\d+: WRONGPASS/);
            for (const secret of [wrong, externalPassword, REDIS_PASSWORD])
                assert.ok(!e.message.includes(secret), "no secret in the error");
            return true;
        });
        await assert.rejects(bed.up(config(external(externalPassword, m.redisPorts.closed))), (e: Error) => {
            assert.match(e.message, /redis: cannot use Redis at [\d.]+:\d+: .*(refused|Connection)/i);
            assert.ok(!e.message.includes(externalPassword));
            return true;
        });
        await bed.up(config(external(externalPassword)));
        const coordinator = await gcAskedOn("a");
        const started = (await run("docker", ["logs", `${prefix("a")}-gc-coordinator`])).stderr;
        assert.match(
            started,
            new RegExp(`coordinating with a, b through Redis at ${m.address.replace(/\./g, "\\.")}:${m.redisPorts.external}`),
        );
        assert.match(coordinator, /leading GC a-\w+: every host goes read-only/);
        assert.match(coordinator, /every host is read-only \(a, b\): collecting here/);
        assert.match(coordinator, /writes resume/);
        await pushAndPullEverywhere("external/app:1", [256 * 1024]);
        // The registries cache in it, over TLS (it has no other port).
        const cached = await docker(
            ["exec", "-i", redis, "sh", "-c", 'REDISCLI_AUTH=$(cat) redis-cli --tls --insecure --scan --pattern "blobs::*"'],
            { input: externalPassword },
        );
        assert.match(cached, /^blobs::sha256:[0-9a-f]{64}$/m, "the registries' blob descriptors are in the TLS Redis");
    });

    test("7. with Redis down, pushes and pulls go on (from storage); Redis back, GC works again", async () => {
        const redis = `bed-${m.label}-external-redis`;
        await docker(["stop", redis]);
        try {
            await pushAndPullEverywhere("noredis/app:1", [512 * 1024, 256 * 1024]);
        } finally {
            await docker(["start", redis]);
        }
        const coordinator = await gcAskedOn("b");
        assert.match(coordinator, /GC b-\w+ collected; \d+ blob descriptor cache keys deleted; writes resume/);
    });

    test("8. behind the trusted load balancer, a wrong-password flood from four addresses gets 429 while a fifth address's new credentials get 200 throughout; behind one the stack does not trust, the flood shuts that address out too", async () => {
        const [honest, ...flooders] = await sourceAddresses(62, 5);
        /** GET /v2/ through `e` from the honest address as `user`, every 250 ms until `deadline`; each user in turn for `each` ms. */
        const logins = async (e: Endpoint, users: typeof FRESH, startAt: number, each: number, deadline: number) => {
            await sleep(startAt - Date.now());
            const replies: { user: string; status: number }[] = [];
            for (const user of users) {
                const until = Math.min(deadline, Date.now() + each);
                while (Date.now() < until) {
                    const reply = await httpsRequest(e, "/v2/", {
                        auth: basic(user.name, user.password),
                        localAddress: honest,
                        timeoutMs: 30_000,
                    });
                    replies.push({ user: user.name, status: reply.status });
                    await sleep(250);
                }
            }
            return replies;
        };
        const since = new Date(Date.now() - 1000).toISOString();

        // Through the balancer the stack trusts: each client is itself.
        const t0 = Date.now();
        // Bounded by time: 429s come fast, and the flood goes on past the last login.
        const bounds = { perSource: 5000, concurrency: 4, deadline: t0 + 15_000 };
        const [flooded, logged] = await Promise.all([
            wrongPasswordFlood(ep.lb, ALICE.name, flooders, bounds),
            // From 1.5 s on, when every flooder is limited: four users, each new, 3 s each.
            logins(ep.lb, FRESH.slice(0, 4), t0 + 1500, 3000, bounds.deadline),
        ]);
        console.log(`# behind the trusted balancer, ${honest} with new credentials: ${JSON.stringify(statusCounts(logged))}`);
        for (const [from, replies] of flooded.replies) {
            const statuses = statusCounts(replies);
            console.log(`# flood from ${from} through the balancer: ${JSON.stringify(statuses)}`);
            assert.deepEqual(
                Object.keys(statuses).filter((x) => x !== "401" && x !== "429"),
                [],
                `${from}: only 401 and 429`,
            );
            assert.ok((statuses[429] ?? 0) > 0, `${from} was limited`);
            // Each host counts on its own: at most the limit answered 401 by each.
            assert.ok((statuses[401] ?? 0) <= AUTH_FAILURE_LIMIT * hosts.length, `${from}: ${statuses[401]} failures answered`);
        }
        assert.ok(flooded.seconds < AUTH_FAILURE_WINDOW_SECONDS, `the flood took ${flooded.seconds} s`);
        assert.deepEqual(
            [...new Set(logged.map((r) => r.user))],
            FRESH.slice(0, 4).map((u) => u.name),
            "every new user logged in during the flood",
        );
        assert.deepEqual(
            logged.filter((r) => r.status !== 200),
            [],
            "every login of the fifth address succeeded",
        );
        // The hosts saw (and logged) the clients, not the balancer.
        for (const h of hosts) {
            const log = await logs(`${prefix(h.name)}-nginx`, since);
            const clients = new Set(
                log
                    .split("\n")
                    .filter((l) => / "GET \/v2\/ HTTP\/1\.1" (200|401|429) /.test(l))
                    .map((l) => l.split(" ")[0]),
            );
            assert.deepEqual([...clients].sort(), [honest, ...flooders].sort(), `the clients host ${h.name} logged`);
        }

        // Through the balancer it does not trust (in front of host a): every client is the balancer.
        const t1 = Date.now();
        const untrusted = { perSource: 5000, concurrency: 4, deadline: t1 + 8000 };
        const [, shut] = await Promise.all([
            wrongPasswordFlood(ep["lb-one"], ALICE.name, flooders, untrusted),
            logins(ep["lb-one"], FRESH.slice(4, 5), t1 + 1500, 6500, untrusted.deadline),
        ]);
        console.log(`# behind the untrusted balancer, ${honest} with new credentials: ${JSON.stringify(statusCounts(shut))}`);
        assert.ok(shut.length > 0);
        assert.deepEqual(
            shut.filter((r) => r.status !== 429),
            [],
            "the flood's limit is the balancer's, the fifth address's too",
        );
    });

    test("9. metrics on both hosts: each endpoint on its host's own port; each host's S3 helper lists the shared bucket, and both serve what it holds", async () => {
        const [portA, portB] = m.bed.ports.spare.slice(8);
        const config = m.config(undefined, { metrics: { enabled: true, port: portA } });
        config.hosts = (config.hosts as Record<string, unknown>[]).map((h) => (h.name === "b" ? { ...h, metricsPort: portB } : h));
        await m.bed.up(config);
        const inBucket = m.s3
            .keys(MULTI_HOST_BUCKET, "docker/registry/v2/blobs")
            .filter((k) => k.endsWith("/data"))
            .reduce((n, k) => n + fs.statSync(path.join(m.s3.dataDir, MULTI_HOST_BUCKET, k)).size, 0);
        assert.ok(inBucket > 0, "the tests before stored blobs");
        for (const [host, port] of [
            ["a", portA],
            ["b", portB],
        ] as const) {
            let s = new Map<string, number>();
            for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(1000)) {
                s = samples(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
                if (s.get("registry_storage_s3_blobs_bytes") === inBucket) break;
            }
            assert.equal(s.get("registry_storage_s3_blobs_bytes"), inBucket, `host ${host} (port ${port}) serves the bucket's bytes`);
            assert.equal(s.get("registry_storage_s3_listing_success"), 1, `host ${host}`);
        }
    });
});
