// The HTTPS server with mirrors (configs/mirrors.ts: an upstream group per mirror, and the map
// from host name to group that proxy_pass follows) passes the nginx the stacks run: `nginx -t`
// in the test bed's image. Needs Docker and the bed's images: `npm run test:nginx`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, test } from "node:test";
import { AUTH_MODULE_PATH, renderHttpServer, renderHttpsServer, renderMainConf, renderNginxAuthModule } from "../../configs/nginx";
import { ARGS_NAMING, parseSettings } from "../../settings/parse";
import { layOut, selfSignedCert, tmp } from "../harness/nginxRoot";
import { loadImages } from "../live/bed";

const NGINX_IMAGE = loadImages().NGINX_IMAGE;

function nginxTest(confFile: string): { ok: boolean; output: string } {
    const root = path.dirname(path.dirname(confFile));
    const r = spawnSync(
        "docker",
        ["run", "--rm", "--network", "none", "--entrypoint", "nginx", "-v", `${root}:${root}`, NGINX_IMAGE, "-t", "-c", confFile],
        { encoding: "utf8", timeout: 60_000 },
    );
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}${r.error ?? ""}` };
}

describe("the HTTPS server with mirrors passes a real nginx -t", () => {
    test("two mirrors, each host name routed to its own socket", () => {
        const settings = parseSettings(
            {
                domain: "registry.test",
                acmeServer: "pebble",
                domains: ["other.registry.test"],
                mirrors: [
                    { name: "hub", upstream: "https://registry-1.docker.io" },
                    { name: "ghcr", upstream: "https://ghcr.io", ttl: "24h" },
                ],
            },
            "dev",
            ARGS_NAMING,
        );
        const root = tmp();
        selfSignedCert(root);
        const conf = layOut(root, {
            "nginx.conf": renderMainConf(settings),
            [AUTH_MODULE_PATH]: renderNginxAuthModule(settings),
            "servers/00-http.conf": renderHttpServer(),
            "servers/10-https.conf": renderHttpsServer(settings),
        });
        const r = nginxTest(conf);
        assert.ok(r.ok, r.output);
        assert.doesNotMatch(r.output, /conflicting server name/);
    });
});
