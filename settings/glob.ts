// Repository globs, as retention rules and per-repository access read them: `*` matches within
// one path segment, `**` across segments, `?` one character but `/`; everything else is
// literal. One syntax for the product, turned into an anchored pattern that JavaScript and
// POSIX ERE (the retention script's awk) read the same way.
const GLOB = /^[a-z0-9._/*?-]{1,255}$/;

/** The anchored ERE (and JS RegExp source) of a repository glob; undefined when the glob is not one. */
export function globPattern(glob: string): string | undefined {
    if (!GLOB.test(glob) || glob.includes("***") || glob.includes("//") || glob.startsWith("/") || glob.endsWith("/")) return undefined;
    let out = "";
    for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === "*" && glob[i + 1] === "*") {
            out += ".*";
            i++;
        } else if (c === "*") out += "[^/]*";
        else if (c === "?") out += "[^/]";
        else if (c === ".") out += "[.]";
        else out += c;
    }
    return `^${out}$`;
}
