// The `retention` and `retentionDryRun` fields: tag retention rules, parsed into typed
// settings. Pure, like everything in settings/. The rules run in the registry container's
// retention script (configs/templates/retention.sh.mustache) with awk, whose regular
// expressions are POSIX ERE: a keepTags regex is accepted only in the part of the syntax that
// POSIX ERE and JavaScript read the same way, so what the unit tests check here is what runs.
import { DEFAULTS } from "./defaults";
import { Fields } from "./fields";
import { show } from "./show";
import type { RetentionRule, RetentionSettings, Settings } from "./types";
import { globPattern } from "./glob";

const RULE_FIELDS = ["repositories", "keepTags", "keepLast", "keepPushedWithin"] as const;
/** Repository globs: repository-name characters, `*`, `**` and `?`. */
const DURATION = /^(?:\d+[smhdw])+$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
/** A century: beyond it, a duration is a typo. */
const MAX_DURATION_SECONDS = 100 * 365 * 86400;
const MAX_KEEP_LAST = 1_000_000;

/**
 * What is wrong with a keepTags regex, or undefined: it must compile in JavaScript (unicode
 * mode, which refuses stray braces and unknown escapes) and stay within what POSIX ERE (awk)
 * reads the same way: no character-class escapes (\d \w \s \b), no groups starting with `(?`
 * (lookaround, non-capturing, named), no lazy quantifiers, no backreferences, no POSIX bracket
 * classes, no backslash inside brackets, no counted repetition {n,m}, no empty alternative or
 * group, no whitespace.
 */
export function regexProblem(source: string): string | undefined {
    const expected = "a regular expression in the syntax JavaScript and POSIX ERE share, e.g. release-.* or v[0-9]+[.][0-9]+";
    if (source.length === 0 || source.length > 256) return `${expected}, of 1-256 characters`;
    if (!/^[!-~]+$/.test(source)) return `${expected}, of printable ASCII without spaces`;
    // Outside brackets, an escape stands for one character; brackets are checked and then
    // stand for one character too.
    let bare = "";
    for (let i = 0, bracket = false; i < source.length; i++) {
        const c = source[i];
        if (bracket) {
            if (c === "\\") return `${expected}; a backslash inside brackets is not supported`;
            if (c === "[" && /[:=.]/.test(source[i + 1] ?? ""))
                return `${expected}; POSIX bracket classes such as [[:digit:]] are not supported`;
            if (c === "]") {
                bracket = false;
                bare += "x";
            }
        } else if (c === "\\") {
            if (/[A-Za-z0-9]/.test(source[i + 1] ?? ""))
                return `${expected}; escapes such as \\d, \\w, \\s, \\b and backreferences are not supported (write [0-9], [A-Za-z0-9_] instead)`;
            bare += "x";
            i++;
        } else if (c === "[") bracket = true;
        else bare += c;
    }
    try {
        new RegExp(source, "u");
    } catch (e) {
        return `${expected}; JavaScript cannot compile it: ${(e as Error).message}`;
    }
    if (bare.includes("(?")) return `${expected}; groups starting with (? (lookaround, non-capturing or named) are not supported`;
    // mawk (the awk of Debian-based images) reads {n,m} literally; busybox awk as ERE.
    if (bare.includes("{")) return `${expected}; counted repetitions ({n,m}) are not supported: some awks read them literally`;
    if (/[*+?]\?/.test(bare)) return `${expected}; lazy quantifiers (*? +? ??) are not supported`;
    if (/\|\||\(\||\|\)|^\||\|$|\(\)/.test(bare)) return `${expected}; an empty alternative or group is not supported`;
    return undefined;
}

/** Seconds in a duration such as "30d", "12h" or "1w2d" (s, m, h, d, w); undefined when it does not parse. */
export function durationSeconds(text: string): number | undefined {
    if (!DURATION.test(text)) return undefined;
    let seconds = 0;
    for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g)) seconds += Number(n) * UNIT_SECONDS[unit];
    return seconds <= MAX_DURATION_SECONDS ? seconds : undefined;
}

/** Parses `retention` (a list of rules) and `retentionDryRun`. */
export function parseRetention(f: Fields): RetentionSettings {
    const dryRun = f.flag("retentionDryRun", DEFAULTS.retentionDryRun);
    const value = f.list(
        "retention",
        [...DEFAULTS.retention],
        "a list of rules { repositories: glob, keepTags?: regex, keepLast?: N, keepPushedWithin?: duration }, e.g. `pulumi config set --path 'retention[0].repositories' 'team-a/*'`",
    );
    const rules: RetentionRule[] = [];
    (value ?? []).forEach((given, i) => {
        const rule = parseRule(f, `retention[${i}]`, given);
        if (rule) rules.push(rule);
    });
    return { rules, dryRun };
}

/** What the rest of the settings rule out for retention, as [key, problem] pairs. */
export function retentionProblems(s: Pick<Settings, "retention" | "storage">): [string, string][] {
    if (s.retention.rules.length === 0 || s.storage.driver !== "s3" || s.storage.credentials) return [];
    // On S3 a helper beside the registry reads the tags' LastModified and deletes them, signing
    // its own requests: it needs the static keys the registry has.
    return [
        [
            "retention",
            "with storage driver s3, retention needs the storage's static keys (storage.accessKey and storage.secretKey), which its S3 helper signs with; set them, or leave retention empty",
        ],
    ];
}

function parseRule(f: Fields, at: string, given: unknown): RetentionRule | undefined {
    if (typeof given !== "object" || given === null || Array.isArray(given)) {
        f.problem(at, "expected { repositories: glob, keepTags?: regex, keepLast?: N, keepPushedWithin?: duration }");
        return undefined;
    }
    const spec = given as Record<string, unknown>;
    let ok = true;
    for (const k of Object.keys(spec)) {
        if (!(RULE_FIELDS as readonly string[]).includes(k)) {
            f.problem(at, `unknown field ${show(k)}; expected ${RULE_FIELDS.join(", ")}`);
            ok = false;
        }
    }
    const repositories = typeof spec.repositories === "string" ? spec.repositories.trim() : undefined;
    const repositoriesPattern = repositories === undefined ? undefined : globPattern(repositories);
    if (spec.repositories === undefined) {
        f.problem(`${at}.repositories`, "required: a glob of the repositories the rule covers, e.g. team-a/* or ** for every one");
        ok = false;
    } else if (repositoriesPattern === undefined) {
        f.bad(
            `${at}.repositories`,
            spec.repositories,
            "a repository glob of lower-case letters, digits, '.', '_', '-' and '/', with * (within a path segment), ** (across segments) and ?, e.g. team-a/* or **",
        );
        ok = false;
    }

    let keepTags: string | undefined;
    if (spec.keepTags !== undefined) {
        const problem = typeof spec.keepTags === "string" ? regexProblem(spec.keepTags) : "a regular expression (text)";
        if (problem) {
            f.problem(`${at}.keepTags`, `expected ${problem}, got ${f.given(`${at}.keepTags`, spec.keepTags)}`);
            ok = false;
        } else keepTags = spec.keepTags as string;
    }

    let keepLast: number | undefined;
    if (spec.keepLast !== undefined) {
        const v = spec.keepLast;
        const n = typeof v === "number" ? v : typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
        if (!Number.isInteger(n) || n < 0 || n > MAX_KEEP_LAST) {
            f.bad(`${at}.keepLast`, v, `an integer from 0 to ${MAX_KEEP_LAST} (how many of the most recently pushed tags to keep)`);
            ok = false;
        } else keepLast = n;
    }

    let keepPushedWithin: RetentionRule["keepPushedWithin"];
    if (spec.keepPushedWithin !== undefined) {
        const text = typeof spec.keepPushedWithin === "string" ? spec.keepPushedWithin.trim() : "";
        const seconds = durationSeconds(text);
        if (seconds === undefined) {
            f.bad(
                `${at}.keepPushedWithin`,
                spec.keepPushedWithin,
                "a duration such as 30d, 12h or 1w2d (units s, m, h, d, w; at most 100 years)",
            );
            ok = false;
        } else keepPushedWithin = { text, seconds };
    }

    if (ok && keepTags === undefined && keepLast === undefined && keepPushedWithin === undefined) {
        f.problem(
            at,
            "keeps nothing: set keepTags, keepLast or keepPushedWithin (keepLast: 0 says on purpose that every tag but latest and signatures goes)",
        );
        ok = false;
    }
    if (!ok || repositories === undefined || repositoriesPattern === undefined) return undefined;
    return { repositories, repositoriesPattern, keepTags, keepLast, keepPushedWithin };
}
