// The nginx configs in the nginx the stacks run (the test bed's image: nginx with njs, as the
// official image has it): each rendered set passes, or is refused by, a real `nginx -t`, and
// trustedProxies decides the client address in a running nginx. Needs Docker and the bed's
// images (test/bed/images.sh): `npm run test:nginx`, part of `npm test`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { AUTH_FAILURE_LIMIT } from "../../configs/auth";
import { renderAccessRules } from "../../configs/htpasswd";
import {
    AUTH_MODULE_PATH,
    renderFallbackConf,
    renderHttpServer,
    renderHttpsRedirect,
    renderHttpsServer,
    renderMainConf,
    renderNginxAuthModule,
} from "../../configs/nginx";
import { NGINX_HTTPS_PORT } from "../../configs/ports";
import { parseSettings } from "../../settings/parse";
import { layOut, selfSignedCert, tmp } from "../harness/nginxRoot";
import { loadImages } from "../live/bed";

const NGINX_IMAGE = loadImages().NGINX_IMAGE;
const settings = parseSettings({ domain: "registry.test", acmeServer: "pebble", httpsPort: "8443" }, "dev");

/** nginx.conf and the authentication module it loads, as the HTTP config step installs them. */
function mainConf(): Record<string, string> {
    return { "nginx.conf": renderMainConf(settings), [AUTH_MODULE_PATH]: renderNginxAuthModule(settings) };
}

/**
 * `nginx -t` by the nginx the stacks run: the test bed's image (Debian's nginx with njs, as
 * the official image has it), with `root` mounted at its own path, no network.
 */
function nginxTest(confFile: string): { ok: boolean; output: string } {
    const root = path.dirname(path.dirname(confFile));
    const r = spawnSync(
        "docker",
        ["run", "--rm", "--network", "none", "--entrypoint", "nginx", "-v", `${root}:${root}`, NGINX_IMAGE, "-t", "-c", confFile],
        { encoding: "utf8", timeout: 60_000 },
    );
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}${r.error ?? ""}` };
}

describe("nginx configs pass a real nginx -t", () => {
    test("main config with the HTTP server alone (before any certificate)", () => {
        const root = tmp();
        const conf = layOut(root, { ...mainConf(), "servers/00-http.conf": renderHttpServer() });
        const r = nginxTest(conf);
        assert.ok(r.ok, r.output);
    });

    test("main config with HTTP, HTTPS and access rules for a pull-only user", () => {
        const root = tmp();
        selfSignedCert(root);
        const conf = layOut(root, {
            ...mainConf(),
            "servers/00-http.conf": renderHttpServer(),
            "servers/10-https.conf": renderHttpsServer(settings),
            "redirect/https.conf": renderHttpsRedirect(settings),
            "access/users.conf": renderAccessRules(
                [
                    { name: "ci.bot", access: "pull" },
                    { name: "alice", access: "push" },
                ],
                "/etc/nginx/auth/htpasswd-0123456789abcdef",
            ),
        });
        const r = nginxTest(conf);
        assert.ok(r.ok, r.output);
    });

    test("the HTTPS server without its certificate is rejected (so the installer would keep the old config)", () => {
        const root = tmp();
        const conf = layOut(root, { ...mainConf(), "servers/10-https.conf": renderHttpsServer(settings) });
        const r = nginxTest(conf);
        assert.equal(r.ok, false);
        assert.match(r.output, /fullchain\.pem/);
    });

    test("the fallback config passes nginx -t", () => {
        const root = tmp();
        const conf = layOut(root, { "nginx.conf": renderFallbackConf() });
        const r = nginxTest(conf);
        assert.ok(r.ok, r.output);
    });

    test("trustedProxies: nginx -t accepts the real_ip directives", () => {
        const trusting = parseSettings(
            {
                domain: "registry.test",
                acmeServer: "pebble",
                trustedProxies: JSON.stringify(["10.0.0.10", "10.1.0.0/16", "fd00::/64", "2001:db8::7", "::ffff:10.2.0.0/112"]),
            },
            "dev",
        );
        const root = tmp();
        selfSignedCert(root);
        const conf = layOut(root, {
            "nginx.conf": renderMainConf(trusting),
            [AUTH_MODULE_PATH]: renderNginxAuthModule(trusting),
            "servers/00-http.conf": renderHttpServer(),
            "servers/10-https.conf": renderHttpsServer(trusting),
        });
        const r = nginxTest(conf);
        assert.ok(r.ok, r.output);
    });
});

describe("trustedProxies in a real nginx (the test bed's image)", () => {
    test("X-Forwarded-For from them alone decides the address the failure limit counts and the log shows", () => {
        // In a container without a network: 127.0.0.2 is the trusted balancer, 127.0.0.1 anyone else.
        const trusting = parseSettings({ domain: "registry.test", acmeServer: "pebble", trustedProxies: '["127.0.0.2"]' }, "dev");
        const root = tmp();
        selfSignedCert(root);
        const conf = layOut(root, {
            "nginx.conf": renderMainConf(trusting),
            [AUTH_MODULE_PATH]: renderNginxAuthModule(trusting),
            "servers/10-https.conf": renderHttpsServer(trusting),
        });
        fs.chmodSync(root, 0o755);
        const run = (args: string[], input?: string) => spawnSync("docker", args, { encoding: "utf8", input, timeout: 120_000 });
        const started = run([
            "run",
            "--detach",
            "--network",
            "none",
            "--entrypoint",
            "nginx",
            "-v",
            `${root}:${root}`,
            NGINX_IMAGE,
            "-c",
            conf,
            "-g",
            "daemon off;",
        ]);
        assert.equal(started.status, 0, started.stderr);
        const container = started.stdout.trim();
        try {
            // Each line: from (source address), X-Forwarded-For; answers the status of a wrong
            // password for an unknown user (counted against the address, no bcrypt).
            const url = `https://127.0.0.1:${NGINX_HTTPS_PORT}`;
            const script = [
                `until curl -sk -o /dev/null ${url}/; do sleep 0.1; done`,
                "i=0",
                "while read -r from xff; do",
                "  i=$((i + 1))",
                `  curl -sk -o /dev/null -w "%{http_code}\\n" --interface "$from" -u "nobody:wrong-$i" -H "X-Forwarded-For: $xff" ${url}/v2/`,
                "done",
            ].join("\n");
            const lines = (from: string, xff: string, n = 1) => Array.from({ length: n }, () => `${from} ${xff}`);
            const requests = [
                ...lines("127.0.0.2", "198.51.100.7", AUTH_FAILURE_LIMIT + 1), // the balancer's client: limited on its own
                ...lines("127.0.0.2", "198.51.100.8"), // another client behind it: not limited
                ...lines("127.0.0.2", "198.51.100.7,127.0.0.2"), // the balancer's own hop skipped (recursive)
                ...lines("127.0.0.1", "198.51.100.9", AUTH_FAILURE_LIMIT), // a forged header: counted against 127.0.0.1
                ...lines("127.0.0.2", "198.51.100.9"), // so 198.51.100.9 is not limited
                ...lines("127.0.0.1", "198.51.100.10"), // and 127.0.0.1 is, whatever it claims
            ];
            const r = run(["exec", "-i", container, "sh", "-c", script], requests.join("\n") + "\n");
            assert.equal(r.status, 0, r.stderr);
            const statuses = r.stdout.trim().split("\n");
            assert.deepEqual(statuses, [
                ...Array(AUTH_FAILURE_LIMIT).fill("401"),
                "429",
                "401",
                "429",
                ...Array(AUTH_FAILURE_LIMIT).fill("401"),
                "401",
                "429",
            ]);
            const log = run(["logs", container])
                .stdout.split("\n")
                .filter((l) => l.includes("GET /v2/ "));
            const clients = log.map((l) => l.split(" ")[0]);
            assert.equal(clients.length, requests.length, log.join("\n"));
            assert.deepEqual(clients, [
                ...Array(AUTH_FAILURE_LIMIT + 1).fill("198.51.100.7"),
                "198.51.100.8",
                "198.51.100.7",
                ...Array(AUTH_FAILURE_LIMIT).fill("127.0.0.1"),
                "198.51.100.9",
                "127.0.0.1",
            ]);
        } finally {
            run(["rm", "--force", container]);
        }
    });
});
