// S3 storage, live: the stack's registry keeps its blobs in a bucket of a real
// S3-compatible server (versitygw, test/live/s3server.ts), reached over HTTPS (a private CA)
// with keys that stay secret. Push, pull and safe garbage collection run against the bucket,
// and a wrong key or an untrusted certificate fails the deploy with the storage's own error.
// Tag retention reads the tags' push times from their link objects' LastModified (versitygw's
// posix backend reports the backing file's mtime, which the test sets) and deletes in the bucket.
// With metrics on, the S3 helper's listing of the blobs is served, equal to what the bucket
// holds, and a GC's freed bytes are the deleted blobs' own.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Bed, BED_SLOTS, DeployError } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest } from "./client";
import { Engine } from "./engine";
import { docker, run } from "./proc";
import { garbageCollection, logShows, supervisorReady } from "./gc";
import { REGISTRY_CONTROL_DIR } from "../../configs/registry";
import { RETENTION_REPORT } from "../../configs/retention";
import { samples } from "./prometheus";
import { S3Server } from "./s3server";

const LABEL = `s3-${randomBytes(3).toString("hex")}`;
const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
const BUCKET = "registry-bed";
const ROOT = "team/registry";
const BLOBS = `${ROOT}/docker/registry/v2/blobs`;

describe("live: S3 storage on a real S3-compatible server", { timeout: 600_000 }, () => {
    const s3 = new S3Server();
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.s3);
    const client = new DockerClient();
    const prefix = bed.prefix;
    const images: string[] = [];
    let ep: Endpoint;
    let host = "";
    let outputs: Record<string, { value: unknown; secret: boolean }> = {};
    const storage = (o: { secretKey?: string; redirect?: boolean; ca?: boolean; bucket?: string }) => ({
        driver: "s3",
        bucket: o.bucket ?? BUCKET,
        endpoint: s3.endpoint,
        rootDirectory: ROOT,
        accessKey: s3.accessKey,
        secretKey: o.secretKey ?? s3.secretKey,
        redirect: o.redirect ?? false,
        ...(o.ca === false ? {} : { caCertificate: s3.caPem }),
    });
    const config = (o: Parameters<typeof storage>[0] = {}, more: Record<string, unknown> = {}) =>
        bed.config({ users: { alice: { access: "push", password: ALICE.password } }, storage: storage(o), ...more });

    before(async () => {
        await s3.start();
        s3.createBucket(BUCKET);
        const up = await bed.up(config());
        assert.match(s3.endpoint, /^https:/);
        outputs = up.outputs;
        host = outputs.host.value as string;
        ep = await bed.endpoint(outputs.caRoot.value as string);
        await bed.addHostsEntry();
        bed.trustRoot(host, ep.ca);
        const login = await client.login(host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await engine.close();
        await s3.stop();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
    });

    test("push and pull through the bucket; the keys are in no config file, environment, argument or output", async () => {
        const ref = `${host}/s3/hello:1`;
        images.push(ref);
        const id = await client.makeImage(ref, 2 * 1024 * 1024);
        await client.must(["push", ref]);
        await client.must(["image", "rm", ref]);
        await client.must(["pull", ref]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), id);

        const blobs = s3.keys(BUCKET, BLOBS);
        assert.ok(
            blobs.some((k) => k.endsWith("/data")),
            `blobs are objects in the bucket under the root directory: ${blobs.join(", ")}`,
        );
        assert.ok(s3.storedKiB(BUCKET, BLOBS) >= 2000, "the 2 MiB layer is in the bucket");
        const local = await run("docker", ["exec", `${prefix}-registry`, "ls", "-A", "/var/lib/registry"]);
        assert.equal(local.stdout.trim(), "", "nothing is stored in the (unused) data volume");
        const mounts = await docker(["inspect", "--format", "{{range .Mounts}}{{.Type}}:{{.Name}} {{end}}", `${prefix}-registry`]);
        assert.deepEqual(
            mounts.split(" ").sort(),
            [`volume:${prefix}-data`, `volume:${prefix}-registry-control`, `volume:${prefix}-registry-socket`],
            "no anonymous volume",
        );

        const secrets = [s3.accessKey, s3.secretKey];
        const inspect = await docker(["inspect", `${prefix}-registry`]);
        const configYml = await docker([
            "exec",
            `${prefix}-registry`,
            "cat",
            "/etc/distribution/config.yml",
            "/etc/distribution/config-readonly.yml",
        ]);
        const ps = await docker(["exec", `${prefix}-registry`, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
        for (const [what, text] of [
            ["docker inspect (env, command)", inspect],
            ["config.yml", configYml],
            ["process arguments", ps],
        ] as const) {
            for (const key of secrets) assert.ok(!text.includes(key), `an S3 key is visible in ${what}`);
        }
        assert.match(configYml, new RegExp(`regionendpoint: ${s3.endpoint}\\n`));
        assert.equal(await docker(["exec", `${prefix}-registry`, "stat", "-c", "%a %U", "/etc/distribution/s3-keys"]), "400 root");
        for (const [name, out] of Object.entries(outputs)) {
            if (out.secret) continue;
            for (const key of secrets) assert.ok(!JSON.stringify(out.value).includes(key), `output ${name} shows an S3 key`);
        }
        assert.ok(bed.actions.includes("create command:local:Command registry-storage-check"), "the deploy checked the storage");
    });

    test("garbage collection on S3: blobs are reclaimed from the bucket, writes wait, reads and uploads go on", async () => {
        images.push(
            ...(await garbageCollection({
                client,
                ep,
                host,
                user: ALICE,
                prefix,
                namespace: "s3gc",
                storedKiB: async () => s3.storedKiB(BUCKET, BLOBS),
            })),
        );
    });

    test("an untrusted certificate, a missing bucket or a wrong key fails the deploy with the storage's error (never the key); the fix recovers every image", async () => {
        const failure = (o: Parameters<typeof storage>[0]) =>
            bed.up(config(o)).then(
                () => assert.fail(`a deploy with a broken storage (${Object.keys(o).join(", ")}) succeeded`),
                (e: unknown) => {
                    assert.ok(e instanceof DeployError, String(e));
                    return e.message;
                },
            );
        assert.match(
            await failure({ ca: false }),
            /the registry cannot use its S3 storage: .*x509: certificate signed by unknown authority/,
        );
        assert.match(
            await failure({ bucket: "registry-bed-missing" }),
            /the registry cannot use its S3 storage: HTTP 500: s3aws: NoSuchBucket/,
        );

        const wrong = `${randomBytes(24).toString("base64")}-wrong`;
        const message = await failure({ secretKey: wrong });
        assert.match(message, /registry-storage-check .*the registry cannot use its S3 storage: HTTP 500: s3aws: SignatureDoesNotMatch/);
        for (const key of [wrong, s3.secretKey, s3.accessKey]) assert.ok(!message.includes(key), "the error shows no key");
        assert.ok(!bed.actions.some((a) => a.includes("htpasswd")), "no credentials were rewritten by the failed run");

        await bed.up(config());
        // The new registry container gets its GC schedule and its storage checked again.
        assert.deepEqual(bed.actions.filter((a) => a.startsWith("replace")).sort(), [
            "replace command:local:Command registry-gc-schedule-install",
            "replace command:local:Command registry-storage-check",
            "replace docker:index/container:Container registry-registry",
        ]);
        for (const ref of [`${host}/s3/hello:1`, `${host}/s3gc/keep:1`]) {
            await client.must(["image", "rm", "--force", ref]);
            await client.must(["pull", ref]);
        }
    });

    test("redirect: blob downloads go straight to presigned bucket URLs, and the Docker client pulls through them", async () => {
        await bed.up(config({ redirect: true }));
        const auth = basic(ALICE.name, ALICE.password);
        const manifest = await httpsRequest(ep, "/v2/s3/hello/manifests/1", {
            auth,
            accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        });
        assert.equal(manifest.status, 200, manifest.body);
        const layer = (JSON.parse(manifest.body) as { layers: { digest: string }[] }).layers[0].digest;
        const blob = await httpsRequest(ep, `/v2/s3/hello/blobs/${layer}`, { auth });
        assert.equal(blob.status, 307, "a redirect instead of the bytes");
        const location = new URL(String(blob.headers.location));
        assert.equal(location.origin, s3.endpoint);
        assert.ok(location.pathname.startsWith(`/${BUCKET}/${BLOBS}/sha256/`), location.pathname);
        assert.ok(location.searchParams.has("X-Amz-Signature"), "presigned");
        // With redirect, clients fetch from the storage: they must trust its certificate too.
        bed.trustRoot(host, `${ep.ca}${s3.caPem}`);
        const ref = `${host}/s3/hello:1`;
        const id = await client.must(["image", "inspect", "--format", "{{.Id}}", ref]);
        await client.must(["image", "rm", ref]);
        await client.must(["pull", ref]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), id);
        const logs = await run("docker", ["logs", "--since", "1m", `${prefix}-registry`]);
        const redirected = `${logs.stdout}${logs.stderr}`
            .split("\n")
            .filter(
                (l) =>
                    l.includes("http.request.method=GET") &&
                    l.includes(`/blobs/${layer}`) &&
                    l.includes("http.response.status=307") &&
                    l.includes('useragent="docker/'),
            );
        assert.ok(redirected.length >= 1, "the Docker client's layer download was redirected to the bucket");
    });

    test("the data volume (unused with S3) and the registry removed by hand come back with `pulumi up --refresh`; every image is still in the bucket, no data is reported lost", async () => {
        const c = config({ redirect: true });
        await bed.up(c);
        const ref = `${host}/s3/converge:1`;
        images.push(ref);
        const id = await client.makeImage(ref, 512 * 1024);
        await client.must(["push", ref]);
        await docker(["rm", "--force", `${prefix}-registry`]);
        await docker(["volume", "rm", `${prefix}-data`]);
        const healed = await bed.up(c, { refresh: true });
        assert.ok(bed.actions.includes("create docker:index/volume:Volume registry-data"), bed.actions.join("\n"));
        assert.ok(bed.actions.includes("create docker:index/container:Container registry-registry"), bed.actions.join("\n"));
        assert.doesNotMatch(healed.stdout, /data volume was lost/, "with S3 the data is in the bucket");
        await client.must(["image", "rm", ref]);
        await client.must(["pull", ref]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), id);
    });

    test("retention on S3: push times from LastModified; a dry run deletes nothing and reports; then exactly the right tags go; the helper comes back with `pulumi up --refresh`", async () => {
        const DAY = 86400;
        const helper = `${prefix}-s3-helper`;
        const registry = `${prefix}-registry`;
        const auth = basic(ALICE.name, ALICE.password);
        const retention = (dryRun: boolean) =>
            config({}, { retention: [{ repositories: "ret/**", keepLast: 2, keepTags: "release-.*" }], retentionDryRun: dryRun });
        /** repo → tag → age in days (the push time set on its link object). */
        const ages: Record<string, Record<string, number>> = {
            "ret/app": { t1: 5, t2: 4, t3: 3, t4: 2, t5: 1, "release-1": 10, latest: 10 },
            "ret/other": { old: 20, n1: 1, n2: 2 },
        };
        const everyTag = Object.entries(ages)
            .flatMap(([repo, tags]) => Object.keys(tags).map((t) => `${repo}:${t}`))
            .sort();
        const expectedGone = ["ret/app:t1", "ret/app:t2", "ret/app:t3", "ret/other:old"];
        const allTags = async () => {
            const out: string[] = [];
            for (const repo of Object.keys(ages)) {
                const r = await httpsRequest(ep, `/v2/${repo}/tags/list`, { auth });
                assert.equal(r.status, 200, r.body);
                for (const t of (JSON.parse(r.body) as { tags: string[] | null }).tags ?? []) out.push(`${repo}:${t}`);
            }
            return out.sort();
        };
        const gc = async (pattern: RegExp) => {
            const since = new Date(Date.now() - 1000).toISOString();
            await supervisorReady(registry);
            const t0 = Date.now();
            await docker(["kill", "--signal", "USR1", registry]);
            const { log } = await logShows(registry, since, /registry-gc: ended: writes resumed/, 180_000);
            const text = log.map((l) => l.text).join("\n");
            console.log(`S3 retention: GC window ${Date.now() - t0} ms (from USR1 to the log line)`);
            assert.match(text, pattern);
            return text;
        };

        await bed.up(retention(true));
        assert.ok(bed.actions.includes("create docker:index/container:Container registry-s3-helper"), bed.actions.join("\n"));
        assert.equal(await docker(["exec", helper, "stat", "-c", "%a %U", "/etc/distribution/s3-keys"]), "400 root");
        for (const [repo, tags] of Object.entries(ages)) {
            const ref = `${host}/${repo}`;
            await client.makeImage(`${ref}:${Object.keys(tags)[0]}`, 64 * 1024);
            for (const tag of Object.keys(tags)) {
                images.push(`${ref}:${tag}`);
                await client.must(["tag", `${ref}:${Object.keys(tags)[0]}`, `${ref}:${tag}`]);
                await client.must(["push", `${ref}:${tag}`]);
            }
        }
        const setPushTimes = () => {
            const now = Math.floor(Date.now() / 1000);
            for (const [repo, tags] of Object.entries(ages))
                for (const [tag, days] of Object.entries(tags)) {
                    const link = path.join(
                        s3.dataDir,
                        BUCKET,
                        ROOT,
                        "docker/registry/v2/repositories",
                        repo,
                        "_manifests/tags",
                        tag,
                        "current/link",
                    );
                    fs.utimesSync(link, now - days * DAY, now - days * DAY);
                }
        };
        setPushTimes();
        const tagKeys = () =>
            s3
                .keys(BUCKET, `${ROOT}/docker/registry/v2/repositories/ret`)
                .filter((k) => k.includes("/_manifests/tags/"))
                .sort();
        const keysBefore = tagKeys();
        assert.deepEqual(await allTags(), everyTag);

        // The repositories of the tests before (s3/...) are covered by no rule: every tag there stays.
        const dry = await gc(/registry-gc: retention \(dry run, nothing deleted\): \d+ tags in \d+ repositories: \d+ kept, 4 to delete/);
        assert.deepEqual(await allTags(), everyTag, "a dry run deletes nothing");
        assert.deepEqual(tagKeys(), keysBefore, "a dry run deletes no object");
        const report = await docker(["exec", registry, "cat", `${REGISTRY_CONTROL_DIR}/${RETENTION_REPORT}`]);
        const listed = report
            .split("\n")
            .filter((l) => l.startsWith("would delete "))
            .map((l) => l.split(" ")[2])
            .sort();
        assert.deepEqual(listed, expectedGone, report);
        // The push times are the objects' LastModified, i.e. the ages set on the backing files.
        assert.match(
            report,
            /^would delete ret\/app:t1 \(pushed 5d0h ago, sha256:[0-9a-f]{64}\): rule 1 \(ret\/\*\*\), not matching keepTags release-\.\*, not among the 2 newest \(number 5\)/m,
        );
        assert.match(report, /^would delete ret\/other:old \(pushed 20d0h ago, /m);
        assert.match(dry, /S3 helper: list ok: \d+ tags listed/);

        // retentionDryRun false reaches the running registry: no container replaced.
        await bed.up(retention(false));
        assert.deepEqual(
            bed.actions.filter((a) => !a.startsWith("same ")),
            ["update command:local:Command registry-gc-schedule-install"],
            bed.actions.join("\n"),
        );
        setPushTimes();
        const applied = await gc(/registry-gc: retention \(applied\): \d+ tags in \d+ repositories: \d+ kept, 4 to delete/);
        assert.match(applied, /S3 helper: delete ok: \d+ objects of 4 tags deleted/);
        const at = (re: RegExp) => applied.search(re);
        assert.ok(
            at(/writer stopped/) < at(/retention \(applied\)/) && at(/retention \(applied\)/) < at(/garbage-collect finished/),
            applied,
        );
        assert.deepEqual(
            await allTags(),
            everyTag.filter((t) => !expectedGone.includes(t)),
            "exactly the right tags remain",
        );
        for (const t of expectedGone) {
            const [repo, tag] = t.split(":");
            assert.ok(!tagKeys().some((k) => k.includes(`/${repo}/_manifests/tags/${tag}/`)), `no object of ${t} is left in the bucket`);
        }
        await client.must(["image", "rm", `${host}/ret/app:t4`]);
        await client.must(["pull", `${host}/ret/app:t4`]);

        // The helper removed by hand comes back with `pulumi up --refresh`.
        await docker(["rm", "--force", helper]);
        await bed.up(retention(false), { refresh: true });
        assert.ok(bed.actions.includes("create docker:index/container:Container registry-s3-helper"), bed.actions.join("\n"));
        assert.equal(await docker(["inspect", "--format", "{{.State.Running}}", helper]), "true");
    });

    test("metrics on S3: the helper lists the bucket's blobs (their bytes equal the bucket's), a GC's freed bytes come from its listing in the GC window, and the storage used drops after it", async () => {
        const port = bed.ports.spare[0];
        const auth = basic(ALICE.name, ALICE.password);
        const registry = `${prefix}-registry`;
        await bed.up(config({}, { metrics: { enabled: true, port } }));
        assert.ok(
            bed.actions.includes("replace docker:index/container:Container registry-s3-helper"),
            `now listing: ${bed.actions.join("\n")}`,
        );
        /** The blobs in the bucket, read from the S3 server's own files: digest → bytes. */
        const inBucket = () =>
            new Map(
                s3
                    .keys(BUCKET, BLOBS)
                    .filter((k) => k.endsWith("/data"))
                    .map((k) => [k.split("/").at(-2)!, fs.statSync(path.join(s3.dataDir, BUCKET, k)).size]),
            );
        const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
        const scrape = async () => samples(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        /** Scrapes until the listing's bytes equal `bytes`, up to 60 s. */
        const listed = async (bytes: number, what: string) => {
            let s = new Map<string, number>();
            for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 1000))) {
                s = await scrape();
                if (s.get("registry_storage_s3_blobs_bytes") === bytes) return s;
            }
            const log = await run("docker", ["logs", "--tail", "20", `${prefix}-s3-helper`]);
            assert.fail(
                `${what}: registry_storage_s3_blobs_bytes is ${s.get("registry_storage_s3_blobs_bytes")}, the bucket holds ${bytes}\n${log.stderr}`,
            );
        };

        // The listing at the helper's start: what the bucket holds, every blob of the tests before.
        const stored = inBucket();
        assert.ok(stored.size > 10, `blobs in the bucket: ${stored.size}`);
        const first = await listed(sum(stored), "the first listing");
        assert.equal(first.get("registry_storage_s3_blobs"), stored.size);
        assert.equal(first.get("registry_storage_s3_listing_success"), 1);
        assert.ok(first.get("registry_storage_s3_listing_requests")! >= 1, "its LIST requests");
        assert.ok(Math.abs(first.get("registry_storage_s3_listing_timestamp_seconds")! - Date.now() / 1000) < 120);

        // An image pushed, then its manifest deleted: the GC frees exactly its blobs' bytes.
        const ref = `${host}/s3metrics/drop:1`;
        images.push(ref);
        await client.makeImage(ref, 3 * 1024 * 1024);
        await client.must(["push", ref]);
        const pushed = inBucket();
        const manifest = await httpsRequest(ep, "/v2/s3metrics/drop/manifests/1", {
            auth,
            method: "HEAD",
            accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        });
        const digest = String(manifest.headers["docker-content-digest"]);
        assert.equal((await httpsRequest(ep, `/v2/s3metrics/drop/manifests/${digest}`, { auth, method: "DELETE" })).status, 202);
        const since = new Date(Date.now() - 1000).toISOString();
        await supervisorReady(registry);
        await docker(["kill", "--signal", "USR1", registry]);
        const { log } = await logShows(registry, since, /registry-gc: ended: writes resumed/, 180_000);
        const text = log.map((l) => l.text).join("\n");
        assert.match(text, /S3 helper: blobs ok: \d+ blobs, \d+ bytes, in \d+ LIST requests/);
        const at = (re: RegExp) => text.search(re);
        assert.ok(at(/writer stopped/) < at(/S3 helper: blobs ok/) && at(/S3 helper: blobs ok/) < at(/garbage-collect finished/), text);
        const collected = inBucket();
        const gone = [...pushed.keys()].filter((d) => !collected.has(d));
        assert.ok(gone.length >= 2, `the GC deleted the image's blobs: ${gone.join(", ")}`);
        const freedBytes = gone.reduce((n, d) => n + pushed.get(d)!, 0);
        assert.ok(freedBytes >= 3 * 1024 * 1024, `${freedBytes} bytes freed`);

        // The listing after the GC: the bucket's new total; the GC's result: the bytes it freed.
        const s = await listed(sum(collected), "the listing after the GC");
        assert.equal(s.get("registry_gc_last_success"), 1);
        assert.equal(s.get("registry_gc_last_deleted_blobs"), gone.length);
        assert.equal(s.get("registry_gc_last_freed_bytes"), freedBytes, "the bytes of exactly the blobs the GC deleted");
        assert.equal(s.get("registry_storage_s3_blobs"), collected.size);
    });
});
