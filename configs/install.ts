// Shell scripts that install files into the running nginx container, run there through
// `docker exec -i <nginx> sh -s` with the script on stdin (so file contents, secrets among
// them, never appear in a process's arguments).
//
// Config files are staged inside the config volume, checked together with `nginx -t`
// against a copy of the live config, then renamed into place (atomic on one file system)
// and nginx is reloaded. A config that nginx rejects never replaces a good one.
import { createHash } from "node:crypto";
import { NGINX_ACTIVE_DIR, NGINX_AUTH_DIR, NGINX_CONF_DIR, NGINX_INCLUDE_DIRS } from "./nginx";

export interface StagedFile {
    /** Path relative to the directory it is installed in, e.g. `servers/10-https.conf`. */
    path: string;
    content: string;
}

const SAFE_PATH = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?$/i;

// One fixed tag, so that a changed file shows in `pulumi preview --diff` as its changed lines only.
const HEREDOC_TAG = "REGISTRY_EOF";

function heredoc(target: string, content: string): string[] {
    const tag = HEREDOC_TAG;
    const body = content.endsWith("\n") ? content : `${content}\n`;
    if (body.split("\n").includes(tag)) throw new Error(`file content for ${target} contains its own heredoc tag`);
    return [`cat > "${target}" <<'${tag}'`, body.slice(0, -1), tag];
}

function checkPaths(files: StagedFile[]): void {
    for (const f of files) {
        if (!SAFE_PATH.test(f.path)) throw new Error(`refusing to install to unsafe path ${JSON.stringify(f.path)}`);
    }
}

/** Lines that HUP nginx (PID 1 in its container) and wait (bounded) until new workers serve. */
function reloadLines(): string[] {
    return [
        "workers() { for s in /proc/[0-9]*/stat; do read -r pid comm state ppid rest < \"$s\" 2>/dev/null || continue; [ \"$ppid\" = 1 ] && echo \"$pid\"; done | sort; }",
        "before=$(workers)",
        "kill -HUP 1",
        // A reload is asynchronous; wait (bounded) until a worker that did not exist before runs.
        "reloaded=0; i=0",
        'while [ "$reloaded" = 0 ] && [ "$i" -lt 100 ]; do for w in $(workers); do echo "$before" | grep -qx "$w" || reloaded=1; done; i=$((i + 1)); [ "$reloaded" = 1 ] || sleep 0.1; done',
        `if [ "$reloaded" = 0 ]; then echo 'registry: nginx did not start new workers within 10 s after reload' >&2; exit 1; fi`,
        'echo "nginx reloaded"',
    ];
}

interface InstallSteps {
    /** Runs before the staged config is validated. */
    before?: string[];
    /** Runs when nginx rejects the staged config, before the script fails. */
    rejected?: string[];
    /** Runs once nginx serves the new config. */
    after?: string[];
}

/**
 * Installs nginx config files (relative to the config volume) as one validated change:
 * staged next to a copy of the live config, checked with `nginx -t`, renamed into place,
 * one reload. `what` names the change in messages, e.g. "HTTPS server".
 */
export function renderConfigInstall(what: string, files: StagedFile[], steps: InstallSteps = {}): string {
    checkPaths(files);
    const lines = [
        "#!/bin/sh",
        `# Installs the ${what}: stage, nginx -t, rename into place, reload.`,
        "set -eu",
        "umask 022",
        `conf=${NGINX_CONF_DIR}`,
        `dirs="${Object.values(NGINX_INCLUDE_DIRS).join(" ")}"`,
        'for d in $dirs; do mkdir -p "$conf/$d"; done',
        'stage=$(mktemp -d "$conf/.staging.XXXXXX")',
        'trap \'rm -rf "$stage"\' EXIT',
        'for item in nginx.conf $dirs; do if [ -e "$conf/$item" ]; then cp -a "$conf/$item" "$stage/"; fi; done',
        'for d in $dirs; do mkdir -p "$stage/$d"; done',
        ...(steps.before ?? []),
    ];
    for (const f of files) lines.push(...heredoc(`$stage/${f.path}`, f.content));
    lines.push(
        'if ! out=$(nginx -t -c "$stage/nginx.conf" 2>&1); then',
        '  printf \'%s\\n\' "$out" >&2',
        ...(steps.rejected ?? []).map((l) => `  ${l}`),
        `  echo "registry: nginx rejected the new ${what}; the running configuration is unchanged" >&2`,
        "  exit 1",
        "fi",
    );
    for (const f of files) lines.push(`mv -f "$stage/${f.path}" "$conf/${f.path}"`);
    lines.push(`ln -sfn "$conf" ${NGINX_ACTIVE_DIR}`, `echo "installed ${what}"`, ...reloadLines(), ...(steps.after ?? []), "");
    return lines.join("\n");
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
    const file = htpasswdFileName(htpasswd);
    const path = `${NGINX_AUTH_DIR}/${file}`;
    return renderConfigInstall("users (htpasswd file and access rules)", [{ path: `${NGINX_INCLUDE_DIRS.access}/users.conf`, content: rules(path) }], {
        before: [
            // Readable by the nginx workers' group and nobody else; written whole, then renamed.
            `auth=${NGINX_AUTH_DIR}`,
            `new=${file}`,
            'existed=0; [ -e "$auth/$new" ] && existed=1',
            "(",
            "  umask 077",
            ...heredoc('$auth/.$new.tmp', htpasswd).map((l) => l),
            ")",
            'chown root:nginx "$auth/.$new.tmp"',
            'chmod 0640 "$auth/.$new.tmp"',
            'mv -f "$auth/.$new.tmp" "$auth/$new"',
        ],
        rejected: ['[ "$existed" = 1 ] || rm -f "$auth/$new"'],
        // What nginx no longer reads: older htpasswd files.
        after: ['for f in "$auth"/htpasswd "$auth"/htpasswd-*; do [ "$f" = "$auth/$new" ] || rm -f "$f"; done'],
    });
}
