// The distribution registry's config.yml. Pure: settings and the HTTP secret in, YAML out.
import { Settings } from "./settings";
import { renderTemplate } from "./template";

export const REGISTRY_CONFIG_PATH = "/etc/distribution/config.yml";
export const REGISTRY_READONLY_CONFIG_PATH = "/etc/distribution/config-readonly.yml";
export const REGISTRY_DATA_DIR = "/var/lib/registry";
/** Shared with nginx (read-only there): the registry container flags a running GC here. */
export const REGISTRY_CONTROL_DIR = "/var/lib/registry-control";
export const GC_FLAG = "gc-in-progress";
export const REGISTRY_PORT = 5000;
export const REGISTRY_READONLY_PORT = 5001;

export function renderRegistryConfig(s: Settings, httpSecret: string, mode: "read-write" | "read-only" = "read-write"): string {
    if (!/^[A-Za-z0-9]+$/.test(httpSecret)) throw new Error("registry http secret must be alphanumeric");
    const readonly = mode === "read-only";
    return renderTemplate("registry.yml.mustache", { stack: s.stack, filesystem: true, httpSecret, readonly, port: readonly ? REGISTRY_READONLY_PORT : REGISTRY_PORT });
}

/**
 * The registry container's command: a small supervisor that serves the registry and runs
 * garbage collection safely, on a schedule or on `docker kill --signal USR1 <registry>`:
 *   1. flag the GC (nginx then refuses writes with 503 and Retry-After);
 *   2. start a read-only registry beside the writer (nginx's backup upstream: reads go on);
 *   3. stop the writer, which lets in-flight uploads finish (http.draintimeout);
 *   4. `registry garbage-collect` (optionally --delete-untagged) on the quiet storage;
 *   5. start the writer again (a fresh blob descriptor cache), stop the read-only one, unflag.
 * No host cron, no Docker socket.
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
        '  log "ended: writes resumed"',
        "}",
        "gc_now=0",
        "trap 'gc_now=1' USR1",
        `trap 'stop "$rw_pid"; exit 0' TERM INT`,
        'registry serve "$rw" & rw_pid=$!',
        `interval=${interval}`,
        "next=$(( $(date +%s) + interval ))",
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
