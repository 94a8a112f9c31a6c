// The registry's lifecycle, live, on the real Pulumi engine: replacing containers loses no
// data, garbage collection (on demand and on a schedule that deploys do not reset), refresh
// without drift, destroy keeping data and certificates (and `retainVolumes: false` not), and
// certificate expiry made visible.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Bed, BED_SLOTS } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest, peerCertificate } from "./client";
import { changed, Engine } from "./engine";
import { containerLog, garbageCollection, showLog, supervisorReady } from "./gc";
import { docker, healthBecomes, newImageId, run } from "./proc";

const LABEL = `life-${randomBytes(3).toString("hex")}`;

describe("live: the registry's lifecycle on the real Pulumi engine", { timeout: 1_200_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.lifecycle);
    const client = new DockerClient();
    const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
    let config = bed.config({ users: { alice: { access: "push", password: ALICE.password } } });
    let ep: Endpoint;
    let host: string;
    const prefix = bed.prefix;
    const repo = () => `${host}/bed/hello`;
    let pushedId = "";
    const extraImages: string[] = [];
    /** A new image id for the same software, as a new tag upstream would bring. */
    const retag = async (image: string, tag: string) => {
        const ref = await newImageId(image, tag);
        extraImages.push(ref);
        return ref;
    };

    before(async () => {
        const deployed = await bed.up(config);
        host = deployed.outputs.host.value as string;
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(host, ep.ca);
        const login = await client.login(host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
        pushedId = await client.makeImage(`${repo()}:1`);
        await client.must(["push", `${repo()}:1`]);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await run("docker", ["image", "rm", "--force", `${bed.host}/bed/hello:1`, `${bed.host}/bed/hello:2`, ...extraImages]);
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("1. data survives: replacing the registry and nginx containers loses no image, certificate or credential", async () => {
        const serial = (await peerCertificate(ep)).serialNumber;
        const before = await bed.containerIds();
        const registryImage = await retag(bed.images.REGISTRY_IMAGE, `registry-${LABEL}`);
        const nginxImage = await retag(bed.images.NGINX_IMAGE, `nginx-${LABEL}`);
        config = { ...config, registryImage, nginxImage };
        await bed.up(config);
        const after = await bed.containerIds();
        assert.notEqual(after.registry, before.registry, "registry replaced");
        assert.notEqual(after.nginx, before.nginx, "nginx replaced");
        assert.ok(!bed.actions.some((a) => a.includes("Volume")), "no volume touched");

        assert.equal((await peerCertificate(ep)).serialNumber, serial, "same certificate");
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200, "same credentials");
        await client.must(["image", "rm", `${repo()}:1`]);
        await client.must(["pull", `${repo()}:1`]);
        assert.equal(
            await client.must(["image", "inspect", "--format", "{{.Id}}", `${repo()}:1`]),
            pushedId,
            "the pushed image is still there",
        );
        // And the replaced stack still takes pushes.
        await client.makeImage(`${repo()}:2`, 256 * 1024);
        await client.must(["push", `${repo()}:2`]);
    });

    test("2. garbage collection: writes get 503 while reads go on, an in-flight upload finishes, blobs are reclaimed", async () => {
        const storedKiB = async () =>
            Number(
                (await docker(["exec", `${prefix}-registry`, "du", "-sk", "/var/lib/registry/docker/registry/v2/blobs"])).split(/\s+/)[0],
            );
        extraImages.push(...(await garbageCollection({ client, ep, host, user: ALICE, prefix, namespace: "gc", storedKiB })));
    });

    test("3. the GC schedule survives deploys: a new schedule reaches the running registry, a GC that is due when the registry is replaced runs at once, one that is not waits", async () => {
        const registry = `${prefix}-registry`;
        // An image of this test's own, which every GC here must keep.
        const kept = `${host}/sched/keep:1`;
        extraImages.push(kept);
        await client.makeImage(kept, 256 * 1024);
        await client.must(["push", kept]);
        const lastGc = async () => Number(await docker(["exec", registry, "cat", "/var/lib/registry-control/last-gc"]));
        const gcEnded = async (since: string) =>
            /registry-gc: ended/.test((await run("docker", ["logs", "--since", since, registry])).stderr);
        const ranSince = async (since: string) => {
            let ran = false;
            for (let i = 0; i < 60 && !ran; i++) {
                ran = await gcEnded(since);
                if (!ran) await new Promise((r) => setTimeout(r, 500));
            }
            return ran;
        };
        // The last GC was two hours ago; a one-hour schedule arrives with a deploy, which
        // replaces no container: the running registry reads it, and runs the overdue GC.
        await docker(["exec", registry, "sh", "-c", "echo $(( $(date +%s) - 7200 )) > /var/lib/registry-control/last-gc"]);
        const scheduled = new Date().toISOString();
        config = { ...config, gcIntervalHours: 1 };
        await bed.up(config);
        assert.ok(!bed.actions.some((a) => a.startsWith("replace docker:index/container:Container")), bed.actions.join("\n"));
        assert.ok(await ranSince(scheduled), "the running registry ran the overdue GC");

        // Two hours ago again, and a new registry image (a new container): the GC that is due runs at once.
        await docker(["exec", registry, "sh", "-c", "echo $(( $(date +%s) - 7200 )) > /var/lib/registry-control/last-gc"]);
        const deployed = new Date().toISOString();
        config = { ...config, registryImage: await retag(bed.images.REGISTRY_IMAGE, `registry-gc-${LABEL}`) };
        await bed.up(config);
        assert.ok(bed.actions.includes("replace docker:index/container:Container registry-registry"), bed.actions.join("\n"));
        assert.ok(await ranSince(deployed), "the overdue GC ran right after the replacement");
        const recorded = await lastGc();
        assert.ok(Math.abs(recorded - Date.now() / 1000) < 120, `last-gc records the run (${recorded})`);

        // Replaced again right after: the schedule is not reset, and GC is not due for an hour.
        const redeployed = new Date().toISOString();
        config = { ...config, gcDeleteUntagged: true, registryImage: await retag(bed.images.REGISTRY_IMAGE, `registry-gc2-${LABEL}`) };
        await bed.up(config);
        assert.ok(bed.actions.includes("replace docker:index/container:Container registry-registry"));
        // The new supervisor has checked once whether a GC is due (a GC would run right then).
        await supervisorReady(registry);
        const log = await containerLog(registry, redeployed);
        assert.ok(!log.some((l) => /registry-gc: started/.test(l.text)), `no GC on a start when none is due:\n${showLog(log)}`);
        assert.equal(await lastGc(), recorded);
        const tags = await httpsRequest(ep, "/v2/sched/keep/tags/list", { auth: basic(ALICE.name, ALICE.password) });
        assert.equal(tags.status, 200, tags.body);
        assert.deepEqual((JSON.parse(tags.body) as { tags: string[] }).tags, ["1"]);
        await client.must(["image", "rm", kept]);
        await client.must(["pull", kept]);
    });

    test("4. refresh finds no drift, and the next preview shows no change", async () => {
        const stack = await bed.stack();
        const refreshed = await stack.refresh();
        assert.deepEqual(changed(refreshed.changes), {}, refreshed.stdout);
        const preview = await stack.preview({ diff: true });
        assert.deepEqual(changed(preview.changes), {}, preview.stdout);
    });

    test("5. destroy keeps the data and certificates; a re-up over them issues no new certificate and the pushed image pulls", async () => {
        const serial = (await peerCertificate(ep)).serialNumber;
        const destroyed = await bed.destroy();
        assert.ok((destroyed.changes.delete ?? 0) >= 20, JSON.stringify(destroyed.changes));
        assert.equal(
            await docker(["ps", "-a", "--filter", `label=registry-bed=${LABEL}`, "--format", "{{.Names}}"]),
            "",
            "no container left",
        );
        const volumes = (await docker(["volume", "ls", "--filter", `label=registry-bed=${LABEL}`, "--format", "{{.Name}}"]))
            .split("\n")
            .sort();
        assert.deepEqual(volumes, [`${prefix}-certs`, `${prefix}-data`], "retained: data and certificates");

        await bed.up(config);
        assert.equal((await peerCertificate(ep)).serialNumber, serial, "the retained certificate is served; none was issued");
        await client.must(["image", "rm", `${repo()}:1`]);
        await client.must(["pull", `${repo()}:1`]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", `${repo()}:1`]), pushedId);
    });

    test("6. with retainVolumes false, destroy deletes the volumes too", async () => {
        config = { ...config, retainVolumes: false };
        await bed.up(config);
        await bed.destroy();
        assert.equal(
            await docker(["volume", "ls", "--filter", `label=registry-bed=${LABEL}`, "--format", "{{.Name}}"]),
            "",
            "no volume left",
        );
    });
});

describe("live: certificate expiry is visible and renewal follows the certificate's lifetime", { timeout: 600_000 }, () => {
    const label = `exp-${randomBytes(3).toString("hex")}`;
    const engine = new Engine();
    const bed = new Bed(label, engine, BED_SLOTS.expiry);
    const user = { name: "ops", password: `ops-${randomBytes(9).toString("hex")}` };

    after(async () => {
        await bed.cleanup();
        await engine.close();
    });

    test("a 10-day certificate: expiry output, unhealthy within 20 warning days, not renewed early", async () => {
        const out = await bed.up(
            bed.config({
                users: { ops: { access: "push", password: user.password } },
                pebbleCertificateDays: 10,
                certificateWarningDays: 20,
            }),
        );
        const expiry = Date.parse(out.outputs.certificateExpiry.value as string);
        const days = (expiry - Date.now()) / 86_400_000;
        assert.ok(days > 9 && days <= 10, `certificateExpiry output is ~10 days ahead, got ${out.outputs.certificateExpiry.value}`);

        const health = await healthBecomes(`${bed.prefix}-certbot`, "unhealthy");
        assert.equal(health.status, "unhealthy", health.output);
        assert.match(health.output, /days left \(unhealthy at 20 or fewer\)/);

        // certbot renews by the remaining share of the lifetime (and ARI), not a fixed 30 days
        // before expiry: a fresh 10-day certificate is not due.
        const ep = await bed.endpoint(out.outputs.caRoot.value as string);
        const serial = (await peerCertificate(ep)).serialNumber;
        const renew = await run("docker", [
            "exec",
            `${bed.prefix}-certbot`,
            "certbot",
            "renew",
            "--no-random-sleep-on-renew",
            "--non-interactive",
        ]);
        assert.equal(renew.code, 0, renew.stderr);
        assert.match(`${renew.stdout}${renew.stderr}`, /not yet due for renewal/i);
        assert.equal((await peerCertificate(ep)).serialNumber, serial);
    });
});
