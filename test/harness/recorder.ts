// Mocks that record every resource the program declares and answer with plausible state.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";

export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, any>;
    custom: boolean;
    /** Position in the order the SDK handed the resource over (dependencies first). */
    order: number;
    /** What the mock answered (for random resources: the generated values). */
    state: Record<string, any>;
    /** The id the mock answered (a custom resource's, outside previews). */
    id: string | undefined;
    /** The provider reference (`<urn>::<id>`) of a custom resource given one. */
    provider?: string;
    /** Its resource options, as the engine would get them (recorded under `runProgram`, or after `recordOptions`). */
    options?: RecordedOptions;
}

/** The resource options of a registration, as the SDK sends them to the engine. */
export interface RecordedOptions {
    deleteBeforeReplace: boolean;
    retainOnDelete?: boolean;
    protect?: boolean;
    ignoreChanges: string[];
    replaceOnChanges: string[];
    /** The parent's URN; "" for none. */
    parent: string;
}

/** The part of a RegisterResourceRequest read here (the SDK's generated protobuf class). */
interface Registration {
    getType(): string;
    getName(): string;
    getDeletebeforereplace(): boolean;
    hasRetainondelete(): boolean;
    getRetainondelete(): boolean | undefined;
    hasProtect(): boolean;
    getProtect(): boolean | undefined;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getParent(): string;
}

export class Recorder implements pulumi.runtime.Mocks {
    readonly resources: Recorded[] = [];
    /** Invokes the program made: each host's health check (command:local:run). */
    readonly calls: pulumi.runtime.MockCallArgs[] = [];

    /** Options of registrations whose resources are not recorded yet, by type and name. */
    private readonly pendingOptions = new Map<string, RecordedOptions[]>();

    /** In preview mode, computed outputs are left unknown, as in a real first preview. */
    constructor(private readonly preview = false) {}

    /**
     * Records each resource's options too. Mocks see only a resource's inputs: this reads the
     * options from the registrations the SDK hands the mock monitor `setMocks` installed, so
     * call it after `setMocks` (runProgram does).
     */
    recordOptions(): void {
        const monitor = pulumi.runtime.getMonitor() as unknown as {
            registerResource(req: Registration, callback: (...args: unknown[]) => void): unknown;
        };
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req, callback) => {
            const key = `${req.getType()}::${req.getName()}`;
            const queue = this.pendingOptions.get(key) ?? [];
            queue.push({
                deleteBeforeReplace: req.getDeletebeforereplace(),
                retainOnDelete: req.hasRetainondelete() ? req.getRetainondelete() : undefined,
                protect: req.hasProtect() ? req.getProtect() : undefined,
                ignoreChanges: req.getIgnorechangesList(),
                replaceOnChanges: req.getReplaceonchangesList(),
                parent: req.getParent(),
            });
            this.pendingOptions.set(key, queue);
            return register(req, callback);
        };
    }

    byName(name: string): Recorded {
        const r = this.resources.find((x) => x.name === name);
        if (!r) throw new Error(`no resource named ${name}; have ${this.resources.map((x) => x.name).join(", ")}`);
        return r;
    }

    ofType(type: string): Recorded[] {
        return this.resources.filter((r) => r.type === type);
    }

    async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string | undefined; state: Record<string, any> }> {
        // Yield once so independent resources interleave as they would in the engine.
        await new Promise((r) => setImmediate(r));
        const state: Record<string, any> = this.preview ? {} : { ...args.inputs };
        const id = !this.preview && args.custom ? `${args.name}-id` : undefined;
        this.resources.push({
            type: args.type,
            name: args.name,
            inputs: args.inputs,
            custom: args.custom ?? false,
            order: this.resources.length,
            state,
            id,
            provider: args.provider,
            options: this.pendingOptions.get(`${args.type}::${args.name}`)?.shift(),
        });
        if (this.preview) return { id: undefined, state };
        const digest = (s: string) => createHash("sha256").update(`${args.name}:${s}`).digest("hex");
        switch (args.type) {
            case "random:index/randomPassword:RandomPassword":
                state.result = digest("password").slice(0, args.inputs.length ?? 32);
                break;
            case "random:index/randomBytes:RandomBytes":
                state.hex = digest("bytes").slice(0, (args.inputs.length ?? 32) * 2);
                state.base64 = Buffer.from(state.hex, "hex").toString("base64");
                break;
            case "docker:index/remoteImage:RemoteImage":
                state.imageId = `sha256:${digest("image")}`;
                break;
            case "command:local:Command":
                // Each step's answer is its own (a date or a block made from its name), with the
                // trailing newline a real one has: a test can tell which step an output came from.
                state.stdout = args.name.endsWith("-expiry")
                    ? `${new Date(Date.UTC(2027, 0, 1) + (parseInt(digest("expiry").slice(0, 8), 16) % 365) * 86_400_000).toISOString()}\n`
                    : args.name.endsWith("-ca-root")
                      ? `-----BEGIN CERTIFICATE-----\n${Buffer.from(digest("ca-root"), "hex").toString("base64")}\n-----END CERTIFICATE-----\n`
                      : "";
                state.stderr = "";
                break;
        }
        return { id, state };
    }

    /** The health check finds nothing wrong (it prints a line per problem); nothing else is expected. */
    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        if (args.token !== "command:local:run")
            throw new Error(`the program called ${args.token}; unit tests expect only the health check`);
        this.calls.push(args);
        return { stdout: "", stderr: "" };
    }
}
