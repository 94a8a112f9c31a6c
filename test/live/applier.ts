// The live applier: Pulumi mocks whose newResource creates each declared resource on the
// real Docker engine and answers with its real state. The SDK calls newResource in
// dependency order (data dependencies and dependsOn alike), so applying resources as they
// arrive follows the program's order.
//
// Re-applying follows the Pulumi engine's rules, against the previous run's inputs: an
// unchanged resource is left alone; a changed Command runs its `update` (or `create`) and a
// change in its `triggers` replaces it; any other changed resource is replaced, deleted
// before it is created. Resources no longer declared are deleted at the end of a run.
// Any input this applier does not implement throws: nothing is silently ignored.
//
// Secrets reach newResource wrapped; they are unwrapped here and never logged.
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type * as pulumi from "@pulumi/pulumi";
import { unwrapSecrets } from "../harness/program";

export interface Applied {
    type: string;
    name: string;
    id: string;
    inputs: Record<string, any>;
    state: Record<string, any>;
}

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a process; stdin is written and closed. Never logs the arguments or stdin. */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 300_000);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

export async function docker(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Promise<string> {
    const r = await run("docker", args, opts);
    if (r.code !== 0 && !opts.allowFail) throw new Error(`docker ${args[0]} ${args[1] ?? ""} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout.trim();
}

function only(type: string, inputs: Record<string, unknown>, allowed: string[]): void {
    const unknown = Object.keys(inputs).filter((k) => !allowed.includes(k) && inputs[k] !== undefined);
    if (unknown.length > 0) throw new Error(`live applier: ${type} input(s) not implemented: ${unknown.join(", ")}`);
}

const CHARSETS = { lower: "abcdefghijklmnopqrstuvwxyz", upper: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", numeric: "0123456789", special: "!@#$%&*()-_=+[]{}<>:?" };

/** Everything needed to carry the applier's state from one `up` to the next. */
export interface ApplierSnapshot {
    resources: Applied[];
    order: string[];
    dockerHost?: string;
}

export class DockerApplier implements pulumi.runtime.Mocks {
    /** What exists now, by type and logical name; survives between runs of the program. */
    readonly state = new Map<string, Applied>();
    /** Every action taken in the current run, e.g. "create docker:index/container:Container registry-nginx". */
    actions: string[] = [];
    errors: Error[] = [];
    /** Milliseconds each resource operation of the current run took, by logical name. */
    timings: Record<string, number> = {};
    private seen = new Set<string>();
    private order: string[] = [];
    private env: NodeJS.ProcessEnv = { ...process.env };

    /** @param label every container, network and volume created carries `registry-bed=<label>`. */
    constructor(readonly label: string, private readonly log: (line: string) => void = () => undefined) {}

    snapshot(): ApplierSnapshot {
        return { resources: [...this.state.values()], order: [...this.order], dockerHost: this.env.DOCKER_HOST };
    }

    restore(snap: ApplierSnapshot): void {
        this.state.clear();
        for (const a of snap.resources) this.state.set(`${a.type}::${a.name}`, a);
        this.order = [...snap.order];
        if (snap.dockerHost) this.env.DOCKER_HOST = snap.dockerHost;
    }

    /** Number of resources being applied right now. */
    inFlight = 0;

    beginRun(): void {
        this.actions = [];
        this.errors = [];
        this.timings = {};
        this.seen = new Set();
    }

    /** Deletes what the last run no longer declared, newest first (as the engine does). */
    async endRun(): Promise<void> {
        for (const key of [...this.order].reverse()) {
            if (this.seen.has(key) || !this.state.has(key)) continue;
            await this.delete(this.state.get(key)!);
        }
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        throw new Error(`live applier: invoke ${args.token} not implemented`);
    }

    async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string | undefined; state: Record<string, any> }> {
        const key = `${args.type}::${args.name}`;
        this.seen.add(key);
        if (!args.custom) return { id: undefined, state: {} };
        this.inFlight++;
        try {
            const inputs = unwrapSecrets(args.inputs) as Record<string, any>;
            const prev = this.state.get(key);
            if (prev && isDeepStrictEqual(prev.inputs, inputs)) return { id: prev.id, state: prev.state };
            const started = Date.now();
            const applied = await this.apply(args.type, args.name, inputs, prev);
            this.timings[args.name] = Date.now() - started;
            this.state.set(key, applied);
            if (!this.order.includes(key)) this.order.push(key);
            return { id: applied.id, state: applied.state };
        } catch (e) {
            const err = e instanceof Error ? e : new Error(String(e));
            this.errors.push(err);
            this.log(`failed ${args.type} ${args.name}: ${err.message.split("\n")[0]}`);
            throw err;
        } finally {
            this.inFlight--;
        }
    }

    private note(action: string, type: string, name: string): void {
        this.actions.push(`${action} ${type} ${name}`);
        this.log(`${action} ${name}`);
    }

    private async apply(type: string, name: string, inputs: Record<string, any>, prev: Applied | undefined): Promise<Applied> {
        if (type === "command:local:Command") return this.command(name, inputs, prev);
        if (prev) {
            // Any other change replaces the resource, deleted before it is created.
            this.note("replace", type, name);
            await this.delete(prev);
        } else {
            this.note("create", type, name);
        }
        switch (type) {
            case "pulumi:providers:docker":
                return this.provider(type, name, inputs);
            case "docker:index/network:Network":
                return this.network(type, name, inputs);
            case "docker:index/volume:Volume":
                return this.volume(type, name, inputs);
            case "docker:index/remoteImage:RemoteImage":
                return this.image(type, name, inputs);
            case "docker:index/container:Container":
                return this.container(type, name, inputs);
            case "random:index/randomPassword:RandomPassword":
                return this.password(type, name, inputs);
            case "random:index/randomBytes:RandomBytes": {
                only(type, inputs, ["length"]);
                const bytes = randomBytes(inputs.length);
                return { type, name, id: "bytes", inputs, state: { ...inputs, hex: bytes.toString("hex"), base64: bytes.toString("base64") } };
            }
            default:
                throw new Error(`live applier: resource type ${type} not implemented`);
        }
    }

    private labelArgs(labels: { label: string; value: string }[] | undefined): string[] {
        return [...(labels ?? []).flatMap((l) => ["--label", `${l.label}=${l.value}`]), "--label", `registry-bed=${this.label}`];
    }

    private provider(type: string, name: string, inputs: Record<string, any>): Applied {
        only(type, inputs, ["host", "version"]);
        // Every docker call of this applier (and every Command) goes to this host.
        if (inputs.host) this.env.DOCKER_HOST = inputs.host;
        return { type, name, id: "provider", inputs, state: inputs };
    }

    private async network(type: string, name: string, inputs: Record<string, any>): Promise<Applied> {
        only(type, inputs, ["name", "driver", "labels"]);
        const id = await docker(["network", "create", "--driver", inputs.driver ?? "bridge", ...this.labelArgs(inputs.labels), inputs.name], { env: this.env });
        return { type, name, id, inputs, state: { ...inputs } };
    }

    private async volume(type: string, name: string, inputs: Record<string, any>): Promise<Applied> {
        only(type, inputs, ["name", "labels"]);
        // `docker volume create` of an existing name returns it: a retained volume is adopted.
        await docker(["volume", "create", ...this.labelArgs(inputs.labels), inputs.name], { env: this.env });
        return { type, name, id: inputs.name, inputs, state: { ...inputs } };
    }

    private async image(type: string, name: string, inputs: Record<string, any>): Promise<Applied> {
        only(type, inputs, ["name", "keepLocally"]);
        const r = await run("docker", ["image", "inspect", "--format", "{{.Id}}", inputs.name], { env: this.env });
        if (r.code !== 0) throw new Error(`live applier: image ${inputs.name} is not present and nothing can be pulled here; build it with test/bed/images.sh`);
        const imageId = r.stdout.trim();
        return { type, name, id: `${imageId}${inputs.name}`, inputs, state: { ...inputs, imageId, repoDigest: "" } };
    }

    private async container(type: string, name: string, inputs: Record<string, any>): Promise<Applied> {
        only(type, inputs, ["name", "image", "command", "entrypoints", "envs", "labels", "networksAdvanced", "ports", "volumes", "uploads", "restart", "pidMode", "healthcheck"]);
        const args = ["create", "--name", inputs.name, ...this.labelArgs(inputs.labels)];
        if (inputs.restart) args.push("--restart", inputs.restart);
        if (inputs.pidMode) args.push("--pid", inputs.pidMode);
        if (inputs.healthcheck) {
            const h = inputs.healthcheck;
            only(`${type}.healthcheck`, h, ["tests", "interval", "timeout", "retries"]);
            if (h.tests[0] !== "CMD" || h.tests.length !== 2) throw new Error("live applier: healthcheck tests other than [CMD, executable] not implemented");
            args.push("--health-cmd", h.tests[1], "--health-interval", h.interval, "--health-timeout", h.timeout, "--health-retries", String(h.retries));
        }
        for (const e of inputs.envs ?? []) args.push("--env", e);
        for (const p of inputs.ports ?? []) {
            only(`${type}.ports`, p, ["internal", "external", "ip", "protocol"]);
            args.push("--publish", `${p.ip ? `${p.ip.includes(":") ? `[${p.ip}]` : p.ip}:` : ""}${p.external ?? ""}:${p.internal}/${p.protocol ?? "tcp"}`);
        }
        for (const v of inputs.volumes ?? []) {
            only(`${type}.volumes`, v, ["volumeName", "containerPath", "readOnly"]);
            args.push("--volume", `${v.volumeName}:${v.containerPath}${v.readOnly ? ":ro" : ""}`);
        }
        const networks = (inputs.networksAdvanced ?? []) as { name: string; aliases?: string[] }[];
        networks.forEach((n) => only(`${type}.networksAdvanced`, n, ["name", "aliases"]));
        if (networks[0]) {
            args.push("--network", networks[0].name);
            for (const a of networks[0].aliases ?? []) args.push("--network-alias", a);
        }
        if (inputs.entrypoints) {
            // `docker create --entrypoint` takes one word; the rest goes before the command.
            args.push("--entrypoint", inputs.entrypoints[0]);
        }
        args.push(inputs.image, ...(inputs.entrypoints ?? []).slice(1), ...(inputs.command ?? []));
        const id = await docker(args, { env: this.env });
        for (const n of networks.slice(1)) {
            await docker(["network", "connect", ...(n.aliases ?? []).flatMap((a) => ["--alias", a]), n.name, id], { env: this.env });
        }
        for (const u of inputs.uploads ?? []) {
            only(`${type}.uploads`, u, ["file", "content", "permissions"]);
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-upload-"));
            try {
                const file = path.join(dir, path.basename(u.file));
                // `docker cp` keeps the mode; the file is root's inside the container.
                fs.writeFileSync(file, u.content, { mode: u.permissions ? parseInt(u.permissions, 8) : 0o644 });
                await docker(["cp", file, `${id}:${u.file}`], { env: this.env });
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        }
        await docker(["start", id], { env: this.env });
        // The provider waits for a running container (mustRun): one that exits at once fails.
        await new Promise((r) => setTimeout(r, 300));
        const running = await docker(["inspect", "--format", "{{.State.Running}}", id], { env: this.env });
        if (running !== "true") {
            const logs = await run("docker", ["logs", "--tail", "20", id], { env: this.env });
            throw new Error(`container ${inputs.name} exited right after start:\n${logs.stdout}${logs.stderr}`);
        }
        return { type, name, id, inputs, state: { ...inputs, id } };
    }

    private password(type: string, name: string, inputs: Record<string, any>): Applied {
        only(type, inputs, ["length", "special", "upper", "lower", "numeric"]);
        const sets = Object.entries(CHARSETS).filter(([k]) => inputs[k] !== false).map(([, v]) => v);
        const chars = sets.join("");
        let result = "";
        for (let i = 0; i < inputs.length; i++) result += chars[randomInt(chars.length)];
        return { type, name, id: "password", inputs, state: { ...inputs, result } };
    }

    private async command(name: string, inputs: Record<string, any>, prev: Applied | undefined): Promise<Applied> {
        const type = "command:local:Command";
        only(type, inputs, ["create", "update", "delete", "environment", "stdin", "triggers", "logging"]);
        const replace = prev !== undefined && !isDeepStrictEqual(prev.inputs.triggers, inputs.triggers);
        if (replace && prev.inputs.delete) await this.shell(name, prev.inputs.delete, prev.inputs);
        const script: string = prev && !replace ? (inputs.update ?? inputs.create) : inputs.create;
        this.note(prev ? (replace ? "replace" : "update") : "create", type, name);
        const r = await this.shell(name, script, inputs);
        return { type, name, id: replace || !prev ? `${name}-${randomBytes(4).toString("hex")}` : prev.id, inputs, state: { ...inputs, stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") } };
    }

    /** Runs a command the way the command provider does: `sh -c`, environment added, stdin. */
    private async shell(name: string, script: string, inputs: Record<string, any>): Promise<RunResult> {
        const r = await run("/bin/sh", ["-c", script], { env: { ...this.env, ...(inputs.environment ?? {}) }, input: inputs.stdin, timeoutMs: 600_000 });
        if (r.code !== 0) {
            throw new Error(`command ${name} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`);
        }
        return r;
    }

    private async delete(a: Applied): Promise<void> {
        this.note("delete", a.type, a.name);
        switch (a.type) {
            case "docker:index/container:Container":
                await docker(["rm", "--force", a.id], { env: this.env, allowFail: true });
                break;
            case "docker:index/network:Network":
                await docker(["network", "rm", a.id], { env: this.env, allowFail: true });
                break;
            case "docker:index/volume:Volume":
                await docker(["volume", "rm", a.id], { env: this.env, allowFail: true });
                break;
            case "command:local:Command":
                if (a.inputs.delete) await this.shell(a.name, a.inputs.delete, a.inputs);
                break;
        }
        this.state.delete(`${a.type}::${a.name}`);
    }

    /** Removes everything this applier's label marks, whatever state it is in. */
    async destroyAll(): Promise<void> {
        const byLabel = ["--filter", `label=registry-bed=${this.label}`];
        const containers = (await docker(["ps", "-aq", ...byLabel], { env: this.env, allowFail: true })).split("\n").filter(Boolean);
        if (containers.length) await docker(["rm", "--force", ...containers], { env: this.env, allowFail: true });
        const networks = (await docker(["network", "ls", "-q", ...byLabel], { env: this.env, allowFail: true })).split("\n").filter(Boolean);
        if (networks.length) await docker(["network", "rm", ...networks], { env: this.env, allowFail: true });
        const volumes = (await docker(["volume", "ls", "-q", ...byLabel], { env: this.env, allowFail: true })).split("\n").filter(Boolean);
        if (volumes.length) await docker(["volume", "rm", "--force", ...volumes], { env: this.env, allowFail: true });
        this.state.clear();
        this.order = [];
    }
}
