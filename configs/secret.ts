// A value that must never be printed. Settings carry passwords in this wrapper so that an
// accidental log line, template or error message shows "[secret]" instead of the value.

/** Prints as "[secret]" however it is printed: as a string, in JSON, by util.inspect. */
abstract class Redacted {
    toString(): string {
        return "[secret]";
    }

    toJSON(): string {
        return "[secret]";
    }

    [Symbol.for("nodejs.util.inspect.custom")](): string {
        return "[secret]";
    }
}

export class Secret extends Redacted {
    readonly #value: string;

    constructor(value: string) {
        super();
        this.#value = value;
    }

    /** The plain value, for the one place that hands it to `pulumi.secret`. */
    reveal(): string {
        return this.#value;
    }
}

/**
 * A secret known only when the deployment runs (a Pulumi Input: an Output, a Promise): the
 * parser keeps it as it is, and the component checks it once it resolves. `input` is opaque
 * here, so this module stays free of Pulumi.
 */
export class DeferredSecret extends Redacted {
    constructor(readonly input: unknown) {
        super();
    }
}

/** A secret as settings carry it: known now, or when the deployment runs. */
export type SecretValue = Secret | DeferredSecret;

/** What is wrong with a registry password (bcrypt reads 72 bytes and no line breaks), or undefined. */
export function passwordProblem(password: string): string | undefined {
    const bytes = Buffer.byteLength(password, "utf8");
    if (password.length < 12) return `expected at least 12 characters, got ${password.length}`;
    // bcrypt reads only the first 72 bytes: a longer password would be silently cut.
    if (bytes > 72) return `expected at most 72 bytes (bcrypt's limit), got ${bytes}`;
    if (/[\r\n\0]/.test(password)) return "must not contain line breaks or NUL characters";
    return undefined;
}
