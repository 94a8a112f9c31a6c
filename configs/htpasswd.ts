// htpasswd lines (bcrypt) and per-user access rules for nginx. Pure functions.
//
// bcrypt's salt is derived from a per-stack secret key and the user name, so a line is the
// same on every `pulumi up` until the password (or the cost) changes: no perpetual diff,
// and the secret key keeps the salt unpredictable.
import { createHmac } from "node:crypto";
import * as bcrypt from "bcryptjs";
import { orderedGrants } from "../settings/repositories";
import { Access, UserAccess } from "../settings/types";

export interface Credential {
    name: string;
    password: string;
    access: UserAccess;
    /** Repository glob → access (settings/repositories.ts); none: `access` everywhere. */
    repositories?: Record<string, Access>;
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

/** The nginx variable that names the htpasswd file; until the users are installed the HTTPS server names a missing file and lists no user (every request: 401). */
export const HTPASSWD_VARIABLE = "$registry_htpasswd";

/** nginx variables, set by the access rules, that the authentication module reads (configs/auth.ts). */
export const USERS_VARIABLE = "$registry_users";
export const PULL_USERS_VARIABLE = "$registry_pull_users";
/**
 * Every user's access, by repository: `;<user> <access> <glob>=<access> …;` for each user,
 * the globs in the order they are tried (orderedGrants), so the module takes the first match.
 */
export const GRANTS_VARIABLE = "$registry_grants";

/** The value of GRANTS_VARIABLE. Names and globs hold no space, `;`, `=` or quote (settings/validators.ts, settings/retention.ts). */
export function renderGrants(users: Pick<Credential, "name" | "access" | "repositories">[]): string {
    const line = (u: Pick<Credential, "name" | "access" | "repositories">) =>
        [u.name, u.access, ...orderedGrants(u.repositories ?? {}).map(([glob, access]) => `${glob}=${access}`)].join(" ");
    return `;${users.map((u) => `${line(u)};`).join("")}`;
}

/**
 * nginx rules, included in the registry location: which htpasswd file holds the users, who
 * they are, and what each may do with which repository (configs/auth.ts applies it, after
 * the password). Users' names and globs are not secret; their passwords never appear here.
 * The pull-only list is for a module installed before per-repository access, until the same
 * `pulumi up` installs the new one.
 */
export function renderAccessRules(users: Pick<Credential, "name" | "access" | "repositories">[], htpasswdPath: string): string {
    const names = (which: (u: (typeof users)[number]) => boolean = () => true) =>
        users
            .filter(which)
            .map((u) => u.name)
            .join(" ");
    // A module without per-repository access lets these users only read: anyone but push
    // everywhere, so that no user can write more than their rules say.
    const readOnly = (u: (typeof users)[number]) => u.access !== "push" || Object.keys(u.repositories ?? {}).length > 0;
    return [
        "# Managed by the private-registry Pulumi program: the users and their access.",
        `set ${HTPASSWD_VARIABLE} ${htpasswdPath};`,
        ...setLong(USERS_VARIABLE, names()),
        ...setLong(PULL_USERS_VARIABLE, names(readOnly)),
        ...setLong(GRANTS_VARIABLE, renderGrants(users)),
        "",
    ].join("\n");
}

/** Characters of a value per `set`: nginx refuses a parameter longer than its 4 KiB config buffer. */
export const SET_CHUNK = 2000;

/**
 * `set <variable> "<value>";` as one line, or, for a value longer than SET_CHUNK (50 users
 * with 4 repository rules each pass 4 KiB), as lines that append a chunk each. The value
 * holds no quote, backslash or `$` (settings/validators.ts, settings/repositories.ts).
 */
export function setLong(variable: string, value: string): string[] {
    const lines = [`set ${variable} "${value.slice(0, SET_CHUNK)}";`];
    for (let i = SET_CHUNK; i < value.length; i += SET_CHUNK)
        lines.push(`set ${variable} "\${${variable.slice(1)}}${value.slice(i, i + SET_CHUNK)}";`);
    return lines;
}
