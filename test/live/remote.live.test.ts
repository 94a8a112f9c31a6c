// A remote Docker host: the stack deployed, used and destroyed by the real Pulumi engine
// through ssh://, with an sshd on loopback standing in for the build server
// (test/live/sshd.ts). The provider and every command reach Docker through the same host.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Bed, BED_SLOTS } from "./bed";
import { DockerClient } from "./client";
import { Engine } from "./engine";
import { docker } from "./proc";
import { LoopbackSshd } from "./sshd";

describe("live: a remote Docker host over ssh://", { timeout: 600_000 }, () => {
    const label = `ssh-${randomBytes(3).toString("hex")}`;
    const engine = new Engine();
    const bed = new Bed(label, engine, BED_SLOTS.remote);
    const sshd = new LoopbackSshd(22022);
    const client = new DockerClient();
    const user = { name: "deploy", password: `deploy-${randomBytes(9).toString("hex")}` };
    const originalPath = process.env.PATH;

    before(async () => {
        await sshd.start();
        // The docker CLI in every `up` (and its commands) finds this ssh first.
        process.env.PATH = `${sshd.binDir}:${originalPath}`;
    });

    after(async () => {
        process.env.PATH = originalPath;
        client.cleanup();
        await bed.cleanup();
        await engine.close();
        await docker(["image", "rm", "--force", `${bed.host}/remote/hello:1`], { allowFail: true });
        sshd.stop();
    });

    test("deploy, push, pull and destroy through ssh://root@127.0.0.1", async () => {
        const out = await bed.up(
            bed.config({ dockerHost: sshd.dockerHost, users: { deploy: { access: "push", password: user.password } } }),
        );
        const sessions = sshd.acceptedSessions();
        assert.ok(sessions >= 10, `the provider and the commands went through ssh (${sessions} sessions)`);
        const names = (await docker(["ps", "--filter", `label=registry-bed=${label}`, "--format", "{{.Names}}"])).split("\n").sort();
        assert.deepEqual(names, [
            `bed-${label}-certbot`,
            `bed-${label}-nginx`,
            `bed-${label}-pebble`,
            `bed-${label}-pebble-resolver`,
            `bed-${label}-registry`,
        ]);

        const host = out.outputs.host.value as string;
        await bed.addHostsEntry();
        bed.trustRoot(host, out.outputs.caRoot.value as string);
        const login = await client.login(host, user.name, user.password);
        assert.equal(login.code, 0, login.stderr);
        const id = await client.makeImage(`${host}/remote/hello:1`, 256 * 1024);
        await client.must(["push", `${host}/remote/hello:1`]);
        await client.must(["image", "rm", `${host}/remote/hello:1`]);
        await client.must(["pull", `${host}/remote/hello:1`]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", `${host}/remote/hello:1`]), id);

        const destroyed = await bed.destroy();
        assert.ok((destroyed.changes.delete ?? 0) >= 20, JSON.stringify(destroyed.changes));
        assert.ok(sshd.acceptedSessions() > sessions, "destroy went through ssh too");
        assert.equal(
            await docker(["ps", "-a", "--filter", `label=registry-bed=${label}`, "--format", "{{.Names}}"]),
            "",
            "no container left",
        );
        assert.equal(
            await docker(["network", "ls", "--filter", `label=registry-bed=${label}`, "--format", "{{.Name}}"]),
            "",
            "no network left",
        );
    });
});
