// Tag retention, live, on the real Pulumi engine: tags with set push times (their link files'
// mtimes) and rules that keep the 2 newest per repository and release-* forever. A dry run
// changes nothing and reports what it would delete; then exactly the right tags go, in the GC
// window (a push meanwhile gets 503, and succeeds after); two tags on one digest lose only the
// expired one and the image still pulls; latest, a sha256-….sig tag and a multi-arch index
// with its children stay; the following GC (gcDeleteUntagged) gives the space back.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as https from "node:https";
import { after, before, describe, test } from "node:test";
import { REGISTRY_CONTROL_DIR, REGISTRY_DATA_DIR } from "../../configs/registry";
import { RETENTION_REPORT } from "../../configs/retention";
import { Bed, BED_SLOTS } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest, Reply, slowPatch } from "./client";
import { Engine } from "./engine";
import { logShows, oneEvent, supervisorReady, within } from "./gc";
import { docker, run } from "./proc";

const LABEL = `ret-${randomBytes(3).toString("hex")}`;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DAY = 86400;
const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const REPOS = `${REGISTRY_DATA_DIR}/docker/registry/v2/repositories`;

/** A request with a body of the given type (httpsRequest sends octet-stream). */
function put(ep: Endpoint, urlPath: string, auth: string, body: Buffer, contentType: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: ep.address,
                port: ep.httpsPort,
                servername: ep.domain,
                path: urlPath,
                method: "PUT",
                ca: ep.ca,
                agent: false,
                headers: {
                    Host: `${ep.domain}:${ep.httpsPort}`,
                    Authorization: auth,
                    "Content-Type": contentType,
                    "Content-Length": String(body.length),
                },
                timeout: 30_000,
            },
            (res) => {
                let text = "";
                res.on("data", (d) => (text += d));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: text }));
            },
        );
        req.on("error", reject);
        req.end(body);
    });
}

describe("live: tag retention", { timeout: 1_200_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.retention);
    const client = new DockerClient();
    const prefix = bed.prefix;
    const registry = `${prefix}-registry`;
    const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
    const auth = basic(ALICE.name, ALICE.password);
    const rules = [{ repositories: "ret/**", keepLast: 2, keepTags: "release-.*" }];
    const config = (dryRun: boolean) =>
        bed.config({
            users: { alice: { access: "push", password: ALICE.password } },
            gcDeleteUntagged: true,
            retention: rules,
            retentionDryRun: dryRun,
        });
    let ep: Endpoint;
    const images: string[] = [];
    const SIG = `sha256-${"ab".repeat(32)}.sig`;
    /** repo → tag → age in days (the push time set on its link file). */
    const ages: Record<string, Record<string, number>> = {
        "ret/app": { t1: 5, t2: 4, t3: 3, t4: 2, t5: 1, "release-1": 10, latest: 10, [SIG]: 10 },
        "ret/shared": { old: 20, "release-2": 20, n1: 1, n2: 2 },
        "ret/multi": { "release-idx": 30, n1: 1, n2: 2, gone: 3 },
        "other/keep": { ancient: 400 },
    };
    const expectedGone = ["ret/app:t1", "ret/app:t2", "ret/app:t3", "ret/shared:old", "ret/multi:gone"];
    let indexChildren: string[] = [];

    /** Pushes a blob (monolithic upload); returns its digest. */
    const pushBlob = async (repo: string, body: Buffer): Promise<string> => {
        const digest = sha256(body);
        const started = await httpsRequest(ep, `/v2/${repo}/blobs/uploads/`, { auth, method: "POST" });
        assert.equal(started.status, 202, started.body);
        const location = new URL(String(started.headers.location), "https://registry");
        const sep = location.search ? "&" : "?";
        const r = await httpsRequest(ep, `${location.pathname}${location.search}${sep}digest=${digest}`, { auth, method: "PUT", body });
        assert.equal(r.status, 201, r.body);
        return digest;
    };
    /** Pushes a one-layer OCI image manifest (a `layerBytes` random layer) by `reference` (a tag, or "" for its digest); returns its digest and size. */
    const pushImage = async (repo: string, reference: string, layerBytes = 16 * 1024): Promise<{ digest: string; size: number }> => {
        const layer = randomBytes(layerBytes);
        const configBlob = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", nonce: randomBytes(8).toString("hex") }));
        const layerDigest = await pushBlob(repo, layer);
        const configDigest = await pushBlob(repo, configBlob);
        const manifest = Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: OCI_MANIFEST,
                config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: configBlob.length },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
            }),
        );
        const r = await put(ep, `/v2/${repo}/manifests/${reference || sha256(manifest)}`, auth, manifest, OCI_MANIFEST);
        assert.equal(r.status, 201, r.body);
        return { digest: sha256(manifest), size: manifest.length };
    };
    const tagsOf = async (repo: string): Promise<string[]> => {
        const r = await httpsRequest(ep, `/v2/${repo}/tags/list`, { auth });
        assert.equal(r.status, 200, r.body);
        return ((JSON.parse(r.body) as { tags: string[] | null }).tags ?? []).sort();
    };
    const allTags = async () => {
        const out: string[] = [];
        for (const repo of Object.keys(ages)) for (const t of await tagsOf(repo)) out.push(`${repo}:${t}`);
        return out.sort();
    };
    const setPushTimes = async () => {
        const now = Math.floor(Date.now() / 1000);
        const script = Object.entries(ages)
            .flatMap(([repo, tags]) =>
                Object.entries(tags).map(
                    ([tag, days]) => `touch -d @${now - days * DAY} ${REPOS}/${repo}/_manifests/tags/${tag}/current/link`,
                ),
            )
            .join(" && ");
        await docker(["exec", registry, "sh", "-c", script]);
    };
    const storedBytes = async () =>
        Number((await docker(["exec", registry, "du", "-sb", `${REGISTRY_DATA_DIR}/docker/registry/v2/blobs`])).split(/\s+/)[0]);
    const flagged = async () =>
        (await run("docker", ["exec", `${prefix}-nginx`, "test", "-f", "/etc/nginx/registry-control/gc-in-progress"])).code === 0;

    before(async () => {
        const deployed = await bed.up(config(true));
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(bed.host, ep.ca);
        const login = await client.login(bed.host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);

        // ret/app: five builds (1 MiB layers each, so that the deleted ones are measurable), a
        // release, latest and a signature tag.
        for (const t of ["t1", "t2", "t3", "t4", "t5", "release-1"]) await pushImage("ret/app", t, 1024 * 1024);
        await pushImage("ret/app", "latest");
        await pushImage("ret/app", SIG);
        // ret/shared: one image (Docker CLI) under two tags, one of them a release.
        const shared = `${bed.host}/ret/shared`;
        images.push(`${shared}:old`, `${shared}:release-2`);
        await client.makeImage(`${shared}:old`, 256 * 1024);
        await client.must(["tag", `${shared}:old`, `${shared}:release-2`]);
        await client.must(["push", `${shared}:old`]);
        await client.must(["push", `${shared}:release-2`]);
        for (const t of ["n1", "n2"]) await pushImage("ret/shared", t);
        // ret/multi: a multi-arch index (kept as a release) over two children pushed by digest.
        const children = [await pushImage("ret/multi", ""), await pushImage("ret/multi", "")];
        indexChildren = children.map((c) => c.digest);
        const index = Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: OCI_INDEX,
                manifests: children.map((c, i) => ({
                    mediaType: OCI_MANIFEST,
                    digest: c.digest,
                    size: c.size,
                    platform: { architecture: i === 0 ? "amd64" : "arm64", os: "linux" },
                })),
            }),
        );
        assert.equal((await put(ep, "/v2/ret/multi/manifests/release-idx", auth, index, OCI_INDEX)).status, 201);
        for (const t of ["n1", "n2", "gone"]) await pushImage("ret/multi", t);
        await pushImage("other/keep", "ancient");
        await setPushTimes();
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await engine.close();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
    });

    const everyTag = () =>
        Object.entries(ages)
            .flatMap(([repo, tags]) => Object.keys(tags).map((t) => `${repo}:${t}`))
            .sort();

    test("1. dry run: nothing changes; the log and the report list every tag it would delete, and why", async () => {
        assert.deepEqual(await allTags(), everyTag());
        const since = new Date(Date.now() - 1000).toISOString();
        await supervisorReady(registry);
        const t0 = Date.now();
        await docker(["kill", "--signal", "USR1", registry]);
        const { log } = await logShows(registry, since, /registry-gc: ended: writes resumed/, 120_000);
        console.log(`dry run: GC window ${Date.now() - t0} ms (from USR1 to the log line)`);
        assert.ok(
            log.some((l) =>
                /registry-gc: retention \(dry run, nothing deleted\): 17 tags in 4 repositories: 12 kept, 5 to delete/.test(l.text),
            ),
            log.map((l) => l.text).join("\n"),
        );
        for (const t of expectedGone)
            assert.ok(
                log.some((l) => l.text.startsWith(`registry-retention: would delete ${t} `)),
                `the log names ${t}`,
            );
        assert.deepEqual(await allTags(), everyTag(), "a dry run deletes nothing");
        const report = await docker(["exec", registry, "cat", `${REGISTRY_CONTROL_DIR}/${RETENTION_REPORT}`]);
        const listed = report
            .split("\n")
            .filter((l) => l.startsWith("would delete "))
            .map((l) => l.split(" ")[2])
            .sort();
        assert.deepEqual(listed, [...expectedGone].sort(), report);
        assert.match(report, /^would delete ret\/shared:old .*its manifest stays, tagged release-2$/m);
        assert.match(
            report,
            /^would delete ret\/app:t1 .*rule 1 \(ret\/\*\*\), not matching keepTags release-\.\*, not among the 2 newest/m,
        );
    });

    test("2. retentionDryRun false reaches the running registry: no container replaced", async () => {
        const before = await docker(["inspect", "--format", "{{.Id}}", registry]);
        await bed.up(config(false));
        assert.equal(await docker(["inspect", "--format", "{{.Id}}", registry]), before);
        assert.deepEqual(
            bed.actions.filter((a) => !a.startsWith("same ")),
            ["update command:local:Command registry-gc-schedule-install"],
            bed.actions.join("\n"),
        );
    });

    test("3. applied: exactly the right tags go, in the GC window (a push gets 503, then succeeds); the space comes back", async () => {
        await setPushTimes(); // (nothing pushed since; the deploy touched no tag)
        const bytesBefore = await storedBytes();
        const since = new Date(Date.now() - 1000).toISOString();
        await supervisorReady(registry);
        // An upload in flight holds the window open (the writer drains it) long enough to see a push refused.
        const started = await httpsRequest(ep, "/v2/ret/slow/blobs/uploads/", { auth, method: "POST" });
        assert.equal(started.status, 202);
        const passedOn = oneEvent();
        const inFlight = slowPatch(ep, String(started.headers.location), auth, 12, 64 * 1024, 250, passedOn.fire);
        inFlight.catch(() => undefined);
        await within(passedOn.happened, 30_000, "nginx passing the upload on to the registry");
        const t0 = Date.now();
        await docker(["kill", "--signal", "USR1", registry]);
        for (let i = 0; i < 50 && !(await flagged()); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(await flagged(), "GC flagged");
        const refused = await httpsRequest(ep, "/v2/ret/app/blobs/uploads/", { auth, method: "POST" });
        assert.equal(refused.status, 503, "a push during the run is refused");
        assert.equal(refused.headers["retry-after"], "30");
        assert.equal((await inFlight).status, 202);
        const { log } = await logShows(registry, since, /registry-gc: ended: writes resumed/, 120_000);
        console.log(`applied: GC window ${Date.now() - t0} ms (from USR1 to the log line)`);
        const text = log.map((l) => l.text).join("\n");
        assert.match(text, /registry-gc: retention \(applied\): 17 tags in 4 repositories: 12 kept, 5 to delete/);
        // Retention ran after the writer stopped and before the collection.
        const at = (re: RegExp) => log.findIndex((l) => re.test(l.text));
        assert.ok(at(/writer stopped/) < at(/retention \(applied\)/) && at(/retention \(applied\)/) < at(/garbage-collect finished/), text);

        const expected = everyTag().filter((t) => !expectedGone.includes(t));
        assert.deepEqual(await allTags(), expected, "exactly the right tags remain");
        // The push refused during the run succeeds now.
        await pushImage("ret/after", "1");

        // Two tags on one digest: the expired one went, the image pulls by the other.
        const shared = `${bed.host}/ret/shared`;
        await client.must(["image", "rm", `${shared}:old`, `${shared}:release-2`]);
        await client.must(["pull", `${shared}:release-2`]);
        const old = await httpsRequest(ep, "/v2/ret/shared/manifests/old", { auth, method: "HEAD", accept: OCI_MANIFEST });
        assert.equal(old.status, 404);

        // The index (kept) still resolves, and every child with it, after GC --delete-untagged.
        const idx = await httpsRequest(ep, "/v2/ret/multi/manifests/release-idx", { auth, accept: OCI_INDEX });
        assert.equal(idx.status, 200, idx.body);
        for (const d of indexChildren) {
            const child = await httpsRequest(ep, `/v2/ret/multi/manifests/${d}`, { auth, accept: OCI_MANIFEST });
            assert.equal(child.status, 200, `index child ${d}: ${child.body}`);
            const m = JSON.parse(child.body) as { layers: { digest: string }[] };
            const blob = await httpsRequest(ep, `/v2/ret/multi/blobs/${m.layers[0].digest}`, { auth, method: "HEAD" });
            assert.equal(blob.status, 200, `index child ${d}'s layer`);
        }
        // The signature tag and latest are there (checked above with every tag); the report says what went.
        const report = await docker(["exec", registry, "cat", `${REGISTRY_CONTROL_DIR}/${RETENTION_REPORT}`]);
        assert.match(report, /, applied\n/);
        assert.deepEqual(
            report
                .split("\n")
                .filter((l) => l.startsWith("deleting "))
                .map((l) => l.split(" ")[1])
                .sort(),
            [...expectedGone].sort(),
        );

        // The three 1 MiB layers of the deleted ret/app builds are gone from the storage.
        const bytesAfter = await storedBytes();
        console.log(`blobs: ${bytesBefore} bytes before, ${bytesAfter} after`);
        assert.ok(bytesBefore - bytesAfter >= 3 * 1024 * 1024, `space reclaimed: ${bytesBefore} -> ${bytesAfter}`);
    });
});
