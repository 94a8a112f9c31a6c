// The live test bed: this repo's program deployed by the real Pulumi engine (test/live/engine.ts)
// to the real Docker engine, with the locally built images and Pebble as the CA, plus the
// host-side plumbing a user would do by hand (resolving the host name, trusting the CA root),
// undone afterwards. Everything a bed deploys carries the Docker label registry-bed=<label>
// (the stack's `labels` setting), which is how a killed run's leftovers are found.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { Endpoint } from "./client";
import { Deployed, Engine, LiveStack, Operation, ROOT, Step } from "./engine";
import { bedHostAddress } from "./hostAddress";
import { addHostsLine, removeHostsLine, withHostsLock } from "./hostsFile";
import { docker, run } from "./proc";
import { REGISTRY_HOST_TYPE } from "../../components/registryHost";

export interface BedImages {
    NGINX_IMAGE: string;
    REGISTRY_IMAGE: string;
    CERTBOT_IMAGE: string;
    PEBBLE_IMAGE: string;
    BIND9_IMAGE: string;
    [k: string]: string;
}

/**
 * Live test files run in parallel, each with its own bed in its own slot: its own published
 * ports (on the bed's host address) and its own registry name.
 */
export const BED_SLOTS = {
    registry: 0,
    expiry: 1,
    remote: 2,
    s3: 3,
    bench: 4,
    reliability: 5,
    updates: 6,
    lifecycle: 7,
    auth: 8,
    dns: 9,
    hosts: 10,
    hostsBench: 11,
    converge: 12,
    availability: 13,
    access: 14,
    retention: 15,
    events: 16,
    metrics: 17,
    mirrors: 18,
    package: 19,
    scale: 20,
    mirrorsBench: 21,
    metricsBench: 22,
} as const;
/** The Docker label that marks what the tests create. */
export const BED_LABEL = "registry-bed";
/** Config leaves a user sets with --secret. */
const SECRET_LEAF = /(^|\.)(password|accessKey|secretKey|secret|key|Authorization)$/;

export function loadImages(): BedImages {
    const file = process.env.IMAGES_ENV ?? path.join(ROOT, "test", "bed", ".images.env");
    if (!fs.existsSync(file)) throw new Error(`live tests need the test images: ${file} is missing (run test/bed/images.sh)`);
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
        if (m) env[m[1]] = m[2].replace(/^["']|["']$/g, "");
    }
    for (const k of ["NGINX_IMAGE", "REGISTRY_IMAGE", "CERTBOT_IMAGE", "PEBBLE_IMAGE", "BIND9_IMAGE"]) {
        if (!env[k]) throw new Error(`${file} has no ${k}`);
    }
    return env as BedImages;
}

export class DeployError extends Error {}

/** The last commit before each host's resources became children of a RegistryHost component. */
export const BEFORE_HOST_COMPONENT = "a1f338761df29f47e145879cf452fddc8d0c0cf9";

/** The commit that made each host's resources children of a RegistryHost component. */
export const HOST_COMPONENT = "77981d4463678dc3108fff74cc84f20fa30f5739";

/**
 * What an upgrade did beyond updates in place: every step that creates, replaces or deletes a
 * resource other than a RegistryHost component (aliases keep the rest).
 */
export function upgradeChanges(steps: Step[]): string[] {
    return steps
        .filter((s) => s.op !== "same" && s.op !== "update" && s.op !== "refresh" && s.op !== "read")
        .filter((s) => !(s.op === "create" && s.type === REGISTRY_HOST_TYPE))
        .map(describeStep);
}

/**
 * What a missing alias shows as in an upgrade: a resource created under a new name and the old
 * one deleted (a replacement, by contrast, is a changed input under the same name).
 */
export function aliasMisses(steps: Step[]): string[] {
    return steps.filter((s) => s.op === "create" || s.op === "delete").map(describeStep);
}

/** "update command:local:Command registry-htpasswd-install" */
export function describeStep(s: Step): string {
    return `${s.op} ${s.type} ${s.name}`;
}

/** Removes every container, network and volume labelled registry-bed=<label>. */
/**
 * Removes the containers, networks and volumes whose names start with `prefix`: what a program
 * that sets no labels (examples/yaml) deployed for a bed.
 */
export async function removeNamed(prefix: string): Promise<void> {
    const named = (kind: string[], fmt: string) =>
        docker([...kind, "--format", fmt], { allowFail: true }).then((out) => out.split("\n").filter((n) => n.startsWith(`${prefix}-`)));
    const containers = await named(["ps", "-a"], "{{.Names}}");
    if (containers.length) await docker(["rm", "--force", ...containers], { allowFail: true });
    const networks = await named(["network", "ls"], "{{.Name}}");
    if (networks.length) await docker(["network", "rm", ...networks], { allowFail: true });
    const volumes = await named(["volume", "ls"], "{{.Name}}");
    if (volumes.length) await docker(["volume", "rm", "--force", ...volumes], { allowFail: true });
}

export async function removeLabelled(label: string): Promise<void> {
    const byLabel = ["--filter", `label=${BED_LABEL}=${label}`];
    const list = async (args: string[]) => (await docker([...args, ...byLabel], { allowFail: true })).split("\n").filter(Boolean);
    const containers = await list(["ps", "-aq"]);
    if (containers.length) await docker(["rm", "--force", "--volumes", ...containers], { allowFail: true });
    const networks = await list(["network", "ls", "-q"]);
    if (networks.length) await docker(["network", "rm", ...networks], { allowFail: true });
    const volumes = await list(["volume", "ls", "-q"]);
    if (volumes.length) await docker(["volume", "rm", "--force", ...volumes], { allowFail: true });
}

export class Bed {
    readonly images = loadImages();
    /** What the last up did (steps other than `same`). */
    steps: Step[] = [];
    /** The engine's count of the last up, by operation. */
    changes: Record<string, number> = {};
    private liveStack?: LiveStack;
    private hostsLine?: string;
    private extraHostsLines: string[] = [];
    private certsDirs: string[] = [];

    /**
     * Ports nginx is published on, the DNS server of the DNS-01 test (test/live/bind9.ts), and
     * spare ones (more hosts, a load balancer, Redis) for the tests that need them.
     */
    readonly ports: { http: number; https: number; dns: number; spare: number[] };

    constructor(
        readonly label: string,
        readonly engine: Engine,
        readonly slot: number,
    ) {
        // Ten a slot: 19000 + 10 × slot + 0…9, apart from every other slot's.
        const spare = Array.from({ length: 10 }, (_, i) => 19000 + 10 * slot + i);
        this.ports = { http: 18080 + 10 * slot, https: 18443 + 10 * slot, dns: 18053 + 10 * slot, spare };
    }

    get prefix(): string {
        return `bed-${this.label}`;
    }

    /** The registry's name (resolved to the bed's host address once addHostsEntry ran). */
    get domain(): string {
        return `${this.label}.registry.test`;
    }

    /** host:port clients tag images with. */
    get host(): string {
        return `${this.domain}:${this.ports.https}`;
    }

    /** "update command:local:Command registry-htpasswd-install", ... */
    get actions(): string[] {
        return this.steps.map(describeStep);
    }

    /** The stack (created on first use). */
    async stack(): Promise<LiveStack> {
        this.liveStack ??= await this.engine.stack(this.prefix);
        return this.liveStack;
    }

    /** Stack config for the dev path: Pebble, local images, the bed's ports. */
    config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
        return {
            domain: this.domain,
            acmeServer: "pebble",
            httpPort: this.ports.http,
            httpsPort: this.ports.https,
            namePrefix: this.prefix,
            registryImage: this.images.REGISTRY_IMAGE,
            nginxImage: this.images.NGINX_IMAGE,
            certbotImage: this.images.CERTBOT_IMAGE,
            pebbleImage: this.images.PEBBLE_IMAGE,
            labels: { [BED_LABEL]: this.label },
            ...overrides,
        };
    }

    /**
     * Sets the stack's config to `config` (secrets as secrets); nginx is published on the bed's
     * address unless given. The registry's name resolves from the first deploy on: the Docker
     * daemon re-reads /etc/hosts at most every 5 seconds, and a name it misses goes to DNS,
     * which the tests never ask.
     */
    async configure(config: Record<string, unknown>): Promise<LiveStack> {
        await this.addHostsEntry();
        const stack = await this.stack();
        await stack.configure({ bindAddress: await bedHostAddress(), ...config }, (key) => SECRET_LEAF.test(key));
        return stack;
    }

    /** `pulumi up` (`--refresh` with `refresh`) with `config`; throws a DeployError with the engine's message when it fails. */
    async up(config: Record<string, unknown>, opts: { refresh?: boolean } = {}): Promise<Deployed> {
        const stack = await this.configure(config);
        this.steps = [];
        this.changes = {};
        try {
            const r = await stack.up(this.steps, opts);
            this.changes = r.changes;
            return r;
        } catch (e) {
            throw new DeployError(`deploy failed:\n${e instanceof Error ? e.message : String(e)}`);
        }
    }

    /**
     * `pulumi up` with `config` by the program as it was at `commit` (an existing user's stack,
     * deployed before an upgrade), from a checkout of that commit beside this one.
     */
    async upAt(commit: string, config: Record<string, unknown>): Promise<Deployed> {
        const checkout = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-before-"));
        try {
            const archive = await run("sh", ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "sh", ROOT, commit, checkout]);
            if (archive.code !== 0) throw new Error(`git archive ${commit}: ${archive.stderr}`);
            fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(checkout, "node_modules"));
            await this.configure(config);
            const file = `Pulumi.${this.prefix}.yaml`;
            fs.copyFileSync(path.join(ROOT, file), path.join(checkout, file));
            this.steps = [];
            const r = await (await this.engine.select(this.prefix, checkout)).up(this.steps);
            this.changes = r.changes;
            return r;
        } catch (e) {
            throw new DeployError(`deploy at ${commit.slice(0, 7)} failed:\n${e instanceof Error ? e.message : String(e)}`);
        } finally {
            fs.rmSync(checkout, { recursive: true, force: true });
        }
    }

    /** Each container's id and start time, by role: equal before and after means none was replaced or restarted. */
    async containerIds(): Promise<Record<string, string>> {
        const ids: Record<string, string> = {};
        for (const role of ["registry", "nginx", "certbot", "pebble"]) {
            ids[role] = await docker(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", `${this.prefix}-${role}`]);
        }
        return ids;
    }

    async outputs(): Promise<OutputMap> {
        return (await this.stack()).outputs();
    }

    /** `pulumi destroy`. */
    async destroy(): Promise<Operation> {
        return (await this.stack()).destroy();
    }

    /** Where clients reach this bed's nginx, verifying its certificate against `ca`. */
    async endpoint(ca: string): Promise<Endpoint> {
        return { domain: this.domain, address: await bedHostAddress(), httpPort: this.ports.http, httpsPort: this.ports.https, ca };
    }

    /** Resolves the registry's host name to the bed's address, as the README tells users to do for theirs. */
    async addHostsEntry(): Promise<void> {
        if (this.hostsLine) return;
        const line = `${await bedHostAddress()} ${this.domain} # ${BED_LABEL} ${this.label}`;
        await withHostsLock(() => addHostsLine(line));
        this.hostsLine = line;
    }

    /** Resolves more names (a multi-host stack's own names) to the bed's address. */
    async addHostNames(names: string[]): Promise<void> {
        const line = `${await bedHostAddress()} ${names.join(" ")} # ${BED_LABEL} ${this.label}`;
        await withHostsLock(() => addHostsLine(line));
        this.extraHostsLines.push(line);
    }

    /** Makes the Docker daemon trust `pem` for host:port (certs.d). */
    trustRoot(hostPort: string, pem: string): void {
        const dir = `/etc/docker/certs.d/${hostPort}`;
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "ca.crt"), pem);
        if (!this.certsDirs.includes(dir)) this.certsDirs.push(dir);
    }

    /** Takes the trust of trustRoot back. */
    distrustRoot(hostPort: string): void {
        fs.rmSync(`/etc/docker/certs.d/${hostPort}`, { recursive: true, force: true });
    }

    /** Removes what the bed deployed (by label) and the stack, and undoes the host plumbing. */
    async cleanup(): Promise<void> {
        await removeLabelled(this.label);
        if (this.liveStack) await this.liveStack.remove().catch(() => undefined);
        const line = this.hostsLine;
        for (const l of [...(line ? [line] : []), ...this.extraHostsLines]) await withHostsLock(() => removeHostsLine(l));
        for (const dir of this.certsDirs) fs.rmSync(dir, { recursive: true, force: true });
    }
}
