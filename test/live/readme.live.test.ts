// The README, as written: its blocks marked `readme-test` run word for word in one shell, as a
// new user's terminal session would, in a fresh checkout of the project and a fresh $HOME, with
// the real Pulumi CLI. The only change is the one the bed needs: the shipped Pulumi.dev.yaml
// gets the locally built images (no public registry is reachable here). The quickstart deploys
// the dev stack, uses it and runs the consumer example; then "Run it" on that stack, each block
// proven by what clients see: users added, rotated and removed (logins accepted and refused),
// the state backed up and restored on a second machine (another checkout and $HOME), the
// volumes backed up and restored (a later push gone, the certificate served again), an upgrade
// that changes nothing, and the uninstall (what stays, then nothing). Then the previews: the
// library example, the private-network, several-hosts and mirrors blocks, and a production
// stack made of `domain` and `acmeEmail` alone.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import * as yaml from "js-yaml";
import { BED_LABEL, loadImages } from "./bed";
import { basic, Endpoint, httpsRequest, peerCertificate } from "./client";
import { MARKER_VAR, processesWith, ROOT } from "./engine";
import { addHostsLine, HOSTS_FILE, removeHostsLine, withHostsLock } from "./hostsFile";
import { docker, run, RunResult } from "./proc";
import { copyProject } from "./project";

const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
/** The dev stack's names, ports and files, as the README and Pulumi.dev.yaml give them. */
const DEV = {
    prefix: "registry-dev",
    host: "registry.test:8443",
    hostsLine: "127.0.0.1 registry.test",
    certsDir: "/etc/docker/certs.d/registry.test:8443",
};

/** The fenced block after `<!-- readme-test: NAME -->` (inside a list item too: its indent is removed). */
export function readmeBlock(name: string, text = README): string {
    const m = new RegExp(`<!-- readme-test: ${name} -->\\n( *)\`\`\`sh\\n([\\s\\S]*?)\\n\\1\`\`\``).exec(text);
    if (!m) throw new Error(`README.md has no block marked readme-test: ${name}`);
    return m[2]
        .split("\n")
        .map((line) => (line.startsWith(m[1]) ? line.slice(m[1].length) : line))
        .join("\n");
}

/** The dev stack's outputs as `pulumi stack output --json --show-secrets` prints them. */
interface DevOutputs {
    userNames: string[];
    passwords: Record<string, string>;
    caRoot: string;
}

/** The change counts `pulumi preview` and `pulumi up` print ("+ 2 to create", "+-1 replaced"), other than unchanged. */
const CHANGES = /^\s*(\+-|[+~-])\s*\d+ (to create|to update|to replace|to delete|created|updated|replaced|deleted)\b/m;

describe("live: the README's commands, as written, on the real Pulumi CLI", { timeout: 1_800_000 }, () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-readme-"));
    const home = path.join(work, "home");
    const bin = path.join(work, "bin");
    const marker = `readme-${process.pid}`;
    let checkout = "";
    /** A second machine's checkout, where the state backup is restored. */
    let machine = "";
    const hadHostsLine = fs.readFileSync(HOSTS_FILE, "utf8").split("\n").includes(DEV.hostsLine);
    let madeAlpine = false;
    let deployed = false;

    /**
     * Runs `script` in bash (-e, pipefail) in `cwd`, as a new user would: in a private mount
     * namespace where the home directory is a fresh one. (Pulumi resolves `~`, of
     * `pulumi login --local`, from the password database, not $HOME: without the namespace the
     * test's stacks would land in the real ~/.pulumi.)
     */
    const shell = async (script: string, cwd: string, homeDir = home): Promise<RunResult> => {
        const passwdHome = os.userInfo().homedir;
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            HOME: passwdHome,
            PATH: `${bin}:${process.env.PATH}`,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            [MARKER_VAR]: marker,
        };
        // `pulumi up` asks for confirmation on a terminal; PULUMI_SKIP_CONFIRMATIONS is its documented answer for scripts.
        env.PULUMI_SKIP_CONFIRMATIONS = "true";
        for (const k of ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_HOME", "DOCKER_CONFIG"]) delete env[k];
        const inside = 'mount --bind "$1" "$2" && cd "$3" && exec bash -e -o pipefail -c "$4"';
        try {
            return await run(
                "unshare",
                ["--mount", "--propagation", "private", "--", "sh", "-c", inside, "sh", homeDir, passwdHome, cwd, script],
                { env, timeoutMs: 600_000 },
            );
        } finally {
            // The CLI's language hosts and plugins, if any outlived it.
            for (let i = 0; i < 30 && processesWith(MARKER_VAR, marker).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
            for (const pid of processesWith(MARKER_VAR, marker)) process.kill(pid, "SIGKILL");
        }
    };

    const PASSPHRASE = "export PULUMI_CONFIG_PASSPHRASE=...";
    /** The README's block `name`, run in the session the deploy block began (its passphrase exported). */
    const block = (name: string, cwd = checkout, homeDir = home) => shell([PASSPHRASE, readmeBlock(name)].join("\n"), cwd, homeDir);
    const succeeded = (r: RunResult, what: string) =>
        assert.equal(r.code, 0, `${what} failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    const outputs = async (cwd = checkout, homeDir = home): Promise<DevOutputs> => {
        const r = await shell(`${PASSPHRASE}\npulumi stack output --json --show-secrets --stack dev`, cwd, homeDir);
        succeeded(r, "pulumi stack output");
        return JSON.parse(r.stdout) as DevOutputs;
    };
    /** Where the dev stack serves, trusting its CA root as the README's step 2 does. */
    const endpoint = async (): Promise<Endpoint> => ({
        domain: "registry.test",
        address: "127.0.0.1",
        httpPort: 8080,
        httpsPort: 8443,
        ca: (await outputs()).caRoot,
    });
    /** The status a request with these credentials gets (`GET /v2/`: a login). */
    const statusOf = async (user: string, password: string, method = "GET", urlPath = "/v2/"): Promise<number> =>
        (await httpsRequest(await endpoint(), urlPath, { auth: basic(user, password), method })).status;
    /**
     * The tags the registry lists for `repository`, once it answers: right after a block started
     * its containers again, requests get 502 or a refused connection until they serve (60 s at most).
     */
    const tagsOf = async (repository: string): Promise<unknown> => {
        const { passwords } = await outputs();
        const ep = await endpoint();
        const deadline = Date.now() + 60_000;
        for (;;) {
            const r = await httpsRequest(ep, `/v2/${repository}/tags/list`, { auth: basic("admin", passwords.admin) }).catch(
                (e: Error) => ({
                    status: 0,
                    body: e.message,
                }),
            );
            if (r.status === 200) return JSON.parse(r.body);
            if (Date.now() > deadline) assert.fail(`the registry does not serve ${repository}'s tags: ${r.status} ${r.body}`);
            await new Promise((res) => setTimeout(res, 500));
        }
    };
    /** The names in a tar file the README's commands wrote. */
    const tarNames = async (file: string): Promise<string[]> => {
        const r = await run("tar", ["-tf", file]);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.split("\n");
    };

    before(async () => {
        // This test deploys the README's dev stack, registry-dev-*: never over a user's own.
        const taken = await docker(["ps", "-a", "--filter", `name=^${DEV.prefix}-`, "--format", "{{.Names}}"]);
        const volumes = await docker(["volume", "ls", "--filter", `name=^${DEV.prefix}-`, "--format", "{{.Name}}"]);
        assert.equal(
            `${taken}${volumes}`,
            "",
            `a dev stack (${DEV.prefix}-*) already exists on this Docker engine; the README test would collide with it. Remove it (pulumi destroy --stack dev, then docker volume rm ${DEV.prefix}-data ${DEV.prefix}-certs) and run the tests again`,
        );
        fs.mkdirSync(home);
        fs.mkdirSync(bin);
        // The README says `sudo`; tests run as root, where it has nothing to do.
        if ((await run("sh", ["-c", "command -v sudo"])).code !== 0)
            fs.writeFileSync(path.join(bin, "sudo"), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
        // The README tags alpine:3, which cannot be pulled here: a one-file stand-in, removed afterwards.
        if ((await run("docker", ["image", "inspect", "alpine:3"])).code !== 0) {
            fs.writeFileSync(path.join(work, "hello.txt"), "stand-in for alpine:3\n");
            await run("tar", ["-C", work, "-cf", path.join(work, "alpine.tar"), "hello.txt"]);
            await docker(["import", path.join(work, "alpine.tar"), "alpine:3"]);
            madeAlpine = true;
        }
        // The `use` block adds this line right before `docker login`; the Docker daemon re-reads
        // /etc/hosts at most every 5 seconds and sends a name it misses to DNS, which the tests
        // never ask. So the line is in place from the start; the block adds it again.
        if (!hadHostsLine) await withHostsLock(() => addHostsLine(DEV.hostsLine));
        checkout = copyProject(["examples", "plugin"]);
        // The one change the bed needs: images built here instead of pulled.
        const images = loadImages();
        const file = path.join(checkout, "Pulumi.dev.yaml");
        const dev = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, string> };
        Object.assign(dev.config, {
            "private-registry:registryImage": images.REGISTRY_IMAGE,
            "private-registry:nginxImage": images.NGINX_IMAGE,
            "private-registry:certbotImage": images.CERTBOT_IMAGE,
            "private-registry:pebbleImage": images.PEBBLE_IMAGE,
        });
        fs.writeFileSync(file, yaml.dump(dev));
    });

    after(async () => {
        const env = "export PULUMI_CONFIG_PASSPHRASE=...\n";
        if (deployed) {
            await shell(`${env}cd examples/consumer && pulumi destroy --yes --stack dev || true`, checkout);
            await shell(`${env}pulumi destroy --yes --stack dev`, checkout);
            await docker(["volume", "rm", `${DEV.prefix}-data`, `${DEV.prefix}-certs`], { allowFail: true });
        }
        // The uninstall's cleanup removes every line for registry.test: one the user had is put back.
        await withHostsLock(() => (hadHostsLine ? addHostsLine(DEV.hostsLine) : removeHostsLine(DEV.hostsLine)));
        fs.rmSync(DEV.certsDir, { recursive: true, force: true });
        const images = [
            `${DEV.host}/tools/alpine:3`,
            `${DEV.host}/tools/alpine:after-backup`,
            `${DEV.host}/examples/hello:1`,
            ...(madeAlpine ? ["alpine:3"] : []),
        ];
        await run("docker", ["image", "rm", "--force", ...images]);
        const pulled = (
            await docker(["image", "ls", "--format", "{{.Repository}}@{{.Digest}}", `${DEV.host}/examples/hello`], { allowFail: true })
        )
            .split("\n")
            .filter(Boolean);
        if (pulled.length) await run("docker", ["image", "rm", "--force", ...pulled]);
        if (checkout) fs.rmSync(checkout, { recursive: true, force: true });
        if (machine) fs.rmSync(machine, { recursive: true, force: true });
        fs.rmSync(work, { recursive: true, force: true });
        assert.deepEqual(processesWith(MARKER_VAR, marker), []);
    });

    test("the quickstart deploys the dev stack as shipped, and the registry takes a push and serves the pull", async () => {
        const deploy = await shell(readmeBlock("deploy"), checkout);
        deployed = true;
        assert.equal(deploy.code, 0, `the README's deploy commands failed:\n${deploy.stdout.slice(-4000)}\n${deploy.stderr.slice(-4000)}`);
        // The same terminal session goes on (the passphrase stays exported); the block appends
        // to /etc/hosts, which other test files edit too: under their lock.
        const script = ["export PULUMI_CONFIG_PASSPHRASE=...", readmeBlock("use")].join("\n");
        assert.match(
            readmeBlock("deploy"),
            /^export PULUMI_CONFIG_PASSPHRASE=\.\.\. /m,
            "the session's passphrase, as the deploy block sets it",
        );
        const r = await withHostsLock(() => shell(script, checkout));
        assert.equal(r.code, 0, `the README's commands failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.match(r.stdout, /Login Succeeded/);
        const lines = fs
            .readFileSync(HOSTS_FILE, "utf8")
            .split("\n")
            .filter((l) => l === DEV.hostsLine);
        assert.equal(lines.length, 2, "the block's step 1 added its line");
        assert.match(`${r.stdout}${r.stderr}`, new RegExp(`${DEV.host}/tools/alpine:3`));
        const url = await shell("export PULUMI_CONFIG_PASSPHRASE=...\npulumi stack output url --stack dev", checkout);
        assert.equal(url.stdout.trim(), "https://registry.test:8443");
        const names = (await docker(["ps", "--filter", `name=^${DEV.prefix}-`, "--format", "{{.Names}}"])).split("\n").sort();
        assert.deepEqual(names, [
            "registry-dev-certbot",
            "registry-dev-nginx",
            "registry-dev-pebble",
            "registry-dev-pebble-resolver",
            "registry-dev-registry",
        ]);
        // A user's stack built from the test images must not look like a test's leftover: the
        // cleanup label is not inherited from the images.
        for (const name of names) {
            const labels = JSON.parse(await docker(["inspect", "--format", "{{json .Config.Labels}}", name])) as Record<string, string>;
            assert.equal(labels[BED_LABEL], undefined, `${name} carries the tests' cleanup label`);
        }
    });

    test("the consumer example is its own project: it reads the dev stack and pushes an image through the registry", async () => {
        const script = ["export PULUMI_CONFIG_PASSPHRASE=...", readmeBlock("consumer")].join("\n");
        const r = await shell(script, checkout);
        assert.equal(r.code, 0, `the consumer's commands failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.doesNotMatch(`${r.stdout}${r.stderr}`, /private-registry:domain/, "it runs its own program, not the registry's");
        const digest = await shell(
            "export PULUMI_CONFIG_PASSPHRASE=...\ncd examples/consumer && pulumi stack output repoDigest --stack dev",
            checkout,
        );
        assert.match(digest.stdout.trim(), /^registry\.test:8443\/examples\/hello@sha256:[0-9a-f]{64}$/);
        // The registry has it: listed by the registry, under the push user's repository.
        const tags = await shell(
            "export PULUMI_CONFIG_PASSPHRASE=...\npw=$(pulumi stack output passwords --show-secrets --stack dev | jq -r .admin)\n" +
                'curl -sS --fail --cacert <(pulumi stack output caRoot --stack dev) --resolve registry.test:8443:127.0.0.1 -K- https://registry.test:8443/v2/examples/hello/tags/list <<<"user = \\"admin:$pw\\""',
            checkout,
        );
        assert.equal(tags.code, 0, tags.stderr);
        assert.deepEqual(JSON.parse(tags.stdout), { name: "examples/hello", tags: ["1"] });
    });

    test("Troubleshooting's repair: nginx, certbot and the certificates volume removed by hand come back with its one command, the registry serving", async () => {
        await docker(["rm", "--force", `${DEV.prefix}-nginx`, `${DEV.prefix}-certbot`]);
        await docker(["volume", "rm", `${DEV.prefix}-certs`]);
        const r = await shell(["export PULUMI_CONFIG_PASSPHRASE=...", readmeBlock("repair")].join("\n"), checkout);
        assert.equal(r.code, 0, `the README's repair failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        const tags = await shell(
            "export PULUMI_CONFIG_PASSPHRASE=...\npw=$(pulumi stack output passwords --show-secrets --stack dev | jq -r .admin)\n" +
                'curl -sS --fail --cacert <(pulumi stack output caRoot --stack dev) --resolve registry.test:8443:127.0.0.1 -K- https://registry.test:8443/v2/tools/alpine/tags/list <<<"user = \\"admin:$pw\\""',
            checkout,
        );
        assert.equal(tags.code, 0, tags.stderr);
        assert.deepEqual(
            JSON.parse(tags.stdout),
            { name: "tools/alpine", tags: ["3"] },
            "what was pushed before is served, over a new certificate",
        );
    });

    test("Run it, Add a user: a push user with a set password and a pull-only user with a generated one log in; the default admin keeps its password", async () => {
        const before = await outputs();
        const r = await block("users-add");
        succeeded(r, "the README's users-add block");
        assert.match(r.stdout, /Login Succeeded/, "the pull-only user's docker login");
        const after = await outputs();
        assert.deepEqual([...after.userNames].sort(), ["admin", "ci", "reader"]);
        assert.equal(after.passwords.admin, before.passwords.admin, "admin named in users keeps its generated password");
        assert.equal(await statusOf("admin", after.passwords.admin), 200);
        assert.equal(await statusOf("ci", after.passwords.ci), 200);
        assert.equal(await statusOf("reader", after.passwords.reader), 200);
        assert.equal(await statusOf("reader", after.passwords.reader, "POST", "/v2/tools/alpine/blobs/uploads/"), 403, "pull only");
    });

    test("Run it, Rotate a password: a set one is replaced, the old one refused", async () => {
        const before = await outputs();
        succeeded(await block("password-set"), "the README's password-set block");
        const after = await outputs();
        assert.notEqual(after.passwords.ci, before.passwords.ci);
        assert.equal(await statusOf("ci", before.passwords.ci), 401, "the old password");
        assert.equal(await statusOf("ci", after.passwords.ci), 200, "the new password");
        assert.equal(after.passwords.reader, before.passwords.reader, "other users keep theirs");
        assert.equal(after.passwords.admin, before.passwords.admin, "other users keep theirs");
    });

    test("Run it, Rotate a password: a generated one, by replacing its resource found by URN; the old one refused", async () => {
        const before = await outputs();
        const r = await block("password-generated");
        succeeded(r, "the README's password-generated block");
        assert.match(r.stdout, /registry-users-reader-password/, "the URN found and the resource replaced");
        assert.match(r.stdout, /1 replaced/);
        const after = await outputs();
        assert.equal(r.stdout.trim().split("\n").at(-1), after.passwords.reader, "the block prints the new password");
        assert.notEqual(after.passwords.reader, before.passwords.reader);
        assert.equal(await statusOf("reader", before.passwords.reader), 401, "the old password");
        assert.equal(await statusOf("reader", after.passwords.reader), 200, "the new password");
        assert.equal(after.passwords.admin, before.passwords.admin, "other users keep theirs");
        assert.equal(after.passwords.ci, before.passwords.ci, "other users keep theirs");
    });

    test("Run it, Remove a user: the preview names it, and its credentials are refused once up returns", async () => {
        const before = await outputs();
        const r = await block("users-remove");
        succeeded(r, "the README's users-remove block");
        assert.match(`${r.stdout}${r.stderr}`, /users removed by this update: ci\b/);
        const after = await outputs();
        assert.deepEqual([...after.userNames].sort(), ["admin", "reader"]);
        assert.equal(await statusOf("ci", before.passwords.ci), 401);
        assert.equal(await statusOf("reader", after.passwords.reader), 200, "the others still log in");
    });

    test("Back up and restore: the state and the stack file, restored on another machine, give the same passwords and a preview with no change", async () => {
        const r = await block("backup-state");
        succeeded(r, "the README's backup-state block");
        const exported = fs.readFileSync(path.join(checkout, "registry-dev.state.json"), "utf8");
        const { passwords } = await outputs();
        for (const [user, password] of Object.entries(passwords))
            assert.ok(!exported.includes(password), `${user}'s password is not in the export in clear text`);
        // Another machine: a checkout of its own (with the shipped Pulumi.dev.yaml), a home of its
        // own (no backend, no stack), and the two files of the backup.
        machine = copyProject();
        const home2 = path.join(work, "home2");
        fs.mkdirSync(home2);
        for (const f of ["registry-dev.state.json", "registry-dev.Pulumi.dev.yaml"])
            fs.copyFileSync(path.join(checkout, f), path.join(machine, f));
        const restore = await block("restore-state", machine, home2);
        succeeded(restore, "the README's restore-state block");
        assert.doesNotMatch(restore.stdout, CHANGES, "the restored state matches what runs");
        assert.match(restore.stdout, /\d+ unchanged/);
        assert.deepEqual((await outputs(machine, home2)).passwords, passwords, "the generated passwords came back");
    });

    test("Back up and restore: the volumes; a push made after the backup is gone and the certificate is served again after the restore", async () => {
        const ep = await endpoint();
        const served = (await peerCertificate(ep)).fingerprint256;
        succeeded(await block("backup-volumes"), "the README's backup-volumes block");
        assert.ok(
            (await tarNames(path.join(checkout, "registry-dev-data.tar"))).includes("./docker/registry/v2/repositories/tools/alpine/"),
        );
        assert.ok((await tarNames(path.join(checkout, "registry-dev-certs.tar"))).some((n) => /^\.\/live\/.+\/fullchain\.pem$/.test(n)));
        assert.deepEqual(await tagsOf("tools/alpine"), { name: "tools/alpine", tags: ["3"] }, "the registry serves again");
        // After the backup: a new tag pushed, and every file of the certificates volume lost.
        const push = await shell(
            [
                PASSPHRASE,
                "pulumi stack output passwords --show-secrets --stack dev | jq -r .admin | docker login registry.test:8443 --username admin --password-stdin",
                "docker tag alpine:3 registry.test:8443/tools/alpine:after-backup",
                "docker push registry.test:8443/tools/alpine:after-backup",
            ].join("\n"),
            checkout,
        );
        succeeded(push, "a push after the backup");
        assert.deepEqual(await tagsOf("tools/alpine"), { name: "tools/alpine", tags: ["3", "after-backup"] });
        const image = await docker(["inspect", "--format", "{{.Image}}", `${DEV.prefix}-registry`]);
        await docker([
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            "-v",
            `${DEV.prefix}-certs:/certs`,
            image,
            "-c",
            "find /certs -mindepth 1 -delete",
        ]);
        succeeded(await block("restore-volumes"), "the README's restore-volumes block");
        // tagsOf waits until nginx and the registry, both started again, serve.
        assert.deepEqual(await tagsOf("tools/alpine"), { name: "tools/alpine", tags: ["3"] }, "the data as it was at the backup");
        assert.equal((await peerCertificate(ep)).fingerprint256, served, "the same certificate, from the restored volume");
        const { passwords } = await outputs();
        assert.equal(await statusOf("admin", passwords.admin), 200);
    });

    test("Upgrade the program: its commands run, and an up with nothing new changes nothing", async () => {
        // The checkout is no git clone, and its node_modules are the tests' own: `git pull` and
        // `npm ci` are stand-ins that record their arguments. Anything else goes to the real
        // tool (Pulumi's Node.js host asks `npm --version`).
        const shims = path.join(work, "upgrade-shims");
        const calls = path.join(work, "upgrade-calls");
        fs.mkdirSync(shims);
        for (const [tool, stands] of [
            ["git", "pull"],
            ["npm", "ci"],
        ]) {
            const real = (await run("sh", ["-c", `command -v ${tool} || echo false`])).stdout.trim();
            fs.writeFileSync(
                path.join(shims, tool),
                `#!/bin/sh\nif [ "$1" = ${stands} ]; then echo "${tool} $*" >> ${calls}; exit 0; fi\nexec ${real} "$@"\n`,
                { mode: 0o755 },
            );
        }
        const r = await shell([`export PATH=${shims}:$PATH`, PASSPHRASE, readmeBlock("upgrade")].join("\n"), checkout);
        succeeded(r, "the README's upgrade block");
        assert.equal(fs.readFileSync(calls, "utf8"), "git pull\nnpm ci\n");
        assert.doesNotMatch(r.stdout, CHANGES, "nothing to change: the same version");
    });

    test("Uninstall: destroy keeps the data and certificates volumes; the cleanup removes them, the hosts line, the CA and the stack", async () => {
        // The consumer's stack first: its image was pushed through this registry.
        succeeded(
            await shell(`${PASSPHRASE}\ncd examples/consumer && pulumi destroy --yes --stack dev`, checkout),
            "the consumer's destroy",
        );
        succeeded(await block("destroy"), "the README's destroy block");
        deployed = false;
        assert.equal(await docker(["ps", "-a", "--filter", `name=^${DEV.prefix}-`, "--format", "{{.Names}}"]), "");
        assert.equal(await docker(["network", "ls", "--filter", `name=^${DEV.prefix}-`, "--format", "{{.Name}}"]), "");
        const kept = (await docker(["volume", "ls", "--filter", `name=^${DEV.prefix}-`, "--format", "{{.Name}}"])).split("\n").sort();
        assert.deepEqual(kept, [`${DEV.prefix}-certs`, `${DEV.prefix}-data`], "what the README says stays");
        // The block edits /etc/hosts, which other test files edit too: under their lock.
        succeeded(await withHostsLock(() => block("cleanup")), "the README's cleanup block");
        assert.equal(await docker(["volume", "ls", "--filter", `name=^${DEV.prefix}-`, "--format", "{{.Name}}"]), "");
        assert.ok(!fs.readFileSync(HOSTS_FILE, "utf8").split("\n").includes(DEV.hostsLine), "the hosts line is gone");
        assert.equal(fs.existsSync(DEV.certsDir), false, "Pebble's root is gone from certs.d");
        assert.equal(fs.existsSync(path.join(checkout, "Pulumi.dev.yaml")), false, "pulumi stack rm deletes the stack file");
        const stacks = await shell(`${PASSPHRASE}\npulumi stack ls`, checkout);
        succeeded(stacks, "pulumi stack ls");
        assert.doesNotMatch(stacks.stdout, /^dev\b/m, "the stack is gone");
    });

    test("the library example is its own program: PrivateRegistry from plain args passes pulumi preview", async () => {
        const script = ["export PULUMI_CONFIG_PASSPHRASE=...", readmeBlock("library")].join("\n");
        const r = await shell(script, checkout);
        assert.equal(r.code, 0, `the library example's commands failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        // No stack config key of the registry's project (private-registry:<key>); the component's type is private-registry:index:….
        assert.doesNotMatch(
            `${r.stdout}${r.stderr}`,
            /private-registry:(?!index:)/,
            "it runs its own program, not the registry's stack config",
        );
        // Its own resource, the component and the component's children, all under the example's project.
        assert.match(r.stdout, /\+\s+random:index:RandomPassword\s+ci-password\s+create/);
        assert.match(r.stdout, /\+\s+private-registry:index:PrivateRegistry\s+registry\s+create/);
        assert.match(r.stdout, /\+\s+pulumi:pulumi:Stack\s+registry-library-dev\s+create/);
        assert.match(r.stdout, /url\s*: "https:\/\/registry\.example\.com"/);
        assert.ok(Number(/\+ (\d+) to create/.exec(r.stdout)?.[1] ?? 0) >= 25, r.stdout);
    });

    test("the YAML example uses the component package: its preview declares the registry, the secret stays encrypted", async () => {
        const r = await shell(["export PULUMI_CONFIG_PASSPHRASE=...", readmeBlock("yaml")].join("\n"), checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.match(r.stdout, /\+\s+private-registry:index:PrivateRegistry\s+registry\s+create/);
        assert.match(r.stdout, /\+\s+docker:index:Container\s+registry-nginx\s+create/);
        assert.ok(Number(/\+ (\d+) to create/.exec(r.stdout)?.[1] ?? 0) >= 25, r.stdout);
        const stackFile = fs.readFileSync(path.join(checkout, "examples", "yaml", "Pulumi.dev.yaml"), "utf8");
        assert.match(stackFile, /ciPassword:\s*\n?\s*secure: /, "the password stored encrypted");
    });

    test("the Python example adds the package (its SDK generated) and previews the registry", async () => {
        const r = await shell(["export PULUMI_CONFIG_PASSPHRASE=...", readmeBlock("python")].join("\n"), checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.match(r.stdout, /import pulumi_private_registry/);
        assert.match(r.stdout, /\+\s+private-registry:index:PrivateRegistry\s+registry\s+create/);
        assert.match(r.stdout, /\+\s+random:index:RandomPassword\s+registry-users-reader-password\s+create/);
        assert.ok(Number(/\+ (\d+) to create/.exec(r.stdout)?.[1] ?? 0) >= 25, r.stdout);
        assert.ok(fs.existsSync(path.join(checkout, "examples", "python", "sdks", "private-registry")), "the SDK is generated");
    });

    test("the private-network walkthrough (DNS-01, port 80 unpublished) passes pulumi preview, the TSIG secret encrypted", async () => {
        // The key file as `tsig-keygen registry-key` writes it.
        const secret = randomBytes(32).toString("base64");
        fs.writeFileSync(
            path.join(checkout, "registry-key.conf"),
            `key "registry-key" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`,
        );
        const script = [
            "export PULUMI_CONFIG_PASSPHRASE=...",
            "pulumi stack init private",
            "pulumi config set domain registry.internal.example.com",
            readmeBlock("private-network"),
        ].join("\n");
        const r = await shell(script, checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.ok(Number(/\+ (\d+) to create/.exec(r.stdout)?.[1] ?? 0) >= 25, r.stdout);
        const stackFile = fs.readFileSync(path.join(checkout, "Pulumi.private.yaml"), "utf8");
        assert.ok(
            !stackFile.includes(secret) && !`${r.stdout}${r.stderr}`.includes(secret),
            "the secret is not in the stack file or the output",
        );
        assert.match(stackFile, /secret:\s*\n?\s*secure: /, "stored encrypted");
    });

    test("the several-hosts block, with S3 and DNS-01 set, passes pulumi preview: both hosts' stacks, Redis on node-1, the password encrypted", async () => {
        // No host of the README exists here, and nothing may leave this machine: an `ssh` that
        // would record where it was asked to go and fail, as an unreachable host would.
        const shim = path.join(work, "ssh-shim");
        const calls = path.join(work, "ssh-calls");
        fs.mkdirSync(shim, { recursive: true });
        fs.writeFileSync(
            path.join(shim, "ssh"),
            `#!/bin/sh\necho "$*" >> ${calls}\necho "ssh: not reachable from the tests" >&2\nexit 255\n`,
            {
                mode: 0o755,
            },
        );
        const script = [
            `export PATH=${shim}:$PATH`,
            "export PULUMI_CONFIG_PASSPHRASE=...",
            "pulumi stack init hosts",
            "pulumi config set domain registry.example.com",
            // What the section says more than one host needs: S3 and DNS-01 (their own sections).
            "pulumi config set acmeChallenge dns",
            "pulumi config set dnsPlugin rfc2136",
            "pulumi config set --path dnsCredentials.server 192.0.2.53",
            "pulumi config set --path dnsCredentials.name registry-key",
            "echo c2VjcmV0LWtleS1mb3ItdGhlLXRlc3Q= | pulumi config set --secret --path dnsCredentials.secret",
            "pulumi config set --path storage.driver s3",
            "pulumi config set --path storage.bucket images",
            "pulumi config set --path storage.region eu-west-1",
            readmeBlock("several-hosts"),
            "pulumi preview --stack hosts",
        ].join("\n");
        const r = await shell(script, checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        for (const node of ["node-1", "node-2"]) {
            assert.match(r.stdout, new RegExp(`pulumi:providers:docker registry-${node}-docker create`));
            assert.match(r.stdout, new RegExp(`docker:index:Container registry-${node}-gc-coordinator create`));
            assert.match(r.stdout, new RegExp(`command:local:Command registry-${node}-ready create`));
        }
        assert.match(r.stdout, /docker:index:Container registry-node-1-redis create/);
        assert.doesNotMatch(r.stdout, /registry-node-2-redis create/);
        assert.equal(fs.existsSync(calls), false, "a preview contacts no host");
        const stackFile = fs.readFileSync(path.join(checkout, "Pulumi.hosts.yaml"), "utf8");
        assert.match(stackFile, /password:\s*\n?\s*secure: /, "the Redis password stored encrypted");
    });

    test("the team example (per-repository access and retention) passes pulumi preview with what it says", async () => {
        const r = await shell(["export PULUMI_CONFIG_PASSPHRASE=...", readmeBlock("team")].join("\n"), checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.ok(Number(/\+ (\d+) to create/.exec(r.stdout)?.[1] ?? 0) >= 25, r.stdout);
        // The users it names get generated passwords; the default admin is not declared.
        assert.match(r.stdout, /random:index:RandomPassword\s+registry-users-ci-password\s+create/);
        assert.match(r.stdout, /random:index:RandomPassword\s+registry-users-dev-password\s+create/);
        assert.doesNotMatch(r.stdout, /registry-users-admin-password/);
        const config = (yaml.load(fs.readFileSync(path.join(checkout, "Pulumi.team.yaml"), "utf8")) as { config: Record<string, unknown> })
            .config;
        assert.deepEqual(config["private-registry:users"], {
            ci: { access: "none", repositories: { "team-a/**": "push" } },
            dev: { access: "pull" },
        });
        assert.deepEqual(config["private-registry:retention"], [{ repositories: "**", keepTags: "release-.*", keepLast: 10 }]);
    });

    test("the Monitoring block passes pulumi preview: the endpoint's install, nginx's new port, the password encrypted", async () => {
        const script = [
            "export PULUMI_CONFIG_PASSPHRASE=...",
            "pulumi stack init monitoring",
            "pulumi config set domain registry.example.com",
            readmeBlock("monitoring"),
        ].join("\n");
        const r = await shell(script, checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.ok(Number(/\+ (\d+) to create/.exec(r.stdout)?.[1] ?? 0) >= 25, r.stdout);
        // --diff prints each resource's inputs after its URN, up to the next resource's "(create)" (or the end).
        const created = (type: string, name: string) =>
            new RegExp(`\\+ ${type}: \\(create\\)\\n\\s*\\[urn=[^\\]]*::${name}\\]\\n([\\s\\S]*?)(?:\\(create\\)|$)`).exec(r.stdout)?.[1];
        // The endpoint's files installed into nginx (components/metricsEndpoint.ts).
        assert.ok(created("command:local:Command", "registry-metrics-install") !== undefined, r.stdout);
        // nginx's container, with the scrape port published on the address given, besides 443 and 80.
        const nginx = created("docker:index/container:Container", "registry-nginx");
        assert.ok(nginx, `no nginx container in the preview:\n${r.stdout.slice(0, 4000)}`);
        assert.match(nginx, /external\s*: 9145\s*\n\s*internal\s*: 9145\s*\n\s*ip\s*: "10\.0\.0\.5"/, nginx);
        assert.match(nginx, /external\s*: 443\s*\n\s*internal\s*: 443\b/);
        const stored = await shell(`${PASSPHRASE}\npulumi config get --stack monitoring --path metrics.password`, checkout);
        succeeded(stored, "pulumi config get");
        const password = stored.stdout.trim();
        assert.match(password, /^[0-9a-f]{48}$/, "openssl's password, read from stdin");
        const stackFile = fs.readFileSync(path.join(checkout, "Pulumi.monitoring.yaml"), "utf8");
        assert.ok(
            !stackFile.includes(password) && !`${r.stdout}${r.stderr}`.includes(password),
            "the password is not in the stack file or the output",
        );
        assert.match(stackFile, /password:\s*\n?\s*secure: /, "stored encrypted");
    });

    test("the Docker Hub mirror block passes pulumi preview: the mirror's container and cache volume, its snippet, the password encrypted", async () => {
        const token = `hub-${randomBytes(12).toString("hex")}`;
        const script = [
            "export PULUMI_CONFIG_PASSPHRASE=...",
            `export HUB_TOKEN=${token}`,
            "pulumi stack init mirrors",
            "pulumi config set domain registry.example.com",
            readmeBlock("mirrors"),
        ].join("\n");
        const r = await shell(script, checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.match(r.stdout, /\+\s+docker:index:Container\s+registry-mirror-hub\s+create/);
        assert.match(r.stdout, /\+\s+docker:index:Volume\s+registry-mirror-hub-data\s+create/);
        assert.match(r.stdout, /registry-mirrors: \[\s*\[0\]: "https:\/\/hub\.registry\.example\.com"/, "the daemon.json snippet");
        const stackFile = fs.readFileSync(path.join(checkout, "Pulumi.mirrors.yaml"), "utf8");
        assert.ok(
            !stackFile.includes(token) && !`${r.stdout}${r.stderr}`.includes(token),
            "the password is not in the stack file or the output",
        );
        assert.match(stackFile, /password:\s*\n?\s*secure: /, "stored encrypted");
        // Read from stdin, the password is stored without printenv's line break.
        const stored = await shell(`${PASSPHRASE}\npulumi config get --stack mirrors --path 'mirrors[0].password'`, checkout);
        succeeded(stored, "pulumi config get");
        assert.equal(stored.stdout, `${token}\n`);
    });

    test("a production stack with only domain and acmeEmail set passes pulumi preview", async () => {
        const script = [
            "export PULUMI_CONFIG_PASSPHRASE=...",
            "pulumi stack init prod",
            "pulumi config set domain registry.example.com",
            "pulumi config set acmeEmail ops@example.com",
            "pulumi preview --stack prod",
        ].join("\n");
        const r = await shell(script, checkout);
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.match(r.stdout, /\+ (\d+) to create/);
        assert.ok(Number(/\+ (\d+) to create/.exec(r.stdout)![1]) >= 25, r.stdout);
        assert.match(r.stdout, /registry-prod-nginx|registry-nginx/);
    });
});
