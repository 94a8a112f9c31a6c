// Real clients for the live tests: HTTPS requests with the exported CA root, TLS handshakes,
// and the Docker CLI with a throwaway config directory. Passwords go through stdin or
// headers, never through process arguments.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { run, RunResult } from "./proc";

export interface Endpoint {
    domain: string;
    /** Where nginx is published (the bed's host address). */
    address: string;
    httpPort: number;
    httpsPort: number;
    ca: string;
}

export interface Reply {
    status: number;
    headers: http.IncomingHttpHeaders;
    rawHeaders: string[];
    body: string;
}

/** Reads a whole response into a Reply. */
function collect(res: http.IncomingMessage, resolve: (r: Reply) => void): void {
    let body = "";
    res.on("data", (d) => (body += d));
    res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }));
}

/** Whether a TCP connection to host:port is accepted right now. */
export function canConnect(host: string, port: number): Promise<boolean> {
    return new Promise((res) => {
        const s = net.connect(port, host);
        s.once("connect", () => {
            s.destroy();
            res(true);
        });
        s.once("error", () => res(false));
    });
}

export function basic(user: string, password: string): string {
    return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** One HTTPS request on a fresh connection, verifying the certificate against `ca`. */
export function httpsRequest(
    ep: Endpoint,
    urlPath: string,
    opts: {
        auth?: string;
        method?: string;
        timeoutMs?: number;
        accept?: string;
        body?: Buffer;
        /** The body's type. Default: application/octet-stream. */
        contentType?: string;
        localAddress?: string;
    } = {},
): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: ep.address,
                localAddress: opts.localAddress,
                port: ep.httpsPort,
                servername: ep.domain,
                path: urlPath,
                method: opts.method ?? "GET",
                ca: ep.ca,
                agent: false,
                headers: {
                    Host: `${ep.domain}:${ep.httpsPort}`,
                    ...(opts.auth ? { Authorization: opts.auth } : {}),
                    ...(opts.accept ? { Accept: opts.accept } : {}),
                    ...(opts.body
                        ? { "Content-Type": opts.contentType ?? "application/octet-stream", "Content-Length": String(opts.body.length) }
                        : {}),
                },
                timeout: opts.timeoutMs ?? 10_000,
            },
            (res) => collect(res, resolve),
        );
        req.on("timeout", () => req.destroy(new Error("request timed out")));
        req.on("error", reject);
        req.end(opts.body);
    });
}

/**
 * A blob upload PATCH whose body trickles in (`chunks` × `chunkBytes`, one every `gapMs`):
 * an upload that is in flight when something else happens. With `onStreaming`, the request
 * asks for `100 Continue`, which nginx sends as it starts reading the body: past the
 * authentication and GC checks, as it hands the request to the registry. `onStreaming` is
 * called then.
 */
export function slowPatch(
    ep: Endpoint,
    location: string,
    auth: string,
    chunks: number,
    chunkBytes: number,
    gapMs: number,
    onStreaming?: () => void,
): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const url = new URL(location, `https://${ep.domain}:${ep.httpsPort}`);
        const req = https.request(
            {
                host: ep.address,
                port: ep.httpsPort,
                servername: ep.domain,
                path: `${url.pathname}${url.search}`,
                method: "PATCH",
                ca: ep.ca,
                agent: false,
                headers: {
                    Host: `${ep.domain}:${ep.httpsPort}`,
                    Authorization: auth,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": String(chunks * chunkBytes),
                    ...(onStreaming ? { Expect: "100-continue" } : {}),
                },
                timeout: 120_000,
            },
            (res) => collect(res, resolve),
        );
        req.on("error", reject);
        if (onStreaming) req.once("continue", onStreaming);
        let sent = 0;
        const tick = () => {
            req.write(Buffer.alloc(chunkBytes, sent));
            if (++sent === chunks) req.end();
            else setTimeout(tick, gapMs);
        };
        tick();
    });
}

/**
 * A download read slowly (`bytesPerSecond`, or a rate asked again at every chunk), as a client
 * on a slow link would: in flight for a while. `onData` hears the byte count so far after each
 * chunk. Resolves with the status, the byte count and the body's sha256.
 */
export function slowDownload(
    ep: Endpoint,
    urlPath: string,
    auth: string,
    bytesPerSecond: number | (() => number),
    onData?: (bytes: number) => void,
): Promise<{ status: number; bytes: number; sha256: string }> {
    const rate = typeof bytesPerSecond === "number" ? () => bytesPerSecond : bytesPerSecond;
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: ep.address,
                port: ep.httpsPort,
                servername: ep.domain,
                path: urlPath,
                ca: ep.ca,
                agent: false,
                headers: { Host: `${ep.domain}:${ep.httpsPort}`, Authorization: auth },
                timeout: 300_000,
            },
            (res) => {
                const hash = createHash("sha256");
                let bytes = 0;
                /** How long the bytes read so far should have taken, each chunk at the rate of its time. */
                let pacedMs = 0;
                const started = Date.now();
                res.on("data", (chunk: Buffer) => {
                    hash.update(chunk);
                    bytes += chunk.length;
                    pacedMs += (chunk.length / rate()) * 1000;
                    onData?.(bytes);
                    // Ahead of the rate: stop reading until the clock catches up.
                    const aheadMs = pacedMs - (Date.now() - started);
                    if (aheadMs > 0) {
                        res.pause();
                        setTimeout(() => res.resume(), aheadMs);
                    }
                });
                res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest("hex") }));
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(new Error("download timed out")));
        req.on("error", reject);
        req.end();
    });
}

export function httpRequest(ep: Endpoint, urlPath: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const req = http.request(
            { host: ep.address, port: ep.httpPort, path: urlPath, headers: { Host: ep.domain }, agent: false, timeout: 10_000 },
            (res) => collect(res, resolve),
        );
        req.on("timeout", () => req.destroy(new Error("request timed out")));
        req.on("error", reject);
        req.end();
    });
}

/** The certificate nginx serves, verified against `ca`. */
export function peerCertificate(ep: Endpoint): Promise<tls.DetailedPeerCertificate> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: ep.address, port: ep.httpsPort, servername: ep.domain, ca: ep.ca }, () => {
            const cert = socket.getPeerCertificate(true);
            socket.end();
            resolve(cert);
        });
        socket.setTimeout(10_000, () => socket.destroy(new Error("TLS handshake timed out")));
        socket.on("error", reject);
    });
}

/** Attempts a handshake limited to one protocol version; resolves with the negotiated one or the error. */
export function handshake(ep: Endpoint, version: tls.SecureVersion): Promise<{ ok: boolean; detail: string }> {
    return new Promise((resolve) => {
        const socket = tls.connect({
            host: ep.address,
            port: ep.httpsPort,
            servername: ep.domain,
            ca: ep.ca,
            minVersion: version,
            maxVersion: version,
            // Let this client offer old protocols at all, so a refusal is the server's.
            ciphers: "DEFAULT@SECLEVEL=0",
        });
        socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")));
        socket.on("secureConnect", () => {
            const v = socket.getProtocol() ?? "?";
            socket.end();
            resolve({ ok: true, detail: v });
        });
        socket.on("error", (e) => resolve({ ok: false, detail: e.message }));
    });
}

/** The Docker CLI with its own config directory (logins do not touch the user's). */
export class DockerClient {
    readonly configDir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-docker-"));

    exec(args: string[], input?: string): Promise<RunResult> {
        return run("docker", args, { env: { ...process.env, DOCKER_CONFIG: this.configDir }, input, timeoutMs: 600_000 });
    }

    async must(args: string[], input?: string): Promise<string> {
        const r = await this.exec(args, input);
        if (r.code !== 0) throw new Error(`docker ${args.slice(0, 2).join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
        return r.stdout.trim();
    }

    login(host: string, user: string, password: string): Promise<RunResult> {
        return this.exec(["login", host, "--username", user, "--password-stdin"], password);
    }

    /** A fresh single-layer image of `bytes` random bytes, tagged `ref`; returns its id. */
    async makeImage(ref: string, bytes = 1024 * 1024): Promise<string> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-image-"));
        try {
            fs.writeFileSync(path.join(dir, "payload.bin"), randomBytes(bytes));
            const tar = path.join(dir, "layer.tar");
            const t = await run("tar", ["-C", dir, "-cf", tar, "payload.bin"]);
            if (t.code !== 0) throw new Error(`tar failed: ${t.stderr}`);
            return await this.must(["import", tar, ref]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    /** A fresh image of one layer per size in `layerBytes` (random bytes each), tagged `ref`; returns its id. */
    async makeLayeredImage(ref: string, layerBytes: number[]): Promise<string> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-image-"));
        try {
            const files = layerBytes.map((bytes, i) => {
                fs.writeFileSync(path.join(dir, `layer${i}.bin`), randomBytes(bytes));
                return `COPY layer${i}.bin /layer${i}.bin`;
            });
            fs.writeFileSync(path.join(dir, "Dockerfile"), ["FROM scratch", ...files, ""].join("\n"));
            // The classic builder: one layer per COPY, no BuildKit daemon needed.
            const r = await run("docker", ["build", "--quiet", "--tag", ref, dir], {
                env: { ...process.env, DOCKER_CONFIG: this.configDir, DOCKER_BUILDKIT: "0" },
                timeoutMs: 300_000,
            });
            if (r.code !== 0) throw new Error(`docker build failed: ${r.stderr.trim()}`);
            return r.stdout.trim();
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    cleanup(): void {
        fs.rmSync(this.configDir, { recursive: true, force: true });
    }
}
