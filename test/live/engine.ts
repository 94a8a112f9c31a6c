// The real Pulumi engine for the live tests: the Automation API driving the `pulumi` CLI on
// PATH (test/run.sh puts the toolchain there), on this repo's own Pulumi.yaml and index.ts,
// with a file:// backend and PULUMI_HOME in a temporary directory and passphrase secrets.
//
// Config is set as a user sets it: path keys (`users.alice.access`), and secrets with
// `pulumi config set --secret --path KEY` reading the value from stdin, so no secret is ever
// in a process's arguments (the Automation API's setConfig passes values as arguments).
//
// Every CLI process gets a marker in its environment, which the language host, the provider
// plugins and the commands they start inherit. After each operation, what still carries the
// marker is a leftover of ours (the CLI leaves a language host behind after some failures):
// it is ended, by PID.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    ConfigMap,
    DestroyResult,
    EngineEvent,
    LocalWorkspace,
    OpType,
    OutputMap,
    PreviewResult,
    RefreshResult,
    Stack,
    UpResult,
} from "@pulumi/pulumi/automation";
import { run } from "./proc";

export const ROOT = path.resolve(__dirname, "..", "..");
/** The environment variable that marks every process an Engine starts. */
export const MARKER_VAR = "REGISTRY_BED_ENGINE";

/** One resource operation the engine reported, e.g. { op: "update", type: "command:local:Command", name: "registry-htpasswd-install" }. */
export interface Step {
    op: OpType;
    type: string;
    name: string;
    /** Milliseconds from the step's start to its outputs, as the events arrived (once it finished). */
    ms?: number;
}

export interface Operation {
    /** The engine's own count by operation (`same`, `update`, `replace`, ...). */
    changes: Record<string, number>;
    /** Every step but `same`, in the order the engine started them. */
    steps: Step[];
    stdout: string;
}

export interface Deployed extends Operation {
    outputs: OutputMap;
}

/** The engine's change counts other than `same` (and zero). */
export function changed(changes: Record<string, number>): Record<string, number> {
    return Object.fromEntries(Object.entries(changes).filter(([op, n]) => op !== "same" && n > 0));
}

/** PIDs of running processes whose environment has `name=value`. */
export function processesWith(name: string, value: string): number[] {
    const needle = Buffer.from(`\0${name}=${value}\0`);
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
        try {
            const env = Buffer.concat([Buffer.from("\0"), fs.readFileSync(`/proc/${entry}/environ`), Buffer.from("\0")]);
            if (env.includes(needle)) pids.push(Number(entry));
        } catch {
            // Gone, or a kernel thread.
        }
    }
    return pids;
}

function processName(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
        return "";
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Flattens config to Pulumi path keys: { users: { a: { access: "push" } } } → { "users.a.access": "push" }. */
export function pathKeys(value: Record<string, unknown>, prefix = ""): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, v] of Object.entries(value)) {
        if (v === undefined) continue;
        const key = /^\[\d+\]$/.test(k)
            ? `${prefix}${k}`
            : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k)
              ? prefix
                  ? `${prefix}.${k}`
                  : k
              : `${prefix}["${k}"]`;
        if (Array.isArray(v)) {
            // A list, item by item (`domains[0]`); an empty one is left unset (its default).
            const items = Object.fromEntries(v.map((item, i) => [`[${i}]`, item]));
            for (const [pk, pv] of pathKeys(items, key)) out.set(pk, pv);
        } else if (typeof v === "object" && v !== null) {
            for (const [pk, pv] of pathKeys(v as Record<string, unknown>, key)) out.set(pk, pv);
        } else {
            out.set(key, String(v));
        }
    }
    return out;
}

/** A path key's ancestors, nearest last: `users.bob.password` → `users`, `users.bob`. */
function ancestors(key: string): string[] {
    const out: string[] = [];
    let prefix = "";
    for (const [segment] of key.matchAll(/(?:^|\.)[A-Za-z_][A-Za-z0-9_-]*|\["[^"]*"\]|\[\d+\]/g)) {
        if (prefix) out.push(prefix);
        prefix += segment;
    }
    return out;
}

/**
 * What to remove so that the `gone` path keys disappear with their emptied parents: removing
 * `users.bob.access` and `users.bob.password` one by one leaves `users.bob: {}` in the stack
 * file, a user with no settings; `users.bob` itself is removed instead.
 */
export function removalRoots(gone: string[], kept: string[]): string[] {
    const roots = new Set<string>();
    for (const key of gone) {
        const emptied = ancestors(key).filter((a) => !kept.some((k) => k.startsWith(`${a}.`) || k.startsWith(`${a}[`)));
        roots.add(emptied[0] ?? key);
    }
    return [...roots];
}

export class Engine {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-engine-"));
    readonly marker = randomBytes(8).toString("hex");
    /** Leftover processes ended so far: name and PID. */
    readonly reaped: string[] = [];

    constructor() {
        fs.mkdirSync(path.join(this.dir, "state"));
        fs.mkdirSync(path.join(this.dir, "home"));
    }

    get backendUrl(): string {
        return `file://${path.join(this.dir, "state")}`;
    }

    /** What every CLI run gets in its environment. */
    get env(): Record<string, string> {
        return {
            PULUMI_BACKEND_URL: this.backendUrl,
            PULUMI_HOME: path.join(this.dir, "home"),
            PULUMI_CONFIG_PASSPHRASE: "registry-bed",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            [MARKER_VAR]: this.marker,
        };
    }

    /** A new stack of the project in `workDir` (this repo by default). */
    async stack(name: string, workDir = ROOT): Promise<LiveStack> {
        const stack = await this.settled(LocalWorkspace.createStack({ stackName: name, workDir }, { envVars: this.env }));
        return new LiveStack(this, stack, workDir);
    }

    /** An existing stack (same backend) of the project in `workDir`, e.g. a copy of this repo. */
    async select(name: string, workDir: string): Promise<LiveStack> {
        const stack = await this.settled(LocalWorkspace.selectStack({ stackName: name, workDir }, { envVars: this.env }));
        return new LiveStack(this, stack, workDir);
    }

    /** Processes started by this engine's CLI runs that are still running. */
    leftovers(): number[] {
        return processesWith(MARKER_VAR, this.marker);
    }

    /** Waits (bounded) for this engine's processes to exit, then ends what is left, by PID. */
    async reap(graceMs = 3000): Promise<void> {
        const deadline = Date.now() + graceMs;
        while (this.leftovers().length > 0 && Date.now() < deadline) await sleep(100);
        for (const signal of ["SIGTERM", "SIGKILL"] as const) {
            const left = this.leftovers();
            if (left.length === 0) return;
            for (const pid of left) {
                if (signal === "SIGTERM") this.reaped.push(`${processName(pid)} (${pid})`);
                try {
                    process.kill(pid, signal);
                } catch {
                    // Already gone.
                }
            }
            for (let i = 0; i < 30 && this.leftovers().length > 0; i++) await sleep(100);
        }
    }

    /** Runs one engine operation; afterwards none of its processes is left running. */
    async settled<T>(operation: Promise<T>): Promise<T> {
        try {
            return await operation;
        } finally {
            await this.reap();
        }
    }

    async close(): Promise<void> {
        await this.reap();
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Engine events → the steps the engine took (not `same`), in order, with how long each took. */
function collectSteps(into: Step[]): (e: EngineEvent) => void {
    const started = new Map<string, { step: Step; at: number }>();
    return (e) => {
        const pre = e.resourcePreEvent?.metadata;
        if (pre && pre.op !== "same") {
            const step: Step = { op: pre.op, type: pre.type, name: pre.urn.slice(pre.urn.lastIndexOf("::") + 2) };
            into.push(step);
            started.set(`${pre.op} ${pre.urn}`, { step, at: performance.now() });
        }
        const done = e.resOutputsEvent?.metadata;
        const begun = done && started.get(`${done.op} ${done.urn}`);
        if (begun) begun.step.ms = performance.now() - begun.at;
    };
}

export class LiveStack {
    /** Config as last set, by path key, and which of those keys are secret. */
    private current = new Map<string, { value: string; secret: boolean }>();

    constructor(
        readonly engine: Engine,
        readonly stack: Stack,
        readonly workDir: string,
    ) {}

    get name(): string {
        return this.stack.name;
    }

    /** Runs the CLI as a user would, in the project directory, with `input` on stdin. */
    async cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
        return this.engine.settled(
            run("pulumi", [...args, "--stack", this.name, "--non-interactive"], {
                cwd: this.workDir,
                env: { ...process.env, ...this.engine.env },
                input,
                timeoutMs: 600_000,
            }),
        );
    }

    /** `pulumi config set --secret --path KEY` with the value on stdin. */
    async setSecret(key: string, value: string): Promise<void> {
        const r = await this.cli(["config", "set", "--secret", "--path", "--raw", key], value);
        if (r.code !== 0) throw new Error(`pulumi config set --secret ${key} failed: ${r.stderr.trim()}`);
    }

    /**
     * Makes the stack's config exactly `config` (objects become path keys), changing only what
     * differs from the last call. Keys that `isSecret` are set as secrets, through stdin.
     */
    async configure(config: Record<string, unknown>, isSecret: (key: string) => boolean): Promise<void> {
        const next = new Map([...pathKeys(config)].map(([k, v]) => [k, { value: v, secret: isSecret(k) }]));
        const gone = removalRoots(
            [...this.current.keys()].filter((k) => !next.has(k)),
            [...next.keys()],
        );
        if (gone.length > 0) await this.engine.settled(this.stack.removeAllConfig(gone, true));
        const plain: ConfigMap = {};
        for (const [k, v] of next) {
            const was = this.current.get(k);
            if (was && was.value === v.value && was.secret === v.secret) continue;
            if (v.secret) await this.setSecret(k, v.value);
            else plain[k] = { value: v.value };
        }
        if (Object.keys(plain).length > 0) await this.engine.settled(this.stack.setAllConfig(plain, true));
        this.current = next;
    }

    /**
     * `pulumi up` (`--refresh` with `refresh`); `steps` (if given) receives the steps as they
     * start, also when the update fails.
     */
    async up(steps: Step[] = [], opts: { refresh?: boolean } = {}): Promise<Deployed> {
        const r: UpResult = await this.engine.settled(this.stack.up({ onEvent: collectSteps(steps), refresh: opts.refresh }));
        return { changes: r.summary.resourceChanges ?? {}, steps, stdout: r.stdout, outputs: r.outputs };
    }

    /** `pulumi preview`; `env` is added to the CLI's environment for this preview only. */
    async preview(opts: { diff?: boolean; env?: Record<string, string> } = {}): Promise<Operation> {
        const steps: Step[] = [];
        const workspace = this.stack.workspace as LocalWorkspace;
        const extra = Object.entries(opts.env ?? {});
        for (const [k, v] of extra) workspace.envVars[k] = v;
        try {
            const r: PreviewResult = await this.engine.settled(this.stack.preview({ diff: opts.diff, onEvent: collectSteps(steps) }));
            return { changes: r.changeSummary, steps, stdout: r.stdout };
        } finally {
            for (const [k] of extra) delete workspace.envVars[k];
        }
    }

    async refresh(): Promise<Operation> {
        const steps: Step[] = [];
        const r: RefreshResult = await this.engine.settled(this.stack.refresh({ onEvent: collectSteps(steps) }));
        return { changes: r.summary.resourceChanges ?? {}, steps, stdout: r.stdout };
    }

    async destroy(): Promise<Operation> {
        const steps: Step[] = [];
        const r: DestroyResult = await this.engine.settled(this.stack.destroy({ onEvent: collectSteps(steps) }));
        return { changes: r.summary.resourceChanges ?? {}, steps, stdout: r.stdout };
    }

    async outputs(): Promise<OutputMap> {
        return this.engine.settled(this.stack.outputs());
    }

    /** `pulumi stack export` (secrets encrypted unless `showSecrets`), as text. */
    async exportText(showSecrets = false): Promise<string> {
        const r = await this.cli(["stack", "export", ...(showSecrets ? ["--show-secrets"] : [])]);
        if (r.code !== 0) throw new Error(`pulumi stack export failed: ${r.stderr.trim()}`);
        return r.stdout;
    }

    /** Removes the stack and its config file (`pulumi stack rm --force`): resources are not touched. */
    async remove(): Promise<void> {
        await this.engine.settled(this.stack.workspace.removeStack(this.name, { force: true }));
    }
}
