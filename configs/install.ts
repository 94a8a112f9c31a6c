// Shell scripts that install files into the running nginx container, run there through
// `docker exec -i <nginx> sh -s` with the script on stdin (so file contents, secrets among
// them, never appear in a process's arguments).
//
// Config files are staged inside the config volume, checked together with `nginx -t`
// against a copy of the live config, then renamed into place (atomic on one file system)
// and nginx is reloaded. A config that nginx rejects never replaces a good one.
import { NGINX_ACTIVE_DIR, NGINX_AUTH_DIR, NGINX_CONF_DIR } from "./nginx";

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

/** Lines that HUP nginx (PID 1 in its container) and wait until new workers serve. */
function reloadLines(): string[] {
    return [
        "workers() { for s in /proc/[0-9]*/stat; do read -r pid comm state ppid rest < \"$s\" 2>/dev/null || continue; [ \"$ppid\" = 1 ] && echo \"$pid\"; done | sort; }",
        "before=$(workers)",
        "kill -HUP 1",
        // A reload is asynchronous; wait (bounded) until a worker that did not exist before runs.
        "i=0; while [ $i -lt 100 ]; do for w in $(workers); do echo \"$before\" | grep -qx \"$w\" || { echo \"nginx reloaded\"; exit 0; }; done; i=$((i+1)); sleep 0.1; done",
        "echo 'registry: nginx did not start new workers within 10 s after reload' >&2",
        "exit 1",
    ];
}

/**
 * Installs nginx config files (relative to the config volume) as one validated change.
 * `what` names the change in messages, e.g. "HTTPS server".
 */
export function renderConfigInstall(what: string, files: StagedFile[]): string {
    checkPaths(files);
    const lines = [
        "#!/bin/sh",
        `# Installs the ${what}: stage, nginx -t, rename into place, reload.`,
        "set -eu",
        "umask 022",
        `conf=${NGINX_CONF_DIR}`,
        'mkdir -p "$conf/servers" "$conf/access"',
        'stage=$(mktemp -d "$conf/.staging.XXXXXX")',
        'trap \'rm -rf "$stage"\' EXIT',
        'for item in nginx.conf servers access; do if [ -e "$conf/$item" ]; then cp -a "$conf/$item" "$stage/"; fi; done',
        'mkdir -p "$stage/servers" "$stage/access"',
    ];
    for (const f of files) lines.push(...heredoc(`$stage/${f.path}`, f.content));
    lines.push(
        'if ! out=$(nginx -t -c "$stage/nginx.conf" 2>&1); then',
        '  printf \'%s\\n\' "$out" >&2',
        `  echo "registry: nginx rejected the new ${what}; the running configuration is unchanged" >&2`,
        "  exit 1",
        "fi",
    );
    for (const f of files) lines.push(`mv -f "$stage/${f.path}" "$conf/${f.path}"`);
    lines.push(`ln -sfn "$conf" ${NGINX_ACTIVE_DIR}`, `echo "installed ${what}"`, ...reloadLines(), "");
    return lines.join("\n");
}

/**
 * Writes files into the auth volume (read by nginx per request, no reload needed): temp
 * file, then rename, readable by the nginx workers' group and nobody else.
 */
export function renderAuthInstall(what: string, files: StagedFile[]): string {
    checkPaths(files);
    const lines = ["#!/bin/sh", `# Installs the ${what}: temp file, then atomic rename.`, "set -eu", "umask 077", `auth=${NGINX_AUTH_DIR}`];
    for (const f of files) {
        lines.push(...heredoc(`$auth/.${f.path}.tmp`, f.content));
        lines.push(`chown root:nginx "$auth/.${f.path}.tmp"`, `chmod 0640 "$auth/.${f.path}.tmp"`, `mv -f "$auth/.${f.path}.tmp" "$auth/${f.path}"`);
    }
    lines.push(`echo "installed ${what}"`, "");
    return lines.join("\n");
}
