// Finds secrets of a stack in its exported state. `pulumi stack export --show-secrets` shows
// every value Pulumi keeps secret as { <secret sig>: ..., plaintext: "<JSON>" }; the plain
// export must not show any of them, in any encoding.
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const BCRYPT_HASH = /\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/g;

function strings(value: unknown, out: string[]): void {
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
    else if (typeof value === "object" && value !== null) Object.values(value).forEach((v) => strings(v, out));
}

/** Every plaintext secret value in a `--show-secrets` export (strings, or the lists and maps Pulumi keeps secret as a whole). */
function revealedSecrets(revealed: unknown, out: unknown[] = []): unknown[] {
    if (Array.isArray(revealed)) revealed.forEach((v) => revealedSecrets(v, out));
    else if (typeof revealed === "object" && revealed !== null) {
        const o = revealed as Record<string, unknown>;
        if (SECRET_SIG in o && typeof o.plaintext === "string") out.push(JSON.parse(o.plaintext));
        else Object.values(o).forEach((v) => revealedSecrets(v, out));
    }
    return out;
}

/** The ways a value can show up in text: as is, JSON-escaped, base64 (and url-safe), hex. */
function encodings(secret: string): string[] {
    const bytes = Buffer.from(secret, "utf8");
    return [secret, JSON.stringify(secret).slice(1, -1), bytes.toString("base64"), bytes.toString("base64url"), bytes.toString("hex")];
}

/**
 * The secret atoms of a stack, from its `--show-secrets` export: one-line secret values (such as
 * generated passwords and keys), bcrypt hashes found inside secret files, and `known` ones
 * (passwords and keys the test set, which reach secret files only inside larger texts).
 */
export function secretAtoms(revealedText: string, known: string[] = []): string[] {
    const atoms = new Set<string>(known);
    for (const value of revealedSecrets(JSON.parse(revealedText))) {
        // A one-line secret string is a secret itself (a password, a key). A list or a map kept
        // secret as a whole (a container's uploads) also holds plain parts, such as file names.
        if (typeof value === "string" && !value.includes("\n") && value.length >= 12) atoms.add(value);
        const inside: string[] = [];
        strings(value, inside);
        for (const text of inside) for (const hash of text.match(BCRYPT_HASH) ?? []) atoms.add(hash);
    }
    return [...atoms];
}

/** Which of `atoms` `text` shows, in any encoding; for JSON text (an export), also where. */
export function leaksIn(atoms: string[], text: string): string[] {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        parsed = undefined;
    }
    const leaks: string[] = [];
    for (const atom of atoms) {
        const form = encodings(atom).find((e) => text.includes(e));
        if (form === undefined) continue;
        const where = parsed === undefined ? [] : whereIs(parsed, form);
        leaks.push(
            `a secret of ${atom.length} characters, as ${form === atom ? "itself" : "an encoding"}${where.length ? ` at ${where.join(", ")}` : ""}`,
        );
    }
    return leaks;
}

/** Where `needle` occurs in an exported state: resource URN and property path (never the value). */
function whereIs(value: unknown, needle: string, at = "", urn = "", out: string[] = []): string[] {
    if (typeof value === "string") {
        if (value.includes(needle)) out.push(`${urn} ${at}`);
    } else if (Array.isArray(value)) {
        value.forEach((v, i) => whereIs(v, needle, `${at}[${i}]`, urn, out));
    } else if (typeof value === "object" && value !== null) {
        const o = value as Record<string, unknown>;
        const here = typeof o.urn === "string" ? o.urn : urn;
        for (const [k, v] of Object.entries(o)) whereIs(v, needle, here !== urn ? k : `${at}.${k}`, here, out);
    }
    return out;
}
