// The live test bed: the program applied to the real Docker engine with the locally built
// images and Pebble as the CA, plus the host-side plumbing a user would do by hand
// (resolving the host name, trusting the CA root) — undone afterwards.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ProgramRun, ROOT } from "../harness/program";
import { DockerApplier, run } from "./applier";
import { seal, unseal } from "./sealed";
import { UpRequest, UpResult } from "./up";

export interface BedImages {
    NGINX_IMAGE: string;
    REGISTRY_IMAGE: string;
    CERTBOT_IMAGE: string;
    PEBBLE_IMAGE: string;
    [k: string]: string;
}

export function loadImages(): BedImages {
    const file = process.env.IMAGES_ENV ?? path.join(ROOT, "test", "bed", ".images.env");
    if (!fs.existsSync(file)) throw new Error(`live tests need the test images: ${file} is missing (run test/bed/images.sh)`);
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
        if (m) env[m[1]] = m[2].replace(/^["']|["']$/g, "");
    }
    for (const k of ["NGINX_IMAGE", "REGISTRY_IMAGE", "CERTBOT_IMAGE", "PEBBLE_IMAGE"]) {
        if (!env[k]) throw new Error(`${file} has no ${k}`);
    }
    return env as BedImages;
}

export class DeployError extends Error {
    constructor(message: string, readonly causes: Error[]) {
        super(message);
    }
}

export class Bed {
    readonly images = loadImages();
    /** What the last `up` did, e.g. "update command:local:Command registry-htpasswd-install". */
    actions: string[] = [];
    timings: Record<string, number> = {};
    private readonly key = randomBytes(32);
    private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-state-"));
    private hostsLine?: string;
    private certsDirs: string[] = [];

    constructor(readonly label: string, readonly stack = "bed") {}

    /** Stack config for the dev path: Pebble, local images, loopback ports. */
    config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
        return {
            domain: "registry.test",
            acmeServer: "pebble",
            bindAddress: "127.0.0.1",
            httpPort: 18080,
            httpsPort: 18443,
            namePrefix: `bed-${this.label}`,
            registryImage: this.images.REGISTRY_IMAGE,
            nginxImage: this.images.NGINX_IMAGE,
            certbotImage: this.images.CERTBOT_IMAGE,
            pebbleImage: this.images.PEBBLE_IMAGE,
            bcryptCost: 5,
            ...overrides,
        };
    }

    /** `pulumi up`: runs the program in its own process; throws with every failure's message. */
    async up(config: Record<string, unknown>, secretKeys: string[] = ["users"], mode: UpRequest["mode"] = "up"): Promise<ProgramRun> {
        const request: UpRequest = { mode, label: this.label, stack: this.stack, config, secretKeys };
        seal(path.join(this.dir, "request"), this.key, request);
        fs.rmSync(path.join(this.dir, "result"), { force: true });
        const child = await run(process.execPath, ["--import", "tsx", path.join(__dirname, "up.ts")], {
            env: { ...process.env, BED_KEY: this.key.toString("hex"), BED_DIR: this.dir },
            timeoutMs: 600_000,
        });
        process.stderr.write(child.stderr);
        if (!fs.existsSync(path.join(this.dir, "result"))) throw new DeployError(`deploy crashed (exit ${child.code}): ${child.stderr.trim()}`, []);
        const result = unseal<UpResult>(path.join(this.dir, "result"), this.key);
        this.actions = result.actions;
        this.timings = result.timings;
        if (!result.ok) throw new DeployError(`deploy failed:\n${result.errors.join("\n")}`, result.errors.map((m) => new Error(m)));
        return { outputs: result.outputs! };
    }

    /** `pulumi destroy`: deletes every resource of the stack through its Docker host. */
    async destroy(): Promise<void> {
        await this.up({}, [], "destroy");
    }

    /** Resolves the registry's host name to loopback, as the README tells users to. */
    addHostsEntry(domain: string): void {
        this.hostsLine = `127.0.0.1 ${domain} # registry-bed ${this.label}`;
        const hosts = fs.readFileSync("/etc/hosts", "utf8");
        if (!hosts.includes(this.hostsLine)) fs.appendFileSync("/etc/hosts", `${hosts.endsWith("\n") ? "" : "\n"}${this.hostsLine}\n`);
    }

    /** Makes the Docker daemon trust the exported CA root for host:port. */
    trustRoot(hostPort: string, pem: string): void {
        const dir = `/etc/docker/certs.d/${hostPort}`;
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "ca.crt"), pem);
        if (!this.certsDirs.includes(dir)) this.certsDirs.push(dir);
    }

    async cleanup(): Promise<void> {
        await new DockerApplier(this.label).destroyAll();
        fs.rmSync(this.dir, { recursive: true, force: true });
        if (this.hostsLine) {
            const kept = fs.readFileSync("/etc/hosts", "utf8").split("\n").filter((l) => l !== this.hostsLine);
            fs.writeFileSync("/etc/hosts", kept.join("\n"));
        }
        for (const dir of this.certsDirs) fs.rmSync(dir, { recursive: true, force: true });
    }
}
