// Shell scripts that install files into the running nginx container, run there through
// `docker exec -i <nginx> sh -s` with the script on stdin (so file contents, secrets among
// them, never appear in a process's arguments).
//
// Config files are staged inside the config volume, checked together with `nginx -t`
// against a copy of the live config, then renamed into place (atomic on one file system)
// and nginx is reloaded. A config that nginx rejects never replaces a good one.
import { createHash } from "node:crypto";
import { DEFAULTS } from "../settings/defaults";
import { USERS_VARIABLE } from "./htpasswd";
import { NGINX_ACTIVE_DIR, NGINX_AUTH_DIR, NGINX_CONF_DIR, NGINX_INCLUDE_DIRS } from "./nginx";
import { renderTemplate } from "./template";

export interface StagedFile {
    /** Path relative to the directory it is installed in, e.g. `servers/10-https.conf`. */
    path: string;
    content: string;
}

const SAFE_PATH = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?$/i;

// One fixed tag, so that a changed file shows in `pulumi preview --diff` as its changed lines only.
const HEREDOC_TAG = "REGISTRY_EOF";

/** The content as a heredoc body (without its final newline); refuses content holding the tag. */
function heredocBody(what: string, content: string): string {
    const body = content.endsWith("\n") ? content.slice(0, -1) : content;
    if (body.split("\n").includes(HEREDOC_TAG)) throw new Error(`file content for ${what} contains its own heredoc tag`);
    return body;
}

function checkPaths(files: StagedFile[]): void {
    for (const f of files) {
        if (!SAFE_PATH.test(f.path)) throw new Error(`refusing to install to unsafe path ${JSON.stringify(f.path)}`);
    }
}

/** Installed files that cannot load without another file: taken out of the config while it is missing. */
export interface Dependents {
    /** Absolute path, in the nginx container, of the file they need (e.g. the certificate). */
    needs: string;
    /** Their paths relative to the config volume. */
    paths: string[];
}

function renderInstall(
    what: string,
    files: StagedFile[],
    users: { htpasswdFile: string; htpasswd: string } | false,
    dependents?: Dependents,
): string {
    checkPaths(files);
    if (dependents) checkPaths(dependents.paths.map((path) => ({ path, content: "" })));
    return renderTemplate("config-install.sh.mustache", {
        what,
        tag: HEREDOC_TAG,
        confDir: NGINX_CONF_DIR,
        activeDir: NGINX_ACTIVE_DIR,
        authDir: NGINX_AUTH_DIR,
        includeDirs: Object.values(NGINX_INCLUDE_DIRS).join(" "),
        files: files.map((f) => ({ path: f.path, content: heredocBody(f.path, f.content) })),
        users: users && { htpasswdFile: users.htpasswdFile, htpasswd: heredocBody("htpasswd", users.htpasswd) },
        dependents: dependents && { needs: dependents.needs, paths: dependents.paths.join(" ") },
    });
}

/**
 * Installs nginx config files (relative to the config volume) as one validated change:
 * staged next to a copy of the live config, checked with `nginx -t`, renamed into place,
 * one reload. `what` names the change in messages, e.g. "HTTPS server". `dependents`: files
 * already installed that are taken out while the file they need is missing (the HTTPS server
 * without its certificate, after the certificates volume was lost), so this change still
 * validates; whoever installed them installs them again once that file is back.
 */
export function renderConfigInstall(what: string, files: StagedFile[], dependents?: Dependents): string {
    return renderInstall(what, files, false, dependents);
}

/** The htpasswd file's name in the auth volume: named by its content, so a new one never overwrites the file nginx reads. */
export function htpasswdFileName(htpasswd: string): string {
    return `htpasswd-${createHash("sha256").update(htpasswd).digest("hex").slice(0, 16)}`;
}

/**
 * Installs the users as one unit: the htpasswd file and the access rules that name it (and
 * say who may only pull) are validated together and go live together, with one reload. The
 * new htpasswd file gets a new name; the rules point nginx at it; until the reload, nginx
 * reads the old file with the old rules. If nginx rejects the rules, both stay as they were.
 * `rules` gets the new file's path.
 */
export function renderUsersInstall(htpasswd: string, rules: (htpasswdPath: string) => string): string {
    const htpasswdFile = htpasswdFileName(htpasswd);
    const files = [{ path: `${NGINX_INCLUDE_DIRS.access}/users.conf`, content: rules(`${NGINX_AUTH_DIR}/${htpasswdFile}`) }];
    return renderInstall("users (htpasswd file and access rules)", files, { htpasswdFile, htpasswd });
}

/** The installed access rules (in the nginx container), which name every user. */
export const USERS_RULES_PATH = `${NGINX_CONF_DIR}/${NGINX_INCLUDE_DIRS.access}/users.conf`;

/** The users that installed access rules name (none when there are none). */
export function installedUsers(rules: string): string[] {
    // The list may be set in chunks, each line appending to the variable (setLong).
    const v = USERS_VARIABLE.slice(1);
    const chunks = [...rules.matchAll(new RegExp(`^set \\$${v} "(?:\\$\\{${v}\\})?([^"]*)";$`, "gm"))].map((m) => m[1]);
    return chunks.join("").split(" ").filter(Boolean);
}

/**
 * What a preview says when users installed by the last run are no longer declared: their
 * credentials stop working with this update. The default user goes silently otherwise, since
 * setting `users` replaces the default list rather than adding to it.
 */
export function droppedUsersWarning(dropped: string[]): string {
    const defaults = dropped.filter((u) => u in DEFAULTS.users);
    return [
        `users removed by this update: ${dropped.join(", ")}; their credentials stop working.`,
        ...(defaults.length
            ? [
                  `${defaults.join(", ")} ${defaults.length > 1 ? "are default users" : "is the default user"}, declared only while \`users\` is not set: setting \`users\` replaces the defaults. To keep ${defaults.join(", ")}, add ${defaults.map((u) => `users.${u}`).join(", ")} to the stack's config.`,
              ]
            : []),
    ].join(" ");
}
