// Per-repository access: a user's `repositories` map (glob → pull|push) beside their `access`,
// parsed and validated here, and what they mean, as a pure function the renderers and tests
// share. nginx decides the same way in the authentication module
// (configs/templates/registry-auth.js.mustache), from the rules configs/htpasswd.ts renders.
//
// Globs are the retention rules' (settings/retention.ts): `*` matches within one path segment,
// `**` across segments, `?` one character but `/`, everything else itself. The stack config
// hands maps over with their keys sorted (Pulumi does), so the order globs are written in
// cannot decide: the most specific matching glob does, the one with the most characters other
// than `*`; between equally specific ones, `pull`. Where no glob matches, `access` decides.
import { Fields } from "./fields";
import { globPattern } from "./glob";
import { show } from "./show";
import type { Access, UserAccess, UserSettings } from "./types";

/** How much each access allows, for comparisons. */
export const ACCESS_LEVEL: Record<UserAccess, number> = { none: 0, pull: 1, push: 2 };

/** How specific a glob is: its characters other than `*`. */
export function globSpecificity(glob: string): number {
    return glob.replace(/\*/g, "").length;
}

/** The user's globs in the order they are tried: most specific first, `pull` before `push` between equals, then by text. */
export function orderedGrants(repositories: Record<string, Access>): [string, Access][] {
    return Object.entries(repositories).sort(
        ([a, x], [b, y]) => globSpecificity(b) - globSpecificity(a) || ACCESS_LEVEL[x] - ACCESS_LEVEL[y] || (a < b ? -1 : a > b ? 1 : 0),
    );
}

/** What a user may do with a repository (by its full name, e.g. `team-a/app`). */
export function repositoryAccess(user: Pick<UserSettings, "access" | "repositories">, repository: string): UserAccess {
    for (const [glob, access] of orderedGrants(user.repositories)) {
        if (new RegExp(globPattern(glob) ?? "$^").test(repository)) return access;
    }
    return user.access;
}

/**
 * The least a user may do with any repository: `pull` or more lets them list the catalog.
 * A `**` glob matches every name, so `access` then decides nothing.
 */
export function leastAccess(user: Pick<UserSettings, "access" | "repositories">): UserAccess {
    const levels: UserAccess[] = Object.values(user.repositories);
    if (!("**" in user.repositories)) levels.push(user.access);
    return levels.reduce((a, b) => (ACCESS_LEVEL[b] < ACCESS_LEVEL[a] ? b : a));
}

/** Parses `users.<name>.repositories`: a map of repository glob → pull|push. */
export function parseRepositories(f: Fields, at: string, given: unknown): Record<string, Access> {
    if (given === undefined || given === null) return {};
    if (typeof given !== "object" || Array.isArray(given)) {
        f.problem(at, 'expected a map of repository glob to pull or push, e.g. { "team-a/*": push }');
        return {};
    }
    const repositories: Record<string, Access> = {};
    for (const [glob, access] of Object.entries(given as Record<string, unknown>)) {
        if (globPattern(glob) === undefined) {
            f.problem(
                at,
                `repository glob ${show(glob)}: expected lower-case letters, digits, '.', '_', '-' and '/' (not at either end, not doubled), with * (within a path segment), ** (across segments) and ?, e.g. team-a/* or **`,
            );
        } else if (access !== "push" && access !== "pull") {
            f.problem(`${at}.${glob}`, `expected push or pull, got ${show(String(access))}`);
        } else {
            repositories[glob] = access;
        }
    }
    return repositories;
}
