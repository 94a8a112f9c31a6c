// Availability during config changes, live, on the real Pulumi engine: reads go on while
// `pulumi up` applies each kind of change to a single host. A paced loop of authenticated
// manifest GETs (fresh TLS connections, the certificate verified) runs through each deploy;
// a refused or reset connection, a timeout or a 5xx counts as a failed read. Changes that
// replace no container must fail none; for the two that must replace one (a new registry or
// nginx image) the test proves the replacement, reports what the reads saw (the numbers behind
// the README's "What a change costs in availability"), and proves that a slow pull in flight
// arrives whole.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Bed, BED_SLOTS } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest, peerCertificate, slowDownload } from "./client";
import { Engine } from "./engine";
import { docker, newImageId, run } from "./proc";
import { describeReads, dockerStops, MANIFEST_TYPES, READ_BOUNDS, ReadTarget, readOnce, Reads, readsDuring } from "./reads";

const LABEL = `avail-${randomBytes(3).toString("hex")}`;
const REPO = "avail/app";
const BIG_REPO = "avail/big";
/** A slow client's pull: more than the kernel's socket buffers hold, for about half a minute. */
const BIG_LAYER_BYTES = 32 * 1024 * 1024;
const PULL_BYTES_PER_SECOND = 1024 * 1024;
const CONTAINER = "docker:index/container:Container";
const SERVING = ["registry-nginx", "registry-registry", "registry-pebble-container"];

describe("live: reads during each kind of config change", { timeout: 1_800_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.availability);
    const client = new DockerClient();
    const secret = (user: string) => `${user}-${randomBytes(9).toString("hex")}`;
    // alice pushes the image; reader reads it through every change (no change touches reader).
    const alice = { name: "alice", password: secret("alice") };
    const reader = { name: "reader", password: secret("reader") };
    let config = bed.config({
        users: {
            alice: { access: "push", password: alice.password },
            reader: { access: "pull", password: reader.password },
            bob: { access: "pull", password: secret("bob") },
        },
    });
    let ep: Endpoint;
    let target: ReadTarget;
    let bigLayer: { digest: string };
    const images: string[] = [];

    /**
     * Which of the containers reads depend on the last deploy replaced: nginx and the registry
     * (a read passes through them), and Pebble (a new one has a new root, which the readers do
     * not trust). certbot may be replaced: no read touches it.
     */
    const replaced = () =>
        bed.steps.filter((s) => s.op === "replace" && s.type === CONTAINER && SERVING.includes(s.name)).map((s) => s.name);

    /** Applies `next` with `pulumi up` while reading; logs what the reads saw and what the engine did. */
    const change = async (what: string, next: Record<string, unknown>, names = [bed.domain]): Promise<Reads> => {
        const { reads } = await readsDuring({ ...target, names }, () => bed.up(next));
        config = next;
        const steps = bed.steps.filter((s) => s.op !== "read").map((s) => `${s.op} ${s.name}`);
        console.log(`availability: ${what}: ${describeReads(reads)}\n  engine: ${steps.join(", ") || "no change"}`);
        // Whatever happened during the deploy, the registry serves the next read.
        assert.equal(await readOnce({ ...target, names }), undefined, "reads are answered after the deploy");
        return reads;
    };

    /** An image as a new release of `image` would be: the same software under a new image id (one per `release`). */
    const newRelease = async (image: string, release: string) => {
        const ref = await newImageId(image, `${release}-${LABEL}`);
        images.push(ref);
        return ref;
    };

    /**
     * Replaces a container (a new image) while reading, twice: with nothing else in flight, and
     * while a slow pull is (BIG_LAYER_BYTES at PULL_BYTES_PER_SECOND: in flight from before the
     * deploy to well after the replacement). Returns how that pull ended.
     */
    const replacement = async (role: "registry" | "nginx", image: string): Promise<string | undefined> => {
        const key = role === "registry" ? "registryImage" : "nginxImage";
        const names = [bed.domain, config.domain as string];
        await change(`${role} image`, { ...config, [key]: await newRelease(image, `${role}-1`) }, names);
        assert.deepEqual(replaced(), [`registry-${role}`], bed.actions.join("\n"));

        // Settled, never rejected, until awaited below: the deploy it overlaps runs to its end either way.
        const pull = slowDownload(
            { ...ep, domain: config.domain as string },
            `/v2/${BIG_REPO}/blobs/${bigLayer.digest}`,
            target.auth,
            PULL_BYTES_PER_SECOND,
        ).catch((e: Error) => e);
        let pullEnded = Infinity;
        void pull.then(() => (pullEnded = performance.now()));
        const stop = dockerStops(`${bed.prefix}-${role}`, READ_BOUNDS.maxMs);
        await change(`${role} image, a pull in flight`, { ...config, [key]: await newRelease(image, `${role}-2`) }, names);
        assert.deepEqual(replaced(), [`registry-${role}`], bed.actions.join("\n"));
        const stoppedAt = await stop;
        assert.ok(stoppedAt !== undefined, `Docker stopped the old ${role} container`);
        const done = await pull;
        assert.ok(pullEnded > stoppedAt, "the pull was in flight when Docker stopped the old container");
        const outcome =
            done instanceof Error
                ? `cut: ${done.message}`
                : done.status !== 200 || `sha256:${done.sha256}` !== bigLayer.digest
                  ? `status ${done.status}, ${done.bytes} bytes`
                  : undefined;
        console.log(`availability: ${role} image: the pull in flight ${outcome ?? "arrived whole"}`);
        return outcome;
    };

    before(async () => {
        const deployed = await bed.up(config);
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(bed.host, ep.ca);
        const login = await client.login(bed.host, alice.name, alice.password);
        assert.equal(login.code, 0, login.stderr);
        const ref = `${bed.host}/${REPO}:1`;
        images.push(ref);
        await client.makeImage(ref, 64 * 1024);
        await client.must(["push", ref]);
        const auth = basic(reader.name, reader.password);
        const head = await httpsRequest(ep, `/v2/${REPO}/manifests/1`, { auth, method: "HEAD", accept: MANIFEST_TYPES });
        assert.equal(head.status, 200);
        const digest = String(head.headers["docker-content-digest"]);
        target = { ep, auth, path: `/v2/${REPO}/manifests/1`, digest, names: [bed.domain] };
        assert.equal(await readOnce(target), undefined, "the reader reads the image");
        // A layer big enough to be in flight for seconds at a slow client's pace.
        const big = `${bed.host}/${BIG_REPO}:1`;
        images.push(big);
        await client.makeImage(big, BIG_LAYER_BYTES);
        await client.must(["push", big]);
        const manifest = await httpsRequest(ep, `/v2/${BIG_REPO}/manifests/1`, { auth, accept: MANIFEST_TYPES });
        bigLayer = (JSON.parse(manifest.body) as { layers: { digest: string }[] }).layers[0];
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await engine.close();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
    });

    test("1. another user's password: the users are installed again with a reload, no read fails", async () => {
        const bob = { name: "bob", password: secret("bob") };
        const reads = await change("a password", {
            ...config,
            users: { ...(config.users as object), bob: { access: "pull", password: bob.password } },
        });
        assert.ok(bed.actions.includes("update command:local:Command registry-htpasswd-install"), bed.actions.join("\n"));
        assert.deepEqual(replaced(), []);
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(bob.name, bob.password) })).status, 200, "the new password works");
        assert.deepEqual(reads.failed, []);
    });

    test("2. a user added: no read fails", async () => {
        const carol = { name: "carol", password: secret("carol") };
        const users = { ...(config.users as object), carol: { access: "pull", password: carol.password } };
        const reads = await change("a user added", { ...config, users });
        assert.ok(bed.actions.includes("update command:local:Command registry-htpasswd-install"), bed.actions.join("\n"));
        assert.deepEqual(replaced(), []);
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(carol.name, carol.password) })).status, 200, "the new user gets in");
        assert.deepEqual(reads.failed, []);
    });

    test("3. gcIntervalHours: the registry reads its new schedule, replaced by nothing; no read fails", async () => {
        const reads = await change("gcIntervalHours", { ...config, gcIntervalHours: 24 });
        assert.deepEqual(replaced(), []);
        const schedule = await docker(["exec", `${bed.prefix}-registry`, "cat", "/var/lib/registry-control/gc-schedule"]);
        assert.equal(schedule, "86400 0", "the schedule the registry's supervisor reads");
        assert.deepEqual(reads.failed, []);
    });

    test("4. acmeKeyType: a new certificate and a reload, no read fails", async () => {
        const reads = await change("acmeKeyType", { ...config, acmeKeyType: "rsa" });
        assert.ok(bed.actions.includes("replace command:local:Command registry-tls-certonly"), bed.actions.join("\n"));
        assert.deepEqual(replaced(), []);
        const served = await peerCertificate(ep);
        assert.ok(served.modulus, "nginx serves an RSA certificate");
        assert.deepEqual(reads.failed, []);
    });

    test("5. domain: a new certificate for the new name (Pebble validates HTTP-01 through nginx), no read fails", async () => {
        const domain = `${LABEL}-new.registry.test`;
        const reads = await change("domain", { ...config, domain }, [bed.domain, domain]);
        assert.ok(bed.actions.includes("replace command:local:Command registry-tls-certonly"), bed.actions.join("\n"));
        assert.deepEqual(replaced(), []);
        assert.equal((await peerCertificate({ ...ep, domain })).subjectaltname, `DNS:${domain}`);
        assert.deepEqual(reads.failed, []);
    });

    // A new image is a new container. The registry has no port, but it has a fixed name: the old
    // one is deleted before the new one starts, and nginx answers 502 in between. While the old
    // one drains a pull in flight, reads go on through its read-only registry. What the reads
    // saw is reported, not asserted: it is the engine's and Docker's time to remove, create and
    // start a container.
    test("6. a new registry image: the registry is replaced; the reads it cost are reported; a pull in flight arrives whole", async () => {
        assert.equal(await replacement("registry", bed.images.REGISTRY_IMAGE), undefined);
    });

    // nginx publishes fixed ports: its new container can bind them only once the old one is gone,
    // and the old one drains (QUIT) first: a pull in flight finishes, and new connections are
    // refused until it has.
    test("7. a new nginx image: nginx is replaced; the reads it cost are reported; a pull in flight arrives whole", async () => {
        assert.equal(await replacement("nginx", bed.images.NGINX_IMAGE), undefined);
    });
});
