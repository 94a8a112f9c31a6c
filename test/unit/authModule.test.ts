// The authentication module (configs/auth.ts) in a real nginx with njs (the test bed's image),
// without Pulumi: the rendered main config, HTTPS server, access rules and users' file, with
// the failure limit and window shortened so that a limit's whole life fits in a few seconds.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { AUTH_LIMITS, renderAuthModule } from "../../configs/auth";
import { htpasswdLine, renderAccessRules } from "../../configs/htpasswd";
import { AUTH_MODULE_PATH, NGINX_CONTROL_DIR, renderHttpsServer, renderMainConf } from "../../configs/nginx";
import { NGINX_HTTPS_PORT } from "../../configs/ports";
import { parseSettings } from "../../configs/settings";
import { layOut, selfSignedCert, tmp } from "../harness/nginxRoot";
import { loadImages } from "../live/bed";
import { basic, Endpoint, httpsRequest, Reply } from "../live/client";

const LIMIT = 3;
const WINDOW_SECONDS = 3;
const settings = parseSettings({ domain: "registry.test", acmeServer: "pebble" }, "dev");
const ALICE = { name: "alice", password: "alice-password-123" };
const READER = { name: "reader", password: "reader-password-123" };

function docker(args: string[]): string {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`docker ${args[0]}: ${r.stderr}`);
    return r.stdout.trim();
}

describe("the authentication module in a real nginx (limit 3 failures per 3 s)", () => {
    const root = tmp();
    let container = "";
    let ep: Endpoint;
    const get = (auth?: string, method = "GET"): Promise<Reply> => httpsRequest(ep, "/v2/", { auth, method });

    before(async () => {
        selfSignedCert(root);
        const htpasswd = "/etc/nginx/auth/htpasswd-test";
        const conf = layOut(root, {
            "nginx.conf": renderMainConf(settings),
            [AUTH_MODULE_PATH]: renderAuthModule(10, NGINX_CONTROL_DIR, {
                ...AUTH_LIMITS,
                failureLimit: LIMIT,
                failureWindowSeconds: WINDOW_SECONDS,
            }),
            "servers/10-https.conf": renderHttpsServer(settings),
            "access/users.conf": renderAccessRules(
                [
                    { name: ALICE.name, access: "push" },
                    { name: READER.name, access: "pull" },
                ],
                htpasswd,
            ),
        });
        fs.writeFileSync(
            path.join(root, "auth", path.basename(htpasswd)),
            [ALICE, READER].map((u) => htpasswdLine(u.name, u.password, "unit-test-salt-key", 10)).join("\n") + "\n",
        );
        // nginx's workers run as nobody: they read the users' file at request time.
        for (const dir of [root, path.join(root, "auth")]) fs.chmodSync(dir, 0o755);
        const image = loadImages().NGINX_IMAGE;
        container = docker([
            "run",
            "--detach",
            "--rm",
            "--entrypoint",
            "nginx",
            "-v",
            `${root}:${root}`,
            image,
            "-c",
            conf,
            "-g",
            "daemon off;",
        ]);
        const address = docker(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container]);
        const ca = fs.readFileSync(path.join(root, "letsencrypt", "live", "registry", "fullchain.pem"), "utf8");
        ep = { domain: "registry.test", address, httpPort: 0, httpsPort: NGINX_HTTPS_PORT, ca };
        for (let i = 0; i < 100; i++) {
            try {
                await get();
                return;
            } catch {
                await new Promise((r) => setTimeout(r, 100));
            }
        }
        throw new Error(`nginx did not answer: ${docker(["logs", container])}`);
    });

    after(() => {
        if (container) spawnSync("docker", ["rm", "--force", container]);
        fs.rmSync(root, { recursive: true, force: true });
    });

    test("valid credentials pass (to the registry, absent here: 502), a pull-only user's write is 403, no credentials 401", async () => {
        const none = await get();
        assert.equal(none.status, 401);
        assert.match(String(none.headers["www-authenticate"]), /^Basic realm=/);
        assert.equal((await get(basic(ALICE.name, ALICE.password))).status, 502);
        assert.equal((await get(basic(READER.name, READER.password))).status, 502);
        const denied = await get(basic(READER.name, READER.password), "POST");
        assert.equal(denied.status, 403);
        assert.match(denied.body, /DENIED/);
    });

    test("an address is refused with 429 after the limit until its window is over, then counted afresh; remembered credentials pass throughout", async () => {
        const wrong = (i: number) => get(basic(ALICE.name, `wrong-password-${i}`));
        for (let i = 0; i < LIMIT; i++) assert.equal((await wrong(i)).status, 401, `failure ${i + 1}`);
        const limited = await wrong(LIMIT);
        assert.equal(limited.status, 429);
        const retryAfter = Number(limited.headers["retry-after"]);
        assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_SECONDS, `Retry-After ${limited.headers["retry-after"]}`);
        assert.ok(limited.headers["strict-transport-security"]);
        // Verified before the limit: still let through from the limited address.
        assert.equal((await get(basic(ALICE.name, ALICE.password))).status, 502);

        await new Promise((r) => setTimeout(r, retryAfter * 1000 + 300));
        for (let i = 0; i < LIMIT; i++) assert.equal((await wrong(10 + i)).status, 401, `new window, failure ${i + 1}`);
        assert.equal((await wrong(20)).status, 429, "limited again after the limit in the new window");
    });
});
