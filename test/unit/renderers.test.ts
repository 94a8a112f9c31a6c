// The pure renderers, read as text and checked by the consumers this machine has without
// Docker: sh -n, python3, htpasswd -vb (apache2-utils). nginx -t and a running nginx check the
// nginx configs in test/nginx (the test bed's image).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as bcrypt from "bcryptjs";
import {
    CERTONLY_SCRIPT,
    certonlyArgs,
    renderCertonly,
    renderCertonlyStep,
    renderHealthCheck,
    renderRenewLoop,
} from "../../configs/certbot";
import { deterministicSalt, htpasswdLine, renderAccessRules, renderHtpasswd } from "../../configs/htpasswd";
import { droppedUsersWarning, htpasswdFileName, installedUsers, renderConfigInstall, renderUsersInstall } from "../../configs/install";
import {
    renderHttpServer,
    renderHttpsRedirect,
    renderHttpsServer,
    renderMainConf,
    renderNginxAuthModule,
    renderNginxEntrypoint,
} from "../../configs/nginx";
import {
    renderGcSchedule,
    renderGcScheduleInstall,
    renderRegistryConfig,
    renderRegistrySupervisor,
    renderS3Keys,
    renderStorageCheck,
} from "../../configs/registry";
import { parseSettings, stackNaming } from "../../settings/parse";
import { SecretPaths } from "../../settings/secretPaths";
import { AUTH_LOCATION, AUTH_ZONES, VERIFY_URL } from "../../configs/auth";
import { NGINX_HTTPS_PORT, NGINX_VERIFY_PORT } from "../../configs/ports";
import { tmp } from "../harness/nginxRoot";
import { assertInOrder, between } from "../harness/text";

const settings = parseSettings({ domain: "registry.test", acmeServer: "pebble", httpsPort: "8443" }, "dev");

describe("nginx configs", () => {
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
        // A replaced nginx drains: each connection lives until its client has read everything, within the drain time.
        assert.match(renderMainConf(settings), /^worker_shutdown_timeout 60s;$/m);
        assert.match(renderMainConf(settings), /^ {4}lingering_close always;\n {4}lingering_time 60s;$/m);
        assert.match(renderHttpsRedirect(settings), /^return 301 https:\/\/registry\.test:8443\$request_uri;$/m);
        assert.doesNotMatch(renderHttpServer(), /registry\.test/, "port 80 names no host: the redirect comes with the HTTPS server");
        assert.match(
            https,
            /server unix:\/run\/registry\/registry\.sock max_fails=0;\n\s+server unix:\/run\/registry\/registry-readonly\.sock backup max_fails=0;/,
        );
    });

    test("every /v2/ request goes through the auth check; bcrypt listens on the container's loopback only", () => {
        const https = renderHttpsServer(settings);
        const v2 = between(https, "location /v2/ {", "location = " + AUTH_LOCATION);
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

    test("trustedProxies: real_ip directives for them alone; none without it", () => {
        const trusting = parseSettings(
            {
                domain: "registry.test",
                acmeServer: "pebble",
                trustedProxies: JSON.stringify(["10.0.0.10", "10.1.0.0/16", "fd00::/64", "2001:db8::7", "::ffff:10.2.0.0/112"]),
            },
            "dev",
        );
        const main = renderMainConf(trusting);
        const http = main.slice(assertInOrder(main, ["http {"])[0]);
        assert.deepEqual(
            [...http.matchAll(/^ {4}(real_ip_\w+|set_real_ip_from) (.+);$/gm)].map((m) => `${m[1]} ${m[2]}`),
            [
                "real_ip_header X-Forwarded-For",
                "real_ip_recursive on",
                "set_real_ip_from 10.0.0.10",
                "set_real_ip_from 10.1.0.0/16",
                "set_real_ip_from fd00::/64",
                "set_real_ip_from 2001:db8::7",
                "set_real_ip_from ::ffff:10.2.0.0/112",
            ],
        );
        assert.doesNotMatch(renderMainConf(settings), /real_ip/, "nobody trusted: no header believed");
    });

    test("a lost certificate comes back by itself: the deploy's request stays in certbot, its loop runs it again after its first check; nginx then leaves its fallback", () => {
        const step = renderCertonlyStep(settings);
        assert.ok(step.includes(renderCertonly(settings).trimEnd()), "the request, as certonly runs it");
        assert.match(step, new RegExp(`^exec sh ${CERTONLY_SCRIPT}$`, "m"));
        const loop = renderRenewLoop(settings);
        assert.match(
            loop,
            new RegExp(`elif \\[ -z "\\$first" \\] && \\[ -e ${CERTONLY_SCRIPT} \\]; then\\n[^]*?\\n\\s+sh ${CERTONLY_SCRIPT} \\|\\|`),
        );
        assert.match(loop, /^trap 'echo "registry: checking now \(USR1\)" >&2' USR1$/m);
        assert.match(
            renderNginxEntrypoint(),
            /nginx -t -q -c \/etc\/nginx\/registry\/nginx\.conf; then\n\s+ln -sfn \/etc\/nginx\/registry \/etc\/nginx\/active/,
        );
    });

    test("the nginx entrypoint and installer are valid sh", () => {
        for (const script of [
            renderNginxEntrypoint(),
            renderConfigInstall("x", [{ path: "servers/x.conf", content: "# x\n" }]),
            renderRenewLoop(settings),
            renderCertonly(settings),
            renderCertonlyStep(settings),
            renderRegistrySupervisor(settings),
            renderGcScheduleInstall(settings),
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
        assertInOrder(script, [`new=${file}`, 'mv -f "$auth/.$new.tmp"', 'nginx -t -c "$stage'], "the file is in place before validation");
        assertInOrder(script, ['nginx -t -c "$stage', "kill -HUP 1", "htpasswd-*; do"], "old files go only after the reload");
        assert.match(script, /\[ "\$existed" = 1 \] \|\| rm -f "\$auth\/\$new"/, "a rejected change leaves no new file");
        assert.equal(spawnSync("sh", ["-n"], { input: script, encoding: "utf8" }).status, 0);
    });

    test("who is installed, read back from the access rules; dropping users, and the default admin, is worded for the preview", () => {
        const rules = renderAccessRules(
            [
                { name: "admin", access: "push" },
                { name: "ci", access: "pull" },
            ],
            "/etc/nginx/auth/htpasswd-x",
        );
        assert.deepEqual(installedUsers(rules), ["admin", "ci"], "read back from the installed access rules");
        assert.deepEqual(installedUsers(""), [], "no rules installed (a new stack): nobody");
        assert.equal(droppedUsersWarning(["bob"]), "users removed by this update: bob; their credentials stop working.");
        const admin = droppedUsersWarning(["admin"]);
        assert.match(
            admin,
            /^users removed by this update: admin; their credentials stop working\. admin is the default user, declared only while `users` is not set/,
        );
        assert.match(admin, /add users\.admin to the stack's config\.$/);
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
        assertInOrder(
            supervisor,
            ["export REGISTRY_STORAGE_S3_ACCESSKEY", 'serve "$rw" "$rw_sock"'],
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

    test("Pebble's resolver answers every name with its target's IPv4 addresses, and nothing else with an address", async () => {
        const { renderPebbleResolver } = await import("../../configs/pebble");
        const dir = tmp();
        const file = path.join(dir, "pebble_resolver.py");
        fs.writeFileSync(file, renderPebbleResolver("localhost"));
        // Its TCP server (Pebble asks over TCP) on an ephemeral port, with queries as Pebble's
        // DNS client sends them (an id, RD, one question), two on one connection.
        const probe = [
            "import importlib.util, socket, socketserver, struct, sys, threading",
            "spec = importlib.util.spec_from_file_location('resolver', sys.argv[1])",
            "r = importlib.util.module_from_spec(spec); spec.loader.exec_module(r)",
            "server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), r.OverTcp)",
            "threading.Thread(target=server.serve_forever, daemon=True).start()",
            "conn = socket.create_connection(server.server_address, timeout=10)",
            "def exchange(query):",
            "    conn.sendall(struct.pack('!H', len(query)) + query)",
            "    size = struct.unpack('!H', conn.recv(2, socket.MSG_WAITALL))[0]",
            "    return conn.recv(size, socket.MSG_WAITALL)",
            "def q(name, qtype):",
            "    labels = b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\\0'",
            "    return struct.pack('!HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + labels + struct.pack('!HH', qtype, 1)",
            "for name, qtype in (('registry.test', 1), ('any.other.example', 1), ('registry.test', 28)):",
            "    a = exchange(q(name, qtype))",
            "    qid, flags, qd, an = struct.unpack('!HHHH', a[:8])",
            "    # Each answer ends with its 4-byte address.",
            "    ips = [socket.inet_ntoa(a[len(a) - 16 * i - 4 : len(a) - 16 * i]) for i in range(an)]",
            "    print(name, qtype, hex(qid), hex(flags), qd, an, *ips)",
            "conn.close()",
        ].join("\n");
        const ran = spawnSync("python3", ["-c", probe, file], { encoding: "utf8" });
        assert.equal(ran.status, 0, ran.stderr);
        assert.deepEqual(ran.stdout.trim().split("\n"), [
            "registry.test 1 0x1234 0x8580 1 1 127.0.0.1",
            "any.other.example 1 0x1234 0x8580 1 1 127.0.0.1",
            "registry.test 28 0x1234 0x8580 1 0",
        ]);
    });

    test("Pebble's certificate lifetime is set only when asked for", async () => {
        const { renderPebbleConfig } = await import("../../configs/pebble");
        assert.equal(JSON.parse(renderPebbleConfig(10)).pebble.certificateValidityPeriod, 864000, "Pebble before 2.7");
        assert.equal(JSON.parse(renderPebbleConfig(10)).pebble.profiles.default.validityPeriod, 864000, "Pebble 2.7 and later");
        assert.equal(JSON.parse(renderPebbleConfig()).pebble.certificateValidityPeriod, undefined);
        assert.equal(JSON.parse(renderPebbleConfig()).pebble.httpPort, 80);
    });

    test("GC runs on the configured schedule, with --delete-untagged only when asked; a new schedule needs no new container", () => {
        const weekly = parseSettings({ domain: "a.example.com", gcIntervalHours: "168", gcDeleteUntagged: "true" }, "prod");
        assert.equal(renderGcSchedule(weekly), "604800 1");
        assert.equal(renderGcSchedule(settings), "0 0");
        assert.match(renderGcScheduleInstall(weekly), /^echo '604800 1' > \/var\/lib\/registry-control\/gc-schedule\.tmp$/m);
        assert.match(
            renderGcScheduleInstall(weekly),
            /^mv -f \/var\/lib\/registry-control\/gc-schedule\.tmp \/var\/lib\/registry-control\/gc-schedule$/m,
        );
        // The supervisor is the same whatever the schedule: it reads the schedule at every turn.
        const supervisor = renderRegistrySupervisor(settings);
        assert.equal(renderRegistrySupervisor(weekly), supervisor);
        assert.match(supervisor, /^while \[ "\$term" = 0 \]; do\n {2}schedule\n/m);
        assert.match(supervisor, /read -r want want_untagged < "\$ctl\/gc-schedule"/);
        assert.match(
            supervisor,
            /\[ "\$untagged" = 1 \] && flags=--delete-untagged\n {2}if out=\$\(registry garbage-collect \$flags "\$rw" 2>&1\)/,
        );
        // The schedule counts from the last GC recorded in the control volume, not from the container's start.
        assert.match(supervisor, /last=\$\(cat "\$ctl\/last-gc"[^\n]*\n[^\n]*\n {4}next=\$\(\(last \+ interval\)\)/);
        assert.match(supervisor, /date \+%s > "\$ctl\/last-gc"\n/);
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
        const body = (fn: string) => between(supervisor, `\n${fn}() {`, "\n}\n");
        assert.match(body("readonly_on"), /stop "\$rw_pid"/, "read-only means the writer has exited");
        assert.match(body("collect"), /registry garbage-collect/);
        const gc = body("gc");
        // The writer has exited before GC starts; writes resume only after it.
        const [, collect] = assertInOrder(gc, ["readonly_on", "collect", "readonly_off"]);
        assert.ok(gc.indexOf("gc_now=0", collect) > collect, "requests that came during this GC are served by it");
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
            assert.ok(args.includes(flag), flag);
            assert.equal(args[args.indexOf(flag) + 1], value, flag);
        }
        assert.match(renderCertonly(settings), /--keep-until-expiring/);
    });
});
