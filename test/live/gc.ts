// The garbage-collection scenario, run against whichever storage the stack uses (the data
// volume, or an S3 bucket): a deleted image's blobs are reclaimed, writes get 503 with
// Retry-After while GC runs, reads go on, an upload in flight when GC starts finishes and
// completes afterwards, other repositories still pull, and the deleted image re-pushes at once.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { docker, run } from "./proc";
import { basic, DockerClient, Endpoint, httpsRequest, slowPatch } from "./client";

export interface GcScenario {
    client: DockerClient;
    ep: Endpoint;
    /** host:port images are tagged with. */
    host: string;
    /** A push user. */
    user: { name: string; password: string };
    /** Container name prefix of the stack. */
    prefix: string;
    /** Repository namespace the scenario uses, e.g. "gc". */
    namespace: string;
    /** KiB the registry's blobs take in its storage right now. */
    storedKiB: () => Promise<number>;
}

const MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/** Runs the scenario; returns the local image references it created (for cleanup). */
export async function garbageCollection(c: GcScenario): Promise<string[]> {
    const auth = basic(c.user.name, c.user.password);
    const ns = c.namespace;
    const keep = `${c.host}/${ns}/keep:1`;
    const drop = `${c.host}/${ns}/drop:1`;
    const created = [keep, drop];
    await c.client.makeImage(keep, 512 * 1024);
    await c.client.must(["push", keep]);
    await c.client.makeImage(drop, 4 * 1024 * 1024);
    await c.client.must(["push", drop]);
    const manifest = await httpsRequest(c.ep, `/v2/${ns}/drop/manifests/1`, { auth, method: "HEAD", accept: MANIFEST_TYPES });
    const digest = String(manifest.headers["docker-content-digest"]);
    assert.match(digest, /^sha256:/);
    assert.equal((await httpsRequest(c.ep, `/v2/${ns}/drop/manifests/${digest}`, { auth, method: "DELETE" })).status, 202);
    const before = await c.storedKiB();

    // An upload in flight when GC starts: it must finish, not be cut.
    const started = await httpsRequest(c.ep, `/v2/${ns}/slow/blobs/uploads/`, { auth, method: "POST" });
    assert.equal(started.status, 202);
    const chunks = 12;
    const chunkBytes = 64 * 1024;
    const inFlight = slowPatch(c.ep, String(started.headers.location), auth, chunks, chunkBytes, 250);
    await new Promise((r) => setTimeout(r, 300));
    await docker(["kill", "--signal", "USR1", `${c.prefix}-registry`]);
    const flagged = async () =>
        (await run("docker", ["exec", `${c.prefix}-nginx`, "test", "-f", "/etc/nginx/registry-control/gc-in-progress"])).code === 0;
    for (let i = 0; i < 50 && !(await flagged()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(await flagged(), "GC flagged");
    const refused = await httpsRequest(c.ep, `/v2/${ns}/other/blobs/uploads/`, { auth, method: "POST" });
    assert.equal(refused.status, 503, "a new write during GC is refused");
    assert.equal(refused.headers["retry-after"], "30");
    assert.equal((await httpsRequest(c.ep, `/v2/${ns}/keep/tags/list`, { auth })).status, 200, "reads go on during GC");
    const patched = await inFlight;
    assert.equal(patched.status, 202, `the in-flight upload finished: ${patched.body}`);
    for (let i = 0; i < 300 && (await flagged()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await flagged(), false, "GC ended");
    const logs = await run("docker", ["logs", "--since", "2m", `${c.prefix}-registry`]);
    assert.match(logs.stderr, /registry-gc: garbage-collect finished/);

    const after = await c.storedKiB();
    assert.ok(before - after >= 4000, `GC reclaimed the deleted image's 4 MiB layer (${before} KiB -> ${after} KiB)`);
    await c.client.must(["image", "rm", keep]);
    await c.client.must(["pull", keep]);
    // A re-push of the deleted image works at once.
    await c.client.must(["push", drop]);
    await c.client.must(["image", "rm", drop]);
    await c.client.must(["pull", drop]);
    // And writes work again: the upload started before GC completes.
    const body = Buffer.concat(Array.from({ length: chunks }, (_, i) => Buffer.alloc(chunkBytes, i)));
    const location = new URL(String(patched.headers.location), "https://registry");
    const digestParam = `digest=sha256:${createHash("sha256").update(body).digest("hex")}`;
    const put = await httpsRequest(c.ep, `${location.pathname}${location.search ? `${location.search}&` : "?"}${digestParam}`, {
        auth,
        method: "PUT",
    });
    assert.equal(put.status, 201, put.body);
    return created;
}
