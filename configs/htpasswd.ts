// htpasswd lines (bcrypt) and per-user access rules for nginx. Pure functions.
//
// bcrypt's salt is derived from a per-stack secret key and the user name, so a line is the
// same on every `pulumi up` until the password (or the cost) changes: no perpetual diff,
// and the secret key keeps the salt unpredictable.
import { createHmac } from "node:crypto";
import * as bcrypt from "bcryptjs";
import { Access } from "./settings";

export interface Credential {
    name: string;
    password: string;
    access: Access;
}

/** bcrypt salt string ($2y$, cost, 22 characters) derived from the key and the user name. */
export function deterministicSalt(saltKey: string, userName: string, cost: number): string {
    const bytes = createHmac("sha256", saltKey).update(`htpasswd-salt:${userName}`).digest().subarray(0, 16);
    return `$2b$${String(cost).padStart(2, "0")}$${bcrypt.encodeBase64(bytes, 16)}`;
}

/** One htpasswd line. `$2y$` is the prefix Apache's tools and every crypt() know. */
export function htpasswdLine(user: string, password: string, saltKey: string, cost: number): string {
    const hash = bcrypt.hashSync(password, deterministicSalt(saltKey, user, cost));
    return `${user}:${hash.replace(/^\$2b\$/, "$2y$")}`;
}

export function renderHtpasswd(users: Credential[], saltKey: string, cost: number): string {
    return users.map((u) => htpasswdLine(u.name, u.password, saltKey, cost)).join("\n") + "\n";
}

function escapeRegex(value: string): string {
    return value.replace(/[.\\+*?[^\]$(){}=!<>|:-]/g, "\\$&");
}

/** The nginx variable that names the htpasswd file; the HTTPS server defaults it to a missing file (every request: 500). */
export const HTPASSWD_VARIABLE = "$registry_htpasswd";

/**
 * nginx rules, included in the registry location: which htpasswd file holds the users, and a
 * pull-only user gets 403 on every method that writes. Users' names are not secret; their
 * passwords never appear here.
 */
export function renderAccessRules(users: Pick<Credential, "name" | "access">[], htpasswdPath: string): string {
    const readOnly = users.filter((u) => u.access === "pull").map((u) => escapeRegex(u.name));
    const lines = [
        "# Managed by the private-registry Pulumi program: the users and their access.",
        `set ${HTPASSWD_VARIABLE} ${htpasswdPath};`,
    ];
    if (readOnly.length === 0) {
        lines.push("# Every user may push.");
    } else {
        lines.push(
            'set $registry_write "";',
            'if ($request_method !~ ^(GET|HEAD|OPTIONS)$) { set $registry_write "w:$remote_user"; }',
            `if ($registry_write ~ "^w:(${readOnly.join("|")})$") { return 403; }`,
        );
    }
    return lines.join("\n") + "\n";
}
