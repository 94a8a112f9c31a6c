// The distribution registry: its config.yml, the S3 keys file, the storage check and the
// supervisor that runs it and its garbage collection. Pure: settings (and secrets) in, text out.
import { Settings, StorageSettings } from "./settings";
import { S3_KEY_CHARS } from "./storageSettings";
import { renderTemplate } from "./template";

export const REGISTRY_CONFIG_PATH = "/etc/distribution/config.yml";
export const REGISTRY_READONLY_CONFIG_PATH = "/etc/distribution/config-readonly.yml";
export const REGISTRY_DATA_DIR = "/var/lib/registry";
/** Shared with nginx (read-only there): the registry container flags a running GC here. */
export const REGISTRY_CONTROL_DIR = "/var/lib/registry-control";
export const GC_FLAG = "gc-in-progress";
/** When the last GC ended (epoch seconds), in the control volume: the schedule survives container replacement. */
export const GC_LAST = "last-gc";
/**
 * The S3 keys: a root-only file the supervisor reads into the registry's own environment
 * (distribution's REGISTRY_STORAGE_S3_ACCESSKEY/SECRETKEY overrides) just before it starts
 * the registry. So no key is in config.yml, the container's configuration (docker inspect)
 * or any process's arguments.
 */
export const S3_KEYS_PATH = "/etc/distribution/s3-keys";
/** A private CA for the S3 endpoint, trusted by the registry processes besides the system roots. */
export const S3_CA_PATH = "/etc/distribution/s3-ca.crt";
export const REGISTRY_PORT = 5000;
export const REGISTRY_READONLY_PORT = 5001;

export function renderRegistryConfig(s: Settings, httpSecret: string, mode: "read-write" | "read-only" = "read-write"): string {
    if (!/^[A-Za-z0-9]+$/.test(httpSecret)) throw new Error("registry http secret must be alphanumeric");
    const readonly = mode === "read-only";
    const st = s.storage;
    const s3 = st.driver === "s3" ? { ...st, redirectDisabled: !st.redirect } : false;
    return renderTemplate("registry.yml.mustache", { stack: s.stack, filesystem: st.driver === "filesystem", s3, httpSecret, readonly, port: readonly ? REGISTRY_READONLY_PORT : REGISTRY_PORT });
}

/**
 * The S3 keys file: access key, then secret key, one per line, each a YAML single-quoted
 * scalar (distribution parses environment overrides as YAML, so a key such as `0x1f` or
 * `!abc` stays the exact string). Handle the result as a secret.
 */
export function renderS3Keys(accessKey: string, secretKey: string): string {
    const quote = (k: string) => {
        if (!S3_KEY_CHARS.test(k)) throw new Error("S3 keys must be printable characters without spaces");
        return `'${k.replace(/'/g, "''")}'`;
    };
    return `${quote(accessKey)}\n${quote(secretKey)}\n`;
}

/** A file the registry container gets for its storage; `secret` content must stay a secret. */
export interface StorageFile {
    path: string;
    content: string;
    secret: boolean;
    permissions?: string;
}

/** The files the storage needs in the registry container: the S3 keys (root-only) and a private CA. */
export function storageFiles(storage: StorageSettings): StorageFile[] {
    if (storage.driver !== "s3") return [];
    const files: StorageFile[] = [];
    if (storage.credentials) {
        const { accessKey, secretKey } = storage.credentials;
        files.push({ path: S3_KEYS_PATH, content: renderS3Keys(accessKey.reveal(), secretKey.reveal()), secret: true, permissions: "0400" });
    }
    if (storage.caCertificate) files.push({ path: S3_CA_PATH, content: storage.caCertificate, secret: false });
    return files;
}

/** Whether the registry container gets a private CA for its S3 endpoint. */
export function hasS3Ca(storage: StorageSettings): boolean {
    return storage.driver === "s3" && storage.caCertificate !== undefined;
}

/** Whether the registry container gets the S3 keys file (S3 with static keys). */
export function hasS3Keys(storage: StorageSettings): boolean {
    return storage.driver === "s3" && storage.credentials !== undefined;
}

/**
 * A Python script (run in the certbot container, on the stack's network) that proves the
 * registry can reach its storage: it lists one repository, which makes the storage driver
 * talk to the bucket. Waits (bounded) for the registry to answer; on a storage error
 * (wrong keys, missing bucket, unreachable endpoint) it fails with the driver's message.
 */
export function renderStorageCheck(s: Settings): string {
    const what = s.storage.driver === "s3" ? "S3 storage" : "storage";
    return [
        "import json, sys, time, urllib.error, urllib.request",
        `url = "http://registry:${REGISTRY_PORT}/v2/_catalog?n=1"`,
        "deadline = time.monotonic() + 90",
        "errors = 0",
        'last = "no answer"',
        "while time.monotonic() < deadline:",
        "    try:",
        "        with urllib.request.urlopen(url, timeout=20) as r:",
        `            print("registry ${what}: ok")`,
        "            sys.exit(0)",
        "    except urllib.error.HTTPError as e:",
        "        body = e.read().decode(errors='replace')",
        "        try:",
        "            detail = '; '.join(str(x.get('detail') or x.get('message')) for x in json.loads(body)['errors'])",
        "        except Exception:",
        "            detail = body.strip()[:500]",
        "        last = 'HTTP %d: %s' % (e.code, detail)",
        "        errors += 1",
        // A storage error does not heal by waiting long: three strikes.
        "        if errors >= 3:",
        "            break",
        "    except Exception as e:",
        // Not listening yet (starting, or restarted by Docker after a crash).
        "        last = str(e)",
        "    time.sleep(2)",
        `print("the registry cannot use its ${what}: " + " ".join(last.split()), file=sys.stderr)`,
        "sys.exit(1)",
        "",
    ].join("\n");
}

/**
 * The registry container's command: a small supervisor that serves the registry and runs
 * garbage collection safely, on a schedule or on `docker kill --signal USR1 <registry>`:
 *   1. flag the GC (nginx then refuses writes with 503 and Retry-After);
 *   2. start a read-only registry beside the writer (nginx's backup upstream: reads go on);
 *   3. stop the writer, which lets in-flight uploads finish (http.draintimeout);
 *   4. `registry garbage-collect` (optionally --delete-untagged) on the quiet storage;
 *   5. start the writer again (a fresh blob descriptor cache), stop the read-only one, unflag.
 * No host cron, no Docker socket. The schedule counts from the last GC's end, recorded in the
 * control volume, so replacing the container (a deploy) does not postpone a due GC.
 */
export function renderRegistrySupervisor(s: Settings): string {
    const interval = s.gc.intervalHours * 3600;
    const flags = s.gc.deleteUntagged ? "--delete-untagged " : "";
    return [
        "set -u",
        `ctl=${REGISTRY_CONTROL_DIR}`,
        `rw=${REGISTRY_CONFIG_PATH}`,
        `ro=${REGISTRY_READONLY_CONFIG_PATH}`,
        'mkdir -p "$ctl"',
        `rm -f "$ctl/${GC_FLAG}"`,
        'log() { echo "registry-gc: $*" >&2; }',
        // The S3 keys go into the environment of the registry processes only (and GC's).
        ...(hasS3Keys(s.storage)
            ? [
                  `{ IFS= read -r REGISTRY_STORAGE_S3_ACCESSKEY; IFS= read -r REGISTRY_STORAGE_S3_SECRETKEY; } < ${S3_KEYS_PATH} || { echo "cannot read ${S3_KEYS_PATH}" >&2; exit 1; }`,
                  "export REGISTRY_STORAGE_S3_ACCESSKEY REGISTRY_STORAGE_S3_SECRETKEY",
              ]
            : []),
        // A private CA for the endpoint: Go reads every file of SSL_CERT_DIR besides the system bundle.
        ...(hasS3Ca(s.storage)
            ? ["mkdir -p /run/s3-ca", `cp ${S3_CA_PATH} /run/s3-ca/ca.crt || { echo "cannot read ${S3_CA_PATH}" >&2; exit 1; }`, "export SSL_CERT_DIR=/run/s3-ca:/etc/ssl/certs"]
            : []),
        'stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }',
        // Bounded wait until an instance answers on its port.
        'ready() { i=0; while [ $i -lt 100 ]; do wget -q -O /dev/null "http://127.0.0.1:$1/v2/" 2>/dev/null && return 0; i=$((i+1)); sleep 0.1; done; return 1; }',
        "gc() {",
        '  log "started: writes refused until it ends, reads served read-only"',
        `  date -u +%Y-%m-%dT%H:%M:%SZ > "$ctl/${GC_FLAG}"`,
        '  registry serve "$ro" & ro_pid=$!',
        `  ready ${REGISTRY_READONLY_PORT} || log "read-only registry did not answer; reads may fail during GC"`,
        '  stop "$rw_pid"',
        `  if registry garbage-collect ${flags}"$rw"; then log "garbage-collect finished"; else log "garbage-collect FAILED (storage unchanged or partly collected; it is safe to run again)"; fi`,
        '  registry serve "$rw" & rw_pid=$!',
        `  ready ${REGISTRY_PORT} || log "registry did not answer after GC"`,
        '  stop "$ro_pid"',
        `  rm -f "$ctl/${GC_FLAG}"`,
        `  date +%s > "$ctl/${GC_LAST}"`,
        '  log "ended: writes resumed"',
        "}",
        "gc_now=0",
        "trap 'gc_now=1' USR1",
        `trap 'stop "$rw_pid"; exit 0' TERM INT`,
        'registry serve "$rw" & rw_pid=$!',
        `interval=${interval}`,
        // First start (or an unreadable record): the schedule starts now.
        `last=$(cat "$ctl/${GC_LAST}" 2>/dev/null || true)`,
        `case "$last" in ''|*[!0-9]*) last=$(date +%s); echo "$last" > "$ctl/${GC_LAST}";; esac`,
        "next=$(( last + interval ))",
        "while :; do",
        "  sleep 2 & wait $! 2>/dev/null",
        '  if [ "$gc_now" = 1 ] || { [ "$interval" -gt 0 ] && [ "$(date +%s)" -ge "$next" ]; }; then',
        "    gc_now=0; gc; next=$(( $(date +%s) + interval ))",
        "  fi",
        // The container lives as long as its registry: Docker's restart policy takes over.
        '  if ! kill -0 "$rw_pid" 2>/dev/null; then log "registry exited"; wait "$rw_pid"; exit 1; fi',
        "done",
        "",
    ].join("\n");
}
