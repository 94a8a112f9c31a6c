// A Docker daemon reached over tcp:// with TLS, as `dockerd --tlsverify` serves one: a TLS
// listener (this machine's engine behind it, through its socket) that requires a client
// certificate from its own CA. A multi-host stack's second host goes through it, so that host's
// provider and commands use tcp:// with TLS for real. It runs in the test process and is
// closed with it.
import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { makeCa } from "../harness/certs";
import { tempDir } from "../harness/tempDir";

const ENGINE_SOCKET = "/var/run/docker.sock";

export class DockerTlsProxy {
    private server?: tls.Server;
    private readonly sockets = new Set<net.Socket>();
    /** What a client needs: the daemon's CA, its own certificate and key (PEM). */
    client = { caCertificate: "", certificate: "", key: "" };
    /** Connections it accepted with a valid client certificate. */
    accepted = 0;

    constructor(
        readonly address: string,
        readonly port: number,
    ) {}

    get dockerHost(): string {
        return `tcp://${this.address}:${this.port}`;
    }

    async start(): Promise<void> {
        const ca = makeCa("registry-bed Docker daemon CA", tempDir("registry-docker-tls-"));
        const server = ca.issue("daemon", `IP:${this.address}`);
        const client = ca.issue("client", "DNS:registry-bed-client", "clientAuth");
        const read = (file: string) => fs.readFileSync(file, "utf8");
        this.client = { caCertificate: ca.pem, certificate: read(client.cert), key: read(client.key) };
        this.server = tls.createServer(
            // Half-open both ways, as the daemon is: `docker exec -i` closes its writing side
            // once stdin is sent (TLS close_notify) and still reads the output.
            {
                key: read(server.key),
                cert: read(server.cert),
                ca: ca.pem,
                requestCert: true,
                rejectUnauthorized: true,
                allowHalfOpen: true,
            },
            (socket) => {
                this.accepted++;
                const engine = net.connect({ path: ENGINE_SOCKET, allowHalfOpen: true });
                this.sockets.add(socket).add(engine);
                socket.pipe(engine).pipe(socket);
                socket.on("error", () => engine.destroy());
                engine.on("error", () => socket.destroy());
                socket.on("close", () => engine.destroy());
                engine.on("close", () => socket.destroy());
            },
        );
        this.server.on("tlsClientError", () => undefined);
        await new Promise<void>((resolve, reject) => {
            this.server!.once("error", reject);
            this.server!.listen(this.port, this.address, () => resolve());
        });
    }

    async stop(): Promise<void> {
        const server = this.server;
        if (!server) return;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of this.sockets) s.destroy();
        await closed;
    }
}
