// Which parts of the stack config are stored encrypted. Pulumi hands a program its config as
// flat keys, and marks a whole key secret as soon as one leaf under it is (`pulumi config set
// --secret --path users.ci.password`), so a plain sibling (`users.bob.password` set without
// --secret) would pass unnoticed. The stack's config file records each leaf as written: a
// `secure:` value is encrypted, anything else sits there in plain text. Pure: text in, paths out.
import * as yaml from "js-yaml";

/** Config paths (`users`, `users.ci.password`, `storage.secretKey`) stored encrypted. */
export class SecretPaths {
    private readonly paths: ReadonlySet<string>;

    constructor(paths: Iterable<string> = []) {
        this.paths = new Set(paths);
    }

    /** The value at `path` is encrypted: itself, or a map or list that holds it. */
    covers(path: string): boolean {
        for (let p: string | undefined = path; p !== undefined; p = parent(p)) {
            if (this.paths.has(p)) return true;
        }
        return false;
    }

    /** Something at or under `path` is encrypted: none of its values may be echoed. */
    touches(path: string): boolean {
        if (this.covers(path)) return true;
        for (const p of this.paths) {
            if (p.startsWith(`${path}.`) || p.startsWith(`${path}[`)) return true;
        }
        return false;
    }
}

function parent(path: string): string | undefined {
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    return cut > 0 ? path.slice(0, cut) : undefined;
}

function isSecure(value: unknown): boolean {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
    const keys = Object.keys(value);
    return keys.length === 1 && keys[0] === "secure";
}

function collect(value: unknown, path: string, out: string[]): void {
    if (isSecure(value)) {
        out.push(path);
    } else if (Array.isArray(value)) {
        value.forEach((v, i) => collect(v, `${path}[${i}]`, out));
    } else if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) collect(v, `${path}.${k}`, out);
    }
}

/**
 * The encrypted paths of `project`'s keys in a stack config file (`Pulumi.<stack>.yaml`).
 * Throws when the text is not a YAML map.
 */
export function secretPathsFromStackFile(text: string, project: string): SecretPaths {
    const doc = yaml.load(text) ?? {};
    if (typeof doc !== "object" || Array.isArray(doc)) throw new Error("a stack config file must be a YAML map");
    const config = (doc as { config?: unknown }).config ?? {};
    const out: string[] = [];
    if (typeof config === "object" && config !== null) {
        for (const [key, value] of Object.entries(config)) {
            if (key.startsWith(`${project}:`)) collect(value, key.slice(project.length + 1), out);
        }
    }
    return new SecretPaths(out);
}
