// The stack converges from any state, live, on the real Pulumi engine: each volume and each
// container of the dev stack removed by hand (as a prune or a lost disk would) comes back with
// one `pulumi up --refresh`, with the service: the certificate issued again, the users and the
// nginx configuration installed again, the registry serving (a lost data volume reported).
// A plain `pulumi up`, which cannot see the loss, fails saying what is wrong and what repairs it.
// Each case ends in an authenticated push and pull through a Docker client that verifies the
// certificate. The stack is first deployed by the program as it was before this behaviour
// (an existing user's stack), then upgraded: its generated passwords stay.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { aliasMisses, Bed, BED_SLOTS, BEFORE_HOST_COMPONENT, DeployError, HOST_COMPONENT, upgradeChanges } from "./bed";
import { canConnect, DockerClient, peerCertificate } from "./client";
import { Engine } from "./engine";
import { docker, run } from "./proc";

/** The last commit before the stack converged from any state (and kept a single host's generated passwords elsewhere). */
const BEFORE = "e868084793f26901090cd5b4a47dcce609ff2992";

const LABEL = `conv-${randomBytes(3).toString("hex")}`;

describe("live: every volume and container removed by hand comes back with one `pulumi up --refresh`", { timeout: 2_400_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.converge);
    const client = new DockerClient();
    const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
    // bob's password is generated: it must survive the upgrade and every repair.
    const config = bed.config({ users: { alice: { access: "push", password: ALICE.password }, bob: { access: "pull" } } });
    let bobPassword = "";
    const prefix = bed.prefix;
    const images: string[] = [];
    let round = 0;

    /** Trusts the CA root the stack exports now (a new Pebble has a new root). */
    const trust = (caRoot: unknown) => {
        assert.equal(typeof caRoot, "string", "the stack exports its CA root");
        bed.trustRoot(bed.host, caRoot as string);
    };

    /** A new image pushed and pulled back, by a client that verifies the certificate. */
    const pushAndPull = async () => {
        const ref = `${bed.host}/converge/app:${++round}`;
        images.push(ref);
        const id = await client.makeImage(ref, 256 * 1024);
        await client.must(["push", ref]);
        await client.must(["image", "rm", ref]);
        await client.must(["pull", ref]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), id);
    };

    /** Removes the containers that mount `volume`, then the volume (what `docker system prune --volumes` would take). */
    const loseVolume = async (volume: string): Promise<string[]> => {
        const users = (await docker(["ps", "-aq", "--filter", `volume=${volume}`])).split("\n").filter(Boolean);
        const names = await Promise.all(users.map((id) => docker(["inspect", "--format", "{{.Name}}", id])));
        if (users.length) await docker(["rm", "--force", ...users]);
        await docker(["volume", "rm", volume]);
        return names.map((n) => n.replace(/^\//, ""));
    };

    /** One `pulumi up --refresh`, which must re-create what was lost; then the registry serves. */
    const heal = async (lost: string[]) => {
        const deployed = await bed.up(config, { refresh: true });
        const created = bed.steps
            .filter((s) => s.op === "create" || s.op === "replace" || s.op === "create-replacement")
            .map((s) => s.name);
        for (const name of lost) {
            const role = name.slice(prefix.length + 1);
            assert.ok(
                created.some((c) => c.endsWith(`-${role}`) || c.endsWith(`-${role.replace(/^pebble$/, "pebble-container")}`)),
                `${name} re-created: ${created.join(", ")}`,
            );
        }
        trust(deployed.outputs.caRoot.value);
        assert.equal((deployed.outputs.passwords.value as Record<string, string>).bob, bobPassword, "the generated password stays");
        assert.equal((await client.login(bed.host, ALICE.name, ALICE.password)).code, 0, "the same credentials log in after the repair");
        await pushAndPull();
        return deployed;
    };

    before(async () => {
        bobPassword = (await bed.upAt(BEFORE, config)).outputs.passwords.value.bob;
        assert.equal(bobPassword.length, 32, "bob's password was generated");
        // Upgraded to the program before each host became a component: passwords and volumes stay.
        let deployed = await bed.upAt(BEFORE_HOST_COMPONENT, config);
        assert.equal(deployed.outputs.passwords.value.bob, bobPassword, "the upgrade keeps bob's generated password");
        const touched = bed.steps.filter((s) => s.type.startsWith("random:") || s.type === "docker:index/volume:Volume");
        assert.deepEqual(touched, [], "the upgrade creates, replaces or deletes no password or volume");
        // Then to the program where the host's resources are a RegistryHost's children
        // (aliases): nothing is created, replaced or deleted but the component itself.
        deployed = await bed.upAt(HOST_COMPONENT, config);
        assert.deepEqual(upgradeChanges(bed.steps), [], "the upgrade to RegistryHost changes no resource");
        assert.equal(deployed.outputs.passwords.value.bob, bobPassword);
        // Then to this program (the component under its package's type, an alias of the former):
        // whatever it renders differently is updated or replaced, nothing is created anew.
        deployed = await bed.up(config);
        assert.deepEqual(aliasMisses(bed.steps), [], "every resource keeps its state through the upgrade");
        assert.equal(deployed.outputs.passwords.value.bob, bobPassword);
        trust(deployed.outputs.caRoot.value);
        const login = await client.login(bed.host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
        await pushAndPull();
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    // The dev stack's eight volumes, the certificates one (issued again) and the data one (reported) apart.
    for (const role of ["acme-webroot", "pebble-certs", "registry-control", "registry-socket", "auth", "nginx-conf"]) {
        test(`the ${role} volume`, async () => {
            const lost = await loseVolume(`${prefix}-${role}`);
            assert.ok(lost.length > 0, "some container used the volume");
            const deployed = await heal(lost);
            assert.doesNotMatch(deployed.stdout, /data volume was lost/);
        });
    }

    test("the certs volume: a new certificate is issued, and served", async () => {
        const served = async () => (await peerCertificate(await bed.endpoint((await bed.outputs()).caRoot.value as string))).serialNumber;
        const before = await served();
        await heal(await loseVolume(`${prefix}-certs`));
        assert.notEqual(await served(), before, "a new certificate");
    });

    test("without any deploy: certificate files gone and nginx restarted (on its fallback), certbot's next check (USR1) requests it again and nginx serves it by itself", async () => {
        const ep = await bed.endpoint((await bed.outputs()).caRoot.value as string);
        const before = (await peerCertificate(ep)).serialNumber;
        await docker([
            "exec",
            `${prefix}-certbot`,
            "rm",
            "-rf",
            "/etc/letsencrypt/live",
            "/etc/letsencrypt/archive",
            "/etc/letsencrypt/renewal",
        ]);
        await docker(["restart", `${prefix}-nginx`]);
        // nginx cannot load the HTTPS server without its certificate: it serves its fallback (port 80 only).
        let fallback = false;
        for (let i = 0; i < 100 && !fallback; i++) {
            fallback = /serving ACME challenges only/.test((await run("docker", ["logs", "--since", "60s", `${prefix}-nginx`])).stderr);
            if (!fallback) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(fallback, "nginx started on its fallback");
        assert.equal(await canConnect(ep.address, ep.httpsPort), false, "nothing on HTTPS while the certificate is missing");
        await docker(["kill", "--signal", "USR1", `${prefix}-certbot`]);
        let serial = "";
        for (let i = 0; i < 240 && !serial; i++) {
            serial = await peerCertificate(ep).then(
                (c) => c.serialNumber,
                () => "",
            );
            if (!serial) await new Promise((r) => setTimeout(r, 250));
        }
        assert.ok(serial, "HTTPS is served again without a deploy");
        assert.notEqual(serial, before, "a new certificate");
        assert.match((await run("docker", ["logs", `${prefix}-nginx`])).stderr, /leaving the fallback/);
        await pushAndPull();
    });

    test("the data volume: the registry serves again, empty, and the update warns that the data is lost", async () => {
        const old = `${bed.host}/converge/app:1`;
        const deployed = await heal(await loseVolume(`${prefix}-data`));
        assert.match(deployed.stdout, /data volume was lost: a new, empty volume took its place/);
        const r = await client.exec(["pull", old]);
        assert.notEqual(r.code, 0, "an image pushed before the loss is gone");
        // The next update does not warn again.
        const again = await bed.up(config);
        assert.doesNotMatch(again.stdout, /data volume was lost/);
    });

    for (const role of ["registry", "nginx", "certbot", "pebble", "pebble-resolver"]) {
        test(`the ${role} container`, async () => {
            await docker(["rm", "--force", `${prefix}-${role}`]);
            const deployed = await heal([`${prefix}-${role}`]);
            assert.doesNotMatch(deployed.stdout, /data volume was lost/, "a new registry container finds its data volume");
        });
    }

    test("a plain `pulumi up` that cannot see the loss fails, naming it and the repair; the preview warns", async () => {
        await docker(["rm", "--force", `${prefix}-nginx`]);
        const preview = await (await bed.stack()).preview();
        assert.match(preview.stdout, new RegExp(`container ${prefix}-nginx is missing`));
        await assert.rejects(bed.up(config), (e: Error) => {
            assert.ok(e instanceof DeployError);
            assert.match(e.message, new RegExp(`container ${prefix}-nginx is missing`));
            assert.match(e.message, /Run `pulumi up --refresh`/);
            return true;
        });
        await heal([`${prefix}-nginx`]);
        const clean = await bed.up(config);
        assert.doesNotMatch(clean.stdout, /not serving as deployed/);
    });

    test("a preview that drops a user says so, naming it; the stack's config decides, nothing is changed by the preview", async () => {
        const stack = await bed.configure({ ...config, users: { alice: { access: "push", password: ALICE.password } } });
        const preview = await stack.preview();
        assert.match(preview.stdout, /warning: users removed by this update: bob; their credentials stop working\./);
        await bed.configure(config);
        assert.doesNotMatch((await stack.preview()).stdout, /users removed by this update/);
    });
});
