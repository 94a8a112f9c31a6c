// A load balancer in front of several registry hosts, as the README describes one: nginx (the
// bed's image) terminating TLS for the shared name with its own certificate, forwarding to
// every host over HTTPS (verifying the hosts' certificates for the shared name) with the
// client's address in X-Forwarded-For, taking a host out when it refuses connections or
// answers 502/504, and retrying idempotent requests on the next host. It runs as a container
// in the host's network namespace, listening on the bed's address, and carries the bed's
// label. It reaches the hosts from an address of its own (`source`, test/live/sourceAddresses.ts),
// as a balancer on another machine would: a container on a bridge would reach them through
// Docker's NAT, from the gateway of each host's network, like any other container there.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeCa } from "../harness/certs";
import { BED_LABEL } from "./bed";
import { bedHostAddress } from "./hostAddress";
import { docker, run } from "./proc";

const CONF_DIR = "/etc/nginx/lb";

export class LoadBalancer {
    readonly container: string;
    /** PEM of the CA of the load balancer's own certificate (clients trust it for domain:port). */
    ca = "";
    address = "";
    private dir?: string;

    constructor(
        readonly label: string,
        readonly name: string,
        readonly image: string,
        readonly domain: string,
        readonly port: number,
        /** The address it connects to the hosts from (on the bed's bridge: sourceAddresses). */
        readonly source: string,
    ) {
        this.container = `bed-${label}-${name}`;
    }

    /** Starts it in front of `backends` (host:port each), trusting `roots` (PEM) for their certificates. */
    async start(backends: string[], roots: string): Promise<void> {
        this.address = await bedHostAddress();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-lb-"));
        const ca = makeCa("registry-bed load balancer CA", fs.mkdtempSync(path.join(this.dir, "ca-")));
        const server = ca.issue("lb", `DNS:${this.domain}`);
        this.ca = ca.pem;
        fs.copyFileSync(server.cert, path.join(this.dir, "lb.crt"));
        fs.copyFileSync(server.key, path.join(this.dir, "lb.key"));
        fs.chmodSync(path.join(this.dir, "lb.key"), 0o644);
        fs.writeFileSync(path.join(this.dir, "roots.pem"), roots);
        fs.writeFileSync(
            path.join(this.dir, "nginx.conf"),
            [
                "worker_processes 1;",
                "pid /tmp/lb.pid;",
                "error_log stderr warn;",
                "events { worker_connections 1024; }",
                "http {",
                '    log_format lb "$msec $remote_addr $request_method $uri $status $upstream_addr $upstream_status";',
                "    access_log /dev/stdout lb;",
                "    upstream registry {",
                ...backends.map((b) => `        server ${b} max_fails=1 fail_timeout=5s;`),
                "    }",
                "    server {",
                `        listen ${this.address}:${this.port} ssl;`,
                `        server_name ${this.domain};`,
                `        ssl_certificate ${CONF_DIR}/lb.crt;`,
                `        ssl_certificate_key ${CONF_DIR}/lb.key;`,
                "        client_max_body_size 0;",
                "        proxy_request_buffering off;",
                "        proxy_buffering off;",
                "        location / {",
                "            proxy_pass https://registry;",
                "            proxy_http_version 1.1;",
                "            proxy_set_header Host $http_host;",
                "            proxy_set_header X-Forwarded-Proto https;",
                "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                `            proxy_bind ${this.source};`,
                "            proxy_ssl_server_name on;",
                `            proxy_ssl_name ${this.domain};`,
                "            proxy_ssl_verify on;",
                `            proxy_ssl_trusted_certificate ${CONF_DIR}/roots.pem;`,
                "            proxy_connect_timeout 2s;",
                "            proxy_read_timeout 900s;",
                "            proxy_send_timeout 900s;",
                "            proxy_next_upstream error timeout http_502 http_504;",
                "            proxy_next_upstream_tries 3;",
                "        }",
                "    }",
                "}",
                "",
            ].join("\n"),
        );
        await docker([
            "run",
            "--detach",
            "--name",
            this.container,
            "--label",
            `${BED_LABEL}=${this.label}`,
            "--network",
            "host",
            "--volume",
            `${this.dir}:${CONF_DIR}:ro`,
            "--entrypoint",
            "nginx",
            this.image,
            "-g",
            "daemon off;",
            "-c",
            `${CONF_DIR}/nginx.conf`,
        ]);
    }

    /** What it logged: one line per request, with the host that answered. */
    async log(): Promise<string> {
        const r = await run("docker", ["logs", this.container]);
        return `${r.stdout}${r.stderr}`;
    }

    /** Its files (the container goes with the bed's label). */
    cleanup(): void {
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
