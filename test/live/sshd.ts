// A throwaway sshd on loopback whose only user is root with a generated key: a "remote"
// Docker host reached as ssh://root@127.0.0.1:<port>, like a user's build server. The
// client side gets an `ssh` wrapper (first on PATH) that uses this key and known_hosts,
// so nothing in the user's ~/.ssh is read or changed.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "./proc";
import { canConnect } from "./client";

export class LoopbackSshd {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-sshd-"));
    /** Prepend to PATH so the docker CLI's `ssh` uses this server's key and host key. */
    readonly binDir = path.join(this.dir, "bin");
    private child?: ChildProcess;
    /** sshd's log (stderr), e.g. "Accepted publickey for root ...". */
    log = "";

    /** Number of sessions sshd accepted so far. */
    acceptedSessions(): number {
        return (this.log.match(/Accepted publickey for root/g) ?? []).length;
    }

    constructor(readonly port: number) {}

    get dockerHost(): string {
        return `ssh://root@127.0.0.1:${this.port}`;
    }

    async start(): Promise<void> {
        const sshd = ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"].find((f) => !fs.existsSync(f));
        if (sshd) throw new Error(`${sshd} is missing: install openssh-server and openssh-client (test/run.sh does)`);
        const d = this.dir;
        for (const [file, type] of [
            ["host_key", "ed25519"],
            ["client_key", "ed25519"],
        ]) {
            const r = await run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "registry-bed", "-f", path.join(d, file)]);
            if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
        }
        fs.copyFileSync(path.join(d, "client_key.pub"), path.join(d, "authorized_keys"));
        fs.writeFileSync(
            path.join(d, "sshd_config"),
            [
                `Port ${this.port}`,
                "ListenAddress 127.0.0.1",
                `HostKey ${d}/host_key`,
                `AuthorizedKeysFile ${d}/authorized_keys`,
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "StrictModes no",
                "UsePAM no",
                `PidFile ${d}/sshd.pid`,
                "MaxSessions 64",
                "MaxStartups 64:30:128",
                "",
            ].join("\n"),
        );
        fs.writeFileSync(path.join(d, "known_hosts"), `[127.0.0.1]:${this.port} ${fs.readFileSync(path.join(d, "host_key.pub"), "utf8")}`);
        fs.writeFileSync(
            path.join(d, "ssh_config"),
            [
                `Host 127.0.0.1`,
                `  IdentityFile ${d}/client_key`,
                `  UserKnownHostsFile ${d}/known_hosts`,
                "  StrictHostKeyChecking yes",
                "  IdentitiesOnly yes",
                "  BatchMode yes",
                "",
            ].join("\n"),
        );
        fs.mkdirSync(this.binDir);
        fs.writeFileSync(path.join(this.binDir, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F ${d}/ssh_config "$@"\n`, { mode: 0o755 });
        fs.mkdirSync("/run/sshd", { recursive: true });
        this.child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(d, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
        this.child.stderr!.on("data", (b) => (this.log += b));
        // Bounded wait for the port.
        for (let i = 0; i < 50; i++) {
            if (await canConnect("127.0.0.1", this.port)) return;
            if (this.child.exitCode !== null) break;
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`sshd did not start: ${this.log}`);
    }

    /** Stops the sshd this object started (by its PID) and removes its files. */
    stop(): void {
        if (this.child && this.child.exitCode === null) this.child.kill("SIGTERM");
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
