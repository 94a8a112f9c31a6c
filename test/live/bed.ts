// The live test bed: the program applied to the real Docker engine with the locally built
// images and Pebble as the CA, plus the host-side plumbing a user would do by hand
// (resolving the host name, trusting the CA root) — undone afterwards.
import * as fs from "node:fs";
import * as path from "node:path";
import { ProgramRun, ROOT, runProgram } from "../harness/program";
import { DockerApplier } from "./applier";

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
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
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
    readonly applier: DockerApplier;
    readonly images = loadImages();
    private hostsLine?: string;
    private certsDirs: string[] = [];

    constructor(readonly label: string, readonly stack = "bed") {
        this.applier = new DockerApplier(label, (line) => process.stderr.write(`  [bed ${label}] ${line}\n`));
    }

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

    /** `pulumi up`: runs the program against the engine; throws with every failure's message. */
    async up(config: Record<string, unknown>, secretKeys: string[] = ["users"]): Promise<ProgramRun> {
        this.applier.beginRun();
        let run: ProgramRun | undefined;
        let failure: unknown;
        try {
            run = await runProgram({ config, secretKeys, stack: this.stack, mocks: this.applier });
        } catch (e) {
            failure = e;
        }
        if (this.applier.errors.length > 0 || failure) {
            const causes = this.applier.errors.length > 0 ? this.applier.errors : [failure as Error];
            throw new DeployError(`deploy failed:\n${causes.map((c) => c.message).join("\n")}`, causes);
        }
        await this.applier.endRun();
        return run!;
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
        await this.applier.destroyAll();
        if (this.hostsLine) {
            const kept = fs.readFileSync("/etc/hosts", "utf8").split("\n").filter((l) => l !== this.hostsLine);
            fs.writeFileSync("/etc/hosts", kept.join("\n"));
        }
        for (const dir of this.certsDirs) fs.rmSync(dir, { recursive: true, force: true });
    }
}
