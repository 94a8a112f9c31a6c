// The nginx container's files laid out in a temporary directory, for a real nginx (the test
// bed's image) to check or run: the renderer tests and the authentication module's test.
import * as fs from "node:fs";
import * as path from "node:path";
import { selfSigned } from "./certs";
import { tempDir } from "./tempDir";

/** A directory for one test's files, removed when the test process exits. */
export function tmp(): string {
    return tempDir("registry-unit-");
}

/**
 * Lays the rendered files out as the nginx container sees them, under `root`, rewriting the
 * container's absolute paths into it (and the registry's network name to loopback: nginx
 * resolves upstream names at `nginx -t`).
 */
export function layOut(root: string, files: Record<string, string>): string {
    const rewrite = (text: string) =>
        text
            .replaceAll("/etc/letsencrypt/", `${root}/letsencrypt/`)
            .replaceAll("/etc/nginx/auth/", `${root}/auth/`)
            .replaceAll("/var/www/acme", `${root}/acme`)
            .replaceAll("unix:/run/registry/", `unix:${root}/run/`)
            .replaceAll("/etc/nginx/registry-control/", `${root}/control/`)
            .replace("user nginx;", "user nobody nogroup;")
            .replace("pid /tmp/nginx.pid;", `pid ${root}/nginx.pid;`);
    const conf = path.join(root, "conf");
    for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(conf, rel)), { recursive: true });
        fs.writeFileSync(path.join(conf, rel), rewrite(content));
    }
    fs.mkdirSync(path.join(root, "auth"), { recursive: true });
    fs.mkdirSync(path.join(root, "acme"), { recursive: true });
    return path.join(conf, "nginx.conf");
}

export function selfSignedCert(root: string): void {
    const live = path.join(root, "letsencrypt", "live", "registry");
    fs.mkdirSync(live, { recursive: true });
    selfSigned("registry.test", path.join(live, "privkey.pem"), path.join(live, "fullchain.pem"));
}
