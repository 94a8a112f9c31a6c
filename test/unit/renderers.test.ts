// The pure renderers, checked by their real consumers: nginx -t (the test bed's nginx image)
// for the nginx configs, htpasswd -vb (apache2-utils) for the htpasswd lines.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as bcrypt from "bcryptjs";
import { certonlyArgs, renderCertonly, renderHealthCheck, renderRenewLoop } from "../../configs/certbot";
import { deterministicSalt, htpasswdLine, renderAccessRules, renderHtpasswd } from "../../configs/htpasswd";
import { htpasswdFileName, renderConfigInstall, renderUsersInstall } from "../../configs/install";
import {
    renderFallbackConf,
    renderHttpServer,
    renderHttpsRedirect,
    renderHttpsServer,
    renderMainConf,
    renderNginxAuthModule,
    renderNginxEntrypoint,
    AUTH_MODULE_PATH,
} from "../../configs/nginx";
import { renderRegistryConfig, renderRegistrySupervisor, renderS3Keys, renderStorageCheck } from "../../configs/registry";
import { parseSettings, stackNaming } from "../../configs/settings";
import { SecretPaths } from "../../configs/secretPaths";
import { AUTH_LOCATION, AUTH_ZONES, VERIFY_URL } from "../../configs/auth";
import { NGINX_HTTPS_PORT, NGINX_VERIFY_PORT } from "../../configs/ports";
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

    test("the HTTPS server follows distribution's nginx recipe", () => {
        const https = renderHttpsServer(settings);
        for (const line of [
            "client_max_body_size 0;",
            "chunked_transfer_encoding on;",
            "proxy_request_buffering off;",
            "proxy_buffering off;",
            "proxy_http_version 1.1;",
            "proxy_set_header Host $http_host;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            "proxy_read_timeout 900;",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            "ssl_stapling off;",
            "add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;",
        ])
            assert.ok(https.includes(line), `missing: ${line}`);
        assert.ok(
            !/add_header\s+'?Docker-Distribution-Api-Version'?\s+'?registry\/2\.0/.test(https),
            "a literal add_header would send the header twice",
        );
        assert.match(
            renderMainConf(settings),
            /map \$upstream_http_docker_distribution_api_version \$docker_distribution_api_version \{\s+"" "registry\/2\.0";/,
        );
        assert.match(renderHttpsRedirect(settings), /^return 301 https:\/\/registry\.test:8443\$request_uri;$/m);
        assert.doesNotMatch(renderHttpServer(), /registry\.test/, "port 80 names no host: the redirect comes with the HTTPS server");
        assert.match(
            https,
            /server unix:\/run\/registry\/registry\.sock max_fails=0;\n\s+server unix:\/run\/registry\/registry-readonly\.sock backup;/,
        );
    });

    test("every /v2/ request goes through the auth check; bcrypt listens on the container's loopback only", () => {
        const https = renderHttpsServer(settings);
        const v2 = https.slice(https.indexOf("location /v2/ {"), https.indexOf("location = " + AUTH_LOCATION));
        assert.match(v2, new RegExp(`^\\s+auth_request ${AUTH_LOCATION};$`, "m"));
        assert.doesNotMatch(v2, /auth_basic/, "no bcrypt on the request path");
        const listens = [...https.matchAll(/^\s*listen (.+);$/gm)].map((m) => m[1]);
        assert.deepEqual(listens, [`${NGINX_HTTPS_PORT} ssl default_server`, `127.0.0.1:${NGINX_VERIFY_PORT}`]);
        assert.equal(new URL(VERIFY_URL).port, String(NGINX_VERIFY_PORT));
        // The module names the zones nginx.conf declares, and nothing is left unrendered.
        const module = renderNginxAuthModule(settings);
        const main = renderMainConf(settings);
        for (const zone of Object.values(AUTH_ZONES)) {
            assert.ok(module.includes(`'${zone.name}'`), zone.name);
            assert.ok(main.includes(`zone=${zone.name}:`), zone.name);
        }
        assert.doesNotMatch(module, /{{|}}/);
        assert.ok(module.includes(VERIFY_URL));
    });

    test("the nginx entrypoint and installer are valid sh", () => {
        for (const script of [
            renderNginxEntrypoint(),
            renderConfigInstall("x", [{ path: "servers/x.conf", content: "# x\n" }]),
            renderRenewLoop(settings),
            renderCertonly(settings),
            renderRegistrySupervisor(settings),
            renderStorageCheck(settings),
        ]) {
            const r = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
        }
    });

    test("the installer refuses paths outside its directory", () => {
        assert.throws(() => renderConfigInstall("x", [{ path: "../etc/passwd", content: "" }]), /unsafe path/);
    });
});

describe("htpasswd", () => {
    test("lines verify with Apache's htpasswd -vb, and a wrong password does not", () => {
        const dir = tmp();
        const file = path.join(dir, "htpasswd");
        fs.writeFileSync(
            file,
            renderHtpasswd(
                [
                    { name: "alice", password: "correct horse battery", access: "push" },
                    { name: "ci", password: "another-secret-123", access: "pull" },
                ],
                "k".repeat(64),
                5,
            ),
        );
        assert.equal(spawnSync("htpasswd", ["-vb", file, "alice", "correct horse battery"]).status, 0);
        assert.equal(spawnSync("htpasswd", ["-vb", file, "ci", "another-secret-123"]).status, 0);
        assert.notEqual(spawnSync("htpasswd", ["-vb", file, "alice", "wrong"]).status, 0);
    });

    test("deterministic: same password same line; new password, user or key a new line", () => {
        const a = htpasswdLine("alice", "pw-one-123456", "key", 4);
        assert.equal(htpasswdLine("alice", "pw-one-123456", "key", 4), a);
        assert.notEqual(htpasswdLine("alice", "pw-two-123456", "key", 4), a);
        assert.notEqual(deterministicSalt("key", "bob", 4), deterministicSalt("key", "alice", 4));
        assert.notEqual(deterministicSalt("other", "alice", 4), deterministicSalt("key", "alice", 4));
        assert.match(a, /^alice:\$2y\$04\$[./A-Za-z0-9]{53}$/);
        assert.ok(bcrypt.compareSync("pw-one-123456", a.slice("alice:".length)));
    });

    test("access rules name the htpasswd file, the users and the pull-only users", () => {
        const rules = renderAccessRules(
            [
                { name: "ci.bot", access: "pull" },
                { name: "alice", access: "push" },
            ],
            "/etc/nginx/auth/htpasswd-x",
        );
        assert.match(rules, /^set \$registry_htpasswd \/etc\/nginx\/auth\/htpasswd-x;$/m);
        assert.match(rules, /^set \$registry_users "ci\.bot alice";$/m);
        assert.match(rules, /^set \$registry_pull_users "ci\.bot";$/m);
        // Nothing is decided before the password is checked (configs/auth.ts applies the access).
        assert.doesNotMatch(rules, /return|if \(/);
        assert.match(
            renderAccessRules([{ name: "alice", access: "push" }], "/etc/nginx/auth/htpasswd-x"),
            /^set \$registry_pull_users "";$/m,
        );
    });

    test("the users install: new htpasswd file by content, validated with the rules, old files removed after the reload", () => {
        const script = renderUsersInstall("alice:$2y$05$abc\n", (file) => `set $registry_htpasswd ${file};\n`);
        const file = htpasswdFileName("alice:$2y$05$abc\n");
        assert.match(file, /^htpasswd-[0-9a-f]{16}$/);
        const validate = script.indexOf('nginx -t -c "$stage');
        assert.ok(
            script.indexOf(`new=${file}`) < validate && script.indexOf('mv -f "$auth/.$new.tmp"') < validate,
            "the file is in place before validation",
        );
        assert.ok(validate < script.indexOf("kill -HUP 1"));
        assert.ok(script.indexOf("kill -HUP 1") < script.indexOf("htpasswd-*; do"), "old files go only after the reload");
        assert.match(script, /\[ "\$existed" = 1 \] \|\| rm -f "\$auth\/\$new"/, "a rejected change leaves no new file");
        assert.equal(spawnSync("sh", ["-n"], { input: script, encoding: "utf8" }).status, 0);
    });
});

describe("registry and certbot", () => {
    test("registry config: filesystem storage, delete enabled, the HTTP secret, no auth section", () => {
        const yml = renderRegistryConfig(settings, "abc123");
        assert.match(yml, /rootdirectory: \/var\/lib\/registry/);
        assert.match(yml, /delete:\n\s+enabled: true/);
        assert.match(yml, /secret: "abc123"/);
        assert.doesNotMatch(yml, /^auth:/m);
        assert.throws(() => renderRegistryConfig(settings, 'x"y'), /alphanumeric/);
        const readOnly = renderRegistryConfig(settings, "abc123", "read-only");
        assert.match(readOnly, /readonly:\n\s+enabled: true/);
        assert.match(readOnly, /net: unix\n\s+addr: \/run\/registry\/registry-readonly\.sock/);
        assert.match(yml, /net: unix\n\s+addr: \/run\/registry\/registry\.sock/, "a unix socket, no TCP port");
        assert.doesNotMatch(yml, /readonly:/);
    });

    test("registry config for S3: bucket, endpoint, path style, prefix, redirect; no keys, no filesystem", () => {
        const storage = JSON.stringify({
            driver: "s3",
            bucket: "images",
            region: "eu-central-1",
            rootDirectory: "teams/registry",
            redirect: true,
            accessKey: "AKIAKEY",
            secretKey: "top/secret+key",
        });
        const s3 = parseSettings({ domain: "registry.test", storage }, "prod", stackNaming(new SecretPaths(["storage"])));
        for (const mode of ["read-write", "read-only"] as const) {
            const yml = renderRegistryConfig(s3, "abc123", mode);
            assert.match(
                yml,
                /^ {2}s3:\n {4}bucket: images\n {4}region: eu-central-1\n {4}forcepathstyle: false\n {4}secure: true\n {4}v4auth: true\n {4}rootdirectory: \/teams\/registry\n/m,
            );
            assert.match(yml, /^ {2}redirect:\n.*\n {4}disable: false$/m);
            assert.doesNotMatch(yml, /filesystem|regionendpoint|AKIAKEY|top\/secret/);
        }
        assert.equal(
            renderS3Keys("AKIAKEY", "it's/#;+="),
            "'AKIAKEY'\n'it''s/#;+='\n",
            "YAML single-quoted: distribution parses overrides as YAML",
        );
        assert.throws(() => renderS3Keys("AKIA KEY", "x"), /printable characters without spaces/);
        const supervisor = renderRegistrySupervisor(s3);
        assert.match(
            supervisor,
            /IFS= read -r REGISTRY_STORAGE_S3_ACCESSKEY; IFS= read -r REGISTRY_STORAGE_S3_SECRETKEY; \} < \/etc\/distribution\/s3-keys/,
        );
        assert.ok(
            supervisor.indexOf("export REGISTRY_STORAGE_S3_ACCESSKEY") < supervisor.indexOf('serve "$rw" "$rw_sock"'),
            "keys are exported before the registry starts",
        );
        assert.doesNotMatch(renderRegistrySupervisor(settings), /s3-keys/);
        assert.doesNotMatch(renderRegistryConfig(settings, "abc123"), /s3:|redirect:/);
    });

    test("the storage check lists the catalog through the registry's socket", () => {
        const check = renderStorageCheck(settings);
        assert.match(check, /curl .*--unix-socket "\$sock" 'http:\/\/registry\/v2\/_catalog\?n=1'/);
        assert.match(check, /^sock=\/run\/registry\/registry\.sock$/m);
    });

    test("the certificate health check is valid Python that fails without a certificate", () => {
        const dir = tmp();
        const file = path.join(dir, "health.py");
        fs.writeFileSync(file, renderHealthCheck(settings));
        const compiled = spawnSync("python3", ["-m", "py_compile", file], { encoding: "utf8" });
        assert.equal(compiled.status, 0, compiled.stderr);
        assert.match(renderHealthCheck(settings), /sys\.exit\(0 if left > 10 else 1\)/);
    });

    test("Pebble's certificate lifetime is set only when asked for", async () => {
        const { renderPebbleConfig } = await import("../../configs/pebble");
        assert.equal(JSON.parse(renderPebbleConfig(10)).pebble.certificateValidityPeriod, 864000, "Pebble before 2.7");
        assert.equal(JSON.parse(renderPebbleConfig(10)).pebble.profiles.default.validityPeriod, 864000, "Pebble 2.7 and later");
        assert.equal(JSON.parse(renderPebbleConfig()).pebble.certificateValidityPeriod, undefined);
        assert.equal(JSON.parse(renderPebbleConfig()).pebble.httpPort, 80);
    });

    test("GC runs on the configured schedule, with --delete-untagged only when asked", () => {
        const weekly = parseSettings({ domain: "a.example.com", gcIntervalHours: "168", gcDeleteUntagged: "true" }, "prod");
        assert.match(renderRegistrySupervisor(weekly), /interval=604800/);
        assert.match(renderRegistrySupervisor(weekly), /registry garbage-collect --delete-untagged "\$rw"/);
        assert.match(renderRegistrySupervisor(settings), /interval=0/);
        assert.match(renderRegistrySupervisor(settings), /registry garbage-collect "\$rw"/);
        // The schedule counts from the last GC recorded in the control volume, not from the container's start.
        assert.match(renderRegistrySupervisor(weekly), /last=\$\(cat "\$ctl\/last-gc"[^\n]*\n[^\n]*\nnext=\$\(\(last \+ interval\)\)/);
        assert.match(renderRegistrySupervisor(weekly), /date \+%s > "\$ctl\/last-gc"\n/);
    });

    test("GC: signals only set flags, a stopped writer is waited for until it has exited, requests during a GC coalesce into it", () => {
        const supervisor = renderRegistrySupervisor(settings);
        assert.match(supervisor, /^trap 'gc_now=1' USR1$/m);
        assert.match(supervisor, /^trap 'term=1' TERM INT$/m);
        assert.match(
            supervisor,
            /while kill -0 "\$1" 2>\/dev\/null; do wait "\$1" 2>\/dev\/null; done/,
            "stop() waits until the process is gone, not until a signal interrupts wait",
        );
        const body = (fn: string) => {
            const at = supervisor.indexOf(`\n${fn}() {`);
            assert.ok(at >= 0, `${fn}() is defined`);
            return supervisor.slice(at, supervisor.indexOf("\n}\n", at));
        };
        assert.match(body("readonly_on"), /stop "\$rw_pid"/, "read-only means the writer has exited");
        assert.match(body("collect"), /registry garbage-collect/);
        const gc = body("gc");
        assert.ok(
            gc.indexOf("readonly_on") >= 0 && gc.indexOf("readonly_on") < gc.indexOf("collect"),
            "the writer has exited before GC starts",
        );
        assert.ok(gc.indexOf("collect") < gc.indexOf("readonly_off"), "writes resume only after GC");
        assert.ok(gc.lastIndexOf("gc_now=0") > gc.indexOf("collect"), "requests that came during this GC are served by it");
    });

    test("certonly is webroot, non-interactive, with the configured CA and key type", () => {
        const args = certonlyArgs(
            parseSettings({ domain: "a.example.com", acmeServer: "staging", acmeKeyType: "rsa", acmeEmail: "ops@example.com" }, "prod"),
        );
        assert.deepEqual(args.slice(0, 4), ["certonly", "--non-interactive", "--agree-tos", "--webroot"]);
        for (const [flag, value] of [
            ["--server", "https://acme-staging-v02.api.letsencrypt.org/directory"],
            ["--key-type", "rsa"],
            ["--email", "ops@example.com"],
            ["--domain", "a.example.com"],
        ]) {
            assert.equal(args[args.indexOf(flag) + 1], value, flag);
        }
        assert.match(renderCertonly(settings), /--keep-until-expiring/);
    });
});
