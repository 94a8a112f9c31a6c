// A value that must never be printed. Settings carry passwords in this wrapper so that an
// accidental log line, template or error message shows "[secret]" instead of the value.
export class Secret {
    readonly #value: string;

    constructor(value: string) {
        this.#value = value;
    }

    /** The plain value, for the one place that hands it to `pulumi.secret`. */
    reveal(): string {
        return this.#value;
    }

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
