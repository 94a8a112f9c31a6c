// Reading the fields of the registry's settings, whichever way they arrive: strings from the
// stack config (objects as JSON), or typed values from a program's PrivateRegistryArgs. One
// reader, one set of rules: a problem names the field as the caller names it
// (`private-registry:httpPort` or `httpPort`), says what is expected, and shows the value
// given unless it is a secret's. Every problem is collected; none stops the others. Pure.
import { SecretPaths } from "./secretPaths";
import { show } from "./show";
import { DeferredSecret, Secret, SecretValue } from "./types";

export interface FieldNaming {
    /** How a field path (`httpPort`, `users.ci.password`) is named in messages. */
    name: (path: string) => string;
    /** Encrypted paths (stack config): their values are never shown. */
    secrets: SecretPaths;
    /** Secrets given as text must be stored encrypted (stack config); a program's args hold them in memory. */
    encryptedAtRest: boolean;
}

const NOT_JSON = Symbol("not JSON");

/** A value as the stack config hands it over: objects and lists arrive as JSON text. */
function decoded(v: unknown): unknown {
    if (typeof v !== "string") return v;
    try {
        return JSON.parse(v);
    } catch {
        return NOT_JSON;
    }
}

export class Fields {
    readonly problems: string[] = [];

    /** `prefix` places a map's fields in the whole (`storage.` for the storage map's). */
    constructor(
        private readonly values: Readonly<Record<string, unknown>>,
        readonly naming: FieldNaming,
        private readonly prefix = "",
        problems?: string[],
    ) {
        if (problems) this.problems = problems;
    }

    /** The fields of a map inside this one (`storage`), reporting into the same problems. */
    within(path: string, values: Readonly<Record<string, unknown>>): Fields {
        return new Fields(values, this.naming, `${this.prefix}${path}.`, this.problems);
    }

    /** A problem at `path` for each key of `value` not among `known`. */
    unknownFields(path: string, value: Readonly<Record<string, unknown>>, known: readonly string[]): void {
        for (const k of Object.keys(value)) {
            if (!known.includes(k)) this.problem(path, `unknown field ${show(k)}; expected one of ${known.join(", ")}`);
        }
    }

    /** The value of a field as given (undefined, or "" from the stack config, mean unset). */
    raw(path: string): unknown {
        const v = this.values[path];
        return v === "" || v === null ? undefined : v;
    }

    name(path: string): string {
        return this.naming.name(`${this.prefix}${path}`);
    }

    /** Records a problem with a field. */
    problem(path: string, message: string): void {
        this.problems.push(`${this.name(path)}: ${message}`);
    }

    /** The value given, for a message: shown, unless any part of the field is a secret. */
    given(path: string, value: unknown): string {
        const root = `${this.prefix}${path}`.split(/[.[]/)[0];
        return this.naming.secrets.touches(root)
            ? "a secret value"
            : show(typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)));
    }

    /** Records `<field>: expected <what>, got <value>`. */
    bad(path: string, value: unknown, expected: string): void {
        this.problem(path, `expected ${expected}, got ${this.given(path, value)}`);
    }

    text(path: string, fallback: string): string;
    text(path: string, fallback?: string): string | undefined;
    text(path: string, fallback?: string): string | undefined {
        const v = this.raw(path);
        if (v === undefined) return fallback;
        if (typeof v !== "string") {
            this.bad(path, v, "text");
            return fallback;
        }
        return v.trim() === "" ? fallback : v.trim();
    }

    /** An integer in [min, max]: a number, or its digits as text. */
    int(path: string, fallback: number, min: number, max: number): number {
        const v = this.raw(path);
        if (v === undefined) return fallback;
        const n = typeof v === "number" ? v : typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
        if (!Number.isInteger(n) || n < min || n > max) {
            this.bad(path, v, `an integer from ${min} to ${max}`);
            return fallback;
        }
        return n;
    }

    /** true or false: a boolean, or its text. */
    flag(path: string, fallback: boolean): boolean {
        const v = this.raw(path);
        if (v === undefined) return fallback;
        if (v === true || v === "true") return true;
        if (v === false || v === "false") return false;
        this.bad(path, v, "true or false");
        return fallback;
    }

    /** A map: an object, or its JSON text (as the stack config hands objects over). */
    map(path: string, fallback: Record<string, unknown>, expected: string): Record<string, unknown> | undefined {
        const raw = this.raw(path);
        if (raw === undefined) return fallback;
        const v = decoded(raw);
        if (v === NOT_JSON) {
            this.problem(
                path,
                `expected ${expected}, got ${this.naming.secrets.touches(`${this.prefix}${path}`) ? "a secret value" : "text that is not a map"}`,
            );
            return undefined;
        }
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            this.problem(path, `expected ${expected}`);
            return undefined;
        }
        return v as Record<string, unknown>;
    }

    /** A list: an array, or its JSON text (as the stack config hands lists over). */
    list(path: string, fallback: unknown[], expected: string): unknown[] | undefined {
        const raw = this.raw(path);
        if (raw === undefined) return fallback;
        const v = decoded(raw);
        if (!Array.isArray(v)) {
            this.problem(path, `expected ${expected}`);
            return undefined;
        }
        return v;
    }

    /**
     * A secret field: text (checked by `problemOf`, and refused when the stack file keeps it
     * unencrypted; `setHint` says how to set it right) or a value known only at deploy time
     * (kept as a DeferredSecret, for the component to check once it resolves).
     */
    secret(path: string, value: unknown, problemOf: (text: string) => string | undefined, setHint: string): SecretValue | undefined {
        if (value === undefined || value === null || value === "") return undefined;
        if (typeof value !== "string") return new DeferredSecret(value);
        if (this.naming.encryptedAtRest && !this.naming.secrets.covers(`${this.prefix}${path}`))
            this.problem(path, `must be stored as a secret: \`${setHint}\``);
        const wrong = problemOf(value);
        if (wrong) {
            this.problem(path, wrong);
            return undefined;
        }
        return new Secret(value);
    }
}
