// Per-repository access (settings/repositories.ts) as the authentication module decides it in
// a real nginx with njs (the test bed's image), without Pulumi: the rendered main config,
// HTTPS server, module and access rules, with a stand-in registry on the registry's socket
// that answers 200 with the request line and Content-Type it got. Every decision is checked
// against the pure model (repositoryAccess, leastAccess), user by user, path by path.
// Needs Docker and the bed's images (test/bed/images.sh): `npm run test:nginx`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { renderAuthModule } from "../../configs/auth";
import { htpasswdLine, renderAccessRules } from "../../configs/htpasswd";
import { AUTH_MODULE_PATH, NGINX_CONTROL_DIR, renderHttpsServer, renderMainConf } from "../../configs/nginx";
import { NGINX_HTTPS_PORT } from "../../configs/ports";
import { REGISTRY_SOCKET } from "../../configs/registry";
import { parseSettings } from "../../settings/parse";
import { ACCESS_LEVEL, leastAccess, repositoryAccess } from "../../settings/repositories";
import type { UserSettings } from "../../settings/types";
import { layOut, selfSignedCert, tmp } from "../harness/nginxRoot";
import { loadImages } from "../live/bed";
import { basic, Endpoint, httpsRequest } from "../live/client";

type User = Pick<UserSettings, "name" | "access" | "repositories"> & { password: string };

const USERS: User[] = [
    { name: "ci", access: "none", repositories: { "team-a/*": "push" }, password: "ci-password-1234" },
    { name: "dev", access: "pull", repositories: {}, password: "dev-password-1234" },
    { name: "ops", access: "push", repositories: {}, password: "ops-password-1234" },
    {
        name: "mixed",
        access: "push",
        repositories: { "prod/**": "pull", "prod/scratch/*": "push", "**/cache": "pull", "team-?/app": "pull" },
        password: "mixed-password-1234",
    },
    { name: "reader", access: "none", repositories: { "**": "pull", "tools/*": "push" }, password: "reader-password-1234" },
];

const FILLER: User[] = Array.from({ length: 50 }, (_, i) => ({
    name: `filler-user-${i}`,
    access: "none",
    repositories: { [`team-${i}/*`]: "push", [`team-${i}/ci/**`]: "push", [`shared/team-${i}-*`]: "pull", [`tools/${i}/**`]: "pull" },
    password: `filler-password-${i}`,
}));

const REPOSITORIES = [
    "team-a/app",
    "team-a/x/y",
    "team-b/app",
    "team-a",
    "prod/web",
    "prod/scratch/tmp",
    "prod/scratch/a/b",
    "build/cache",
    "tools/lint",
    "plain",
    // Names holding a route's words: the name is everything before the route's last segments.
    "team-a/manifests",
    "team-a/blobs",
];
const DIGEST = `sha256:${"a".repeat(64)}`;
/** Each route of a repository: path suffix, and whether its method writes. */
const ROUTES: { suffix: string; method: string }[] = [
    { suffix: "/manifests/latest", method: "GET" },
    { suffix: "/manifests/latest", method: "HEAD" },
    { suffix: "/manifests/latest", method: "PUT" },
    { suffix: `/manifests/${DIGEST}`, method: "DELETE" },
    { suffix: `/blobs/${DIGEST}`, method: "GET" },
    { suffix: `/blobs/${DIGEST}`, method: "DELETE" },
    { suffix: "/blobs/uploads/", method: "POST" },
    { suffix: "/blobs/uploads/0b8c5f52-uuid", method: "PATCH" },
    { suffix: "/blobs/uploads/0b8c5f52-uuid", method: "PUT" },
    { suffix: "/blobs/uploads/0b8c5f52-uuid", method: "GET" },
    { suffix: "/tags/list", method: "GET" },
    { suffix: `/referrers/${DIGEST}`, method: "GET" },
];
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function docker(args: string[]): string {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`docker ${args[0]}: ${r.stderr}`);
    return r.stdout.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("per-repository access in a real nginx", () => {
    const root = tmp();
    let container = "";
    let ep: Endpoint;
    const user = (name: string) => USERS.find((u) => u.name === name)!;
    const as = (name: string, urlPath: string, method = "GET", body?: Buffer, contentType?: string) =>
        httpsRequest(ep, urlPath, { auth: basic(name, user(name).password), method, body, contentType });

    before(async () => {
        selfSignedCert(root);
        const htpasswd = "/etc/nginx/auth/htpasswd-test";
        const settings = parseSettings({ domain: "registry.test", acmeServer: "pebble" }, "dev");
        const conf = layOut(root, {
            "nginx.conf": renderMainConf(settings),
            [AUTH_MODULE_PATH]: renderAuthModule(10, NGINX_CONTROL_DIR),
            "servers/10-https.conf": renderHttpsServer(settings),
            // The registry's stand-in: what reached it, as it reached it.
            "servers/20-registry.conf": [
                "server {",
                `    listen unix:${REGISTRY_SOCKET};`,
                "    access_log off;",
                "    location / {",
                "        default_type text/plain;",
                '        return 200 "$request_method $request_uri ct=$http_content_type\\n";',
                "    }",
                "}",
                "",
            ].join("\n"),
            // 50 more users with 4 rules each, first: the rules pass nginx's 4 KiB limit on a
            // parameter, so the variables are set in chunks, and the users above are decided
            // from the later ones.
            "access/users.conf": renderAccessRules([...FILLER, ...USERS], htpasswd),
        });
        fs.mkdirSync(path.join(root, "run"), { recursive: true });
        fs.writeFileSync(
            path.join(root, "auth", path.basename(htpasswd)),
            USERS.map((u) => htpasswdLine(u.name, u.password, "unit-test-salt-key", 10)).join("\n") + "\n",
        );
        for (const dir of [root, path.join(root, "auth")]) fs.chmodSync(dir, 0o755);
        container = docker([
            "run",
            "--detach",
            "--rm",
            "--entrypoint",
            "nginx",
            "-v",
            `${root}:${root}`,
            loadImages().NGINX_IMAGE,
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
                await httpsRequest(ep, "/v2/");
                return;
            } catch {
                await sleep(100);
            }
        }
        throw new Error(`nginx did not answer: ${docker(["logs", container])}`);
    });

    after(() => {
        if (container) spawnSync("docker", ["rm", "--force", container]);
        fs.rmSync(root, { recursive: true, force: true });
    });

    test("users × repositories × routes: each request allowed (reaches the registry as sent) or 403 DENIED, as the model says", async () => {
        const wrong: string[] = [];
        let count = 0;
        for (const u of USERS) {
            for (const repository of REPOSITORIES) {
                const access = ACCESS_LEVEL[repositoryAccess(u, repository)];
                await Promise.all(
                    ROUTES.map(async ({ suffix, method }) => {
                        const urlPath = `/v2/${repository}${suffix}`;
                        const expected = access >= (WRITES.has(method) ? ACCESS_LEVEL.push : ACCESS_LEVEL.pull) ? 200 : 403;
                        const reply = await as(u.name, urlPath, method);
                        count++;
                        const reached = method === "HEAD" || reply.body.startsWith(`${method} ${urlPath} `);
                        if (
                            reply.status !== expected ||
                            (expected === 200 && !reached) ||
                            (expected === 403 && method !== "HEAD" && !/"code":"DENIED"/.test(reply.body))
                        )
                            wrong.push(`${u.name} ${method} ${urlPath}: ${reply.status} ${reply.body.trim()} (expected ${expected})`);
                    }),
                );
            }
        }
        console.log(`# ${count} requests`);
        assert.deepEqual(wrong, []);
    });

    test("the catalog: only users who may pull every repository; /v2/ for everyone; bad credentials 401 before any 403", async () => {
        for (const u of USERS) {
            const expected = ACCESS_LEVEL[leastAccess(u)] >= ACCESS_LEVEL.pull ? 200 : 403;
            assert.equal((await as(u.name, "/v2/_catalog")).status, expected, `${u.name}: catalog`);
            assert.equal((await as(u.name, "/v2/")).status, 200, `${u.name}: /v2/`);
        }
        assert.deepEqual(
            USERS.filter((u) => ACCESS_LEVEL[leastAccess(u)] < ACCESS_LEVEL.pull).map((u) => u.name),
            ["ci"],
        );
        const denied = await httpsRequest(ep, "/v2/team-b/app/manifests/latest", {
            auth: basic("ci", "wrong-password-123"),
            method: "PUT",
        });
        assert.equal(denied.status, 401);
        assert.equal((await httpsRequest(ep, "/v2/_catalog", { auth: basic("nobody", "wrong-password-123") })).status, 401);
    });

    test("paths naming no repository: as for every repository", async () => {
        assert.equal((await as("ci", "/v2/unknown")).status, 403);
        assert.equal((await as("dev", "/v2/unknown")).status, 200);
        assert.equal((await as("dev", "/v2/unknown", "DELETE")).status, 403);
        assert.equal((await as("ops", "/v2/unknown", "DELETE")).status, 200);
        assert.equal((await as("dev", "/v2/", "POST")).status, 403, "a write to the root: as for every repository");
        assert.equal((await as("ops", "/v2/", "POST")).status, 200);
        // Encoded and dot segments are judged as nginx (and the registry) normalise them.
        assert.equal((await as("ci", "/v2/team-a/app/../../team-b/app/manifests/latest")).status, 403);
        assert.equal((await as("ci", "/v2/team-b%2Fapp/manifests/latest")).status, 403);
        assert.equal((await as("ci", "/v2/team-a%2Fapp/manifests/latest")).status, 200);
    });

    test("a mount from a repository the user may not pull loses its mount parameters; one it may pull keeps them", async () => {
        const start = (q: string, name = "ci", repository = "team-a/app") =>
            as(name, `/v2/${repository}/blobs/uploads/?${q}`, "POST").then((r) => `${r.status} ${r.body.trim()}`);
        const upload = "/v2/team-a/app/blobs/uploads/";
        const cases: [string, string][] = [
            [`mount=${DIGEST}&from=team-b/app`, `200 POST ${upload} ct=`],
            [`mount=${DIGEST}&from=team-b%2Fapp`, `200 POST ${upload} ct=`],
            [`from=team-b%2Fapp&mount=${DIGEST}&digest=${DIGEST}`, `200 POST ${upload}?digest=${DIGEST} ct=`],
            [`mount=${DIGEST}&from=team-a/lib&from=team-b/app`, `200 POST ${upload} ct=`],
            [`mount=${DIGEST}&from=%zz`, `200 POST ${upload} ct=`],
            [`mount=${DIGEST};from=team-b/app`, `200 POST ${upload} ct=`],
            [`mount=${DIGEST}`, `200 POST ${upload} ct=`],
            [`mount=${DIGEST}&from=team-a/lib`, `200 POST ${upload}?mount=${DIGEST}&from=team-a/lib ct=`],
            [`mount=${DIGEST}&from=team-a%2Flib`, `200 POST ${upload}?mount=${DIGEST}&from=team-a%2Flib ct=`],
            [`digest=${DIGEST}`, `200 POST ${upload}?digest=${DIGEST} ct=`],
        ];
        for (const [q, expected] of cases) assert.equal(await start(q), expected, q);
        // Users who may pull everything keep every mount; the target still needs push.
        assert.equal(
            await start(`mount=${DIGEST}&from=secret/x`, "ops", "x"),
            `200 POST /v2/x/blobs/uploads/?mount=${DIGEST}&from=secret/x ct=`,
        );
        assert.match(await start(`mount=${DIGEST}&from=team-a/lib`, "ci", "team-b/app"), /^403 .*DENIED/);
    });

    test("form bodies reach the registry as plain data (Go would read their fields as query parameters)", async () => {
        const body = Buffer.from(`mount=${DIGEST}&from=team-b/app`);
        for (const type of [
            "application/x-www-form-urlencoded",
            "Multipart/Form-Data; boundary=x",
            "application/x-www-form-urlencoded; charset=utf-8",
        ]) {
            const reply = await as("ci", "/v2/team-a/app/blobs/uploads/", "POST", body, type);
            assert.equal(reply.body.trim(), "POST /v2/team-a/app/blobs/uploads/ ct=application/octet-stream", type);
        }
        const manifest = await as(
            "ci",
            "/v2/team-a/app/manifests/v1",
            "PUT",
            Buffer.from("{}"),
            "application/vnd.oci.image.manifest.v1+json",
        );
        assert.equal(manifest.body.trim(), "PUT /v2/team-a/app/manifests/v1 ct=application/vnd.oci.image.manifest.v1+json");
    });
});
