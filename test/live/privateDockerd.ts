// A Docker daemon of a test's own, beside the shared one, for daemon settings (registry-mirrors)
// that must not be set on the daemon every other test uses: its own data and exec roots (so its
// own containerd), socket and pidfile, a bridge of its own and no iptables rules, started from
// the daemon.json it is given. (Not `--bridge=none`: dockerd then deletes the host's docker0,
// the shared daemon's default bridge, which every other test's containers need.) Its registry traffic goes to a dead proxy on loopback except for
// the hosts named (NO_PROXY): a pull it should not make (Docker Hub, after a mirror fails)
// fails instead of leaving the machine. Stopped by its PID.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { run, RunResult } from "./proc";

/** Nothing listens on the discard port: a request sent to this proxy is refused at once. */
const DEAD_PROXY = "http://127.0.0.1:9";

export class PrivateDockerd {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-dockerd-"));
    readonly socket = path.join(this.dir, "docker.sock");
    /** Its bridge (a Linux name: at most 15 characters), made for it and deleted with it. */
    readonly bridge = `rbd-${randomBytes(4).toString("hex")}`;
    private child?: ChildProcess;
    private exited?: Promise<void>;

    /** Starts dockerd with `daemonJson` as its config file; resolves once its API answers (60 s at most). */
    async start(daemonJson: string, reachable: string[]): Promise<void> {
        // A bridge with an address of its own (10.213.x.1/30: no Docker address pool's); no
        // container of this daemon runs, but dockerd wants a bridge.
        const subnet = `10.213.${randomBytes(1)[0]}`;
        for (const args of [
            ["link", "add", this.bridge, "type", "bridge"],
            ["addr", "add", `${subnet}.1/30`, "dev", this.bridge],
            ["link", "set", this.bridge, "up"],
        ]) {
            const r = await run("ip", args);
            if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
        }
        const config = path.join(this.dir, "daemon.json");
        fs.writeFileSync(config, daemonJson);
        const log = fs.openSync(path.join(this.dir, "dockerd.log"), "a");
        const proxy = { HTTPS_PROXY: DEAD_PROXY, HTTP_PROXY: DEAD_PROXY, NO_PROXY: reachable.join(",") };
        const env: NodeJS.ProcessEnv = { ...process.env, ...proxy };
        for (const k of Object.keys(proxy)) env[k.toLowerCase()] = proxy[k as keyof typeof proxy];
        this.child = spawn(
            "dockerd",
            [
                "--config-file",
                config,
                "--data-root",
                path.join(this.dir, "data"),
                "--exec-root",
                path.join(this.dir, "exec"),
                "--pidfile",
                path.join(this.dir, "dockerd.pid"),
                "--host",
                `unix://${this.socket}`,
                `--bridge=${this.bridge}`,
                "--iptables=false",
                "--ip-masq=false",
                "--storage-driver=vfs",
                // Apart from the shared daemon's, even on a containerd they would share.
                "--containerd-namespace=registry-bed",
                "--containerd-plugins-namespace=registry-bed-plugins",
            ],
            { env, stdio: ["ignore", log, log] },
        );
        fs.closeSync(log);
        const child = this.child;
        this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
        const deadline = Date.now() + 60_000;
        for (;;) {
            if (child.exitCode !== null) throw new Error(`the private dockerd exited (${child.exitCode}):\n${this.log().slice(-4000)}`);
            if ((await this.docker(["version"])).code === 0) return;
            if (Date.now() > deadline) throw new Error(`the private dockerd does not answer within 60 s:\n${this.log().slice(-4000)}`);
            await new Promise((r) => setTimeout(r, 250));
        }
    }

    /** The docker CLI on this daemon, with the client configuration in `configDir` (none by default). */
    docker(args: string[], configDir = path.join(this.dir, "client")): Promise<RunResult> {
        return run("docker", ["--host", `unix://${this.socket}`, ...args], {
            env: { ...process.env, DOCKER_CONFIG: configDir },
            timeoutMs: 300_000,
        });
    }

    /** What the daemon logged. */
    log(): string {
        const file = path.join(this.dir, "dockerd.log");
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    }

    /** PIDs of processes run from this daemon's directory: its containerd, should dockerd have left it. */
    processes(): number[] {
        const needle = Buffer.from(this.dir);
        return fs
            .readdirSync("/proc")
            .filter((entry) => /^\d+$/.test(entry))
            .filter((entry) => {
                try {
                    return fs.readFileSync(`/proc/${entry}/cmdline`).includes(needle);
                } catch {
                    return false; // gone meanwhile
                }
            })
            .map(Number);
    }

    /** Stops the daemon (TERM, then KILL after 30 s) and anything it left, by PID, and removes its directories. */
    async stop(): Promise<void> {
        const child = this.child;
        if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
            await this.exited;
            clearTimeout(timer);
        }
        for (const pid of this.processes()) process.kill(pid, "SIGKILL");
        await run("ip", ["link", "delete", this.bridge]);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
