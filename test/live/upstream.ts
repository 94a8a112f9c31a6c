// An upstream registry of a bed's own, for pull-through mirrors (mirrors.live.test.ts,
// bench/mirrors.ts): the bed's registry image with TLS from a CA made here (openssl) and
// htpasswd auth, on the stack's network, where a mirror reaches it by name, and published on the
// bed's host address for clients that push to it. Its container carries the bed's label, so
// the bed's cleanup removes it.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { htpasswdLine } from "../../configs/htpasswd";
import { Bed, BED_LABEL } from "./bed";
import { basic, Endpoint, httpsRequest } from "./client";
import { bedHostAddress } from "./hostAddress";
import { docker, run } from "./proc";

/** The port the upstream registry listens on in its container. */
const UPSTREAM_PORT = 5000;

export class Upstream {
    /** Its container's name, which is also its host name on the stack's network. */
    readonly name: string;
    /** name:port, as clients on this host tag images for it (resolved once the bed adds the name). */
    readonly host: string;
    /** What a mirror's `upstream` names. */
    readonly url: string;
    /** The PEM root its certificate chains to (set by certificates()). */
    ca = "";
    private dir = "";

    constructor(
        private readonly bed: Bed,
        readonly user: { name: string; password: string },
        private readonly publishedPort = bed.ports.spare[0],
    ) {
        this.name = `${bed.prefix}-upstream`;
        this.host = `${this.name}:${publishedPort}`;
        this.url = `https://${this.name}:${UPSTREAM_PORT}`;
    }

    /** Makes a CA and a server certificate for its name, signed by it; returns the CA's PEM. */
    async certificates(): Promise<string> {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-upstream-"));
        const ssl = async (args: string[]) => {
            const r = await run("openssl", args, { cwd: this.dir });
            if (r.code !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
        };
        const key = (file: string) => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file];
        await ssl(["req", "-x509", ...key("ca.key"), "-out", "ca.crt", "-days", "2", "-subj", "/CN=mirrors bed upstream CA"]);
        await ssl(["req", ...key("server.key"), "-out", "server.csr", "-subj", `/CN=${this.name}`]);
        fs.writeFileSync(path.join(this.dir, "ext.cnf"), `subjectAltName=DNS:${this.name}\nextendedKeyUsage=serverAuth\n`);
        await ssl(
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt"].concat([
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ]),
        );
        this.ca = fs.readFileSync(path.join(this.dir, "ca.crt"), "utf8");
        return this.ca;
    }

    /** Where clients on this host reach it, verifying its certificate. */
    async endpoint(): Promise<Endpoint> {
        return { domain: this.name, address: await bedHostAddress(), httpPort: 0, httpsPort: this.publishedPort, ca: this.ca };
    }

    /** Creates and starts it on the stack's network (after the stack's first deploy, which makes that network). */
    async start(): Promise<void> {
        if (!this.ca) await this.certificates();
        fs.mkdirSync(path.join(this.dir, "auth"));
        fs.writeFileSync(
            path.join(this.dir, "auth", "htpasswd"),
            `${htpasswdLine(this.user.name, this.user.password, this.bed.label, 10)}\n`,
        );
        await docker([
            "create",
            "--name",
            this.name,
            "--network",
            `${this.bed.prefix}-net`,
            "--label",
            `${BED_LABEL}=${this.bed.label}`,
            "--publish",
            `${await bedHostAddress()}:${this.publishedPort}:${UPSTREAM_PORT}`,
            "--env",
            "REGISTRY_AUTH=htpasswd",
            "--env",
            "REGISTRY_AUTH_HTPASSWD_REALM=upstream",
            "--env",
            "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
            "--env",
            "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/server.crt",
            "--env",
            "REGISTRY_HTTP_TLS_KEY=/certs/server.key",
            this.bed.images.REGISTRY_IMAGE,
        ]);
        await docker(["cp", path.join(this.dir, "auth"), `${this.name}:/auth`]);
        const certsOnly = path.join(this.dir, "certs");
        fs.mkdirSync(certsOnly);
        for (const f of ["server.crt", "server.key"]) fs.copyFileSync(path.join(this.dir, f), path.join(certsOnly, f));
        fs.chmodSync(path.join(certsOnly, "server.key"), 0o644);
        await docker(["cp", certsOnly, `${this.name}:/certs`]);
        await docker(["start", this.name]);
    }

    /** Removes its certificates' directory (its container goes with the bed's cleanup). */
    cleanup(): void {
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/**
 * Waits until a mirror serves `GET /v2/` to `user`: a mirror that could not reach its upstream
 * when it started starts again every few seconds until it does
 * (configs/templates/mirror-supervisor.sh.mustache).
 */
export async function mirrorServes(ep: Endpoint, user: { name: string; password: string }, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const ping = await httpsRequest(ep, "/v2/", { auth: basic(user.name, user.password) });
        if (ping.status === 200) return;
        if (Date.now() > deadline) throw new Error(`the mirror does not serve within ${timeoutMs / 1000} s: ${ping.status} ${ping.body}`);
        await new Promise((r) => setTimeout(r, 500));
    }
}
