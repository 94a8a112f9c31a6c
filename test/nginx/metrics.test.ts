// The metrics endpoint's nginx files (configs/metrics.ts) in the nginx the stacks run: with
// the main config, the HTTP and HTTPS servers, a real `nginx -t` accepts them (njs compiles the
// module); a module nginx cannot load is refused. Needs Docker and the bed's images.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, test } from "node:test";
import { metricsCredentialHash, renderMetricsFiles } from "../../configs/metrics";
import { AUTH_MODULE_PATH, renderHttpServer, renderHttpsServer, renderMainConf, renderNginxAuthModule } from "../../configs/nginx";
import { parseSettings } from "../../settings/parse";
import { layOut, selfSignedCert, tmp } from "../harness/nginxRoot";
import { loadImages } from "../live/bed";

const NGINX_IMAGE = loadImages().NGINX_IMAGE;
const settings = parseSettings({ domain: "registry.test", acmeServer: "pebble", httpsPort: "8443", metrics: { enabled: true } }, "dev");

function nginxTest(confFile: string): { ok: boolean; output: string } {
    const root = path.dirname(path.dirname(confFile));
    const r = spawnSync(
        "docker",
        ["run", "--rm", "--network", "none", "--entrypoint", "nginx", "-v", `${root}:${root}`, NGINX_IMAGE, "-t", "-c", confFile],
        { encoding: "utf8", timeout: 60_000 },
    );
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}${r.error ?? ""}` };
}

function files(metrics: { path: string; content: string }[]): Record<string, string> {
    return {
        "nginx.conf": renderMainConf(settings),
        [AUTH_MODULE_PATH]: renderNginxAuthModule(settings),
        "servers/00-http.conf": renderHttpServer(),
        "servers/10-https.conf": renderHttpsServer(settings),
        ...Object.fromEntries(metrics.map((f) => [f.path, f.content])),
    };
}

describe("metrics endpoint in a real nginx -t", () => {
    test("with and without a credential, beside the registry's servers", () => {
        for (const hash of [metricsCredentialHash("a-long-scrape-password"), ""]) {
            const root = tmp();
            selfSignedCert(root);
            const r = nginxTest(layOut(root, files(renderMetricsFiles(settings, hash))));
            assert.ok(r.ok, r.output);
        }
    });

    test("a module njs cannot compile is refused (the installer keeps the running config)", () => {
        const root = tmp();
        selfSignedCert(root);
        const broken = renderMetricsFiles(settings, "").map((f) =>
            f.path.endsWith(".js") ? { ...f, content: `${f.content}\nthis is not javascript (\n` } : f,
        );
        const r = nginxTest(layOut(root, files(broken)));
        assert.equal(r.ok, false, r.output);
    });
});
