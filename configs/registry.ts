// The distribution registry: its config.yml, the S3 keys file, the storage check and the
// supervisor that runs it and its garbage collection. Pure: settings (and secrets) in, text out.
import { S3_KEY_CHARS } from "../settings/storage";
import { SecretValue, Settings, StorageSettings } from "../settings/types";
import { NotificationHeaderValues, renderNotifications } from "./notifications";
import { registryRedisView } from "./redis";
import { renderRetentionFunction, renderRetentionRulesInstall } from "./retention";
import { listsS3Storage, needsS3Helper, renderS3HelperAsk, S3_HELPER_FILES } from "./s3HelperProtocol";
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
 * The last collection's result, in the control volume, for the metrics endpoint:
 * "<start> <duration s, to 0.01> <1 worked|0 failed> <blobs deleted> <bytes freed|- (not measured: a failed GC on S3, or S3 without the helper)>".
 */
export const GC_RESULT = "last-gc-result";
/**
 * The GC schedule, in the control volume: "<interval seconds> <1 if untagged manifests go too>",
 * written by `pulumi up` (renderGcScheduleInstall) and read by the supervisor at every turn, so
 * a new schedule reaches the running registry: no new container, no moment without a registry.
 */
export const GC_SCHEDULE = "gc-schedule";
/**
 * Several hosts: the files through which the registry's supervisor and the GC coordinator
 * (configs/gc.ts) talk, in the control volume. The supervisor asks (request), the coordinator
 * says go read-only (readonly, a GC id), the supervisor acknowledges (ack), the coordinator
 * says collect here (run), the supervisor says collected (done).
 */
export const GC_FILES = {
    request: "gc-request",
    readonly: "gc-readonly",
    ack: "gc-readonly-ack",
    run: "gc-run",
    done: "gc-done",
} as const;
/**
 * The S3 keys: a root-only file the supervisor reads into the registry's own environment
 * (distribution's REGISTRY_STORAGE_S3_ACCESSKEY/SECRETKEY overrides) just before it starts
 * the registry. So no key is in config.yml, the container's configuration (docker inspect)
 * or any process's arguments.
 */
export const S3_KEYS_PATH = "/etc/distribution/s3-keys";
/** A private CA for the S3 endpoint, trusted by the registry processes besides the system roots. */
export const S3_CA_PATH = "/etc/distribution/s3-ca.crt";
/** Where the supervisor puts that CA for Go's SSL_CERT_DIR (read besides the system roots). */
export const S3_CA_DIR = "/run/s3-ca";
/**
 * The registry listens on unix sockets in a volume that only nginx shares: no TCP port, so
 * nothing else (the host, other containers) can reach its API, which has no auth of its own.
 */
export const REGISTRY_SOCKET_DIR = "/run/registry";
export const REGISTRY_SOCKET = `${REGISTRY_SOCKET_DIR}/registry.sock`;
/** The read-only registry that serves reads while garbage collection runs. */
export const REGISTRY_READONLY_SOCKET = `${REGISTRY_SOCKET_DIR}/registry-readonly.sock`;
/**
 * distribution's debug server (Prometheus metrics), with metrics enabled: on the registry
 * container's loopback, read-write registry only (the read-only one would take the same port).
 */
export const REGISTRY_DEBUG_ADDR = "127.0.0.1:5001";
/** How long a stopping registry (and nginx) lets in-flight requests run (http.draintimeout). */
export const DRAIN_SECONDS = 60;
/** How long Docker waits for the registry and nginx to stop before it kills them. */
export const STOP_GRACE_SECONDS = DRAIN_SECONDS + 15;

/**
 * `redisPassword`: Redis' password when it has one; `notificationHeaders`: the values of the
 * notification endpoints' headers (configs/notifications.ts). The result is a secret either way.
 */
export function renderRegistryConfig(
    s: Settings,
    httpSecret: string,
    mode: "read-write" | "read-only" = "read-write",
    redisPassword?: string,
    notificationHeaders: NotificationHeaderValues = [],
): string {
    if (!/^[A-Za-z0-9]+$/.test(httpSecret)) throw new Error("registry http secret must be alphanumeric");
    const readonly = mode === "read-only";
    const st = s.storage;
    const s3 = st.driver === "s3" ? { ...st, redirectDisabled: !st.redirect } : false;
    const socket = readonly ? REGISTRY_READONLY_SOCKET : REGISTRY_SOCKET;
    return renderTemplate("registry.yml.mustache", {
        stack: s.stack,
        filesystem: st.driver === "filesystem",
        dataDir: REGISTRY_DATA_DIR,
        s3,
        httpSecret,
        readonly,
        socket,
        drainSeconds: DRAIN_SECONDS,
        redis: s.redis ? registryRedisView(s.redis, redisPassword) : false,
        notifications: renderNotifications(s.notifications, notificationHeaders),
        debugAddr: s.metrics.enabled && !readonly ? REGISTRY_DEBUG_ADDR : false,
    });
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

/** What the registry container gets for its storage, besides config.yml. */
export interface StorageFiles {
    /** The S3 keys, root-only; its content is renderS3Keys(accessKey, secretKey), a secret. */
    keys?: { path: string; permissions: string; accessKey: SecretValue; secretKey: SecretValue };
    /** A private CA for the S3 endpoint. */
    ca?: { path: string; content: string };
}

export function storageFiles(storage: StorageSettings): StorageFiles {
    if (storage.driver !== "s3") return {};
    return {
        keys: storage.credentials && { path: S3_KEYS_PATH, permissions: "0400", ...storage.credentials },
        ca: storage.caCertificate === undefined ? undefined : { path: S3_CA_PATH, content: storage.caCertificate },
    };
}

/** Whether the registry container gets a private CA for its S3 endpoint. */
export function hasS3Ca(storage: StorageSettings): boolean {
    return storage.driver === "s3" && storage.caCertificate !== undefined;
}

/** Whether the registry container gets the S3 keys file (S3 with static keys). */
export function hasS3Keys(storage: StorageSettings): boolean {
    return storage.driver === "s3" && storage.credentials !== undefined;
}

/** The schedule's line (GC_SCHEDULE): interval in seconds, and whether untagged manifests go too. */
export function renderGcSchedule(s: Pick<Settings, "gc">): string {
    return `${s.gc.intervalHours * 3600} ${s.gc.deleteUntagged ? 1 : 0}`;
}

/**
 * Writes the schedule and the retention rules into the control volume (each whole, then
 * renamed), run in the registry container.
 */
export function renderGcScheduleInstall(s: Pick<Settings, "gc" | "retention">): string {
    const file = `${REGISTRY_CONTROL_DIR}/${GC_SCHEDULE}`;
    return (
        `set -eu\necho '${renderGcSchedule(s)}' > ${file}.tmp\nmv -f ${file}.tmp ${file}\necho "GC schedule: $(cat ${file})"\n` +
        renderRetentionRulesInstall(s, REGISTRY_CONTROL_DIR)
    );
}

/**
 * A shell script, run in the nginx container (the only one that reaches the registry), that
 * proves the registry can use its storage, or fails with the driver's message
 * (configs/templates/storage-check.sh.mustache).
 */
export function renderStorageCheck(s: Settings): string {
    return renderTemplate("storage-check.sh.mustache", {
        socket: REGISTRY_SOCKET,
        what: s.storage.driver === "s3" ? "S3 storage" : "storage",
    });
}

/** The data volume's identity, in a file distribution ignores (it stores under docker/). */
export const DATA_VOLUME_MARKER = `${REGISTRY_DATA_DIR}/.private-registry-volume`;
/** What the data volume check prints when the volume it saw last is gone. */
export const DATA_LOST =
    "the registry's data volume was lost: a new, empty volume took its place, and every image pushed before is gone. Restore the volume from a backup (README, Troubleshooting) or push the images again.";

/** The data volume check (configs/templates/data-volume.sh.mustache), in the registry container. */
export function renderDataVolumeCheck(): string {
    return renderTemplate("data-volume.sh.mustache", { marker: DATA_VOLUME_MARKER, label: "data volume: ", lost: `WARNING: ${DATA_LOST}` });
}

/**
 * The registry container's command: a small supervisor that serves the registry and runs
 * garbage collection safely, on a schedule or on `docker kill --signal USR1 <registry>`:
 *   1. flag the GC (nginx then refuses writes with 503 and Retry-After);
 *   2. start a read-only registry beside the writer (nginx's backup upstream: reads go on);
 *   3. stop the writer, which lets in-flight uploads finish (http.draintimeout);
 *   4. tag retention (configs/retention.ts), when rules are installed, then
 *      `registry garbage-collect` (optionally --delete-untagged) on the quiet storage;
 *   5. start the writer again (a fresh blob descriptor cache), stop the read-only one, unflag.
 * No host cron, no Docker socket. The schedule counts from the last GC's end, recorded in the
 * control volume, so replacing the container (a deploy) does not postpone a due GC.
 */
export function renderRegistrySupervisor(s: Settings): string {
    return renderTemplate("registry-supervisor.sh.mustache", {
        controlDir: REGISTRY_CONTROL_DIR,
        configPath: REGISTRY_CONFIG_PATH,
        readonlyConfigPath: REGISTRY_READONLY_CONFIG_PATH,
        socketDir: REGISTRY_SOCKET_DIR,
        socket: REGISTRY_SOCKET,
        readonlySocket: REGISTRY_READONLY_SOCKET,
        gcFlag: GC_FLAG,
        gcLast: GC_LAST,
        gcSchedule: GC_SCHEDULE,
        gcResult: GC_RESULT,
        // Filesystem: the blobs' bytes are summed before and after a collection (S3: the helper lists their sizes).
        blobsDir: s.storage.driver === "filesystem" ? `${REGISTRY_DATA_DIR}/docker/registry/v2/blobs` : false,
        s3KeysPath: hasS3Keys(s.storage) ? S3_KEYS_PATH : false,
        s3CaPath: hasS3Ca(s.storage) ? S3_CA_PATH : false,
        s3CaDir: S3_CA_DIR,
        coordinated: s.redis !== undefined,
        gcRequest: GC_FILES.request,
        gcReadonly: GC_FILES.readonly,
        gcAck: GC_FILES.ack,
        gcRun: GC_FILES.run,
        gcDone: GC_FILES.done,
        s3HelperAsk: needsS3Helper(s) ? renderS3HelperAsk(s) : "",
        s3Listing: listsS3Storage(s),
        s3Blobs: S3_HELPER_FILES.blobs,
        retention: renderRetentionFunction(REGISTRY_DATA_DIR, needsS3Helper(s)),
    });
}
