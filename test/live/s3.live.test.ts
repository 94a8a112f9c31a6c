// S3 storage, live: the stack's registry keeps its blobs in a bucket of a real
// S3-compatible server (versitygw, test/live/s3server.ts), reached over HTTPS (a private CA)
// with keys that stay secret. Push, pull and safe garbage collection run against the bucket,
// and a wrong key or an untrusted certificate fails the deploy with the storage's own error.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Bed, BED_SLOTS, DeployError } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest } from "./client";
import { Engine } from "./engine";
import { docker, run } from "./proc";
import { garbageCollection } from "./gc";
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
    const config = (o: Parameters<typeof storage>[0] = {}) =>
        bed.config({ users: { alice: { access: "push", password: ALICE.password } }, storage: storage(o) });

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
});
