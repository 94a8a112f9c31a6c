// A real S3-compatible server for the S3 storage tests: versitygw (built by
// test/bed/images.sh with `go install`) with its posix backend, run on the host and bound
// to the bed's host address (test/live/hostAddress.ts), which every container on the engine
// can reach (as a company's MinIO or Ceph would be reachable from the Docker host's networks).
// It serves HTTPS with a certificate from a private CA made here (as on-premises S3 servers
// do). Its keys go through the environment, never through arguments; it is stopped by its PID.
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { makeCa } from "../harness/certs";
import { bedHostAddress } from "./hostAddress";
import { loadImages } from "./bed";
import { canConnect } from "./client";

/** Records a server's PID so that test/run.sh can end it if a killed run left it behind (one file per server: several run at once). */
const pidFile = (pid: number | undefined) => path.join(os.tmpdir(), `registry-bed-s3.${pid}.pid`);

export class S3Server {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-s3-"));
    /** Objects live here as files: <dataDir>/<bucket>/<key>. */
    readonly dataDir = path.join(this.dir, "data");
    readonly accessKey = `BED${randomBytes(8).toString("hex").toUpperCase()}`;
    // Characters a real secret key has (/, +, =) and ones an INI reader might trip on (#, ;).
    readonly secretKey = `${randomBytes(24).toString("base64")}/+=#;`;
    private child?: ChildProcess;
    private host = "";
    private port = 0;
    log = "";
    /** PEM of the private CA that signed the server's certificate. */
    caPem = "";

    get endpoint(): string {
        return `https://${this.host}:${this.port}`;
    }

    async start(): Promise<void> {
        const bin = loadImages().S3_SERVER_BIN;
        if (!bin || !fs.existsSync(bin)) {
            throw new Error(
                "no S3 server binary: test/bed/images.sh builds versitygw with `go install` (it needs the Go module proxy); see its log under /var/cache/registry-bed/logs/go-versitygw.log",
            );
        }
        this.host = await bedHostAddress();
        this.port = await freePort(this.host);
        // A private CA (as on-premises S3 servers have) and the server's certificate for its address.
        const ca = makeCa("registry-bed S3 CA", fs.mkdtempSync(path.join(this.dir, "ca-")));
        const server = ca.issue("server", `IP:${this.host}`);
        this.caPem = ca.pem;
        fs.mkdirSync(this.dataDir);
        const tls = ["--cert", server.cert, "--key", server.key];
        this.child = spawn(bin, ["--port", `${this.host}:${this.port}`, ...tls, "--quiet", "posix", this.dataDir], {
            env: { PATH: process.env.PATH, ROOT_ACCESS_KEY: this.accessKey, ROOT_SECRET_KEY: this.secretKey },
            stdio: ["ignore", "pipe", "pipe"],
        });
        this.child.stdout!.on("data", (b) => (this.log += b));
        this.child.stderr!.on("data", (b) => (this.log += b));
        fs.writeFileSync(pidFile(this.child.pid), String(this.child.pid));
        for (let i = 0; i < 100; i++) {
            if (await canConnect(this.host, this.port)) return;
            if (this.child.exitCode !== null) break;
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`versitygw did not start: ${this.log}`);
    }

    /** With the posix backend a bucket is a top-level directory of the data directory. */
    createBucket(name: string): void {
        fs.mkdirSync(path.join(this.dataDir, name));
    }

    /** KiB the objects under a prefix of a bucket take on disk (`du -sk`). */
    storedKiB(bucket: string, prefix: string): number {
        return duKiB(path.join(this.dataDir, bucket, prefix));
    }

    /** Object keys under a prefix of a bucket. */
    keys(bucket: string, prefix = ""): string[] {
        const root = path.join(this.dataDir, bucket);
        const start = path.join(root, prefix);
        if (!fs.existsSync(start)) return [];
        return (fs.readdirSync(start, { recursive: true }) as string[])
            .map((f) => path.join(start, f))
            .filter((f) => fs.statSync(f).isFile())
            .map((f) => path.relative(root, f));
    }

    /** Stops the server this object started (by its PID) and removes its data. */
    async stop(): Promise<void> {
        const child = this.child;
        if (child && child.exitCode === null) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        }
        if (child) fs.rmSync(pidFile(child.pid), { force: true });
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

function duKiB(dir: string): number {
    if (!fs.existsSync(dir)) return 0;
    let blocks = 0;
    for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
        const st = fs.lstatSync(path.join(dir, f));
        if (st.isFile()) blocks += st.blocks;
    }
    return Math.round((blocks * 512) / 1024);
}

/** A port that is free on `host` right now (the kernel picks it). */
function freePort(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, host, () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}
