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
}

export class Recorder implements pulumi.runtime.Mocks {
    readonly resources: Recorded[] = [];
    /** Invokes the program made: each host's health check (command:local:run). */
    readonly calls: pulumi.runtime.MockCallArgs[] = [];

    /** In preview mode, computed outputs are left unknown, as in a real first preview. */
    constructor(private readonly preview = false) {}

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
        this.resources.push({
            type: args.type,
            name: args.name,
            inputs: args.inputs,
            custom: args.custom ?? false,
            order: this.resources.length,
            state,
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
                state.stdout = args.name.endsWith("-expiry")
                    ? "2027-01-01T00:00:00Z\n"
                    : args.name.endsWith("-ca-root")
                      ? "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
                      : "";
                state.stderr = "";
                break;
        }
        return { id: args.custom ? `${args.name}-id` : undefined, state };
    }

    /** The health check finds nothing wrong (it prints a line per problem); nothing else is expected. */
    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        if (args.token !== "command:local:run")
            throw new Error(`the program called ${args.token}; unit tests expect only the health check`);
        this.calls.push(args);
        return { stdout: "", stderr: "" };
    }
}
